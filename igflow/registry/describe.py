"""Text renderings of the registry for `igflow endpoints` (it doubles as documentation)."""

from __future__ import annotations

from igflow.registry import Endpoint, Registry


def endpoint_table(registry: Registry) -> str:
    """One line per endpoint: id, method, path, scope, and whether it writes."""
    graph = registry.version is not None
    rows = [("ID", "METHOD", "PATH", "PERMISSION" if graph else "SCOPE", "WRITES")]
    for endpoint in registry.endpoints.values():
        scope = endpoint.scope or f"({endpoint.auth})"
        if endpoint.login == "facebook":
            scope = "Facebook Login only"
        if endpoint.scope_if_not_owner:
            scope += f" / {endpoint.scope_if_not_owner}"
        writes = ("yes, idempotent" if endpoint.idempotent else "yes") if endpoint.mutates else "-"
        rows.append((endpoint.id, endpoint.method, endpoint.prefix + endpoint.path, scope, writes))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.append("")
    lines.append(f"{len(registry.endpoints)} endpoints in {registry.profile} ({registry.title}).")
    if graph:
        lines.append(
            f"Paths are under /{registry.version} (--api-version changes it) except the token "
            "endpoints. `igflow endpoints --api instagram.graph ID` shows one."
        )
    else:
        lines.append(
            "Scopes after '/' apply to other users' data. `igflow endpoints ID` shows one."
        )
    return "\n".join(lines) + "\n"


def describe_endpoint(registry: Registry, endpoint: Endpoint) -> str:
    """Everything the registry knows about one endpoint."""
    lines = [
        f"{endpoint.id}: {endpoint.doc}",
        f"  request     {endpoint.method} {registry.origin}{endpoint.prefix}{endpoint.path}",
    ]
    placed = (
        "Authorization: Bearer header"
        if registry.token_placement == "bearer"
        else registry.token_param
    )
    auth = {
        "token": f"access token ({placed})",
        "client": "client credentials (client_id, client_secret)",
        "none": "none",
    }[endpoint.auth]
    lines.append(f"  auth        {auth}")
    if endpoint.login == "facebook":
        lines.append(
            f"  login       Facebook Login only (graph.facebook.com): {endpoint.permission}; an "
            "Instagram Login token is refused"
        )
    if endpoint.scope:
        scope = endpoint.scope
        if endpoint.scope_if_not_owner:
            scope += f" (own data); {endpoint.scope_if_not_owner} for other users' data"
        lines.append(f"  scope       {scope}")
    if endpoint.mutates:
        lines.append(
            "  writes      yes, "
            + (
                "idempotent: safe to resend"
                if endpoint.idempotent
                else "NOT idempotent: never resent"
            )
        )
    else:
        lines.append("  writes      no")
    if endpoint.rate_bucket:
        lines.append(
            f"  rate limit  write bucket '{endpoint.rate_bucket}' (30/h sandbox, 60/h live)"
        )
    if endpoint.pagination:
        p = endpoint.pagination
        lines.append(
            f"  pagination  {registry.next_url_path}; cursor {p.cursor_param} "
            f"(response key {p.next_cursor})"
        )
    if endpoint.reconcile is not None:
        lines.append(
            f"  reconcile   an in-doubt write is looked for with {endpoint.reconcile.call}"
        )
    if endpoint.retired_for_others:
        lines.append(f"  retired     {endpoint.retired_for_others} for other users' data")
    if endpoint.retired:
        lines.append(f"  retired     {endpoint.retired}")
    if endpoint.legacy_only:
        lines.append("  note        not available to apps created after 2015-11-17")
    if endpoint.params:
        lines.append("  params")
        for param in endpoint.params.values():
            flags = [param.location, param.type]
            if param.required:
                flags.append("required")
            if param.enum:
                flags.append("one of " + "|".join(param.enum))
            doc = f"  {param.doc}" if param.doc else ""
            lines.append(f"    {param.name:<20} {', '.join(flags)}{doc}")
    return "\n".join(lines) + "\n"

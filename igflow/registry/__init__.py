"""The endpoint registry: API profiles described as data (one YAML file per profile).

The client, ``igflow check``, ``igflow endpoints`` and the sandbox all read the same file, so
they cannot drift apart.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import quote

from igflow.errors import UnknownEndpointError
from igflow.resources import package_data

PROFILES = {"instagram.v1": "instagram_v1.yaml", "instagram.graph": "instagram_graph.yaml"}

# An API version as Graph spells it (v25.0): a playbook's api_version and --api-version. Matched
# whole (re.fullmatch): `$` alone would let "v25.0\n" through into every URL prefix.
VERSION_PATTERN = r"^v\d{1,3}\.\d{1,2}$"


def version_problem(version: str) -> str | None:
    """The one message for a text that is not an API version (the CLI's and the playbook's)."""
    import re

    if re.fullmatch(r"v\d{1,3}\.\d{1,2}", version):
        return None
    return f"an API version looks like v25.0, not {version!r}"


# The default of a record's mapping field (shared, so it must never change).
_NOTHING: Mapping[str, Any] = MappingProxyType({})


class Param(NamedTuple):
    name: str
    location: str  # "path" | "query" | "form"
    required: bool = False
    type: str = "string"  # "string" | "integer" | "number" | "boolean" | "list"
    enum: tuple[str, ...] = ()
    doc: str = ""


class Pagination(NamedTuple):
    """How a list endpoint pages: the request's cursor parameter and the response's next key."""

    cursor_param: str
    next_cursor: str


# The most pages a reconcile read follows when its registry entry sets no max_pages (Graph: 50
# comments a page, so a thousand comments).
RECONCILE_MAX_PAGES = 20


class Reconcile(NamedTuple):
    """How to tell, with a read, whether an in-doubt non-idempotent write was applied.

    ``call`` is read with parameters taken from the write's (``with``: read param -> write
    param); an entry found by ``find`` whose fields equal the write's params (``match``: dotted
    field -> write param) is the write, already applied.
    """

    call: str
    with_params: Mapping[str, str]
    find: str
    match: Mapping[str, str]
    # Dotted entry field that must equal the id of the account the write was sent as (the
    # comment's author): without it, someone else's comment with the same text would pass for
    # ours. None: the entries carry no author (a subscription belongs to the client).
    author: str | None = None
    id_field: str = "id"  # the entry field that identifies it (to tell old entries from new)
    # Constant parameters of the read (Graph: the fields the match needs, a page size).
    params: Mapping[str, Any] = _NOTHING
    # Dotted entry field -> the literal it must equal (Graph media.publish: the container's
    # status_code is PUBLISHED once the publish went through).
    equals: Mapping[str, str] = _NOTHING
    # False: the found entry is not the write's answer (a publish found by its container), so
    # the write's extractions get nothing from it and take their defaults.
    answer: bool = True
    # The most pages the read follows (by the profile's next-page link). A read with more pages
    # cannot tell: the write stays in doubt (never "absent"), and a first write is not sent.
    max_pages: int = RECONCILE_MAX_PAGES


_NO_PARAMS: Mapping[str, Param] = MappingProxyType({})


class Endpoint(NamedTuple):
    id: str
    method: str
    path: str  # with {placeholders}, after the prefix
    doc: str
    prefix: str  # "/v1" for API endpoints, "" for oEmbed and OAuth
    auth: str  # "token" | "client" (client_id + client_secret) | "none"
    scope: str | None
    scope_if_not_owner: str | None
    mutates: bool
    idempotent: bool
    params: Mapping[str, Param] = _NO_PARAMS
    pagination: Pagination | None = None
    rate_bucket: str | None = (
        None  # per-endpoint write limit bucket: likes | comments | relationships
    )
    retired: str | None = None  # era (date) from which the endpoint is retired for everyone
    retired_for_others: str | None = (
        None  # era from which it is retired except on the caller's own data
    )
    legacy_only: bool = False  # unavailable to apps created after 2015-11-17 (the sandbox's apps)
    reconcile: Reconcile | None = None  # non-idempotent writes: how a resume checks them
    # "facebook": only a Facebook Login token can call it (Graph); None: any token of the profile.
    login: str | None = None
    permission: str | None = None  # what a `login: facebook` endpoint needs there

    @property
    def required_params(self) -> list[str]:
        return [p.name for p in self.params.values() if p.required]

    @property
    def path_params(self) -> list[str]:
        return [p.name for p in self.params.values() if p.location == "path"]

    def build_path(self, values: Mapping[str, Any]) -> str:
        """The request path after the prefix, placeholders filled and percent-encoded."""
        path = self.path
        for name in self.path_params:
            path = path.replace("{" + name + "}", quote(str(values[name]), safe=""))
        return path


class AccountLookup(NamedTuple):
    """How to learn which account a token acts for: a read and the dotted path to its id."""

    call: str
    id_field: str
    params: Mapping[str, Any] = _NOTHING  # constant (Graph: the fields)


class Registry(NamedTuple):
    profile: str
    title: str
    origin: str  # the real service's origin
    prefix: str
    token_param: str
    sign_param: str
    next_url_path: str  # dotted path to the next-page link in a response body
    scopes: Mapping[str, str]
    endpoints: Mapping[str, Endpoint]
    account: AccountLookup | None = None
    # Request mechanics, as data (docs/graph.md): how the token travels ("param" in the query
    # or form, as v1; "bearer": the Authorization header only, never in a URL), how a signing
    # client signs ("hmac-sha256-path-params": v1's sig; "appsecret-proof": Graph's), the
    # error envelope ("v1-meta" | "graph"), the rate-limit headers ("x-ratelimit" |
    # "graph-usage") and, for percentages, the one at which pacing starts.
    version: str | None = None
    token_placement: str = "param"
    sign_scheme: str = "hmac-sha256-path-params"
    error_style: str = "v1-meta"
    usage_headers: str = "x-ratelimit"
    slow_down_at: float = 90.0
    # The key a single object's answer sits under ("data" in v1's envelope; "": the body is
    # the object, as in Graph): a reconcile read's found entry is shaped like it.
    object_key: str = "data"
    # How `authorize` with `user:` logs in ("v1": the implicit/code flow of the v1 sandbox;
    # "instagram-login": code, exchange, long-lived token) and which built-in sandbox serves
    # the profile (igflow.sandbox.config.SandboxConfig.api).
    login_flow: str = "v1"
    sandbox: str = "v1"

    @property
    def base_scope(self) -> str:
        """The scope every token of the profile holds: the first its registry lists."""
        return next(iter(self.scopes))

    def get(self, endpoint_id: str) -> Endpoint:
        try:
            return self.endpoints[endpoint_id]
        except KeyError:
            raise UnknownEndpointError(self.unknown_message(endpoint_id)) from None

    def closest(self, endpoint_id: str, n: int = 3) -> list[str]:
        return difflib.get_close_matches(endpoint_id, list(self.endpoints), n=n, cutoff=0.5)

    def unknown_message(self, endpoint_id: str) -> str:
        message = f"unknown endpoint '{endpoint_id}' in {self.profile}"
        suggestions = self.closest(endpoint_id)
        if suggestions:
            message += "; did you mean " + ", ".join(f"'{s}'" for s in suggestions) + "?"
        return message + " (see `igflow endpoints`)"


def _endpoint(endpoint_id: str, raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> Endpoint:
    params = {
        name: Param(
            name=name,
            location=spec["in"],
            required=bool(spec.get("required", spec["in"] == "path")),
            type=spec.get("type", "string"),
            enum=tuple(spec.get("enum", ())),
            doc=spec.get("doc", ""),
        )
        for name, spec in (raw.get("params") or {}).items()
    }
    paging = raw.get("pagination")
    mutates = bool(raw.get("mutates", False))
    check = raw.get("reconcile")
    reconcile = (
        Reconcile(
            check["call"],
            dict(check.get("with") or {}),
            check["find"],
            dict(check["match"]),
            check.get("author"),
            params=dict(check.get("params") or {}),
            equals=dict(check.get("equals") or {}),
            answer=bool(check.get("answer", True)),
            max_pages=int(check.get("max_pages", RECONCILE_MAX_PAGES)),
        )
        if check
        else None
    )
    return Endpoint(
        id=endpoint_id,
        method=raw["method"],
        path=raw["path"],
        doc=raw.get("doc", ""),
        prefix=raw.get("prefix", defaults["prefix"]),
        auth=raw.get("auth", "token"),
        scope=raw.get("scope"),
        scope_if_not_owner=raw.get("scope_if_not_owner"),
        mutates=mutates,
        idempotent=bool(raw.get("idempotent", not mutates)),
        params=params,
        pagination=Pagination(paging["cursor_param"], paging["next_cursor"]) if paging else None,
        rate_bucket=raw.get("rate_bucket"),
        retired=raw.get("retired"),
        retired_for_others=raw.get("retired_for_others"),
        legacy_only=bool(raw.get("legacy_only", False)),
        reconcile=reconcile,
        login=raw.get("login"),
        permission=raw.get("permission"),
    )


def parse_registry(raw: Mapping[str, Any], version: str | None = None) -> Registry:
    """Build a Registry from already-validated data.

    Args:
        raw: The profile's data.
        version: The API version to use instead of the profile's pinned ``version`` (it
            replaces ``{version}`` in the prefixes).
    """
    chosen = version or raw.get("version")
    if chosen is not None:
        raw = _with_version(raw, chosen)
    endpoints = {eid: _endpoint(eid, spec, raw) for eid, spec in raw["endpoints"].items()}
    auth = raw["auth"]
    limits = raw.get("rate_limits") or {}
    account = raw.get("account")
    return Registry(
        profile=raw["profile"],
        title=raw.get("title", raw["profile"]),
        origin=raw["origin"],
        prefix=raw["prefix"],
        token_param=auth["token_param"],
        sign_param=(raw.get("signing") or {}).get("param", ""),
        next_url_path=raw["pagination"]["next_url"],
        scopes=dict(raw.get("scopes", {})),
        endpoints=endpoints,
        account=(
            AccountLookup(account["call"], account["id"], dict(account.get("params") or {}))
            if account
            else None
        ),
        version=chosen,
        token_placement=auth.get("placement", "param"),
        sign_scheme=(raw.get("signing") or {}).get("scheme", "hmac-sha256-path-params"),
        error_style=raw["errors"],
        usage_headers=limits.get("headers", "x-ratelimit"),
        slow_down_at=float(limits.get("slow_down_at", 90)),
        object_key=raw.get("object_key", "data"),
        login_flow=raw.get("login_flow", "v1"),
        sandbox=raw.get("sandbox", "v1"),
    )


def _with_version(raw: Mapping[str, Any], version: str) -> dict[str, Any]:
    """The profile's data with ``{version}`` in its prefixes replaced by ``version``."""

    def fill(prefix: str) -> str:
        return prefix.replace("{version}", version)

    endpoints = {
        eid: {**spec, "prefix": fill(spec["prefix"])} if "prefix" in spec else spec
        for eid, spec in raw["endpoints"].items()
    }
    return {**raw, "prefix": fill(raw["prefix"]), "endpoints": endpoints}


def load_registry(profile: str = "instagram.v1", version: str | None = None) -> Registry:
    """Load a registry profile shipped with igflow (cached), at ``version`` if given.

    Raises:
        UnknownEndpointError: No such profile.
        UsageError: ``version`` is not a version (v25.0), or the profile has none to replace.
    """
    if version is not None:
        problem = version_problem(version)
        if problem is not None:
            from igflow.errors import UsageError

            raise UsageError(problem)
    return _load_registry(profile, version)


@cache
def _load_registry(profile: str, version: str | None) -> Registry:
    """Load and cache a registry profile shipped with igflow.

    The shipped files are checked against ``schemas/registry.schema.json`` by the test suite
    (tests/unit/test_registry.py), not at every start: they change only with igflow itself, and
    validating took longer than reading (about 4.6 ms against 3.4 ms), besides importing
    jsonschema, the costliest import of a run (about 80 ms).
    """
    raw = read_profile(profile)
    if version is not None and "version" not in raw:
        from igflow.errors import UsageError

        raise UsageError(f"{profile} has no API versions to choose from (--api-version)")
    return parse_registry(raw, version)


def read_profile(profile: str) -> dict[str, Any]:
    """The raw data of a shipped registry profile (not validated; see :func:`load_registry`)."""
    import yaml

    try:
        filename = PROFILES[profile]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UnknownEndpointError(f"unknown API profile '{profile}' (known: {known})") from None
    # libyaml's loader reads the registry about 6x faster than the pure-Python one; the
    # registry is our own data, so the playbook loader's position tracking is not needed here.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(package_data("registry", filename), encoding="utf-8") as fh:
        raw: dict[str, Any] = yaml.load(fh, Loader=loader)
    return raw

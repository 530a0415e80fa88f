"""/geographies/{geo-id}/media/recent: media inside a geography the client subscribed to.

Legacy only: apps created after 2015-11-17 (every sandbox client) are refused; the query is
kept for an era before that.
"""

from __future__ import annotations

from igflow.sandbox.contract import HandlerResult, RequestContext, SandboxApiError
from igflow.sandbox.handlers._common import (
    count_param,
    legacy_available,
    legacy_unavailable,
    media_cursor_param,
    next_page,
    store_of,
    visibility,
)


def media_recent(ctx: RequestContext) -> HandlerResult:
    if not legacy_available(ctx):
        raise legacy_unavailable()
    store = store_of(ctx)
    geo = store.geography(ctx.client_id or "", ctx.path_params["geo_id"])
    if geo is None:
        raise SandboxApiError(400, "APINotFoundError", "invalid geography id")
    count = count_param(ctx)
    after = media_cursor_param(ctx, "min_id")
    vis = visibility(ctx)
    near = store.media_near(vis, geo["lat"], geo["lng"], geo["radius"] or 1000, 10**6)
    rows = [
        {k: v for k, v in r.items() if k != "distance"}
        for r in near
        if after is None or (r["created_time"], r["pk"]) > after
    ][:count]
    newest = str(rows[0]["pk"]) if rows else None
    return HandlerResult(
        data=store.media_json(rows, vis),
        pagination=next_page(ctx, "min_id", newest, next_min_id=newest or ""),
    )


HANDLERS = {"geographies.media_recent": media_recent}

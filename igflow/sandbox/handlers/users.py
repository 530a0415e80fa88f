"""/users: profiles, recent media, liked media, search and the (legacy) feed."""

from __future__ import annotations

from igflow.sandbox.contract import HandlerResult, RequestContext
from igflow.sandbox.handlers._common import (
    count_param,
    decimal_param,
    legacy_available,
    legacy_unavailable,
    media_cursor_param,
    next_page,
    require_can_view,
    required,
    resolve_user,
    store_of,
    viewer_id,
    visibility,
)


def users_self(ctx: RequestContext) -> HandlerResult:
    return users_get_id(ctx, "self")


def users_get(ctx: RequestContext) -> HandlerResult:
    return users_get_id(ctx, ctx.path_params["user_id"])


def users_get_id(ctx: RequestContext, raw_id: str) -> HandlerResult:
    # Profiles of private accounts stay readable (as on the website); their media do not.
    user = resolve_user(ctx, raw_id)
    return HandlerResult(data=store_of(ctx).full_user(user["id"]))


def _recent_media(ctx: RequestContext, raw_id: str) -> HandlerResult:
    user = resolve_user(ctx, raw_id)
    require_can_view(ctx, user)
    count = count_param(ctx)
    before = media_cursor_param(ctx, "max_id")
    after = media_cursor_param(ctx, "min_id")
    store, vis = store_of(ctx), visibility(ctx)
    rows, more = store.media_page(
        vis, "m.owner = ?", [user["id"]], count, before=before, after=after, listable=False
    )
    last = f"{rows[-1]['pk']}_{rows[-1]['owner']}" if more and rows else None
    return HandlerResult(
        data=store.media_json(rows, vis),
        pagination=next_page(ctx, "max_id", last, next_max_id=last or ""),
    )


def media_recent_self(ctx: RequestContext) -> HandlerResult:
    return _recent_media(ctx, "self")


def media_recent(ctx: RequestContext) -> HandlerResult:
    return _recent_media(ctx, ctx.path_params["user_id"])


def media_liked(ctx: RequestContext) -> HandlerResult:
    me = viewer_id(ctx)
    count = count_param(ctx)
    before = decimal_param(ctx, "max_like_id")
    store, vis = store_of(ctx), visibility(ctx)
    rows, next_seq = store.liked_page(vis, me, count, before)
    cursor = str(next_seq) if next_seq is not None else None
    return HandlerResult(
        data=store.media_json(rows, vis),
        pagination=next_page(ctx, "max_like_id", cursor, next_max_like_id=cursor or ""),
    )


def search(ctx: RequestContext) -> HandlerResult:
    query = required(ctx, "q")
    count = count_param(ctx)
    return HandlerResult(data=store_of(ctx).search_users(visibility(ctx), query, count))


def feed(ctx: RequestContext) -> HandlerResult:
    """Media of the accounts the viewer follows, and their own (legacy apps only)."""
    if not legacy_available(ctx):
        raise legacy_unavailable()
    me = viewer_id(ctx)
    count = count_param(ctx)
    before = media_cursor_param(ctx, "max_id")
    after = media_cursor_param(ctx, "min_id")
    store, vis = store_of(ctx), visibility(ctx)
    rows, more = store.media_page(
        vis,
        "(m.owner = ? OR m.owner IN (SELECT followee FROM follows WHERE follower = ? AND "
        "status = 'follows'))",
        [me, me],
        count,
        before=before,
        after=after,
    )
    last = f"{rows[-1]['pk']}_{rows[-1]['owner']}" if more and rows else None
    return HandlerResult(
        data=store.media_json(rows, vis),
        pagination=next_page(ctx, "max_id", last, next_max_id=last or ""),
    )


HANDLERS = {
    "users.self": users_self,
    "users.get": users_get,
    "users.media_recent_self": media_recent_self,
    "users.media_recent": media_recent,
    "users.media_liked": media_liked,
    "users.search": search,
    "users.feed": feed,
}

"""Likes: who liked a media object; like and unlike (both idempotent)."""

from __future__ import annotations

from igflow.sandbox.contract import HandlerResult, RequestContext
from igflow.sandbox.handlers._common import (
    owner_of,
    require_can_view,
    resolve_media,
    store_of,
    viewer_id,
    visibility,
)


def list_(ctx: RequestContext) -> HandlerResult:
    row = resolve_media(ctx, media_id=ctx.path_params["media_id"])
    require_can_view(ctx, owner_of(row))
    return HandlerResult(data=store_of(ctx).likers(visibility(ctx), row["pk"]))


def create(ctx: RequestContext) -> HandlerResult:
    me = viewer_id(ctx)
    row = resolve_media(ctx, media_id=ctx.path_params["media_id"])
    require_can_view(ctx, owner_of(row))
    with ctx.db.transaction():
        store_of(ctx).like(row["pk"], me)
    return HandlerResult(data=None)


def delete(ctx: RequestContext) -> HandlerResult:
    # No privacy check: taking back one's own like must work after unfollowing a private account.
    me = viewer_id(ctx)
    row = resolve_media(ctx, media_id=ctx.path_params["media_id"])
    with ctx.db.transaction():
        store_of(ctx).unlike(row["pk"], me)
    return HandlerResult(data=None)


HANDLERS = {
    "likes.list": list_,
    "likes.create": create,
    "likes.delete": delete,
}

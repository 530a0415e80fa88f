"""Relationships: follows, followed-by, pending requests, and follow/unfollow/approve/ignore."""

from __future__ import annotations

from igflow.sandbox.contract import HandlerResult, RequestContext
from igflow.sandbox.handlers._common import (
    count_param,
    decimal_param,
    invalid_params,
    next_page,
    required,
    resolve_user,
    store_of,
    viewer_id,
    visibility,
)

ACTIONS = ("follow", "unfollow", "approve", "ignore")
# requested-by has no paging in the API; this bounds one response.
REQUESTS_LIMIT = 1000


def _relation_list(ctx: RequestContext, direction: str) -> HandlerResult:
    me = viewer_id(ctx)
    count = count_param(ctx)
    cursor = decimal_param(ctx, "cursor")
    users, next_cursor = store_of(ctx).relation_page(visibility(ctx), me, direction, count, cursor)
    value = str(next_cursor) if next_cursor is not None else None
    return HandlerResult(
        data=users, pagination=next_page(ctx, "cursor", value, next_cursor=value or "")
    )


def follows(ctx: RequestContext) -> HandlerResult:
    return _relation_list(ctx, "follows")


def followed_by(ctx: RequestContext) -> HandlerResult:
    return _relation_list(ctx, "followed_by")


def requested_by(ctx: RequestContext) -> HandlerResult:
    users, _ = store_of(ctx).relation_page(
        visibility(ctx), viewer_id(ctx), "followed_by", REQUESTS_LIMIT, None, status="requested"
    )
    return HandlerResult(data=users)


def get(ctx: RequestContext) -> HandlerResult:
    target = resolve_user(ctx, ctx.path_params["user_id"])
    return HandlerResult(data=store_of(ctx).relationship(viewer_id(ctx), target))


def update(ctx: RequestContext) -> HandlerResult:
    """Apply an action; the answer is the viewer's outgoing status afterwards (reference §3.6)."""
    me = viewer_id(ctx)
    target = resolve_user(ctx, ctx.path_params["user_id"])
    action = required(ctx, "action")
    if action not in ACTIONS:
        raise invalid_params(f"Invalid action '{action}'. Must be one of: {', '.join(ACTIONS)}.")
    if target["id"] == me:
        raise invalid_params("You cannot change your relationship with yourself.")
    store = store_of(ctx)
    with ctx.db.transaction():
        outgoing = store.follow_status(me, target["id"])
        incoming = store.follow_status(target["id"], me)
        if action == "follow" and outgoing != "follows":
            store.set_follow(me, target["id"], "requested" if target["is_private"] else "follows")
        elif action == "unfollow":
            store.set_follow(me, target["id"], None)
        elif action == "approve" and incoming == "requested":
            store.set_follow(target["id"], me, "follows")
        elif action == "ignore" and incoming == "requested":
            store.set_follow(target["id"], me, None)
        # approve/ignore without a pending request change nothing: the action is idempotent.
        status = store.follow_status(me, target["id"]) or "none"
    return HandlerResult(data={"outgoing_status": status})


HANDLERS = {
    "relationships.follows": follows,
    "relationships.followed_by": followed_by,
    "relationships.requested_by": requested_by,
    "relationships.get": get,
    "relationships.update": update,
}

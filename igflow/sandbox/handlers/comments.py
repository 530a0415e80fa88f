"""Comments: list, create (with the comment rules) and delete (media owner or author only)."""

from __future__ import annotations

from igflow.sandbox import ids
from igflow.sandbox.contract import HandlerResult, RequestContext
from igflow.sandbox.handlers._common import (
    invalid_params,
    not_allowed,
    owner_of,
    require_can_view,
    required,
    resolve_media,
    store_of,
    viewer_id,
    visibility,
)
from igflow.sandbox.rules import comment_problem

# Chosen wording (the sources do not give one), in the style of "you cannot view this resource".
DELETE_REFUSED = "you cannot delete this comment"


def list_(ctx: RequestContext) -> HandlerResult:
    row = resolve_media(ctx, media_id=ctx.path_params["media_id"])
    require_can_view(ctx, owner_of(row))
    return HandlerResult(data=store_of(ctx).comments_for(visibility(ctx), row["pk"]))


def create(ctx: RequestContext) -> HandlerResult:
    me = viewer_id(ctx)
    row = resolve_media(ctx, media_id=ctx.path_params["media_id"])
    if row["owner"] != me:
        # Reference §4.4: commenting on others' media also needs public_content.
        ctx.require_scope("public_content")
    require_can_view(ctx, owner_of(row))
    text = required(ctx, "text")
    problem = comment_problem(text)
    if problem:
        raise invalid_params(problem)
    with ctx.db.transaction():
        store_of(ctx).add_comment(row["pk"], me, text, int(ctx.now))
    return HandlerResult(data=None)  # the 2016 docs answer null


def delete(ctx: RequestContext) -> HandlerResult:
    """Idempotent: deleting a comment that is already gone succeeds, so retries are safe."""
    me = viewer_id(ctx)
    # Removing is always allowed on reachable media, even a private account's after unfollowing.
    row = resolve_media(ctx, media_id=ctx.path_params["media_id"])
    comment_id = ids.parse_decimal(ctx.path_params["comment_id"])
    if comment_id is None:
        raise invalid_params("Invalid comment_id.")
    store = store_of(ctx)
    with ctx.db.transaction():
        comment = store.comment_row(row["pk"], comment_id)
        if comment is None:
            return HandlerResult(data=None)
        if me not in (comment["author"], row["owner"]):
            raise not_allowed(DELETE_REFUSED)
        store.delete_comment(comment_id)
    return HandlerResult(data=None)


HANDLERS = {
    "comments.list": list_,
    "comments.create": create,
    "comments.delete": delete,
}

"""The handlers of account, media, comment and webhook-subscription endpoints (§3.1–3.3, §7).

Each takes the context and the resolved node and returns the JSON body. The moderation rules of
§3.3 live here: only the media owner deletes; the owner's own comments cannot be hidden; a reply
to a reply attaches to the top-level comment; no reply to a hidden comment; 50 comments a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from igflow.sandbox.graph.context import Ctx
from igflow.sandbox.graph.errors import GraphError
from igflow.sandbox.graph.nodes import edge_response, render

Row = dict[str, Any]
Handler = Callable[[Ctx, Row], Any]
SUCCESS = {"success": True}
MAX_MESSAGE_CHARS = 2200


def node_get(node: str) -> Handler:
    def handler(ctx: Ctx, row: Row) -> Any:
        return render(ctx, node, row, ctx.fields(node))

    return handler


def edge_get(node: str, edge: str) -> Handler:
    def handler(ctx: Ctx, row: Row) -> Any:
        return edge_response(ctx, node, row, edge)

    return handler


def _message(ctx: Ctx) -> str:
    text = ctx.param("message", required=True) or ""
    if len(text) > MAX_MESSAGE_CHARS:
        raise GraphError(
            "bad_param", detail=f"Param message must be at most {MAX_MESSAGE_CHARS} characters"
        )
    return text


def _new_comment(ctx: Ctx, media: Row, text: str, parent: str | None) -> str:
    account = ctx.store.account(ctx.user_id) or {"username": ""}
    comment_id = ctx.store.next_id("comment")
    ctx.store.add_comment(
        {
            "id": comment_id,
            "media": media["id"],
            "parent": parent,
            "created": ctx.now,
            "username": account["username"],
            "from_id": ctx.user_id,
            "text": text,
        }
    )
    return comment_id


def media_comment(ctx: Ctx, media: Row) -> Any:
    text = _message(ctx)
    if not media.get("is_comment_enabled", True):
        raise GraphError("comments_disabled")
    if media.get("parent"):
        raise GraphError("no_object", method="post", id=media["id"])
    return {"id": _new_comment(ctx, media, text, None)}


def set_comment_enabled(ctx: Ctx, media: Row) -> Any:
    enabled = ctx.bool_param("comment_enabled")
    if media.get("media_product_type") == "STORY" or media.get("parent"):
        raise GraphError("bad_param", detail="Comments cannot be turned on or off for this media")
    ctx.store.update_media(media["id"], {"is_comment_enabled": enabled})
    return SUCCESS


def comment_replies_post(ctx: Ctx, comment: Row) -> Any:
    text = _message(ctx)
    if comment["hidden"]:
        raise GraphError("reply_to_hidden")
    media = ctx.store.media(comment["media"]) or {}
    if not media.get("is_comment_enabled", True):
        raise GraphError("comments_disabled")
    # A reply to a reply attaches to the top-level comment (§3.3).
    parent = comment.get("parent") or comment["id"]
    return {"id": _new_comment(ctx, media, text, parent)}


def comment_post(ctx: Ctx, comment: Row) -> Any:
    """``POST /{comment_id}?hide=true|false``."""
    hide = ctx.bool_param("hide")
    media = ctx.store.media(comment["media"]) or {}
    if media.get("owner") != ctx.user_id:
        raise GraphError("comment_not_owner")
    if hide and comment["from_id"] == media.get("owner"):
        raise GraphError("hide_own_comment")  # the owner's own comments always stay visible
    ctx.store.set_hidden(comment["id"], hide)
    return SUCCESS


def comment_delete(ctx: Ctx, comment: Row) -> Any:
    media = ctx.store.media(comment["media"]) or {}
    if media.get("owner") != ctx.user_id:
        raise GraphError("comment_not_owner")  # only the media owner deletes, whoever wrote it
    ctx.store.delete_comment(comment["id"])
    return SUCCESS


def mention_reply(ctx: Ctx, user: Row) -> Any:
    """``POST /{user_id}/mentions``: reply where the account was @mentioned."""
    media_id = ctx.param("media_id", required=True) or ""
    text = _message(ctx)
    media = ctx.store.media(media_id)
    if media is None or media.get("media_product_type") == "STORY":
        raise GraphError("no_object", method="post", id=media_id)
    mention = re.compile(rf"@{re.escape(user['username'])}\b", re.IGNORECASE)
    comment_id = ctx.param("comment_id")
    if comment_id:
        comment = ctx.store.comment(comment_id)
        if comment is None or comment["media"] != media_id:
            raise GraphError("no_object", method="post", id=comment_id)
        if not mention.search(comment["text"]):
            raise GraphError("not_mentioned")
        return {"id": _new_comment(ctx, media, text, comment.get("parent") or comment_id)}
    if not mention.search(str(media.get("caption", ""))):
        raise GraphError("not_mentioned")
    return {"id": _new_comment(ctx, media, text, None)}


# ---- webhook subscriptions of an account (§7) --------------------------------------------------
def subscribed_apps(ctx: Ctx, user: Row) -> Any:
    subs = ctx.store.account_subs(user["id"])
    assert ctx.app is not None
    fields = subs.get(ctx.app.client_id)
    if fields is None:
        return {"data": []}
    return {"data": [{"subscribed_fields": fields}]}


def subscribe_app(ctx: Ctx, user: Row) -> Any:
    raw = ctx.param("subscribed_fields", required=True) or ""
    names = [name.strip() for name in raw.split(",") if name.strip()]
    known = [str(f) for f in ctx.rules.section("webhooks")["fields"]]
    for index, name in enumerate(names):
        if name not in known:
            raise GraphError(
                "bad_param",
                detail=f"Param subscribed_fields[{index}] must be one of {{{', '.join(known)}}}",
            )
    if not names:
        raise GraphError("missing_param", param="subscribed_fields")
    assert ctx.app is not None
    ctx.store.set_account_sub(ctx.app.client_id, user["id"], list(dict.fromkeys(names)))
    return SUCCESS


def unsubscribe_app(ctx: Ctx, user: Row) -> Any:
    assert ctx.app is not None
    ctx.store.delete_account_sub(ctx.app.client_id, user["id"])
    return SUCCESS

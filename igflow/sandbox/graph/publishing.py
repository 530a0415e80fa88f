"""Content publishing (§3.4): container → status on the clock → media_publish, with the quota.

The sandbox fetches nothing: an ``image_url``/``video_url`` is judged by its host and extension
(``graph_rules.yaml`` → ``publishing``; docs/graph-sandbox.md says why).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from igflow.sandbox.graph.context import Ctx
from igflow.sandbox.graph.errors import GraphError
from igflow.sandbox.graph.nodes import container_status, render

Row = dict[str, Any]
_KINDS = {"CAROUSEL": "CAROUSEL", "REELS": "REELS", "STORIES": "STORIES"}
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<!\w)@[\w.]+")


def _check_url(ctx: Ctx, url: str, video: bool) -> None:
    rules = ctx.rules.section("publishing")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    unreachable = [str(h) for h in rules["unreachable_hosts"]]
    if (
        parts.scheme not in ("http", "https")
        or not host
        or any(host == h or host.endswith("." + h) for h in unreachable)
    ):
        raise GraphError("media_fetch_failed", url=url)
    path = parts.path.lower()
    if video and not path.endswith((".mp4", ".mov")):
        raise GraphError("video_format")
    if not video and not path.endswith((".jpg", ".jpeg")):
        raise GraphError("image_format")


def _check_caption(ctx: Ctx, caption: str) -> None:
    rules = ctx.rules.section("publishing")
    if len(caption) > int(rules["caption_max_chars"]):
        raise GraphError("caption_too_long", limit=f"{rules['caption_max_chars']} characters")
    if len(_HASHTAG.findall(caption)) > int(rules["caption_max_hashtags"]):
        raise GraphError("caption_too_long", limit=f"{rules['caption_max_hashtags']} hashtags")
    if len(_MENTION.findall(caption)) > int(rules["caption_max_mentions"]):
        raise GraphError("caption_too_long", limit=f"{rules['caption_max_mentions']} @-tags")


def create_container(ctx: Ctx, user: Row) -> Any:
    """``POST /{user_id}/media``: a container, not a post."""
    media_type = (ctx.param("media_type") or "").upper()
    caption = ctx.param("caption") or ""
    item = (ctx.param("is_carousel_item") or "").lower() == "true"
    image_url = ctx.param("image_url")
    video_url = ctx.param("video_url")
    body: dict[str, Any] = {"caption": caption, "is_carousel_item": item}
    if media_type == "VIDEO":
        # Not accepted since 2023-11-09; carousel items still say VIDEO for a video child.
        if not item:
            raise GraphError("media_type_unknown", media_type="VIDEO (use REELS)")
        kind = "VIDEO"
    elif media_type in ("", "IMAGE"):
        kind = "IMAGE"
    elif media_type in _KINDS:
        kind = _KINDS[media_type]
    else:
        raise GraphError("media_type_unknown", media_type=media_type)
    if item and caption:
        raise GraphError("bad_param", detail="Param caption is not allowed on carousel items")
    _check_caption(ctx, caption)
    if kind == "CAROUSEL":
        body["children"] = _carousel_children(ctx, user)
    elif kind in ("REELS", "VIDEO") or (kind == "STORIES" and video_url):
        if not video_url:
            raise GraphError("missing_param", param="video_url")
        _check_url(ctx, video_url, video=True)
        body["video_url"] = video_url
    else:
        if not image_url:
            raise GraphError("missing_param", param="image_url")
        _check_url(ctx, image_url, video=False)
        body["image_url"] = image_url
        alt = ctx.param("alt_text")
        if alt:
            body["alt_text"] = alt
    body["kind"] = kind
    container_id = ctx.store.next_id("container")
    ctx.store.add_container(container_id, user["id"], ctx.now, body)
    return {"id": container_id}


def _carousel_children(ctx: Ctx, user: Row) -> list[str]:
    raw = ctx.param("children") or ""
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    rules = ctx.rules.section("publishing")
    if not int(rules["carousel_min"]) <= len(ids) <= int(rules["carousel_max"]):
        raise GraphError("carousel_size")
    for child_id in ids:
        child = ctx.store.container(child_id)
        if child is None or child["owner"] != user["id"] or not child.get("is_carousel_item"):
            raise GraphError("container_missing", id=child_id)
    return ids


def container_get(ctx: Ctx, container: Row) -> Any:
    return render(ctx, "IGContainer", container, ctx.fields("IGContainer"))


def publish(ctx: Ctx, user: Row) -> Any:
    """``POST /{user_id}/media_publish?creation_id=``."""
    creation_id = ctx.param("creation_id", required=True) or ""
    container = ctx.store.container(creation_id)
    if container is None or container["owner"] != user["id"]:
        raise GraphError("container_missing", id=creation_id)
    status, _ = container_status(ctx, container)
    if status == "PUBLISHED":
        raise GraphError("already_published", id=creation_id)
    if status == "EXPIRED":
        raise GraphError("container_missing", id=creation_id)
    if container.get("is_carousel_item"):
        raise GraphError("bad_param", detail="A carousel item cannot be published on its own")
    if status != "FINISHED":
        raise GraphError("not_ready")
    children = [ctx.store.container(cid) for cid in container.get("children") or []]
    if any(c is None or container_status(ctx, c)[0] != "FINISHED" for c in children):
        raise GraphError("not_ready")
    rules = ctx.rules.section("publishing")
    used = ctx.store.publishes_since(user["id"], ctx.now - float(rules["quota_duration"]))
    if used >= int(rules["quota_total"]):
        raise GraphError("quota_reached")
    media_id = _make_media(ctx, user["id"], container)
    for position, child in enumerate(children):
        assert child is not None
        child_media = ctx.store.next_id("media")
        ctx.store.add_media(
            child_media,
            user["id"],
            ctx.now,
            _media_body(child, "FEED"),
            parent=media_id,
            position=position,
        )
        ctx.store.mark_published(child["id"], child_media, ctx.now)
    ctx.store.mark_published(container["id"], media_id, ctx.now)
    return {"id": media_id}


def _media_body(container: Row, product: str) -> dict[str, Any]:
    kind = container["kind"]
    video = kind in ("REELS", "VIDEO") or bool(container.get("video_url"))
    media_type = "CAROUSEL_ALBUM" if kind == "CAROUSEL" else ("VIDEO" if video else "IMAGE")
    body: dict[str, Any] = {
        "media_type": media_type,
        "media_product_type": product,
        "caption": container.get("caption", ""),
        "shortcode": "DSbx" + secrets.token_hex(4),
        "like_count": 0,
        "is_comment_enabled": True,
    }
    if container.get("alt_text"):
        body["alt_text"] = container["alt_text"]
    return body


def _make_media(ctx: Ctx, owner: str, container: Row) -> str:
    product = {"REELS": "REELS", "STORIES": "STORY"}.get(container["kind"], "FEED")
    media_id = ctx.store.next_id("media")
    ctx.store.add_media(media_id, owner, ctx.now, _media_body(container, product))
    return media_id


def publishing_limit(ctx: Ctx, user: Row) -> Any:
    """``GET /{user_id}/content_publishing_limit``: ``quota_usage`` is the default field."""
    rules = ctx.rules.section("publishing")
    duration = float(rules["quota_duration"])
    since = ctx.now - duration
    if ctx.param("since"):
        from igflow.sandbox.graph.context import parse_time

        since = max(since, parse_time(ctx.param("since") or "", "since"))
    fields = [f.strip() for f in (ctx.param("fields") or "quota_usage").split(",") if f.strip()]
    entry: dict[str, Any] = {}
    for name in fields:
        if name == "quota_usage":
            entry[name] = ctx.store.publishes_since(user["id"], since)
        elif name == "config":
            entry[name] = {
                "quota_total": int(rules["quota_total"]),
                "quota_duration": int(duration),
            }
        else:
            raise GraphError("nonexisting_field", field=name, node="ContentPublishingLimit")
    return {"data": [entry]}

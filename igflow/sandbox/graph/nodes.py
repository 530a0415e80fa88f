"""Nodes as the API shows them: field selection, nested objects and expanded edges (§3, §4).

Each node type has its scalar fields (a getter each), object fields (``owner{...}``,
``from{...}``, ``media{...}``) and edges (``children``, ``comments``, ``replies``, ``media``,
``stories``). An edge asked for in ``fields`` comes back as ``{"data": [...], "paging":
{"cursors": ...}}`` with no ``next`` (§4: a field-expanded edge gives cursors only); the
modifiers ``limit``, ``after``, ``before``, ``since`` and ``until`` apply to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from igflow.sandbox.graph.context import Ctx, iso_time, parse_time
from igflow.sandbox.graph.errors import GraphError
from igflow.sandbox.graph.fields import FieldSpec
from igflow.sandbox.graph.paging import CursorError, page, paging_object

Row = dict[str, Any]
Getter = Callable[[Ctx, Row], Any]

CDN = "https://scontent.cdninstagram.com/v/igflow-sandbox"
# Fields that exist only for Facebook Login tokens (§3.6–3.8): asking for them on an Instagram
# Login token is the "nonexisting field" error the real host gives.
FB_LOGIN_ONLY_FIELDS = frozenset(
    {
        "business_discovery",
        "mentioned_media",
        "mentioned_comment",
        "tags",
        "live_media",
        "recently_searched_hashtags",
        "product_tags",
        "collaborators",
    }
)


# ---- users ------------------------------------------------------------------------------------
def _media_count(ctx: Ctx, user: Row) -> int:
    return len(ctx.store.media_of(user["id"], stories=False))


USER_FIELDS: dict[str, Getter] = {
    "id": lambda ctx, u: u["id"],
    "user_id": lambda ctx, u: u["id"],
    "ig_id": lambda ctx, u: int(u["id"]) % 10**10,
    "username": lambda ctx, u: u["username"],
    "name": lambda ctx, u: u.get("name"),
    "account_type": lambda ctx, u: u["account_type"],
    "biography": lambda ctx, u: u.get("biography"),
    "website": lambda ctx, u: u.get("website"),
    "profile_picture_url": lambda ctx, u: f"{CDN}/profile/{u['id']}.jpg",
    "has_profile_pic": lambda ctx, u: True,
    "followers_count": lambda ctx, u: int(u.get("followers_count", 0)),
    "follows_count": lambda ctx, u: int(u.get("follows_count", 0)),
    "media_count": _media_count,
    "is_published": lambda ctx, u: True,
}


# ---- media ------------------------------------------------------------------------------------
def _permalink(ctx: Ctx, m: Row) -> str | None:
    if m.get("parent"):
        return None  # not usable on carousel children (§3.2)
    kind = "reel" if m.get("media_product_type") == "REELS" else "p"
    if m.get("media_product_type") == "STORY":
        return f"https://www.instagram.com/stories/{_owner_name(ctx, m)}/{m['id']}/"
    return f"https://www.instagram.com/{kind}/{m.get('shortcode', m['id'])}/"


def _owner_name(ctx: Ctx, m: Row) -> str:
    owner = ctx.store.account(m["owner"])
    return str(owner["username"]) if owner else ""


def _media_url(ctx: Ctx, m: Row) -> str | None:
    if m.get("media_type") == "CAROUSEL_ALBUM":
        return f"{CDN}/{m['id']}.jpg"  # the first child's image, as the real API gives
    ext = "mp4" if m.get("media_type") == "VIDEO" else "jpg"
    return m.get("media_url") or f"{CDN}/{m['id']}.{ext}"


MEDIA_FIELDS: dict[str, Getter] = {
    "id": lambda ctx, m: m["id"],
    "caption": lambda ctx, m: None if m.get("parent") else m.get("caption", ""),
    "media_type": lambda ctx, m: m["media_type"],
    "media_product_type": lambda ctx, m: m.get("media_product_type", "FEED"),
    "media_url": _media_url,
    "thumbnail_url": lambda ctx, m: (
        f"{CDN}/{m['id']}_thumb.jpg" if m.get("media_type") == "VIDEO" else None
    ),
    "permalink": _permalink,
    "shortcode": lambda ctx, m: m.get("shortcode"),
    "timestamp": lambda ctx, m: iso_time(m["created"]),
    "username": _owner_name,
    "like_count": lambda ctx, m: int(m.get("like_count", 0)),
    "comments_count": lambda ctx, m: ctx.store.comment_count(m["id"]),
    "is_comment_enabled": lambda ctx, m: bool(m.get("is_comment_enabled", True)),
    "is_shared_to_feed": lambda ctx, m: True if m.get("media_product_type") == "REELS" else None,
    "alt_text": lambda ctx, m: m.get("alt_text") if m.get("media_type") == "IMAGE" else None,
    "legacy_instagram_media_id": lambda ctx, m: str(int(m["id"]) % 10**12),
}


# ---- comments ---------------------------------------------------------------------------------
COMMENT_FIELDS: dict[str, Getter] = {
    "id": lambda ctx, c: c["id"],
    "text": lambda ctx, c: c["text"],
    "timestamp": lambda ctx, c: iso_time(c["created"]),
    "username": lambda ctx, c: c["username"],
    "hidden": lambda ctx, c: bool(c["hidden"]),
    "like_count": lambda ctx, c: int(c["like_count"]),
    "parent_id": lambda ctx, c: c.get("parent"),
}

CONTAINER_FIELDS: dict[str, Getter] = {
    "id": lambda ctx, c: c["id"],
    "status_code": lambda ctx, c: container_status(ctx, c)[0],
    "status": lambda ctx, c: container_status(ctx, c)[1],
}


def container_status(ctx: Ctx, c: Row) -> tuple[str, str]:
    """IN_PROGRESS → FINISHED after the type's processing time, EXPIRED after 24 h, PUBLISHED."""
    publishing = ctx.rules.section("publishing")
    if c.get("media_id"):
        return "PUBLISHED", "Published: Finished"
    age = ctx.now - float(c["created"])
    if age >= float(publishing["container_ttl_seconds"]):
        return "EXPIRED", "Expired: The container was not published within 24 hours."
    finish = float(publishing["finish_seconds"].get(c.get("kind", "IMAGE"), 10))
    if age < finish:
        return "IN_PROGRESS", "In Progress: Media is still being processed."
    return "FINISHED", "Finished: Media has been uploaded and it is ready to be published."


# ---- rendering --------------------------------------------------------------------------------
def render(ctx: Ctx, node: str, row: Row, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    scalars = {
        "IGUser": USER_FIELDS,
        "IGMedia": MEDIA_FIELDS,
        "IGComment": COMMENT_FIELDS,
        "IGContainer": CONTAINER_FIELDS,
    }[node]
    out: dict[str, Any] = {}
    for spec in specs:
        if spec.name in scalars and spec.children is None:
            value = scalars[spec.name](ctx, row)
            if value is not None:
                out[spec.name] = value
            continue
        if spec.name in FB_LOGIN_ONLY_FIELDS and node == "IGUser":
            raise GraphError("fb_login_only_field", field=spec.name, node=node)
        value = _object_field(ctx, node, row, spec)
        if value is not _MISSING:
            if value is not None:
                out[spec.name] = value
            continue
        if (node, spec.name) in EDGES:
            out[spec.name] = expanded_edge(ctx, node, row, spec)
            continue
        raise GraphError("nonexisting_field", field=spec.name, node=node)
    return out


_MISSING = object()


def _object_field(ctx: Ctx, node: str, row: Row, spec: FieldSpec) -> Any:
    children = spec.children
    if node == "IGMedia" and spec.name == "owner":
        if row["owner"] != (ctx.token.user_id if ctx.token else None):
            return None  # owner only when the caller owns the media (§3.2)
        account = ctx.store.account(row["owner"]) or {"id": row["owner"]}
        return render(ctx, "IGUser", account, children or (FieldSpec("id"),))
    if node == "IGComment" and spec.name == "from":
        value = {"id": row["from_id"], "username": row["username"]}
        return _pick(value, children, "from", "IGCommentFrom")
    if node == "IGComment" and spec.name == "user":
        if row["from_id"] != (ctx.token.user_id if ctx.token else None):
            return None  # only when the caller wrote it (§3.3)
        return _pick({"id": row["from_id"]}, children, "user", "IGUser")
    if node == "IGComment" and spec.name == "media":
        media = ctx.store.media(row["media"]) or {"id": row["media"]}
        return render(ctx, "IGMedia", media, children or (FieldSpec("id"),))
    return _MISSING


def _pick(value: Row, children: tuple[FieldSpec, ...] | None, name: str, node: str) -> Row:
    if children is None:
        return {"id": value["id"]}
    out = {}
    for spec in children:
        if spec.name not in value:
            raise GraphError("nonexisting_field", field=spec.name, node=node)
        out[spec.name] = value[spec.name]
    return out


# ---- edges ------------------------------------------------------------------------------------
EdgeLister = Callable[[Ctx, Row], list[Row]]


def _children(ctx: Ctx, m: Row) -> list[Row]:
    return ctx.store.children(m["id"]) if m.get("media_type") == "CAROUSEL_ALBUM" else []


def _ordered_children(rows: list[Row]) -> list[Row]:
    # Paging needs a strict order: position stands in for time (children share the album's).
    return [{**row, "created": float(row["created"]) - i * 0.001} for i, row in enumerate(rows)]


EDGES: dict[tuple[str, str], tuple[str, EdgeLister, str]] = {
    # (node, edge) → (item node, lister, page-size rule)
    ("IGUser", "media"): (
        "IGMedia",
        lambda ctx, u: ctx.store.media_of(u["id"], stories=False),
        "default_limit",
    ),
    ("IGUser", "stories"): ("IGMedia", lambda ctx, u: live_stories(ctx, u["id"]), "default_limit"),
    ("IGMedia", "children"): (
        "IGMedia",
        lambda ctx, m: _ordered_children(_children(ctx, m)),
        "default_limit",
    ),
    ("IGMedia", "comments"): (
        "IGComment",
        lambda ctx, m: ctx.store.comments(m["id"]),
        "comments_max_limit",
    ),
    ("IGComment", "replies"): (
        "IGComment",
        lambda ctx, c: ctx.store.comments(c["media"], c["id"]),
        "comments_max_limit",
    ),
}


def live_stories(ctx: Ctx, user_id: str) -> list[Row]:
    """Stories from the last 24 h only (§3.6)."""
    return [s for s in ctx.store.media_of(user_id, stories=True) if ctx.now - s["created"] < 86400]


def edge_items(
    ctx: Ctx, node: str, row: Row, edge: str, options: dict[str, str]
) -> tuple[str, list[Row], int, str | None, str | None]:
    """(item node, items after since/until, page size, after, before) for an edge."""
    item_node, lister, limit_rule = EDGES[(node, edge)]
    paging = ctx.rules.section("paging")
    items = lister(ctx, row)
    if "since" in options and options["since"]:
        since = parse_time(options["since"], "since")
        items = [i for i in items if float(i["created"]) >= since]
    if "until" in options and options["until"]:
        until = parse_time(options["until"], "until")
        items = [i for i in items if float(i["created"]) <= until]
    if limit_rule == "comments_max_limit":
        high = int(paging["comments_max_limit"])
        default = min(int(paging["default_limit"]), high)
    else:
        high = int(paging["max_limit"])
        default = int(paging["default_limit"])
    raw_limit = options.get("limit")
    if raw_limit in (None, ""):
        limit = default
    else:
        try:
            limit = int(str(raw_limit))
        except ValueError:
            raise GraphError("bad_param", detail="Param limit must be an integer") from None
        if limit < 1:
            raise GraphError("bad_param", detail="Param limit must be a positive integer")
        limit = min(limit, high)  # the API caps silently (50 comments a page)
    return item_node, items, limit, options.get("after") or None, options.get("before") or None


def expanded_edge(ctx: Ctx, node: str, row: Row, spec: FieldSpec) -> dict[str, Any]:
    item_node, items, limit, after, before = edge_items(ctx, node, row, spec.name, spec.modifiers)
    try:
        result = page(items, limit, after, before)
    except CursorError:
        raise GraphError("bad_param", detail=f"Invalid cursor in {spec.name}") from None
    specs = spec.children or tuple(FieldSpec(n) for n in ctx.rules.default_fields(item_node))
    out: dict[str, Any] = {"data": [render(ctx, item_node, item, specs) for item in result.items]}
    paging = paging_object(result, None)
    if paging:
        out["paging"] = paging
    return out


def edge_response(ctx: Ctx, node: str, row: Row, edge: str) -> dict[str, Any]:
    """A top-level edge call (``GET /{id}/comments``): a page with ``next`` as a full URL."""
    item_node, items, limit, after, before = edge_items(ctx, node, row, edge, ctx.params)
    try:
        result = page(items, limit, after, before)
    except CursorError:
        raise GraphError("bad_param", detail="Invalid cursor") from None
    specs = ctx.fields(item_node)
    out: dict[str, Any] = {"data": [render(ctx, item_node, item, specs) for item in result.items]}
    paging = paging_object(result, ctx.url_for)
    if paging:
        out["paging"] = paging
    return out

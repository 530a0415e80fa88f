"""JSON object shapes of the v1 API (reference §3), built from store rows.

Pure functions: rows in, plain dicts out. Key order follows the real bodies quoted in the
reference and the seed walkthrough (not significant to clients, but it makes diffs against
recorded bodies easy to read).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Row = Mapping[str, Any]
CDN = "https://scontent.cdninstagram.com"
# 2016+ sizes (reference §3.2): images 150/320/640, videos 480/640 plus low_bandwidth 480.
IMAGE_SIZES = (
    ("thumbnail", 150, "s150x150/"),
    ("low_resolution", 320, "s320x320/"),
    ("standard_resolution", 640, ""),
)
VIDEO_SIZES = (("standard_resolution", 640), ("low_bandwidth", 480), ("low_resolution", 480))


def short_user(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "full_name": row["full_name"],
        "profile_picture": row["profile_picture"],
    }


def token_user(row: Row) -> dict[str, Any]:
    """The ``user`` object of the token exchange (2017+ form, reference §5.2)."""
    return {
        "id": row["id"],
        "username": row["username"],
        "profile_picture": row["profile_picture"],
        "full_name": row["full_name"],
        "bio": row["bio"],
        "website": row["website"],
        "is_business": bool(row["is_business"]),
    }


def full_user(row: Row) -> dict[str, Any]:
    body = token_user(row)
    body["counts"] = {
        "media": row["media_count"],
        "follows": row["follows_count"],
        "followed_by": row["followed_by_count"],
    }
    return body


def derived_images(key: str) -> dict[str, Any]:
    """Placeholder CDN urls for media whose data gives no images (deterministic per key)."""
    return {
        name: {"width": size, "height": size, "url": f"{CDN}/t51.2885-15/{prefix}e35/{key}_n.jpg"}
        for name, size, prefix in IMAGE_SIZES
    }


def derived_videos(key: str) -> dict[str, Any]:
    return {
        name: {"width": size, "height": size, "url": f"{CDN}/t50.2886-16/{key}_{name}.mp4"}
        for name, size in VIDEO_SIZES
    }


def comment(row: Row, author: Row) -> dict[str, Any]:
    """A comment (or caption): created_time as a string, ``from`` as a short user."""
    return {
        "created_time": str(row["created_time"]),
        "text": row["text"],
        "from": short_user(author),
        "id": str(row["id"]),
    }


def location_in_media(row: Row) -> dict[str, Any] | None:
    """Inside media the location id is an integer (reference §3.5)."""
    if row["location_id"] is None:
        return None
    return {
        "latitude": row["loc_lat"],
        "longitude": row["loc_lng"],
        "name": row["loc_name"],
        "id": row["location_id"],
    }


def location(row: Row) -> dict[str, Any]:
    """On the location endpoints the id is a string."""
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
    }


def tag(name: str, media_count: int) -> dict[str, Any]:
    return {"media_count": media_count, "name": name}


def _carousel(row: Row) -> list[dict[str, Any]]:
    items = json.loads(row["carousel"]) if row["carousel"] else [{"type": "image"}] * 2
    out = []
    for n, item in enumerate(items):
        kind = item.get("type", "image")
        key = f"{row['shortcode']}_{n}"
        entry: dict[str, Any]
        if kind == "video":
            entry = {"videos": item.get("videos") or derived_videos(key)}
        else:
            entry = {"images": item.get("images") or derived_images(key)}
        entry["users_in_photo"] = []
        entry["type"] = kind
        out.append(entry)
    return out


def media(
    row: Row, people: Mapping[str, dict[str, Any]], *, reduced: bool = False
) -> dict[str, Any]:
    """A media object as §3.2 and the seed show it.

    ``row`` comes from the store's media select (owner columns, counts, viewer_liked, location);
    ``people`` maps tagged user ids to short users. ``reduced`` applies the 2018-04-04 cut for
    hashtag and location results: embedded users keep only id and username, comment counts go.
    """
    owner = short_user({**row, "id": row["owner"]})
    if reduced:
        owner = {"id": owner["id"], "username": owner["username"]}
    caption = None
    if row["caption_id"] is not None:
        caption = {
            "id": str(row["caption_id"]),
            "text": row["caption_text"],
            "created_time": str(row["created_time"]),
            "from": owner,
        }
    in_photo = []
    for tagged in json.loads(row["users_in_photo"]):
        person = people.get(tagged["user_id"])
        if person is None:
            continue  # a tagged user the caller cannot see
        if reduced:
            person = {"username": person["username"]}
        in_photo.append({"user": person, "position": {"x": tagged["x"], "y": tagged["y"]}})
    body: dict[str, Any] = {
        "id": f"{row['pk']}_{row['owner']}",
        "user": owner,
        "images": json.loads(row["images"]) if row["images"] else derived_images(row["shortcode"]),
        "created_time": str(row["created_time"]),
        "caption": caption,
        "user_has_liked": bool(row["viewer_liked"]),
        "likes": {"count": row["like_count"]},
        "tags": json.loads(row["tags"]),
        "filter": row["filter"],
        "comments": {"count": row["comment_count"]},
        "type": row["type"],
        "link": f"https://www.instagram.com/p/{row['shortcode']}/",
        "location": location_in_media(row),
        "attribution": None,
        "users_in_photo": in_photo,
    }
    if reduced:
        del body["comments"]
    if row["type"] == "video":
        body["videos"] = (
            json.loads(row["videos"]) if row["videos"] else derived_videos(row["shortcode"])
        )
    elif row["type"] == "carousel":
        body["carousel_media"] = _carousel(row)
    if "distance" in row:
        body["distance"] = row["distance"]
    return body

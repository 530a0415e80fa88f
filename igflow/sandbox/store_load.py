"""Turn a dataset (the plain data of docs/sandbox-data.md) into table rows, and insert them.

Kept apart from the queries because it is the one place that knows the file format: users and
media are referred to by username and nested lists, ids that the file leaves out are derived
(media pk from the creation time, shortcode from the pk, comment ids from a counter), and every
like and follow gets a sequence number in file order, which is what the cursors page over.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from igflow.sandbox import ids

HASHTAG = re.compile(r"#(\w+)", re.UNICODE)
CONTENT_TABLES = (
    "subscriptions",
    "follows",
    "likes",
    "comments",
    "media_tags",
    "media",
    "locations",
    "users",
)


def hashtags(text: str | None) -> list[str]:
    """Tags in a caption, lower case, first occurrence order, without duplicates."""
    seen: dict[str, None] = {}
    for match in HASHTAG.finditer(text or ""):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def default_profile_picture(user_id: str) -> str:
    return f"https://scontent.cdninstagram.com/t51.2885-19/s150x150/{user_id}_a.jpg"


@dataclass
class Rows:
    """Everything to insert, table by table, in insertion order."""

    users: list[tuple[Any, ...]] = field(default_factory=list)
    locations: list[tuple[Any, ...]] = field(default_factory=list)
    media: list[tuple[Any, ...]] = field(default_factory=list)
    media_tags: list[tuple[Any, ...]] = field(default_factory=list)
    comments: list[tuple[Any, ...]] = field(default_factory=list)
    likes: list[tuple[Any, ...]] = field(default_factory=list)
    follows: list[tuple[Any, ...]] = field(default_factory=list)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


class _Builder:
    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.rows = Rows()
        self.user_ids: dict[str, str] = {}  # username (lower case) -> id
        self.next_comment_id = ids.COMMENT_ID_BASE
        self.used_comment_ids: set[int] = set()
        self.like_seq = 0

    def user_id(self, username: Any, where: str) -> str:
        key = str(username).lower()
        if key not in self.user_ids:
            raise ValueError(f"{where}: unknown user '{username}'")
        return self.user_ids[key]

    def comment_id(self, given: Any) -> int:
        if given is not None:
            value = int(given)
        else:
            while self.next_comment_id in self.used_comment_ids:
                self.next_comment_id += 1
            value = self.next_comment_id
        self.used_comment_ids.add(value)
        return value

    def build(self) -> Rows:
        for user in self.raw.get("users") or []:
            self.add_user(user)
        for loc in self.raw.get("locations") or []:
            self.rows.locations.append(
                (
                    int(loc["id"]),
                    loc["name"],
                    float(loc["latitude"]),
                    float(loc["longitude"]),
                    loc.get("street_address"),
                    loc.get("foursquare_v2_id"),
                    loc.get("foursquare_id"),
                    loc.get("facebook_places_id"),
                )
            )
        # Reserve ids the file gives before deriving others, so derived ids never collide.
        for item in self.raw.get("media") or []:
            if item.get("caption_id") is not None:
                self.used_comment_ids.add(int(item["caption_id"]))
            for comment in item.get("comments") or []:
                if comment.get("id") is not None:
                    self.used_comment_ids.add(int(comment["id"]))
        for index, item in enumerate(self.raw.get("media") or []):
            self.add_media(index, item)
        self.add_follows(self.raw.get("follows") or {}, "follows")
        self.add_follows(self.raw.get("requests") or {}, "requested")
        return self.rows

    def add_user(self, user: Mapping[str, Any]) -> None:
        user_id = str(user["id"])
        self.user_ids[str(user["username"]).lower()] = user_id
        self.rows.users.append(
            (
                user_id,
                user["username"],
                user.get("full_name") or "",
                user.get("profile_picture") or default_profile_picture(user_id),
                user.get("bio") or "",
                user.get("website") or "",
                int(bool(user.get("is_business"))),
                int(bool(user.get("private"))),
                str(user.get("password") or ""),
            )
        )

    def add_media(self, index: int, item: Mapping[str, Any]) -> None:
        where = f"media[{index}]"
        owner = self.user_id(item["owner"], where)
        created = int(item["created_time"])
        if item.get("id"):
            pk = int(str(item["id"]).partition("_")[0])
        else:
            pk = ids.pk_for(created, int(owner) % 8192, index)
        caption = item.get("caption")
        caption_id = None
        if caption is not None:
            caption_id = self.comment_id(item.get("caption_id"))
        tags = item.get("tags")
        tags = [str(t).lstrip("#").lower() for t in tags] if tags is not None else hashtags(caption)
        in_photo = [
            {
                "user_id": self.user_id(tag["user"], f"{where}.users_in_photo"),
                "x": float(tag.get("x", 0.5)),
                "y": float(tag.get("y", 0.5)),
            }
            for tag in item.get("users_in_photo") or []
        ]
        location = item.get("location")
        self.rows.media.append(
            (
                pk,
                item.get("shortcode") or ids.shortcode_from_pk(pk),
                owner,
                item.get("type", "image"),
                created,
                caption_id,
                caption,
                item.get("filter", "Normal"),
                int(location) if location is not None else None,
                json.dumps(tags),
                _json_or_none(item.get("images")),
                _json_or_none(item.get("videos")),
                _json_or_none(item.get("carousel")),
                json.dumps(in_photo),
            )
        )
        self.rows.media_tags.extend((tag, pk) for tag in tags)
        for n, comment in enumerate(item.get("comments") or []):
            self.rows.comments.append(
                (
                    self.comment_id(comment.get("id")),
                    pk,
                    self.user_id(comment["from"], f"{where}.comments[{n}]"),
                    str(comment["text"]),
                    int(comment.get("created_time") or created + 60 * (n + 1)),
                )
            )
        for username in item.get("likes") or []:
            self.like_seq += 1
            self.rows.likes.append((self.like_seq, pk, self.user_id(username, f"{where}.likes")))

    def add_follows(self, mapping: Mapping[str, Iterable[str]], status: str) -> None:
        section = "follows" if status == "follows" else "requests"
        for follower, followees in mapping.items():
            follower_id = self.user_id(follower, f"{section}.{follower}")
            for followee in followees or []:
                followee_id = self.user_id(followee, f"{section}.{follower}")
                self.rows.follows.append(
                    (len(self.rows.follows) + 1, follower_id, followee_id, status)
                )


def build_rows(raw: Mapping[str, Any]) -> Rows:
    """Rows for a dataset; raises ValueError naming the entry that refers to something unknown."""
    return _Builder(raw).build()


_INSERTS = {
    "users": "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "locations": "INSERT INTO locations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "media": "INSERT INTO media VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "media_tags": "INSERT OR IGNORE INTO media_tags VALUES (?, ?)",
    "comments": "INSERT INTO comments VALUES (?, ?, ?, ?, ?)",
    "likes": "INSERT OR IGNORE INTO likes VALUES (?, ?, ?)",
    "follows": "INSERT OR REPLACE INTO follows VALUES (?, ?, ?, ?)",
}


def insert_rows(conn: sqlite3.Connection, rows: Rows) -> None:
    """Replace all content with ``rows`` (the caller holds a transaction)."""
    for table in CONTENT_TABLES:
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    for table, sql in _INSERTS.items():
        try:
            conn.executemany(sql, getattr(rows, table))
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"dataset {table}: {exc} (duplicate id or unknown reference)") from exc

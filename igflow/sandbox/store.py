"""The sandbox's content store: users, media, comments, likes, relationships, tags, locations and
subscriptions in SQLite, behind one facade.

``Store(db)`` is what the app and the handlers use. Queries are grouped by subject in mixins
(``store_media``, ``store_social``), typed against ``store_host.StoreHost``: the helpers and
``short_users`` this class provides them. This module owns the schema, loading, users, the OAuth
helpers and relationships. Counts are computed from rows on every read, never stored.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from igflow.resources import package_data
from igflow.sandbox import views
from igflow.sandbox.contract import Viewer
from igflow.sandbox.db import Database
from igflow.sandbox.store_load import build_rows, insert_rows
from igflow.sandbox.store_media import MediaQueries
from igflow.sandbox.store_social import SocialQueries
from igflow.sandbox.visibility import Visibility

USER_COLUMNS = (
    "id, username, full_name, profile_picture, bio, website, is_business, is_private, password"
)
_COUNTS = """
    (SELECT COUNT(*) FROM media WHERE owner = u.id) AS media_count,
    (SELECT COUNT(*) FROM follows WHERE follower = u.id AND status = 'follows') AS follows_count,
    (SELECT COUNT(*) FROM follows WHERE followee = u.id AND status = 'follows') AS followed_by_count
"""


class Store(MediaQueries, SocialQueries):
    """Content state of one sandbox. Thread-safe through ``Database``'s lock."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- setup --------------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the content tables (idempotent)."""
        self.db.executescript(package_data("sandbox", "schema.sql").read_text(encoding="utf-8"))

    def load(self, raw_dataset: Mapping[str, Any]) -> None:
        """Replace all content with a dataset (the ``clients`` key is the app's, and ignored).

        Raises ValueError when an entry refers to an unknown user or repeats an id.
        """
        rows = build_rows(raw_dataset)
        with self.db.transaction() as conn:
            insert_rows(conn, rows)

    # ---- low-level helpers shared by the mixins -------------------------------------------
    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self.db.transaction() as conn:
            return [dict(row) for row in conn.execute(sql, tuple(params))]

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        with self.db.transaction() as conn:
            row = conn.execute(sql, tuple(params)).fetchone()
        return dict(row) if row is not None else None

    def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        with self.db.transaction() as conn:
            row = conn.execute(sql, tuple(params)).fetchone()
        return row[0] if row is not None else None

    def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one write; returns the number of rows changed."""
        with self.db.transaction() as conn:
            return conn.execute(sql, tuple(params)).rowcount

    # ---- OAuth helpers (called by the app) ------------------------------------------------
    def authenticate(self, username: str, password: str) -> str | None:
        """The user id when the demo password matches, else None."""
        user = self.user_by_username(username)
        if user is None or not user["password"]:
            return None
        if not hmac.compare_digest(user["password"].encode(), password.encode()):
            return None
        return str(user["id"])

    def user_by_username(self, username: str) -> dict[str, Any] | None:
        """The user row (id, username, ..., is_private, password), matched case-insensitively."""
        return self._one(f"SELECT {USER_COLUMNS} FROM users WHERE username = ?", (username,))

    def user_by_id(self, user_id: str) -> dict[str, Any] | None:
        return self._one(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (str(user_id),))

    def user_json(self, user_id: str) -> dict[str, Any]:
        """The token exchange's ``user`` object. Raises KeyError for an unknown id."""
        user = self.user_by_id(user_id)
        if user is None:
            raise KeyError(user_id)
        return views.token_user(user)

    def list_users(self) -> list[dict[str, Any]]:
        """Every user with demo credentials, for ``igflow sandbox users``."""
        return [
            {
                "id": u["id"],
                "username": u["username"],
                "full_name": u["full_name"],
                "private": bool(u["is_private"]),
                "password": u["password"],
            }
            for u in self._all(f"SELECT {USER_COLUMNS} FROM users ORDER BY rowid")
        ]

    # ---- users --------------------------------------------------------------------------
    def visibility(self, viewer: Viewer | None) -> Visibility:
        """What ``viewer`` may see. Sandbox users may be given as ids or usernames."""
        if viewer is None or viewer.sandbox_users is None:
            return Visibility(viewer.user_id if viewer else None, None)
        names = sorted(viewer.sandbox_users)
        marks = ",".join("?" * len(names))
        found = self._all(
            f"SELECT id FROM users WHERE id IN ({marks}) OR username IN ({marks})", names + names
        )
        visible = {row["id"] for row in found} | {viewer.user_id}
        return Visibility(viewer.user_id, frozenset(visible))

    def full_user(self, user_id: str) -> dict[str, Any] | None:
        """The full user object with counts, or None."""
        row = self._one(f"SELECT u.*, {_COUNTS} FROM users u WHERE u.id = ?", (str(user_id),))
        return views.full_user(row) if row else None

    def short_users(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Short user objects by id (unknown ids are left out)."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._all(f"SELECT * FROM users WHERE id IN ({marks})", wanted)
        return {row["id"]: views.short_user(row) for row in rows}

    def search_users(self, vis: Visibility, query: str, count: int) -> list[dict[str, Any]]:
        """Users whose username or full name contains ``query``; prefix matches first."""
        cond, params = vis.users_sql("id")
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._all(
            f"SELECT * FROM users WHERE {cond} AND (username LIKE ? ESCAPE '\\' OR full_name "
            f"LIKE ? ESCAPE '\\') ORDER BY username NOT LIKE ? ESCAPE '\\', username LIMIT ?",
            params + [like, like, like[1:], count],
        )
        return [views.short_user(row) for row in rows]

    # ---- relationships ------------------------------------------------------------------
    def follow_status(self, follower: str, followee: str) -> str | None:
        """'follows', 'requested' or None."""
        status = self._scalar(
            "SELECT status FROM follows WHERE follower = ? AND followee = ?", (follower, followee)
        )
        return None if status is None else str(status)

    def follows(self, follower: str, followee: str) -> bool:
        return self.follow_status(follower, followee) == "follows"

    def can_see_content(self, viewer_id: str | None, owner: Mapping[str, Any]) -> bool:
        """Private accounts show content only to themselves and accepted followers."""
        if not owner["is_private"] or viewer_id == owner["id"]:
            return True
        return viewer_id is not None and self.follows(viewer_id, owner["id"])

    def relationship(self, viewer_id: str, target: Mapping[str, Any]) -> dict[str, Any]:
        outgoing = self.follow_status(viewer_id, target["id"])
        incoming = self.follow_status(target["id"], viewer_id)
        return {
            "outgoing_status": outgoing or "none",
            "incoming_status": {"follows": "followed_by", "requested": "requested_by"}.get(
                incoming or "", "none"
            ),
            "target_user_is_private": bool(target["is_private"]),
        }

    def set_follow(self, follower: str, followee: str, status: str | None) -> None:
        """Set one direction of a relationship; None removes it. A new row goes last in order."""
        with self.db.transaction() as conn:
            if status is None:
                conn.execute(
                    "DELETE FROM follows WHERE follower = ? AND followee = ?", (follower, followee)
                )
                return
            updated = conn.execute(
                "UPDATE follows SET status = ? WHERE follower = ? AND followee = ?",
                (status, follower, followee),
            ).rowcount
            if not updated:
                conn.execute(
                    "INSERT INTO follows (follower, followee, status) VALUES (?, ?, ?)",
                    (follower, followee, status),
                )

    def relation_page(
        self,
        vis: Visibility,
        user_id: str,
        direction: str,
        count: int,
        cursor: int | None,
        status: str = "follows",
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of short users the user follows ('follows') or who follow them ('followed_by').

        Newest relationship first; returns the page and the cursor of the next page (or None).
        """
        mine, other = ("follower", "followee")
        if direction != "follows":
            mine, other = other, mine
        cond, params = vis.users_sql("u.id")
        sql = (
            f"SELECT u.*, f.seq AS seq FROM follows f JOIN users u ON u.id = f.{other} "
            f"WHERE f.{mine} = ? AND f.status = ? AND {cond}"
        )
        args: list[Any] = [user_id, status, *params]
        if cursor is not None:
            sql += " AND f.seq < ?"
            args.append(cursor)
        rows = self._all(sql + " ORDER BY f.seq DESC LIMIT ?", args + [count + 1])
        more = len(rows) > count
        rows = rows[:count]
        return [views.short_user(r) for r in rows], (rows[-1]["seq"] if more else None)

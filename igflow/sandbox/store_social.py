"""Comments, likes and realtime subscriptions: the rows users and clients write."""

from __future__ import annotations

from typing import Any

from igflow.sandbox import ids, views
from igflow.sandbox.store_host import StoreHost
from igflow.sandbox.visibility import Visibility

SUBSCRIPTION_COLUMNS = "id, object, object_id, aspect, callback_url, lat, lng, radius"


class SocialQueries:
    """Mixed into ``Store``; uses only what ``StoreHost`` declares."""

    # ---- comments -------------------------------------------------------------------------
    def comments_for(self: StoreHost, vis: Visibility, media_pk: int) -> list[dict[str, Any]]:
        """Comments on a media object, oldest first, by authors the caller can see."""
        cond, args = vis.users_sql("u.id")
        rows = self._all(
            f"SELECT c.id, c.text, c.created_time, u.id AS uid, u.username, u.full_name, "
            f"u.profile_picture FROM comments c JOIN users u ON u.id = c.author "
            f"WHERE c.media_pk = ? AND {cond} ORDER BY c.created_time, c.id",
            [media_pk, *args],
        )
        return [views.comment(r, {**r, "id": r["uid"]}) for r in rows]

    def comment_row(self: StoreHost, media_pk: int, comment_id: int) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM comments WHERE id = ? AND media_pk = ?", (comment_id, media_pk)
        )

    def add_comment(
        self: StoreHost, media_pk: int, author: str, text: str, created_time: int
    ) -> str:
        """Insert a comment; its id continues the comment/caption id sequence."""
        with self.db.transaction() as conn:
            top = conn.execute(
                "SELECT MAX(n) FROM (SELECT MAX(id) AS n FROM comments "
                "UNION ALL SELECT MAX(caption_id) FROM media)"
            ).fetchone()[0]
            comment_id = max(int(top or 0), ids.COMMENT_ID_BASE) + 1
            conn.execute(
                "INSERT INTO comments VALUES (?, ?, ?, ?, ?)",
                (comment_id, media_pk, author, text, created_time),
            )
        return str(comment_id)

    def delete_comment(self: StoreHost, comment_id: int) -> None:
        self._write("DELETE FROM comments WHERE id = ?", (comment_id,))

    # ---- likes ----------------------------------------------------------------------------
    def likers(self: StoreHost, vis: Visibility, media_pk: int) -> list[dict[str, Any]]:
        """Users who liked a media object, in like order, that the caller can see."""
        cond, args = vis.users_sql("u.id")
        rows = self._all(
            f"SELECT u.* FROM likes k JOIN users u ON u.id = k.user_id "
            f"WHERE k.media_pk = ? AND {cond} ORDER BY k.seq",
            [media_pk, *args],
        )
        return [views.short_user(r) for r in rows]

    def like(self: StoreHost, media_pk: int, user_id: str) -> None:
        """Idempotent: liking twice keeps the first like (and its place in the liked order)."""
        self._write(
            "INSERT OR IGNORE INTO likes (media_pk, user_id) VALUES (?, ?)", (media_pk, user_id)
        )

    def unlike(self: StoreHost, media_pk: int, user_id: str) -> None:
        """Idempotent: removing a like that is not there succeeds."""
        self._write("DELETE FROM likes WHERE media_pk = ? AND user_id = ?", (media_pk, user_id))

    # ---- subscriptions --------------------------------------------------------------------
    def add_subscription(self: StoreHost, client_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a subscription; a geography subscription's object_id is its new geography id."""
        with self.db.transaction() as conn:
            sub_id = conn.execute(
                "INSERT INTO subscriptions (client_id, object, object_id, aspect, callback_url, "
                "verify_token, lat, lng, radius) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    client_id,
                    fields["object"],
                    fields.get("object_id"),
                    fields["aspect"],
                    fields["callback_url"],
                    fields.get("verify_token"),
                    fields.get("lat"),
                    fields.get("lng"),
                    fields.get("radius"),
                ),
            ).lastrowid
            if fields["object"] == "geography":
                conn.execute(
                    "UPDATE subscriptions SET object_id = ? WHERE id = ?", (str(sub_id), sub_id)
                )
        row = self._one(f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?", (sub_id,))
        assert row is not None
        return subscription_json(row)

    def subscriptions(self: StoreHost, client_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE client_id = ? ORDER BY id",
            (client_id,),
        )
        return [subscription_json(r) for r in rows]

    def geography(self: StoreHost, client_id: str, geo_id: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT lat, lng, radius FROM subscriptions WHERE client_id = ? AND "
            "object = 'geography' AND object_id = ?",
            (client_id, geo_id),
        )

    def delete_subscriptions(
        self: StoreHost,
        client_id: str,
        *,
        sub_id: str | None = None,
        obj: str | None = None,
        object_id: str | None = None,
    ) -> int:
        """Delete by id, or by object ('all' or a kind, optionally one object_id)."""
        sql, args = "DELETE FROM subscriptions WHERE client_id = ?", [client_id]
        if sub_id is not None:
            sql += " AND id = ?"
            args.append(sub_id)
        if obj is not None and obj != "all":
            sql += " AND object = ?"
            args.append(obj)
        if object_id is not None:
            sql += " AND object_id = ?"
            args.append(object_id)
        return self._write(sql, args)


def subscription_json(row: dict[str, Any]) -> dict[str, Any]:
    """Reference §3.7; ``object_id`` only for tag, location and geography subscriptions."""
    body: dict[str, Any] = {
        "object": row["object"],
        "type": "subscription",
        "id": str(row["id"]),
        "aspect": row["aspect"],
        "callback_url": row["callback_url"],
    }
    if row["object"] != "user" and row["object_id"] is not None:
        body["object_id"] = row["object_id"]
    return body

"""The test doubles' state views for the v1 profile (``instagram.v1``), read from its tables.

By username and shortcode, as tests think; the Graph profile's are in :mod:`igflow.testing.graph`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from igflow.errors import UsageError

if TYPE_CHECKING:
    from igflow.testing.handle import AppSlot

__all__ = ["SandboxState"]


class SandboxState:
    """Read-only views of the sandbox's data, by username and shortcode (as tests think).

    They show the data as it is, with no visibility rule applied: a sandbox-mode client's API
    calls see only its sandbox users, these views see everyone."""

    def __init__(self, slot: AppSlot) -> None:
        self._slot = slot

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._slot.app.db.transaction() as conn:
            return list(conn.execute(sql, tuple(params)).fetchall())

    def _user_id(self, username: str) -> str:
        user = self._slot.app.store.user_by_username(username)
        if user is None:
            raise UsageError(f"no sandbox user '{username}'")
        return str(user["id"])

    def _media_pk(self, media: str) -> int:
        """A media id (``<pk>_<owner>``) or a shortcode."""
        rows = self._rows("SELECT pk FROM media WHERE shortcode = ?", (media,))
        if rows:
            return int(rows[0][0])
        pk, _, owner = media.partition("_")
        if pk.isdigit() and self._rows("SELECT pk FROM media WHERE pk = ?", (int(pk),)):
            return int(pk)
        raise UsageError(f"no sandbox media '{media}' (give a media id or a shortcode)")

    def media_of(self, username: str) -> list[str]:
        """The user's media ids, newest first."""
        uid = self._user_id(username)
        rows = self._rows(
            "SELECT pk FROM media WHERE owner = ? ORDER BY created_time DESC, pk DESC", (uid,)
        )
        return [f"{row[0]}_{uid}" for row in rows]

    def likes_of(self, username: str) -> list[str]:
        """The media ids the user likes, most recent like first."""
        rows = self._rows(
            "SELECT m.pk, m.owner FROM likes l JOIN media m ON m.pk = l.media_pk "
            "WHERE l.user_id = ? ORDER BY l.seq DESC",
            (self._user_id(username),),
        )
        return [f"{row[0]}_{row[1]}" for row in rows]

    def likers_of(self, media: str) -> list[str]:
        """Usernames of the users who like a media (id or shortcode), in like order."""
        rows = self._rows(
            "SELECT u.username FROM likes l JOIN users u ON u.id = l.user_id "
            "WHERE l.media_pk = ? ORDER BY l.seq",
            (self._media_pk(media),),
        )
        return [str(row[0]) for row in rows]

    def comments_on(self, media: str) -> list[dict[str, str]]:
        """The comments on a media (id or shortcode), oldest first: id, username, text."""
        rows = self._rows(
            "SELECT c.id, u.username, c.text FROM comments c JOIN users u ON u.id = c.author "
            "WHERE c.media_pk = ? ORDER BY c.created_time, c.id",
            (self._media_pk(media),),
        )
        return [{"id": str(row[0]), "username": str(row[1]), "text": str(row[2])} for row in rows]

    def follows_of(self, username: str) -> list[str]:
        """Usernames the user follows (accepted follows only), in follow order."""
        rows = self._rows(
            "SELECT u.username FROM follows f JOIN users u ON u.id = f.followee "
            "WHERE f.follower = ? AND f.status = 'follows' ORDER BY f.seq",
            (self._user_id(username),),
        )
        return [str(row[0]) for row in rows]

    def followers_of(self, username: str) -> list[str]:
        """Usernames that follow the user (accepted follows only), in follow order."""
        rows = self._rows(
            "SELECT u.username FROM follows f JOIN users u ON u.id = f.follower "
            "WHERE f.followee = ? AND f.status = 'follows' ORDER BY f.seq",
            (self._user_id(username),),
        )
        return [str(row[0]) for row in rows]

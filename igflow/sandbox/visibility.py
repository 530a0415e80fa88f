"""What a caller may see: sandbox-mode limits and privacy, as reusable SQL conditions.

Sandbox-mode clients see only their sandbox users and each one's 20 most recent media; "the API
acts as if no other users or media existed" (reference §10). Private accounts show their media
only to themselves and to accepted followers. Every list query adds these conditions, so a list
never contains what the single-object endpoints would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SANDBOX_MEDIA_PER_USER = 20


@dataclass(frozen=True)
class Visibility:
    viewer_id: str | None
    user_ids: frozenset[str] | None  # None: every user is visible (live clients)

    @property
    def limited(self) -> bool:
        return self.user_ids is not None

    def user_visible(self, user_id: str) -> bool:
        return self.user_ids is None or user_id in self.user_ids

    def users_sql(self, column: str) -> tuple[str, list[Any]]:
        """A condition true for visible user ids in ``column``."""
        if self.user_ids is None:
            return "1", []
        marks = ",".join("?" * len(self.user_ids))
        return f"{column} IN ({marks})", sorted(self.user_ids)

    def media_sql(self, pk_column: str) -> tuple[str, list[Any]]:
        """A condition true for media pks (in ``pk_column``) that exist for this caller."""
        if self.user_ids is None:
            return "1", []
        owners, params = self.users_sql("owner")
        return (
            f"{pk_column} IN (SELECT pk FROM (SELECT pk, ROW_NUMBER() OVER ("
            f"PARTITION BY owner ORDER BY created_time DESC, pk DESC) AS rn "
            f"FROM media WHERE {owners}) WHERE rn <= {SANDBOX_MEDIA_PER_USER})",
            params,
        )

    def not_hidden_sql(self, owner_column: str, private_column: str) -> tuple[str, list[Any]]:
        """A condition false for media of private accounts the viewer may not see."""
        viewer = self.viewer_id or ""
        return (
            f"({private_column} = 0 OR {owner_column} = ? OR EXISTS (SELECT 1 FROM follows pf "
            f"WHERE pf.follower = ? AND pf.followee = {owner_column} AND pf.status = 'follows'))",
            [viewer, viewer],
        )

    def listable_media_sql(self, alias: str = "m", owner_alias: str = "u") -> tuple[str, list[Any]]:
        """Both conditions, for media lists (tag, location, search, liked, feed)."""
        exists_sql, exists_params = self.media_sql(f"{alias}.pk")
        hidden_sql, hidden_params = self.not_hidden_sql(
            f"{alias}.owner", f"{owner_alias}.is_private"
        )
        return f"{exists_sql} AND {hidden_sql}", exists_params + hidden_params

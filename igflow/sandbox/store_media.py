"""Media queries: single media, media lists with keyset paging, tags, locations, geo search.

Lists are newest first, ordered by (created_time, pk); a cursor is the (created_time, pk) of the
last item shown, so pages never repeat or skip items even when several media share a second.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from igflow.sandbox import ids, views
from igflow.sandbox.store_host import StoreHost
from igflow.sandbox.visibility import Visibility

EARTH_RADIUS_M = 6_371_000.0
MEDIA_SELECT = """
SELECT m.*, u.username, u.full_name, u.profile_picture, u.is_private,
       l.name AS loc_name, l.latitude AS loc_lat, l.longitude AS loc_lng,
       (SELECT COUNT(*) FROM likes k WHERE k.media_pk = m.pk) AS like_count,
       (SELECT COUNT(*) FROM comments c WHERE c.media_pk = m.pk) AS comment_count,
       EXISTS (SELECT 1 FROM likes k WHERE k.media_pk = m.pk AND k.user_id = ?) AS viewer_liked
FROM media m JOIN users u ON u.id = m.owner LEFT JOIN locations l ON l.id = m.location_id
"""
Cursor = tuple[int, int]  # (created_time, pk)


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lng: float, metres: float) -> tuple[float, float, float, float]:
    """A lat/lng box containing the circle, so SQL can narrow before the exact distance test."""
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    dlng = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


class MediaQueries:
    """Mixed into ``Store``; uses only what ``StoreHost`` declares."""

    def media_row(
        self: StoreHost,
        *,
        pk: int | None = None,
        shortcode: str | None = None,
        viewer_id: str | None = None,
    ) -> dict[str, Any] | None:
        """One media row (with owner, counts and the viewer's like), by pk or shortcode."""
        column, value = ("m.pk", pk) if pk is not None else ("m.shortcode", shortcode)
        return self._one(f"{MEDIA_SELECT} WHERE {column} = ?", (viewer_id or "", value))

    def media_exists_for(self: StoreHost, vis: Visibility, pk: int) -> bool:
        """Whether the media is inside the caller's visible set (sandbox: 20 newest per user)."""
        cond, params = vis.media_sql("pk")
        return bool(
            self._scalar(
                f"SELECT EXISTS (SELECT 1 FROM media WHERE pk = ? AND {cond})", [pk, *params]
            )
        )

    def media_json(
        self: StoreHost, rows: Iterable[dict[str, Any]], vis: Visibility, *, reduced: bool = False
    ) -> list[dict[str, Any]]:
        """Media objects for rows, resolving tagged users the caller can see."""
        rows = list(rows)
        tagged = {t["user_id"] for r in rows for t in json.loads(r["users_in_photo"])}
        people = {uid: u for uid, u in self.short_users(tagged).items() if vis.user_visible(uid)}
        return [views.media(r, people, reduced=reduced) for r in rows]

    def media_cursor(self: StoreHost, value: str) -> Cursor | None:
        """The keyset position of a max_id/min_id/tag id value ('<pk>_<owner>' or '<pk>')."""
        pk = ids.parse_decimal(value.partition("_")[0])
        if pk is None:
            return None
        created = self._scalar("SELECT created_time FROM media WHERE pk = ?", (pk,))
        if created is None:
            # An unknown id still marks a point in time: the pk carries its creation time.
            created = ((pk >> 23) + ids.ID_EPOCH_MS) // 1000
        return int(created), pk

    def media_page(
        self: StoreHost,
        vis: Visibility,
        where: str,
        params: list[Any],
        count: int,
        *,
        before: Cursor | None = None,
        after: Cursor | None = None,
        listable: bool = True,
        min_time: int | None = None,
        max_time: int | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Newest-first media rows matching ``where``; returns the rows and whether more follow.

        ``listable`` adds the visibility and privacy conditions; owner-scoped lists check the
        owner once instead and pass False (only the visible-set part is then applied).
        """
        conds, args = [where], list(params)
        vis_sql, vis_args = vis.listable_media_sql() if listable else vis.media_sql("m.pk")
        conds.append(vis_sql)
        args += vis_args
        if before is not None:
            conds.append("(m.created_time, m.pk) < (?, ?)")
            args += list(before)
        if after is not None:
            conds.append("(m.created_time, m.pk) > (?, ?)")
            args += list(after)
        if min_time is not None:
            conds.append("m.created_time >= ?")
            args.append(min_time)
        if max_time is not None:
            conds.append("m.created_time <= ?")
            args.append(max_time)
        rows = self._all(
            f"{MEDIA_SELECT} WHERE {' AND '.join(conds)} "
            f"ORDER BY m.created_time DESC, m.pk DESC LIMIT ?",
            [vis.viewer_id or "", *args, count + 1],
        )
        return rows[:count], len(rows) > count

    def liked_page(
        self: StoreHost, vis: Visibility, user_id: str, count: int, before_seq: int | None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Media the user liked, most recently liked first; the next page's max_like_id or None."""
        cond, args = vis.listable_media_sql()
        sql = f"{MEDIA_SELECT} JOIN likes ml ON ml.media_pk = m.pk AND ml.user_id = ? WHERE {cond}"
        params: list[Any] = [vis.viewer_id or "", user_id, *args]
        if before_seq is not None:
            sql += " AND ml.seq < ?"
            params.append(before_seq)
        sql = sql.replace("SELECT m.*,", "SELECT ml.seq AS like_seq, m.*,", 1)
        rows = self._all(sql + " ORDER BY ml.seq DESC LIMIT ?", params + [count + 1])
        more = len(rows) > count
        rows = rows[:count]
        return rows, (rows[-1]["like_seq"] if more and rows else None)

    # ---- tags -----------------------------------------------------------------------------
    def tag_media_count(self: StoreHost, vis: Visibility, name: str) -> int:
        cond, args = vis.listable_media_sql()
        return int(
            self._scalar(
                f"SELECT COUNT(*) FROM media_tags t JOIN media m ON m.pk = t.media_pk "
                f"JOIN users u ON u.id = m.owner WHERE t.tag = ? AND {cond}",
                [name.lower(), *args],
            )
        )

    def search_tags(
        self: StoreHost, vis: Visibility, prefix: str, count: int
    ) -> list[dict[str, Any]]:
        """Tags starting with ``prefix`` that have visible media, most used first."""
        cond, args = vis.listable_media_sql()
        like = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._all(
            f"SELECT t.tag AS name, COUNT(*) AS n FROM media_tags t JOIN media m ON m.pk = "
            f"t.media_pk JOIN users u ON u.id = m.owner WHERE t.tag LIKE ? ESCAPE '\\' AND {cond} "
            f"GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT ?",
            [like, *args, count],
        )
        return [views.tag(r["name"], r["n"]) for r in rows]

    # ---- locations ------------------------------------------------------------------------
    def location_row(self: StoreHost, location_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM locations WHERE id = ?", (location_id,))

    def locations_near(
        self: StoreHost, lat: float, lng: float, distance: float, count: int
    ) -> list[dict[str, Any]]:
        """Locations within ``distance`` metres, nearest first."""
        lat0, lat1, lng0, lng1 = bounding_box(lat, lng, distance)
        rows = self._all(
            "SELECT * FROM locations WHERE latitude BETWEEN ? AND ? AND longitude BETWEEN ? AND ?",
            (lat0, lat1, lng0, lng1),
        )
        near = sorted(
            (haversine_m(lat, lng, r["latitude"], r["longitude"]), r["id"], r) for r in rows
        )
        return [views.location(r) for d, _, r in near if d <= distance][:count]

    def locations_by_external_id(self: StoreHost, column: str, value: str) -> list[dict[str, Any]]:
        if column not in ("foursquare_v2_id", "foursquare_id", "facebook_places_id"):
            raise ValueError(column)
        rows = self._all(f"SELECT * FROM locations WHERE {column} = ?", (value,))
        return [views.location(r) for r in rows]

    def media_near(
        self: StoreHost,
        vis: Visibility,
        lat: float,
        lng: float,
        distance: float,
        count: int,
        min_time: int | None = None,
        max_time: int | None = None,
    ) -> list[dict[str, Any]]:
        """Media at locations within ``distance`` metres, newest first, each with ``distance``."""
        lat0, lat1, lng0, lng1 = bounding_box(lat, lng, distance)
        cond, args = vis.listable_media_sql()
        sql = (
            f"{MEDIA_SELECT} WHERE l.latitude BETWEEN ? AND ? AND l.longitude BETWEEN ? AND ? "
            f"AND {cond}"
        )
        params: list[Any] = [vis.viewer_id or "", lat0, lat1, lng0, lng1, *args]
        if min_time is not None:
            sql += " AND m.created_time >= ?"
            params.append(min_time)
        if max_time is not None:
            sql += " AND m.created_time <= ?"
            params.append(max_time)
        out = []
        for row in self._all(sql + " ORDER BY m.created_time DESC, m.pk DESC", params):
            d = haversine_m(lat, lng, row["loc_lat"], row["loc_lng"])
            if d <= distance:
                out.append({**row, "distance": round(d, 3)})
                if len(out) == count:
                    break
        return out

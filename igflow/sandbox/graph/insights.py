"""Insights (§3.5), deterministic: a value is a function of the object's id, the metric and its
counts, so every run and every test sees the same numbers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from igflow.sandbox.graph.context import Ctx, iso_time, parse_time
from igflow.sandbox.graph.errors import GraphError

Row = dict[str, Any]
DAY = 86400
MAX_DAYS = 30


def _number(*parts: object, low: int = 0, high: int = 1000) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return low + int.from_bytes(digest[:4], "big") % max(1, high - low + 1)


def _metrics(ctx: Ctx) -> list[str]:
    raw = ctx.param("metric", required=True) or ""
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if not names:
        raise GraphError("missing_param", param="metric")
    return names


def _check(ctx: Ctx, names: list[str], allowed: list[str]) -> None:
    deprecated = [str(m) for m in ctx.rules.section("insights")["deprecated"]]
    for index, name in enumerate(names):
        if name in deprecated:
            raise GraphError("metric_deprecated", metric=name)
        if name not in allowed:
            raise GraphError("metric_invalid", index=index, allowed=", ".join(allowed))


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def media_insights(ctx: Ctx, media: Row) -> Any:
    section = ctx.rules.section("insights")
    if media.get("parent"):
        raise GraphError("no_insights_child")
    product = media.get("media_product_type")
    if product == "STORY":
        allowed = [str(m) for m in section["media_story"]]
    else:
        allowed = [str(m) for m in section["media_common"]]
        if product == "REELS":
            allowed += [str(m) for m in section["media_reels"]]
    names = _metrics(ctx)
    _check(ctx, names, allowed)
    if product == "STORY" and int(media.get("story_viewers", 0)) < 5:
        raise GraphError("story_not_enough_viewers")
    likes = int(media.get("like_count", 0))
    data = []
    for name in names:
        if name == "likes":
            value = likes
        elif name == "comments":
            value = ctx.store.comment_count(media["id"])
        elif name in ("views", "reach"):
            base = max(likes, int(media.get("story_viewers", 0))) * (6 if name == "views" else 4)
            value = base + _number(media["id"], name, high=500)
        else:
            value = _number(media["id"], name, high=max(10, likes // 5))
        data.append(
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": value}],
                "title": _title(name),
                "description": f"The {name.replace('_', ' ')} of this media (sandbox figure).",
                "id": f"{media['id']}/insights/{name}/lifetime",
            }
        )
    return {"data": data}


def user_insights(ctx: Ctx, user: Row) -> Any:
    allowed = [str(m) for m in ctx.rules.section("insights")["user"]]
    names = _metrics(ctx)
    _check(ctx, names, allowed)
    period = ctx.param("period", required=True) or ""
    if period not in ("day", "lifetime", "week", "days_28"):
        raise GraphError(
            "bad_param", detail="Param period must be one of {day, week, days_28, lifetime}"
        )
    metric_type = ctx.param("metric_type") or "time_series"
    if metric_type not in ("time_series", "total_value"):
        raise GraphError(
            "bad_param", detail="Param metric_type must be one of {total_value, time_series}"
        )
    until = parse_time(ctx.param("until") or str(int(ctx.now)), "until")
    since = parse_time(ctx.param("since") or str(int(until - DAY)), "since")
    if since >= until:
        raise GraphError("bad_param", detail="Param since must be before until")
    if until - since > MAX_DAYS * DAY:
        raise GraphError(
            "bad_param", detail=f"There cannot be more than {MAX_DAYS} days between since and until"
        )
    followers = int(user.get("followers_count", 0))
    data = []
    for name in names:
        days = [int(since // DAY) + i for i in range(max(1, int((until - since) // DAY)))]
        daily = [_number(user["id"], name, day, high=max(10, followers // 3)) for day in days]
        entry: dict[str, Any] = {
            "name": name,
            "period": period,
            "title": _title(name),
            "description": f"The {name.replace('_', ' ')} of the account (sandbox figure).",
            "id": f"{user['id']}/insights/{name}/{period}",
        }
        if metric_type == "total_value":
            entry["total_value"] = {"value": sum(daily)}
        else:
            entry["values"] = [
                {"value": value, "end_time": iso_time((day + 1) * DAY)}
                for day, value in zip(days, daily, strict=True)
            ]
        data.append(entry)
    return {"data": data}

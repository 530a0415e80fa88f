"""Graph's usage headers: ``X-App-Usage`` and ``X-Business-Use-Case-Usage`` (graph-api.md §6).

Both carry JSON with percentages of a budget::

    X-App-Usage: {"call_count":28,"total_time":25,"total_cputime":25}
    X-Business-Use-Case-Usage: {"<object id>":[{"type":"instagram","call_count":100,
        "total_cputime":25,"total_time":25,"estimated_time_to_regain_access":19}]}

:func:`read_usage` turns them into one plain mapping (what the console and the JSON report
show): ``app`` (the percentages), ``business`` (object id -> type -> its percentages and
``estimated_time_to_regain_access``), ``highest`` (the largest percentage anywhere: throttling
starts when any reaches 100) and ``regain_minutes`` (the longest estimated wait, in minutes).
Malformed headers are ignored, never an error: they only inform pacing. Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_HEADER_CHARS", "PERCENT_KEYS", "describe_usage", "read_usage"]

MAX_HEADER_CHARS = 8192  # a longer usage header is not read (it is not one Meta sends)
PERCENT_KEYS = ("call_count", "total_time", "total_cputime", "acc_id_util_pct")
_MAX_OBJECTS = 32  # business objects read from one header
_REGAIN = "estimated_time_to_regain_access"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 and value == value and value != float("inf") else None


def _json(text: str | None) -> Any:
    if not text or len(text) > MAX_HEADER_CHARS:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _percentages(entry: Any) -> dict[str, float]:
    if not isinstance(entry, dict):
        return {}
    found = {key: _number(entry.get(key)) for key in (*PERCENT_KEYS, _REGAIN)}
    return {key: value for key, value in found.items() if value is not None}


def read_usage(app_header: str | None, business_header: str | None) -> dict[str, Any] | None:
    """The usage the two headers report; None when neither says anything readable."""
    app = _percentages(_json(app_header)) or None
    business: dict[str, dict[str, dict[str, float]]] = {}
    raw = _json(business_header)
    if isinstance(raw, dict):
        for object_id, entries in list(raw.items())[:_MAX_OBJECTS]:
            items = entries if isinstance(entries, list) else [entries]
            by_type: dict[str, dict[str, float]] = {}
            for item in items[:_MAX_OBJECTS]:
                figures = _percentages(item)
                if figures:
                    kind = item.get("type") if isinstance(item.get("type"), str) else "unknown"
                    by_type[str(kind)[:40]] = figures
            if by_type:
                business[str(object_id)[:40]] = by_type
    if app is None and not business:
        return None
    percents = [v for k, v in (app or {}).items() if k in PERCENT_KEYS]
    regains = []
    for by_type in business.values():
        for figures in by_type.values():
            percents.extend(v for k, v in figures.items() if k in PERCENT_KEYS)
            if _REGAIN in figures:
                regains.append(figures[_REGAIN])
    usage: dict[str, Any] = {"app": app, "business": business or None}
    usage["highest"] = max(percents) if percents else None
    usage["regain_minutes"] = max(regains) if regains else None
    return usage


def describe_usage(usage: dict[str, Any] | Any) -> str:
    """One line for the console: ``API usage: app 28 % of calls; instagram 12 % ...``."""
    if not isinstance(usage, dict):
        return ""
    parts = []
    app = usage.get("app")
    if isinstance(app, dict) and "call_count" in app:
        parts.append(f"app {app['call_count']:g} % of calls")
    business = usage.get("business")
    if isinstance(business, dict):
        for by_type in business.values():
            for kind, figures in by_type.items():
                if "call_count" in figures:
                    parts.append(f"{kind} {figures['call_count']:g} % of calls")
    highest = usage.get("highest")
    if isinstance(highest, int | float):
        parts.append(f"highest {highest:g} %")
    regain = usage.get("regain_minutes")
    if isinstance(regain, int | float) and regain > 0:
        parts.append(f"access regained in about {regain:g} min")
    return "API usage: " + "; ".join(parts) if parts else ""

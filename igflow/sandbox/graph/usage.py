"""Rate-limit accounting and the usage headers of §6.

BUC: calls within 24 h per app + account, budget ``4800 * impressions`` (``graph_rules.yaml``),
reported as percentages in ``X-Business-Use-Case-Usage``; the Platform figure (200 calls per
app user an hour) in ``X-App-Usage``. Over the BUC budget a call gets ``80002``. Counters live in
memory, outside the request's transaction, on purpose (a failed call still counts).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from igflow.sandbox.graph.rules import Rules

# Bounds memory: an app + account pair never keeps more timestamps than this.
MAX_STAMPS = 200_000


@dataclass(frozen=True)
class Usage:
    account_id: str
    buc_pct: int
    app_pct: int
    throttled: bool
    regain_minutes: int

    def headers(self) -> dict[str, str]:
        entry = {
            "type": "instagram",
            "call_count": self.buc_pct,
            "total_cputime": self.buc_pct // 2,
            "total_time": self.buc_pct // 2,
            "estimated_time_to_regain_access": self.regain_minutes if self.throttled else 0,
        }
        app = {
            "call_count": self.app_pct,
            "total_time": self.app_pct // 2,
            "total_cputime": self.app_pct // 2,
        }
        return {
            "X-App-Usage": json.dumps(app, separators=(",", ":")),
            "X-Business-Use-Case-Usage": json.dumps(
                {self.account_id: [entry]}, separators=(",", ":")
            ),
        }


class UsageMeter:
    """Thread-safe counters per (app, account) over 24 h and per app over an hour."""

    def __init__(self, rules: Rules, now: Callable[[], float], multiplier: float | None) -> None:
        self._limits = rules.section("rate_limits")
        self._now = now
        self._multiplier = multiplier
        self._lock = threading.Lock()
        self._buc: dict[tuple[str, str], deque[float]] = {}
        self._app: dict[str, deque[float]] = {}
        self._users: dict[str, set[str]] = {}

    def reset(self) -> None:
        with self._lock:
            self._buc.clear()
            self._app.clear()

    def _budget(self, impressions: int) -> float:
        floor = int(self._limits["min_impressions"])
        base = float(self._limits["calls_per_impression"]) * max(floor, impressions)
        return base * (self._multiplier or 1.0)

    def hit(self, client_id: str, account_id: str, impressions: int, *, exhausted: bool) -> Usage:
        """Count one call; ``throttled`` when it is over the budget (then it is not served)."""
        now = self._now()
        window = float(self._limits["window_seconds"])
        regain = int(self._limits["regain_minutes"])
        with self._lock:
            stamps = self._buc.setdefault((client_id, account_id), deque())
            while stamps and stamps[0] <= now - window:
                stamps.popleft()
            app_stamps = self._app.setdefault(client_id, deque())
            while app_stamps and app_stamps[0] <= now - 3600:
                app_stamps.popleft()
            users = self._users.setdefault(client_id, set())
            users.add(account_id)
            budget = self._budget(impressions)
            over = self._multiplier is not None and len(stamps) >= budget
            throttled = exhausted or over
            if not throttled and len(stamps) < MAX_STAMPS:
                stamps.append(now)
                app_stamps.append(now)
            buc_pct = 100 if throttled else min(100, int(len(stamps) * 100 / budget))
            app_budget = float(self._limits["app_calls_per_user_hour"]) * max(1, len(users))
            app_budget *= self._multiplier or 1.0
            app_pct = min(100, int(len(app_stamps) * 100 / app_budget))
        return Usage(account_id, buc_pct, app_pct, throttled, regain)

    def peek(self, client_id: str, account_id: str, impressions: int) -> Usage:
        now = self._now()
        window = float(self._limits["window_seconds"])
        with self._lock:
            stamps = [t for t in self._buc.get((client_id, account_id), ()) if t > now - window]
            app_stamps = [t for t in self._app.get(client_id, ()) if t > now - 3600]
            users = max(1, len(self._users.get(client_id, ())))
        budget = self._budget(impressions)
        app_budget = (
            float(self._limits["app_calls_per_user_hour"]) * users * (self._multiplier or 1.0)
        )
        return Usage(
            account_id,
            min(100, int(len(stamps) * 100 / budget)),
            min(100, int(len(app_stamps) * 100 / app_budget)),
            False,
            0,
        )

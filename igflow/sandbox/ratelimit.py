"""Rate limits of the 2016+ API (reference §8.1): per access token, on a sliding hour.

Every token (or, for client-credential calls, every client) has a global bucket: 500 requests
an hour for sandbox-mode clients, 5000 for live ones. Like, comment and relationship writes
also have a bucket of their own (30/h sandbox, 60/h live) and count against the global one.

The counters live in memory, outside any database transaction: a request that fails still
counted, as it did on the real service, while its writes were rolled back.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 3600.0
GLOBAL = "global"

# (global, per-endpoint write bucket) per client mode.
_LIMITS = {"sandbox": (500, 30), "live": (5000, 60)}


@dataclass(frozen=True)
class RateStatus:
    """What the X-Ratelimit headers say, and whether the request may proceed."""

    limit: int
    remaining: int
    allowed: bool = True

    def headers(self) -> dict[str, str]:
        return {"X-Ratelimit-Limit": str(self.limit), "X-Ratelimit-Remaining": str(self.remaining)}


def nominal_limits(mode: str) -> tuple[int, int]:
    """The documented (global, write-bucket) limits for a client mode."""
    return _LIMITS.get(mode, _LIMITS["sandbox"])


class RateLimiter:
    """Sliding-window counters keyed by caller and bucket. Thread-safe.

    Args:
        clock: Returns the sandbox time (epoch seconds).
        multiplier: Factor applied to every limit; None turns limits off (nothing is counted
            and the headers always show a full bucket).
    """

    def __init__(self, clock: Callable[[], float], multiplier: float | None = 1.0) -> None:
        self._clock = clock
        self._multiplier = multiplier
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def limits(self, mode: str) -> tuple[int, int]:
        """The effective (global, write-bucket) limits; the nominal ones when limits are off."""
        global_limit, write_limit = nominal_limits(mode)
        if self._multiplier is None or self._multiplier == 1.0:
            return global_limit, write_limit
        return (
            max(1, math.ceil(global_limit * self._multiplier)),
            max(1, math.ceil(write_limit * self._multiplier)),
        )

    def hit(
        self, caller: str, mode: str, bucket: str | None, *, exhausted: bool = False
    ) -> RateStatus:
        """Count one request unless a bucket is spent; say what the headers should report.

        A rejected request is not counted, so a client that backs off regains its budget as the
        window slides. ``exhausted`` forces a rejection (the rate-limit fault).
        """
        with self._lock:
            buckets = self._buckets(caller, mode, bucket)
            if exhausted:
                return RateStatus(limit=self._reported(buckets), remaining=0, allowed=False)
            if self._multiplier is None:
                limit = self._reported(buckets)
                return RateStatus(limit=limit, remaining=limit)
            now = self._clock()
            spent = [(limit, self._count(key, now)) for key, limit in buckets]
            if any(used >= limit for limit, used in spent):
                return RateStatus(limit=self._tightest(spent)[0], remaining=0, allowed=False)
            for key, _ in buckets:
                self._hits.setdefault(key, deque()).append(now)
            limit, used = self._tightest([(lim, used + 1) for lim, used in spent])
            return RateStatus(limit=limit, remaining=max(0, limit - used))

    def peek(self, caller: str, mode: str, bucket: str | None) -> RateStatus:
        """The headers' values for a request that is refused before it is counted."""
        with self._lock:
            buckets = self._buckets(caller, mode, bucket)
            if self._multiplier is None:
                limit = self._reported(buckets)
                return RateStatus(limit=limit, remaining=limit)
            now = self._clock()
            limit, used = self._tightest([(lim, self._count(key, now)) for key, lim in buckets])
            return RateStatus(limit=limit, remaining=max(0, limit - used))

    def unauthenticated(self) -> RateStatus:
        """Headers for a request with no usable caller: a full sandbox-mode global bucket."""
        limit = self.limits("sandbox")[0]
        return RateStatus(limit=limit, remaining=limit)

    def reset(self) -> None:
        """Forget every counter (the admin endpoint /_sandbox/reset-rate-limits)."""
        with self._lock:
            self._hits.clear()

    def _buckets(
        self, caller: str, mode: str, bucket: str | None
    ) -> list[tuple[tuple[str, str], int]]:
        global_limit, write_limit = self.limits(mode)
        buckets = [((caller, GLOBAL), global_limit)]
        if bucket:
            buckets.append(((caller, bucket), write_limit))
        return buckets

    @staticmethod
    def _reported(buckets: list[tuple[tuple[str, str], int]]) -> int:
        """The limit to report when nothing is counted: the write bucket's for writes."""
        return buckets[-1][1]

    @staticmethod
    def _tightest(spent: list[tuple[int, int]]) -> tuple[int, int]:
        """The (limit, used) pair with the fewest requests left; ties go to the write bucket."""
        best = spent[-1]
        for limit, used in spent:
            if limit - used < best[0] - best[1]:
                best = (limit, used)
        return best

    def _count(self, key: tuple[str, str], now: float) -> int:
        hits = self._hits.get(key)
        if not hits:
            return 0
        # Timestamps are appended in clock order; a clock set backwards only makes the window
        # keep entries longer, which is the conservative side.
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        return len(hits)

"""Rate-limit pacing: slow down before the API's hourly budget runs out, rather than after.

v1 counts requests per access token on a sliding hour and reports the bucket that applied to each
request in ``X-Ratelimit-Limit`` / ``X-Ratelimit-Remaining`` (the write bucket for likes, comments
and relationships, the global one otherwise). The rule (docs/safety.md, "Rate limits"):

* While more than a reserve remains (10 % of the limit, at least one request), requests go
  out as fast as the run sends them.
* At or below the reserve, with R requests left, consecutive requests in that bucket are spaced
  ``3600 / R`` seconds apart (at most ``max_interval``, one minute by default). Spread over an
  hour, R requests cannot exhaust the bucket: by the time they are sent, every request counted
  so far has left the sliding window. The spacing grows as R shrinks and relaxes as the window
  slides and the headers report more.
* With nothing left (R = 0) the pacer does not wait: the next request meets the API's own answer
  (a 429), which the rate-limit policy turns into a visible wait or a halt.
* Without the headers, or without a limit in them, it never waits.

Requests are tracked per budget key: who is calling (a token, a client id, or nobody) and the
registry's ``rate_bucket`` of the endpoint. A :class:`Pacer` is thread-safe: the concurrent items
of a loop reserve their slots under a lock, so they are spaced too, and requests still in flight
count against the last reported ``remaining``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from igflow.errors import UsageError

__all__ = [
    "GLOBAL_BUCKET",
    "MAX_INTERVAL",
    "RATE_LIMIT_MAX_WAIT",
    "RATE_LIMIT_POLICIES",
    "RATE_LIMIT_WAIT",
    "REPORT_AFTER",
    "RESERVE_FRACTION",
    "WINDOW",
    "Pacer",
    "WaitReporter",
    "check_rate_limit_settings",
    "countdown",
    "pace_interval",
    "reserve",
]

WINDOW = 3600.0  # v1: a sliding hour
RESERVE_FRACTION = 0.10
MAX_INTERVAL = 60.0  # the longest a pacer makes one request wait
REPORT_AFTER = 1.0  # shorter pacing waits are not reported (they would only be noise)
GLOBAL_BUCKET = "global"

# A spent limit (HTTP 429, OAuthRateLimitException): what the client does (docs/safety.md).
RATE_LIMIT_POLICIES = ("halt", "wait")
RATE_LIMIT_WAIT = 60.0  # seconds between two tries while a spent limit recovers
RATE_LIMIT_MAX_WAIT = 3600.0  # v1's window is an hour: by then the whole budget is back


class WaitReporter(Protocol):
    """``on_rate_limit_wait(seconds_left, message)``: a wait is under way (see countdown())."""

    def __call__(self, seconds_left: float, message: str) -> None: ...


class RateLimitHeaders(Protocol):
    """What the pacer reads from a response (``igflow.responses.RateLimitInfo``)."""

    @property
    def limit(self) -> int | None: ...
    @property
    def remaining(self) -> int | None: ...


def check_rate_limit_settings(policy: str, wait: float, max_wait: float) -> None:
    """Refuse rate-limit settings that make no sense (a usage error, before any request)."""
    if policy not in RATE_LIMIT_POLICIES:
        raise UsageError(f"the rate-limit policy must be halt or wait, not {policy!r}")
    if not wait > 0:
        raise UsageError(f"the rate-limit wait must be a positive number of seconds, not {wait}")
    if not max_wait >= 0:
        raise UsageError(f"the rate-limit max wait must not be negative, not {max_wait}")


def reserve(limit: int, fraction: float = RESERVE_FRACTION) -> int:
    """How many requests of ``limit`` are kept in reserve: pacing starts at or below this."""
    return max(1, math.ceil(limit * fraction))


def pace_interval(
    limit: int | None,
    remaining: int | None,
    *,
    window: float = WINDOW,
    fraction: float = RESERVE_FRACTION,
    max_interval: float = MAX_INTERVAL,
) -> float:
    """The least time between two requests of a bucket, given its latest headers.

    Returns:
        0 when there is no need to pace (no headers, above the reserve, or nothing left at all);
        else ``window / remaining``, at most ``max_interval``.
    """
    if limit is None or remaining is None or limit <= 0:
        return 0.0
    if remaining <= 0 or remaining > reserve(limit, fraction):
        return 0.0
    return min(window / remaining, max_interval)


def countdown(
    seconds: float,
    message: str,
    *,
    sleep: Callable[[float], None],
    report: WaitReporter | None,
    tick: float = 1.0,
) -> None:
    """Sleep ``seconds``, telling ``report`` how many are left before each tick, then 0.

    A console shows a countdown on a TTY (one line, rewritten) and a plain line when piped; the
    final call with 0 says the wait is over. ``report`` may be None (nobody is told).
    """
    left = max(seconds, 0.0)
    while left > 1e-9:
        if report is not None:
            report(left, message)
        step = min(tick, left)
        sleep(step)
        left -= step
    if report is not None:
        report(0.0, message)


@dataclass
class _Budget:
    limit: int | None = None
    remaining: int | None = None  # as the latest response reported it
    in_flight: int = 0  # sent since, not yet answered: they count against `remaining`
    last_slot: float | None = None  # when the latest request was (or will be) sent


class Pacer:
    """Spaces requests out when the API says a budget is nearly spent. Thread-safe.

    Args:
        clock: Monotonic seconds (tests inject a fake one).
        sleep: Sleeps (tests inject one that records, and never really sleeps).
        on_wait: Told about pacing waits of ``REPORT_AFTER`` seconds or more.
        window: The API's rate-limit window in seconds.
        reserve_fraction: The share of the limit below which pacing starts.
        max_interval: The longest a single request is held back.
        percent: The budget's figures are percentages (Graph), for the messages.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: WaitReporter | None = None,
        window: float = WINDOW,
        reserve_fraction: float = RESERVE_FRACTION,
        max_interval: float = MAX_INTERVAL,
        percent: bool = False,
    ) -> None:
        self._clock = clock
        self.percent = percent  # the budget is "percent left" (Graph's usage headers)
        self._sleep = sleep
        self.on_wait = on_wait
        self.window = window
        self.reserve_fraction = reserve_fraction
        self.max_interval = max_interval
        self._budgets: dict[str, _Budget] = {}
        self._lock = threading.Lock()

    def before_send(self, key: str) -> float:
        """Wait, if the budget ``key`` is nearly spent, until this request's slot; then return.

        Every call must be followed by one :meth:`after_response` for the same key (with None
        when no response came), so requests in flight are counted right.

        Returns:
            The seconds this request was held back.
        """
        with self._lock:
            budget = self._budgets.setdefault(key, _Budget())
            now = self._clock()
            left = None
            if budget.remaining is not None:
                left = max(budget.remaining - budget.in_flight, 0)
            gap = pace_interval(
                budget.limit,
                left,
                window=self.window,
                fraction=self.reserve_fraction,
                max_interval=self.max_interval,
            )
            slot = now
            if gap > 0 and budget.last_slot is not None:
                slot = max(now, budget.last_slot + gap)
            budget.last_slot = slot
            budget.in_flight += 1
            limit = budget.limit
        delay = slot - now
        if delay <= 0:
            return 0.0
        if self.percent:
            message = (
                f"rate limit: the API reports {100 - (left or 0)} % of its budget used; "
                f"pacing to one request every {gap:.0f} s"
            )
        else:
            message = (
                f"rate limit: {left} of {limit} requests left this hour; "
                f"pacing to one request every {gap:.0f} s so they last"
            )
        # Held back outside the lock: other budgets, and responses, must not wait for this one.
        countdown(
            delay,
            message,
            sleep=self._sleep,
            report=self.on_wait if delay >= REPORT_AFTER else None,
        )
        return delay

    def after_response(self, key: str, headers: RateLimitHeaders | None) -> None:
        """Record what a response (or an error response) said; None when none came back."""
        with self._lock:
            budget = self._budgets.setdefault(key, _Budget())
            budget.in_flight = max(budget.in_flight - 1, 0)
            if headers is None:
                return
            limit, remaining = headers.limit, headers.remaining
            if limit is not None and remaining is not None:
                budget.limit, budget.remaining = limit, remaining

    def remaining(self, key: str) -> int | None:
        """The latest reported ``remaining`` of a budget (None when never reported)."""
        with self._lock:
            budget = self._budgets.get(key)
            return None if budget is None else budget.remaining

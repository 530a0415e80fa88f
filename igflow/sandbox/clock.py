"""The sandbox's clock: real time, or a controllable clock for tests and demos.

Everything time-dependent in the sandbox (rate-limit windows, OAuth code expiry, ``created_time``
of new objects) reads this clock, never ``time.time()`` directly, so a test can slide an hour
window by advancing the clock instead of waiting.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

# The seed's photo was posted at 1512956375 (2017-12-11); a fake clock starts one day later so
# "new" objects are visibly newer than the dataset.
FAKE_EPOCH = 1512956375 + 86400


class Clock(Protocol):
    """Anything that tells the sandbox what time it is."""

    controllable: bool

    def now(self) -> float:
        """Epoch seconds."""
        ...


class RealClock:
    """Wall-clock time."""

    controllable = False

    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told to (thread-safe)."""

    controllable = True

    def __init__(self, start: float = FAKE_EPOCH) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward (or back, with a negative value); return the new time."""
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, epoch: float) -> float:
        with self._lock:
            self._now = float(epoch)
            return self._now


def make_clock(kind: str, start: float | None = None) -> RealClock | FakeClock:
    """Build the clock a config names: ``"real"`` or ``"fake"``."""
    if kind == "real":
        return RealClock()
    if kind == "fake":
        return FakeClock(FAKE_EPOCH if start is None else start)
    raise ValueError(f"unknown clock '{kind}' (expected real or fake)")

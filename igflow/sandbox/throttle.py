"""A throttle on failed logins, per username and per client address.

After ``max_failures`` wrong passwords (or unknown usernames) within ``window`` seconds for the
same username, or from the same address, further logins under that key are refused for
``lockout`` seconds, even with the right password. Time comes from the sandbox clock, so with
``--clock fake`` a test moves past a lockout with ``POST /_sandbox/clock`` instead of waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MAX_FAILURES = 5
WINDOW_SECONDS = 600.0
LOCKOUT_SECONDS = 300.0
# The text the real login page showed when it throttled attempts.
THROTTLED = "Please wait a few minutes before you try again."
# Bounds the memory an attacker can make the throttle use by trying many usernames.
MAX_KEYS = 10_000


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins by key (``user:<name>``, ``addr:<ip>``). Thread-safe."""

    def __init__(
        self,
        now: Callable[[], float],
        *,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        lockout: float = LOCKOUT_SECONDS,
    ) -> None:
        self._now = now
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[str]) -> float | None:
        """Seconds until a locked key may try again; None when no key is locked."""
        now = self._now()
        with self._lock:
            waits = [
                record.locked_until - now
                for key in keys
                if (record := self._records.get(key)) is not None and record.locked_until > now
            ]
        return max(waits) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        """Count one failed login under each key; a key reaching the limit is locked."""
        now = self._now()
        with self._lock:
            for key in keys:
                record = self._records.pop(key, None) or _Record()
                record.failures = [t for t in record.failures if now - t < self.window]
                record.failures.append(now)
                if len(record.failures) >= self.max_failures:
                    record.failures.clear()
                    record.locked_until = now + self.lockout
                self._records[key] = record  # re-inserted: the dict stays oldest-first
            self._prune(now)

    def succeeded(self, key: str) -> None:
        """A good login clears its username's failures (not its address's)."""
        with self._lock:
            self._records.pop(key, None)

    def _prune(self, now: float) -> None:
        if len(self._records) <= MAX_KEYS:
            return
        for key in [k for k, r in self._records.items() if self._idle(r, now)]:
            del self._records[key]
        while len(self._records) > MAX_KEYS:
            del self._records[next(iter(self._records))]

    def _idle(self, record: _Record, now: float) -> bool:
        recent = any(now - t < self.window for t in record.failures)
        return not recent and record.locked_until <= now

"""Fault injection for /v1 requests: latency, 5xx answers, dropped connections, spent limits.

A fault strikes either ``before`` the request's write commits (nothing changes) or ``after`` it
commits (the write happened but the client never learns it did), so clients' retry and resume
logic can be tested both ways. Random faults use a seeded RNG, so a run is reproducible.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

PHASES = ("before", "after")

# Names recorded in the request log and sent in the X-Sandbox-Fault header.
ERROR = "error"
DROP = "drop"
RATE_LIMIT = "rate-limit"


class FaultSpecError(ValueError):
    """A fault setting that makes no sense (negative rate, unknown phase, ...)."""


@dataclass(frozen=True)
class FaultSpec:
    """What to inject. The default injects nothing."""

    latency_ms: int = 0  # added before every /v1 request is handled
    fail_nth: int | None = (
        None  # the Nth /v1 request (1-based, counted since the spec was set) gets a 5xx
    )
    fail_rate: float = 0.0  # probability that a /v1 request gets a 5xx
    fail_status: int = 500
    drop_nth: int | None = None  # the Nth /v1 request loses its connection
    drop_rate: float = 0.0  # probability that a /v1 request loses its connection
    exhaust_rate_limit: bool = False  # every token's limit is spent: 429 until turned off
    phase: str = "before"  # "before" the write commits or "after" it (the response is lost)
    seed: int = 0  # for the random faults

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise FaultSpecError(f"fault phase must be before or after, not '{self.phase}'")
        for name in ("fail_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FaultSpecError(f"{name} must be between 0 and 1, not {value}")
        for name in ("fail_nth", "drop_nth"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise FaultSpecError(f"{name} must be 1 or more, not {value}")
        if self.latency_ms < 0:
            raise FaultSpecError(f"latency_ms must not be negative, not {self.latency_ms}")
        if not 500 <= self.fail_status <= 599:
            raise FaultSpecError(f"fail_status must be a 5xx status, not {self.fail_status}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FaultSpec:
        """Build a spec from JSON (the admin endpoint); unknown keys are an error."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise FaultSpecError(f"unknown fault setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        try:
            for name, value in raw.items():
                if value is None or name == "phase":
                    values[name] = value
                elif name == "exhaust_rate_limit":
                    if not isinstance(value, bool):
                        raise FaultSpecError("exhaust_rate_limit must be true or false")
                    values[name] = value
                elif name in ("fail_rate", "drop_rate"):
                    values[name] = float(value)
                else:
                    values[name] = int(value)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, FaultSpecError):
                raise
            raise FaultSpecError(f"bad fault setting: {exc}") from None
        if values.get("phase") is None:
            values.pop("phase", None)
        return replace(cls(), **values)


class FaultInjector:
    """Decides, request by request, which fault (if any) strikes. Thread-safe."""

    def __init__(self, spec: FaultSpec | None = None) -> None:
        self._lock = threading.Lock()
        self.set(spec or FaultSpec())

    def set(self, spec: FaultSpec) -> None:
        """Replace the spec; the request count and the RNG start over."""
        with self._lock:
            self._spec = spec
            self._count = 0
            self._rng = random.Random(spec.seed)

    @property
    def spec(self) -> FaultSpec:
        with self._lock:
            return self._spec

    def next_fault(self) -> str | None:
        """Count one /v1 request and return ``"drop"``, ``"error"`` or None."""
        with self._lock:
            spec = self._spec
            self._count += 1
            # Always draw both numbers so one fault's rate does not shift the other's sequence.
            drop_draw = self._rng.random()
            fail_draw = self._rng.random()
            if spec.drop_nth == self._count or drop_draw < spec.drop_rate:
                return DROP
            if spec.fail_nth == self._count or fail_draw < spec.fail_rate:
                return ERROR
            return None


class DroppedConnection(Exception):
    """Raised inside the app when a fault means the client must get no response at all."""

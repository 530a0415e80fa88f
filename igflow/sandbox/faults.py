"""Fault injection for /v1 requests: latency, 5xx answers, dropped connections, spent limits.

A fault strikes either ``before`` the request's write commits (nothing changes) or ``after`` it
commits (the write happened but the client never learns it did), so clients' retry and resume
logic can be tested both ways. Random faults use a seeded RNG, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from igflow.errors import printable

PHASES = ("before", "after")
# Bounds on the input-controlled settings: a minute of latency is far more than any client's
# timeout test needs (a latency of years once hung every request until a restart), and a count
# or seed past these is a typo, not a test plan.
MAX_LATENCY_MS = 60_000
MAX_NTH = 1_000_000_000
MAX_SEED = 2**63 - 1

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
            if value is not None and not 1 <= value <= MAX_NTH:
                raise FaultSpecError(f"{name} must be between 1 and {MAX_NTH}, not {_shown(value)}")
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise FaultSpecError(
                f"latency_ms must be between 0 and {MAX_LATENCY_MS} (one minute), "
                f"not {_shown(self.latency_ms)}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise FaultSpecError(f"seed must be between 0 and {MAX_SEED}, not {_shown(self.seed)}")
        if not 500 <= self.fail_status <= 599:
            raise FaultSpecError(
                f"fail_status must be a 5xx status, not {_shown(self.fail_status)}"
            )

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
        for name, value in raw.items():
            if value is None or name == "phase":
                values[name] = value
            elif name == "exhaust_rate_limit":
                if not isinstance(value, bool):
                    raise FaultSpecError("exhaust_rate_limit must be true or false")
                values[name] = value
            elif name in ("fail_rate", "drop_rate"):
                values[name] = _number(name, value)
            else:
                values[name] = _whole(name, value)
        if values.get("phase") is None:
            values.pop("phase", None)
        return replace(cls(), **values)


def _shown(value: Any) -> str:
    """A setting as a message quotes it: printable and short (a number may have 400 digits)."""
    text = printable(str(value))
    return text if len(text) <= 24 else text[:20] + "…"


def _number(name: str, value: Any) -> float:
    """A finite number, or a string of one (JSON's 1e400 arrives as infinity, never valid)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FaultSpecError(f"{name} must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an int of hundreds of digits
        raise FaultSpecError(f"{name} is out of range") from None
    except ValueError:
        raise FaultSpecError(f"{name} must be a number, not '{_shown(value)}'") from None
    if not math.isfinite(number):
        raise FaultSpecError(f"{name} must be a finite number, not {_shown(value)}")
    return number


def _whole(name: str, value: Any) -> int:
    """A whole number (5, 5.0 or "5"); the spec's bounds then refuse a huge one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 30:
        return int(value)
    number = _number(name, value)
    if not number.is_integer():
        raise FaultSpecError(f"{name} must be a whole number, not {_shown(value)}")
    return int(number)


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

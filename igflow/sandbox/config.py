"""How a sandbox is set up: one immutable value, built by the CLI or by ``igflow run``."""

from __future__ import annotations

from dataclasses import dataclass, field

from igflow.sandbox.contract import ERAS
from igflow.sandbox.faults import FaultSpec

MEMORY = ":memory:"
APIS = ("v1", "graph")  # the legacy API v1, or the Instagram API with Instagram Login


class ConfigError(ValueError):
    """A sandbox setting that cannot be used (reported as a usage error)."""


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that decides how a sandbox behaves.

    ``rate_limits`` is ``"on"`` (the documented limits), ``"off"`` (no limit) or a multiplier
    applied to every limit (``10.0`` for ``--rate-limits x10``).
    """

    era: str = "2016"
    db: str = MEMORY  # a file keeps state across runs; an existing file is used as it is
    data: str | None = None  # a dataset YAML file; None: the default dataset
    generate: dict[str, int] | None = None  # e.g. {"users": 50, "media": 20000}; wins over data
    rate_limits: str | float = "on"
    faults: FaultSpec = field(default_factory=FaultSpec)
    request_log: str | None = None  # JSON Lines file, appended to
    clock: str = "real"  # "real" | "fake"
    clock_start: float | None = None  # epoch of a fake clock; None: clock.FAKE_EPOCH
    seed: int = 0  # for a generated dataset
    api: str = "v1"  # "v1" | "graph" (docs/graph-sandbox.md)

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ConfigError(f"unknown api '{self.api}' (expected one of: {', '.join(APIS)})")
        if self.api == "graph" and self.generate:
            raise ConfigError("--generate makes a v1 dataset; a Graph sandbox takes --data FILE")
        if self.api == "graph" and self.era != "2016":
            raise ConfigError(
                "--era is the v1 sandbox's; a Graph sandbox's versions follow its clock"
            )
        if self.era not in ERAS:
            raise ConfigError(f"unknown era '{self.era}' (expected one of: {', '.join(ERAS)})")
        if self.clock not in ("real", "fake"):
            raise ConfigError(f"unknown clock '{self.clock}' (expected real or fake)")
        rate_multiplier(self.rate_limits)  # validates

    @property
    def rate_multiplier(self) -> float | None:
        """None when limits are off, else the factor applied to every limit."""
        return rate_multiplier(self.rate_limits)


def rate_multiplier(value: str | float) -> float | None:
    """Interpret a ``--rate-limits`` value: ``on`` → 1.0, ``off`` → None, ``x10``/``10`` → 10.0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        factor = float(value)
    else:
        text = str(value).strip().lower()
        if text == "on":
            return 1.0
        if text == "off":
            return None
        try:
            factor = float(text[1:] if text.startswith("x") else text)
        except ValueError:
            raise ConfigError(
                f"bad rate-limit setting '{value}' (expected on, off or a multiplier like x10)"
            ) from None
    if not factor > 0:
        raise ConfigError(f"the rate-limit multiplier must be above 0, not {value}")
    return factor


def parse_generate(text: str) -> dict[str, int]:
    """Parse ``users=50,media=20000`` into ``{"users": 50, "media": 20000}``."""
    result: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in ("users", "media"):
            raise ConfigError(f"bad --generate item '{item}' (expected users=N,media=M)")
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(
                f"bad --generate value '{value}' for {key} (expected a number)"
            ) from None
        if number < 1:
            raise ConfigError(f"--generate {key} must be 1 or more, not {number}")
        result[key] = number
    if "users" not in result:
        raise ConfigError("--generate needs users=N (and optionally media=M)")
    result.setdefault("media", result["users"] * 20)
    return result

"""The Graph sandbox's numbers and texts, read from ``data/graph_rules.yaml`` (data, not code).

Every value the reference marks [?] lives in that file, so changing a choice is a one-line edit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from igflow.resources import package_data


@dataclass(frozen=True)
class Version:
    name: str
    released: float  # epoch seconds
    until: float | None  # None: no end date announced


@dataclass(frozen=True)
class Rules:
    raw: dict[str, Any]
    versions: tuple[Version, ...]  # oldest first

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {}

    def number(self, section: str, key: str) -> float:
        return float(self.section(section)[key])

    @property
    def default_version(self) -> str:
        return str(self.raw["default_version"])

    @property
    def fake_epoch(self) -> float:
        return _epoch(self.raw["fake_epoch"])

    @property
    def scopes(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.section("scopes").items()}

    def error(self, name: str) -> dict[str, Any]:
        entry = self.section("errors").get(name)
        if not isinstance(entry, dict):
            raise KeyError(f"no error '{name}' in graph_rules.yaml")
        return entry

    def default_fields(self, node: str) -> tuple[str, ...]:
        return tuple(str(f) for f in self.section("default_fields").get(node, ["id"]))

    def version(self, name: str) -> Version | None:
        return next((v for v in self.versions if v.name == name), None)

    def serving_version(self, name: str, now: float) -> str | None:
        """The version that answers a call to ``name`` at ``now``; None if it does not exist.

        A version not yet released does not exist; an expired one is served by the oldest
        version still available (§1).
        """
        version = self.version(name)
        if version is None or version.released > now:
            return None
        if version.until is None or version.until > now:
            return version.name
        live = [
            v for v in self.versions if v.released <= now and (v.until is None or v.until > now)
        ]
        return live[0].name if live else version.name


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    else:
        text = str(value).replace("Z", "+00:00")
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


@lru_cache(maxsize=1)
def load_rules() -> Rules:
    path = package_data("sandbox", "data", "graph_rules.yaml")
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    versions = tuple(
        sorted(
            (
                Version(
                    name=str(name),
                    released=_epoch(spec["released"]),
                    until=None if spec.get("until") is None else _epoch(spec["until"]),
                )
                for name, spec in raw["versions"].items()
            ),
            key=lambda v: v.released,
        )
    )
    return Rules(raw=raw, versions=versions)

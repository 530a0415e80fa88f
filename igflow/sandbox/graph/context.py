"""What a Graph handler gets: the state, the caller, the parameters, the clock, URL building."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from igflow.sandbox.graph.errors import GraphError
from igflow.sandbox.graph.fields import FieldsError, FieldSpec, parse_fields
from igflow.sandbox.graph.rules import Rules
from igflow.sandbox.graph.store import App, GraphStore, Token


@dataclass
class Ctx:
    store: GraphStore
    rules: Rules
    now: float
    method: str
    version: str
    params: dict[str, str]
    token: Token | None = None
    app: App | None = None
    url_for: Callable[[dict[str, str]], str] = lambda _replace: ""
    notify: Callable[[str, dict[str, Any]], None] = lambda _user, _change: None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        assert self.token is not None
        return self.token.user_id

    def fields(self, node: str) -> tuple[FieldSpec, ...]:
        raw = self.params.get("fields", "").strip()
        if not raw:
            return tuple(FieldSpec(name) for name in self.rules.default_fields(node))
        try:
            return parse_fields(raw)
        except FieldsError as exc:
            raise GraphError("bad_fields", detail=str(exc)) from None

    def param(self, name: str, required: bool = False) -> str | None:
        value = self.params.get(name)
        if required and not value:
            raise GraphError("missing_param", param=name)
        return value

    def bool_param(self, name: str) -> bool:
        value = (self.param(name, required=True) or "").lower()
        if value not in ("true", "false", "1", "0"):
            raise GraphError("bad_param", detail=f"Param {name} must be a boolean")
        return value in ("true", "1")

    def int_param(self, name: str, default: int, *, low: int = 1, high: int = 10**9) -> int:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise GraphError("bad_param", detail=f"Param {name} must be an integer") from None
        if not low <= value <= high:
            raise GraphError("bad_param", detail=f"Param {name} must be between {low} and {high}")
        return value


def iso_time(epoch: float) -> str:
    """Graph's timestamp format: ``2026-03-01T09:00:00+0000``."""
    moment = dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_time(value: str, name: str) -> float:
    """``since``/``until``: a Unix timestamp or an ISO-8601 date/time (a subset of strtotime)."""
    text = value.strip()
    try:
        return float(int(text))
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(
            "bad_param", detail=f"Param {name} must be a Unix timestamp or an ISO-8601 date"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()

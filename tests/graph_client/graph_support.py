"""Helpers of the Graph client tests: a client of the instagram.graph profile, envelopes."""

from __future__ import annotations

import json
from typing import Any

from igflow.client import ApiClient
from igflow.pacing import Pacer
from igflow.playbook.model import RetrySpec
from igflow.redact import Redactor
from igflow.registry import Registry, load_registry
from igflow.settings import ClientHooks, ClientSettings

ORIGIN = "http://graph.test"
TOKEN = "IGQWRgraphTESTtoken0123456789abcdefLONG"
SECRET = "5f0c6a3e9b2d4c17a8e1f0b3c5d7e9a1"
API = f"{ORIGIN}/v25.0"


def graph() -> Registry:
    return load_registry("instagram.graph")


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds}")


def make_client(
    *,
    settings: ClientSettings | None = None,
    hooks: ClientHooks | None = None,
    registry: Registry | None = None,
    **kwargs: Any,
) -> ApiClient:
    """One attempt per call, no pacing waits, unless the test says otherwise."""
    kwargs.setdefault("redactor", Redactor())
    if settings is None:
        settings = ClientSettings(retry=RetrySpec(attempts=1))
    hooks = hooks or ClientHooks(sleep=no_sleep)
    kwargs.setdefault("pacer", Pacer(sleep=no_sleep))
    return ApiClient(registry or graph(), ORIGIN, settings=settings, hooks=hooks, **kwargs)


def envelope(code: int, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": extra.pop("message", f"(#{code}) an error"),
        "type": extra.pop("type", "OAuthException"),
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def buc(call_count: float, regain: float = 0) -> dict[str, str]:
    value = {
        "17841400000000101": [
            {
                "type": "instagram",
                "call_count": call_count,
                "total_cputime": 1,
                "total_time": 1,
                "estimated_time_to_regain_access": regain,
            }
        ]
    }
    return {"X-Business-Use-Case-Usage": json.dumps(value)}

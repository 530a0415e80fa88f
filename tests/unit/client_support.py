"""Build an ApiClient's settings and hooks from the keyword arguments tests find clearest."""

from __future__ import annotations

from typing import Any

from igflow.settings import ClientHooks, ClientSettings

_SETTINGS = {
    "timeouts",
    "retry",
    "rate_limit_policy",
    "rate_limit_wait",
    "rate_limit_max_wait",
    "max_response_bytes",
}
_HOOKS = {"on_exchange", "on_retry", "on_rate_limit_wait", "sleep", "random_source"}


def client_kwargs(**kwargs: Any) -> dict[str, Any]:
    """``timeouts=..., sleep=...`` -> ``settings=ClientSettings(...), hooks=ClientHooks(...)``."""
    settings = {k: kwargs.pop(k) for k in list(kwargs) if k in _SETTINGS}
    hooks = {k: kwargs.pop(k) for k in list(kwargs) if k in _HOOKS}
    return {**kwargs, "settings": ClientSettings(**settings), "hooks": ClientHooks(**hooks)}

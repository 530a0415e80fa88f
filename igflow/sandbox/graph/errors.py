"""Graph errors: the ``{"error": {...}}`` envelope of reference §5, built from the catalogue.

Handlers raise :class:`GraphError` by catalogue name (``graph_rules.yaml`` → ``errors``); the app
turns it into the envelope with a fresh ``fbtrace_id`` and the catalogue's HTTP status. The OAuth
code exchange has its own shape (``{"error_type", "code", "error_message"}``, §2.1): see
:func:`oauth_body`.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from igflow.sandbox.graph.rules import load_rules

_TRACE_ALPHABET = string.ascii_letters + string.digits + "-_"


class GraphError(Exception):
    """An API error named in the catalogue; ``values`` fill its ``{placeholders}``."""

    def __init__(self, name: str, **values: Any) -> None:
        entry = load_rules().error(name)
        self.name = name
        self.status = int(entry.get("status", 400))
        self.code = int(entry["code"])
        self.subcode = entry.get("subcode")
        self.type = str(entry.get("type", "OAuthException"))
        self.message = _fill(str(entry["message"]), values)
        self.user_title = entry.get("user_title")
        self.user_msg = entry.get("user_msg")
        self.is_transient = entry.get("is_transient")
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = int(self.subcode)
        if self.is_transient is not None:
            error["is_transient"] = bool(self.is_transient)
        if self.user_title:
            error["error_user_title"] = str(self.user_title)
        if self.user_msg:
            error["error_user_msg"] = str(self.user_msg)
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def fbtrace_id() -> str:
    """A support id shaped like the real ones (23 URL-safe characters)."""
    return "A" + "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(22))


def _fill(template: str, values: dict[str, Any]) -> str:
    class _Keep(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(_Keep({k: str(v) for k, v in values.items()}))


def oauth_body(message: str, code: int = 400) -> dict[str, Any]:
    """The code exchange's error shape (§2.1), not the Graph envelope."""
    return {"error_type": "OAuthException", "code": code, "error_message": message}

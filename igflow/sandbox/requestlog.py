"""``--request-log FILE``: every request the sandbox answers, as one JSON line, secrets redacted.

Two layers: parameters with a secret's name (``access_token``, ``password``, the CSRF field, ...)
are masked whatever their value, and the finished line is passed through ``redact``, which masks
every secret value the sandbox issued wherever it appears (a token in a path segment or in ``q``).

Tests read it to prove what a client sent (and that it sent no secret in clear to the log). Lines
are written whole under a lock and flushed at once, so a reader never sees half a record even
with the threaded server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from werkzeug.datastructures import MultiDict

MASK = "***"
# Parameter names whose values never reach the log.
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "client_secret",
        "sig",
        "code",
        "password",
        "csrfmiddlewaretoken",
        "appsecret_proof",  # the Graph sandbox's (an HMAC of the token)
        "hub.verify_token",
    }
)


def redact_params(params: MultiDict[str, str] | Mapping[str, str]) -> dict[str, Any]:
    """Parameters as a dict (lists for repeated names), secret values replaced by ``***``."""
    result: dict[str, Any] = {}
    items = (
        params.lists() if isinstance(params, MultiDict) else ((k, [v]) for k, v in params.items())
    )
    for key, values in items:
        shown = [MASK if key.lower() in SECRET_PARAMS else value for value in values]
        result[key] = shown[0] if len(shown) == 1 else shown
    return result


@dataclass
class LogEntry:
    """One request's record; ``status`` is None when the connection was dropped."""

    time: float
    method: str
    path: str
    query: dict[str, Any]
    form: dict[str, Any]
    status: int | None
    endpoint: str | None
    fault: str | None
    duration_ms: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "time": round(self.time, 3),
                "method": self.method,
                "path": self.path,
                "query": self.query,
                "form": self.form,
                "status": self.status,
                "endpoint": self.endpoint,
                "fault": self.fault,
                "duration_ms": round(self.duration_ms, 3),
            },
            ensure_ascii=False,
        )


class RequestLog:
    """Appends entries to a JSON Lines file. Thread-safe."""

    def __init__(self, path: str, redact: Callable[[str], str] = lambda line: line) -> None:
        self.path = path
        self._redact = redact
        self._lock = threading.Lock()
        self._file: IO[str] | None = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def write(self, entry: LogEntry) -> None:
        line = self._redact(entry.to_json()) + "\n"
        with self._lock:
            if self._file is None:
                return
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

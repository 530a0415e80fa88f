"""The WSGI entry both sandboxes share (v1 and Graph): route, log, and drop a connection when a
fault says so.

An app provides ``dispatch(request, trace)`` and ``_log(request, status, trace, started)``; this
base turns them into the WSGI callable.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from igflow.sandbox.faults import DroppedConnection

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["LoggedWsgiApp", "Trace"]


@dataclass
class Trace:
    """What the request log records beyond the request itself."""

    endpoint: str | None = None
    fault: str | None = None


class LoggedWsgiApp:
    """A sandbox app as a WSGI callable: each request dispatched, logged, or dropped."""

    def dispatch(self, request: Request, trace: Trace) -> Response:
        raise NotImplementedError

    def _log(self, request: Request, status: int | None, trace: Trace, started: float) -> None:
        raise NotImplementedError

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        trace = Trace()
        try:
            response = self.dispatch(request, trace)
        except DroppedConnection:
            self._log(request, None, trace, started)
            _drop_connection(environ)
            # werkzeug's server treats a ConnectionError as a client gone away: no response, no
            # traceback; the socket is already shut, so the client sees the connection drop.
            raise ConnectionAbortedError("sandbox fault: connection dropped") from None
        self._log(request, response.status_code, trace, started)
        return response(environ, start_response)


def _drop_connection(environ: WSGIEnvironment) -> None:
    """Shut the client's socket so it sees the connection drop, not a stalled keep-alive."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

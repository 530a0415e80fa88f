"""A sandbox served on a loopback port for one test or one session: the fixtures' engine.

The server serves an :class:`~igflow.testing.handle.AppSlot`, so a reset swaps the app behind
the same URL (the session fixture resets between tests that way, with no HTTP endpoint).
:meth:`ServedSandbox.stop` shuts the server, closes its socket, joins its thread and removes its
temporary files, whatever state the test left it in.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from igflow.testing.handle import AppSlot, SandboxHandle
from igflow.testing.profiles import DEFAULT_API, profile

if TYPE_CHECKING:
    from igflow.sandbox.config import SandboxConfig

__all__ = ["ServedSandbox", "serve_sandbox"]

_POLL_SECONDS = 0.05  # how often the serving loop looks for a shutdown request


class ServedSandbox(SandboxHandle):
    """A :class:`SandboxHandle` whose sandbox is served at ``url`` (http://127.0.0.1:PORT)."""

    def __init__(self, slot: AppSlot, server: Any) -> None:
        super().__init__(slot, f"http://{server.host}:{server.port}")
        self.port: int = server.port
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"igflow-sandbox-{server.port}",
            daemon=True,
        )
        self._stopped = False
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket, join the thread, release state and files. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        finally:
            self._slot.close()

    def __enter__(self) -> ServedSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_sandbox(
    api: str = DEFAULT_API,
    config: SandboxConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> ServedSandbox:
    """Serve a fresh sandbox of ``api`` in a daemon thread; ``port=0`` picks a free port, so
    parallel test processes (xdist) never clash."""
    from werkzeug.serving import make_server

    from igflow.sandbox.config import SandboxConfig
    from igflow.sandbox.server import QuietRequestHandler

    slot = AppSlot(profile(api), config or SandboxConfig())
    try:
        server = make_server(host, port, slot, threaded=True, request_handler=QuietRequestHandler)
    except BaseException:
        slot.close()
        raise
    return ServedSandbox(slot, server)

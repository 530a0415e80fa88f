"""Serving the sandbox on loopback with werkzeug's threaded server.

``start_sandbox`` runs one in a daemon thread on an ephemeral port (``igflow run`` against the
sandbox target, and the tests); ``serve_forever`` is ``igflow sandbox serve``.
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO, Union

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from igflow.errors import printable
from igflow.sandbox import envelope
from igflow.sandbox.app import SandboxApp, create_app
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.contract import SandboxApiError

if TYPE_CHECKING:
    from igflow.sandbox.graph.app import GraphApp

# Either emulator: the v1 one, or the Graph one (``SandboxConfig.api == "graph"``).
AnyApp = Union[SandboxApp, "GraphApp"]

# How often the serving loop looks for a shutdown request: small, so stop() returns promptly.
_POLL_SECONDS = 0.05


class QuietRequestHandler(WSGIRequestHandler):
    """No access log on stderr: a sandbox serves tests and demos (use --request-log instead)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Requests too malformed to reach the app get the API's JSON envelope, not HTML.

        ``http.server`` answers these itself (a request line over 64 KiB → 414, too many or too
        long headers → 431, a garbled request line → 400) with an HTML page; API clients expect
        ``{"meta": {...}}`` with the HTTP status equal to ``meta.code`` (reference §2.2).
        """
        try:
            text = message or HTTPStatus(code).phrase
        except ValueError:
            text = message or "Bad request"
        app = getattr(self.server, "app", None)
        if getattr(app, "api", None) == "instagram.graph":
            # The Graph sandbox answers in its own envelope (§5.1), fbtrace_id included.
            from igflow.sandbox.graph.errors import GraphError

            error_body: Any = GraphError("bad_param", detail=text).body()
        else:
            error_body = envelope.error_body(
                SandboxApiError(code, "APIInvalidParametersError", text)
            )
        body = envelope.dumps(error_body).encode("utf-8")
        self.close_connection = True
        self.send_response(code, text)
        self.send_header("Content-Type", envelope.JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        requestline = getattr(self, "raw_requestline", b"") or b""
        if isinstance(app, SandboxApp) and b" /v1/" in requestline[:64]:
            for name, value in app.limiter.unauthenticated().headers().items():
                self.send_header(name, value)
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


class RunningSandbox:
    """A sandbox serving in a background thread; a context manager that stops it on exit."""

    def __init__(self, app: AnyApp, server: BaseWSGIServer) -> None:
        self.app = app
        self._server = server
        self.url = f"http://{server.host}:{server.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"igflow-sandbox-{server.port}",
            daemon=True,
        )
        self._stopped = False
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.port

    def stop(self) -> None:
        """Stop serving, close the listening socket and release the app's state. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self.app.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _server(app: AnyApp, host: str, port: int) -> BaseWSGIServer:
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)


def start_sandbox(
    config: SandboxConfig | None = None,
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    app: AnyApp | None = None,
    **app_options: Any,
) -> RunningSandbox:
    """Serve a sandbox in a daemon thread; ``port=0`` picks a free ephemeral port.

    ``config.api`` picks the emulator (v1 or Graph). ``app_options`` go to :func:`create_app`
    (tests inject stores and handlers that way) or to ``create_graph_app``.
    """
    app = app or _create(config or SandboxConfig(), **app_options)
    try:
        server = _server(app, host, port)
    except BaseException:
        app.close()
        raise
    return RunningSandbox(app, server)


def _create(config: SandboxConfig, **app_options: Any) -> AnyApp:
    if config.api == "graph":
        from igflow.sandbox.graph.app import create_graph_app

        return create_graph_app(config, **app_options)
    return create_app(config, **app_options)


def describe(app: AnyApp, url: str) -> str:
    """The banner ``igflow sandbox serve`` prints: URL, era, clients and demo users."""
    if not isinstance(app, SandboxApp):
        from igflow.sandbox.graph.admin import describe_graph

        return describe_graph(app, url)
    lines = [f"igflow sandbox serving on {url}  (era {app.config.era}, clock {app.config.clock})"]
    lines.append("clients:")
    for client in app.oauth_state.clients():
        flags = [client.mode]
        flags.append("implicit" if client.implicit else "no-implicit")
        if client.signed:
            flags.append("signed")
        lines.append(
            # printable: a name from the API or a --db file reaches the terminal here.
            f"  {printable(client.name):<10} client_id={client.client_id}  "
            f"secret={client.client_secret}  "
            f"redirect={printable(','.join(client.redirect_uris))}  [{', '.join(flags)}]"
        )
    users = app.store.list_users()
    lines.append(f"demo users ({len(users)}):")
    for user in users[:12]:
        name, secret = printable(str(user.get("username", ""))), user.get("password", "")
        lines.append(f"  {name:<20} password={printable(str(secret))}")
    if len(users) > 12:
        lines.append(f"  ... and {len(users) - 12} more (igflow sandbox users --url {url})")
    lines.append(f"developer portal: {url}/  (log in as a demo user)")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def serve_forever(
    config: SandboxConfig, host: str = "127.0.0.1", port: int = 8765, *, out: TextIO | None = None
) -> int:
    """Serve in the foreground until Ctrl-C; return the exit status (0 on a clean stop)."""
    import sys

    out = out or sys.stdout
    app = _create(config)
    try:
        server = _server(app, host, port)
    except BaseException:
        app.close()
        raise
    # Injected faults and handler failures, one line each, on stderr; in-process sandboxes
    # (igflow run, tests) leave the logger to their host.
    logger = logging.getLogger("igflow.sandbox")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    level = logger.level
    if level == logging.NOTSET or level > logging.INFO:
        logger.setLevel(logging.INFO)
    print(describe(app, f"http://{server.host}:{server.port}"), file=out, flush=True)
    received = _StopSignals()
    try:
        with received:
            # werkzeug's serve_forever swallows Ctrl-C itself; the outer catch covers a second.
            server.serve_forever(poll_interval=_POLL_SECONDS)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.close()  # a --db file is checkpointed here: it stands alone afterwards
        logger.removeHandler(handler)
        logger.setLevel(level)
    why = f" ({received.name})" if received.name else ""
    saved = f"; state saved in {config.db}" if config.db != ":memory:" else ""
    print(f"sandbox stopped{why}{saved}", file=out, flush=True)
    return 0


class _StopSignals:
    """SIGTERM and SIGINT stop ``serve_forever`` cleanly: each becomes a KeyboardInterrupt
    raised in the serving loop, which werkzeug ends quietly; the old handlers come back after.
    Only the main thread can set handlers; elsewhere (tests) this does nothing."""

    def __init__(self) -> None:
        self.name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        import signal

        if threading.current_thread() is not threading.main_thread():
            return self
        for number in (signal.SIGTERM, signal.SIGINT):
            self._previous[number] = signal.signal(number, self._stop)
        return self

    def _stop(self, number: int, _frame: object) -> None:
        import signal

        self.name = signal.Signals(number).name
        raise KeyboardInterrupt

    def __exit__(self, *exc_info: object) -> None:
        import signal

        for number, handler in self._previous.items():
            signal.signal(number, handler)

"""One HTTP request handed to a WSGI app in process, and httplib2 pointed at requests.

:func:`call_app` runs a request through the sandbox app as a server would (no socket: werkzeug
builds the WSGI environ). :class:`Httplib2Patch` makes ``httplib2.Http.request`` send through
``requests`` while a mock is active, so the requests-mock adapter answers httplib2 users too
(python-instagram is one): requests-mock itself only sees requests' own sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["AppResponse", "Httplib2Patch", "call_app"]


@dataclass(frozen=True)
class AppResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class DroppedByApp(Exception):
    """The app dropped the connection (an injected fault)."""


def call_app(
    app: WSGIApplication,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | Iterable[bytes] | None,
) -> AppResponse:
    """Send one request to ``app`` in process; ``url`` is absolute (its host becomes Host).

    Raises:
        DroppedByApp: the app dropped the connection, as the sandbox's drop faults do.
    """
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    parts = urlsplit(url)
    if isinstance(body, str):
        data = body.encode("utf-8")
    elif body is None or isinstance(body, bytes):
        data = body or b""
    else:  # a streamed body (an iterable of chunks)
        data = b"".join(body)
    wanted = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "host")}
    builder = EnvironBuilder(
        path=parts.path or "/",
        base_url=f"{parts.scheme}://{parts.netloc}",
        query_string=parts.query,
        method=method.upper(),
        headers=list(wanted.items()),
        data=data,
        content_type=_header(headers, "content-type"),
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    try:
        app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    except ConnectionError as exc:  # the sandbox's dropped-connection fault
        raise DroppedByApp(str(exc)) from None
    try:
        content = b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    code, _, reason = status.partition(" ")
    return AppResponse(int(code), reason, list(response_headers.to_wsgi_list()), content)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class Httplib2Patch:
    """While started, ``httplib2.Http.request`` to a host ``routes`` accepts goes through
    ``requests`` (and so through the active requests-mock adapter); other hosts go to httplib2
    itself when ``passthrough``, else through requests too (where the mock refuses them)."""

    def __init__(self, routes: Callable[[str], bool], *, passthrough: bool) -> None:
        self._routes = routes
        self._passthrough = passthrough
        self._original: Any = None

    def start(self) -> None:
        import httplib2

        original = httplib2.Http.request
        self._original = original
        routes, passthrough = self._routes, self._passthrough

        def request(
            http: Any,
            uri: str,
            method: str = "GET",
            body: Any = None,
            headers: Mapping[str, str] | None = None,
            redirections: int = httplib2.DEFAULT_MAX_REDIRECTS,
            connection_type: Any = None,
        ) -> tuple[Any, bytes]:
            host = (urlsplit(uri).hostname or "").lower()
            if passthrough and not routes(host):
                return original(http, uri, method, body, headers, redirections, connection_type)  # type: ignore[no-any-return]
            return _through_requests(uri, method, body, headers or {}, redirections)

        httplib2.Http.request = request

    def stop(self) -> None:
        if self._original is None:
            return
        import httplib2

        httplib2.Http.request = self._original
        self._original = None


def _through_requests(
    uri: str, method: str, body: Any, headers: Mapping[str, str], redirections: int
) -> tuple[Any, bytes]:
    """httplib2's ``(Response, content)`` for a request sent with requests."""
    import httplib2
    import requests

    with requests.Session() as session:
        session.max_redirects = max(redirections, 0)
        follow = method.upper() in ("GET", "HEAD") and redirections > 0
        response = session.request(
            method, uri, data=body, headers=dict(headers), allow_redirects=follow
        )
        info: dict[str, Any] = {key.lower(): value for key, value in response.headers.items()}
        info["status"] = str(response.status_code)
        info["reason"] = response.reason
        # httplib2 says where the content came from after redirects (python-instagram reads it).
        info["content-location"] = response.url
        # requests has already decoded a compressed body; httplib2 would have too.
        info.pop("content-encoding", None)
        return httplib2.Response(info), response.content

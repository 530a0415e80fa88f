"""The one bound on a request's body, for every door of both sandboxes.

API calls, the OAuth pages, the ``/_sandbox/`` control endpoints and the developer portal all
use :data:`MAX_BODY_BYTES` (64 KiB): the largest legitimate body (a client registration with its
redirect URIs, a 2,200-character caption, a consent form) is a few KiB. A body declared larger
is refused before a byte is read (:func:`bound` says so). A chunked body has no length to
refuse it by, and werkzeug would silently cut it at the bound (a truncated form could pass as a
shorter one): :func:`bound` reads at most one byte past the bound and refuses it too, else hands
the views the whole body with its length. Each app answers a 413 in its own error shape.

A refused body is gone for good: :func:`bound` leaves an empty stream in its place and records
its verdict in the environ, so a view reached after a refusal (or a second call) can never read
the rest of the stream as a shorter body. A request that says ``Transfer-Encoding: chunked`` but
whose server does not terminate the stream (the in-process bridge of ``igflow.mock`` hands a
joined generator body with its ``CONTENT_LENGTH``) is bounded by that length, as werkzeug would
otherwise read none of it.
"""

from __future__ import annotations

import io

from werkzeug.wrappers import Request

MAX_BODY_BYTES = 65_536
TOO_LARGE = f"The request body is over {MAX_BODY_BYTES} bytes"
_VERDICT = "igflow.body_too_large"


def bound(request: Request) -> bool:
    """Bound ``request``'s body; True when it is over the bound (then it can no longer be read)."""
    environ = request.environ
    if _VERDICT in environ:
        return bool(environ[_VERDICT])
    request.max_content_length = MAX_BODY_BYTES
    request.max_form_memory_size = MAX_BODY_BYTES
    over = _over(request)
    environ[_VERDICT] = over
    if over:
        _drop_body(request)
    return over


def _over(request: Request) -> bool:
    environ = request.environ
    length = request.content_length
    if length is not None:
        return length > MAX_BODY_BYTES
    if "wsgi.input_terminated" not in environ:
        declared = _declared(environ)
        if declared is None:  # no length, no body: werkzeug reads none
            return False
        # "chunked" beside a length the server did not terminate the stream for: the length
        # is the body's (werkzeug would read none of it); bounded like any declared length.
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        request.__dict__.pop("content_length", None)
        return declared > MAX_BODY_BYTES
    stream = environ["wsgi.input"]
    data = bytearray()
    while len(data) <= MAX_BODY_BYTES:
        piece = stream.read(MAX_BODY_BYTES + 1 - len(data))
        if not piece:
            break
        data.extend(piece)
    if len(data) > MAX_BODY_BYTES:
        return True
    environ["wsgi.input"] = io.BytesIO(bytes(data))
    environ["CONTENT_LENGTH"] = str(len(data))
    del environ["wsgi.input_terminated"]
    environ.pop("HTTP_TRANSFER_ENCODING", None)  # werkzeug ignores a length beside "chunked"
    request.__dict__.pop("content_length", None)
    return False


def _declared(environ: dict[str, object]) -> int | None:
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _drop_body(request: Request) -> None:
    """Leave an empty body in place of a refused one: nothing after the refusal reads it."""
    environ = request.environ
    environ["wsgi.input"] = io.BytesIO()
    environ["CONTENT_LENGTH"] = "0"
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    # werkzeug caches the stream and the parsed form on first use; a view must find them empty.
    for cached in ("stream", "form", "files", "_cached_data", "content_length"):
        request.__dict__.pop(cached, None)

"""The one bound on a request's body, for every door of both sandboxes.

API calls, the OAuth pages, the ``/_sandbox/`` control endpoints and the developer portal all
use :data:`MAX_BODY_BYTES` (64 KiB): the largest legitimate body (a client registration with its
redirect URIs, a 2,200-character caption, a consent form) is a few KiB. A body declared larger
is refused before a byte is read (:func:`bound` says so). A chunked body has no length to
refuse it by, and werkzeug would silently cut it at the bound (a truncated form could pass as a
shorter one): :func:`bound` reads at most one byte past the bound and refuses it too, else hands
the views the whole body with its length. Each app answers a 413 in its own error shape.
"""

from __future__ import annotations

import io

from werkzeug.wrappers import Request

MAX_BODY_BYTES = 65_536
TOO_LARGE = f"The request body is over {MAX_BODY_BYTES} bytes"


def bound(request: Request) -> bool:
    """Bound ``request``'s body; True when its declared length is already over the bound."""
    request.max_content_length = MAX_BODY_BYTES
    request.max_form_memory_size = MAX_BODY_BYTES
    length = request.content_length
    if length is not None:
        return length > MAX_BODY_BYTES
    environ = request.environ
    if "wsgi.input_terminated" not in environ:  # no length, no body: werkzeug reads none
        return False
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
    return False

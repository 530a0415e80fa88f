"""One rule for the JSON bodies of both sandboxes' ``/_sandbox/`` control endpoints.

JSON may spell a lone surrogate (``"\\ud800"``); Python decodes it into a ``str`` that cannot be
encoded as UTF-8, so it would fail deep in a view (a 500 and a traceback) when stored, hashed
or printed. Every control request is checked here once, at the door, and refused with a 400.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request


def surrogate_problem(request: Request) -> str | None:
    """Why the request's JSON body cannot be accepted (a lone surrogate), else None.

    The parsed body is cached by werkzeug, so views read the same object afterwards.
    """
    if request.mimetype != "application/json":
        return None  # the views read no JSON from it (get_json without force)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the C decoder recurses once a level; 64 KiB of "[" is deep enough
        return "the JSON body nests too deep"
    pending: list[Any] = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not _encodable(value):
                return "the JSON body has a lone surrogate (\\ud800-\\udfff): not valid text"
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

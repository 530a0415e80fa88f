"""Response bodies: the ``meta`` envelopes of /v1, the bare OAuth error bodies, and JSONP.

Reference §2: success is ``{"meta": {"code": 200}, "data": ..., "pagination": ...}``; an API error
is ``{"meta": {"code", "error_type", "error_message"}}`` with the HTTP status equal to the code;
OAuth endpoints answer errors without ``meta``. JSONP wraps the same body as ``/**/ fn({...})``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response

from igflow.sandbox.contract import HandlerResult, SandboxApiError

JSON_TYPE = "application/json; charset=utf-8"
JAVASCRIPT_TYPE = "text/javascript; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

# A dotted path of JavaScript identifiers (JSON_CALLBACK, angular.callbacks._0, jQuery123_456).
# Anything else could smuggle script into the response, so it is refused.
_CALLBACK_RE = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$", re.ASCII)
_MAX_CALLBACK_LENGTH = 128


def dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)


def success_body(result: HandlerResult) -> Any:
    """The body of a successful API call (a bare object for oEmbed)."""
    if result.bare:
        return result.data
    body: dict[str, Any] = {"meta": {"code": result.status}, "data": result.data}
    if result.pagination is not None:
        body["pagination"] = result.pagination
    body.update(result.extra)
    return body


def error_body(error: SandboxApiError) -> dict[str, Any]:
    """An API error in the ``meta`` envelope."""
    return {
        "meta": {
            "code": error.code,
            "error_type": error.error_type,
            "error_message": error.message,
        }
    }


def valid_callback(name: str) -> bool:
    return len(name) <= _MAX_CALLBACK_LENGTH and bool(_CALLBACK_RE.match(name))


def api_response(
    body: Any,
    status: int,
    *,
    callback: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON (or JSONP, when ``callback`` is given) API response.

    JSONP answers HTTP 200 even for errors: browsers do not run a script served with an error
    status, so the page could never see ``meta.code``; the envelope carries the real code.
    """
    if callback is not None:
        text = f"/**/ {callback}({dumps(body)})"
        return Response(text, status=200, headers=dict(headers or {}), content_type=JAVASCRIPT_TYPE)
    return Response(dumps(body), status=status, headers=dict(headers or {}), content_type=JSON_TYPE)


def oauth_error(code: int, error_type: str, message: str) -> Response:
    """An OAuth endpoint's error: the same three keys as ``meta``, at the top level (§5.5)."""
    body = {"code": code, "error_type": error_type, "error_message": message}
    return Response(dumps(body), status=code, content_type=JSON_TYPE)


def json_response(body: Any, status: int = 200) -> Response:
    """A plain JSON response (OAuth token exchange, admin endpoints)."""
    return Response(dumps(body), status=status, content_type=JSON_TYPE)


def html_response(html: str, status: int = 200) -> Response:
    return Response(html, status=status, content_type=HTML_TYPE)

"""What comes back from the API: responses, rate-limit headers, typed errors, `-v` exchanges.

:func:`read_response` is the last stage of a call (see :mod:`igflow.client`): it turns one HTTP
response into an :class:`ApiResponse`, or raises the typed igflow error its status and body
call for. It does no I/O, and every text it produces has gone through the Redactor.

Length: a little over 400 lines: reading an answer into a response or a typed error, and wording
the ones that are neither, are one decision that belongs together.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NamedTuple

import requests

from igflow.errors import (
    ApiError,
    IgflowError,
    MalformedResponse,
    OAuthError,
    RateLimitError,
    api_error_class,
    printable,
)
from igflow.redact import Redactor

__all__ = [
    "EXCHANGE_BODY_CHARS",
    "SNIPPET_CHARS",
    "ApiResponse",
    "Exchange",
    "RateLimitInfo",
    "build_exchange",
    "read_response",
]

SNIPPET_CHARS = 200  # how much of a non-JSON body an error message quotes
EXCHANGE_BODY_CHARS = 4096  # how much of a response body an Exchange (`-v`) carries


@dataclass
class RateLimitInfo:
    """The API's ``X-Ratelimit-*`` headers; None when absent or not an integer.

    ``retry_after`` is the ``Retry-After`` header in seconds (v1 never documented one, but an
    edge or a proxy in front of it may send it); None when absent or unreadable.

    Graph (``graph-usage``) reports percentages instead (:mod:`igflow.usage`): ``usage`` holds
    them as read, and ``limit``/``remaining`` are 100 and 100 minus the highest one, so the
    pacer treats "percent of the budget left" as it treats requests left. An
    ``estimated_time_to_regain_access`` (minutes) becomes ``retry_after`` when the API sent no
    Retry-After.
    """

    limit: int | None
    remaining: int | None
    retry_after: float | None = None
    usage: Mapping[str, Any] | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], style: str = "x-ratelimit") -> RateLimitInfo:
        """Parse the headers (any casing); malformed values become None, never an error.

        Args:
            headers: Response headers; a case-insensitive mapping or a plain dict.
            style: The registry's ``rate_limits.headers``: ``x-ratelimit`` or ``graph-usage``.

        Returns:
            The parsed limit and remaining counts, and Retry-After.
        """
        retry = _retry_after(headers)
        if style == "graph-usage":
            from igflow.usage import read_usage

            usage = read_usage(
                _header(headers, "X-App-Usage"), _header(headers, "X-Business-Use-Case-Usage")
            )
            if usage is None:
                return cls(limit=None, remaining=None, retry_after=retry)
            highest = usage.get("highest")
            regain = usage.get("regain_minutes")
            if retry is None and isinstance(regain, int | float) and regain > 0:
                retry = float(regain) * 60.0
            remaining = None if highest is None else max(0, 100 - math.ceil(highest))
            return cls(
                limit=100 if remaining is not None else None,
                remaining=remaining,
                retry_after=retry,
                usage=usage,
            )
        return cls(
            limit=_header_int(headers, "X-Ratelimit-Limit"),
            remaining=_header_int(headers, "X-Ratelimit-Remaining"),
            retry_after=retry,
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None and not isinstance(headers, requests.structures.CaseInsensitiveDict):
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return None if value is None else str(value).strip()


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    text = _header(headers, name)
    if text is None:
        return None
    # isdigit() rejects signs, decimals and empty strings; a count is a non-negative integer.
    return int(text) if text.isascii() and text.isdigit() else None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` as seconds: delta-seconds, or an HTTP date (RFC 9110 §10.2.3).

    A date is measured from the response's own ``Date`` header when there is one, so a skewed
    local clock does not stretch or shrink the wait; from the local clock otherwise.
    """
    text = _header(headers, "Retry-After")
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text))
    when = _http_date(text)
    if when is None:
        return None
    sent = _http_date(_header(headers, "Date") or "")
    now = sent if sent is not None else time.time()
    return max(0.0, when - now)


def _http_date(text: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 9110 dates are GMT; a zoneless one is taken as such
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


@dataclass
class ApiResponse:
    """A successful (2xx, JSON) API response."""

    status: int
    body: Any
    headers: Mapping[str, str]
    rate_limit: RateLimitInfo
    elapsed: float
    method: str
    url: str  # redacted
    endpoint_id: str | None

    @property
    def data(self) -> Any:
        """The envelope's ``data`` (None when the body is not a dict or has no ``data``)."""
        return self.body.get("data") if isinstance(self.body, dict) else None


class Exchange(NamedTuple):
    """One HTTP exchange as `-v` shows it; every field is already redacted."""

    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: str | None
    status: int | None  # None when the transport failed before a response
    response_headers: Mapping[str, str]
    response_body: str | None  # truncated to EXCHANGE_BODY_CHARS
    elapsed: float
    error: str | None = None


def read_response(
    response: requests.Response,
    *,
    method: str,
    url: str,
    endpoint_id: str,
    elapsed: float,
    redactor: Redactor,
    error_style: str = "v1-meta",
    usage_style: str = "x-ratelimit",
) -> ApiResponse:
    """Interpret one HTTP response.

    Args:
        response: The response, body read.
        method: The request's method.
        url: The request's URL (with secrets; only its redacted form is kept).
        endpoint_id: The registry endpoint the request called.
        elapsed: Seconds the exchange took.
        redactor: Redacts every text taken from the exchange.
        error_style: The registry's error envelope kind (``v1-meta`` or ``graph``).
        usage_style: The registry's rate-limit headers (``x-ratelimit`` or ``graph-usage``).

    Returns:
        The response, when it is a 2xx JSON body without an error envelope.

    Raises:
        ApiError | OAuthError: The API's error body, typed; or the status alone, typed.
        MalformedResponse: A 2xx whose body is not the API's JSON.
    """
    status = response.status_code
    headers = response.headers
    rate_limit = RateLimitInfo.from_headers(headers, usage_style)
    body, parsed = _parse_json(response.content)
    ok = 200 <= status < 300
    graph = error_style == "graph"
    if ok and parsed and not (_is_graph_error(body) if graph else _is_error_body(body)):
        return ApiResponse(
            status=status,
            body=body,
            headers=headers,
            rate_limit=rate_limit,
            elapsed=elapsed,
            method=method,
            url=redactor.redact(url),
            endpoint_id=endpoint_id,
        )
    error: IgflowError
    if parsed and isinstance(body, dict):
        typed = (
            _graph_error(endpoint_id, status, body, redactor)
            if graph
            else _api_error(endpoint_id, status, body, redactor)
        )
        error = typed or _status_error(endpoint_id, response, redactor, graph=graph)
    elif ok:
        error = _malformed(endpoint_id, response, redactor)
    else:
        error = _status_error(endpoint_id, response, redactor, graph=graph)
    # Any error read from a response carries its rate-limit headers...
    error.rate_limit = rate_limit
    # ... and the request it answered (redacted), so reports can say which request failed.
    error.request = (method, redactor.redact(url))
    raise error


def _api_error(
    endpoint_id: str, status: int, body: dict[str, Any], redactor: Redactor
) -> IgflowError | None:
    """The typed error for a JSON error body, or None when the body is not one we know."""
    meta = body.get("meta")
    envelope = meta if isinstance(meta, dict) and "error_type" in meta else body
    error_type = envelope.get("error_type")
    code = _as_int(envelope.get("code"))
    message = printable(redactor.redact(str(envelope.get("error_message") or f"HTTP {status}")))
    if isinstance(error_type, str) and error_type:
        if error_type == "OAuthException":
            return OAuthError(message, error_type=error_type, status=status)
        cls = api_error_class(error_type, message, status)
        shown = printable(redactor.redact(error_type))
        return cls(message, error_type=shown, status=status, code=code, endpoint=endpoint_id)
    if code in (420, 429):
        # The edge's throttling body ([PY] bind.py: "Instagram's Nginx"): no meta, no type.
        text = (
            message
            if envelope.get("error_message")
            else f"rate limited by the API edge (code {code})"
        )
        return RateLimitError(text, status=status, code=code, endpoint=endpoint_id)
    return None


def _status_error(
    endpoint_id: str, response: requests.Response, redactor: Redactor, *, graph: bool = False
) -> ApiError:
    """An error from the HTTP status alone (no API error body)."""
    status = response.status_code
    reason = printable(f"HTTP {status} {response.reason or _status_phrase(status)}".rstrip())
    snippet = _snippet(response, redactor)
    message = f"{reason}: {snippet}" if snippet else f"{reason} with no body"
    # By status: bare 429 -> RateLimitError, 5xx (503 included) -> TransientApiError, ...
    if graph:
        from igflow.graph_errors import graph_error_class

        cls = graph_error_class(None, None, status)[0]
    else:
        cls = api_error_class(None, message, status)
    return cls(message, status=status, endpoint=endpoint_id)


def _graph_error(
    endpoint_id: str, status: int, body: dict[str, Any], redactor: Redactor
) -> IgflowError | None:
    """A Graph envelope, typed; an OAuth-shaped body (``error_type``) from the token endpoints
    as the v1 reader types it; None for neither."""
    from igflow.graph_errors import graph_error

    typed = graph_error(endpoint_id, status, body, redactor)
    if typed is not None:
        return typed
    if "error_type" in body or "error_message" in body:
        return _api_error(endpoint_id, status, body, redactor)
    return None


def _is_graph_error(body: Any) -> bool:
    """A 2xx body that still carries a Graph error envelope."""
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


def _malformed(
    endpoint_id: str, response: requests.Response, redactor: Redactor
) -> MalformedResponse:
    content_type = printable(response.headers.get("Content-Type", "(none)"))
    snippet = _snippet(response, redactor) or (
        "..." if response.content.strip() else "(empty body)"
    )
    why = _why_not_json(response.content)
    truncated = why == _CUT_SHORT
    error = MalformedResponse(
        f"{endpoint_id}: HTTP {response.status_code} response is not the API's JSON "
        f"(content-type {content_type}){f' and {why}' if why else ''}: {snippet}"
    )
    # A transport error has no status unless a response came back, and only a malformed body
    # says whether it was cut short (igflow.retry reads `truncated`).
    error.status = response.status_code
    error.truncated = truncated
    return error


_CUT_SHORT = "looks cut short"


def _why_not_json(content: bytes) -> str | None:
    """Why a body that starts like JSON is not the API's JSON, in words; None for one that does
    not even start like JSON (an HTML page: complete, and would come back the same).

    Only a body that ends before its JSON does (empty, or a parse error at its very end) is
    cut short: the request may have been applied and its answer lost, which the retry policy
    treats like a dropped connection. A complete body that is too deep, holds a number too
    long, or is not UTF-8 is the server's answer, just not one igflow reads.
    """
    text = content.strip()
    if not text:
        return _CUT_SHORT
    if text[:1] not in (b"{", b"["):
        return None
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    try:
        json.loads(decoded)
    except RecursionError:
        return "is nested too deeply to read"
    except json.JSONDecodeError as exc:
        # Cut short: the parser ran out of text (at the end, or inside a string it never closed).
        ran_out = exc.pos >= len(decoded) or exc.msg.startswith("Unterminated string")
        return _CUT_SHORT if ran_out else f"is not valid JSON ({exc.msg})"
    except ValueError:  # Python's limit on the digits of an integer
        return "holds a number too long to read"
    return None


def _snippet(response: requests.Response, redactor: Redactor) -> str:
    # Redact before cutting, so a secret straddling the cut cannot survive half-visible.
    text = printable(" ".join(_shown_text(response.content, SNIPPET_CHARS * 4, redactor).split()))
    return text[:SNIPPET_CHARS] + ("..." if len(text) > SNIPPET_CHARS else "")


# The last run of characters a secret can be made of (up to JSON, HTML or URL punctuation), when
# it is long enough to give part of one away: shorter runs are kept, for the message's sake.
_TRAILING_WORD = re.compile(r"[^\s\"'<>{}\[\](),;:&?#]{8,}\Z")


def _shown_text(content: bytes, limit: int, redactor: Redactor) -> str:
    """The first ``limit`` bytes of a body as redacted text.

    The redactor recognizes a secret only whole. A body that goes on past ``limit``, or that was
    cut short in transit, may end in the first part of one (a token echoed in an error body, cut
    mid-way), so its last word is left out.
    """
    text = content[:limit].decode("utf-8", "replace")
    # Conservative: any body that starts like JSON and does not parse may have been cut.
    starts_like_json = content.lstrip()[:1] in (b"", b"{", b"[")
    if len(content) > limit or (starts_like_json and not _parse_json(content)[1]):
        text = _TRAILING_WORD.sub("", text)
    return redactor.redact(text)


def build_exchange(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: str | None,
    response: requests.Response | None,
    elapsed: float,
    redactor: Redactor,
    error: str | None = None,
) -> Exchange:
    """The redacted record of one exchange, for `-v`.

    Args:
        method: The request's method.
        url: The request's URL (with secrets).
        headers: The request's headers.
        body: The request's form body, if any.
        response: The response; None when the transport failed before one arrived.
        elapsed: Seconds the exchange took.
        redactor: Redacts every field.
        error: The transport failure's (redacted) message, if any.

    Returns:
        The exchange, with the response body cut to ``EXCHANGE_BODY_CHARS``.
    """
    redact = redactor.redact
    body_text: str | None = None
    if response is not None:
        body_text = _shown_text(response.content, EXCHANGE_BODY_CHARS * 2, redactor)
        body_text = body_text[:EXCHANGE_BODY_CHARS]
    return Exchange(
        method=method,
        url=redact(url),
        request_headers=redactor.redact_mapping(dict(headers)),
        request_body=redact(body) if body is not None else None,
        status=response.status_code if response is not None else None,
        response_headers=redactor.redact_mapping(dict(response.headers))
        if response is not None
        else {},
        response_body=body_text,
        elapsed=elapsed,
        error=error,
    )


def _parse_json(content: bytes) -> tuple[Any, bool]:
    """(body, True) for a JSON document; (None, False) otherwise."""
    if not content.strip():
        return None, False
    try:
        return json.loads(content), True
    except (ValueError, UnicodeDecodeError, RecursionError):
        # ValueError also covers integers of more than 4300 digits; RecursionError, arrays or
        # objects nested deeper than the interpreter's recursion limit.
        return None, False


def _is_error_body(body: Any) -> bool:
    """A 2xx body that still carries an error envelope (meta.error_type)."""
    if not isinstance(body, dict):
        return False
    meta = body.get("meta")
    return isinstance(meta, dict) and bool(meta.get("error_type"))


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None

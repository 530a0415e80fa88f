"""Network failures, translated at the boundary into igflow's TransportError subclasses.

requests, urllib3, http.client and the OS each raise their own exceptions, often wrapped in one
another. :func:`map_transport_error` walks what an exception wraps and picks the most specific
igflow error, so the retry policy (:mod:`igflow.retry`) can decide from the class alone:
ConnectError (nothing was sent), RequestTimeout, ConnectionDropped, MalformedResponse (with
``truncated`` set when the body was cut short), or TransportError.
"""

from __future__ import annotations

import http.client

import requests
import urllib3.exceptions

from igflow.errors import (
    ConnectError,
    ConnectionDropped,
    MalformedResponse,
    RequestTimeout,
    TransportError,
)
from igflow.redact import Redactor

__all__ = ["TRANSPORT_EXCEPTIONS", "deadline_error", "map_transport_error", "too_large_error"]

# Everything a send can raise for network reasons; requests wraps most, the rest leak rarely.
TRANSPORT_EXCEPTIONS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    # requests reads a redirect's Location header even when it is not asked to follow redirects:
    # one that is not UTF-8 (UnicodeDecodeError) or not a URL (`http://[::1`: "Invalid IPv6
    # URL") makes the send itself raise a ValueError.
    ValueError,
)
# Exception type names that mean the connection broke after it was established.
_DROPPED = frozenset(
    {
        "ProtocolError",
        "RemoteDisconnected",
        "ConnectionResetError",
        "BrokenPipeError",
        "ConnectionAbortedError",
        "IncompleteRead",
        "InvalidChunkLength",
        "ChunkedEncodingError",
    }
)


def map_transport_error(
    exc: BaseException, url: str, *, connect: float, read: float, redactor: Redactor
) -> TransportError:
    """The igflow error for a failed exchange.

    Args:
        exc: What the send raised (one of ``TRANSPORT_EXCEPTIONS``).
        url: The request's URL (with secrets; the message carries it redacted).
        connect: The connect timeout that applied, in seconds.
        read: The read timeout that applied, in seconds.
        redactor: Redacts the URL and the exception's text.

    Returns:
        A redacted error naming the innermost (OS- or socket-level) exception type.
    """
    url = redactor.redact(url)
    causes = _exception_chain(exc)
    names = {type(c).__name__ for c in causes}
    innermost = _root_cause_name(causes)
    if isinstance(exc, requests.ConnectTimeout) or "ConnectTimeoutError" in names:
        return RequestTimeout(f"connect timed out after {connect:g}s: {url} ({innermost})")
    if (
        isinstance(exc, requests.Timeout)
        or "ReadTimeoutError" in names
        or isinstance(exc, TimeoutError)
    ):
        return RequestTimeout(f"read timed out after {read:g}s: {url} ({innermost})")
    if "NameResolutionError" in names or "gaierror" in names:
        return ConnectError(f"could not resolve host: {url} ({innermost})")
    if "ConnectionRefusedError" in names:
        return ConnectError(f"connection refused: {url} ({innermost})")
    if "NewConnectionError" in names:  # unreachable network, no route: still nothing sent
        return ConnectError(f"could not connect: {url} ({innermost})")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or names & _DROPPED:
        return ConnectionDropped(f"connection dropped mid-exchange: {url} ({innermost})")
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        error = MalformedResponse(f"response body could not be decoded: {url} ({innermost})")
        # A compressed body that fails to decode was most often cut short in transit: the
        # request may have been applied, its answer lost (igflow.retry reads `truncated`).
        error.truncated = True
        return error
    if isinstance(exc, UnicodeDecodeError):
        return MalformedResponse(f"response headers could not be decoded: {url} ({innermost})")
    if type(exc) is ValueError:  # not one of requests' (InvalidURL, ...): a bad Location
        detail = redactor.redact(str(exc))
        return MalformedResponse(f"could not read the response: {url}: {detail}")
    detail = redactor.redact(str(exc))
    return TransportError(f"request failed: {url}: {detail} ({type(exc).__name__})")


def deadline_error(url: str, seconds: float, *, redactor: Redactor) -> RequestTimeout:
    """The error of an exchange cut off at its deadline (:mod:`igflow.bounded`).

    A timeout like any other for the retry policy: the request may have been applied.
    """
    return RequestTimeout(
        f"no complete response within {seconds:g}s, the most one exchange may take "
        f"(connect + read timeout; raise it with --timeout): {redactor.redact(url)}"
    )


def too_large_error(
    endpoint_id: str, status: int, limit: int, declared: int | None = None
) -> MalformedResponse:
    """The error of a response body over ``--max-response-bytes`` (``declared``: its
    Content-Length, when that alone said so and nothing was read).

    Final (not ``truncated``): the same request would bring the same body back. For a write the
    runner still counts it as in doubt, as it does every transport error but a refused connect.
    """
    from igflow.bounded import show_bytes

    if declared is not None:
        size = f"{show_bytes(declared)} (Content-Length), more than the {show_bytes(limit)}"
        done = "not read"
    else:
        size, done = f"larger than the {show_bytes(limit)}", "stopped reading"
    error = MalformedResponse(
        f"{endpoint_id}: the HTTP {status} response is {size} --max-response-bytes allows; {done}"
    )
    error.status = status
    return error


def _nested(exc: BaseException) -> list[BaseException]:
    """What ``exc`` wraps: urllib3's ``reason``, the cause, the context, exceptions in args."""
    candidates = [getattr(exc, "reason", None), exc.__cause__, exc.__context__, *exc.args]
    return [c for c in candidates if isinstance(c, BaseException)]


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps, depth first (bounded: chains can be cyclic)."""
    seen: set[int] = set()
    chain: list[BaseException] = []
    stack = [exc]
    while stack and len(chain) < 32:
        current = stack.pop()
        if id(current) not in seen:
            seen.add(id(current))
            chain.append(current)
            stack.extend(reversed(_nested(current)))
    return chain


def _root_cause_name(chain: list[BaseException]) -> str:
    """The first exception in the chain that wraps nothing: the OS- or socket-level cause."""
    return next((type(c).__name__ for c in chain if not _nested(c)), type(chain[-1]).__name__)

"""Graph error envelopes -> igflow's error tree: one ordered table keyed by code and subcode.

Rules of this module (graph-api.md §5):

- Classify by ``code`` and ``error_subcode``, never by ``type``: almost every Graph error says
  ``OAuthException``, rate limits and media errors included.
- The first row that matches wins; a row with subcodes matches only those (so 4/2207051, spam
  restriction, comes before 4, the app's rate limit). ``is_transient: true`` makes an error
  not named by an earlier row transient (retryable). Then the HTTP status decides.
- Every row carries what the code means, added to the message where Meta's text is terse.

The table is data, unit-tested row by row (tests/graph_client/test_graph_errors.py); the Graph
sandbox produces each code and the conformance suite checks both ends meet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from igflow.errors import (
    ApiError,
    GraphAccessTokenError,
    GraphApiError,
    GraphInvalidParameterError,
    GraphMediaError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphRateLimitError,
    GraphSpamRestrictedError,
    GraphTransientError,
    MediaNotReadyError,
    PublishQuotaError,
    printable,
)
from igflow.redact import Redactor

__all__ = ["GRAPH_ERRORS", "SUBCODE_MEANINGS", "GraphRow", "graph_error", "graph_error_class"]


class GraphRow(NamedTuple):
    codes: frozenset[int]
    subcodes: frozenset[int] | None  # None: any subcode (or none)
    cls: type[ApiError]
    meaning: str


def _row(
    codes: set[int] | range, cls: type[ApiError], meaning: str, subcodes: set[int] | None = None
) -> GraphRow:
    return GraphRow(frozenset(codes), frozenset(subcodes) if subcodes else None, cls, meaning)


GRAPH_ERRORS: tuple[GraphRow, ...] = (
    _row({190, 102}, GraphAccessTokenError, "the access token is invalid or expired: log in again"),
    _row(
        {4},
        GraphSpamRestrictedError,
        "activity restricted as suspected spam (not a rate limit: do not retry)",
        {2207051},
    ),
    _row({9}, PublishQuotaError, "the account's 24-hour publishing quota is used up", {2207042}),
    _row({9007}, MediaNotReadyError, "the container is not ready: poll its status_code"),
    _row({4, 17, 32, 341, 613, 80001, 80002}, GraphRateLimitError, "rate limited: back off"),
    _row({24}, GraphNotFoundError, "the container or media was not found or has expired"),
    _row({3, 10, 25, 368} | set(range(200, 300)), GraphPermissionError, "permission denied"),
    _row({352, 9004, 36000, 36001, 36003, 36004}, GraphMediaError, "the media was rejected"),
    _row({100, 506}, GraphInvalidParameterError, "invalid parameter or unsupported operation"),
    _row({1, 2, -1, -2}, GraphTransientError, "a temporary problem on Meta's side: retry"),
)

# What Meta documents for the subcodes (190's and the publishing 2207xxx), shown after the text.
SUBCODE_MEANINGS: Mapping[int, str] = {
    458: "the user removed the app",
    459: "the user is checkpointed: they must log in on instagram.com",
    460: "the password changed: log in again",
    463: "the token expired: log in again",
    464: "the user is unconfirmed",
    467: "the token is invalid or was revoked",
    492: "invalid session",
    2207001: "Instagram server error: retry",
    2207003: "media download timed out: retry",
    2207004: "the image is larger than 8 MiB",
    2207005: "the image format is not supported (JPEG only)",
    2207006: "media not found (permission or expired token)",
    2207008: "the container is missing or expired: retry once, then create a new one",
    2207009: "aspect ratio outside 4:5 to 1.91:1",
    2207010: "caption too long (2,200 characters, 30 hashtags, 20 @-tags)",
    2207020: "the media expired: create a new container",
    2207023: "unknown media type",
    2207026: "unsupported video format (MOV or MP4)",
    2207027: "not ready for publishing: poll status_code until FINISHED",
    2207028: "a carousel needs 2 to 10 items",
    2207032: "container creation failed: retry or recreate",
    2207040: "more than 20 @-tags",
    2207042: "the daily publishing quota is reached",
    2207050: "the Instagram account is restricted or inactive",
    2207051: "activity restricted as suspected spam",
    2207052: "the media could not be fetched from its URL (make it public)",
    2207053: "unknown upload error: create a new container",
    2207057: "thumbnail offset outside the video",
}


def graph_error_class(
    code: int | None, subcode: int | None, status: int | None, is_transient: bool = False
) -> tuple[type[ApiError], str | None]:
    """The class for a Graph error, and what its code means (None when no row names it)."""
    transient_row: GraphRow | None = None
    for row in GRAPH_ERRORS:
        if code in row.codes and (row.subcodes is None or subcode in row.subcodes):
            if is_transient and row.cls is not GraphTransientError and not _definite(row):
                transient_row = row
                break
            return row.cls, row.meaning
    if is_transient:
        meaning = transient_row.meaning if transient_row is not None else None
        return GraphTransientError, meaning or "Meta says this error is transient: retry"
    if status is not None and status >= 500:
        return GraphTransientError, None
    if status == 429:
        return GraphRateLimitError, None
    if status == 404:
        return GraphNotFoundError, None
    return GraphApiError, None


def _definite(row: GraphRow) -> bool:
    """Rows ``is_transient`` does not override: a bad token, a rate limit, a spent quota."""
    return row.cls in (
        GraphAccessTokenError,
        GraphRateLimitError,
        PublishQuotaError,
        GraphSpamRestrictedError,
    )


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def graph_error(
    endpoint_id: str, status: int, body: Mapping[str, Any], redactor: Redactor
) -> ApiError | None:
    """The typed error for a Graph envelope ``{"error": {...}}``; None when it is not one."""
    envelope = body.get("error")
    if not isinstance(envelope, Mapping):
        return None
    code = _as_int(envelope.get("code"))
    subcode = _as_int(envelope.get("error_subcode"))
    transient = envelope.get("is_transient") is True
    cls, meaning = graph_error_class(code, subcode, status, transient)
    text = str(envelope.get("message") or f"HTTP {status}")
    detail = SUBCODE_MEANINGS.get(subcode) if subcode is not None else None
    user_msg = envelope.get("error_user_msg")
    extra = detail or (str(user_msg) if isinstance(user_msg, str) and user_msg else None)
    if extra is None and meaning is not None and cls is not GraphApiError:
        extra = meaning
    if extra and extra.lower() not in text.lower():
        text = f"{text} ({extra})"
    error = cls(
        printable(redactor.redact(text)),
        status=status,
        code=code,
        endpoint=endpoint_id,
    )
    error.subcode = subcode
    trace = envelope.get("fbtrace_id")
    error.fbtrace_id = printable(str(trace))[:64] if isinstance(trace, str) and trace else None
    kind = envelope.get("type")
    error.api_type = printable(str(kind))[:64] if isinstance(kind, str) else None
    return error

"""The whole igflow error tree, and the exit codes it maps to.

    IgflowError                          .location, .step, .exit_code
    ├── UsageError                       bad command line or settings            exit 2
    │   └── WriteFailed                  a file cannot be written (write, report)
    │       └── UnsafeTarget             a device, link, the playbook...: refused
    ├── PlaybookError                    anything wrong with the input            exit 2
    │   ├── PlaybookSyntaxError          YAML could not be parsed / is unsafe
    │   ├── PlaybookValidationError      schema and semantic problems (.issues)
    │   ├── UnknownEndpointError
    │   ├── TemplateSyntaxError          Jinja syntax error found at plan time
    │   │   └── PositionedSyntaxError    ... knowing the character it is about (.offset)
    │   └── JsonPathSyntaxError          JSONPath syntax error found at plan time
    │       └── PathSyntaxError          ... where parsing stopped (.offset)
    ├── StepError                        failures while running a step
    │   ├── LoopError                    foreach gave no list                     exit 2
    │   ├── OutsideOutputDir             a write path leads out of --out-dir     exit 2
    │   ├── ExportError                  a value the write's format cannot hold  exit 1
    │   ├── TemplateRenderError          undefined name, sandbox violation       exit 2
    │   ├── ExtractionError              a singular path matched nothing         exit 1
    │   ├── AssertionFailed              an assertion was falsy                  exit 1
    │   └── ExpectedErrorMissing         expect_error, but the call succeeded    exit 1
    ├── AuthenticationError              no usable token or client, OAuth refused exit 5
    │   └── OAuthError                   an OAuth endpoint's error body (OAuthException, ...)
    ├── SafetyError                      refused by a safety rule                 exit 6
    ├── WriteInDoubt                     a write may have been applied (.cause)   exit 7
    ├── TransportError                   network failure (after retries)          exit 4
    │   ├── ConnectError                 refused: nothing was sent
    │   ├── RequestTimeout               connect or read timeout
    │   ├── ConnectionDropped            the connection broke mid-exchange
    │   └── MalformedResponse            a body that is not the API's JSON
    └── ApiError                         an error envelope from the API           exit 3
        ├── AuthError                    token missing/invalid                   exit 5
        │   ├── OAuthParameterException, OAuthAccessTokenException,
        │   ├── OAuthClientException, APIRequiresAuthenticationError
        │   └── GraphAccessTokenError    Graph 190 (its subcodes), 102
        ├── ApiPermissionError
        │   ├── OAuthPermissionsException, OAuthForbiddenException
        │   ├── APINotAllowedError
        │   │   └── RetiredEndpointError "This endpoint has been retired"
        │   ├── GraphPermissionError     Graph 3, 10, 200-299, 25, 368
        │   └── GraphSpamRestrictedError Graph 4/2207051 (not a rate limit)
        ├── RateLimitError
        │   ├── OAuthRateLimitException
        │   ├── GraphRateLimitError      Graph 4, 17, 32, 341, 613, 80001, 80002
        │   └── PublishQuotaError        Graph 9/2207042 (24 h quota: never waited for)
        ├── InvalidRequestError
        │   ├── APIInvalidParametersError, APISubscriptionError
        │   ├── GraphInvalidParameterError  Graph 100, 506
        │   ├── GraphMediaError          Graph 352, 9004, 36000-36004 (media rejected)
        │   └── MediaNotReadyError       Graph 9007/2207027 (poll status_code)
        ├── NotFoundError
        │   ├── APINotFoundError
        │   └── GraphNotFoundError       Graph 24 (container or media not found)
        ├── TransientApiError            HTTP 5xx, edge throttling bodies
        │   ├── APIError
        │   └── GraphTransientError      Graph 1, 2, -1, -2, is_transient
        └── GraphApiError                a Graph error no row of the table names

The API's own ``error_type`` names are leaf classes, so ``expect_error`` can name either a
leaf or a group. ``API_ERROR_TYPES`` is the one table from error_type to class;
``api_error_class`` adds the one case where a message decides (retired endpoints). Graph errors
all say ``type: OAuthException``, so they are classified by ``code`` and ``error_subcode``
instead, by the table in :mod:`igflow.graph_errors`; their leaves are named here.

Outside the tree, two helpers' errors that their callers turn into their own IgflowError:
``NotRegularFile``, an ``OSError`` (a directory, a named pipe, a device where a file to read
was named, from :mod:`igflow.regular_file`), and ``FieldListError``, a ``ValueError`` (a Graph
``fields`` value that does not read as fields, from :mod:`igflow.fields`; ``.where`` is the
item's path, for `check`'s location).

Length: over 400 lines because it is the whole error tree, on purpose in one place (the drawing
above is its table of contents).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from igflow.responses import RateLimitInfo


class ExitCode(IntEnum):
    """Documented exit codes (README, "Exit codes")."""

    OK = 0
    FAILED = 1  # an assertion or an expect_error failed
    USAGE = 2  # usage error or invalid playbook
    API_ERROR = 3  # halted by an API error
    TRANSPORT = 4  # transport failure (after retries)
    AUTH = 5  # no usable token or client, invalid token, OAuth refused
    SAFETY = 6  # refused by a safety rule
    IN_DOUBT = 7  # writes may or may not have been applied: `--resume` settles them
    INTERNAL = 70  # a bug in igflow
    INTERRUPTED = 130
    CLOSED_PIPE = 141  # the output's reader went away (128 + SIGPIPE, as other tools exit)


class SourceLocation(NamedTuple):
    """A 1-based position in a file the user wrote."""

    # A NamedTuple rather than a dataclass: `igflow --help` imports this module, and the
    # dataclasses machinery (it pulls in inspect) is a measurable part of startup.
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class IgflowError(Exception):
    """Base of every error igflow reports to a user.

    An error read from an HTTP answer (an API error, a malformed body) also carries
    ``rate_limit``, the answer's rate-limit headers (``igflow.responses.RateLimitInfo``), and
    ``request``, the (method, redacted URL) it answered, for reports.
    """

    exit_code: ExitCode = ExitCode.INTERNAL
    rate_limit: RateLimitInfo | None = None
    request: tuple[str, str] | None = None
    # Where in the playbook's data a run-time template error arose, relative to its step
    # (("set", "total"), ("with", "media_id")): the runner turns it into the value's line:col.
    value_path: tuple[str | int, ...] = ()

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        step: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.step = step

    def at(self, location: SourceLocation | None, step: str | None = None) -> IgflowError:
        """Attach where it happened, unless something more precise is already known."""
        if self.location is None:
            self.location = location
        if self.step is None:
            self.step = step
        return self

    def within(self, *keys: str | int) -> IgflowError:
        """Note that the error arose inside the value at ``keys`` (outermost first)."""
        self.value_path = (*keys, *self.value_path)
        return self

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        return prefix + self.message


class UsageError(IgflowError):
    exit_code = ExitCode.USAGE


class PlaybookError(IgflowError):
    """``lines``: the playbook's source lines, when known, so a message can quote them."""

    exit_code = ExitCode.USAGE
    lines: Sequence[str] | None = None


class PlaybookSyntaxError(PlaybookError):
    pass


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with control characters and line separators escaped (``\\n``, ``\\x1b``).

    Messages quote what users (and APIs) wrote; raw, a newline would break the one-line
    ``file:line:col: message`` form and an escape sequence would reach the terminal.
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class Issue(NamedTuple):
    """One problem found while checking a playbook (orders by location, then message)."""

    location: SourceLocation
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        tag = "warning: " if self.severity == "warning" else ""
        return f"{self.location}: {tag}{printable(self.message)}"


class PlaybookValidationError(PlaybookError):
    """Every problem in a playbook, sorted by position."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.location.line, i.location.col, i.message))
        first = self.issues[0] if self.issues else None
        count = len(self.issues)
        summary = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__(summary, location=first.location if first else None)

    def __str__(self) -> str:
        return self.message


class UnknownEndpointError(PlaybookError):
    pass


class TemplateSyntaxError(PlaybookError):
    """``lineno`` is the line inside the template text (1-based)."""

    def __init__(self, message: str, *, lineno: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.lineno = lineno


class JsonPathSyntaxError(PlaybookError):
    pass


class StepError(IgflowError):
    exit_code = ExitCode.FAILED


class LoopError(StepError):
    """``foreach`` did not give a list: an invalid value at run time, like a failed template."""

    exit_code = ExitCode.USAGE


class TemplateRenderError(StepError):
    exit_code = ExitCode.USAGE


class ExtractionError(StepError):
    pass


class AssertionFailed(StepError):
    """``values`` holds the current value of each name the expression uses."""

    def __init__(self, expression: str, values: dict[str, Any], **kwargs: Any) -> None:
        self.expression = expression
        self.values = values
        super().__init__(f"assertion failed: {expression}", **kwargs)


class ExpectedErrorMissing(StepError):
    pass


class PathSyntaxError(JsonPathSyntaxError):
    """A JSONPath that does not parse, and the character of it where parsing stopped
    (``offset``, 0-based; the path's length when it ended too early)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class PositionedSyntaxError(TemplateSyntaxError):
    """A syntax error that knows which character of the source text it is about.

    ``offset`` counts characters from the start of the text (0-based), across lines; the check
    turns it into a column when the playbook shows the text as it is.
    """

    def __init__(self, message: str, *, lineno: int = 1, offset: int) -> None:
        super().__init__(message, lineno=lineno)
        self.offset = offset


class OutsideOutputDir(StepError):
    """A write path that leads outside the output directory (exit 2: the playbook is wrong)."""

    exit_code = ExitCode.USAGE


class ExportError(StepError):
    """The value cannot be written in the asked format (a data problem: exit 1)."""


class WriteFailed(UsageError):
    """The file cannot be written (permissions, a directory in the way, disk full: exit 2)."""


class UnsafeTarget(WriteFailed):
    """The path names a file igflow must not replace: a device, FIFO, socket, directory or
    link, the playbook itself, the --vars-file, a report (exit 2)."""


class AuthenticationError(IgflowError):
    exit_code = ExitCode.AUTH


class OAuthError(AuthenticationError):
    """An error body from /oauth/* (no ``meta`` wrapper)."""

    def __init__(
        self, message: str, *, error_type: str = "OAuthException", status: int = 400, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.error_type = error_type
        self.status = status


class SafetyError(IgflowError):
    """Refused by a safety rule. ``cap_reached``: a write cap refused the write."""

    exit_code = ExitCode.SAFETY

    def __init__(self, message: str, *, cap_reached: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.cap_reached = cap_reached


class WriteInDoubt(IgflowError):
    """A write may or may not have been applied, and nothing could tell which yet.

    ``cause`` is what went wrong after the request left (a 5xx, a timeout, a dropped
    connection); ``count`` how many writes the run leaves in doubt (1 for one write's error).
    """

    exit_code = ExitCode.IN_DOUBT

    def __init__(
        self, message: str, *, cause: IgflowError | None = None, count: int = 1, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.cause = cause
        self.count = count


class TransportError(IgflowError):
    exit_code = ExitCode.TRANSPORT


class ConnectError(TransportError):
    pass


class RequestTimeout(TransportError):
    pass


class ConnectionDropped(TransportError):
    pass


class MalformedResponse(TransportError):
    """``status``: the HTTP status of the answer, if one came; ``truncated``: the body was cut
    short (a lost answer, which a retry may mend), not a body of the wrong kind."""

    status: int | None = None
    truncated: bool = False


class ApiError(IgflowError):
    """An error envelope returned by the API."""

    exit_code = ExitCode.API_ERROR

    # Graph only: the envelope's error_subcode and fbtrace_id (support id), its own `type`.
    subcode: int | None = None
    try_later: bool = False  # a refusal that applied nothing and says to retry (see retry.py)
    fbtrace_id: str | None = None
    api_type: str | None = None

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        status: int | None = None,
        code: int | None = None,
        endpoint: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.error_type = error_type or type(self).__name__
        self.status = status
        self.code = code
        self.endpoint = endpoint

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        where = f"{self.endpoint}: " if self.endpoint else ""
        codes = [] if self.code is None else [str(self.code)]
        if codes and self.subcode is not None:
            codes[0] += f"/{self.subcode}"
        if self.fbtrace_id:
            codes.append(f"fbtrace_id {self.fbtrace_id}")
        code = f" [{', '.join(codes)}]" if codes else ""
        return f"{prefix}{where}{self.error_type}: {self.message}{code}"


class AuthError(ApiError):
    exit_code = ExitCode.AUTH


class ApiPermissionError(ApiError):
    pass


class RateLimitError(ApiError):
    # False: a limit that does not recover within a wait worth making (Graph's 24 h publishing
    # quota); `--on-rate-limit wait` halts on it at once.
    recovers_soon: bool = True


class InvalidRequestError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class TransientApiError(ApiError):
    pass


# The API's own error_type names, as leaf classes under the groups above.
class OAuthParameterException(AuthError):
    pass


class OAuthAccessTokenException(AuthError):
    pass


class OAuthClientException(AuthError):
    pass


class APIRequiresAuthenticationError(AuthError):
    pass


class OAuthPermissionsException(ApiPermissionError):
    pass


class OAuthForbiddenException(ApiPermissionError):
    pass


class APINotAllowedError(ApiPermissionError):
    pass


class RetiredEndpointError(APINotAllowedError):
    pass


class OAuthRateLimitException(RateLimitError):
    pass


class APIInvalidParametersError(InvalidRequestError):
    pass


class APISubscriptionError(InvalidRequestError):
    pass


class APINotFoundError(NotFoundError):
    pass


class APIError(TransientApiError):
    pass


# Graph (instagram.graph): classified by code/subcode in igflow.graph_errors.
class GraphAccessTokenError(AuthError):
    pass


class GraphPermissionError(ApiPermissionError):
    pass


class GraphSpamRestrictedError(ApiPermissionError):
    pass


class GraphRateLimitError(RateLimitError):
    pass


class PublishQuotaError(RateLimitError):
    recovers_soon = False


class GraphInvalidParameterError(InvalidRequestError):
    pass


class GraphMediaError(InvalidRequestError):
    pass


class MediaNotReadyError(InvalidRequestError):
    # A refusal that applied nothing and says to try again: retried like a refused connection
    # (igflow.retry), even for a write that is not idempotent (media.publish).
    try_later = True


class GraphNotFoundError(NotFoundError):
    pass


class GraphTransientError(TransientApiError):
    pass


class GraphApiError(ApiError):
    pass


GRAPH_ERROR_CLASSES: tuple[type[ApiError], ...] = (
    GraphAccessTokenError,
    GraphPermissionError,
    GraphSpamRestrictedError,
    GraphRateLimitError,
    PublishQuotaError,
    GraphInvalidParameterError,
    GraphMediaError,
    MediaNotReadyError,
    GraphNotFoundError,
    GraphTransientError,
    GraphApiError,
)


API_ERROR_TYPES: dict[str, type[ApiError]] = {
    cls.__name__: cls
    for cls in (
        OAuthParameterException,
        OAuthAccessTokenException,
        OAuthClientException,
        APIRequiresAuthenticationError,
        OAuthPermissionsException,
        OAuthForbiddenException,
        APINotAllowedError,
        OAuthRateLimitException,
        APIInvalidParametersError,
        APISubscriptionError,
        APINotFoundError,
        APIError,
    )
}

RETIRED_MESSAGE = "This endpoint has been retired"

# Names usable in `expect_error`: every leaf and every group.
EXPECTABLE: dict[str, type[ApiError]] = {
    **{
        cls.__name__: cls
        for cls in (
            ApiError,
            AuthError,
            ApiPermissionError,
            RateLimitError,
            InvalidRequestError,
            NotFoundError,
            TransientApiError,
            RetiredEndpointError,
        )
    },
    **API_ERROR_TYPES,
    **{cls.__name__: cls for cls in GRAPH_ERROR_CLASSES},
}


def api_error_class(error_type: str | None, message: str, status: int | None) -> type[ApiError]:
    """Pick the class for an API error envelope. Unknown types fall back by HTTP status."""
    if error_type == "APINotAllowedError" and message.strip() == RETIRED_MESSAGE:
        return RetiredEndpointError
    if error_type in API_ERROR_TYPES:
        return API_ERROR_TYPES[error_type]
    if status == 429:
        return RateLimitError
    if status is not None and status >= 500:
        return TransientApiError
    if status == 404:
        return NotFoundError
    return ApiError


class NotRegularFile(OSError):
    """The path names a directory, a named pipe, a device or a socket."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(errno.EINVAL, f"is {kind}, not a regular file", path)
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class FieldListError(ValueError):
    """A list parameter's value the API would misread; ``where`` is the path to the item."""

    def __init__(self, message: str, where: tuple[int | str, ...] = ()) -> None:
        super().__init__(message)
        self.where = where

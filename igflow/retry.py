"""When a failed request may be sent again, and after how long: a pure policy (no I/O).

The rule (DESIGN §7 "Safety", docs/safety.md "Retries") depends only on the endpoint's registry
marks and the class of the igflow error the attempt raised:

============================  =========  ===================  =========================
error                         read       idempotent write     other write
============================  =========  ===================  =========================
ConnectError                  retry      retry                retry (nothing was sent)
"try later" API refusals      retry      retry                retry (nothing was applied)
RequestTimeout                retry      retry                never (may be applied)
ConnectionDropped             retry      retry                never (may be applied)
TransientApiError (5xx)       retry      retry                never (may be applied)
MalformedResponse, truncated  retry      retry                never (may be applied)
MalformedResponse, other      never      never                never
RateLimitError (429)          the rate-limit policy (wait or halt), not this table
auth, permission, not found,  never      never                never
invalid parameters, others
============================  =========  ===================  =========================

Delays grow exponentially (``backoff * 2**(attempt - 1)``), capped by ``max_delay``, with "full
jitter" (a uniform draw between 0 and that) so concurrent clients do not retry in lockstep. A
``Retry-After`` header, when the API sends one, replaces the computed delay (still capped).
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from typing import NamedTuple, Protocol

from igflow.errors import (
    ApiError,
    ConnectError,
    ConnectionDropped,
    MalformedResponse,
    RateLimitError,
    RequestTimeout,
    TransientApiError,
)

__all__ = [
    "MAYBE_APPLIED",
    "NOT_SENT",
    "NEVER",
    "RATE_LIMITED",
    "RetryDecision",
    "RetrySettings",
    "backoff_delay",
    "classify",
    "decide",
    "retry_after",
]

# How a failed attempt left the request (see classify()).
NOT_SENT = "not-sent"  # nothing reached the API: always safe to send again
MAYBE_APPLIED = "maybe-applied"  # the API may have applied it: only reads and idempotent writes
RATE_LIMITED = "rate-limited"  # 429: nothing applied; the rate-limit policy decides
NEVER = "never"  # a definite answer that sending again would not change


class RetrySettings(Protocol):
    """What the policy reads from a step's ``retry`` (``igflow.playbook.model.RetrySpec``)."""

    @property
    def attempts(self) -> int: ...
    @property
    def backoff(self) -> float: ...
    @property
    def max_delay(self) -> float: ...
    @property
    def jitter(self) -> bool: ...


class EndpointMarks(Protocol):
    """What the policy reads from a registry endpoint."""

    @property
    def id(self) -> str: ...
    @property
    def mutates(self) -> bool: ...
    @property
    def idempotent(self) -> bool: ...


class RetryDecision(NamedTuple):
    """The policy's answer for one failed attempt.

    ``retry``: send the same request again after ``delay`` seconds. ``kind``: how the attempt
    left the request (NOT_SENT, MAYBE_APPLIED, RATE_LIMITED, NEVER). ``reason``: why, in words a
    message can quote ("a read", "comments.create is not idempotent and may have been applied").
    ``exhausted``: it would have been retried, but that was the last attempt.
    """

    retry: bool
    delay: float
    kind: str
    reason: str
    exhausted: bool = False

    @property
    def in_doubt(self) -> bool:
        """The failed attempt may have reached the API and been applied."""
        return self.kind == MAYBE_APPLIED


def classify(error: BaseException) -> str:
    """How a failed attempt left its request: NOT_SENT, MAYBE_APPLIED, RATE_LIMITED or NEVER."""
    if isinstance(error, ConnectError):
        return NOT_SENT
    if isinstance(error, ApiError) and error.try_later:
        # Graph 9007 (the container is not ready yet): the API refused before doing anything.
        return NOT_SENT
    if isinstance(error, RequestTimeout | ConnectionDropped | TransientApiError):
        return MAYBE_APPLIED
    if isinstance(error, MalformedResponse):
        # A body cut short is a lost response; a well-formed body that is not the API's JSON (a
        # proxy's HTML page, a wrong target) would come back the same, so it is final.
        return MAYBE_APPLIED if error.truncated else NEVER
    if isinstance(error, RateLimitError):
        return RATE_LIMITED
    return NEVER


def decide(
    spec: RetrySettings,
    endpoint: EndpointMarks,
    attempt: int,
    error: BaseException,
    *,
    random: Callable[[], float] = _random.random,
) -> RetryDecision:
    """Whether to send the request again after ``error``, and when.

    Args:
        spec: attempts (total, first one included), backoff, max_delay, jitter.
        endpoint: The registry endpoint (``mutates``, ``idempotent``).
        attempt: The 1-based number of the attempt that just failed.
        error: What that attempt raised (an igflow error; anything else is never retried).
        random: A source of floats in [0, 1) for the jitter (tests inject their own).

    Returns:
        The decision; ``delay`` is 0 when there is no retry.
    """
    kind = classify(error)
    if kind == RATE_LIMITED:
        return RetryDecision(False, 0.0, kind, "rate limited: the rate-limit policy decides")
    if kind == NEVER:
        return RetryDecision(False, 0.0, kind, f"{_error_name(error)} is never retried")
    if kind == MAYBE_APPLIED and endpoint.mutates and not endpoint.idempotent:
        return RetryDecision(
            False,
            0.0,
            kind,
            f"{endpoint.id} is not idempotent and may have been applied",
        )
    if attempt >= max(spec.attempts, 1):
        return RetryDecision(False, 0.0, kind, f"gave up after {attempt} attempts", exhausted=True)
    if kind == NOT_SENT:
        reason = "nothing was sent" if isinstance(error, ConnectError) else "nothing was applied"
    elif endpoint.mutates:
        reason = f"{endpoint.id} is idempotent"
    else:
        reason = "a read"
    waited = retry_after(error)
    if waited is not None:
        delay = min(waited, max(spec.max_delay, 0.0))
    else:
        delay = backoff_delay(spec, attempt, random=random)
    return RetryDecision(True, delay, kind, reason)


def backoff_delay(
    spec: RetrySettings, attempt: int, *, random: Callable[[], float] = _random.random
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, capped, jittered.

    Full jitter (a uniform draw in [0, cap)) spreads the retries of concurrent requests that
    failed together, which is what a struggling server needs; without jitter the delay is the cap.
    """
    cap = max(spec.max_delay, 0.0)
    # Exponent bounded: 2**1024 overflows a float, and the cap is reached long before.
    exponential = max(spec.backoff, 0.0) * 2.0 ** min(max(attempt - 1, 0), 64)
    delay = min(exponential, cap)
    if spec.jitter:
        delay *= min(max(random(), 0.0), 1.0)
    return delay


def retry_after(error: BaseException) -> float | None:
    """The error response's ``Retry-After`` in seconds, when the API sent one (else None)."""
    limits = getattr(error, "rate_limit", None)
    value = getattr(limits, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def _error_name(error: BaseException) -> str:
    if isinstance(error, ApiError):
        return error.error_type
    return type(error).__name__

"""The retry policy (igflow.retry): the whole decision table, backoff, jitter and Retry-After."""

from __future__ import annotations

import pytest

from igflow import errors
from igflow.playbook.model import RetrySpec
from igflow.registry import Endpoint, Registry, load_registry
from igflow.responses import RateLimitInfo
from igflow.retry import (
    MAYBE_APPLIED,
    NEVER,
    NOT_SENT,
    RATE_LIMITED,
    backoff_delay,
    classify,
    decide,
    retry_after,
)

REGISTRY: Registry = load_registry("instagram.v1")
READ = REGISTRY.get("users.self")
IDEMPOTENT_WRITE = REGISTRY.get("likes.delete")
OTHER_WRITE = REGISTRY.get("comments.create")
NO_JITTER = RetrySpec(attempts=5, backoff=0.5, max_delay=30.0, jitter=False)


def truncated(flag: bool) -> errors.MalformedResponse:
    error = errors.MalformedResponse("users.self: HTTP 200 response is not the API's JSON")
    error.truncated = flag  # type: ignore[attr-defined]
    return error


def api(cls: type[errors.ApiError], status: int | None) -> errors.ApiError:
    return cls("message", status=status, endpoint="users.self")


# (error, kind, retried for a read, for an idempotent write, for any other write)
TABLE: list[tuple[BaseException, str, bool, bool, bool]] = [
    (errors.ConnectError("connection refused"), NOT_SENT, True, True, True),
    (errors.RequestTimeout("read timed out"), MAYBE_APPLIED, True, True, False),
    (errors.ConnectionDropped("connection dropped"), MAYBE_APPLIED, True, True, False),
    (api(errors.APIError, 500), MAYBE_APPLIED, True, True, False),
    (api(errors.TransientApiError, 503), MAYBE_APPLIED, True, True, False),
    (api(errors.TransientApiError, 502), MAYBE_APPLIED, True, True, False),
    (truncated(True), MAYBE_APPLIED, True, True, False),
    (truncated(False), NEVER, False, False, False),
    (errors.MalformedResponse("no truncated attribute"), NEVER, False, False, False),
    (errors.TransportError("request failed: InvalidURL"), NEVER, False, False, False),
    (api(errors.OAuthRateLimitException, 429), RATE_LIMITED, False, False, False),
    (api(errors.RateLimitError, 429), RATE_LIMITED, False, False, False),
    # auth
    (api(errors.AuthError, 400), NEVER, False, False, False),
    (api(errors.OAuthAccessTokenException, 400), NEVER, False, False, False),
    (api(errors.OAuthParameterException, 400), NEVER, False, False, False),
    (api(errors.OAuthClientException, 400), NEVER, False, False, False),
    (api(errors.APIRequiresAuthenticationError, 400), NEVER, False, False, False),
    (errors.OAuthError("invalid client", status=400), NEVER, False, False, False),
    (errors.AuthenticationError("no token"), NEVER, False, False, False),
    # permission
    (api(errors.ApiPermissionError, 403), NEVER, False, False, False),
    (api(errors.OAuthPermissionsException, 400), NEVER, False, False, False),
    (api(errors.OAuthForbiddenException, 403), NEVER, False, False, False),
    (api(errors.APINotAllowedError, 400), NEVER, False, False, False),
    (api(errors.RetiredEndpointError, 400), NEVER, False, False, False),
    # not found
    (api(errors.APINotFoundError, 400), NEVER, False, False, False),
    (api(errors.NotFoundError, 404), NEVER, False, False, False),
    # invalid parameters
    (api(errors.APIInvalidParametersError, 400), NEVER, False, False, False),
    (api(errors.APISubscriptionError, 400), NEVER, False, False, False),
    (api(errors.InvalidRequestError, 400), NEVER, False, False, False),
    # Graph (classified by code: igflow.graph_errors)
    (api(errors.GraphAccessTokenError, 400), NEVER, False, False, False),
    (api(errors.GraphPermissionError, 403), NEVER, False, False, False),
    (api(errors.GraphSpamRestrictedError, 400), NEVER, False, False, False),
    (api(errors.GraphRateLimitError, 400), RATE_LIMITED, False, False, False),
    (api(errors.PublishQuotaError, 400), RATE_LIMITED, False, False, False),
    (api(errors.GraphInvalidParameterError, 400), NEVER, False, False, False),
    (api(errors.GraphMediaError, 400), NEVER, False, False, False),
    (api(errors.MediaNotReadyError, 400), NOT_SENT, True, True, True),
    (api(errors.GraphNotFoundError, 400), NEVER, False, False, False),
    (api(errors.GraphTransientError, 500), MAYBE_APPLIED, True, True, False),
    (api(errors.GraphApiError, 400), NEVER, False, False, False),
    # anything else
    (api(errors.ApiError, 405), NEVER, False, False, False),
    (api(errors.ApiError, 401), NEVER, False, False, False),
    (errors.SafetyError("refused"), NEVER, False, False, False),
    (ValueError("a bug"), NEVER, False, False, False),
]


def _id(case: tuple[BaseException, str, bool, bool, bool]) -> str:
    error = case[0]
    status = getattr(error, "status", None)
    flag = getattr(error, "truncated", None)
    return type(error).__name__ + (f"-{status}" if status else "") + (f"-{flag}" if flag else "")


@pytest.mark.parametrize("case", TABLE, ids=[_id(c) for c in TABLE])
def test_decision_table(case: tuple[BaseException, str, bool, bool, bool]) -> None:
    error, kind, read, idempotent, other = case
    assert classify(error) == kind
    for endpoint, expected in ((READ, read), (IDEMPOTENT_WRITE, idempotent), (OTHER_WRITE, other)):
        decision = decide(NO_JITTER, endpoint, 1, error)
        assert decision.retry is expected, (endpoint.id, decision.reason)
        assert decision.kind == kind
        assert decision.in_doubt is (kind == MAYBE_APPLIED)
        if not expected:
            assert decision.delay == 0.0 and not decision.exhausted


def test_the_table_covers_every_api_error_class() -> None:
    covered = {type(case[0]) for case in TABLE}
    assert set(errors.EXPECTABLE.values()) <= covered


@pytest.mark.parametrize(
    "endpoint",
    [e for e in REGISTRY.endpoints.values() if e.mutates],
    ids=lambda e: e.id,
)
def test_every_write_in_the_registry_follows_its_idempotent_mark(endpoint: Endpoint) -> None:
    dropped = errors.ConnectionDropped("connection dropped")
    assert decide(NO_JITTER, endpoint, 1, dropped).retry is endpoint.idempotent
    assert decide(NO_JITTER, endpoint, 1, errors.ConnectError("refused")).retry


def test_the_non_idempotent_writes_are_comment_posts_and_subscriptions() -> None:
    # What "never for other writes" means today, so a registry change is noticed here.
    others = {e.id for e in REGISTRY.endpoints.values() if e.mutates and not e.idempotent}
    assert others == {"comments.create", "subscriptions.create"}


def test_reasons_say_why() -> None:
    drop = errors.ConnectionDropped("x")
    assert decide(NO_JITTER, READ, 1, drop).reason == "a read"
    assert decide(NO_JITTER, IDEMPOTENT_WRITE, 1, drop).reason == "likes.delete is idempotent"
    assert decide(NO_JITTER, OTHER_WRITE, 1, errors.ConnectError("x")).reason == (
        "nothing was sent"
    )
    assert decide(NO_JITTER, OTHER_WRITE, 1, drop).reason == (
        "comments.create is not idempotent and may have been applied"
    )
    not_found = api(errors.APINotFoundError, 400)
    assert decide(NO_JITTER, READ, 1, not_found).reason == "APINotFoundError is never retried"


# -- attempts ---------------------------------------------------------------------------------


def test_attempts_count_the_first_one() -> None:
    spec = RetrySpec(attempts=3, jitter=False)
    error = errors.ConnectionDropped("x")
    assert decide(spec, READ, 1, error).retry
    assert decide(spec, READ, 2, error).retry
    last = decide(spec, READ, 3, error)
    assert not last.retry and last.exhausted
    assert last.reason == "gave up after 3 attempts"


@pytest.mark.parametrize("attempts", [1, 0, -2])
def test_one_attempt_or_fewer_never_retries(attempts: int) -> None:
    decision = decide(RetrySpec(attempts=attempts), READ, 1, errors.ConnectError("x"))
    assert not decision.retry and decision.exhausted


def test_an_unsafe_write_is_refused_before_attempts_are_counted() -> None:
    # Even on its last attempt the reason is the write, not the count: that is what matters.
    decision = decide(RetrySpec(attempts=1), OTHER_WRITE, 1, errors.RequestTimeout("x"))
    assert not decision.exhausted and "not idempotent" in decision.reason


# -- delays ---------------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped_without_jitter() -> None:
    spec = RetrySpec(attempts=10, backoff=0.5, max_delay=6.0, jitter=False)
    delays = [backoff_delay(spec, attempt) for attempt in range(1, 7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]


def test_full_jitter_scales_the_capped_delay_by_the_random_draw() -> None:
    spec = RetrySpec(attempts=10, backoff=1.0, max_delay=5.0, jitter=True)
    assert backoff_delay(spec, 1, random=lambda: 0.25) == 0.25
    assert backoff_delay(spec, 3, random=lambda: 0.5) == 2.0  # 4 s * 0.5
    assert backoff_delay(spec, 6, random=lambda: 0.5) == 2.5  # capped at 5 s, then * 0.5
    assert backoff_delay(spec, 2, random=lambda: 0.0) == 0.0


def test_decide_uses_the_injected_random_source() -> None:
    draws = iter([0.1, 0.9])
    spec = RetrySpec(attempts=5, backoff=2.0, max_delay=30.0, jitter=True)
    error = errors.RequestTimeout("x")
    assert decide(spec, READ, 1, error, random=lambda: next(draws)).delay == pytest.approx(0.2)
    assert decide(spec, READ, 2, error, random=lambda: next(draws)).delay == pytest.approx(3.6)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    spec = RetrySpec(attempts=10_000, backoff=1.0, max_delay=30.0, jitter=False)
    assert backoff_delay(spec, 5000) == 30.0


def with_retry_after(seconds: float | None) -> errors.ApiError:
    error = api(errors.TransientApiError, 503)
    error.rate_limit = RateLimitInfo(None, None, retry_after=seconds)  # type: ignore[attr-defined]
    return error


def test_retry_after_replaces_the_backoff() -> None:
    spec = RetrySpec(attempts=3, backoff=0.5, max_delay=30.0, jitter=True)
    decision = decide(spec, READ, 1, with_retry_after(7), random=lambda: 0.5)
    assert decision.retry and decision.delay == 7.0


def test_retry_after_is_capped_by_max_delay() -> None:
    spec = RetrySpec(attempts=3, backoff=0.5, max_delay=30.0)
    assert decide(spec, READ, 1, with_retry_after(3600)).delay == 30.0


def test_retry_after_never_makes_an_unsafe_write_retryable() -> None:
    assert not decide(NO_JITTER, OTHER_WRITE, 1, with_retry_after(1)).retry


def test_retry_after_reads_only_sane_values() -> None:
    assert retry_after(with_retry_after(2.5)) == 2.5
    assert retry_after(with_retry_after(None)) is None
    assert retry_after(errors.ConnectionDropped("no response, no headers")) is None
    assert retry_after(with_retry_after(-1)) is None

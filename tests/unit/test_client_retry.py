"""ApiClient's retries, rate-limit waits and pacing, at the wire (requests-mock).

Every client here gets a recording ``sleep`` and a fixed jitter draw: nothing sleeps for real,
and every delay is known.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from client_support import client_kwargs

from igflow import errors
from igflow.client import ApiClient, Timeouts
from igflow.pacing import Pacer
from igflow.playbook.model import RetrySpec
from igflow.redact import Redactor
from igflow.registry import Registry, load_registry
from igflow.settings import ClientHooks, ClientSettings
from igflow.target import TargetSession

ORIGIN = "http://sandbox.test"
TOKEN = "493881988.0b9e96a.779354c34d7b459d8ed3de0e077a7f2b"
CLIENT_ID = "0b9e96a58dda43b99efc5b60b168c4e5"
SECRET = "6dc1787668c64c939929c17683d7cb74"
OK = {"meta": {"code": 200}, "data": {"id": "1"}}
MEDIA = "1_2"

SELF_URL = f"{ORIGIN}/v1/users/self"
COMMENTS_URL = f"{ORIGIN}/v1/media/{MEDIA}/comments"
LIKES_URL = f"{ORIGIN}/v1/media/{MEDIA}/likes"


def meta_error(error_type: str, message: str, code: int) -> dict[str, Any]:
    return {"meta": {"error_type": error_type, "code": code, "error_message": message}}


SERVER_ERROR = {"status_code": 503, "json": meta_error("APIError", "Oops, an error occurred.", 503)}
RATE_LIMITED = {
    "status_code": 429,
    "json": meta_error(
        "OAuthRateLimitException", "The maximum number of requests per hour has been exceeded.", 429
    ),
    "headers": {"X-Ratelimit-Limit": "500", "X-Ratelimit-Remaining": "0"},
}
SUCCESS = {"json": OK}


def dropped() -> dict[str, Any]:
    return {"exc": requests.exceptions.ConnectionError(ConnectionResetError(104, "reset"))}


def refused() -> dict[str, Any]:
    return {"exc": requests.exceptions.ConnectionError(ConnectionRefusedError(111, "refused"))}


def timed_out() -> dict[str, Any]:
    return {
        "exc": requests.exceptions.ReadTimeout(f"read timeout on {SELF_URL}?access_token={TOKEN}")
    }


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry("instagram.v1")


class Recorder:
    """Collects sleeps and the client's retry and wait reports."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.retries: list[tuple[int, float, str]] = []
        self.waits: list[tuple[float, str]] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def on_retry(self, attempt: int, delay: float, message: str) -> None:
        self.retries.append((attempt, delay, message))

    def on_wait(self, seconds_left: float, message: str) -> None:
        self.waits.append((seconds_left, message))


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def make_client(registry: Registry, rec: Recorder, **kwargs: Any) -> ApiClient:
    kwargs.setdefault("redactor", Redactor())
    kwargs.setdefault("random_source", lambda: 0.5)
    return ApiClient(
        registry,
        ORIGIN,
        **client_kwargs(
            sleep=rec.sleep, on_retry=rec.on_retry, on_rate_limit_wait=rec.on_wait, **kwargs
        ),
    )


@pytest.fixture
def client(registry: Registry, rec: Recorder) -> ApiClient:
    return make_client(registry, rec)


def read(client: ApiClient, registry: Registry) -> Any:
    return client.call(registry.get("users.self"), {}, token=TOKEN)


def post_comment(client: ApiClient, registry: Registry) -> Any:
    return client.call(
        registry.get("comments.create"), {"media_id": MEDIA, "text": "Nice!"}, token=TOKEN
    )


def unlike(client: ApiClient, registry: Registry) -> Any:
    return client.call(registry.get("likes.delete"), {"media_id": MEDIA}, token=TOKEN)


# -- reads --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [SERVER_ERROR, dropped(), timed_out()], ids=["503", "dropped", "timeout"]
)
def test_a_read_is_retried(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any, failure: Any
) -> None:
    requests_mock.get(SELF_URL, [failure, SUCCESS])
    assert read(client, registry).data == {"id": "1"}
    assert requests_mock.call_count == 2
    assert rec.sleeps == [0.25]  # backoff 0.5 s for the first retry, times the 0.5 draw
    ((attempt, delay, message),) = rec.retries
    assert (attempt, delay) == (1, 0.25)
    assert message.startswith("users.self: attempt 1 of 3 failed (")
    assert message.endswith("); retrying in 0.2 s (a read)")


def test_backoff_doubles_between_attempts(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    requests_mock.get(SELF_URL, [SERVER_ERROR, SERVER_ERROR, SUCCESS])
    read(client, registry)
    assert rec.sleeps == [0.25, 0.5]
    assert [attempt for attempt, _, _ in rec.retries] == [1, 2]


def test_a_page_is_retried(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    url = f"{ORIGIN}/v1/users/self/media/liked"
    requests_mock.get(url, [SERVER_ERROR, SUCCESS])
    page = client.get_next(
        f"{url}?count=33&max_like_id=9&access_token={TOKEN}",
        endpoint=registry.get("users.media_liked"),
        token=TOKEN,
    )
    assert page.data == {"id": "1"}
    assert requests_mock.call_count == 2


def test_a_truncated_body_is_retried_for_a_read_but_an_html_page_is_not(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    requests_mock.get(SELF_URL, [{"content": b'{"meta": {"code": 200}, "da'}, SUCCESS])
    read(client, registry)
    assert requests_mock.call_count == 2

    requests_mock.reset_mock()
    requests_mock.get(SELF_URL, [{"content": b"<html>proxy login</html>"}, SUCCESS])
    with pytest.raises(errors.MalformedResponse):
        read(client, registry)
    assert requests_mock.call_count == 1


# -- writes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [SERVER_ERROR, dropped(), timed_out()], ids=["503", "dropped", "timeout"]
)
def test_a_non_idempotent_write_is_not_retried_when_it_may_have_been_applied(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any, failure: Any
) -> None:
    requests_mock.post(COMMENTS_URL, [failure, SUCCESS])
    with pytest.raises((errors.TransientApiError, errors.TransportError)) as info:
        post_comment(client, registry)
    assert requests_mock.call_count == 1
    assert rec.sleeps == [] and rec.retries == []
    assert info.value.message.endswith(
        "(not retried: comments.create is not idempotent and may have been applied)"
    )


@pytest.mark.parametrize("failure", [SERVER_ERROR, dropped()], ids=["503", "dropped"])
def test_an_idempotent_write_is_retried(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any, failure: Any
) -> None:
    requests_mock.delete(LIKES_URL, [failure, SUCCESS])
    unlike(client, registry)
    assert requests_mock.call_count == 2
    assert rec.retries[0][2].endswith("(likes.delete is idempotent)")


@pytest.mark.parametrize("endpoint", ["comments.create", "likes.create", "subscriptions.create"])
def test_a_refused_connection_is_retried_for_any_write(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any, endpoint: str
) -> None:
    target = registry.get(endpoint)
    requests_mock.register_uri(target.method, re.compile(r".*"), [refused(), SUCCESS])
    params = {
        "comments.create": {"media_id": MEDIA, "text": "Nice!"},
        "likes.create": {"media_id": MEDIA},
        "subscriptions.create": {
            "object": "user",
            "aspect": "media",
            "callback_url": "http://127.0.0.1:9/cb",
        },
    }[endpoint]
    token = TOKEN if target.auth == "token" else None
    client = make_client(registry, rec, client_id=CLIENT_ID, client_secret=SECRET)
    client.call(target, params, token=token)
    assert requests_mock.call_count == 2
    assert rec.retries[0][2].endswith("(nothing was sent)")


def test_a_retry_resends_the_very_same_signed_request(
    registry: Registry, rec: Recorder, requests_mock: Any
) -> None:
    client = make_client(
        registry, rec, client_id=CLIENT_ID, client_secret=SECRET, sign_requests=True
    )
    requests_mock.post(COMMENTS_URL, [refused(), SUCCESS])
    post_comment(client, registry)
    first, second = requests_mock.request_history
    assert (first.method, first.url, first.body) == (second.method, second.url, second.body)
    assert "sig" in parse_qs(second.body)


def test_a_refused_connection_after_an_attempt_in_doubt_does_not_hide_it(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    """The runner reads ConnectError as "not sent": after a dropped unlike it must not see one."""
    requests_mock.delete(LIKES_URL, [dropped(), refused(), refused()])
    with pytest.raises(errors.ConnectionDropped) as info:
        unlike(client, registry)
    assert requests_mock.call_count == 3
    assert "connection dropped" in info.value.message
    assert info.value.message.endswith("gave up after 3 attempts)")
    assert "attempt 3: connection refused" in info.value.message


# -- never retried ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            400,
            meta_error("OAuthAccessTokenException", "The access_token provided is invalid.", 400),
            errors.AuthError,
        ),
        (
            400,
            meta_error("APIInvalidParametersError", "Count must be larger than zero.", 400),
            errors.InvalidRequestError,
        ),
        (
            400,
            meta_error("APINotFoundError", "this user does not exist", 400),
            errors.NotFoundError,
        ),
        (
            400,
            meta_error("OAuthPermissionsException", "This request requires scope=likes", 400),
            errors.ApiPermissionError,
        ),
        (401, None, errors.ApiError),
        (
            403,
            meta_error("OAuthForbiddenException", "Invalid signed-request: Missing 'sig'", 403),
            errors.ApiPermissionError,
        ),
        (404, None, errors.NotFoundError),
    ],
)
@pytest.mark.parametrize("endpoint", ["users.self", "likes.delete"])
def test_client_errors_are_never_retried(
    registry: Registry,
    client: ApiClient,
    rec: Recorder,
    requests_mock: Any,
    status: int,
    body: Any,
    cls: type[errors.ApiError],
    endpoint: str,
) -> None:
    target = registry.get(endpoint)
    answer = {"status_code": status, **({"json": body} if body else {"text": "nope"})}
    requests_mock.register_uri(target.method, re.compile(r".*"), [answer, SUCCESS])
    params = {"media_id": MEDIA} if endpoint == "likes.delete" else {}
    with pytest.raises(cls) as info:
        client.call(target, params, token=TOKEN)
    assert requests_mock.call_count == 1
    assert rec.sleeps == [] and rec.retries == []
    assert "retried" not in info.value.message and "attempt" not in info.value.message


def test_exhausted_attempts_say_how_many_were_made(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    requests_mock.get(SELF_URL, [SERVER_ERROR] * 5)
    with pytest.raises(errors.TransientApiError) as info:
        read(client, registry)
    assert requests_mock.call_count == 3
    assert info.value.message == "Oops, an error occurred. (gave up after 3 attempts)"
    assert str(info.value) == (
        "users.self: APIError: Oops, an error occurred. (gave up after 3 attempts) [503]"
    )
    assert len(rec.retries) == 2


def test_a_call_can_bring_its_own_retry_settings(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    requests_mock.get(SELF_URL, [SERVER_ERROR] * 5 + [SUCCESS])
    spec = RetrySpec(attempts=6, backoff=1.0, max_delay=3.0, jitter=False)
    client.call(registry.get("users.self"), {}, token=TOKEN, retry=spec)
    assert rec.sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]

    requests_mock.reset_mock()
    requests_mock.get(SELF_URL, [SERVER_ERROR, SUCCESS])
    with pytest.raises(errors.TransientApiError):
        client.call(registry.get("users.self"), {}, token=TOKEN, retry=RetrySpec(attempts=1))
    assert requests_mock.call_count == 1


def test_the_client_default_applies_to_calls_without_settings(
    registry: Registry, rec: Recorder, requests_mock: Any
) -> None:
    client = make_client(registry, rec, retry=RetrySpec(attempts=2, jitter=False))
    requests_mock.get(SELF_URL, [SERVER_ERROR] * 3)
    with pytest.raises(errors.TransientApiError, match="gave up after 2 attempts"):
        read(client, registry)
    assert rec.sleeps == [0.5]


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("3600", 30.0)])
def test_retry_after_is_honoured_and_capped(
    registry: Registry,
    client: ApiClient,
    rec: Recorder,
    requests_mock: Any,
    header: str,
    expected: float,
) -> None:
    answer = {**SERVER_ERROR, "headers": {"Retry-After": header}}
    requests_mock.get(SELF_URL, [answer, SUCCESS])
    read(client, registry)
    assert rec.sleeps == [expected]


def test_retry_after_as_an_http_date(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    headers = {
        "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
        "Retry-After": "Wed, 21 Oct 2015 07:28:12 GMT",
    }
    requests_mock.get(SELF_URL, [{**SERVER_ERROR, "headers": headers}, SUCCESS])
    read(client, registry)
    assert rec.sleeps == [12.0]


def test_retry_reports_never_show_the_token(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    echo = {
        "status_code": 500,
        "json": meta_error("APIError", f"bad token {TOKEN}", 500),
    }
    requests_mock.get(SELF_URL, [timed_out(), dropped(), echo, SUCCESS])
    client.call(registry.get("users.self"), {}, token=TOKEN, retry=RetrySpec(attempts=4))
    messages = [message for _, _, message in rec.retries]
    assert len(messages) == 3
    assert all(TOKEN not in message for message in messages)
    assert "access_token=***" in messages[1]  # a transport error names the (redacted) URL
    assert "bad token ***" in messages[2]


# -- spent rate limits ----------------------------------------------------------------------------


def test_a_spent_rate_limit_halts_by_default(
    registry: Registry, client: ApiClient, rec: Recorder, requests_mock: Any
) -> None:
    requests_mock.get(SELF_URL, [RATE_LIMITED, SUCCESS])
    with pytest.raises(errors.OAuthRateLimitException) as info:
        read(client, registry)
    assert requests_mock.call_count == 1
    assert rec.sleeps == [] and rec.waits == []
    assert info.value.message == "The maximum number of requests per hour has been exceeded."


def test_wait_resends_after_the_limit_recovers_with_a_countdown(
    registry: Registry, rec: Recorder, requests_mock: Any
) -> None:
    client = make_client(registry, rec, rate_limit_policy="wait", rate_limit_wait=3)
    requests_mock.get(SELF_URL, [RATE_LIMITED, RATE_LIMITED, SUCCESS])
    assert read(client, registry).data == {"id": "1"}
    assert requests_mock.call_count == 3
    assert rec.sleeps == [1.0] * 6
    assert [left for left, _ in rec.waits] == [3.0, 2.0, 1.0, 0.0] * 2
    first, second = rec.waits[0][1], rec.waits[4][1]
    assert first == (
        "users.self: the API's rate limit is spent (OAuthRateLimitException: The maximum number "
        "of requests per hour has been exceeded. [429]); trying again in 3.0 s (waited 0.0 s of "
        "at most 60 min)"
    )
    assert "(waited 3.0 s of at most 60 min)" in second
    assert rec.retries == []  # waits are not retries


def test_wait_resends_even_a_non_idempotent_write(
    registry: Registry, rec: Recorder, requests_mock: Any
) -> None:
    """A 429 means the API refused the request before doing anything: resending is safe."""
    client = make_client(registry, rec, rate_limit_policy="wait", rate_limit_wait=1)
    requests_mock.post(COMMENTS_URL, [RATE_LIMITED, SUCCESS])
    post_comment(client, registry)
    assert requests_mock.call_count == 2


def test_waiting_does_not_use_up_attempts(
    registry: Registry, rec: Recorder, requests_mock: Any
) -> None:
    client = make_client(registry, rec, rate_limit_policy="wait", rate_limit_wait=1)
    requests_mock.get(SELF_URL, [RATE_LIMITED, SERVER_ERROR, RATE_LIMITED, SERVER_ERROR, SUCCESS])
    read(client, registry)
    assert requests_mock.call_count == 5
    assert [attempt for attempt, _, _ in rec.retries] == [1, 2]


def test_wait_gives_up_after_the_most_it_may_wait(
    registry: Registry, rec: Recorder, requests_mock: Any
) -> None:
    client = make_client(
        registry, rec, rate_limit_policy="wait", rate_limit_wait=5, rate_limit_max_wait=12
    )
    requests_mock.get(SELF_URL, [RATE_LIMITED] * 10)
    with pytest.raises(errors.OAuthRateLimitException) as info:
        read(client, registry)
    assert sum(rec.sleeps) == 12.0
    assert requests_mock.call_count == 4  # after 0, 5, 10 and 12 seconds
    assert info.value.message.endswith(
        "(still rate limited after waiting 12 s, the most one call waits)"
    )


def test_wait_honours_retry_after_but_waits_at_least_a_second(
    registry: Registry, rec: Recorder, requests_mock: Any
) -> None:
    client = make_client(registry, rec, rate_limit_policy="wait", rate_limit_wait=60)
    with_header = {**RATE_LIMITED, "headers": {"Retry-After": "2"}}
    zero = {**RATE_LIMITED, "headers": {"Retry-After": "0"}}
    requests_mock.get(SELF_URL, [with_header, zero, SUCCESS])
    read(client, registry)
    assert rec.sleeps == [1.0, 1.0, 1.0]


def test_bad_rate_limit_settings_are_refused(registry: Registry, rec: Recorder) -> None:
    with pytest.raises(errors.UsageError, match="halt or wait"):
        make_client(registry, rec, rate_limit_policy="retry")


# -- pacing through the client ----------------------------------------------------------------


def test_the_client_paces_from_the_headers_of_every_response(
    registry: Registry, rec: Recorder, requests_mock: Any
) -> None:
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0], sleep=rec.sleep, on_wait=rec.on_wait)
    client = make_client(registry, rec, pacer=pacer)
    low = {"X-Ratelimit-Limit": "500", "X-Ratelimit-Remaining": "40"}
    requests_mock.get(
        SELF_URL,
        [
            {"json": OK},  # no headers: never a wait
            {"json": OK, "headers": low},
            {**SERVER_ERROR, "headers": low},  # an error's headers count too
            {"json": OK},
        ],
    )
    read(client, registry)
    read(client, registry)
    assert rec.sleeps == []
    read(client, registry)  # held back 60 s (3600 / 40 = 90, capped), then the 503 is retried
    assert rec.sleeps[:60] == [1.0] * 60  # the pacing countdown
    assert rec.sleeps[60] == 0.25  # the retry's backoff
    assert rec.waits[0] == (
        60.0,
        "rate limit: 40 of 500 requests left this hour; pacing to one request every 60 s so "
        "they last",
    )


def test_budgets_are_kept_per_token_and_bucket(registry: Registry, rec: Recorder) -> None:
    client = make_client(registry, rec)
    like = client._prepare(registry.get("likes.create"), {"media_id": MEDIA}, TOKEN)
    me = client._prepare(registry.get("users.self"), {}, TOKEN)
    other = client._prepare(registry.get("users.self"), {}, "1.2.3")
    assert like.budget.endswith("/likes") and me.budget.endswith("/global")
    assert like.budget.split("/")[0] == me.budget.split("/")[0] != other.budget.split("/")[0]
    assert TOKEN not in like.budget


# -- TargetSession hands the settings to every client ------------------------------------------


def test_target_session_passes_its_settings_and_shares_one_pacer(
    registry: Registry, rec: Recorder
) -> None:
    spec = RetrySpec(attempts=7)
    with TargetSession(
        "http://127.0.0.1:9",
        registry=registry,
        redactor=Redactor(),
        settings=ClientSettings(
            timeouts=Timeouts(),
            retry=spec,
            rate_limit_policy="wait",
            rate_limit_wait=5,
            rate_limit_max_wait=50,
        ),
        hooks=ClientHooks(on_retry=rec.on_retry, on_rate_limit_wait=rec.on_wait, sleep=rec.sleep),
    ) as session:
        first = session.authorize(
            scopes=["basic"], user=None, password=None, client=None, token=TOKEN
        )
        second = session._client("another")
    for client in (first.client, second):
        assert client.retry is spec
        assert client.rate_limit_policy == "wait"
        assert (client.rate_limit_wait, client.rate_limit_max_wait) == (5, 50)
        assert client.on_retry == rec.on_retry and client.on_rate_limit_wait == rec.on_wait
    assert first.client.pacer is second.pacer


def test_target_session_refuses_a_bad_policy(registry: Registry) -> None:
    with pytest.raises(errors.UsageError, match="halt or wait"):
        TargetSession(
            "http://127.0.0.1:9",
            registry=registry,
            redactor=Redactor(),
            settings=ClientSettings(rate_limit_policy="sometimes"),
        )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "is nested too deeply to read"),
        (b'{"meta": {"code": 200}, "data": ' + b"9" * 100_000 + b"}", "holds a number too long"),
        (b'{"meta": {"code": 200}, "data": "\xff\xfe"}', "is not UTF-8 text"),
    ],
    ids=["deep", "long-number", "not-utf8"],
)
def test_a_complete_body_igflow_cannot_read_is_not_called_cut_short(
    registry: Registry, client: ApiClient, requests_mock: Any, content: bytes, why: str
) -> None:
    """Hostile test F7: these were reported as 'looks cut short' and retried three times."""
    requests_mock.get(SELF_URL, [{"content": content}, SUCCESS])
    with pytest.raises(errors.MalformedResponse) as raised:
        read(client, registry)
    assert why in raised.value.message and "cut short" not in raised.value.message
    assert raised.value.truncated is False
    assert requests_mock.call_count == 1  # the same body would come back

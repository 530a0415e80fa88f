"""ApiClient: wire-level behaviour with requests-mock, plus real loopback sockets for failures."""

from __future__ import annotations

import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from client_support import client_kwargs

from igflow import errors
from igflow.client import ApiClient, ApiResponse, Exchange, RateLimitInfo, Timeouts, render_value
from igflow.pacing import Pacer
from igflow.playbook.model import RetrySpec
from igflow.redact import Redactor
from igflow.registry import Registry, load_registry
from igflow.signing import sign, signature_matches

ORIGIN = "http://sandbox.test"
TOKEN = "493881988.0b9e96a.779354c34d7b459d8ed3de0e077a7f2b"
CLIENT_ID = "0b9e96a58dda43b99efc5b60b168c4e5"
SECRET = "6dc1787668c64c939929c17683d7cb74"
DOC_TOKEN = "fb2e77d.47a0479900504cb3ab4a1f626d174d2d"
OK = {"meta": {"code": 200}, "data": {"id": "1"}}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry("instagram.v1")


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"these tests send one request per call; slept {seconds}")


def make_client(registry: Registry, origin: str = ORIGIN, **kwargs: Any) -> ApiClient:
    """A client that makes a single attempt and never paces: the wire-level behaviour of one
    exchange (retries, pacing and rate-limit waits: test_client_retry.py, test_pacing.py)."""
    kwargs.setdefault("redactor", Redactor())
    kwargs.setdefault("retry", RetrySpec(attempts=1))
    kwargs.setdefault("pacer", Pacer(sleep=no_sleep))
    return ApiClient(registry, origin, **client_kwargs(**kwargs))


@pytest.fixture
def client(registry: Registry) -> ApiClient:
    return make_client(registry, client_id=CLIENT_ID, client_secret=SECRET)


def query_of(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


def form_of(request: Any) -> dict[str, list[str]]:
    return parse_qs(request.body or "", keep_blank_values=True)


# -- building requests ---------------------------------------------------------------------------


def test_get_puts_token_in_query_and_returns_response(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(
        f"{ORIGIN}/v1/users/self",
        json=OK,
        headers={"X-Ratelimit-Limit": "500", "X-Ratelimit-Remaining": "499"},
    )
    response = client.call(registry.get("users.self"), {}, token=TOKEN)
    assert isinstance(response, ApiResponse)
    assert query_of(requests_mock.last_request) == {"access_token": [TOKEN]}
    assert requests_mock.last_request.body is None
    assert response.status == 200
    assert response.data == {"id": "1"}
    assert response.rate_limit == RateLimitInfo(limit=500, remaining=499)
    assert response.method == "GET"
    assert response.endpoint_id == "users.self"
    assert response.url == f"{ORIGIN}/v1/users/self?access_token=***"
    assert response.elapsed >= 0
    assert requests_mock.last_request.headers["User-Agent"].startswith("igflow/")


def test_query_values_are_rendered_and_none_omitted(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/media/search", json=OK)
    client.call(
        registry.get("media.search"), {"lat": 48.85, "count": 3, "distance": None}, token=TOKEN
    )
    assert query_of(requests_mock.last_request) == {
        "lat": ["48.85"],
        "count": ["3"],
        "access_token": [TOKEN],
    }


def test_auth_none_sends_no_credentials_even_when_signing(
    registry: Registry, requests_mock: Any
) -> None:
    client = make_client(registry, client_id=CLIENT_ID, client_secret=SECRET, sign_requests=True)
    requests_mock.get(f"{ORIGIN}/oembed", json={"version": "1.0"})
    response = client.call(
        registry.get("oembed.get"),
        {
            "url": "https://www.instagram.com/p/Bcizg1_B3nu/",
            "omitscript": True,
            "hidecaption": False,
        },
        token=TOKEN,
    )
    assert query_of(requests_mock.last_request) == {
        "url": ["https://www.instagram.com/p/Bcizg1_B3nu/"],
        "omitscript": ["true"],
        "hidecaption": ["false"],
    }
    assert response.data is None  # not an envelope
    assert response.body == {"version": "1.0"}


def test_path_params_are_encoded(registry: Registry, client: ApiClient, requests_mock: Any) -> None:
    requests_mock.get(f"{ORIGIN}/v1/tags/a%2Fb/media/recent", json=OK)
    client.call(registry.get("tags.media_recent"), {"tag_name": "a/b"}, token=TOKEN)
    assert (
        requests_mock.last_request.url
        == f"{ORIGIN}/v1/tags/a%2Fb/media/recent?access_token={TOKEN}"
    )


def test_missing_path_param_is_a_usage_error(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    with pytest.raises(errors.UsageError, match="media_id"):
        client.call(registry.get("media.get"), {}, token=TOKEN)
    assert requests_mock.call_count == 0


def test_post_sends_form_body_with_token(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.post(
        f"{ORIGIN}/v1/media/1_2/comments", json={"meta": {"code": 200}, "data": None}
    )
    client.call(
        registry.get("comments.create"),
        {"media_id": "1_2", "text": "Nice shot & more"},
        token=TOKEN,
    )
    request = requests_mock.last_request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert urlsplit(request.url).query == ""
    assert form_of(request) == {"text": ["Nice shot & more"], "access_token": [TOKEN]}


def test_undeclared_params_follow_the_method(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.post(f"{ORIGIN}/v1/media/1_2/likes", json=OK)
    client.call(registry.get("likes.create"), {"media_id": "1_2", "extra": 1}, token=TOKEN)
    assert form_of(requests_mock.last_request) == {"extra": ["1"], "access_token": [TOKEN]}


def test_delete_puts_token_in_query(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.delete(f"{ORIGIN}/v1/media/1_2/likes", json={"meta": {"code": 200}, "data": None})
    client.call(registry.get("likes.delete"), {"media_id": "1_2"}, token=TOKEN)
    assert query_of(requests_mock.last_request) == {"access_token": [TOKEN]}
    assert not requests_mock.last_request.body


def test_client_auth_sends_client_credentials(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/subscriptions", json={"meta": {"code": 200}, "data": []})
    requests_mock.post(f"{ORIGIN}/v1/subscriptions", json=OK)
    client.call(registry.get("subscriptions.list"), {}, token=TOKEN)
    assert query_of(requests_mock.last_request) == {
        "client_id": [CLIENT_ID],
        "client_secret": [SECRET],
    }
    client.call(
        registry.get("subscriptions.create"),
        {"object": "user", "aspect": "media", "callback_url": "http://127.0.0.1:9/cb"},
        token=None,
    )
    form = form_of(requests_mock.last_request)
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == [SECRET]
    assert "access_token" not in form


@pytest.mark.parametrize(
    ("endpoint_id", "params", "token", "kwargs", "message"),
    [
        ("users.self", {}, None, {}, "no access token: add an `authorize` step before"),
        ("users.self", {}, "", {}, "no access token"),
        ("comments.create", {"media_id": "1", "text": "x"}, None, {}, "no access token"),
        ("subscriptions.list", {}, TOKEN, {"client_id": CLIENT_ID}, "no client credentials"),
    ],
)
def test_missing_credentials_send_nothing(
    registry: Registry,
    requests_mock: Any,
    endpoint_id: str,
    params: dict[str, Any],
    token: str | None,
    kwargs: dict[str, Any],
    message: str,
) -> None:
    client = make_client(registry, **kwargs)
    with pytest.raises(errors.AuthenticationError, match=message):
        client.call(registry.get(endpoint_id), params, token=token)
    assert requests_mock.call_count == 0


def test_render_value() -> None:
    assert [render_value(v) for v in (True, False, 3, 1.5, "x")] == [
        "true",
        "false",
        "3",
        "1.5",
        "x",
    ]


@pytest.mark.parametrize("origin", ["127.0.0.1:8765", "ftp://host", "http://host/v1", "http://"])
def test_origin_must_be_an_http_origin(registry: Registry, origin: str) -> None:
    with pytest.raises(errors.UsageError):
        make_client(registry, origin)


def test_signing_needs_a_secret(registry: Registry) -> None:
    with pytest.raises(errors.UsageError, match="client secret"):
        make_client(registry, sign_requests=True)


def test_client_secret_is_added_to_redactor(registry: Registry) -> None:
    redactor = Redactor()
    make_client(registry, redactor=redactor, client_id=CLIENT_ID, client_secret="a-client-secret")
    assert redactor.redact("x a-client-secret y") == "x *** y"


# -- signed requests ----------------------------------------------------------------------------


@pytest.fixture
def signing(registry: Registry) -> ApiClient:
    return make_client(registry, client_id=CLIENT_ID, client_secret=SECRET, sign_requests=True)


def test_sig_on_get_matches_doc_vector(
    registry: Registry, signing: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", json=OK)
    signing.call(registry.get("users.self"), {}, token=DOC_TOKEN)
    sent = query_of(requests_mock.last_request)
    assert sent["sig"] == ["cbf5a1f41db44412506cb6563a3218b50f45a710c7a8a65a3e9b18315bb338bf"]


def test_sig_covers_every_query_param(
    registry: Registry, signing: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/media/657988443280050001_25025320", json=OK)
    # `count` is not declared on media.get: an undeclared param goes to the query for GET.
    signing.call(
        registry.get("media.get"),
        {"media_id": "657988443280050001_25025320", "count": 10},
        token=DOC_TOKEN,
    )
    sent = query_of(requests_mock.last_request)
    assert sent["sig"] == ["260634b241a6cfef5e4644c205fb30246ff637591142781b86e2075faf1b163a"]


def test_sig_on_post_covers_form_fields(
    registry: Registry, signing: ApiClient, requests_mock: Any
) -> None:
    requests_mock.post(f"{ORIGIN}/v1/media/657988443280050001_25025320/comments", json=OK)
    signing.call(
        registry.get("comments.create"),
        {"media_id": "657988443280050001_25025320", "text": "Nice shot"},
        token=DOC_TOKEN,
    )
    form = form_of(requests_mock.last_request)
    assert form["sig"] == ["4727f9fbaa1b4faa25af9eb63b4af91f51d82ecb4f50e0f3bc7ab06e7c168afe"]
    assert "sig" not in query_of(requests_mock.last_request)


def test_sig_on_client_auth_includes_secret(
    registry: Registry, signing: ApiClient, requests_mock: Any
) -> None:
    requests_mock.delete(f"{ORIGIN}/v1/subscriptions", json={"meta": {"code": 200}, "data": None})
    signing.call(registry.get("subscriptions.delete"), {"object": "all"}, token=None)
    sent = {k: v[0] for k, v in query_of(requests_mock.last_request).items()}
    assert set(sent) == {"object", "client_id", "client_secret", "sig"}
    assert signature_matches("/subscriptions", sent, SECRET, [sent["sig"]])


def test_no_sig_when_signing_is_off(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", json=OK)
    client.call(registry.get("users.self"), {}, token=TOKEN)
    assert "sig" not in query_of(requests_mock.last_request)


# -- next_url -----------------------------------------------------------------------------------


def test_next_url_same_origin_is_followed_and_resigned(
    registry: Registry, signing: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self/media/recent", json=OK)
    endpoint = registry.get("users.media_recent_self")
    next_url = (
        f"{ORIGIN}/v1/users/self/media/recent?count=2&max_id=77&access_token={TOKEN}&sig=stale"
    )
    signing.get_next(next_url, endpoint=endpoint, token=TOKEN)
    sent = {k: v for k, v in query_of(requests_mock.last_request).items()}
    assert sent["max_id"] == ["77"] and sent["count"] == ["2"] and sent["access_token"] == [TOKEN]
    assert len(sent["sig"]) == 1
    params = {k: v[0] for k, v in sent.items() if k != "sig"}
    assert sent["sig"][0] == sign("/users/self/media/recent", params, SECRET)


def test_next_url_gets_current_token_when_absent(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self/follows", json=OK)
    client.get_next(
        "/v1/users/self/follows?cursor=abc",
        endpoint=registry.get("relationships.follows"),
        token=TOKEN,
    )
    assert query_of(requests_mock.last_request) == {"cursor": ["abc"], "access_token": [TOKEN]}


def test_next_url_with_its_own_token_needs_no_current_token(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self/follows", json=OK)
    client.get_next(
        f"{ORIGIN}/v1/users/self/follows?cursor=1&access_token={TOKEN}",
        endpoint=registry.get("relationships.follows"),
        token=None,
    )
    assert query_of(requests_mock.last_request) == {"cursor": ["1"], "access_token": [TOKEN]}


def test_next_url_without_token_and_no_current_token_sends_nothing(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    with pytest.raises(errors.AuthenticationError, match="no access token"):
        client.get_next(
            f"{ORIGIN}/v1/users/self/follows?cursor=1",
            endpoint=registry.get("relationships.follows"),
            token=None,
        )
    assert requests_mock.call_count == 0


def test_next_url_default_port_is_same_origin(registry: Registry, requests_mock: Any) -> None:
    client = make_client(registry, "https://api.instagram.com")
    requests_mock.get("https://api.instagram.com/v1/users/self/follows", json=OK)
    client.get_next(
        "https://API.instagram.com:443/v1/users/self/follows?cursor=1",
        endpoint=registry.get("relationships.follows"),
        token=TOKEN,
    )
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    "next_url",
    [
        f"http://evil.test/v1/users/self/follows?cursor=1&access_token={TOKEN}",
        "https://sandbox.test/v1/users/self/follows?cursor=1",
        "http://sandbox.test:8080/v1/users/self/follows?cursor=1",
        "//evil.test/v1/users/self/follows",
        "http://sandbox.test:notaport/v1/x",
    ],
)
def test_next_url_other_origin_is_refused(
    registry: Registry, client: ApiClient, requests_mock: Any, next_url: str
) -> None:
    with pytest.raises(errors.SafetyError, match="points at another origin") as info:
        client.get_next(next_url, endpoint=registry.get("relationships.follows"), token=TOKEN)
    assert requests_mock.call_count == 0
    assert TOKEN not in str(info.value)


# -- responses and typed errors -----------------------------------------------------------------


def meta_error(error_type: str, message: str, code: int = 400) -> dict[str, Any]:
    return {"meta": {"error_type": error_type, "code": code, "error_message": message}}


# The error catalogue of legacy-v1-api.md §7.
CATALOGUE = [
    (
        "OAuthParameterException",
        400,
        "Missing client_id or access_token URL parameter.",
        errors.OAuthParameterException,
    ),
    (
        "OAuthAccessTokenException",
        400,
        "The access_token provided is invalid.",
        errors.OAuthAccessTokenException,
    ),
    (
        "OAuthClientException",
        400,
        "Missing client_secret URL parameter",
        errors.OAuthClientException,
    ),
    (
        "OAuthPermissionsException",
        400,
        "This client has not been approved to access this resource.",
        errors.OAuthPermissionsException,
    ),
    (
        "OAuthForbiddenException",
        403,
        "Invalid signed-request: Signature does not match",
        errors.OAuthForbiddenException,
    ),
    (
        "OAuthRateLimitException",
        429,
        "The maximum number of requests per hour has been exceeded.",
        errors.OAuthRateLimitException,
    ),
    ("APINotAllowedError", 400, "you cannot view this resource", errors.APINotAllowedError),
    ("APINotAllowedError", 400, "This endpoint has been retired", errors.RetiredEndpointError),
    ("APINotFoundError", 400, "invalid media id", errors.APINotFoundError),
    (
        "APIInvalidParametersError",
        400,
        "Count must be larger than zero.",
        errors.APIInvalidParametersError,
    ),
    ("APIRequiresAuthenticationError", 400, "", errors.APIRequiresAuthenticationError),
    (
        "APISubscriptionError",
        400,
        'Invalid "client_id" and/or "client_secret."',
        errors.APISubscriptionError,
    ),
    ("APIError", 500, "", errors.APIError),
    ("SomethingNew", 400, "Unable to reach callback URL http://x", errors.ApiError),
    ("SomethingNew", 500, "boom", errors.TransientApiError),
]


@pytest.mark.parametrize(("error_type", "status", "message", "cls"), CATALOGUE)
def test_meta_errors_map_to_classes(
    registry: Registry,
    client: ApiClient,
    requests_mock: Any,
    error_type: str,
    status: int,
    message: str,
    cls: type[errors.ApiError],
) -> None:
    requests_mock.get(
        f"{ORIGIN}/v1/users/self",
        status_code=status,
        json=meta_error(error_type, message, status),
        headers={"x-ratelimit-limit": "500", "X-RATELIMIT-REMAINING": "12"},
    )
    with pytest.raises(errors.ApiError) as info:
        client.call(registry.get("users.self"), {}, token=TOKEN)
    error = info.value
    assert type(error) is cls
    assert error.error_type == error_type
    assert error.status == status and error.code == status
    assert error.endpoint == "users.self"
    assert error.message == (message or f"HTTP {status}")
    assert error.rate_limit == RateLimitInfo(500, 12)  # type: ignore[attr-defined]


def test_error_envelope_in_a_2xx_is_still_an_error(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(
        f"{ORIGIN}/v1/users/self", json=meta_error("APINotFoundError", "this user does not exist")
    )
    with pytest.raises(errors.APINotFoundError):
        client.call(registry.get("users.self"), {}, token=TOKEN)


@pytest.mark.parametrize(
    ("status", "body", "cls", "error_type"),
    [
        (
            400,
            {"code": 400, "error_type": "OAuthException", "error_message": "Invalid Client Secret"},
            errors.OAuthError,
            "OAuthException",
        ),
        (
            403,
            {
                "code": 403,
                "error_type": "OAuthForbiddenException",
                "error_message": "You are not a sandbox user of this client",
            },
            errors.OAuthForbiddenException,
            "OAuthForbiddenException",
        ),
    ],
)
def test_oauth_style_bodies(
    registry: Registry,
    client: ApiClient,
    requests_mock: Any,
    status: int,
    body: dict[str, Any],
    cls: type[Exception],
    error_type: str,
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", status_code=status, json=body)
    with pytest.raises(cls) as info:
        client.call(registry.get("users.self"), {}, token=TOKEN)
    assert type(info.value) is cls
    assert info.value.error_type == error_type  # type: ignore[attr-defined]
    assert info.value.status == status  # type: ignore[attr-defined]
    assert body["error_message"] in str(info.value)


@pytest.mark.parametrize(
    ("status", "kwargs", "cls", "fragment"),
    [
        (
            429,
            {"json": {"code": 420, "error_message": "slow down"}},
            errors.RateLimitError,
            "slow down",
        ),
        (
            400,
            {"json": {"code": 429}},
            errors.RateLimitError,
            "rate limited by the API edge (code 429)",
        ),
        (429, {"content": b""}, errors.RateLimitError, "HTTP 429"),
        (
            503,
            {"content": b""},
            errors.TransientApiError,
            "HTTP 503 Service Unavailable with no body",
        ),
        (
            502,
            {
                "text": "<html><body><h1>502 Bad Gateway</h1></body></html>",
                "headers": {"Content-Type": "text/html"},
            },
            errors.TransientApiError,
            "<h1>502 Bad Gateway</h1>",
        ),
        (404, {"text": "<html>Not Found</html>"}, errors.NotFoundError, "Not Found"),
        (400, {"json": {"unexpected": True}}, errors.ApiError, '{"unexpected": true}'),
        (
            302,
            {"content": b"", "headers": {"Location": "http://elsewhere/"}},
            errors.ApiError,
            "HTTP 302",
        ),
    ],
)
def test_errors_without_api_envelope(
    registry: Registry,
    client: ApiClient,
    requests_mock: Any,
    status: int,
    kwargs: dict[str, Any],
    cls: type[errors.ApiError],
    fragment: str,
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", status_code=status, **kwargs)
    with pytest.raises(errors.ApiError) as info:
        client.call(registry.get("users.self"), {}, token=TOKEN)
    assert type(info.value) is cls
    assert info.value.status == status
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (
            {
                "text": '{"meta": {"code": 200}, "data": {"id": "1", "capt',
                "headers": {"Content-Type": "application/json"},
            },
            '{"meta": {"code": 200}, "data": {"id": "1", "capt',
        ),
        ({"text": "not json at all"}, "not json at all"),
        (
            {
                "text": "<!DOCTYPE html><html><title>Login</title></html>",
                "headers": {"Content-Type": "text/html"},
            },
            "content-type text/html",
        ),
        ({"content": b""}, "(empty body)"),
        ({"content": b"\xff\xfe\xfa garbage"}, "garbage"),
        ({"text": f"oops ?access_token={TOKEN} " + "x" * 500}, "access_token=***"),
    ],
)
def test_malformed_success_bodies(
    registry: Registry, client: ApiClient, requests_mock: Any, kwargs: dict[str, Any], fragment: str
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", status_code=200, **kwargs)
    with pytest.raises(errors.MalformedResponse) as info:
        client.call(registry.get("users.self"), {}, token=TOKEN)
    message = str(info.value)
    assert fragment in message
    assert "HTTP 200" in message
    assert TOKEN not in message
    assert len(message) < 400
    assert info.value.status == 200  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Ratelimit-Limit": "5000", "X-Ratelimit-Remaining": "4999"}, RateLimitInfo(5000, 4999)),
        ({"x-ratelimit-limit": "30", "X-RateLimit-Remaining": " 7 "}, RateLimitInfo(30, 7)),
        ({"X-Ratelimit-Limit": "lots", "X-Ratelimit-Remaining": "-1"}, RateLimitInfo(None, None)),
        ({"X-Ratelimit-Limit": "1.5", "X-Ratelimit-Remaining": ""}, RateLimitInfo(None, None)),
        ({"X-Ratelimit-Limit": "٣"}, RateLimitInfo(None, None)),
        ({}, RateLimitInfo(None, None)),
    ],
)
def test_rate_limit_headers(
    registry: Registry,
    client: ApiClient,
    requests_mock: Any,
    headers: dict[str, str],
    expected: RateLimitInfo,
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", json=OK, headers=headers)
    assert client.call(registry.get("users.self"), {}, token=TOKEN).rate_limit == expected


def test_rate_limit_from_plain_dict_any_casing() -> None:
    assert RateLimitInfo.from_headers({"x-RATELIMIT-limit": "9"}) == RateLimitInfo(9, None)


# -- exchanges (-v) -----------------------------------------------------------------------------


def test_on_exchange_receives_redacted_exchange(registry: Registry, requests_mock: Any) -> None:
    seen: list[Exchange] = []
    client = make_client(
        registry,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        sign_requests=True,
        on_exchange=seen.append,
    )
    requests_mock.post(
        f"{ORIGIN}/v1/media/1_2/comments",
        json={"meta": {"code": 200}, "data": {"echo": TOKEN}},
        headers={"X-Ratelimit-Remaining": "3"},
    )
    client.call(registry.get("comments.create"), {"media_id": "1_2", "text": "hi"}, token=TOKEN)
    (exchange,) = seen
    assert exchange.method == "POST" and exchange.status == 200
    assert exchange.url == f"{ORIGIN}/v1/media/1_2/comments"
    assert exchange.request_body is not None
    assert "text=hi" in exchange.request_body and "access_token=***" in exchange.request_body
    assert "sig=***" in exchange.request_body
    assert exchange.response_headers["X-Ratelimit-Remaining"] == "3"
    dump = repr(exchange)
    assert TOKEN not in dump and SECRET not in dump


def test_no_exchange_is_built_without_a_listener(
    registry: Registry, client: ApiClient, requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Exchange built on the hot path")

    monkeypatch.setattr(ApiClient, "_exchange", fail)
    requests_mock.get(f"{ORIGIN}/v1/users/self", json=OK)
    client.call(registry.get("users.self"), {}, token=TOKEN)


def test_exchange_is_reported_for_transport_failures(
    registry: Registry, requests_mock: Any
) -> None:
    seen: list[Exchange] = []
    client = make_client(registry, on_exchange=seen.append)
    requests_mock.get(f"{ORIGIN}/v1/users/self", exc=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(errors.RequestTimeout):
        client.call(registry.get("users.self"), {}, token=TOKEN)
    (exchange,) = seen
    assert exchange.status is None and exchange.error and "timed out" in exchange.error
    assert TOKEN not in repr(exchange)


# -- transport errors (mocked) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "cls", "fragment"),
    [
        (
            requests.exceptions.ConnectTimeout("x"),
            errors.RequestTimeout,
            "connect timed out after 5s",
        ),
        (requests.exceptions.ReadTimeout("x"), errors.RequestTimeout, "read timed out after 30s"),
        (
            requests.exceptions.ChunkedEncodingError("x"),
            errors.ConnectionDropped,
            "connection dropped",
        ),
        (
            requests.exceptions.ContentDecodingError("x"),
            errors.MalformedResponse,
            "could not be decoded",
        ),
        (
            requests.exceptions.SSLError(f"bad cert for /v1/users/self?access_token={TOKEN}"),
            errors.TransportError,
            "bad cert for /v1/users/self?access_token=***",
        ),
        (
            requests.exceptions.ConnectionError(
                ConnectionResetError(104, "Connection reset by peer")
            ),
            errors.ConnectionDropped,
            "(ConnectionResetError)",
        ),
    ],
)
def test_mocked_transport_errors(
    registry: Registry,
    client: ApiClient,
    requests_mock: Any,
    exc: Exception,
    cls: type[Exception],
    fragment: str,
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", exc=exc)
    with pytest.raises(errors.TransportError) as info:
        client.call(registry.get("users.self"), {}, token=TOKEN)
    assert type(info.value) is cls
    assert fragment in str(info.value)
    assert TOKEN not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_per_call_timeout_overrides_default(
    registry: Registry, client: ApiClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", exc=requests.exceptions.ReadTimeout("x"))
    with pytest.raises(errors.RequestTimeout, match=r"after 0\.25s"):
        client.call(
            registry.get("users.self"), {}, token=TOKEN, timeout=Timeouts(connect=1, read=0.25)
        )


# -- real sockets -------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def raw_server(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A one-connection TCP server on loopback; it stops itself within a few seconds."""
    stop = threading.Event()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(5)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)  # the request; small enough to arrive in one read on loopback
                handle(conn, stop)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=6)


def test_real_refused_connection(registry: Registry) -> None:
    origin = f"http://127.0.0.1:{closed_port()}"
    client = make_client(registry, origin, timeouts=Timeouts(connect=2, read=2))
    with pytest.raises(errors.ConnectError) as info:
        client.call(registry.get("users.self"), {}, token=TOKEN)
    text = str(info.value)
    assert (
        text
        == f"connection refused: {origin}/v1/users/self?access_token=*** (ConnectionRefusedError)"
    )
    assert TOKEN not in text and TOKEN not in repr(info.value.args)
    assert info.value.__cause__ is None and info.value.__context__ is None
    printed = "".join(traceback.format_exception(info.value))
    assert TOKEN not in printed and "ConnectionRefusedError" in printed


def test_real_read_timeout(registry: Registry) -> None:
    def stall(conn: socket.socket, stop: threading.Event) -> None:
        stop.wait(5)

    with raw_server(stall) as origin:
        client = make_client(registry, origin, timeouts=Timeouts(connect=1, read=0.3))
        with pytest.raises(errors.RequestTimeout, match=r"read timed out after 0.3s") as info:
            client.call(registry.get("users.self"), {}, token=TOKEN)
    assert TOKEN not in str(info.value)


def test_real_dropped_connection(registry: Registry) -> None:
    def hang_up(conn: socket.socket, stop: threading.Event) -> None:
        conn.shutdown(socket.SHUT_RDWR)

    with raw_server(hang_up) as origin:
        client = make_client(registry, origin, timeouts=Timeouts(connect=1, read=2))
        with pytest.raises(errors.ConnectionDropped) as info:
            client.call(registry.get("users.self"), {}, token=TOKEN)
    assert TOKEN not in str(info.value)


def test_real_truncated_body(registry: Registry) -> None:
    def truncate(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
            b'{"meta": {"code": 200}, "data": {"id"'
        )
        conn.shutdown(socket.SHUT_RDWR)

    with raw_server(truncate) as origin:
        client = make_client(registry, origin, timeouts=Timeouts(connect=1, read=2))
        with pytest.raises(errors.ConnectionDropped, match="connection dropped"):
            client.call(registry.get("users.self"), {}, token=TOKEN)


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[tuple[str, int]]] = set()

    def do_GET(self) -> None:
        type(self).connections.add(self.client_address)
        body = b'{"meta": {"code": 200}, "data": null}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_session_reuses_the_connection(registry: Registry) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        client = make_client(
            registry,
            f"http://127.0.0.1:{server.server_address[1]}",
            timeouts=Timeouts(connect=1, read=2),
        )
        with client:
            for _ in range(3):
                client.call(registry.get("users.self"), {}, token=TOKEN)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert len(_CountingHandler.connections) == 1

"""Conformance of the real sandbox (real handlers, default dataset) to the v1 contract, over
loopback HTTP with plain ``requests``: every registry endpoint, the §7 error catalogue, the §5.5
OAuth errors, pagination, rate-limit exhaustion, the §9 signing test vectors and the §12 eras.

The endpoint table is checked against ``load_registry().endpoints``: an endpoint added to the
registry without a conformance case fails ``test_every_registry_endpoint_has_a_case``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from test_sandbox_support import REDIRECT, authorize, client, implicit_token

from igflow.registry import Endpoint, load_registry
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.contract import ERAS
from igflow.sandbox.dataset import read_dataset
from igflow.sandbox.server import RunningSandbox, start_sandbox

JSON = "application/json; charset=utf-8"
JSONP = "text/javascript; charset=utf-8"
GRANT = "3657782666"
MAYA = "4021937711"
ROSA = "4523871145"  # private; grantwinney does not follow her
MEDIA = "1667121369441597934_3657782666"  # the seed photo, grantwinney's own
SHORTCODE = "Bcizg1_B3nu"
GOLDEN_GATE = "514276"
ALL_SCOPES = "public_content follower_list comments relationships likes"
REGISTRY = load_registry()


# ---- a realtime callback that answers the hub challenge (§11.2) ---------------------------------
class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        challenge = parse_qs(urlsplit(self.path).query).get("hub.challenge", [""])[0]
        body = challenge.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def callback_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class Env:
    """One served sandbox and the credentials the cases use."""

    url: str
    token: str  # grantwinney, every scope, default (sandbox-mode) client
    basic: str  # maya.bakes, basic only
    default: dict[str, Any]
    callback_url: str
    running: RunningSandbox

    def q(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """Read the sandbox's own tables: the store's truth to compare responses with."""
        with self.running.app.db.transaction() as conn:
            return [tuple(row) for row in conn.execute(sql, args).fetchall()]


@pytest.fixture(scope="module")
def env(callback_url: str) -> Iterator[Env]:
    with start_sandbox(SandboxConfig()) as running:
        url = running.url
        yield Env(
            url=url,
            token=implicit_token(url, ALL_SCOPES),
            basic=implicit_token(url, username="maya.bakes"),
            default=client(url),
            callback_url=callback_url,
            running=running,
        )


@pytest.fixture(autouse=True)
def _fresh_budget(request: pytest.FixtureRequest) -> None:
    # Module-scoped sandboxes: give each test a full rate-limit budget so tests stay independent.
    if "env" in request.fixturenames:
        env: Env = request.getfixturevalue("env")
        requests.post(env.url + "/_sandbox/reset-rate-limits", timeout=10)


# ---- the endpoint table -------------------------------------------------------------------------
Check = Callable[[Any, Env], None]


def _is_list_of(keys: set[str]) -> Check:
    def check(data: Any, env: Env) -> None:
        assert isinstance(data, list) and data, data
        for item in data:
            assert keys <= set(item), item

    return check


def _media_list(owner: str | None = None) -> Check:
    def check(data: Any, env: Env) -> None:
        _is_list_of({"id", "type", "user", "images", "created_time", "link", "likes"})(data, env)
        if owner:
            assert {m["user"]["id"] for m in data} == {owner}

    return check


def _full_user(username: str) -> Check:
    def check(data: Any, env: Env) -> None:
        assert data["username"] == username
        assert set(data["counts"]) == {"media", "follows", "followed_by"}
        assert isinstance(data["id"], str)

    return check


def _one_media(data: Any, env: Env) -> None:
    assert data["id"] == MEDIA and data["link"] == f"https://www.instagram.com/p/{SHORTCODE}/"


def _is_null(data: Any, env: Env) -> None:
    assert data is None


def _new_comment(env: Env) -> dict[str, str]:
    """Post a comment and return the path values that delete it (comments.delete's setup)."""
    text = "Deleting this one soon"
    posted = requests.post(
        f"{env.url}/v1/media/{MEDIA}/comments", data={"access_token": env.token, "text": text}
    )
    assert posted.status_code == 200, posted.text
    listed = requests.get(
        f"{env.url}/v1/media/{MEDIA}/comments", params={"access_token": env.token}
    ).json()["data"]
    comment = next(c for c in reversed(listed) if c["text"] == text)
    return {"media_id": MEDIA, "comment_id": comment["id"]}


@dataclass(frozen=True)
class Case:
    """One request per endpoint and what a conforming answer looks like."""

    path: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    status: int = 200
    check: Check | None = None
    error: tuple[str, str] | None = None  # (error_type, error_message) when status != 200
    auth: str = "token"  # token | client | none
    pagination: bool = False  # the body must carry a pagination object
    setup: Callable[[Env], dict[str, str]] | None = None  # path values made at run time


LEGACY = (
    "APINotAllowedError",
    "This endpoint is not available to clients created after 2015-11-17",
)

CASES: dict[str, Case] = {
    "users.self": Case(check=_full_user("grantwinney")),
    "users.get": Case(path={"user_id": MAYA}, check=_full_user("maya.bakes")),
    "users.media_recent_self": Case(
        params={"count": "3"}, check=_media_list(GRANT), pagination=True
    ),
    "users.media_recent": Case(path={"user_id": MAYA}, check=_media_list(MAYA), pagination=True),
    "users.media_liked": Case(check=_media_list(), pagination=True),
    "users.search": Case(
        params={"q": "maya"}, check=_is_list_of({"id", "username", "full_name", "profile_picture"})
    ),
    # Legacy only (§4.1): every sandbox client is a post-2015-11-17 app (docs/sandbox-data.md).
    "users.feed": Case(status=400, error=LEGACY),
    "relationships.follows": Case(
        params={"count": "4"}, check=_is_list_of({"id", "username"}), pagination=True
    ),
    "relationships.followed_by": Case(check=_is_list_of({"id", "username"}), pagination=True),
    # rosa.quiet has pending requests; grantwinney has none, so he sees an empty list.
    "relationships.requested_by": Case(check=lambda data, env: _assert_equal(data, [])),
    "relationships.get": Case(
        path={"user_id": MAYA},
        check=lambda data, env: _assert_equal(
            data,
            {
                "outgoing_status": "follows",
                "incoming_status": "followed_by",
                "target_user_is_private": False,
            },
        ),
    ),
    "relationships.update": Case(
        path={"user_id": MAYA},
        params={"action": "follow"},
        check=lambda data, env: _assert_equal(data, {"outgoing_status": "follows"}),
    ),
    "media.get": Case(path={"media_id": MEDIA}, check=_one_media),
    "media.shortcode": Case(path={"shortcode": SHORTCODE}, check=_one_media),
    "media.search": Case(
        params={"lat": "37.7694", "lng": "-122.4862", "distance": "5000"},
        check=lambda data, env: _assert_true(data and all("distance" in m for m in data)),
    ),
    # §4.3: apps created after 2015-11-17 got "popular" read as a media id.
    "media.popular": Case(status=400, error=("APINotFoundError", "invalid media id")),
    "comments.list": Case(
        path={"media_id": MEDIA}, check=_is_list_of({"id", "text", "from", "created_time"})
    ),
    "comments.create": Case(
        path={"media_id": MEDIA}, params={"text": "Those peas look great"}, check=_is_null
    ),
    "comments.delete": Case(setup=_new_comment, check=_is_null),
    "likes.list": Case(path={"media_id": MEDIA}, check=lambda data, env: _likers_match(data, env)),
    "likes.create": Case(path={"media_id": MEDIA}, check=_is_null),
    "likes.delete": Case(path={"media_id": MEDIA}, check=_is_null),
    "tags.get": Case(
        path={"tag_name": "garden"},
        check=lambda data, env: _assert_true(data["name"] == "garden" and data["media_count"] > 0),
    ),
    "tags.media_recent": Case(
        path={"tag_name": "garden"}, params={"count": "2"}, check=_media_list(), pagination=True
    ),
    "tags.search": Case(params={"q": "gar"}, check=_is_list_of({"name", "media_count"})),
    "locations.get": Case(
        path={"location_id": GOLDEN_GATE},
        check=lambda data, env: _assert_equal(
            (data["id"], data["name"]), (GOLDEN_GATE, "Golden Gate Park")
        ),
    ),
    "locations.media_recent": Case(path={"location_id": "2"}, check=_media_list(), pagination=True),
    "locations.search": Case(
        params={"lat": "37.7694", "lng": "-122.4862"},
        check=lambda data, env: _assert_true(GOLDEN_GATE in [loc["id"] for loc in data]),
    ),
    "geographies.media_recent": Case(path={"geo_id": "1"}, status=400, error=LEGACY),
    "subscriptions.create": Case(
        auth="client",
        params={"object": "user", "aspect": "media", "verify_token": "vt"},
        check=lambda data, env: _assert_true(
            data["type"] == "subscription"
            and data["object"] == "user"
            and data["aspect"] == "media"
            and data["callback_url"] == env.callback_url
        ),
    ),
    "subscriptions.list": Case(
        auth="client", check=lambda data, env: _assert_true(isinstance(data, list))
    ),
    "subscriptions.delete": Case(auth="client", params={"object": "all"}, check=_is_null),
    "oembed.get": Case(
        auth="none",
        params={"url": f"https://www.instagram.com/p/{SHORTCODE}/"},
        check=lambda data, env: _assert_true(
            data["media_id"] == MEDIA and data["type"] == "rich" and data["version"] == "1.0"
        ),
    ),
}


def _likers_match(data: Any, env: Env) -> None:
    """The likers are the store's likes of the media, in like order (none are hidden here)."""
    pk = MEDIA.partition("_")[0]
    likers = env.q("SELECT user_id FROM likes WHERE media_pk = ? ORDER BY seq", int(pk))
    assert sorted(user["id"] for user in data) == sorted(row[0] for row in likers)
    for user in data:
        assert set(user) >= {"id", "username", "full_name", "profile_picture"}


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


def _assert_true(value: object) -> None:
    assert value


def build(env: Env, endpoint: Endpoint, case: Case, suffix: str = "") -> tuple[str, dict[str, str]]:
    """The URL and parameters of a case's request, with credentials for its kind of auth."""
    values = dict(case.path)
    if case.setup is not None:
        values.update(case.setup(env))
    params = dict(case.params)
    if case.auth == "token":
        params["access_token"] = env.token
    elif case.auth == "client":
        params["client_id"] = env.default["client_id"]
        params["client_secret"] = env.default["client_secret"]
        if endpoint.method == "POST":
            params["callback_url"] = env.callback_url
    return env.url + endpoint.prefix + endpoint.build_path(values) + suffix, params


def send(method: str, url: str, params: Mapping[str, str]) -> requests.Response:
    # POST bodies are form fields (§1); GET and DELETE carry everything in the query.
    if method == "POST":
        return requests.request(method, url, data=params, timeout=10)
    return requests.request(method, url, params=params, timeout=10)


def assert_conforming(response: requests.Response, endpoint: Endpoint, case: Case, env: Env) -> Any:
    """Status, content type, envelope, rate headers; returns the body."""
    assert response.status_code == case.status, response.text
    assert response.headers["Content-Type"] == JSON
    body = response.json()
    if endpoint.prefix == "/v1":
        assert {"X-Ratelimit-Limit", "X-Ratelimit-Remaining"} <= set(response.headers)
        meta = body["meta"]
        assert meta["code"] == response.status_code
        if case.status == 200:
            assert set(meta) == {"code"}
            assert ("pagination" in body) == case.pagination
            if case.check:
                case.check(body["data"], env)
        else:
            assert body == {
                "meta": {
                    "code": case.status,
                    "error_type": case.error[0] if case.error else None,
                    "error_message": case.error[1] if case.error else None,
                }
            }
    else:  # oEmbed: a bare object, never rate limited (docs/sandbox.md)
        assert "meta" not in body and "X-Ratelimit-Limit" not in response.headers
        if case.check:
            case.check(body, env)
    return body


def test_every_registry_endpoint_has_a_case() -> None:
    assert sorted(CASES) == sorted(REGISTRY.endpoints)
    assert len(CASES) == 33


@pytest.mark.parametrize("endpoint_id", sorted(REGISTRY.endpoints))
def test_endpoint_conforms(env: Env, endpoint_id: str) -> None:
    """Each endpoint plain, with ``.json``, with a trailing slash (§1), and as JSONP for GETs."""
    endpoint = REGISTRY.endpoints[endpoint_id]
    case = CASES[endpoint_id]
    # Official clients appended .json to /v1 paths, never to oEmbed (§1).
    suffixes = ["", "/"] + ([".json", ".json/"] if endpoint.prefix == "/v1" else [])
    for suffix in suffixes:
        url, params = build(env, endpoint, case, suffix)
        body = assert_conforming(send(endpoint.method, url, params), endpoint, case, env)
        next_url = body.get("pagination", {}).get("next_url") if isinstance(body, dict) else None
        if next_url:
            # next_url is absolute, on our host, and repeats the caller's token (§2.3).
            assert next_url.startswith(env.url + "/v1/")
            assert parse_qs(urlsplit(next_url).query)["access_token"] == [env.token]
    if endpoint.method == "GET":
        url, params = build(env, endpoint, case)
        wrapped = requests.get(url, params={**params, "callback": "jQuery17_1"}, timeout=10)
        assert wrapped.status_code == 200 and wrapped.headers["Content-Type"] == JSONP
        text = wrapped.text
        assert text.startswith("/**/ jQuery17_1(") and text.endswith(")")
        inner = json.loads(text[len("/**/ jQuery17_1(") : -1])
        if endpoint.prefix == "/v1":
            assert inner["meta"]["code"] == case.status
        else:
            assert inner["media_id"] == MEDIA


# ---- the §7 catalogue ---------------------------------------------------------------------------
def _permissions(scope: str) -> str:
    # The seed's wording for every scope (docs/sandbox.md, decisions).
    return (
        f"This request requires scope={scope}, but this access token is not authorized with this "
        f"scope. The user must re-authorize your application with scope={scope} to be granted "
        f"this permissions."
    )


Request = Callable[[Env], requests.Response]
CATALOGUE: dict[str, tuple[Request, int, str, str]] = {
    "no auth param": (
        lambda e: requests.get(e.url + "/v1/users/self"),
        400,
        "OAuthParameterException",
        "Missing client_id or access_token URL parameter.",
    ),
    "token-only endpoint without token": (
        lambda e: requests.post(f"{e.url}/v1/media/{MEDIA}/likes", json={"access_token": e.token}),
        400,
        "OAuthParameterException",
        "Missing access_token URL parameter.",
    ),
    "bad token": (
        lambda e: requests.get(e.url + "/v1/users/self", params={"access_token": e.token + "0"}),
        400,
        "OAuthAccessTokenException",
        "The access_token provided is invalid.",
    ),
    "subscriptions without secret": (
        lambda e: requests.get(
            e.url + "/v1/subscriptions", params={"client_id": e.default["client_id"]}
        ),
        400,
        "OAuthClientException",
        "Missing client_secret URL parameter",
    ),
    "read scope missing": (
        lambda e: requests.get(e.url + "/v1/tags/garden", params={"access_token": e.basic}),
        400,
        "OAuthPermissionsException",
        _permissions("public_content"),
    ),
    "follower_list missing": (
        lambda e: requests.get(e.url + "/v1/users/self/follows", params={"access_token": e.basic}),
        400,
        "OAuthPermissionsException",
        _permissions("follower_list"),
    ),
    "write scope missing": (
        lambda e: requests.post(
            f"{e.url}/v1/users/{GRANT}/relationship",
            data={"access_token": e.basic, "action": "follow"},
        ),
        400,
        "OAuthPermissionsException",
        _permissions("relationships"),
    ),
    "private user": (
        lambda e: requests.get(
            f"{e.url}/v1/users/{ROSA}/media/recent", params={"access_token": e.token}
        ),
        400,
        "APINotAllowedError",
        "you cannot view this resource",
    ),
    "unknown user": (
        lambda e: requests.get(e.url + "/v1/users/1", params={"access_token": e.token}),
        400,
        "APINotFoundError",
        "this user does not exist",
    ),
    "non-sandbox user": (
        # famous_foodie exists, but only for live clients (§10).
        lambda e: requests.get(e.url + "/v1/users/1811437290", params={"access_token": e.token}),
        400,
        "APINotFoundError",
        "this user does not exist",
    ),
    "unknown media": (
        lambda e: requests.get(e.url + "/v1/media/1_1", params={"access_token": e.token}),
        400,
        "APINotFoundError",
        "invalid media id",
    ),
    "count=0": (
        lambda e: requests.get(
            e.url + "/v1/users/self/media/recent", params={"access_token": e.token, "count": "0"}
        ),
        400,
        "APIInvalidParametersError",
        "Count must be larger than zero.",
    ),
    "bad client credentials": (
        lambda e: requests.get(
            e.url + "/v1/subscriptions",
            params={"client_id": e.default["client_id"], "client_secret": "0" * 32},
        ),
        400,
        "APISubscriptionError",
        'Invalid "client_id" and/or "client_secret."',
    ),
    "callback_url format": (
        lambda e: requests.post(
            e.url + "/v1/subscriptions",
            data={
                "client_id": e.default["client_id"],
                "client_secret": e.default["client_secret"],
                "object": "user",
                "aspect": "media",
                "callback_url": "ftp://example.invalid/",
            },
        ),
        400,
        "APISubscriptionError",
        'Invalid format for "callback_url". URL must start with "http://" or "https://"',
    ),
    "challenge not echoed": (
        lambda e: requests.post(
            e.url + "/v1/subscriptions",
            data={
                "client_id": e.default["client_id"],
                "client_secret": e.default["client_secret"],
                "object": "user",
                "aspect": "media",
                # The sandbox's own /_sandbox/info answers 200, but not with the challenge.
                "callback_url": e.url + "/_sandbox/info",
            },
        ),
        400,
        "APISubscriptionError",
        "Challenge verification failed. The callback must answer the GET with the hub.challenge "
        "value as the whole body.",
    ),
}

# Rows of §7 the sandbox does not produce, and why; with CATALOGUE (plus the tests named here)
# this accounts for every row of the reference's table.
NOT_HERE = {
    "OAuthForbiddenException sig missing / mismatch": "test_signed_requests_with_the_doc_vectors",
    "OAuthForbiddenException not a sandbox user": "test_oauth_errors (an authorize error)",
    "OAuthRateLimitException": "test_rate_limit_exhaustion",
    "APINotAllowedError retired": "test_eras",
    "Unable to reach callback URL": "test_unreachable_callback",
    "OAuthForbiddenException X-Insta-Forwarded-For": "not produced: superseded by sig in 2015",
    "OAuthClientException invalid client_id on an API call": (
        "not produced: client-id-only calls ended in 2016; an unknown client_id with no token "
        "gets 'Missing access_token URL parameter.'"
    ),
    "OAuthPermissionsException client not approved": "not produced: sandbox clients may ask all",
    "APIRequiresAuthenticationError": "not produced: its message is not on record",
    "APIError": "only as an injected fault or a handler bug (test_sandbox_faults)",
}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_error_catalogue(env: Env, name: str) -> None:
    send_request, status, error_type, message = CATALOGUE[name]
    response = send_request(env)
    assert response.status_code == status
    assert response.headers["Content-Type"] == JSON
    assert {"X-Ratelimit-Limit", "X-Ratelimit-Remaining"} <= set(response.headers)
    assert response.json() == {
        "meta": {"code": status, "error_type": error_type, "error_message": message}
    }


def test_unreachable_callback(env: Env) -> None:
    # A port nobody listens on: bind one, then close it.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    port = probe.server_address[1]
    probe.server_close()
    callback = f"http://127.0.0.1:{port}/gone"
    response = requests.post(
        env.url + "/v1/subscriptions",
        data={
            "client_id": env.default["client_id"],
            "client_secret": env.default["client_secret"],
            "object": "user",
            "aspect": "media",
            "callback_url": callback,
        },
    )
    assert response.status_code == 400
    assert response.json()["meta"] == {
        "code": 400,
        "error_type": "APISubscriptionError",
        "error_message": f"Unable to reach callback URL {callback}",
    }


def test_wrong_method_on_every_endpoint(env: Env) -> None:
    """405 with an Allow header, in the meta envelope with status = meta.code, on every path."""
    for endpoint in REGISTRY.endpoints.values():
        case = CASES[endpoint.id]
        values = {name: "1" for name in endpoint.path_params} | dict(case.path)
        url = env.url + endpoint.prefix + endpoint.build_path(values)
        response = requests.request("PATCH", url, params={"access_token": env.token}, timeout=10)
        assert response.status_code == 405, endpoint.id
        assert endpoint.method in response.headers["Allow"]
        # oEmbed too: its own errors are bare, but routing answers before it in the envelope.
        assert response.json()["meta"] == {
            "code": 405,
            "error_type": "APIMethodNotAllowedError",
            "error_message": "This endpoint does not support the PATCH method",
        }


# ---- OAuth errors (§5.5), every row, no meta wrapper --------------------------------------------
def test_oauth_errors(env: Env) -> None:
    url, default = env.url, env.default
    signed = client(url, "signed")
    base = {"client_id": default["client_id"], "redirect_uri": REDIRECT, "response_type": "token"}

    def authorize_error(params: Mapping[str, str]) -> requests.Response:
        return requests.get(url + "/oauth/authorize", params=params, allow_redirects=False)

    def exchange(**fields: str) -> requests.Response:
        return requests.post(url + "/oauth/access_token", data=fields)

    with requests.Session() as browser:
        code_redirect = authorize(url, browser, client_id=signed["client_id"], response_type="code")
    code = parse_qs(urlsplit(code_redirect.headers["Location"]).query)["code"][0]
    good = {
        "client_id": signed["client_id"],
        "client_secret": signed["client_secret"],
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": code,
    }
    rows: list[tuple[requests.Response, int, str, str]] = [
        (
            authorize_error({**base, "redirect_uri": "http://localhost/elsewhere"}),
            400,
            "OAuthException",
            "Redirect URI does not match registered redirect URI",
        ),
        (
            exchange(**{**good, "redirect_uri": "http://localhost/elsewhere"}),
            400,
            "OAuthException",
            "Redirect URI does not match registered redirect URI",
        ),
        (
            authorize_error({**base, "client_id": "f" * 32}),
            400,
            "OAuthException",
            "Invalid Client ID",
        ),
        (
            authorize_error({"redirect_uri": REDIRECT, "response_type": "token"}),
            400,
            "OAuthException",
            "You must include a valid client_id, response_type, and redirect_uri parameters",
        ),
        (
            requests.post(url + "/oauth/access_token", json=good),
            400,
            "OAuthException",
            "You must provide a client_id",
        ),
        (
            exchange(**{**good, "client_secret": "0" * 32}),
            400,
            "OAuthException",
            "Invalid Client Secret",
        ),
        (
            exchange(**{**good, "code": "0" * 32}),
            400,
            "OAuthException",
            "Matching code was not found or was already used.",
        ),
        (
            exchange(
                **{
                    **good,
                    "client_id": default["client_id"],
                    "client_secret": default["client_secret"],
                }
            ),
            400,
            "OAuthException",
            "Client ID doesn't match original request",
        ),
        (
            authorize_error({**base, "client_id": signed["client_id"]}),
            403,
            "OAuthForbiddenException",
            "Implicit authentication is disabled",
        ),
        (
            authorize_error({**base, "scope": "basic+comments+teleport"}),
            400,
            "OAuthException",
            "Invalid scope field(s): teleport",
        ),
    ]
    for response, status, error_type, message in rows:
        assert response.status_code == status, message
        assert response.headers["Content-Type"] == JSON
        assert response.json() == {
            "code": status,
            "error_type": error_type,
            "error_message": message,
        }
    # Not a sandbox user: the live-only famous_foodie logs in to the sandbox-mode client.
    with requests.Session() as browser:
        outsider = authorize(url, browser, client_id=default["client_id"], username="famous_foodie")
    assert outsider.status_code == 403
    assert outsider.json() == {
        "code": 403,
        "error_type": "OAuthForbiddenException",
        "error_message": "You are not a sandbox user of this client",
    }
    # Enforce-signed during login (§5.5, last row): the exchange needs no sig, the first API
    # call does. The failed exchanges above did not use the code up.
    exchanged = exchange(**good)
    assert exchanged.status_code == 200
    token = exchanged.json()["access_token"]
    me = requests.get(url + "/v1/users/self", params={"access_token": token})
    assert me.status_code == 403
    assert me.json()["meta"]["error_message"] == (
        "Invalid signed-request: Missing required parameter 'sig'"
    )
    assert exchange(**good).json()["error_message"] == (
        "Matching code was not found or was already used."
    )


# ---- pagination (§2.3) --------------------------------------------------------------------------
@dataclass(frozen=True)
class Paged:
    path: str
    cursor_keys: frozenset[str]  # the pagination keys of a page that has a next one
    expected: Callable[[Env, Mapping[str, str]], list[str]]  # the store's ids, in API order
    item_id: Callable[[Mapping[str, Any]], str] = lambda item: str(item["id"])


def _media_sql(where: str) -> Callable[[Env, Mapping[str, str]], list[str]]:
    """Media ids the live client lists: the condition plus the privacy rule, newest first."""

    def expected(env: Env, names: Mapping[str, str]) -> list[str]:
        rows = env.q(
            "SELECT m.pk || '_' || m.owner FROM media m JOIN users u ON u.id = m.owner "
            f"WHERE ({where.format(**names)}) "
            "AND (u.is_private = 0 OR m.owner = ? OR EXISTS (SELECT 1 FROM "
            "follows f WHERE f.follower = ? AND f.followee = m.owner AND f.status = 'follows')) "
            "ORDER BY m.created_time DESC, m.pk DESC",
            GRANT,
            GRANT,
        )
        return [row[0] for row in rows]

    return expected


MEDIA_KEYS = frozenset({"next_url", "next_max_id"})
PAGED: dict[str, Paged] = {
    "users.media_recent_self": Paged(
        "/v1/users/self/media/recent", MEDIA_KEYS, _media_sql(f"m.owner = '{GRANT}'")
    ),
    "users.media_recent": Paged(
        "/v1/users/{busiest}/media/recent", MEDIA_KEYS, _media_sql("m.owner = '{busiest}'")
    ),
    "users.media_liked": Paged(
        "/v1/users/self/media/liked",
        frozenset({"next_url", "next_max_like_id"}),
        lambda env, names: [
            row[0]
            for row in env.q(
                "SELECT m.pk || '_' || m.owner FROM likes l JOIN media m ON m.pk = l.media_pk "
                "JOIN users u ON u.id = m.owner WHERE l.user_id = ? AND (u.is_private = 0 OR "
                "EXISTS (SELECT 1 FROM follows f WHERE f.follower = ? AND f.followee = m.owner "
                "AND f.status = 'follows')) ORDER BY l.seq DESC",
                GRANT,
                GRANT,
            )
        ],
    ),
    "relationships.follows": Paged(
        "/v1/users/self/follows",
        frozenset({"next_url", "next_cursor"}),
        lambda env, names: [
            row[0]
            for row in env.q(
                "SELECT followee FROM follows WHERE follower = ? AND status = 'follows' "
                "ORDER BY seq DESC",
                GRANT,
            )
        ],
    ),
    "relationships.followed_by": Paged(
        "/v1/users/self/followed-by",
        frozenset({"next_url", "next_cursor"}),
        lambda env, names: [
            row[0]
            for row in env.q(
                "SELECT follower FROM follows WHERE followee = ? AND status = 'follows' "
                "ORDER BY seq DESC",
                GRANT,
            )
        ],
    ),
    "tags.media_recent": Paged(
        "/v1/tags/{tag}/media/recent",
        frozenset(
            {
                "next_url",
                "next_max_tag_id",
                "min_tag_id",
                "next_max_id",
                "next_min_id",
                "deprecation_warning",
            }
        ),
        _media_sql("m.pk IN (SELECT media_pk FROM media_tags WHERE tag = '{tag}')"),
    ),
    "locations.media_recent": Paged(
        "/v1/locations/{location}/media/recent",
        MEDIA_KEYS,
        _media_sql("m.location_id = {location}"),
    ),
}
PAGE = 3  # small, so even grantwinney's 7 media take three pages
# Paginated in the registry but refused to every sandbox client (legacy only, §4.1, §4.8).
LEGACY_PAGED = {"users.feed", "geographies.media_recent"}


@pytest.fixture(scope="module")
def big() -> Iterator[Env]:
    """A generated dataset seen through the live client: hundreds of items, many pages."""
    with start_sandbox(SandboxConfig(generate={"users": 60, "media": 900})) as running:
        url = running.url
        yield Env(
            url=url,
            token=implicit_token(url, ALL_SCOPES, client_name="live"),
            basic="",
            default=client(url, "live"),
            callback_url="",
            running=running,
        )


def test_every_paginated_endpoint_is_paged(big: Env) -> None:
    paginated = {e.id for e in REGISTRY.endpoints.values() if e.pagination}
    assert paginated == set(PAGED) | LEGACY_PAGED


@pytest.mark.parametrize("endpoint_id", sorted(PAGED))
def test_pagination_follows_next_url_to_the_end(big: Env, endpoint_id: str) -> None:
    spec = PAGED[endpoint_id]
    endpoint = REGISTRY.endpoints[endpoint_id]
    assert endpoint.pagination is not None
    names = {
        # The public user, tag and location with the most media: the longest walks.
        "busiest": big.q(
            "SELECT m.owner FROM media m JOIN users u ON u.id = m.owner WHERE u.is_private = 0 "
            f"AND m.owner != '{GRANT}' GROUP BY m.owner ORDER BY COUNT(*) DESC LIMIT 1"
        )[0][0],
        "tag": big.q("SELECT tag FROM media_tags GROUP BY tag ORDER BY COUNT(*) DESC LIMIT 1")[0][
            0
        ],
        "location": big.q(
            "SELECT location_id FROM media WHERE location_id IS NOT NULL GROUP BY location_id "
            "ORDER BY COUNT(*) DESC LIMIT 1"
        )[0][0],
    }
    path = spec.path.format(**names)
    expected = spec.expected(big, names)
    assert len(expected) > 2 * PAGE, "the dataset should give several pages"
    seen: list[str] = []
    url: str | None = big.url + path + f"?count={PAGE}"
    params: dict[str, str] | None = {"access_token": big.token}
    pages = 0
    while url:
        response = requests.get(url, params=params, timeout=10)
        params = None  # next_url carries the token itself
        assert response.status_code == 200, response.text
        body = response.json()
        page = [spec.item_id(item) for item in body["data"]]
        pagination = body["pagination"]
        pages += 1
        if pagination:
            assert set(pagination) == spec.cursor_keys
            assert len(page) == PAGE
            cursor = pagination[endpoint.pagination.next_cursor]
            query = parse_qs(urlsplit(pagination["next_url"]).query)
            # The next_url repeats the query and carries the cursor it announces.
            assert query[endpoint.pagination.cursor_param] == [cursor]
            assert query["count"] == [str(PAGE)] and query["access_token"] == [big.token]
            url = pagination["next_url"]
        else:
            assert pagination == {}
            assert 0 < len(page) <= PAGE
            url = None
        seen += page
    # Every item once, none missing, in the store's order.
    assert len(seen) == len(set(seen))
    assert seen == expected
    assert pages == -(-len(expected) // PAGE)


def test_profile_counts_match_the_paged_totals(big: Env) -> None:
    """For a live client the lists are complete, so they add up to the profile's counts."""
    me = requests.get(big.url + "/v1/users/self", params={"access_token": big.token}).json()
    counts = me["data"]["counts"]
    for path, key in (
        ("/v1/users/self/media/recent", "media"),
        ("/v1/users/self/follows", "follows"),
        ("/v1/users/self/followed-by", "followed_by"),
    ):
        total, url = 0, big.url + path
        params: dict[str, str] | None = {"access_token": big.token, "count": "33"}
        while url:
            body = requests.get(url, params=params, timeout=10).json()
            total += len(body["data"])
            url, params = body["pagination"].get("next_url"), None
        assert total == counts[key], key


# ---- rate limits (§8.1) -------------------------------------------------------------------------
def test_rate_limit_exhaustion() -> None:
    """Use up the 500/h global bucket; the headers count down to 0 and the 501st gets 429."""
    with start_sandbox(SandboxConfig()) as running:
        url = running.url
        token = implicit_token(url, "likes")
        remaining: list[int] = []
        with requests.Session() as session:
            for _ in range(500):
                response = session.get(url + "/v1/users/self", params={"access_token": token})
                assert response.status_code == 200
                assert response.headers["X-Ratelimit-Limit"] == "500"
                remaining.append(int(response.headers["X-Ratelimit-Remaining"]))
            assert remaining == list(range(499, -1, -1))
            refused = session.get(url + "/v1/users/self", params={"access_token": token})
            # Every endpoint shares the global bucket: a write is refused too.
            write = session.post(f"{url}/v1/media/{MEDIA}/likes", data={"access_token": token})
        for response in (refused, write):
            assert response.status_code == 429
            assert response.headers["Content-Type"] == JSON
            assert response.headers["X-Ratelimit-Remaining"] == "0"
            assert response.json() == {
                "meta": {
                    "code": 429,
                    "error_type": "OAuthRateLimitException",
                    "error_message": "The maximum number of requests per hour has been exceeded.",
                }
            }
        # Another token has its own bucket.
        other = implicit_token(url, username="maya.bakes")
        fresh = requests.get(url + "/v1/users/self", params={"access_token": other})
        assert fresh.status_code == 200 and fresh.headers["X-Ratelimit-Remaining"] == "499"


# ---- signed requests (§9.1) with the reference's test vectors -----------------------------------
DOC_SECRET = "6dc1787668c64c939929c17683d7cb74"
DOC_TOKEN = "fb2e77d.47a0479900504cb3ab4a1f626d174d2d"
DOC_USER = "25025320"
DOC_MEDIA = "657988443280050001_25025320"
# (method, endpoint, params, the documented sig): §9.1's two doc vectors and its POST example.
VECTORS = [
    (
        "GET",
        "/users/self",
        {"access_token": DOC_TOKEN},
        "cbf5a1f41db44412506cb6563a3218b50f45a710c7a8a65a3e9b18315bb338bf",
    ),
    (
        "GET",
        f"/media/{DOC_MEDIA}",
        {"access_token": DOC_TOKEN, "count": "10"},
        "260634b241a6cfef5e4644c205fb30246ff637591142781b86e2075faf1b163a",
    ),
    (
        "POST",
        f"/media/{DOC_MEDIA}/comments",
        {"access_token": DOC_TOKEN, "text": "Nice shot"},
        "4727f9fbaa1b4faa25af9eb63b4af91f51d82ecb4f50e0f3bc7ab06e7c168afe",
    ),
]


def reference_sig(endpoint: str, params: Mapping[str, str], secret: str) -> str:
    """§9.1 written out independently of igflow.signing: path, then sorted |key=value, raw."""
    base = endpoint + "".join(f"|{key}={params[key]}" for key in sorted(params))
    return hmac.new(secret.encode(), base.encode(), hashlib.sha256).hexdigest()


def test_reference_vectors_are_what_the_algorithm_gives() -> None:
    for _, endpoint, params, sig in VECTORS:
        assert reference_sig(endpoint, params, DOC_SECRET) == sig


def _doc_state_file(tmp_path: Path) -> str:
    """A state file with a signed client using the doc's secret, the doc's media, and a grant
    carrying the doc's literal token.

    The doc token has no user-id part (``fb2e77d.<32 hex>``), so the sandbox's OAuth flow can
    never issue it (ours are ``<uid>.<7 hex>.<32 hex>``). Tokens are opaque lookups, though, so
    the grant is written into the ``--db`` file between two runs, like any persisted token.
    """
    data = read_dataset(None)
    data["clients"].append(
        {
            "name": "docs",
            "client_id": "47a0479900504cb3ab4a1f626d174d2d",
            "client_secret": DOC_SECRET,
            "redirect_uris": [REDIRECT],
            "implicit": True,
            "signed": True,
            "mode": "live",
        }
    )
    data["users"].append({"id": DOC_USER, "username": "doc_vectors", "password": "vectors"})
    # The pk's high bits carry its creation time (docs/sandbox-data.md): 2014-03-03.
    data["media"].append(
        {"owner": "doc_vectors", "id": DOC_MEDIA, "created_time": 1393847780, "caption": "vector"}
    )
    data_file = tmp_path / "vectors.yaml"
    data_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    db_file = str(tmp_path / "vectors.db")
    with start_sandbox(SandboxConfig(db=db_file, data=str(data_file))):
        pass  # initialise the state file
    with sqlite3.connect(db_file) as conn:
        conn.execute(
            "INSERT INTO oauth_grants VALUES (?, ?, ?, ?)",
            (DOC_TOKEN, DOC_USER, "47a0479900504cb3ab4a1f626d174d2d", "basic comments"),
        )
    return db_file


def test_signed_requests_with_the_doc_vectors(tmp_path: Path) -> None:
    with start_sandbox(SandboxConfig(db=_doc_state_file(tmp_path))) as running:
        url = running.url
        for method, endpoint, params, sig in VECTORS:
            accepted = send(method, url + "/v1" + endpoint, {**params, "sig": sig})
            assert accepted.status_code == 200, (endpoint, accepted.text)
            for wrong in (
                sig[:-1] + ("0" if sig[-1] != "0" else "1"),  # one hex digit off
                reference_sig(endpoint + "/extra", params, DOC_SECRET),  # another path
                reference_sig(endpoint, {**params, "x": "1"}, DOC_SECRET),  # another param set
            ):
                refused = send(method, url + "/v1" + endpoint, {**params, "sig": wrong})
                assert refused.status_code == 403
                assert refused.json()["meta"] == {
                    "code": 403,
                    "error_type": "OAuthForbiddenException",
                    "error_message": "Invalid signed-request: Signature does not match",
                }
            missing = send(method, url + "/v1" + endpoint, params)
            assert missing.json()["meta"]["error_message"] == (
                "Invalid signed-request: Missing required parameter 'sig'"
            )
        me = requests.get(
            url + "/v1/users/self", params={"access_token": DOC_TOKEN, "sig": VECTORS[0][3]}
        ).json()
        assert me["data"]["id"] == DOC_USER


def test_signed_requests_with_a_sandbox_token() -> None:
    """The same algorithm with a token the sandbox issues, for a client added at run time."""
    with start_sandbox(SandboxConfig()) as running:
        url = running.url
        added = requests.post(
            url + "/_sandbox/clients", json={"name": "vectors", "signed": True, "implicit": True}
        )
        assert added.status_code == 201
        secret = added.json()["client_secret"]
        token = implicit_token(url, "comments", client_name="vectors")
        checks = [
            ("GET", "/users/self", {"access_token": token}),
            ("GET", f"/media/{MEDIA}", {"access_token": token, "count": "10"}),
            ("POST", f"/media/{MEDIA}/comments", {"access_token": token, "text": "Nice shot"}),
        ]
        for method, endpoint, params in checks:
            good = reference_sig(endpoint, params, secret)
            assert send(method, url + "/v1" + endpoint, {**params, "sig": good}).status_code == 200
            # Values are signed raw: a sig over the URL-encoded text does not match.
            if "text" in params:
                encoded = reference_sig(endpoint, {**params, "text": "Nice+shot"}, secret)
                bad = send(method, url + "/v1" + endpoint, {**params, "sig": encoded})
                assert bad.status_code == 403


# ---- eras (§12): what is retired and what still works -------------------------------------------
# The era from which each endpoint answers "This endpoint has been retired", from the reference
# (§12's 2018-04-04 list, 2018-12-11 for public_content, 2020-06-29 for the rest), written out
# here rather than read from the registry so the registry is checked too. "/others" rows address
# someone else's data where only that was retired first.
RETIRED_FROM: dict[str, str | None] = {
    "users.self": "2020-06-29",
    "users.get": "2020-06-29",
    "users.get/others": "2018-04-04",
    "users.media_recent_self": "2020-06-29",
    "users.media_recent": "2020-06-29",
    "users.media_recent/others": "2018-04-04",
    "users.media_liked": "2018-04-04",
    "users.search": "2018-04-04",
    "users.feed": "2018-04-04",  # legacy only; the registry retires it with the 04-04 list
    "relationships.follows": "2018-04-04",
    "relationships.followed_by": "2018-04-04",
    "relationships.requested_by": "2018-04-04",
    "relationships.get": "2018-04-04",
    "relationships.update": "2018-04-04",
    "media.get": "2018-04-04",
    "media.shortcode": "2018-04-04",
    "media.search": "2018-12-11",
    "media.popular": "2018-04-04",  # legacy only, as users.feed
    "comments.list": "2020-06-29",
    "comments.list/others": "2018-04-04",
    "comments.create": "2018-04-04",
    "comments.delete": "2018-04-04",
    "likes.list": "2018-04-04",
    "likes.create": "2018-04-04",
    "likes.delete": "2018-04-04",
    "tags.get": "2018-12-11",
    "tags.media_recent": "2018-12-11",
    "tags.search": "2018-12-11",
    "locations.get": "2018-12-11",
    "locations.media_recent": "2018-12-11",
    "locations.search": "2018-12-11",
    "geographies.media_recent": "2018-04-04",  # legacy only, as users.feed
    "subscriptions.create": "2018-04-04",
    "subscriptions.list": "2018-04-04",
    "subscriptions.delete": "2018-04-04",
    "oembed.get": None,  # legacy oEmbed lasted until 2020-10-24, past the last era
}
OWN_PATH = {"users.get": {"user_id": GRANT}, "users.media_recent": {"user_id": GRANT}}
RETIRED = {
    "meta": {
        "code": 400,
        "error_type": "APINotAllowedError",
        "error_message": "This endpoint has been retired",
    }
}


def test_era_table_covers_the_registry() -> None:
    assert {key.partition("/")[0] for key in RETIRED_FROM} == set(REGISTRY.endpoints)


@pytest.mark.parametrize("era", ERAS)
def test_eras(era: str, callback_url: str) -> None:
    with start_sandbox(SandboxConfig(era=era)) as running:
        url = running.url
        # public_content can no longer be requested from 2018-12-11 (§12).
        scopes = ALL_SCOPES if era < "2018-12-11" else ALL_SCOPES.replace("public_content ", "")
        env = Env(url, implicit_token(url, scopes), "", client(url), callback_url, running)
        # Someone else's media with comments (maya.bakes's newest captioned one).
        maya_media = env.q(
            "SELECT pk || '_' || owner FROM media WHERE owner = ? AND caption_id IS NOT NULL "
            "ORDER BY created_time DESC LIMIT 1",
            MAYA,
        )[0][0]
        others_path = {
            "users.get/others": {"user_id": MAYA},
            "users.media_recent/others": {"user_id": MAYA},
            "comments.list/others": {"media_id": maya_media},
        }
        for key, retired_from in sorted(RETIRED_FROM.items()):
            endpoint_id, _, variant = key.partition("/")
            endpoint, case = REGISTRY.endpoints[endpoint_id], CASES[endpoint_id]
            retired = retired_from is not None and era != "2016" and era >= retired_from
            path = others_path.get(key) if variant else OWN_PATH.get(key)
            if path is not None:
                case = replace(case, path=path, check=None, setup=None)
            if case.setup is not None and retired:
                # The setup would write through a retired endpoint; any comment id will do.
                case = replace(case, setup=None, path={"media_id": MEDIA, "comment_id": "1"})
            request_url, params = build(env, endpoint, case)
            response = send(endpoint.method, request_url, params)
            if retired:
                assert response.json() == RETIRED, (era, key)
                assert response.status_code == 400
            else:
                # Still served as in 2016: the same answer as the conformance table's.
                assert response.status_code == case.status, (era, key, response.text)
                assert response.json() != RETIRED

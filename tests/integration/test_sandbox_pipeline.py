"""The /v1 request pipeline over loopback HTTP: auth, signatures, eras, envelopes, JSONP, routing.

Handlers here are the fakes of test_sandbox_support, so these tests pin the app's own checks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from test_sandbox_support import client, code_flow_token, fake_sandbox, implicit_token

from igflow.sandbox.server import RunningSandbox
from igflow.signing import sign

JSON = "application/json; charset=utf-8"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with fake_sandbox() as running:
        yield running


def meta(response: requests.Response) -> dict[str, object]:
    body: dict[str, object] = response.json()["meta"]
    return body


def assert_error(response: requests.Response, code: int, error_type: str, message: str) -> None:
    assert response.status_code == code
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {
        "meta": {"code": code, "error_type": error_type, "error_message": message}
    }


# ---- auth ---------------------------------------------------------------------------------------
def test_missing_and_invalid_tokens(sandbox: RunningSandbox) -> None:
    url = sandbox.url
    assert_error(
        requests.get(url + "/v1/users/self"),
        400,
        "OAuthParameterException",
        "Missing client_id or access_token URL parameter.",
    )
    assert_error(
        requests.get(url + "/v1/users/self", params={"client_id": client(url)["client_id"]}),
        400,
        "OAuthParameterException",
        "Missing access_token URL parameter.",
    )
    # A write sent as JSON: the server sees no form fields, hence no token.
    assert_error(
        requests.post(url + "/v1/media/1_2/likes", json={"access_token": "x"}),
        400,
        "OAuthParameterException",
        "Missing access_token URL parameter.",
    )
    assert_error(
        requests.get(url + "/v1/users/self", params={"access_token": "1.abcdef0.0123"}),
        400,
        "OAuthAccessTokenException",
        "The access_token provided is invalid.",
    )


def test_token_in_a_post_form_and_params_passed_to_the_handler(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url, "likes")
    liked = requests.post(sandbox.url + "/v1/media/1_2/likes", data={"access_token": token})
    assert liked.status_code == 200 and liked.json() == {"meta": {"code": 200}, "data": None}
    me = requests.get(
        sandbox.url + "/v1/users/self",
        params={"access_token": token, "sig": "ignored", "count": "3", "callback": "cb"},
    ).text
    assert me.startswith("/**/ cb(")
    data = json.loads(me[len("/**/ cb(") : -1])["data"]
    # Transport parameters never reach handlers.
    assert data["params"] == {"count": "3"}
    # A sandbox-mode client's viewer carries its sandbox users.
    assert len(data["sandbox_users"]) == 10 and "3657782666" in data["sandbox_users"]


def test_client_credential_endpoints(sandbox: RunningSandbox) -> None:
    url, c = sandbox.url, client(sandbox.url)
    assert_error(
        requests.get(url + "/v1/subscriptions", params={"client_id": c["client_id"]}),
        400,
        "OAuthClientException",
        "Missing client_secret URL parameter",
    )
    assert_error(
        requests.get(
            url + "/v1/subscriptions",
            params={"client_id": c["client_id"], "client_secret": "0" * 32},
        ),
        400,
        "APISubscriptionError",
        'Invalid "client_id" and/or "client_secret."',
    )
    ok = requests.get(
        url + "/v1/subscriptions/",
        params={"client_id": c["client_id"], "client_secret": c["client_secret"]},
    )
    assert ok.json() == {"meta": {"code": 200}, "data": [{"client": c["client_id"]}]}


def test_oembed_needs_no_auth_and_is_a_bare_object(sandbox: RunningSandbox) -> None:
    for path in ("/oembed", "/oembed/"):
        response = requests.get(
            sandbox.url + path, params={"url": "https://www.instagram.com/p/Bcizg1_B3nu/"}
        )
        assert response.json() == {
            "version": "1.0",
            "url": "https://www.instagram.com/p/Bcizg1_B3nu/",
        }


# ---- signed requests -----------------------------------------------------------------------------
def test_signed_client_requires_a_matching_sig(sandbox: RunningSandbox) -> None:
    url, secret = sandbox.url, client(sandbox.url, "signed")["client_secret"]
    token = code_flow_token(url, "signed", "likes")
    assert_error(
        requests.get(url + "/v1/users/self", params={"access_token": token}),
        403,
        "OAuthForbiddenException",
        "Invalid signed-request: Missing required parameter 'sig'",
    )
    assert_error(
        requests.get(url + "/v1/users/self", params={"access_token": token, "sig": "0" * 64}),
        403,
        "OAuthForbiddenException",
        "Invalid signed-request: Signature does not match",
    )
    params = {"access_token": token, "count": "2"}
    good = requests.get(
        url + "/v1/users/self", params={**params, "sig": sign("/users/self", params, secret)}
    )
    assert good.status_code == 200
    # Official clients signed the path with its .json suffix; either form is accepted.
    suffixed = requests.get(
        url + "/v1/users/self.json",
        params={**params, "sig": sign("/users/self.json", params, secret)},
    )
    assert suffixed.status_code == 200
    plain_sig_on_suffixed_path = requests.get(
        url + "/v1/users/self.json", params={**params, "sig": sign("/users/self", params, secret)}
    )
    assert plain_sig_on_suffixed_path.status_code == 200
    # POST signs the form fields.
    form = {"access_token": token}
    liked = requests.post(
        url + "/v1/media/1_2/likes", data={**form, "sig": sign("/media/1_2/likes", form, secret)}
    )
    assert liked.status_code == 200
    tampered = requests.post(
        url + "/v1/media/1_2/likes",
        data={**form, "extra": "1", "sig": sign("/media/1_2/likes", form, secret)},
    )
    assert meta(tampered)["error_message"] == "Invalid signed-request: Signature does not match"


def test_sig_is_ignored_when_the_client_does_not_enforce_it(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url)
    assert (
        requests.get(
            sandbox.url + "/v1/users/self", params={"access_token": token, "sig": "junk"}
        ).status_code
        == 200
    )


# ---- scope, eras ---------------------------------------------------------------------------------
def test_base_scope_is_checked_before_the_handler(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url)
    assert_error(
        requests.delete(sandbox.url + "/v1/media/1_2/likes", params={"access_token": token}),
        400,
        "OAuthPermissionsException",
        "This request requires scope=likes, but this access token is not authorized with this "
        "scope. The user must re-authorize your application with scope=likes to be granted this "
        "permissions.",
    )


@pytest.mark.parametrize(
    ("era", "path", "retired"),
    [
        ("2016", "/v1/users/search?q=a", False),
        ("2018-04-04", "/v1/users/search?q=a", True),
        ("2018-04-04", "/v1/users/self", False),
        ("2018-04-04", "/v1/tags/food", False),
        ("2018-12-11", "/v1/tags/food", True),
        ("2020-06-29", "/v1/users/self", True),
    ],
)
def test_eras_retire_endpoints(era: str, path: str, retired: bool) -> None:
    with fake_sandbox(era=era) as running:
        token = implicit_token(running.url, None if era >= "2018-12-11" else "public_content")
        sep = "&" if "?" in path else "?"
        response = requests.get(f"{running.url}{path}{sep}access_token={token}")
        if retired:
            assert_error(response, 400, "APINotAllowedError", "This endpoint has been retired")
        else:
            assert response.status_code == 200, response.text


# ---- routing and envelopes -----------------------------------------------------------------------
def test_json_suffix_and_trailing_slash(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url)
    for path in (
        "/v1/users/self",
        "/v1/users/self/",
        "/v1/users/self.json",
        "/v1/users/self.json/",
    ):
        response = requests.get(sandbox.url + path, params={"access_token": token})
        assert response.status_code == 200, path
        assert response.headers["Content-Type"] == JSON


def test_unknown_paths_and_methods_get_clean_envelopes(sandbox: RunningSandbox) -> None:
    assert_error(
        requests.get(sandbox.url + "/v1/nothing/here"),
        404,
        "APINotFoundError",
        "this endpoint does not exist",
    )
    assert_error(
        requests.get(sandbox.url + "/favicon.ico"),
        404,
        "APINotFoundError",
        "this endpoint does not exist",
    )
    wrong = requests.put(sandbox.url + "/v1/users/self")
    assert_error(
        wrong, 405, "APIMethodNotAllowedError", "This endpoint does not support the PUT method"
    )
    assert "GET" in wrong.headers["Allow"]
    assert "X-Ratelimit-Limit" in wrong.headers


def test_pagination_next_url_repeats_the_callers_query(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url)
    body = requests.get(
        sandbox.url + "/v1/users/self/media/recent.json",
        params={"access_token": token, "count": "1", "max_id": "7"},
    ).json()
    next_url = body["pagination"]["next_url"]
    parts = urlsplit(next_url)
    assert f"{parts.scheme}://{parts.netloc}" == sandbox.url
    assert parts.path == "/v1/users/self/media/recent"
    assert parse_qs(parts.query) == {"access_token": [token], "count": ["1"], "max_id": ["6"]}
    assert requests.get(next_url).json()["data"] == [{"id": "6"}]


def test_jsonp_wraps_the_envelope_and_refuses_bad_callbacks(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url)
    ok = requests.get(
        sandbox.url + "/v1/users/self",
        params={"access_token": token, "callback": "angular.callbacks._0"},
    )
    assert ok.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert ok.text.startswith("/**/ angular.callbacks._0({") and ok.text.endswith("})")
    error = requests.get(sandbox.url + "/v1/users/self", params={"callback": "JSON_CALLBACK"})
    assert error.status_code == 200  # a browser runs the script, so the page can read meta.code
    assert '"code": 400' in error.text and error.text.startswith("/**/ JSON_CALLBACK(")
    bad = requests.get(
        sandbox.url + "/v1/users/self", params={"access_token": token, "callback": "alert(1)//"}
    )
    assert bad.status_code == 400 and bad.headers["Content-Type"] == JSON


def test_a_handler_bug_is_a_500_envelope_and_the_server_survives(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url)
    assert_error(
        requests.get(sandbox.url + "/v1/media/1_2/comments", params={"access_token": token}),
        500,
        "APIError",
        "Oops, an error occurred.",
    )
    assert (
        requests.get(sandbox.url + "/v1/users/self", params={"access_token": token}).status_code
        == 200
    )


def test_a_failed_request_changes_nothing(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url, "likes")
    failed = requests.post(
        sandbox.url + "/v1/media/9_9/likes", data={"access_token": token, "fail": "1"}
    )
    assert failed.status_code == 400
    assert (
        requests.get(sandbox.url + "/v1/media/9_9/likes", params={"access_token": token}).json()[
            "data"
        ]
        == []
    )


def test_concurrent_requests_are_served_in_parallel_threads(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url, "likes")
    results: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with requests.Session() as session:
            for _ in range(4):
                r = session.post(
                    sandbox.url + f"/v1/media/{n}_c/likes", data={"access_token": token}
                )
                g = session.get(sandbox.url + "/v1/users/self", params={"access_token": token})
                with lock:
                    results.extend([r.status_code, g.status_code])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 48
    counts = [
        len(
            requests.get(
                sandbox.url + f"/v1/media/{n}_c/likes", params={"access_token": token}
            ).json()["data"]
        )
        for n in range(6)
    ]
    assert counts == [4] * 6

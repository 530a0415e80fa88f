"""OAuth 2.0 against a served sandbox: the flows of reference §5 and every §5.5 error body."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from test_sandbox_support import (
    REDIRECT,
    TOKEN_RE,
    authorize,
    client,
    fake_sandbox,
    parse_form,
    password,
    token_from,
)

from igflow.sandbox.server import RunningSandbox


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with fake_sandbox(clock="fake") as running:
        yield running


def oauth_error(code: int, error_type: str, message: str) -> dict[str, object]:
    return {"code": code, "error_type": error_type, "error_message": message}


def get_authorize(url: str, **params: str) -> requests.Response:
    return requests.get(url + "/oauth/authorize/", params=params, allow_redirects=False, timeout=10)


# ---- the implicit flow, step by step -------------------------------------------------------------
def test_implicit_flow_redirects_through_login_and_consent(sandbox: RunningSandbox) -> None:
    url, default = sandbox.url, client(sandbox.url)
    session = requests.Session()
    first = session.get(
        url + "/oauth/authorize/",
        params={
            "client_id": default["client_id"],
            "redirect_uri": REDIRECT,
            "response_type": "token",
            "state": "xyz",
        },
        allow_redirects=False,
    )
    assert first.status_code == 302
    location = first.headers["Location"]
    assert location.startswith("/accounts/login/?next=/oauth/authorize%3F")
    original = parse_qs(urlsplit(location).query)["next"][0]
    assert parse_qs(urlsplit(original).query)["client_id"] == [default["client_id"]]

    login_page = session.get(url + location)
    assert login_page.status_code == 200 and login_page.headers["Content-Type"].startswith(
        "text/html"
    )
    form = parse_form(login_page.text)
    assert {"username", "password", "next", "csrfmiddlewaretoken"} <= set(form.fields)

    data = {**form.fields, "username": "grantwinney", "password": password(url, "grantwinney")}
    logged_in = session.post(url + form.action, data=data, allow_redirects=False)
    assert logged_in.status_code == 302
    cookie = logged_in.headers["Set-Cookie"]
    assert cookie.startswith("sessionid=") and "HttpOnly" in cookie and "Path=/" in cookie
    assert logged_in.headers["Location"] == original

    consent = session.get(url + logged_in.headers["Location"], allow_redirects=False)
    assert consent.status_code == 200
    assert "default</strong> would like to access your Instagram account" in consent.text
    consent_form = parse_form(consent.text)
    assert consent_form.buttons == {"allow": "Authorize", "deny": "Cancel"}
    assert {
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "csrfmiddlewaretoken",
    } <= set(consent_form.fields)

    granted = session.post(
        url + consent_form.action,
        data={**consent_form.fields, "allow": "Authorize"},
        allow_redirects=False,
    )
    assert granted.status_code == 302
    assert granted.headers["Location"].startswith(REDIRECT + "#access_token=")
    assert granted.headers["Location"].endswith("&state=xyz")
    token = token_from(granted)
    assert TOKEN_RE.match(token)
    user_id, prefix, _ = token.split(".")
    assert user_id == "3657782666" and prefix == default["client_id"][:7]

    # Everything asked for is granted already: no consent page, straight back with the same token.
    again = session.get(
        url + "/oauth/authorize/",
        params={
            "client_id": default["client_id"],
            "redirect_uri": REDIRECT,
            "response_type": "token",
        },
        allow_redirects=False,
    )
    assert again.status_code == 302 and token_from(again) == token


def test_reauthorizing_with_more_scopes_widens_the_same_token(sandbox: RunningSandbox) -> None:
    default = client(sandbox.url)
    with requests.Session() as session:
        first = token_from(authorize(sandbox.url, session, client_id=default["client_id"]))
        wider = authorize(
            sandbox.url,
            session,
            client_id=default["client_id"],
            scope="public_content+follower_list+comments+relationships+likes",
        )
    assert token_from(wider) == first
    me = requests.get(sandbox.url + "/v1/users/self", params={"access_token": first}).json()["data"]
    assert me["scopes"] == [
        "basic",
        "comments",
        "follower_list",
        "likes",
        "public_content",
        "relationships",
    ]


def test_scopes_may_be_joined_with_spaces_or_plus(sandbox: RunningSandbox) -> None:
    default = client(sandbox.url)
    with requests.Session() as session:
        # requests encodes the space as "+", which decodes back to a space.
        token = token_from(
            authorize(sandbox.url, session, client_id=default["client_id"], scope="likes comments")
        )
        me = requests.get(sandbox.url + "/v1/users/self", params={"access_token": token}).json()[
            "data"
        ]
        assert me["scopes"] == ["basic", "comments", "likes"]
        # A literal "+" (sent as %2B) separates too: both scopes are granted, so no consent page.
        literal = session.get(
            f"{sandbox.url}/oauth/authorize/?client_id={default['client_id']}&redirect_uri={REDIRECT}"
            "&response_type=token&scope=comments%2Blikes",
            allow_redirects=False,
        )
    assert literal.status_code == 302 and token_from(literal) == token


def test_deny_redirects_with_the_documented_error(sandbox: RunningSandbox) -> None:
    default = client(sandbox.url)
    with requests.Session() as session:
        denied = authorize(
            sandbox.url, session, client_id=default["client_id"], state="s1", button="deny"
        )
    assert denied.headers["Location"] == (
        REDIRECT + "?error=access_denied&error_reason=user_denied"
        "&error_description=The+user+denied+your+request.&state=s1"
    )


def test_wrong_password_shows_the_form_again_with_status_200(sandbox: RunningSandbox) -> None:
    with requests.Session() as session:
        page = session.get(sandbox.url + "/accounts/login/?next=/oauth/authorize")
        form = parse_form(page.text)
        again = session.post(
            sandbox.url + "/accounts/login/",
            data={**form.fields, "username": "grantwinney", "password": "nope"},
            allow_redirects=False,
        )
    assert again.status_code == 200
    assert "Sorry, your password was incorrect. Please double-check your password." in again.text
    assert "sessionid" not in again.headers.get("Set-Cookie", "")
    assert parse_form(again.text).fields["next"] == "/oauth/authorize"


def test_login_refuses_a_form_without_the_csrf_token(sandbox: RunningSandbox) -> None:
    refused = requests.post(
        sandbox.url + "/accounts/login/", data={"username": "grantwinney", "password": "x"}
    )
    assert refused.status_code == 403 and "CSRF verification failed" in refused.text


def test_login_never_redirects_to_another_origin(sandbox: RunningSandbox) -> None:
    with requests.Session() as session:
        form = parse_form(session.get(sandbox.url + "/accounts/login/").text)
        data = {
            **form.fields,
            "username": "grantwinney",
            "password": password(sandbox.url, "grantwinney"),
            "next": "https://evil.example/steal",
        }
        response = session.post(sandbox.url + "/accounts/login/", data=data, allow_redirects=False)
    assert response.status_code == 200 and "logged in as grantwinney" in response.text


# ---- authorize errors (§5.5) ---------------------------------------------------------------------
def test_authorize_errors_have_no_meta_wrapper(sandbox: RunningSandbox) -> None:
    url, default, signed = sandbox.url, client(sandbox.url), client(sandbox.url, "signed")
    cases = [
        (
            {"client_id": "0" * 32, "redirect_uri": REDIRECT, "response_type": "token"},
            oauth_error(400, "OAuthException", "Invalid Client ID"),
        ),
        (
            {"redirect_uri": REDIRECT, "response_type": "token"},
            oauth_error(
                400,
                "OAuthException",
                "You must include a valid client_id, response_type, and redirect_uri parameters",
            ),
        ),
        (
            {"client_id": default["client_id"], "redirect_uri": REDIRECT, "response_type": "bogus"},
            oauth_error(
                400,
                "OAuthException",
                "You must include a valid client_id, response_type, and redirect_uri parameters",
            ),
        ),
        (
            {
                "client_id": default["client_id"],
                "redirect_uri": "http://localhost/other",
                "response_type": "token",
            },
            oauth_error(
                400, "OAuthException", "Redirect URI does not match registered redirect URI"
            ),
        ),
        (
            {"client_id": signed["client_id"], "redirect_uri": REDIRECT, "response_type": "token"},
            oauth_error(403, "OAuthForbiddenException", "Implicit authentication is disabled"),
        ),
        (
            {
                "client_id": default["client_id"],
                "redirect_uri": REDIRECT,
                "response_type": "token",
                "scope": "basic+fly+likes+swim",
            },
            oauth_error(400, "OAuthException", "Invalid scope field(s): fly, swim"),
        ),
    ]
    for params, body in cases:
        response = get_authorize(url, **params)
        assert response.status_code == body["code"], params
        assert response.json() == body, params
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_not_a_sandbox_user_is_refused_after_login(sandbox: RunningSandbox) -> None:
    info = requests.get(sandbox.url + "/_sandbox/info").json()
    default = next(c for c in info["clients"] if c["name"] == "default")
    outsider = next(
        u
        for u in info["users"]
        if u["username"]
        not in (
            "grantwinney",
            "maya.bakes",
            "tom_hikes",
            "sofia.lens",
            "dev_dan",
            "lena.plants",
            "ocean_kai",
            "pixel_pete",
            "rosa.quiet",
            "city_walker",
        )
    )
    with requests.Session() as session:
        refused = authorize(
            sandbox.url, session, client_id=default["client_id"], username=outsider["username"]
        )
    assert refused.status_code == 403
    assert refused.json() == oauth_error(
        403, "OAuthForbiddenException", "You are not a sandbox user of this client"
    )
    live = next(c for c in info["clients"] if c["name"] == "live")
    with requests.Session() as session:
        allowed = authorize(
            sandbox.url, session, client_id=live["client_id"], username=outsider["username"]
        )
    assert allowed.status_code == 302


def test_public_content_cannot_be_requested_from_2018_12_11() -> None:
    with fake_sandbox(era="2018-12-11") as running:
        default = client(running.url)
        response = get_authorize(
            running.url,
            client_id=default["client_id"],
            redirect_uri=REDIRECT,
            response_type="token",
            scope="basic public_content",
        )
        assert response.json() == oauth_error(
            400, "OAuthException", "Invalid scope field(s): public_content"
        )


# ---- the code flow -------------------------------------------------------------------------------
def _code(
    sandbox: RunningSandbox, client_name: str, state: str | None = "abc"
) -> tuple[dict[str, str], str]:
    c = client(sandbox.url, client_name)
    with requests.Session() as session:
        response = authorize(
            sandbox.url,
            session,
            client_id=c["client_id"],
            response_type="code",
            state=state,
            scope="likes",
        )
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}" == REDIRECT
    if state:
        assert query["state"] == [state]
    code = query["code"][0]
    assert len(code) == 32 and all(ch in "0123456789abcdef" for ch in code)
    return c, code


def _exchange(url: str, **fields: str) -> requests.Response:
    return requests.post(url + "/oauth/access_token", data=fields, timeout=10)


def test_code_flow_exchanges_a_single_use_code(sandbox: RunningSandbox) -> None:
    c, code = _code(sandbox, "signed")
    fields = {
        "client_id": c["client_id"],
        "client_secret": c["client_secret"],
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": code,
    }
    exchanged = _exchange(sandbox.url, **fields)
    assert exchanged.status_code == 200
    body = exchanged.json()
    assert set(body) == {"access_token", "user"}
    assert TOKEN_RE.match(body["access_token"])
    assert set(body["user"]) == {
        "id",
        "username",
        "profile_picture",
        "full_name",
        "bio",
        "website",
        "is_business",
    }
    assert body["user"]["username"] == "grantwinney"

    reused = _exchange(sandbox.url, **fields)
    assert reused.status_code == 400
    assert reused.json() == oauth_error(
        400, "OAuthException", "Matching code was not found or was already used."
    )


def test_code_exchange_errors(sandbox: RunningSandbox) -> None:
    c, code = _code(sandbox, "signed")
    other = client(sandbox.url, "default")
    good = {
        "client_id": c["client_id"],
        "client_secret": c["client_secret"],
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": code,
    }
    cases = [
        ({**good, "client_id": ""}, "You must provide a client_id"),
        ({**good, "client_id": "f" * 32}, "Invalid Client ID"),
        ({**good, "client_secret": "0" * 32}, "Invalid Client Secret"),
        (
            {**good, "redirect_uri": "http://elsewhere"},
            "Redirect URI does not match registered redirect URI",
        ),
        ({**good, "code": "0" * 32}, "Matching code was not found or was already used."),
        (
            {**good, "client_id": other["client_id"], "client_secret": other["client_secret"]},
            "Client ID doesn't match original request",
        ),
    ]
    for fields, message in cases:
        response = _exchange(sandbox.url, **fields)
        assert response.status_code == 400, message
        assert response.json() == oauth_error(400, "OAuthException", message)
    # A JSON body is not read as form fields: the server sees no client_id (§1).
    as_json = requests.post(sandbox.url + "/oauth/access_token", json=good, timeout=10)
    assert as_json.json() == oauth_error(400, "OAuthException", "You must provide a client_id")
    # None of the failures used the code up.
    assert _exchange(sandbox.url, **good).status_code == 200


def test_codes_expire_after_ten_minutes_of_sandbox_time(sandbox: RunningSandbox) -> None:
    c, code = _code(sandbox, "default", state=None)
    requests.post(sandbox.url + "/_sandbox/clock", json={"advance": 601})
    expired = _exchange(
        sandbox.url,
        client_id=c["client_id"],
        client_secret=c["client_secret"],
        grant_type="authorization_code",
        redirect_uri=REDIRECT,
        code=code,
    )
    assert expired.json()["error_message"] == "Matching code was not found or was already used."


def test_oauth_paths_accept_a_trailing_slash(sandbox: RunningSandbox) -> None:
    for path in ("/oauth/access_token", "/oauth/access_token/"):
        assert (
            requests.post(sandbox.url + path, data={}).json()["error_message"]
            == "You must provide a client_id"
        )
    wrong_method = requests.get(sandbox.url + "/oauth/access_token")
    assert wrong_method.status_code == 405 and "meta" not in wrong_method.json()

"""The sandbox's own doors, as a hostile tester tried them over loopback HTTP.

Open redirects after login, bad input on the OAuth pages, forged CSRF tokens, cookie flags, a
password-guessing throttle, secrets in the request log and tracebacks from injected faults.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from test_sandbox_support import (
    REDIRECT,
    authorize,
    client,
    fake_sandbox,
    implicit_token,
    parse_form,
    password,
)

from igflow.sandbox.server import RunningSandbox
from igflow.sandbox.throttle import LOCKOUT_SECONDS, MAX_FAILURES, THROTTLED

ROOT = Path(__file__).resolve().parents[2]
USER = "grantwinney"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with fake_sandbox(clock="fake") as running:
        yield running


def login_form(url: str, session: requests.Session, next_path: str = "") -> dict[str, str]:
    page = session.get(url + "/accounts/login/", params={"next": next_path} if next_path else {})
    assert page.status_code == 200, page.text
    return dict(parse_form(page.text).fields)


def post_login(
    url: str,
    session: requests.Session,
    *,
    user: str = USER,
    secret: str | None = None,
    **extra: str,
) -> requests.Response:
    data = {
        **login_form(url, session),
        "username": user,
        "password": password(url, user) if secret is None else secret,
        **extra,
    }
    return session.post(url + "/accounts/login/", data=data, allow_redirects=False)


def consent_page(url: str, session: requests.Session, scope: str = "likes") -> requests.Response:
    """The consent form of a logged-in session (a scope not granted yet, so it is shown)."""
    params = {
        "client_id": client(url)["client_id"],
        "redirect_uri": REDIRECT,
        "response_type": "token",
        "scope": scope,
    }
    page = session.get(url + "/oauth/authorize/", params=params, allow_redirects=False)
    assert page.status_code == 200 and "would like to access" in page.text, page.text
    return page


def assert_oauth_400(response: requests.Response, name: str) -> None:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == 400 and body["error_type"] == "OAuthException"
    assert f"'{name}'" in body["error_message"] or "body" in body["error_message"], body


# ---- 1. next only ever leads to a path on the sandbox --------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\\evil.example/x",
        "\\\\evil.example/x",
        "https://evil.example/x",
        "http:/evil.example/x",
        "evil.example/x",
        "/%2F/evil.example/x",
        "/%5Cevil.example/x",
        "/%09/evil.example/x",
        "/\u3000/evil.example/x",
    ],
)
def test_login_next_never_leaves_the_sandbox(sandbox: RunningSandbox, target: str) -> None:
    with requests.Session() as session:
        response = post_login(sandbox.url, session, next=target)
    location = response.headers.get("Location")
    assert location is None, f"{target!r} redirected to {location!r}"
    assert response.status_code == 200 and "logged in as grantwinney" in response.text
    assert "sessionid=" in response.headers["Set-Cookie"]


def test_a_tab_in_next_is_refused_not_followed(sandbox: RunningSandbox) -> None:
    # The reported door: "/\t/evil.example/x" was answered "Location: //evil.example/x".
    with requests.Session() as session:
        response = post_login(sandbox.url, session, next="/\t/evil.example/x")
        assert "Location" not in response.headers
        assert_oauth_400(response, "next")
        page = session.get(sandbox.url + "/accounts/login/?next=/%09/evil.example/x")
    assert "Location" not in page.headers
    assert_oauth_400(page, "next")


def test_a_local_next_still_redirects(sandbox: RunningSandbox) -> None:
    with requests.Session() as session:
        response = post_login(sandbox.url, session, next="/oauth/authorize?client_id=x&scope=a+b")
    assert response.status_code == 302
    assert response.headers["Location"] == "/oauth/authorize?client_id=x&scope=a+b"


def test_the_login_form_does_not_carry_a_foreign_next(sandbox: RunningSandbox) -> None:
    with requests.Session() as session:
        fields = login_form(sandbox.url, session, "//evil.example/x")
    assert fields["next"] == ""


# ---- 2. bad input is one 400, never a 500 --------------------------------------------------------
BAD_VALUES = {
    "crlf": "/oauth\r\nSet-Cookie: x=1",
    "lf": "a\nb",
    "nul": "a\x00b",
    "tab": "a\tb",
    "del": "a\x7fb",
    "c1": "a\x85b",
    "long": "/" + "a" * 5000,
}


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
@pytest.mark.parametrize("name", ["next", "username", "password", "csrfmiddlewaretoken"])
def test_bad_login_form_values_get_a_400(sandbox: RunningSandbox, kind: str, name: str) -> None:
    with requests.Session() as session:
        response = post_login(sandbox.url, session, **{name: BAD_VALUES[kind]})
    assert_oauth_400(response, name)


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
@pytest.mark.parametrize("name", ["state", "redirect_uri", "scope", "client_id"])
def test_bad_authorize_query_values_get_a_400(
    sandbox: RunningSandbox, kind: str, name: str
) -> None:
    params = {
        "client_id": client(sandbox.url)["client_id"],
        "redirect_uri": REDIRECT,
        "response_type": "token",
        name: BAD_VALUES[kind],
    }
    response = requests.get(
        sandbox.url + "/oauth/authorize/", params=params, allow_redirects=False, timeout=10
    )
    assert_oauth_400(response, name)


@pytest.mark.parametrize(
    "raw",
    [
        "next=%0D%0ALocation:%20//evil",
        "next=%zz",
        "next=%e",
        "next=%ff%fe",
        "state=%C3%28",
        "ne%0Axt=/",
    ],
)
@pytest.mark.parametrize("path", ["/accounts/login/", "/oauth/authorize/"])
def test_bad_raw_queries_get_a_400(sandbox: RunningSandbox, raw: str, path: str) -> None:
    # http.client sends the query byte for byte (requests would re-quote a stray "%").
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=10)
    try:
        connection.request("GET", f"{path}?{raw}")
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 400, body
    assert body["error_type"] == "OAuthException" and "parameter" in body["error_message"]


@pytest.mark.parametrize(
    "body",
    ["code=%zz", "code=%ff", "code=a%0d%0ab", "code=" + "a" * 5000],
    ids=["bad-escape", "not-utf8", "crlf", "long"],
)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None])
def test_bad_token_exchange_bodies_get_a_400(
    sandbox: RunningSandbox, body: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(
        sandbox.url + "/oauth/access_token", data=body.encode(), headers=headers, timeout=10
    )
    assert_oauth_400(response, "code")


def test_an_over_long_body_gets_a_413(sandbox: RunningSandbox) -> None:
    response = requests.post(
        sandbox.url + "/oauth/access_token", data={"client_id": "x" * 70_000}, timeout=10
    )
    assert response.status_code == 413
    assert "65536 bytes" in response.json()["error_message"]


def test_bad_consent_form_values_get_a_400(sandbox: RunningSandbox) -> None:
    with requests.Session() as session:
        post_login(sandbox.url, session)
        form = parse_form(consent_page(sandbox.url, session).text)
        response = session.post(
            sandbox.url + "/oauth/authorize/",
            data={**form.fields, "state": "s\r\nX: y", "allow": "Authorize"},
            allow_redirects=False,
        )
    assert_oauth_400(response, "state")


# ---- 3. CSRF tokens are bound to the server's secret and the session ---------------------------
def test_consent_refuses_a_double_submitted_cookie_of_the_attackers_choosing(
    sandbox: RunningSandbox,
) -> None:
    with requests.Session() as session:
        post_login(sandbox.url, session)
        form = parse_form(consent_page(sandbox.url, session).text)
        session_id = session.cookies["sessionid"]
    forged = "a" * 32  # planted by the attacker's page, which also wrote the form
    response = requests.post(
        sandbox.url + "/oauth/authorize/",
        headers={"Cookie": f"sessionid={session_id}; csrftoken={forged}"},
        data={**form.fields, "csrfmiddlewaretoken": forged, "allow": "Authorize"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 403 and "CSRF verification failed" in response.text


def test_consent_refuses_a_token_of_another_session(sandbox: RunningSandbox) -> None:
    with requests.Session() as attacker, requests.Session() as victim:
        post_login(sandbox.url, attacker, user="maya.bakes")
        attackers = parse_form(consent_page(sandbox.url, attacker).text).fields
        post_login(sandbox.url, victim)
        victims = parse_form(consent_page(sandbox.url, victim).text).fields
        assert attackers["csrfmiddlewaretoken"] != victims["csrfmiddlewaretoken"]
        # The victim's browser posts the attacker's form, with the attacker's csrftoken cookie.
        cookie = (
            f"sessionid={victim.cookies['sessionid']}; csrftoken={attacker.cookies['csrftoken']}"
        )
        response = requests.post(
            sandbox.url + "/oauth/authorize/",
            headers={"Cookie": cookie},
            data={**victims, "csrfmiddlewaretoken": attackers["csrfmiddlewaretoken"], "allow": "1"},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 403
        # Its own token still works.
        granted = victim.post(
            sandbox.url + "/oauth/authorize/",
            data={**victims, "allow": "Authorize"},
            allow_redirects=False,
        )
    assert granted.status_code == 302 and granted.headers["Location"].startswith(REDIRECT)


def test_login_refuses_a_forged_csrf_cookie(sandbox: RunningSandbox) -> None:
    forged = "b" * 32
    with requests.Session() as session:
        session.cookies.set("csrftoken", forged)
        response = session.post(
            sandbox.url + "/accounts/login/",
            data={
                "csrfmiddlewaretoken": forged,
                "username": USER,
                "password": password(sandbox.url, USER),
            },
            allow_redirects=False,
        )
    assert response.status_code == 403 and "sessionid" not in response.headers.get("Set-Cookie", "")
    # A cookie the server never issued is replaced, and the page's token is not for it.
    page = requests.get(
        sandbox.url + "/accounts/login/", headers={"Cookie": f"csrftoken={forged}"}, timeout=10
    )
    issued = page.cookies["csrftoken"]
    token = parse_form(page.text).fields["csrfmiddlewaretoken"]
    assert issued != forged and token not in (forged, issued)
    replayed = requests.post(
        sandbox.url + "/accounts/login/",
        headers={"Cookie": f"csrftoken={forged}"},
        data={"csrfmiddlewaretoken": token, "username": USER, "password": "x"},
        allow_redirects=False,
        timeout=10,
    )
    assert replayed.status_code == 403


# ---- 4. cookie flags ---------------------------------------------------------------------------
def test_every_cookie_is_httponly_and_samesite_lax(sandbox: RunningSandbox) -> None:
    cookies: list[str] = []

    def record(response: requests.Response, *args: object, **kwargs: object) -> None:
        cookies.extend(
            value for name, value in response.raw.headers.items() if name.lower() == "set-cookie"
        )

    with requests.Session() as session:
        session.hooks["response"].append(record)
        response = authorize(sandbox.url, session, client_id=client(sandbox.url)["client_id"])
        post_login(sandbox.url, session, secret="wrong")
    assert response.headers["Location"].startswith(REDIRECT + "#access_token=")
    names = {cookie.split("=", 1)[0] for cookie in cookies}
    assert {"sessionid", "csrftoken"} <= names
    for cookie in cookies:
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags, cookie


# ---- 5. the failed-login throttle ---------------------------------------------------------------
def advance(url: str, seconds: float) -> None:
    response = requests.post(url + "/_sandbox/clock", json={"advance": seconds}, timeout=10)
    assert response.status_code == 200, response.text


def test_wrong_passwords_are_throttled_per_user_on_the_sandbox_clock(
    sandbox: RunningSandbox,
) -> None:
    with requests.Session() as session:
        for _ in range(MAX_FAILURES):
            wrong = post_login(sandbox.url, session, secret="nope")
            assert wrong.status_code == 200 and "password was incorrect" in wrong.text
        refused = post_login(sandbox.url, session)  # the right password, too late
        assert refused.status_code == 429 and THROTTLED in refused.text
        assert int(refused.headers["Retry-After"]) == int(LOCKOUT_SECONDS)
        assert "sessionid" not in session.cookies
        assert "form" in refused.text  # the login form again, with the message
        advance(sandbox.url, LOCKOUT_SECONDS - 1)
        assert post_login(sandbox.url, session).status_code == 429
        advance(sandbox.url, 2)
        accepted = post_login(sandbox.url, session)
    assert accepted.status_code == 200 and "sessionid" in accepted.headers["Set-Cookie"]


def test_failures_across_usernames_throttle_the_address(sandbox: RunningSandbox) -> None:
    with requests.Session() as session:
        for n in range(MAX_FAILURES):
            post_login(sandbox.url, session, user=f"nobody{n}", secret="x")
        refused = post_login(sandbox.url, session)
    assert refused.status_code == 429 and THROTTLED in refused.text


def test_failures_outside_the_window_do_not_add_up(sandbox: RunningSandbox) -> None:
    with requests.Session() as session:
        for _ in range(MAX_FAILURES - 1):
            post_login(sandbox.url, session, secret="nope")
        advance(sandbox.url, 3600)
        post_login(sandbox.url, session, secret="nope")
        accepted = post_login(sandbox.url, session)
    assert "sessionid" in accepted.headers["Set-Cookie"]


def test_the_oauth_flow_reports_the_throttle(sandbox: RunningSandbox) -> None:
    """igflow's own client ends with the sandbox's status, not a hang or a traceback."""
    from igflow.auth import authorize_sandbox
    from igflow.errors import OAuthError

    with requests.Session() as session:
        for _ in range(MAX_FAILURES):
            post_login(sandbox.url, session, secret="nope")
    with requests.Session() as session, pytest.raises(OAuthError, match="429"):
        authorize_sandbox(
            session,
            sandbox.url,
            client_id=client(sandbox.url)["client_id"],
            redirect_uri=REDIRECT,
            username=USER,
            password=password(sandbox.url, USER),
            scopes=["basic"],
        )


# ---- 6. the request log masks every secret value, wherever it appears -------------------------
def test_the_request_log_masks_secret_values_anywhere(tmp_path: Path) -> None:
    log_file = tmp_path / "requests.jsonl"
    with fake_sandbox(request_log=str(log_file)) as running:
        url = running.url
        default = client(url)
        with requests.Session() as session:
            login_fields = login_form(url, session)
            login_csrf = login_fields["csrfmiddlewaretoken"]
            login_nonce = session.cookies["csrftoken"]
            post_login(url, session)
            session_id = session.cookies["sessionid"]
            consent = parse_form(consent_page(url, session, "likes").text).fields
            consent_csrf = consent["csrfmiddlewaretoken"]
            granted = session.post(
                url + "/oauth/authorize/",
                data={**consent, "allow": "Authorize"},
                allow_redirects=False,
            )
            token = parse_qs(urlsplit(granted.headers["Location"]).fragment)["access_token"][0]
        code_location = authorize(
            url,
            requests.Session(),
            client_id=client(url, "signed")["client_id"],
            response_type="code",
        ).headers["Location"]
        code = parse_qs(urlsplit(code_location).query)["code"][0]
        # Secrets where no parameter name gives them away.
        requests.get(f"{url}/v1/tags/{token}", params={"access_token": token}, timeout=10)
        requests.get(
            f"{url}/v1/users/search", params={"q": f"x{token} y", "access_token": token}, timeout=10
        )
        requests.get(f"{url}/v1/users/search", params={"q": code, "access_token": token})
        requests.post(
            f"{url}/v1/media/{default['client_secret']}/likes",
            data={"note": session_id, "other": consent_csrf, "more": login_nonce + login_csrf},
            timeout=10,
        )
        requests.get(urljoin(url, f"/nowhere/{session_id}/{token}"), timeout=10)
    text = log_file.read_text(encoding="utf-8")
    secrets = {
        "token": token,
        "token's hex tail": token.rsplit(".", 1)[1],
        "client secret": default["client_secret"],
        "OAuth code": code,
        "session id": session_id,
        "login CSRF token": login_csrf,
        "login CSRF nonce": login_nonce,
        "consent CSRF token": consent_csrf,
    }
    for what, value in secrets.items():
        assert value not in text, f"the {what} is in the request log"
    entries = [json.loads(line) for line in text.splitlines()]
    posts = [e for e in entries if e["method"] == "POST" and e["form"].get("csrfmiddlewaretoken")]
    assert posts and all(e["form"]["csrfmiddlewaretoken"] == "***" for e in posts)
    tag = next(e for e in entries if e["endpoint"] == "tags.get")
    assert tag["path"] == "/v1/tags/***"
    search = next(e for e in entries if e["endpoint"] == "users.search")
    assert search["query"]["q"] == "x*** y"  # the rest of the line stays readable


def test_a_client_registered_by_another_process_is_masked_too(tmp_path: Path) -> None:
    from igflow.sandbox.clients import OAuthState
    from igflow.sandbox.db import Database

    db_file, log_file = tmp_path / "state.db", tmp_path / "requests.jsonl"
    with fake_sandbox(db=str(db_file), request_log=str(log_file)) as running:
        other = Database(str(db_file))
        try:
            added = OAuthState(other).add_client(name="offline")
        finally:
            other.close()
        requests.get(f"{running.url}/nowhere/{added.client_secret}", timeout=10)
    text = log_file.read_text(encoding="utf-8")
    assert added.client_secret not in text and "/nowhere/***" in text


# ---- 7. an injected drop logs one line, not a traceback ------------------------------------------
def _serve(*flags: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "igflow", "sandbox", "serve", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", banner)
    if match is None:
        process.kill()
        raise AssertionError(f"no URL in the banner: {banner!r} {process.communicate()}")
    return process, match.group(0)


@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_dropped_connection_logs_one_line_not_a_traceback(phase: str) -> None:
    process, url = _serve("--drop-nth", "2", "--fault-phase", phase)
    try:
        token = implicit_token(url, "likes")
        ok = requests.get(f"{url}/v1/users/self", params={"access_token": token}, timeout=10)
        assert ok.status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{url}/v1/media/1_2/likes", data={"access_token": token}, timeout=10)
        # Still serving after the drop.
        again = requests.get(f"{url}/v1/users/self", params={"access_token": token}, timeout=10)
        assert again.status_code == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["sandbox fault 'drop': dropped the connection of a likes.create request"], err
    assert token not in err

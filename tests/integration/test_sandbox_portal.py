"""The developer portal over loopback HTTP, as a browser without JavaScript uses it.

The walk through the seed in a real browser is tests/browser/; here each page's rules: login
required, CSRF on every form, validation messages on the page, escaping, and errors that are
portal pages (HTML) for the website and JSON for the API, never a framework's page or a
traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from test_sandbox_support import implicit_token, parse_form, password

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([0-9a-f]+)"')


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    config = SandboxConfig(request_log=str(tmp_path / "requests.jsonl"))
    with start_sandbox(config) as running:
        yield running


def log_in(url: str, username: str = "grantwinney") -> requests.Session:
    session = requests.Session()
    page = session.get(url + "/accounts/login/")
    form = parse_form(page.text)
    data = {**form.fields, "username": username, "password": password(url, username)}
    response = session.post(url + "/accounts/login/", data=data, allow_redirects=False)
    assert "sessionid" in session.cookies, response.text
    return session


def csrf(session: requests.Session, url: str, page: str) -> str:
    found = _CSRF.search(session.get(url + page).text)
    assert found, page
    return found.group(1)


def register(
    session: requests.Session, url: str, token: str | None = None, **fields: str
) -> requests.Response:
    data = {
        "name": "my-app",
        "description": "bogus",
        "company": "",
        "website": "http://localhost",
        "redirect_uris": "http://localhost",
        "privacy_url": "",
        "contact_email": "me@example.com",
        **fields,
    }
    if token is None:
        token = csrf(session, url, "/developer/clients/register/")
    if token:
        data["csrfmiddlewaretoken"] = token
    return session.post(url + "/developer/clients/register/", data=data, allow_redirects=False)


def alert(response: requests.Response) -> str:
    found = re.search(r'role="alert">([^<]*)<', response.text)
    assert found, response.text[:500]
    return found.group(1)


def clients(url: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in requests.get(url + "/_sandbox/clients", timeout=5).json()}


# ---- pages and the login -----------------------------------------------------------------------
def test_the_index_links_the_portal_docs_and_demo_users(sandbox: RunningSandbox) -> None:
    page = requests.get(sandbox.url + "/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for link in ("/developer/", "/developer/authentication/", "/developer/endpoints/"):
        assert f'href="{link}"' in page.text
    assert "grantwinney" in page.text and "snappeas2017" in page.text
    assert "<script" not in page.text and "http://" not in page.text.split("<main>")[0].replace(
        'content="width', ""
    )  # no external resources
    endpoints = requests.get(sandbox.url + "/developer/endpoints/").text
    assert "/v1/media/shortcode/{shortcode}" in endpoints
    developer = requests.get(sandbox.url + "/developer").text  # with or without the slash
    assert "Register Your Application" in developer


def test_portal_pages_send_a_visitor_to_the_login_page_and_back(sandbox: RunningSandbox) -> None:
    for page in (
        "/developer/clients/manage/",
        "/developer/clients/register/",
        "/accounts/manage_access/",
    ):
        response = requests.get(sandbox.url + page, allow_redirects=False)
        assert response.status_code == 303
        assert response.headers["Location"] == "/accounts/login/?next=" + page
    session = requests.Session()
    login = session.get(sandbox.url + "/accounts/login/?next=/developer/clients/manage/")
    form = parse_form(login.text)
    assert form.fields["next"] == "/developer/clients/manage/"
    data = {**form.fields, "username": "grantwinney", "password": "snappeas2017"}
    landed = session.post(sandbox.url + "/accounts/login/", data=data)
    assert landed.url.endswith("/developer/clients/manage/")
    assert "Manage Clients" in landed.text and "Register a New Client" in landed.text
    for name in ("default", "live", "signed"):
        assert f'data-name="{name}"' in landed.text


# ---- registration -----------------------------------------------------------------------------
def test_registering_shows_the_client_id_and_the_client_starts_without_implicit(
    sandbox: RunningSandbox,
) -> None:
    session = log_in(sandbox.url)
    response = register(session, sandbox.url, name="seed app", redirect_uris="http://localhost")
    assert response.status_code == 303
    confirmation = session.get(sandbox.url + response.headers["Location"])
    client = clients(sandbox.url)["seed app"]
    assert f'id="client-id">{client["client_id"]}<' in confirmation.text
    assert client["implicit"] is False and client["mode"] == "sandbox"
    assert client["sandbox_users"] == ["3657782666"]  # the developer who registered it
    dashboard = session.get(sandbox.url + "/developer/clients/manage/").text
    assert client["client_id"] in dashboard


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": " "}, "Application Name: this field is required."),
        ({"description": ""}, "Description: this field is required."),
        ({"website": "localhost"}, "Website URL: enter a valid URL"),
        ({"privacy_url": "nope"}, "Privacy Policy URL: enter a valid URL"),
        ({"contact_email": "nobody"}, "Contact email: enter a valid email address."),
        ({"redirect_uris": ""}, "Valid redirect URIs: enter at least one"),
        ({"redirect_uris": "localhost"}, "redirect URI &#39;localhost&#39; is not an http(s) URL"),
        ({"redirect_uris": "http://localhost/#x"}, "must not contain a fragment"),
        ({"name": "default"}, "a client named &#39;default&#39; already exists"),
        ({"name": "x" * 5000}, "is too long (at most 4096 characters)"),
    ],
)
def test_registration_refuses_bad_input_on_the_page(
    sandbox: RunningSandbox, fields: dict[str, str], message: str
) -> None:
    session = log_in(sandbox.url)
    response = register(session, sandbox.url, **fields)
    assert response.status_code == 400
    assert message in alert(response)
    assert set(clients(sandbox.url)) == {"default", "live", "signed"}


def test_what_a_visitor_types_comes_back_escaped(sandbox: RunningSandbox) -> None:
    session = log_in(sandbox.url)
    name = '<script>alert("x")</script>'
    response = register(session, sandbox.url, name=name)
    assert response.status_code == 303
    page = session.get(sandbox.url + "/developer/clients/manage/").text
    assert name not in page and "&lt;script&gt;" in page


# ---- CSRF -------------------------------------------------------------------------------------
def test_every_form_refuses_a_missing_or_foreign_csrf_token(sandbox: RunningSandbox) -> None:
    grant, maya = log_in(sandbox.url), log_in(sandbox.url, "maya.bakes")
    foreign = csrf(maya, sandbox.url, "/developer/")
    default = clients(sandbox.url)["default"]["client_id"]
    edit = f"/developer/clients/{default}/edit/"
    posts = [
        ("/developer/clients/register/", {"name": "csrf-app", "description": "x"}),
        (edit + "?tab=security", {"tab": "security", "redirect_uris": "http://localhost"}),
        (edit + "?tab=sandbox", {"tab": "sandbox", "username": "famous_foodie"}),
        (edit + "?tab=details", {"tab": "details", "action": "delete"}),
        ("/accounts/manage_access/", {"client_id": default}),
        ("/accounts/logout/", {}),
    ]
    for token in (None, foreign, "0" * 32):
        for page, data in posts:
            body = dict(data) if token is None else {**data, "csrfmiddlewaretoken": token}
            response = grant.post(sandbox.url + page, data=body, allow_redirects=False)
            assert response.status_code == 403, (page, token)
            assert "CSRF verification failed. Request aborted." in alert(response)
    after = clients(sandbox.url)
    assert set(after) == {"default", "live", "signed"}
    assert after["default"]["implicit"] is True and len(after["default"]["sandbox_users"]) == 10


# ---- a client's tabs --------------------------------------------------------------------------
def test_the_security_tab_toggles_implicit_and_signed_and_checks_redirect_uris(
    sandbox: RunningSandbox,
) -> None:
    session = log_in(sandbox.url)
    register(session, sandbox.url, name="tabs")
    client_id = clients(sandbox.url)["tabs"]["client_id"]
    page = f"/developer/clients/{client_id}/edit/?tab=security"
    shown = session.get(sandbox.url + page).text
    assert 'id="disable_implicit" name="disable_implicit" value="1" checked' in shown
    secret = clients(sandbox.url)["tabs"]["client_secret"]
    assert secret not in shown  # revealed on request only
    assert secret in session.get(sandbox.url + page + "&reveal=secret").text
    token = csrf(session, sandbox.url, page)
    base = {"csrfmiddlewaretoken": token, "tab": "security"}
    # Unchecking "Disable implicit OAuth" (the field is absent) and enforcing signed requests.
    saved = session.post(
        sandbox.url + page,
        data={
            **base,
            "redirect_uris": "http://localhost\nhttp://127.0.0.1:9/cb",
            "enforce_signed": "1",
        },
        allow_redirects=False,
    )
    assert saved.status_code == 303
    assert (
        "Your changes have been saved." in session.get(sandbox.url + saved.headers["Location"]).text
    )
    after = clients(sandbox.url)["tabs"]
    assert after["implicit"] is True and after["signed"] is True
    assert after["redirect_uris"] == ["http://localhost", "http://127.0.0.1:9/cb"]
    refused = session.post(
        sandbox.url + page,
        data={**base, "redirect_uris": "not a url", "disable_implicit": "1"},
        allow_redirects=False,
    )
    assert refused.status_code == 400 and "is not an http(s) URL" in alert(refused)
    assert clients(sandbox.url)["tabs"]["implicit"] is True  # nothing changed


def test_the_sandbox_tab_invites_removes_and_stops_at_ten(sandbox: RunningSandbox) -> None:
    session = log_in(sandbox.url)
    register(session, sandbox.url, name="team")
    client_id = clients(sandbox.url)["team"]["client_id"]
    page = f"/developer/clients/{client_id}/edit/?tab=sandbox"
    token = csrf(session, sandbox.url, page)

    def invite(username: str) -> requests.Response:
        data = {"csrfmiddlewaretoken": token, "tab": "sandbox", "username": username}
        return session.post(sandbox.url + page, data=data, allow_redirects=False)

    users = [u["username"] for u in requests.get(sandbox.url + "/_sandbox/info").json()["users"]]
    for username in users[1:10]:
        assert invite(username).status_code == 303, username
    assert len(clients(sandbox.url)["team"]["sandbox_users"]) == 10
    eleventh = invite(users[10])
    assert eleventh.status_code == 400
    assert "at most 10 sandbox users. Remove one before inviting another." in alert(eleventh)
    assert "There is no sandbox user named &#39;ghost&#39;." in alert(invite("ghost"))
    assert "already a sandbox user" in alert(invite(users[1]))
    removed = session.post(
        sandbox.url + page,
        data={"csrfmiddlewaretoken": token, "tab": "sandbox", "remove": "3657782666"},
        allow_redirects=False,
    )
    assert removed.status_code == 303
    assert "3657782666" not in clients(sandbox.url)["team"]["sandbox_users"]
    assert invite(users[10]).status_code == 303


def test_deleting_a_client_on_the_details_tab(sandbox: RunningSandbox) -> None:
    session = log_in(sandbox.url)
    register(session, sandbox.url, name="short-lived", description="first words")
    client_id = clients(sandbox.url)["short-lived"]["client_id"]
    page = f"/developer/clients/{client_id}/edit/?tab=details"
    assert "first words" in session.get(sandbox.url + page).text
    token = csrf(session, sandbox.url, page)
    deleted = session.post(
        sandbox.url + page,
        data={"csrfmiddlewaretoken": token, "tab": "details", "action": "delete"},
        allow_redirects=False,
    )
    assert deleted.status_code == 303 and "removed=short-lived" in deleted.headers["Location"]
    assert "short-lived" not in clients(sandbox.url)
    gone = session.get(sandbox.url + page)
    assert gone.status_code == 404 and "Page not found" in gone.text


# ---- the user's authorized apps ---------------------------------------------------------------
def test_manage_access_lists_authorized_apps_and_revokes_them(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url, "basic likes")
    session = log_in(sandbox.url)
    page = session.get(sandbox.url + "/accounts/manage_access/").text
    assert 'data-name="default"' in page and "basic, likes" in page
    default = clients(sandbox.url)["default"]["client_id"]
    revoked = session.post(
        sandbox.url + "/accounts/manage_access/",
        data={
            "csrfmiddlewaretoken": csrf(session, sandbox.url, "/accounts/manage_access/"),
            "client_id": default,
        },
    )
    assert "Access revoked for default." in revoked.text
    assert "You have not authorized any applications." in revoked.text
    answer = requests.get(sandbox.url + "/v1/users/self", params={"access_token": token}).json()
    assert answer["meta"]["error_type"] == "OAuthAccessTokenException"
    # Another user's revoke form cannot touch this user's grants: each page is the visitor's own.
    maya_token = implicit_token(sandbox.url, "basic", username="maya.bakes")
    session.post(
        sandbox.url + "/accounts/manage_access/",
        data={
            "csrfmiddlewaretoken": csrf(session, sandbox.url, "/accounts/manage_access/"),
            "client_id": default,
        },
    )
    answer = requests.get(sandbox.url + "/v1/users/self", params={"access_token": maya_token})
    assert answer.json()["meta"] == {"code": 200}


def test_logging_out_ends_the_portal_session(sandbox: RunningSandbox) -> None:
    session = log_in(sandbox.url)
    old_session = session.cookies["sessionid"]
    token = csrf(session, sandbox.url, "/developer/")
    out = session.post(
        sandbox.url + "/accounts/logout/",
        data={"csrfmiddlewaretoken": token},
        allow_redirects=False,
    )
    assert out.status_code == 303 and "sessionid" not in session.cookies
    # The session itself ends: a copy of the old cookie no longer logs anyone in.
    copy = requests.get(
        sandbox.url + "/developer/clients/manage/",
        cookies={"sessionid": old_session},
        allow_redirects=False,
    )
    assert copy.status_code == 303 and "/accounts/login/" in copy.headers["Location"]
    assert (
        session.get(sandbox.url + "/developer/clients/manage/", allow_redirects=False).status_code
        == 303
    )


# ---- errors -----------------------------------------------------------------------------------
def test_errors_are_portal_pages_on_the_website_and_json_on_the_api(
    sandbox: RunningSandbox,
) -> None:
    for path in ("/developer/nothing/", "/accounts/nothing", "/developer/clients/abc/edit/x/"):
        page = requests.get(sandbox.url + path)
        assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
        assert "Page not found" in page.text and "Manage Clients" in page.text
    session = log_in(sandbox.url)
    unknown = session.get(sandbox.url + "/developer/clients/" + "0" * 32 + "/edit/")
    assert unknown.status_code == 404 and "Page not found" in unknown.text
    wrong_method = requests.delete(sandbox.url + "/developer/")
    assert wrong_method.status_code == 405 and "does not accept DELETE" in wrong_method.text
    assert wrong_method.headers["Allow"] == "GET, HEAD"
    api = requests.get(sandbox.url + "/v1/nothing")
    assert api.status_code == 404 and api.json()["meta"]["error_type"] == "APINotFoundError"
    oauth = requests.get(sandbox.url + "/oauth/nothing")
    assert oauth.json() == {
        "code": 404,
        "error_type": "OAuthException",
        "error_message": "No such OAuth endpoint",
    }
    admin = requests.get(sandbox.url + "/_sandbox/nothing")
    assert admin.status_code == 404 and json.loads(admin.text)
    big = session.post(
        sandbox.url + "/developer/clients/register/", data={"description": "x" * 70_000}
    )
    assert big.status_code == 413 and "at most 65536 bytes" in big.text


def test_a_bug_in_a_page_is_a_portal_page_not_a_traceback(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> list[Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(sandbox.app.store, "list_users", broken)
    page = requests.get(sandbox.url + "/")
    assert page.status_code == 500 and "Oops, an error occurred" in page.text
    assert "Traceback" not in page.text and "boom" not in page.text


def test_the_request_log_never_shows_a_portal_csrf_token(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    session = log_in(sandbox.url)
    token = csrf(session, sandbox.url, "/developer/clients/register/")
    register(session, sandbox.url, token=token, name="logged")
    log = (tmp_path / "requests.jsonl").read_text()
    assert "/developer/clients/register/" in log
    assert token not in log


def test_a_request_werkzeug_refuses_is_a_portal_page(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from werkzeug.exceptions import BadRequest

    def garbled(*_args: object) -> list[Any]:
        raise BadRequest("garbled")

    monkeypatch.setattr(sandbox.app.store, "list_users", garbled)
    page = requests.get(sandbox.url + "/")
    assert page.status_code == 400 and "The request could not be read." in page.text
    assert page.headers["Content-Type"].startswith("text/html") and "Manage Clients" in page.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"privacy_url": "javascript:alert(1)"}, "Privacy Policy URL: enter a valid URL"),
        ({"contact_email": "x"}, "Contact email: enter a valid email address."),
        ({"website": "localhost"}, "Website URL: enter a valid URL"),
        ({"description": " "}, "Description: this field is required."),
    ],
)
def test_the_details_tab_refuses_what_the_register_form_refuses(
    sandbox: RunningSandbox, fields: dict[str, str], message: str
) -> None:
    session = log_in(sandbox.url)
    register(session, sandbox.url, name="details")
    client_id = clients(sandbox.url)["details"]["client_id"]
    page = f"/developer/clients/{client_id}/edit/?tab=details"
    good = {
        "description": "bogus",
        "company": "",
        "website": "http://localhost",
        "privacy_url": "",
        "contact_email": "me@example.com",
    }
    data = {"csrfmiddlewaretoken": csrf(session, sandbox.url, page), "tab": "details"}
    refused = session.post(
        sandbox.url + page, data={**data, **good, **fields}, allow_redirects=False
    )
    assert refused.status_code == 400
    assert message in alert(refused)
    saved = session.post(sandbox.url + page, data={**data, **good}, allow_redirects=False)
    assert saved.status_code == 303

"""Instagram Login over HTTP (§2.1): the pages, the code exchange, the long-lived token, the
refresh after 24 h, the 60-day expiry, all on the sandbox's fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from graph_conformance_support import APP_ID, APP_SECRET, MIRA_ID, Graph, error_of, graph_sandbox

REDIRECT = "http://localhost/callback"
SCOPES = "instagram_business_basic,instagram_business_manage_comments"


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and "name" in a:
            self.buttons[a["name"]] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        self.text += data


def _form(html: str) -> _Form:
    form = _Form()
    form.feed(html)
    return form


@pytest.fixture
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


def _authorize(
    g: Graph, username: str, password: str, *, allow: bool = True, state: str = "xyz"
) -> requests.Response:
    """Drive the pages as a browser: authorize → login → authorize → consent → redirect."""
    browser = requests.Session()
    query = urlencode(
        {
            "client_id": APP_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": SCOPES,
            "state": state,
        }
    )
    response = browser.get(f"{g.url}/oauth/authorize?{query}", allow_redirects=False, timeout=10)
    assert response.status_code == 302 and "/accounts/login/" in response.headers["Location"]
    url = urljoin(g.url, response.headers["Location"])
    login = _form(browser.get(url, timeout=10).text)
    assert {"username", "password", "csrfmiddlewaretoken"} <= set(login.fields)
    response = browser.post(
        urljoin(url, login.action),
        data={**login.fields, "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    if response.status_code != 302:
        return response  # the login page again, with its error
    consent_url = urljoin(g.url, response.headers["Location"])
    consent = browser.get(consent_url, timeout=10)
    page = _form(consent.text)
    assert "instagram_business_manage_comments" in page.text and "allow" in page.buttons
    choice = {"allow": page.buttons["allow"]} if allow else {"deny": "Cancel"}
    return browser.post(
        urljoin(consent_url, page.action),
        data={**page.fields, **choice},
        allow_redirects=False,
        timeout=10,
    )


def _exchange(g: Graph, code: str, **overrides: str) -> requests.Response:
    form = {
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": code,
        **overrides,
    }
    return requests.post(g.url + "/oauth/access_token", data=form, timeout=10)


def _code(response: requests.Response) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?") and location.endswith("#_")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def test_the_whole_lifecycle_on_the_fake_clock(g: Graph) -> None:
    code = _code(_authorize(g, "mira.makes", "clayandglaze"))
    exchanged = _exchange(g, code)
    assert exchanged.status_code == 200
    entry = exchanged.json()["data"][0]
    assert entry["user_id"] == MIRA_ID and entry["permissions"] == SCOPES
    short = entry["access_token"]
    # The code is single use, and the OAuth endpoint's errors are not the Graph envelope.
    again = _exchange(g, code)
    assert again.status_code == 400
    assert again.json() == {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": "Matching code was not found or was already used",
    }
    # The short-lived token works for an hour, with the header or the parameter.
    assert g.ok("GET", "/me", token=short) == {"id": MIRA_ID}
    assert g.ok("GET", "/me", token="", params={"access_token": short}) == {"id": MIRA_ID}
    long_token = g.ok(
        "GET",
        "/access_token",
        version=None,
        token=short,
        params={"grant_type": "ig_exchange_token", "client_secret": APP_SECRET},
    )
    assert long_token["expires_in"] == 60 * 86400
    token = long_token["access_token"]
    g.advance(3601)
    short_error = error_of(g.get("/me", token=short))
    assert (short_error["code"], short_error["error_subcode"]) == (190, 463)
    assert g.ok("GET", "/me", token=token) == {"id": MIRA_ID}
    # Refresh: refused before 24 h, accepted after; the new token lasts 60 days from then.
    refresh = {"grant_type": "ig_refresh_token"}
    assert (
        error_of(g.get("/refresh_access_token", version=None, token=token, params=refresh))["code"]
        == 10
    )
    g.advance(86400)
    refreshed = g.ok("GET", "/refresh_access_token", version=None, token=token, params=refresh)
    g.advance(59 * 86400 - 3601 + 10)  # the first long token is now past its 60 days
    expired = error_of(g.get("/me", token=token))
    assert (expired["code"], expired["error_subcode"]) == (190, 463)
    assert "Session has expired on" in expired["message"]
    assert g.ok("GET", "/me", token=refreshed["access_token"]) == {"id": MIRA_ID}
    g.advance(90000)  # 60 days after the refresh (a day and an hour later): expired too
    assert error_of(g.get("/me", token=refreshed["access_token"]))["error_subcode"] == 463
    # An expired token cannot be refreshed: the user must log in again.
    late = error_of(
        g.get(
            "/refresh_access_token", version=None, token=refreshed["access_token"], params=refresh
        )
    )
    assert late["code"] == 190


def test_a_personal_account_is_refused_on_the_login_page(g: Graph) -> None:
    page = _authorize(g, "jo.personal", "justme")
    assert page.status_code == 200
    assert "not a professional account" in _form(page.text).text


def test_a_wrong_password_shows_the_form_again(g: Graph) -> None:
    page = _authorize(g, "mira.makes", "nope")
    assert page.status_code == 200 and "password was incorrect" in page.text


def test_cancel_redirects_with_access_denied(g: Graph) -> None:
    response = _authorize(g, "northwind.coffee", "flatwhite", allow=False)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["error_reason"] == ["user_denied"]
    assert query["error_description"] == ["The user denied your request"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"client_id": "1"}, "Invalid platform app"),
        ({"redirect_uri": "http://evil.example/"}, "redirect_uri"),
        ({"scope": "instagram_business_manage_comments"}, "instagram_business_basic"),
        ({"scope": "instagram_business_basic,publish_everything"}, "publish_everything"),
    ],
)
def test_authorize_refuses_bad_requests(g: Graph, params: dict[str, str], message: str) -> None:
    query = {
        "client_id": APP_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPES,
        **params,
    }
    response = requests.get(g.url + "/oauth/authorize", params=query, timeout=10)
    assert response.status_code == 400
    assert message in response.json()["error_message"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"client_secret": "nope"}, "client secret"),
        ({"redirect_uri": "http://localhost"}, "redirect_uri"),
        ({"grant_type": "password"}, "grant_type"),
    ],
)
def test_code_exchange_errors(g: Graph, override: dict[str, str], message: str) -> None:
    code = _code(_authorize(g, "mira.makes", "clayandglaze"))
    response = _exchange(g, code, **override)
    assert response.status_code == 400 and message in response.json()["error_message"]


def test_a_code_expires_after_an_hour(g: Graph) -> None:
    code = _code(_authorize(g, "mira.makes", "clayandglaze"))
    g.advance(3601)
    assert "Matching code" in _exchange(g, code).json()["error_message"]


def test_the_code_may_carry_its_trailing_fragment(g: Graph) -> None:
    code = _code(_authorize(g, "mira.makes", "clayandglaze"))
    assert _exchange(g, code + "#_").status_code == 200


def test_failed_logins_are_throttled_on_the_clock(g: Graph) -> None:
    for _ in range(5):
        _authorize(g, "mira.makes", "wrong")
    page = _authorize(g, "mira.makes", "clayandglaze")
    assert page.status_code == 429 and "Retry-After" in page.headers
    g.advance(301)
    assert _authorize(g, "mira.makes", "clayandglaze").status_code == 302


def test_the_sandbox_token_endpoint_refuses_a_personal_account(g: Graph) -> None:
    response = g.admin("POST", "token", {"user": "jo.personal", "scopes": []})
    assert response.status_code == 400 and "professional" in response.json()["error"]


def test_unversioned_calls_use_the_apps_default_version(g: Graph) -> None:
    response = g.get("/me", version=None)
    assert response.status_code == 200 and response.headers["facebook-api-version"] == "v25.0"


def test_an_expired_version_is_served_by_the_oldest_available(g: Graph) -> None:
    assert g.get("/me", version="v19.0").headers["facebook-api-version"] == "v19.0"
    g.admin(
        "POST", "clock", {"set": 1785000000}
    )  # 2026-07-25: v19.0 has expired (v20.0 lives on to 09-24)
    token = g.new_token()
    response = g.get("/me", version="v19.0", token=token)
    assert response.status_code == 200 and response.headers["facebook-api-version"] == "v20.0"
    # v26.0 was released on 2026-07-29: three days later it exists.
    assert error_of(g.get("/me", version="v26.0", token=token))["code"] == 2500
    g.advance(5 * 86400)
    assert g.get("/me", version="v26.0", token=token).status_code == 200


def test_the_flat_exchange_shape_when_chosen(g: Graph, monkeypatch: pytest.MonkeyPatch) -> None:
    from igflow.sandbox.graph.rules import load_rules

    monkeypatch.setitem(load_rules().section("tokens"), "exchange_shape", "flat")
    body = _exchange(g, _code(_authorize(g, "mira.makes", "clayandglaze"))).json()
    assert set(body) == {"access_token", "user_id", "permissions"} and body["user_id"] == MIRA_ID

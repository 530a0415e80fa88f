"""The seed walkthrough in a real (headless) Chromium against a served sandbox.

Log in, "Register Your Application", "Register a New Client" with bogus details, find the client
id on the dashboard, paste the implicit authorize URL and meet "Implicit authentication is
disabled", uncheck "Disable implicit OAuth", authorize and read the token from the address bar,
widen the scopes as the seed did, then revoke access as the user and see the token refused.
Plus the portal's refusals (missing CSRF token, a redirect URI that is not a URL, an eleventh
sandbox user), each with its message on the page.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from igflow.sandbox.server import RunningSandbox

pytest.importorskip(
    "selenium", exc_type=ImportError, reason="selenium is not installed (pip install '.[test]')"
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ALL_SCOPES = "basic public_content follower_list comments relationships likes"
SHORTCODE = "Bcizg1_B3nu"


def _wait_for(driver: Any, test: Any, timeout: float = 10.0) -> Any:
    return WebDriverWait(driver, timeout).until(test)


def _log_in(driver: Any, username: str = "grantwinney", password: str = "snappeas2017") -> None:
    """Fill the sandbox's login page (the browser must be on it)."""
    _wait_for(driver, expected_conditions.presence_of_element_located((By.NAME, "username")))
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def _authorize_url(sandbox: RunningSandbox, client_id: str, redirect: str, scope: str = "") -> str:
    query = {"client_id": client_id, "redirect_uri": redirect, "response_type": "token"}
    if scope:
        query["scope"] = scope
    return sandbox.url + "/oauth/authorize/?" + urlencode(query)


def _token_from_address_bar(driver: Any, redirect: str) -> str:
    _wait_for(driver, lambda d: "#access_token=" in d.current_url)
    url = driver.current_url
    assert url.startswith(redirect), url
    return parse_qs(urlsplit(url).fragment)["access_token"][0]


def _api(sandbox: RunningSandbox, path: str, token: str, method: str = "GET") -> Any:
    response = requests.request(
        method, sandbox.url + "/v1" + path, params={"access_token": token}, timeout=10
    )
    return response.json()


def _register(driver: Any, sandbox: RunningSandbox, name: str, redirect: str) -> None:
    driver.get(sandbox.url + "/developer/clients/register/")
    fields = {
        "name": name,
        "description": "just experimenting",
        "company": "Bogus Inc.",
        "website": "http://localhost",
        "redirect_uris": redirect,
        "privacy_url": "http://localhost/privacy",
        "contact_email": "nobody@example.com",
    }
    for field, value in fields.items():
        element = driver.find_element(By.NAME, field)
        element.clear()
        element.send_keys(value)
    driver.find_element(By.ID, "register").click()


def test_the_seed_walkthrough_in_a_browser(
    fresh_browser: Any, sandbox: RunningSandbox, redirect_uri: str
) -> None:
    driver = fresh_browser
    # The index links the portal; "Register Your Application" asks for a login first.
    driver.get(sandbox.url + "/")
    driver.find_element(By.LINK_TEXT, "Developer portal").click()
    _wait_for(driver, lambda d: d.find_elements(By.LINK_TEXT, "Register Your Application"))
    driver.find_element(By.LINK_TEXT, "Register Your Application").click()
    _wait_for(driver, lambda d: "/accounts/login/" in d.current_url)
    _log_in(driver)
    _wait_for(driver, lambda d: "/developer/clients/manage/" in d.current_url)
    _wait_for(driver, lambda d: d.find_elements(By.LINK_TEXT, "Register a New Client"))
    assert "grantwinney" in driver.find_element(By.ID, "username").text

    # "Register a New Client", bogus details, and the confirmation with the client id.
    driver.find_element(By.LINK_TEXT, "Register a New Client").click()
    _wait_for(driver, lambda d: "/developer/clients/register/" in d.current_url)
    _register(driver, sandbox, "seed-experiment", redirect_uri)
    _wait_for(driver, lambda d: "/registered/" in d.current_url)
    _wait_for(driver, lambda d: "has been registered" in d.page_source)
    confirmed_id = driver.find_element(By.ID, "client-id").text
    assert len(confirmed_id) == 32

    # "If your browser closes or something, just go back to the Manage Clients dashboard."
    driver.get(sandbox.url + "/developer/clients/manage/")
    row = driver.find_element(By.CSS_SELECTOR, 'tr.client[data-name="seed-experiment"]')
    client_id = row.find_element(By.CSS_SELECTOR, ".client-id").text
    assert client_id == confirmed_id

    # A new client starts with implicit OAuth disabled: the seed's error.
    driver.get(_authorize_url(sandbox, client_id, redirect_uri))
    body = json.loads(driver.find_element(By.TAG_NAME, "body").text)
    assert body == {
        "code": 403,
        "error_type": "OAuthForbiddenException",
        "error_message": "Implicit authentication is disabled",
    }
    # A redirect URI other than the registered one gets the seed's other error.
    driver.get(_authorize_url(sandbox, client_id, "http://localhost/elsewhere"))
    assert "Redirect URI does not match registered redirect URI" in driver.page_source

    # Manage → Security: uncheck "Disable implicit OAuth".
    driver.get(sandbox.url + "/developer/clients/manage/")
    row = driver.find_element(By.CSS_SELECTOR, 'tr.client[data-name="seed-experiment"]')
    row.find_element(By.LINK_TEXT, "Manage").click()
    _wait_for(driver, lambda d: d.find_elements(By.ID, "tab-security"))
    driver.find_element(By.ID, "tab-security").click()
    _wait_for(driver, lambda d: d.find_elements(By.ID, "disable_implicit"))
    checkbox = driver.find_element(By.ID, "disable_implicit")
    assert checkbox.is_selected()
    checkbox.click()
    driver.find_element(By.ID, "save").click()
    _wait_for(driver, lambda d: "saved=1" in d.current_url)
    _wait_for(driver, lambda d: "Your changes have been saved." in d.page_source)
    assert not driver.find_element(By.ID, "disable_implicit").is_selected()

    # Paste the authorize URL; consent; the token is in the address bar.
    driver.get(_authorize_url(sandbox, client_id, redirect_uri))
    assert "seed-experiment" in driver.page_source and "would like to access" in driver.page_source
    driver.find_element(By.NAME, "allow").click()
    token = _token_from_address_bar(driver, redirect_uri)
    assert token.split(".")[1] == client_id[:7]
    media = _api(sandbox, f"/media/shortcode/{SHORTCODE}", token)
    assert media["data"]["caption"]["text"] == "Snap peas in our garden, summer 2017"
    media_id = media["data"]["id"]
    assert _api(sandbox, "/users/self", token)["data"]["username"] == "grantwinney"
    assert [u["username"] for u in _api(sandbox, f"/media/{media_id}/likes", token)["data"]] == [
        "grantwinney"
    ]
    refused = _api(sandbox, f"/media/{media_id}/likes", token, method="DELETE")
    assert refused["meta"]["error_type"] == "OAuthPermissionsException"

    # Every scope: consent again, the same token, and now the unlike works.
    driver.get(_authorize_url(sandbox, client_id, redirect_uri, ALL_SCOPES))
    driver.find_element(By.NAME, "allow").click()
    assert _token_from_address_bar(driver, redirect_uri) == token
    assert _api(sandbox, f"/media/{media_id}/likes", token, method="DELETE")["meta"] == {
        "code": 200
    }

    # As the user: revoke the app's access; the token is refused from then on.
    driver.get(sandbox.url + "/accounts/manage_access/")
    app = driver.find_element(By.CSS_SELECTOR, 'tr.app[data-name="seed-experiment"]')
    assert "likes" in app.text
    app.find_element(By.CSS_SELECTOR, "button.revoke").click()
    _wait_for(driver, lambda d: "revoked=" in d.current_url)
    _wait_for(driver, lambda d: "Access revoked for seed-experiment." in d.page_source)
    assert not driver.find_elements(By.CSS_SELECTOR, 'tr.app[data-name="seed-experiment"]')
    assert _api(sandbox, "/users/self", token)["meta"] == {
        "code": 400,
        "error_type": "OAuthAccessTokenException",
        "error_message": "The access_token provided is invalid.",
    }
    # Authorizing again asks for consent again and makes a new token.
    driver.get(_authorize_url(sandbox, client_id, redirect_uri))
    driver.find_element(By.NAME, "allow").click()
    again = _token_from_address_bar(driver, redirect_uri)
    assert again != token
    assert _api(sandbox, "/users/self", again)["meta"] == {"code": 200}


def _logged_in(driver: Any, sandbox: RunningSandbox, page: str) -> None:
    driver.get(sandbox.url + page)
    if "/accounts/login/" in driver.current_url:
        _log_in(driver)
        _wait_for(driver, lambda d: "/accounts/login/" not in d.current_url)


def _error_text(driver: Any) -> str:
    """The message of the page a form led to (waited for: a click does not wait for the load)."""
    located = expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]"))
    return str(_wait_for(driver, located).text)


def test_a_form_without_its_csrf_token_is_refused_on_the_page(
    fresh_browser: Any, sandbox: RunningSandbox, redirect_uri: str
) -> None:
    driver = fresh_browser
    _logged_in(driver, sandbox, "/developer/clients/register/")
    driver.get(sandbox.url + "/developer/clients/register/")
    for field, value in (
        ("name", "no-csrf"),
        ("description", "x"),
        ("website", "http://localhost"),
        ("redirect_uris", redirect_uri),
        ("contact_email", "a@b.c"),
    ):
        driver.find_element(By.NAME, field).send_keys(value)
    driver.execute_script(
        "document.querySelector('#register-form input[name=csrfmiddlewaretoken]').remove()"
    )
    driver.find_element(By.ID, "register").click()
    assert "CSRF verification failed" in _error_text(driver)
    assert "Forbidden (403)" in driver.title
    names = [c["name"] for c in requests.get(sandbox.url + "/_sandbox/clients", timeout=5).json()]
    assert "no-csrf" not in names


def test_a_redirect_uri_that_is_not_a_url_is_refused_on_the_page(
    fresh_browser: Any, sandbox: RunningSandbox
) -> None:
    driver = fresh_browser
    _logged_in(driver, sandbox, "/developer/clients/register/")
    _register(driver, sandbox, "bad-redirect", "localhost")
    message = _error_text(driver)
    assert "Valid redirect URIs" in message and "'localhost' is not an http(s) URL" in message
    # The form keeps what was typed.
    assert driver.find_element(By.NAME, "name").get_attribute("value") == "bad-redirect"


def test_an_eleventh_sandbox_user_is_refused_on_the_page(
    fresh_browser: Any, sandbox: RunningSandbox
) -> None:
    driver = fresh_browser
    default = next(
        c
        for c in requests.get(sandbox.url + "/_sandbox/clients", timeout=5).json()
        if c["name"] == "default"
    )
    assert len(default["sandbox_users"]) == 10  # the default client is full
    _logged_in(driver, sandbox, f"/developer/clients/{default['client_id']}/edit/?tab=sandbox")
    # Ten users and the header row (waited for: the page may still be loading).
    _wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sandbox-users tr")) == 11)
    driver.find_element(By.NAME, "username").send_keys("famous_foodie")
    driver.find_element(By.ID, "invite").click()
    assert "at most 10 sandbox users" in _error_text(driver)


@pytest.mark.parametrize("path", ["/developer/no-such-page/", "/accounts/nothing/"])
def test_unknown_portal_pages_get_a_portal_page(
    fresh_browser: Any, sandbox: RunningSandbox, path: str
) -> None:
    fresh_browser.get(sandbox.url + path)
    assert "Page not found" in fresh_browser.title
    assert "Manage Clients" in fresh_browser.page_source  # the portal's own header

"""Shared helpers for the sandbox's integration tests (no tests here).

Pipeline tests use tiny fake handlers over the real store, so they test the app's own checks
independently of the content handlers; the seed walkthrough test uses the real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.contract import HandlerResult, RequestContext, SandboxApiError
from igflow.sandbox.server import RunningSandbox, start_sandbox

REDIRECT = "http://localhost"
TOKEN_RE = re.compile(r"^\d+\.[0-9a-f]{7}\.[0-9a-f]{32}$")


# ---- fake handlers ------------------------------------------------------------------------------
def _users_self(ctx: RequestContext) -> HandlerResult:
    assert ctx.viewer is not None
    return HandlerResult(
        {
            "id": ctx.viewer.user_id,
            "scopes": sorted(ctx.viewer.scopes),
            "sandbox_users": sorted(ctx.viewer.sandbox_users or []),
            "params": dict(ctx.params),
        }
    )


def _media_recent(ctx: RequestContext) -> HandlerResult:
    cursor = int(ctx.params.get("max_id", "10"))
    return HandlerResult(
        [{"id": str(cursor)}],
        pagination={
            "next_url": ctx.next_url({"max_id": str(cursor - 1)}),
            "next_max_id": str(cursor - 1),
        },
    )


def _likes_create(ctx: RequestContext) -> HandlerResult:
    assert ctx.viewer is not None
    with ctx.db.transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS fake_likes (media TEXT, user TEXT, at REAL)")
        conn.execute(
            "INSERT INTO fake_likes VALUES (?, ?, ?)",
            (ctx.path_params["media_id"], ctx.viewer.user_id, ctx.now),
        )
    if ctx.params.get("fail") == "1":
        raise SandboxApiError(400, "APIInvalidParametersError", "failing after a write")
    return HandlerResult(None)


def _likes_list(ctx: RequestContext) -> HandlerResult:
    with ctx.db.transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS fake_likes (media TEXT, user TEXT, at REAL)")
        rows = conn.execute(
            "SELECT user FROM fake_likes WHERE media = ?", (ctx.path_params["media_id"],)
        ).fetchall()
    return HandlerResult([{"id": row[0]} for row in rows])


def _broken(ctx: RequestContext) -> HandlerResult:
    raise RuntimeError("a handler bug")


def _subscriptions(ctx: RequestContext) -> HandlerResult:
    return HandlerResult([{"client": ctx.client_id}])


def _oembed(ctx: RequestContext) -> HandlerResult:
    return HandlerResult({"version": "1.0", "url": ctx.params.get("url")}, bare=True)


FAKE_HANDLERS: Mapping[str, Any] = {
    "users.self": _users_self,
    "users.media_recent_self": _media_recent,
    "users.search": _users_self,
    "tags.get": _users_self,
    "likes.create": _likes_create,
    "likes.delete": _likes_create,
    "likes.list": _likes_list,
    "comments.list": _broken,
    "subscriptions.list": _subscriptions,
    "oembed.get": _oembed,
}


@contextmanager
def fake_sandbox(**config: Any) -> Iterator[RunningSandbox]:
    """A sandbox with the real store and clients but the fake handlers above."""
    with start_sandbox(SandboxConfig(**config), handlers=FAKE_HANDLERS) as running:
        yield running


def info(url: str) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(url + "/_sandbox/info", timeout=10).json()
    return body


def client(url: str, name: str = "default") -> dict[str, Any]:
    return next(c for c in info(url)["clients"] if c["name"] == name)


def password(url: str, username: str) -> str:
    return str(next(u["password"] for u in info(url)["users"] if u["username"] == username))


# ---- a browser, step by step -------------------------------------------------------------------
class FormParser(HTMLParser):
    """The first form of a page: action, hidden/text inputs, submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action, self._depth = a.get("action", ""), 1
        elif self._depth and "name" in a:
            if tag == "button" or a.get("type") == "submit":
                self.buttons[a["name"]] = a.get("value", "")
            elif tag == "input":
                self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._depth = 0


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


def authorize(
    url: str,
    session: requests.Session,
    *,
    client_id: str,
    username: str = "grantwinney",
    user_password: str | None = None,
    scope: str | None = None,
    response_type: str = "token",
    state: str | None = None,
    button: str = "allow",
) -> requests.Response:
    """Run authorize → login → consent as a browser; return the final redirect response."""
    params = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": response_type}
    if scope is not None:
        params["scope"] = scope
    if state is not None:
        params["state"] = state
    response = session.get(url + "/oauth/authorize/", params=params, allow_redirects=False)
    for _ in range(6):
        if response.is_redirect:
            location = response.headers["Location"]
            if location.startswith(REDIRECT):
                return response
            response = session.get(urljoin(url, location), allow_redirects=False)
            continue
        if response.status_code != 200 or "html" not in response.headers["Content-Type"]:
            return response
        form = parse_form(response.text)
        assert form.action
        data = dict(form.fields)
        if "password" in data:
            data.update(username=username, password=user_password or password(url, username))
        else:
            data[button] = form.buttons[button]
        response = session.post(urljoin(url, form.action), data=data, allow_redirects=False)
    raise AssertionError("the authorize flow did not finish")


def token_from(response: requests.Response) -> str:
    fragment = parse_qs(urlsplit(response.headers["Location"]).fragment)
    return fragment["access_token"][0]


def implicit_token(
    url: str, scope: str | None = None, username: str = "grantwinney", client_name: str = "default"
) -> str:
    with requests.Session() as session:
        response = authorize(
            url,
            session,
            client_id=client(url, client_name)["client_id"],
            scope=scope,
            username=username,
        )
    return token_from(response)


def code_flow_token(
    url: str, client_name: str, scope: str | None = None, username: str = "grantwinney"
) -> str:
    c = client(url, client_name)
    with requests.Session() as session:
        response = authorize(
            url,
            session,
            client_id=c["client_id"],
            scope=scope,
            response_type="code",
            username=username,
        )
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    exchanged = requests.post(
        url + "/oauth/access_token",
        data={
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": code,
        },
        timeout=10,
    )
    assert exchanged.status_code == 200, exchanged.text
    return str(exchanged.json()["access_token"])

"""``igflow.mock(api="instagram.graph")``: graph.instagram.com (and the Instagram Login hosts)
answered in process, with no socket opened (``socket.socket`` and name lookups raise)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import requests_mock

import igflow
from igflow.errors import UsageError

pyfacebook = pytest.importorskip("pyfacebook")  # the `test` extra installs it

GRAPH = "https://graph.instagram.com"
V = "v25.0"
MIRA_ID = "17841400000000101"
IMAGE = "17900000000001001"  # mira's newest image: 7 comments, 2 of them replies
SPAM = "17800000000010003"  # "cheap followers at spam.example, DM me"
TOP = "17800000000010005"  # has one reply
BASIC = "instagram_business_basic"
COMMENTS = "instagram_business_manage_comments"


class SocketOpened(AssertionError):
    pass


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any attempt to open a socket or look up a name raises (and is recorded)."""
    attempts: list[str] = []

    class NoSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            attempts.append("socket")
            raise SocketOpened("a socket was opened")

    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        attempts.append(f"getaddrinfo {args[0]}")
        raise SocketOpened(f"a name lookup for {args[0]} was made")

    monkeypatch.setattr(socket, "socket", NoSocket)
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    yield attempts


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_plain_requests_with_a_bearer_token(no_sockets: list[str]) -> None:
    with igflow.mock(api="instagram.graph") as sandbox:
        assert sandbox.url == GRAPH and sandbox.api == "instagram.graph"
        token = igflow.mock.token("mira.makes", scopes=[BASIC, COMMENTS])
        me = requests.get(
            f"{GRAPH}/{V}/me", params={"fields": "user_id,username"}, headers=bearer(token)
        )
        assert me.status_code == 200
        assert me.json() == {"user_id": MIRA_ID, "username": "mira.makes"}
        assert "X-App-Usage" in me.headers and me.headers["facebook-api-version"] == V
        # Paging links point back at the real host, and following them works.
        page = requests.get(
            f"{GRAPH}/{V}/{IMAGE}/comments", params={"limit": 2}, headers=bearer(token)
        ).json()
        assert page["paging"]["next"].startswith(f"{GRAPH}/{V}/{IMAGE}/comments?")
        second = requests.get(page["paging"]["next"], headers=bearer(token)).json()
        assert {c["id"] for c in second["data"]}.isdisjoint(c["id"] for c in page["data"])
        # A write changes the state, and the state views see it.
        assert sandbox.state.hidden_on(IMAGE) == []
        hidden = requests.post(f"{GRAPH}/{V}/{SPAM}", data={"hide": "true"}, headers=bearer(token))
        assert hidden.json() == {"success": True}
        assert sandbox.state.hidden_on(IMAGE) == [SPAM]
        # The request log has them all, with the Graph endpoint ids.
        assert [e["endpoint"] for e in sandbox.requests()] == [
            "me",
            "media.comments",
            "media.comments",
            "comments.hide",
        ]
    assert no_sockets == []


def test_graph_errors_come_in_the_graph_envelope() -> None:
    with igflow.mock(api="instagram.graph"):
        token = igflow.mock.token("mira.makes")  # instagram_business_basic only
        refused = requests.post(f"{GRAPH}/{V}/{SPAM}", data={"hide": "true"}, headers=bearer(token))
        assert refused.status_code in (400, 403)
        assert refused.json()["error"]["code"] in (10, 200)
        assert "fbtrace_id" in refused.json()["error"]
        missing = requests.get(f"{GRAPH}/{V}/me")
        assert missing.json()["error"]["type"] == "OAuthException"


def test_pyfacebook_runs_inside_the_mock(no_sockets: list[str]) -> None:
    with igflow.mock(api="instagram.graph") as sandbox:
        token = sandbox.token("mira.makes", [BASIC, COMMENTS])
        # The library's Instagram client, given the Instagram Login host (its default is
        # graph.facebook.com, the Facebook Login product): configuration only.
        api = pyfacebook.IGBusinessApi(
            access_token=token, instagram_business_id=MIRA_ID, base_url=f"{GRAPH}/"
        )
        user = api.user.get_info()
        assert (user.id, user.username) == (MIRA_ID, "mira.makes")
        media = api.user.get_media(count=None, limit=1)  # follows paging.next to the end
        assert [m.id for m in media.data] == sandbox.state.media_of("mira.makes")
        comments = api.media.get_comments(media_id=IMAGE, count=None, limit=2)
        top_level = [c for c in sandbox.state.comments_on(IMAGE) if c["parent_id"] is None]
        assert sorted(c.id for c in comments.data) == sorted(c["id"] for c in top_level)
        # Its generic client, with a version and the base URL.
        graph = pyfacebook.GraphAPI(access_token=token, version=V, base_url=f"{GRAPH}/")
        assert graph.get_object("me", fields="id,username") == {
            "id": MIRA_ID,
            "username": "mira.makes",
        }
        # Its Basic Display client's default host is graph.instagram.com: not even configured.
        basic = pyfacebook.IGBasicDisplayApi(access_token=token)
        assert basic.user.get_info().username == "mira.makes"
        with pytest.raises(pyfacebook.FacebookError) as refused:
            pyfacebook.IGBusinessApi(
                access_token="IGAAnot-a-token", instagram_business_id=MIRA_ID, base_url=f"{GRAPH}/"
            ).user.get_info()
        assert refused.value.code == 190
    assert no_sockets == []


def test_instagram_login_through_the_real_hosts(no_sockets: list[str]) -> None:
    """www.instagram.com's pages, api.instagram.com's code exchange, graph.instagram.com's
    long-lived exchange: the whole of Instagram Login, in process."""
    from igflow.auth import _parse_form  # the sandbox's own forms, read as a browser would

    with igflow.mock(api="instagram.graph") as sandbox:
        app = sandbox.client()
        redirect = app.redirect_uris[0]
        query = urlencode(
            {
                "client_id": app.client_id,
                "redirect_uri": redirect,
                "response_type": "code",
                "scope": f"{BASIC},{COMMENTS}",
                "state": "s1",
            }
        )
        browser = requests.Session()
        page = browser.get(f"https://www.instagram.com/oauth/authorize?{query}")  # login page
        form = _parse_form(page.text)
        password = next(u["password"] for u in sandbox.users() if u["username"] == "mira.makes")
        fields = {**form.fields, "username": "mira.makes", "password": password}
        page = browser.post(requests.compat.urljoin(page.url, form.action or ""), data=fields)
        form = _parse_form(page.text)  # the consent page
        granted = browser.post(
            requests.compat.urljoin(page.url, form.action or ""),
            data={**form.fields, "allow": form.submits["allow"]},
            allow_redirects=False,
        )
        location = granted.headers["Location"]
        assert parse_qs(urlsplit(location).query)["state"] == ["s1"]
        code = parse_qs(urlsplit(location).query)["code"][0]
        exchanged = requests.post(
            "https://api.instagram.com/oauth/access_token",
            data={
                "client_id": app.client_id,
                "client_secret": app.secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect,
                "code": code,
            },
        ).json()["data"][0]
        assert exchanged["user_id"] == MIRA_ID
        long_lived = requests.get(
            f"{GRAPH}/access_token",
            params={"grant_type": "ig_exchange_token", "client_secret": app.secret},
            headers=bearer(exchanged["access_token"]),
        ).json()
        assert long_lived["expires_in"] == 5184000
        me = requests.get(f"{GRAPH}/{V}/me", headers=bearer(long_lived["access_token"]))
        assert me.json()["id"] == MIRA_ID
    assert no_sockets == []


def test_helpers_refuse_what_the_sandbox_would() -> None:
    with igflow.mock(api="instagram.graph", clock="fake") as sandbox:
        with pytest.raises(UsageError, match="unknown permission"):
            sandbox.token("mira.makes", ["basic"])  # a v1 scope
        with pytest.raises(UsageError, match="not a professional account"):
            sandbox.token("jo.personal")
        with pytest.raises(UsageError, match="no sandbox account 'nobody'"):
            sandbox.token("nobody")
        with pytest.raises(UsageError, match="no sandbox app 'nope'"):
            sandbox.token("mira.makes", client="nope")
        with pytest.raises(UsageError, match="apps come from its dataset"):
            sandbox.add_client("extra")
        with pytest.raises(UsageError, match="no sandbox media"):
            sandbox.state.comments_on("nope")
        short = sandbox.token("mira.makes", kind="short")
        sandbox.clock.advance(3601)  # a short-lived token lives one hour, on the sandbox clock
        expired = requests.get(f"{GRAPH}/{V}/me", headers=bearer(short))
        assert expired.json()["error"]["code"] == 190
    with igflow.mock() as v1, pytest.raises(UsageError, match="Graph sandbox's"):
        v1.comment_as(IMAGE, "kiln_kate", "hi")
    with pytest.raises(UsageError, match="era is the v1 sandbox's"):
        igflow.mock(api="instagram.graph", era="2018-04-04")


def test_events_errors_faults_reset_and_load() -> None:
    with igflow.mock(api="instagram.graph") as sandbox:
        token = sandbox.token("mira.makes", [BASIC, COMMENTS])
        new = sandbox.comment_as(IMAGE, "kiln_kate", "Another one?", parent_id=TOP)
        assert sandbox.state.comment(new) == {
            "id": new,
            "username": "kiln_kate",
            "text": "Another one?",
            "hidden": False,
            "parent_id": TOP,
            "like_count": 0,
            "media_id": IMAGE,
        }
        sandbox.inject_error("app_limit", endpoint="me")
        limited = requests.get(f"{GRAPH}/{V}/me", headers=bearer(token))
        assert limited.json()["error"]["code"] == 4
        assert requests.get(f"{GRAPH}/{V}/me", headers=bearer(token)).ok
        sandbox.set_faults(drop_nth=1)
        with pytest.raises(requests.exceptions.ConnectionError, match="dropped"):
            requests.get(f"{GRAPH}/{V}/me", headers=bearer(token))
        sandbox.clear_faults()
        assert sandbox.revoke("mira.makes", "password_changed") >= 1
        revoked = requests.get(f"{GRAPH}/{V}/me", headers=bearer(token))
        assert revoked.json()["error"]["code"] == 190
        sandbox.reset()
        assert sandbox.state.comment(new) is None and sandbox.requests() == []
        sandbox.load(
            {
                "apps": [{"name": "default", "client_id": "1", "client_secret": "s"}],
                "accounts": [
                    {"id": "9", "username": "solo", "password": "pw", "account_type": "Business"}
                ],
            }
        )
        assert [u["username"] for u in sandbox.users()] == ["solo"]
        assert sandbox.state.media_of("solo") == []
        with pytest.raises(UsageError, match="bad Graph dataset"):
            sandbox.load({"accounts": [{"id": "9"}]})


def test_the_decorator_and_unmatched_hosts() -> None:
    seen: list[list[str]] = []

    @igflow.mock(api="instagram.graph")
    def hide_and_look() -> None:
        token = igflow.mock.token("mira.makes", scopes=[BASIC, COMMENTS])
        requests.post(f"{GRAPH}/{V}/{SPAM}", data={"hide": "true"}, headers=bearer(token))
        seen.append(igflow.mock.active.state.hidden_on(IMAGE))

    hide_and_look()
    hide_and_look()  # a fresh sandbox each call: the same one comment hidden, not more
    assert seen == [[SPAM], [SPAM]]
    with igflow.mock(api="instagram.graph"), pytest.raises(requests_mock.exceptions.NoMockAddress):
        requests.get("https://graph.facebook.com/v25.0/me")  # another product's host


def test_a_served_graph_sandbox_answers_malformed_requests_in_its_envelope() -> None:
    """The server's own answers (before the app) read the profile from the slot it serves."""
    from igflow.testing.served import serve_sandbox

    with serve_sandbox("instagram.graph") as served:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as raw:
            raw.sendall(b"GARBAGE\r\n\r\n")  # no version: http.server answers bare (HTTP/0.9)
            answer = raw.recv(65536).decode("latin-1")
        assert '"code": 100' in answer and '"fbtrace_id"' in answer and '"meta"' not in answer
        token = served.token("mira.makes")
        assert requests.get(f"{served.url}/{V}/me", headers=bearer(token), timeout=5).ok

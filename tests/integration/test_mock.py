"""``igflow.mock``: requests to the real API hosts answered in process, with no socket opened.

"No socket" is proven, not assumed: the tests that say so make ``socket.socket`` (and name
lookups) raise for the duration of the calls.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Iterator
from typing import Any

import httplib2
import pytest
import requests
import requests_mock

import igflow
from igflow.errors import UsageError

with warnings.catch_warnings():
    # instagram/bind.py compiles a non-raw '{\w+}' (see test_python_instagram.py).
    warnings.filterwarnings("ignore", "invalid escape sequence", DeprecationWarning)
    warnings.filterwarnings("ignore", "invalid escape sequence", SyntaxWarning)
    from instagram import InstagramAPI, InstagramAPIError

pytestmark = pytest.mark.filterwarnings(
    "ignore:datetime.datetime.utcfromtimestamp:DeprecationWarning"
)

API = "https://api.instagram.com/v1"
MEDIA_ID = "1667121369441597934_3657782666"  # the seed's photo, shortcode Bcizg1_B3nu
ALL_SCOPES = ["basic", "public_content", "follower_list", "comments", "relationships", "likes"]


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


def test_requests_code_runs_against_the_real_host_names(no_sockets: list[str]) -> None:
    with igflow.mock(api="instagram.v1") as sandbox:
        token = igflow.mock.token("grantwinney", scopes=["basic", "likes"])
        me = requests.get(f"{API}/users/self", params={"access_token": token}, timeout=5)
        assert me.status_code == 200
        assert me.json()["data"]["username"] == "grantwinney"
        assert me.headers["X-Ratelimit-Limit"] == "500"
        # A write changes the sandbox's state, and the helpers see it.
        assert sandbox.state.likers_of("Bcizg1_B3nu") == ["grantwinney"]
        gone = requests.delete(f"{API}/media/{MEDIA_ID}/likes", params={"access_token": token})
        assert gone.json() == {"meta": {"code": 200}, "data": None}
        assert sandbox.state.likers_of("Bcizg1_B3nu") == []
        assert MEDIA_ID not in sandbox.state.likes_of("grantwinney")
        # Pages link back to the real host, and following them works.
        page = requests.get(
            f"{API}/users/self/media/recent", params={"access_token": token, "count": 1}
        ).json()
        next_url = page["pagination"]["next_url"]
        assert next_url.startswith(f"{API}/users/self/media/recent?")
        assert requests.get(next_url).json()["data"][0]["id"] != page["data"][0]["id"]
        # The request log has them all, token masked.
        log = sandbox.requests()
        assert [entry["endpoint"] for entry in log] == [
            "users.self",
            "likes.delete",
            "users.media_recent_self",
            "users.media_recent_self",
        ]
        assert log[0]["query"]["access_token"] == "***"
    assert no_sockets == []


def test_api_errors_come_in_the_apis_envelope() -> None:
    with igflow.mock():
        token = igflow.mock.token("grantwinney")  # basic only
        refused = requests.post(f"{API}/media/{MEDIA_ID}/likes", data={"access_token": token})
        assert refused.status_code == 400
        assert refused.json()["meta"]["error_type"] == "OAuthPermissionsException"
        missing = requests.get(f"{API}/users/self")
        assert missing.json()["meta"]["error_type"] == "OAuthParameterException"


def test_python_instagram_unmodified_opens_no_socket(no_sockets: list[str]) -> None:
    # Not even configured: the library's own default host (api.instagram.com) and https.
    with igflow.mock() as sandbox:
        token = sandbox.token("grantwinney", ALL_SCOPES)
        api = InstagramAPI(access_token=token, client_secret=sandbox.client().client_secret)
        assert api.user().username == "grantwinney"
        media = api.media_shortcode("Bcizg1_B3nu", return_json=True)
        assert media["id"] == MEDIA_ID
        assert media["likes"]["count"] == 1
        assert [u.username for u in api.media_likes(MEDIA_ID)] == ["grantwinney"]
        assert api.unlike_media(media_id=MEDIA_ID) == []
        assert api.media(MEDIA_ID, return_json=True)["likes"]["count"] == 0
        page, next_url = api.user_recent_media(count=2, return_json=True)
        assert len(page) == 2 and next_url.startswith("https://api.instagram.com/v1/")
        assert api.create_media_comment(media_id=MEDIA_ID, text="Picked the first pod") == []
        assert sandbox.state.comments_on("Bcizg1_B3nu")[-1]["text"] == "Picked the first pod"
        with pytest.raises(InstagramAPIError) as refused:
            InstagramAPI(access_token="not-a-token").user()
        assert refused.value.error_type == "OAuthAccessTokenException"
        assert sandbox.state.likers_of("Bcizg1_B3nu") == []
    assert no_sockets == []


def test_python_instagrams_own_oauth_exchange(no_sockets: list[str]) -> None:
    """The library's code exchange (an httplib2 POST to api.instagram.com/oauth/access_token)."""
    from igflow.auth import _parse_form  # the sandbox's own consent form, read as a browser would

    with igflow.mock() as sandbox:
        client = sandbox.client()
        redirect = client.redirect_uris[0]
        api = InstagramAPI(
            client_id=client.client_id, client_secret=client.client_secret, redirect_uri=redirect
        )
        url = api.get_authorize_url(scope=["basic", "likes"])
        assert url.startswith("https://api.instagram.com/oauth/authorize")
        browser = requests.Session()
        page = browser.get(url)  # the login page
        form = _parse_form(page.text)
        password = next(u["password"] for u in sandbox.users() if u["username"] == "grantwinney")
        fields = {**form.fields, "username": "grantwinney", "password": password}
        page = browser.post(requests.compat.urljoin(page.url, form.action or ""), data=fields)
        form = _parse_form(page.text)  # the consent page
        fields = {**form.fields, "allow": form.submits["allow"]}
        granted = browser.post(
            requests.compat.urljoin(page.url, form.action or ""),
            data=fields,
            allow_redirects=False,
        )
        code = granted.headers["Location"].split("code=", 1)[1]
        token, user = api.exchange_code_for_access_token(code)
        assert user["username"] == "grantwinney"
        assert InstagramAPI(access_token=token).user().username == "grantwinney"
    assert no_sockets == []


def test_unmatched_hosts_fail_by_default() -> None:
    with igflow.mock(), pytest.raises(requests_mock.exceptions.NoMockAddress):
        requests.get("https://example.com/", timeout=5)


def test_unmatched_hosts_can_pass_to_the_network(no_sockets: list[str]) -> None:
    with igflow.mock(unmatched="pass"):
        # Passed on: requests really tries to connect (and the socket guard stops it).
        with pytest.raises(Exception) as tried:
            requests.get("http://example.invalid/", timeout=5)
        assert "example.invalid" in " ".join(no_sockets) or "socket" in no_sockets, tried.value
        # The API hosts are still answered in process.
        attempts = len(no_sockets)
        assert requests.get(f"{API}/users/self").status_code == 400
        assert len(no_sockets) == attempts


def test_httplib2_for_other_hosts_fails_or_passes() -> None:
    with igflow.mock(), pytest.raises(requests_mock.exceptions.NoMockAddress):
        httplib2.Http().request("https://example.com/")


def test_everything_is_restored_after_the_mock() -> None:
    request_before = httplib2.Http.request
    adapter_before = requests.Session().get_adapter("https://api.instagram.com")
    with igflow.mock():
        assert httplib2.Http.request is not request_before
    assert httplib2.Http.request is request_before
    assert type(requests.Session().get_adapter("https://api.instagram.com")) is type(adapter_before)
    with pytest.raises(UsageError, match="no igflow.mock is active"):
        igflow.mock.token("grantwinney")


def test_the_decorator_gives_each_call_a_fresh_sandbox() -> None:
    seen: list[list[str]] = []

    @igflow.mock(api="instagram.v1")
    def unlike_and_look() -> None:
        token = igflow.mock.token("grantwinney", scopes=["basic", "likes"])
        requests.delete(f"{API}/media/{MEDIA_ID}/likes", params={"access_token": token})
        seen.append(igflow.mock.active.state.likers_of("Bcizg1_B3nu"))
        like = requests.get(f"{API}/media/{MEDIA_ID}", params={"access_token": token})
        assert like.json()["data"]["likes"]["count"] == 0

    unlike_and_look()
    unlike_and_look()  # the like is back: a new sandbox
    assert seen == [[], []]

    @igflow.mock
    def bare() -> int:
        return len(igflow.mock.active.users())

    assert bare() > 1


def test_nested_mocks_answer_from_the_innermost() -> None:
    with igflow.mock() as outer:
        with igflow.mock(era="2018-04-04") as inner:
            assert igflow.mock.active is inner
            token = inner.token("grantwinney", ALL_SCOPES)
            retired = requests.get(f"{API}/media/{MEDIA_ID}", params={"access_token": token})
            assert retired.json()["meta"]["error_message"] == "This endpoint has been retired"
        assert igflow.mock.active is outer


def test_dropped_connections_are_connection_errors() -> None:
    with igflow.mock() as sandbox:
        token = sandbox.token("grantwinney")
        sandbox.set_faults(drop_nth=1)
        with pytest.raises(requests.exceptions.ConnectionError, match="dropped"):
            requests.get(f"{API}/users/self", params={"access_token": token})
        sandbox.clear_faults()
        assert requests.get(f"{API}/users/self", params={"access_token": token}).ok


def test_helpers_refuse_what_the_sandbox_would() -> None:
    with igflow.mock(clock="fake") as sandbox:
        with pytest.raises(UsageError, match="unknown scope"):
            sandbox.token("grantwinney", ["likez"])
        with pytest.raises(UsageError, match="no sandbox user 'nobody'"):
            sandbox.token("nobody")
        with pytest.raises(UsageError, match="no sandbox client"):
            sandbox.token("grantwinney", client="nope")
        before = sandbox.clock.now()
        assert sandbox.clock.advance(3600) == before + 3600
    with igflow.mock() as sandbox, pytest.raises(UsageError, match="real time"):
        sandbox.clock.advance(1)
    with pytest.raises(UsageError, match="unmatched must be"):
        igflow.mock(unmatched="maybe")
    with pytest.raises(UsageError, match="no sandbox for API profile 'instagram.nope'"):
        igflow.mock(api="instagram.nope")
    with pytest.raises(UsageError, match="unknown era"):
        igflow.mock(era="1999")


def test_reset_and_load_give_fresh_state(tmp_path: Any) -> None:
    with igflow.mock() as sandbox:
        token = sandbox.token("grantwinney", ["basic", "likes"])
        requests.delete(f"{API}/media/{MEDIA_ID}/likes", params={"access_token": token})
        sandbox.reset()
        assert sandbox.state.likers_of("Bcizg1_B3nu") == ["grantwinney"]
        assert sandbox.requests() == []
        stale = requests.get(f"{API}/users/self", params={"access_token": token})
        assert stale.json()["meta"]["error_type"] == "OAuthAccessTokenException"
        sandbox.load(
            {
                "users": [{"id": "1", "username": "solo", "password": "pw"}],
                "media": [],
            }
        )
        assert [u["username"] for u in sandbox.users()] == ["solo"]


def test_state_views_agree_with_the_api() -> None:
    """The helpers read the database; the API reads it too: they must tell the same story.

    Through the live-mode client: a sandbox-mode one sees only its sandbox users (the helpers
    show everything)."""
    with igflow.mock(rate_limits="off") as sandbox:
        token = sandbox.token("grantwinney", ALL_SCOPES, client="live")
        auth = {"access_token": token, "count": 50}

        def everything(url: str) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            page: dict[str, Any] = requests.get(url, params=auth).json()
            found += page["data"]
            while page.get("pagination", {}).get("next_url"):
                page = requests.get(page["pagination"]["next_url"]).json()
                found += page["data"]
            return found

        follows = [u["username"] for u in everything(f"{API}/users/self/follows")]
        assert sorted(sandbox.state.follows_of("grantwinney")) == sorted(follows)
        followers = [u["username"] for u in everything(f"{API}/users/self/followed-by")]
        assert sorted(sandbox.state.followers_of("grantwinney")) == sorted(followers)
        media = [m["id"] for m in everything(f"{API}/users/self/media/recent")]
        assert sandbox.state.media_of("grantwinney") == media  # newest first, as the API
        assert MEDIA_ID in media
        tomatoes = next(m for m in media if m != MEDIA_ID)
        comments = everything(f"{API}/media/{tomatoes}/comments")
        assert [(c["id"], c["from"]["username"], c["text"]) for c in comments] == [
            (c["id"], c["username"], c["text"]) for c in sandbox.state.comments_on(tomatoes)
        ]
        assert sandbox.state.likers_of(MEDIA_ID) == sandbox.state.likers_of("Bcizg1_B3nu")
        with pytest.raises(UsageError, match="no sandbox media 'nope'"):
            sandbox.state.likers_of("nope")

"""python-instagram 1.3.2, the official legacy Python client, unmodified, against the sandbox.

The library is only *configured*: ``host``, ``protocol``, ``authorize_url`` and
``access_token_url`` are instance attributes it reads, set here to the sandbox's loopback URL.
Every test asserts what the real API gave this library, including where that was an error
(reference §9.1, §12 and the library's own issue tracker, cited per test). Where the library
itself breaks on Python 3 for reasons that have nothing to do with the server, the test states
what should happen and is a strict xfail naming the broken line.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from test_sandbox_support import REDIRECT, TOKEN_RE, info, parse_form

from igflow.auth import authorize_sandbox
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.faults import FaultSpec
from igflow.sandbox.server import RunningSandbox, start_sandbox

with warnings.catch_warnings():
    # instagram/bind.py has re.compile('{\w+}') in a non-raw string. Compiled from source (no
    # cached .pyc), that warns "invalid escape sequence" (DeprecationWarning on 3.11,
    # SyntaxWarning from 3.12), which this suite's filterwarnings=error turns into a SyntaxError
    # at import. Silencing that one warning here changes nothing in the library.
    warnings.filterwarnings("ignore", "invalid escape sequence", DeprecationWarning)
    warnings.filterwarnings("ignore", "invalid escape sequence", SyntaxWarning)
    from instagram import InstagramAPI, InstagramAPIError
    from instagram.oauth2 import OAuth2AuthExchangeError, OAuth2Request

# Its models convert created_time with datetime.utcfromtimestamp, deprecated from Python 3.12.
pytestmark = pytest.mark.filterwarnings(
    "ignore:datetime.datetime.utcfromtimestamp:DeprecationWarning"
)

GRANT_ID = "3657782666"
MEDIA_ID = "1667121369441597934_3657782666"  # the seed's photo, shortcode Bcizg1_B3nu
SHORTCODE = "Bcizg1_B3nu"
CAPTION = "Snap peas in our garden, summer 2017"
TOMATOES_CAPTION = "First tomatoes of the season #garden #tomatoes"
MAYA, TOM, ROSA = "4021937711", "4102558320", "4523871145"
ALL_SCOPES = ["basic", "public_content", "follower_list", "comments", "relationships", "likes"]
# The seed's text for a token without the likes scope (test_sandbox_seed.py asserts the same).
SEED_PERMISSIONS = (
    "This request requires scope=likes, but this access token is not authorized with this scope. "
    "The user must re-authorize your application with scope=likes to be granted this permissions."
)
SIG_MISMATCH = "Invalid signed-request: Signature does not match"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig()) as running:
        yield running


# ---- pointing the library at the sandbox, and getting tokens as a user would ------------------
def client_info(url: str, name: str) -> dict[str, Any]:
    return next(c for c in info(url)["clients"] if c["name"] == name)


def demo_password(url: str, username: str) -> str:
    return str(next(u["password"] for u in info(url)["users"] if u["username"] == username))


def pointed(api: InstagramAPI, url: str) -> InstagramAPI:
    """Aim an InstagramAPI at the sandbox through the attributes the library reads."""
    api.host = urlsplit(url).netloc  # "127.0.0.1:<port>"; base_path stays "/v1"
    api.protocol = "http"  # the sandbox has no TLS
    api.authorize_url = url + "/oauth/authorize"
    api.access_token_url = url + "/oauth/access_token"
    return api


def api_for(url: str, token: str, **kwargs: Any) -> InstagramAPI:
    return pointed(InstagramAPI(access_token=token, **kwargs), url)


def implicit_token(
    url: str, scopes: list[str], username: str = "grantwinney", client: str = "default"
) -> str:
    """A token from the implicit flow, igflow's authorize_sandbox playing the browser."""
    with requests.Session() as browser:
        return authorize_sandbox(
            browser,
            url,
            client_id=client_info(url, client)["client_id"],
            redirect_uri=REDIRECT,
            username=username,
            password=demo_password(url, username),
            scopes=scopes,
        )


def browse(authorize_url: str, username: str, password: str) -> str:
    """Do what python-instagram leaves to the user's browser: open its authorize URL, log in,
    allow; return the redirect target (which carries the code)."""
    with requests.Session() as browser:
        response = browser.get(authorize_url, allow_redirects=False)
        for _ in range(6):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if location.startswith(REDIRECT):
                    return location
                response = browser.get(location, allow_redirects=False)
                continue
            assert response.status_code == 200, response.text
            form = parse_form(response.text)
            assert form.action
            data = dict(form.fields)
            if "password" in data:
                data.update(username=username, password=password)
            else:
                data["allow"] = form.buttons["allow"]
            response = browser.post(
                urljoin(response.url, form.action), data=data, allow_redirects=False
            )
    raise AssertionError("the authorize flow did not reach the redirect URI")


def signed_api(url: str, **kwargs: Any) -> InstagramAPI:
    """An API object of the signed client: its token from the code flow, and its secret, with
    which the library signs every call."""
    signed = client_info(url, "signed")
    oauth = pointed(
        InstagramAPI(
            client_id=signed["client_id"],
            client_secret=signed["client_secret"],
            redirect_uri=REDIRECT,
        ),
        url,
    )
    target = browse(
        oauth.get_authorize_url(scope=ALL_SCOPES), "grantwinney", demo_password(url, "grantwinney")
    )
    token, _user = oauth.exchange_code_for_access_token(parse_qs(urlsplit(target).query)["code"][0])
    return api_for(url, token, client_secret=signed["client_secret"], **kwargs)


def api_error(excinfo: pytest.ExceptionInfo[InstagramAPIError]) -> tuple[Any, Any, Any]:
    error = excinfo.value
    return error.status_code, error.error_type, error.error_message


def media_by_caption(api: InstagramAPI, caption: str) -> dict[str, Any]:
    page, _next = api.user_recent_media(count=20, return_json=True)
    return next(m for m in page if m["caption"] and m["caption"]["text"] == caption)


# ---- OAuth -------------------------------------------------------------------------------------
def test_code_flow_with_the_librarys_own_oauth_helpers(sandbox: RunningSandbox) -> None:
    url = sandbox.url
    signed = client_info(url, "signed")
    oauth = pointed(
        InstagramAPI(
            client_id=signed["client_id"],
            client_secret=signed["client_secret"],
            redirect_uri=REDIRECT,
        ),
        url,
    )
    authorize_url = oauth.get_authorize_url(scope=["basic", "likes"])
    assert authorize_url.startswith(url + "/oauth/authorize?")
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["response_type"] == ["code"] and query["scope"] == ["basic likes"]

    code = parse_qs(
        urlsplit(browse(authorize_url, "grantwinney", demo_password(url, "grantwinney"))).query
    )["code"][0]
    # The library posts its form without a Content-Type; the real endpoint read it anyway.
    token, user = oauth.exchange_code_for_access_token(code)
    assert TOKEN_RE.match(token) and token.startswith(f"{GRANT_ID}.{signed['client_id'][:7]}.")
    assert user["id"] == GRANT_ID and user["username"] == "grantwinney"
    assert user["full_name"] == "Grant"

    # The §5.5 errors reach the library as OAuth2AuthExchangeError with the server's message.
    with pytest.raises(OAuth2AuthExchangeError) as reused:
        oauth.exchange_code_for_access_token(code)
    assert reused.value.description == "Matching code was not found or was already used."
    oauth.client_secret = "0" * 32
    with pytest.raises(OAuth2AuthExchangeError) as wrong:
        oauth.exchange_code_for_access_token(code)
    assert wrong.value.description == "Invalid Client Secret"


# ---- users, media, likes, comments -------------------------------------------------------------
def test_users_and_rate_limit_headers(sandbox: RunningSandbox) -> None:
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic", "public_content"]))
    assert api.x_ratelimit is None  # nothing read yet

    me = api.user()
    assert (me.id, me.username, me.full_name) == (GRANT_ID, "grantwinney", "Grant")
    assert me.website == "https://grantwinney.com/" and me.is_business is False
    assert me.counts == {"media": 7, "follows": 10, "followed_by": 5}
    # httplib2 lowercases header names; the library stores the raw strings.
    assert (api.x_ratelimit, api.x_ratelimit_remaining) == ("500", "499")

    maya = api.user(MAYA)
    assert (maya.id, maya.username, maya.full_name) == (MAYA, "maya.bakes", "Maya Lindqvist")
    assert (api.x_ratelimit, api.x_ratelimit_remaining) == ("500", "498")

    found = api.user_search(q="maya")
    assert [(u.id, u.username) for u in found] == [(MAYA, "maya.bakes")]


def test_media_by_id_and_shortcode(sandbox: RunningSandbox) -> None:
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic"]))
    by_id = api.media(MEDIA_ID, return_json=True)
    assert by_id["id"] == MEDIA_ID and by_id["type"] == "image"
    assert by_id["user"]["id"] == GRANT_ID and by_id["user"]["username"] == "grantwinney"
    assert by_id["caption"]["text"] == CAPTION
    assert by_id["link"] == f"https://www.instagram.com/p/{SHORTCODE}/"
    assert by_id["likes"] == {"count": 1} and by_id["comments"] == {"count": 0}
    # media_shortcode is the one path the library sends without ".json"; same object.
    assert api.media_shortcode(SHORTCODE, return_json=True) == by_id


def test_media_objects_fail_as_they_did_for_post_2015_apps(sandbox: RunningSandbox) -> None:
    # Media.object_from_dictionary loops over entry['comments']['data'], which the API stopped
    # sending to apps created after 2015-11-17 (reference §3.2, §12); every sandbox client is
    # such an app. Real sandboxed apps hit exactly this KeyError (python-instagram #214, #220,
    # #232); return_json=True, used by the other tests, is the library's way around it.
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic"]))
    with pytest.raises(KeyError, match="'data'"):
        api.media(MEDIA_ID)
    with pytest.raises(KeyError, match="'data'"):
        api.user_recent_media(count=1)


def test_likes(sandbox: RunningSandbox) -> None:
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic", "likes"]))
    tomatoes = media_by_caption(api, TOMATOES_CAPTION)
    assert [u.username for u in api.media_likes(MEDIA_ID)] == ["grantwinney"]
    before = [u.username for u in api.media_likes(tomatoes["id"])]
    assert sorted(before) == ["lena.plants", "maya.bakes", "sofia.lens"]

    assert api.like_media(media_id=tomatoes["id"]) == []  # response_type "empty"
    # Writes report the 30/h likes bucket, the one with fewest requests left.
    assert (api.x_ratelimit, api.x_ratelimit_remaining) == ("30", "29")
    after = api.media(tomatoes["id"], return_json=True)
    assert after["likes"]["count"] == 4 and after["user_has_liked"] is True
    assert "grantwinney" in {u.username for u in api.media_likes(tomatoes["id"])}

    assert api.unlike_media(media_id=tomatoes["id"]) == []
    assert sorted(u.username for u in api.media_likes(tomatoes["id"])) == sorted(before)
    assert api.media(tomatoes["id"], return_json=True)["user_has_liked"] is False


def test_comments(sandbox: RunningSandbox) -> None:
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic", "comments"]))
    tomatoes = media_by_caption(api, TOMATOES_CAPTION)
    comments = api.media_comments(tomatoes["id"])
    assert [(c.user.username, c.text) for c in comments] == [
        ("maya.bakes", "These look amazing!"),
        ("pixel_pete", "follow4follow?? check my page"),
        ("grantwinney", "Thanks Maya! More coming soon."),
    ]
    assert all(isinstance(c.created_at, datetime) and c.id.isdigit() for c in comments)
    assert api.media_comments(MEDIA_ID) == []

    assert api.create_media_comment(media_id=MEDIA_ID, text="Picked the first pod today") == []
    (mine,) = api.media_comments(MEDIA_ID)
    assert (mine.user.username, mine.text) == ("grantwinney", "Picked the first pod today")
    assert api.media(MEDIA_ID, return_json=True)["comments"] == {"count": 1}

    # The media owner may delete anyone's comment, here the spammer's.
    spam = next(c for c in comments if c.user.username == "pixel_pete")
    assert api.delete_comment(media_id=tomatoes["id"], comment_id=spam.id) == []
    assert [c.user.username for c in api.media_comments(tomatoes["id"])] == [
        "maya.bakes",
        "grantwinney",
    ]


# ---- pagination --------------------------------------------------------------------------------
def test_user_recent_media_pages(sandbox: RunningSandbox) -> None:
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic"]))
    first, next_url = api.user_recent_media(count=3, return_json=True)
    assert len(first) == 3 and next_url is not None
    assert next_url.startswith(sandbox.url + "/v1/users/self/media/recent")
    assert parse_qs(urlsplit(next_url).query)["max_id"] == [first[-1]["id"]]

    # with_next_url: the library requests the link verbatim.
    pages = [first]
    while next_url:
        page, next_url = api.user_recent_media(with_next_url=next_url, return_json=True)
        pages.append(page)
    assert [len(p) for p in pages] == [3, 3, 1]
    media = [m for p in pages for m in p]
    assert len({m["id"] for m in media}) == 7 and MEDIA_ID in {m["id"] for m in media}
    times = [int(m["created_time"]) for m in media]
    assert times == sorted(times, reverse=True)  # newest first, pages do not overlap

    # as_generator yields (page, next_url) per page; max_pages=None reads to the end.
    generated = list(
        api.user_recent_media(count=3, as_generator=True, max_pages=None, return_json=True)
    )
    assert [[m["id"] for m in p] for p, _ in generated] == [[m["id"] for m in p] for p in pages]
    assert generated[-1][1] is None
    # The library's default max_pages=3 stops the generator, not the server.
    assert len(list(api.user_recent_media(count=2, as_generator=True, return_json=True))) == 3


def test_follows_followed_by_and_liked_media_pages(sandbox: RunningSandbox) -> None:
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic", "follower_list"]))

    def every_page(method: Any, count: int, **options: Any) -> list[list[Any]]:
        page, next_url = method(count=count, **options)
        pages = [page]
        while next_url:
            page, next_url = method(with_next_url=next_url, **options)
            pages.append(page)
        return pages

    follows = every_page(api.user_follows, count=3)
    assert [len(p) for p in follows] == [3, 3, 2]
    # Most recent follow first; the two live-only accounts do not exist for a sandbox client.
    assert [u.username for p in follows for u in p] == [
        "city_walker",
        "pixel_pete",
        "ocean_kai",
        "lena.plants",
        "dev_dan",
        "sofia.lens",
        "tom_hikes",
        "maya.bakes",
    ]
    followed_by = every_page(api.user_followed_by, count=2)
    assert [len(p) for p in followed_by] == [2, 2]
    assert {u.username for p in followed_by for u in p} == {
        "city_walker",
        "lena.plants",
        "sofia.lens",
        "maya.bakes",
    }

    # 12 likes, 10 of them on media a sandbox client can see; the most recent like first, so
    # the seed's photo (his first like) comes last. The cursor is max_like_id (§2.3).
    liked = every_page(api.user_liked_media, count=5, return_json=True)
    assert [len(p) for p in liked] == [5, 5]
    liked_media = [m for p in liked for m in p]
    assert len({m["id"] for m in liked_media}) == 10 and liked_media[-1]["id"] == MEDIA_ID
    assert liked_media[0]["caption"]["text"] == "Murals of the Mission #streetart"
    assert all(m["user_has_liked"] is True for m in liked_media)


# ---- tags, locations, relationships ------------------------------------------------------------
def test_tags(sandbox: RunningSandbox) -> None:
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic", "public_content"]))
    tag = api.tag("garden")
    assert tag.name == "garden"

    found, next_url = api.tag_search(q="gard")  # paginates=True in the library
    assert [t.name for t in found][0] == "garden" and next_url is None

    page, next_url = api.tag_recent_media(tag_name="garden", count=2, return_json=True)
    media = list(page)
    while next_url:
        assert "max_tag_id" in parse_qs(urlsplit(next_url).query)
        page, next_url = api.tag_recent_media(
            tag_name="garden", with_next_url=next_url, return_json=True
        )
        media += page
    assert tag.media_count == len(media) == 5  # pages of 2, 2 and 1
    assert all("garden" in m["tags"] for m in media)
    assert any(m["caption"]["text"] == TOMATOES_CAPTION for m in media)


def test_locations(sandbox: RunningSandbox) -> None:
    api = api_for(sandbox.url, implicit_token(sandbox.url, ["basic", "public_content"]))
    park = api.location("514276")
    assert (park.id, park.name) == ("514276", "Golden Gate Park")
    assert (park.point.latitude, park.point.longitude) == (37.7694, -122.4862)

    nearby = api.location_search(lat="37.7694", lng="-122.4862")
    assert nearby[0].id == "514276" and nearby[0].name == "Golden Gate Park"
    tartine = api.location_search(foursquare_v2_id="4a7f5f7cf964a520c8f41fe3")
    assert [(loc.id, loc.name) for loc in tartine] == [("2", "Tartine Bakery")]


def test_relationships(sandbox: RunningSandbox) -> None:
    api = api_for(
        sandbox.url, implicit_token(sandbox.url, ["basic", "follower_list", "relationships"])
    )
    maya = api.user_relationship(user_id=MAYA)
    assert (maya.outgoing_status, maya.incoming_status) == ("follows", "followed_by")
    assert maya.target_user_is_private is False
    rosa = api.user_relationship(user_id=ROSA)
    assert (rosa.outgoing_status, rosa.target_user_is_private) == ("none", True)

    # change_user_relationship is declared paginates=True, hence the (object, next) pairs.
    unfollowed, _ = api.unfollow_user(user_id=TOM)
    assert unfollowed.outgoing_status == "none"
    assert api.user_relationship(user_id=TOM).outgoing_status == "none"
    followed, _ = api.follow_user(user_id=TOM)
    assert followed.outgoing_status == "follows"
    requested, _ = api.follow_user(user_id=ROSA)  # private: a request, not a follow
    assert requested.outgoing_status == "requested"
    assert api.user_relationship(user_id=ROSA).outgoing_status == "requested"


# ---- the typed errors --------------------------------------------------------------------------
def test_missing_scope_invalid_token_not_found_and_private(sandbox: RunningSandbox) -> None:
    url = sandbox.url
    api = api_for(url, implicit_token(url, ["basic"]))
    with pytest.raises(InstagramAPIError) as no_scope:
        api.like_media(media_id=MEDIA_ID)
    assert api_error(no_scope) == (400, "OAuthPermissionsException", SEED_PERMISSIONS)
    assert str(no_scope.value) == f"(400) OAuthPermissionsException-{SEED_PERMISSIONS}"

    with pytest.raises(InstagramAPIError) as invalid:
        api_for(url, f"{GRANT_ID}.4c56a5e.{'0' * 32}").user()
    assert api_error(invalid) == (
        400,
        "OAuthAccessTokenException",
        "The access_token provided is invalid.",
    )

    with pytest.raises(InstagramAPIError) as missing:
        api.media(f"1_{GRANT_ID}", return_json=True)
    assert api_error(missing) == (400, "APINotFoundError", "invalid media id")

    wide = api_for(url, implicit_token(url, ["basic", "public_content"]))
    assert wide.user(ROSA).username == "rosa.quiet"  # a private profile stays readable
    with pytest.raises(InstagramAPIError) as private:
        wide.user_recent_media(user_id=ROSA, return_json=True)
    assert api_error(private) == (400, "APINotAllowedError", "you cannot view this resource")


def test_rate_limited_calls_raise_the_librarys_own_error() -> None:
    # bind.py raises on HTTP 429 before reading the body, with its own type and text, and the
    # status as httplib2's string: what the real 429 gave it too.
    with start_sandbox(SandboxConfig(faults=FaultSpec(exhaust_rate_limit=True))) as running:
        api = api_for(running.url, implicit_token(running.url, ["basic"]))
        with pytest.raises(InstagramAPIError) as limited:
            api.user()
    assert api_error(limited) == (
        "429",
        "Rate limited",
        "Your client is making too many request per second",
    )


# ---- the signed client (implicit OAuth off, signed requests enforced) -------------------------
def test_signed_requests_with_the_librarys_quirks(sandbox: RunningSandbox) -> None:
    api = signed_api(sandbox.url)
    # The quirks of reference §9.1: ".json" in the signed path and two sig params on a GET.
    url, _method, _body, _headers = OAuth2Request(api).prepare_request(
        "GET", "/users/self.json", {}
    )
    assert len(parse_qs(urlsplit(url).query)["sig"]) == 2

    assert api.user().username == "grantwinney"
    assert api.media(MEDIA_ID, return_json=True)["caption"]["text"] == CAPTION
    assert api.media_shortcode(SHORTCODE, return_json=True)["id"] == MEDIA_ID
    # An int count stays str(2) in the sig; the two sigs differ, the second one matches.
    page, next_url = api.user_recent_media(count=2, return_json=True)
    assert len(page) == 2 and next_url is not None
    assert [u.username for u in api.media_likes(MEDIA_ID)] == ["grantwinney"]
    assert [c.text for c in api.media_comments(MEDIA_ID)] == []

    # POST and DELETE without body fields: the sig over access_token alone is the right one.
    assert api.unlike_media(media_id=MEDIA_ID) == []
    assert api.media(MEDIA_ID, return_json=True)["likes"]["count"] == 0
    assert api.like_media(media_id=MEDIA_ID) == []
    assert (api.x_ratelimit, api.x_ratelimit_remaining) == ("30", "28")
    assert api.media(MEDIA_ID, return_json=True)["likes"]["count"] == 1


def test_signed_requests_the_real_api_refused(sandbox: RunningSandbox) -> None:
    api = signed_api(sandbox.url)

    # A wrong secret.
    wrong = api_for(sandbox.url, api.access_token, client_secret="0" * 32)
    with pytest.raises(InstagramAPIError) as mismatch:
        wrong.user()
    assert api_error(mismatch) == (403, "OAuthForbiddenException", SIG_MISMATCH)

    # No secret: no sig at all.
    unsigned = api_for(sandbox.url, api.access_token)
    with pytest.raises(InstagramAPIError) as missing:
        unsigned.user()
    assert api_error(missing) == (
        403,
        "OAuthForbiddenException",
        "Invalid signed-request: Missing required parameter 'sig'",
    )

    # The library signs a POST over access_token only, leaving out its form fields (text,
    # action); the server signed over them, so comments and follows failed (reference §9.1,
    # python-instagram #153) while likes worked. Nothing was written.
    with pytest.raises(InstagramAPIError) as comment:
        api.create_media_comment(media_id=MEDIA_ID, text="Signed comment")
    assert api_error(comment) == (403, "OAuthForbiddenException", SIG_MISMATCH)
    with pytest.raises(InstagramAPIError) as follow:
        api.follow_user(user_id=ROSA)
    assert api_error(follow) == (403, "OAuthForbiddenException", SIG_MISMATCH)
    assert api.media(MEDIA_ID, return_json=True)["comments"] == {"count": 0}

    # next_url repeats the caller's (now stale) sigs; followed verbatim, as this library does,
    # it fails the same way (jInstagram #166 re-signed its links for this reason).
    _page, next_url = api.user_follows(count=3)
    assert next_url is not None and len(parse_qs(urlsplit(next_url).query)["sig"]) == 2
    with pytest.raises(InstagramAPIError) as stale:
        api.user_follows(with_next_url=next_url)
    assert api_error(stale) == (403, "OAuthForbiddenException", SIG_MISMATCH)


@pytest.mark.xfail(
    strict=True,
    raises=InstagramAPIError,
    reason=(
        "Python 3 only: bind.encode_string turns str parameters into bytes, and "
        "oauth2.OAuth2Request._generate_sig formats them with '%s', so the signed base string "
        'reads "|q=b\'garden\'" instead of "|q=garden" (on Python 2 both are str): every '
        "signed GET with a string parameter gets 'Signature does not match'"
    ),
)
def test_signed_get_with_a_string_parameter(sandbox: RunningSandbox) -> None:
    found, _next = signed_api(sandbox.url).tag_search(q="garden")
    assert [t.name for t in found] == ["garden"]


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason=(
        "Python 3 only: with client_ips set, bind._do_api_request signs X-Insta-Forwarded-For "
        "with hmac.new(client_secret, client_ips, sha256) on str values; Python 3's hmac wants "
        "bytes (TypeError: key: expected bytes or bytearray, but got 'str'), so every write "
        "fails before anything is sent"
    ),
)
def test_signed_header_with_client_ips(sandbox: RunningSandbox) -> None:
    api = signed_api(sandbox.url, client_ips="127.0.0.1")
    assert api.unlike_media(media_id=MEDIA_ID) == []

"""Handlers for users, relationships, tags, locations, legacy endpoints, subscriptions, oEmbed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from sandbox_helpers import CITY, FOODIE, GRANT, MAYA, PETE, ROSA, TOM, viewer

from igflow.sandbox.contract import SandboxApiError

NO_TOKEN = None


def error_of(call, *args, **kwargs) -> SandboxApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(SandboxApiError) as info:
        call(*args, **kwargs)
    return info.value


# ---- users ----------------------------------------------------------------------------------
def test_users_self_matches_the_seed_shape(call) -> None:  # type: ignore[no-untyped-def]
    me = call("users.self").data
    assert list(me) == [
        "id",
        "username",
        "profile_picture",
        "full_name",
        "bio",
        "website",
        "is_business",
        "counts",
    ]
    assert (me["id"], me["full_name"], me["bio"], me["website"]) == (
        GRANT,
        "Grant",
        "",
        "https://grantwinney.com/",
    )
    assert me["counts"] == {"media": 7, "follows": 10, "followed_by": 5}
    assert call("users.get", user_id="self").data == me


def test_unknown_users(call) -> None:  # type: ignore[no-untyped-def]
    for user_id in ("1", "abc", "99999999999"):
        err = error_of(call, "users.get", user_id=user_id)
        assert (err.error_type, err.message) == ("APINotFoundError", "this user does not exist")
    assert (
        error_of(call, "users.media_recent", user_id=FOODIE).message == "this user does not exist"
    )


def test_users_search(call) -> None:  # type: ignore[no-untyped-def]
    found = call("users.search", q="an").data
    names = [u["username"] for u in found]
    assert "grantwinney" in names and "famous_foodie" not in names
    assert list(found[0]) == ["id", "username", "full_name", "profile_picture"]
    assert call("users.search", q="foodie", as_=viewer(live=True)).data[0]["id"] == FOODIE
    assert [u["username"] for u in call("users.search", q="maya", count="1").data] == ["maya.bakes"]
    assert error_of(call, "users.search").error_type == "APIInvalidParametersError"


def test_feed_and_geographies_are_legacy_only(call) -> None:  # type: ignore[no-untyped-def]
    for endpoint, params in (("users.feed", {}), ("geographies.media_recent", {"geo_id": "1"})):
        err = error_of(call, endpoint, **params)
        assert err.error_type == "APINotAllowedError"
        assert "not available to clients created after 2015-11-17" in err.message


# ---- relationships --------------------------------------------------------------------------
def test_follows_pages_with_cursor(call) -> None:  # type: ignore[no-untyped-def]
    live = viewer(live=True)
    first = call("relationships.follows", count="4", as_=live)
    assert set(first.pagination) == {"next_url", "next_cursor"}
    names = [u["username"] for u in first.data]
    cursor = first.pagination["next_cursor"]
    while cursor:
        page = call("relationships.follows", count="4", cursor=cursor, as_=live)
        names += [u["username"] for u in page.data]
        cursor = page.pagination.get("next_cursor")
    assert len(names) == len(set(names)) == 10
    sandboxed = call("relationships.follows").data
    assert len(sandboxed) == 8 and call("relationships.follows").pagination == {}
    followers = {u["username"] for u in call("relationships.followed_by").data}
    assert followers == {"maya.bakes", "sofia.lens", "lena.plants", "city_walker"}
    not_back = {u["username"] for u in sandboxed} - followers
    assert not_back == {"tom_hikes", "dev_dan", "ocean_kai", "pixel_pete"}
    assert error_of(call, "relationships.follows", cursor="x").message == "Invalid cursor."
    assert (
        error_of(call, "relationships.follows", count="0").message
        == "Count must be larger than zero."
    )


def test_relationship_get(call) -> None:  # type: ignore[no-untyped-def]
    assert call("relationships.get", user_id=MAYA).data == {
        "outgoing_status": "follows",
        "incoming_status": "followed_by",
        "target_user_is_private": False,
    }
    assert call("relationships.get", user_id=ROSA).data == {
        "outgoing_status": "none",
        "incoming_status": "none",
        "target_user_is_private": True,
    }
    assert (
        call("relationships.get", user_id=GRANT, as_=viewer(PETE)).data["incoming_status"]
        == "followed_by"
    )
    assert (
        call("relationships.get", user_id=ROSA, as_=viewer(TOM)).data["outgoing_status"]
        == "requested"
    )
    assert error_of(call, "relationships.get", user_id=FOODIE).message == "this user does not exist"


def test_relationship_transitions(call) -> None:  # type: ignore[no-untyped-def]
    def act(action: str, target: str, who: str = GRANT) -> str:
        result = call("relationships.update", user_id=target, action=action, as_=viewer(who))
        assert list(result.data) == ["outgoing_status"]
        return str(result.data["outgoing_status"])

    assert act("unfollow", PETE) == "none"
    assert act("unfollow", PETE) == "none"  # idempotent
    assert act("follow", PETE) == "follows"
    assert act("follow", ROSA) == "requested"  # private account
    assert act("follow", ROSA) == "requested"
    rosa = viewer(ROSA)
    assert {u["id"] for u in call("relationships.requested_by", as_=rosa).data} == {
        GRANT,
        TOM,
        CITY,
    }
    assert act("approve", GRANT, ROSA) == "none"  # rosa's own outgoing status
    assert call("relationships.get", user_id=ROSA).data["outgoing_status"] == "follows"
    assert call("users.media_recent", user_id=ROSA).data  # now allowed
    assert act("ignore", TOM, ROSA) == "none"
    assert (
        call("relationships.get", user_id=ROSA, as_=viewer(TOM)).data["outgoing_status"] == "none"
    )
    assert {u["id"] for u in call("relationships.requested_by", as_=rosa).data} == {CITY}
    assert act("approve", MAYA, ROSA) == "follows"  # no pending request: nothing changes
    assert act("unfollow", ROSA) == "none"
    err = error_of(call, "relationships.update", user_id=MAYA, action="block")
    assert err.error_type == "APIInvalidParametersError" and "Invalid action" in err.message
    assert (
        error_of(call, "relationships.update", user_id=MAYA).error_type
        == "APIInvalidParametersError"
    )
    assert (
        error_of(call, "relationships.update", user_id=GRANT, action="follow").error_type
        == "APIInvalidParametersError"
    )
    # Existence comes before params.
    assert (
        error_of(call, "relationships.update", user_id=FOODIE, action="nope").message
        == "this user does not exist"
    )


# ---- tags and locations ---------------------------------------------------------------------
def test_tags(call) -> None:  # type: ignore[no-untyped-def]
    # rosa's #garden media is private and grant does not follow her; lucy_live is not sandboxed.
    assert call("tags.get", tag_name="Garden").data == {"media_count": 5, "name": "garden"}
    assert call("tags.get", tag_name="garden", as_=viewer(live=True)).data["media_count"] == 6
    assert call("tags.get", tag_name="garden", as_=viewer(ROSA)).data["media_count"] == 6
    assert call("tags.get", tag_name="nosuchtag").data == {"media_count": 0, "name": "nosuchtag"}
    found = call("tags.search", q="#ba").data
    assert found[0] == {"media_count": 3, "name": "baking"}
    assert error_of(call, "tags.search").error_type == "APIInvalidParametersError"


def test_tag_media_pagination(call) -> None:  # type: ignore[no-untyped-def]
    first = call("tags.media_recent", tag_name="garden", count="4")
    assert len(first.data) == 4
    page = first.pagination
    assert set(page) == {
        "next_max_tag_id",
        "deprecation_warning",
        "next_max_id",
        "next_min_id",
        "min_tag_id",
        "next_url",
    }
    assert page["next_max_id"] == page["next_max_tag_id"] == first.data[-1]["id"].split("_")[0]
    assert page["min_tag_id"] == page["next_min_id"] == first.data[0]["id"].split("_")[0]
    assert page["deprecation_warning"].startswith("next_max_id and min_id are deprecated")
    assert f"max_tag_id={page['next_max_tag_id']}" in page["next_url"]
    rest = call(
        "tags.media_recent", tag_name="garden", count="4", max_tag_id=page["next_max_tag_id"]
    )
    assert len(rest.data) == 1 and rest.pagination == {}
    assert not {m["id"] for m in rest.data} & {m["id"] for m in first.data}
    newer = call(
        "tags.media_recent", tag_name="garden", min_tag_id=rest.data[0]["id"].split("_")[0]
    )
    assert [m["id"] for m in newer.data] == [m["id"] for m in first.data]


def test_reduced_results_in_2018(call) -> None:  # type: ignore[no-untyped-def]
    media = call("tags.media_recent", tag_name="garden", era="2018-04-04").data[0]
    assert media["user"] == {"id": GRANT, "username": "grantwinney"}
    assert "comments" not in media and media["caption"]["from"] == media["user"]
    full = call("tags.media_recent", tag_name="garden").data[0]
    assert "full_name" in full["user"] and "comments" in full


def test_locations(call) -> None:  # type: ignore[no-untyped-def]
    assert call("locations.get", location_id="514276").data == {
        "id": "514276",
        "name": "Golden Gate Park",
        "latitude": 37.7694,
        "longitude": -122.4862,
    }
    for bad in ("999", "abc"):
        err = error_of(call, "locations.get", location_id=bad)
        assert (err.error_type, err.message) == ("APINotFoundError", "invalid location id")
    media = call("locations.media_recent", location_id="3").data
    assert [m["user"]["username"] for m in media] == ["ocean_kai", "sofia.lens"]
    assert all(m["location"]["id"] == 3 for m in media)
    one = call("locations.media_recent", location_id="3", count="1")
    assert one.pagination["next_max_id"] == media[0]["id"]
    assert (
        call("locations.media_recent", location_id="3", max_timestamp="1501000000").data[0]["user"][
            "username"
        ]
        == "sofia.lens"
    )
    near = call("locations.search", lat="37.7694", lng="-122.4862").data
    assert [loc["name"] for loc in near] == ["Golden Gate Park"]
    assert (
        call("locations.search", foursquare_v2_id="4a7f5f7cf964a520c8f41fe3").data[0]["id"] == "2"
    )
    assert error_of(call, "locations.search").error_type == "APIInvalidParametersError"
    assert (
        error_of(call, "locations.search", lat="91", lng="0").error_type
        == "APIInvalidParametersError"
    )


# ---- subscriptions --------------------------------------------------------------------------
class _Callback(BaseHTTPRequestHandler):
    mode = "echo"  # echo | wrong
    seen: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        query = parse_qs(urlparse(self.path).query)
        type(self).seen.append(query)
        body = query["hub.challenge"][0] if type(self).mode == "echo" else "nope"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def callback_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    server.timeout = 5
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_subscription_lifecycle(call, callback_url: str) -> None:  # type: ignore[no-untyped-def]
    client = "4c56a5eb5799895875d6739ca91b9cdb"

    def sub(endpoint: str, **params: str):  # type: ignore[no-untyped-def]
        return call(endpoint, as_=NO_TOKEN, client_id=client, **params)

    _Callback.mode, _Callback.seen = "echo", []
    created = sub(
        "subscriptions.create",
        object="user",
        aspect="media",
        callback_url=callback_url,
        verify_token="myVerifyToken",
    ).data
    assert created == {
        "object": "user",
        "type": "subscription",
        "id": created["id"],
        "aspect": "media",
        "callback_url": callback_url,
    }
    query = _Callback.seen[-1]
    assert query["hub.mode"] == ["subscribe"] and query["hub.verify_token"] == ["myVerifyToken"]
    assert len(query["hub.challenge"][0]) == 32
    tag = sub(
        "subscriptions.create",
        object="tag",
        object_id="Garden",
        aspect="media",
        callback_url=callback_url,
    ).data
    assert tag["object_id"] == "garden"
    assert [s["id"] for s in sub("subscriptions.list").data] == [created["id"], tag["id"]]
    assert call("subscriptions.list", as_=NO_TOKEN, client_id="other").data == []
    assert sub("subscriptions.delete", id=created["id"]).data is None
    assert [s["id"] for s in sub("subscriptions.list").data] == [tag["id"]]
    assert sub("subscriptions.delete", object="all").data is None
    assert sub("subscriptions.list").data == []

    _Callback.mode = "wrong"
    err = error_of(
        sub, "subscriptions.create", object="user", aspect="media", callback_url=callback_url
    )
    assert err.error_type == "APISubscriptionError"
    assert err.message.startswith("Challenge verification failed.")
    assert sub("subscriptions.list").data == []


def test_subscription_errors(call) -> None:  # type: ignore[no-untyped-def]
    def sub(**params: str) -> SandboxApiError:
        return error_of(call, "subscriptions.create", as_=NO_TOKEN, client_id="c", **params)

    err = sub(object="user", aspect="media", callback_url="ftp://x")
    assert err.message == (
        'Invalid format for "callback_url". URL must start with "http://" or "https://"'
    )
    assert sub(object="user", aspect="media").error_type == "APISubscriptionError"
    assert "Invalid object" in sub(object="blog", aspect="media", callback_url="http://x").message
    assert "object_id" in sub(object="tag", aspect="media", callback_url="http://x").message
    unreachable = sub(object="user", aspect="media", callback_url="http://127.0.0.1:9/x")
    assert unreachable.message == "Unable to reach callback URL http://127.0.0.1:9/x"
    assert (
        error_of(call, "subscriptions.delete", as_=NO_TOKEN, client_id="c").error_type
        == "APISubscriptionError"
    )


# ---- oEmbed ---------------------------------------------------------------------------------
def test_oembed(call) -> None:  # type: ignore[no-untyped-def]
    result = call("oembed.get", as_=NO_TOKEN, url="https://www.instagram.com/p/Bcizg1_B3nu/")
    assert result.bare is True and result.status == 200
    body = result.data
    assert set(body) == {
        "version",
        "title",
        "author_name",
        "author_url",
        "author_id",
        "media_id",
        "provider_name",
        "provider_url",
        "type",
        "width",
        "height",
        "html",
        "thumbnail_url",
        "thumbnail_width",
        "thumbnail_height",
    }
    assert (body["type"], body["height"], body["author_id"], body["media_id"]) == (
        "rich",
        None,
        3657782666,
        "1667121369441597934_3657782666",
    )
    assert body["title"] == "Snap peas in our garden, summer 2017"
    assert body["html"].startswith('<blockquote class="instagram-media"')
    assert "embed.js" in body["html"]
    bare = call(
        "oembed.get",
        as_=NO_TOKEN,
        url="http://instagr.am/p/Bcizg1_B3nu",
        omitscript="true",
        hidecaption="true",
        maxwidth="400",
    ).data
    assert "embed.js" not in bare["html"] and "Snap peas" not in bare["html"]
    assert bare["width"] == 400
    missing = call("oembed.get", as_=NO_TOKEN, url="https://www.instagram.com/p/AAAAA/")
    assert missing.status == 404 and missing.bare
    assert missing.data["error_type"] == "APINotFoundError"
    assert call("oembed.get", as_=NO_TOKEN, url="https://example.com/x").status == 404
    assert call("oembed.get", as_=NO_TOKEN).status == 400

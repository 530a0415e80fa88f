"""Handlers for media, likes and comments: the seed walkthrough, visibility, privacy, rules."""

from __future__ import annotations

import pytest
from sandbox_helpers import (
    CITY,
    FOODIE,
    GRANT,
    MAYA,
    PETE,
    ROSA,
    SEED_MEDIA,
    SEED_PK,
    TOM,
    viewer,
)

from igflow.sandbox.contract import SandboxApiError
from igflow.sandbox.store import Store

SEED_KEYS = [
    "id",
    "user",
    "images",
    "created_time",
    "caption",
    "user_has_liked",
    "likes",
    "tags",
    "filter",
    "comments",
    "type",
    "link",
    "location",
    "attribution",
    "users_in_photo",
]


def error_of(call, *args, **kwargs) -> SandboxApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(SandboxApiError) as info:
        call(*args, **kwargs)
    return info.value


def media_of(store: Store, username: str, n: int = 0) -> str:
    """The id of a user's n-th most recent media."""
    user = store.user_by_username(username)
    assert user is not None
    rows, _ = store.media_page(
        store.visibility(None), "m.owner = ?", [user["id"]], 50, listable=False
    )
    return f"{rows[n]['pk']}_{user['id']}"


def test_seed_walkthrough(call) -> None:  # type: ignore[no-untyped-def]
    media = call("media.shortcode", shortcode="Bcizg1_B3nu").data
    assert list(media) == SEED_KEYS
    assert media["id"] == SEED_MEDIA
    assert media["user"] == {
        "id": GRANT,
        "username": "grantwinney",
        "full_name": "Grant",
        "profile_picture": "https://instagram.fymy1-2.fna.fbcdn.net/t51.2885-19/"
        "11906329_960233084022564_1448528159_a.jpg",
    }
    assert media["caption"]["id"] == "17899911943100617"
    assert media["caption"]["text"] == "Snap peas in our garden, summer 2017"
    assert media["caption"]["created_time"] == media["created_time"] == "1512956375"
    assert media["images"]["standard_resolution"]["url"].endswith(
        "s640x640/sh0.08/e35/25015742_1019539261522471_6659134500804493312_n.jpg"
    )
    assert (media["likes"], media["comments"], media["user_has_liked"]) == (
        {"count": 1},
        {"count": 0},
        True,
    )
    assert (media["tags"], media["filter"], media["type"], media["location"]) == (
        [],
        "Normal",
        "image",
        None,
    )
    assert media["link"] == "https://www.instagram.com/p/Bcizg1_B3nu/"
    likers = call("likes.list", media_id=SEED_MEDIA)
    assert [u["username"] for u in likers.data] == ["grantwinney"]
    assert likers.pagination is None
    assert call("likes.delete", media_id=SEED_MEDIA).data is None
    after = call("media.get", media_id=SEED_MEDIA).data
    assert after["likes"] == {"count": 0} and after["user_has_liked"] is False
    call("likes.delete", media_id=SEED_MEDIA)  # unliking again still succeeds


def test_likes_are_idempotent(call, store: Store) -> None:  # type: ignore[no-untyped-def]
    target = media_of(store, "dev_dan", 0)
    call("likes.create", media_id=target)
    call("likes.create", media_id=target)
    assert call("media.get", media_id=target).data["likes"]["count"] == 1


def test_unknown_and_malformed_media(call) -> None:  # type: ignore[no-untyped-def]
    for media_id in ("123_456", "nope", f"{SEED_PK}_{MAYA}", "", "1_"):
        assert error_of(call, "media.get", media_id=media_id).message == "invalid media id"
    err = error_of(call, "media.shortcode", shortcode="AAAAAAA")
    assert (err.code, err.error_type, err.message) == (400, "APINotFoundError", "invalid media id")


def test_sandbox_mode_hides_non_sandbox_media_and_users(call, store: Store) -> None:  # type: ignore[no-untyped-def]
    foodie_media = media_of(store, "famous_foodie")
    assert error_of(call, "media.get", media_id=foodie_media).message == "invalid media id"
    assert (
        call("media.get", media_id=foodie_media, as_=viewer(live=True)).data["id"] == foodie_media
    )
    assert error_of(call, "users.get", user_id=FOODIE).message == "this user does not exist"
    assert (
        call("users.get", user_id=FOODIE, as_=viewer(live=True)).data["username"] == "famous_foodie"
    )
    # Comments by non-sandbox users are hidden in sandbox mode; counts stay the real ones.
    hidden = media_of(store, "grantwinney", 5)  # the video: a comment by spam_king_4f4
    comments = call("comments.list", media_id=hidden).data
    assert "spam_king_4f4" not in [c["from"]["username"] for c in comments]
    live = call("comments.list", media_id=hidden, as_=viewer(live=True)).data
    assert "spam_king_4f4" in [c["from"]["username"] for c in live]


def test_owner_rules_come_first(call, store: Store) -> None:  # type: ignore[no-untyped-def]
    basic = viewer(scopes=frozenset({"basic"}))
    err = error_of(call, "media.get", media_id=media_of(store, "maya.bakes"), as_=basic)
    assert err.error_type == "OAuthPermissionsException" and "scope=public_content" in err.message
    assert call("media.get", media_id=SEED_MEDIA, as_=basic).data["id"] == SEED_MEDIA
    # Non-sandbox media: the scope error comes before "invalid media id".
    err = error_of(call, "media.get", media_id=media_of(store, "famous_foodie"), as_=basic)
    assert err.error_type == "OAuthPermissionsException"
    retired = error_of(
        call, "comments.list", media_id=media_of(store, "maya.bakes"), era="2018-04-04"
    )
    assert retired.message == "This endpoint has been retired"
    assert call("comments.list", media_id=media_of(store, "grantwinney", 1), era="2018-04-04").data


def test_private_media_needs_an_accepted_follow(call, store: Store) -> None:  # type: ignore[no-untyped-def]
    rosa_media = media_of(store, "rosa.quiet")
    for endpoint in ("media.get", "likes.list", "comments.list", "likes.create"):
        err = error_of(call, endpoint, media_id=rosa_media)
        assert (err.error_type, err.message) == (
            "APINotAllowedError",
            "you cannot view this resource",
        )
    err = error_of(call, "users.media_recent", user_id=ROSA)
    assert err.message == "you cannot view this resource"
    assert call("users.get", user_id=ROSA).data["counts"]["media"] == 3  # the profile is public
    assert call("media.get", media_id=rosa_media, as_=viewer(ROSA)).data["id"] == rosa_media
    assert call("users.media_recent", user_id=ROSA, as_=viewer("4310462255")).data  # lena follows


def test_count_and_cursor_params(call) -> None:  # type: ignore[no-untyped-def]
    err = error_of(call, "users.media_recent_self", count="0")
    assert (err.error_type, err.message) == (
        "APIInvalidParametersError",
        "Count must be larger than zero.",
    )
    assert (
        error_of(call, "users.media_recent_self", count="x").error_type
        == "APIInvalidParametersError"
    )
    assert error_of(call, "users.media_recent_self", max_id="abc").message == "Invalid max_id."
    assert len(call("users.media_recent_self", count="500").data) == 7  # capped, not refused


def test_user_media_pages(call) -> None:  # type: ignore[no-untyped-def]
    first = call("users.media_recent_self", count="3")
    assert len(first.data) == 3
    next_max = first.pagination["next_max_id"]
    assert next_max == first.data[-1]["id"]
    assert f"max_id={next_max}" in first.pagination["next_url"]
    seen = [m["id"] for m in first.data]
    cursor = next_max
    while cursor:
        page = call("users.media_recent_self", count="3", max_id=cursor)
        seen += [m["id"] for m in page.data]
        cursor = page.pagination.get("next_max_id")
    assert len(seen) == len(set(seen)) == 7
    times = [int(m["created_time"]) for m in call("users.media_recent_self").data]
    assert times == sorted(times, reverse=True)
    newer = call("users.media_recent_self", min_id=seen[3]).data
    assert [m["id"] for m in newer] == seen[:3]


def test_liked_media_pages_by_like_order(call) -> None:  # type: ignore[no-untyped-def]
    live = viewer(live=True)
    first = call("users.media_liked", count="4", as_=live)
    assert set(first.pagination) == {"next_url", "next_max_like_id"}
    ids = [m["id"] for m in first.data]
    cursor = first.pagination["next_max_like_id"]
    while cursor:
        page = call("users.media_liked", count="4", max_like_id=cursor, as_=live)
        ids += [m["id"] for m in page.data]
        cursor = page.pagination.get("next_max_like_id")
    assert len(ids) == len(set(ids)) == 12
    assert all(m["user_has_liked"] for m in call("users.media_liked", as_=live).data)
    sandboxed = call("users.media_liked", count="33").data
    assert len(sandboxed) == 10  # famous_foodie and lucy_live media are outside the sandbox
    assert call("users.media_liked", count="33").pagination == {}


def test_media_shapes_for_video_carousel_location(call, store: Store) -> None:  # type: ignore[no-untyped-def]
    media = {m["type"]: m for m in call("users.media_recent_self").data}
    assert set(media["video"]["videos"]) == {
        "standard_resolution",
        "low_bandwidth",
        "low_resolution",
    }
    carousel = media["carousel"]["carousel_media"]
    assert [c["type"] for c in carousel] == ["image", "image", "video"]
    assert "videos" in carousel[2] and "images" in carousel[0]
    located = call("media.get", media_id=media_of(store, "grantwinney", 6)).data
    assert located["location"] == {
        "latitude": 39.9612,
        "longitude": -82.9988,
        "name": "Columbus, Ohio",
        "id": 213385402,
    }
    tagged = call("media.get", media_id=media_of(store, "grantwinney", 0)).data
    assert tagged["users_in_photo"] == [
        {
            "user": {
                "id": MAYA,
                "username": "maya.bakes",
                "full_name": "Maya Lindqvist",
                "profile_picture": tagged["users_in_photo"][0]["user"]["profile_picture"],
            },
            "position": {"x": 0.42, "y": 0.61},
        }
    ]


def test_comment_create_rules_and_delete(call, store: Store) -> None:  # type: ignore[no-untyped-def]
    mine = media_of(store, "grantwinney", 1)
    before = call("media.get", media_id=mine).data["comments"]["count"]
    assert call("comments.create", media_id=mine, text="Thanks all!").data is None
    comments = call("comments.list", media_id=mine).data
    assert comments[-1]["text"] == "Thanks all!" and comments[-1]["from"]["id"] == GRANT
    assert list(comments[-1]) == ["created_time", "text", "from", "id"]
    assert call("media.get", media_id=mine).data["comments"]["count"] == before + 1
    refused = {
        "x" * 301: "at most 300 characters",
        "#a #b #c #d #e": "at most 4 hashtags",
        "see http://a.example and www.b.com": "at most 1 URL",
        "THIS IS GREAT": "all capital letters",
        "   ": "must not be empty",
    }
    for text, fragment in refused.items():
        err = error_of(call, "comments.create", media_id=mine, text=text)
        assert err.error_type == "APIInvalidParametersError" and fragment in err.message
    assert (
        call("comments.create", media_id=mine, text="OK #a #b #c #d http://x.example").data is None
    )
    assert (
        error_of(call, "comments.create", media_id=mine).message
        == "Missing required parameter 'text'."
    )


def test_comment_delete_ownership(call, store: Store) -> None:  # type: ignore[no-untyped-def]
    mine = media_of(store, "grantwinney", 6)
    spam = next(c for c in call("comments.list", media_id=mine).data if c["from"]["id"] == PETE)
    # Someone else (tom) can delete neither pete's comment nor grant's media comments.
    err = error_of(call, "comments.delete", media_id=mine, comment_id=spam["id"], as_=viewer(TOM))
    assert (err.error_type, err.message) == ("APINotAllowedError", "you cannot delete this comment")
    # The media owner can.
    assert call("comments.delete", media_id=mine, comment_id=spam["id"]).data is None
    assert spam["id"] not in [c["id"] for c in call("comments.list", media_id=mine).data]
    # Deleting again is a no-op success (idempotent).
    assert call("comments.delete", media_id=mine, comment_id=spam["id"]).data is None
    # A comment author can delete their own comment on someone else's media.
    maya_media = media_of(store, "maya.bakes", 2)
    call("comments.create", media_id=maya_media, text="Lovely bread")
    own = call("comments.list", media_id=maya_media).data[-1]
    assert call("comments.delete", media_id=maya_media, comment_id=own["id"]).data is None


def test_commenting_on_others_needs_public_content(call, store: Store) -> None:  # type: ignore[no-untyped-def]
    limited = viewer(scopes=frozenset({"basic", "comments"}))
    err = error_of(
        call, "comments.create", media_id=media_of(store, "maya.bakes"), text="hi", as_=limited
    )
    assert err.error_type == "OAuthPermissionsException"
    assert call("comments.create", media_id=SEED_MEDIA, text="hi", as_=limited).data is None


def test_media_search_and_popular(call) -> None:  # type: ignore[no-untyped-def]
    near = call("media.search", lat="37.7594", lng="-122.5107").data
    assert near and all(m["distance"] <= 1000 for m in near)
    assert {m["location"]["name"] for m in near} == {"Ocean Beach"}
    wide = call("media.search", lat="37.7594", lng="-122.5107", distance="99999").data
    assert {m["location"]["name"] for m in wide} >= {"Ocean Beach", "Golden Gate Park"}
    assert all(m["distance"] <= 5000 for m in wide)
    assert error_of(call, "media.search", lat="37").error_type == "APIInvalidParametersError"
    assert error_of(call, "media.search").error_type == "APIInvalidParametersError"
    err = error_of(call, "media.popular")
    assert (err.error_type, err.message) == ("APINotFoundError", "invalid media id")


def test_sandbox_shows_only_twenty_most_recent_media(db) -> None:  # type: ignore[no-untyped-def]
    from igflow.sandbox.dataset import generate_dataset
    from igflow.sandbox.handlers import users

    store = Store(db)
    data = generate_dataset(10, 300)
    for item in data["media"][-60:]:
        item["owner"] = "city_walker"
    store.load(data)
    vis = store.visibility(viewer())
    rows, more = store.media_page(vis, "m.owner = ?", [CITY], 100, listable=False)
    assert len(rows) == 20 and not more
    everything, _ = store.media_page(
        store.visibility(None), "m.owner = ?", [CITY], 100, listable=False
    )
    oldest = everything[-1]
    assert not store.media_exists_for(vis, oldest["pk"])
    assert users  # the handler module imports cleanly with a generated dataset

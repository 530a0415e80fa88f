"""One case per endpoint id of the Graph profile (graph-contract of issue 14), over plain HTTP.

``CASES`` is the one list of case ids: a test below fails when the registry profile (or the
sandbox's route table) has an endpoint without a case here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from graph_conformance_support import (
    ALBUM,
    APP_SECRET,
    IMAGE,
    MIRA_ID,
    NORTHWIND_ID,
    NW_ALBUM,
    OLD_IMAGE,
    OWNER_COMMENT,
    REEL,
    REPLY,
    SPAM_COMMENT,
    STORY,
    TOP_COMMENT,
    Graph,
    Receiver,
    error_of,
    graph_sandbox,
)

from igflow.sandbox.graph import routes

REGISTRY = Path(__file__).resolve().parents[2] / "igflow" / "registry" / "instagram_graph.yaml"


@pytest.fixture
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


Case = Callable[[Graph], None]
CASES: dict[str, Case] = {}


def case(endpoint_id: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        assert endpoint_id not in CASES, endpoint_id
        CASES[endpoint_id] = fn
        return fn

    return register


# ---- account ------------------------------------------------------------------------------------
@case("me")
def _me(g: Graph) -> None:
    assert g.ok("GET", "/me") == {"id": MIRA_ID}
    body = g.ok("GET", "/me", params={"fields": "user_id,username,account_type,media_count"})
    assert body == {
        "user_id": MIRA_ID,
        "username": "mira.makes",
        "account_type": "Media_Creator",
        "media_count": 4,  # the story is not counted: /media excludes stories
    }


@case("users.get")
def _users_get(g: Graph) -> None:
    body = g.ok("GET", f"/{MIRA_ID}", params={"fields": "id,username,followers_count,name"})
    assert body == {
        "id": MIRA_ID,
        "username": "mira.makes",
        "followers_count": 1840,
        "name": "Mira Okafor",
    }
    # Another account's node is not readable with this account's token.
    error = error_of(g.get(f"/{NORTHWIND_ID}"))
    assert (error["code"], error.get("error_subcode")) == (100, 33)


@case("users.media")
def _users_media(g: Graph) -> None:
    body = g.ok("GET", f"/{MIRA_ID}/media")
    assert [m for m in body["data"]] == [
        {"id": "17900000000001001"},
        {"id": "17900000000001002"},
        {"id": "17900000000001003"},
        {"id": "17900000000001004"},
    ]  # ids only by default, newest first, no story


@case("users.stories")
def _users_stories(g: Graph) -> None:
    assert [m["id"] for m in g.ok("GET", "/me/stories")["data"]] == [STORY]
    g.advance(86400)  # stories are served for 24 h only
    assert g.ok("GET", "/me/stories")["data"] == []


@case("users.insights")
def _users_insights(g: Graph) -> None:
    params = {"metric": "reach,views", "period": "day", "metric_type": "total_value"}
    first = g.ok("GET", "/me/insights", params=params)
    assert [m["name"] for m in first["data"]] == ["reach", "views"]
    assert all(isinstance(m["total_value"]["value"], int) for m in first["data"])
    assert g.ok("GET", "/me/insights", params=params) == first  # deterministic
    series = g.ok(
        "GET",
        "/me/insights",
        params={"metric": "reach", "period": "day", "since": "2026-02-20", "until": "2026-02-23"},
    )
    assert len(series["data"][0]["values"]) == 3
    error = error_of(g.get("/me/insights", params={"metric": "impressions", "period": "day"}))
    assert error["code"] == 100 and "impressions" in error["message"]


@case("users.publishing_limit")
def _publishing_limit(g: Graph) -> None:
    assert g.ok("GET", "/me/content_publishing_limit") == {"data": [{"quota_usage": 0}]}
    body = g.ok("GET", "/me/content_publishing_limit", params={"fields": "quota_usage,config"})
    assert body["data"][0]["config"] == {"quota_total": 50, "quota_duration": 86400}


@case("users.mention_reply")
def _mention_reply(g: Graph) -> None:
    # barista_ben mentioned @mira.makes in a comment on northwind's album.
    body = g.ok(
        "POST",
        "/me/mentions",
        data={"media_id": NW_ALBUM, "comment_id": "17800000000020009", "message": "Thank you!"},
    )
    nw = g.new_token("northwind.coffee")
    replies = g.ok(
        "GET", "/17800000000020009/replies", token=nw, params={"fields": "id,text,username"}
    )
    assert replies["data"] == [{"id": body["id"], "text": "Thank you!", "username": "mira.makes"}]
    error = error_of(
        g.post(
            "/me/mentions",
            data={"media_id": NW_ALBUM, "comment_id": "17800000000020006", "message": "x"},
        )
    )
    assert error["code"] == 100


@case("users.subscribed_apps")
def _subscribed_apps(g: Graph) -> None:
    assert g.ok("GET", "/me/subscribed_apps") == {"data": []}
    g.ok("POST", "/me/subscribed_apps", params={"subscribed_fields": "comments"})
    assert g.ok("GET", "/me/subscribed_apps") == {"data": [{"subscribed_fields": ["comments"]}]}


@case("users.subscribe_app")
def _subscribe_app(g: Graph) -> None:
    body = g.ok(
        "POST", f"/{MIRA_ID}/subscribed_apps", params={"subscribed_fields": "comments,mentions"}
    )
    assert body == {"success": True}
    assert g.ok("GET", "/me/subscribed_apps")["data"][0]["subscribed_fields"] == [
        "comments",
        "mentions",
    ]
    error = error_of(g.post("/me/subscribed_apps", params={"subscribed_fields": "feed"}))
    assert error["code"] == 100 and "subscribed_fields[0]" in error["message"]


@case("users.unsubscribe_app")
def _unsubscribe_app(g: Graph) -> None:
    g.ok("POST", "/me/subscribed_apps", params={"subscribed_fields": "comments"})
    assert g.ok("DELETE", "/me/subscribed_apps") == {"success": True}
    assert g.ok("GET", "/me/subscribed_apps") == {"data": []}
    assert g.ok("DELETE", "/me/subscribed_apps") == {"success": True}  # idempotent


# ---- media --------------------------------------------------------------------------------------
@case("media.get")
def _media_get(g: Graph) -> None:
    assert g.ok("GET", f"/{IMAGE}") == {"id": IMAGE}
    body = g.ok(
        "GET",
        f"/{REEL}",
        params={
            "fields": "media_type,media_product_type,comments_count,is_comment_enabled,"
            "permalink,owner"
        },
    )
    assert body == {
        "media_type": "VIDEO",
        "media_product_type": "REELS",
        "comments_count": 3,
        "is_comment_enabled": True,
        "permalink": "https://www.instagram.com/reel/DMira0002cd/",
        "owner": {"id": MIRA_ID},
    }


@case("media.children")
def _media_children(g: Graph) -> None:
    body = g.ok("GET", f"/{ALBUM}/children", params={"fields": "id,media_type"})
    assert [c["media_type"] for c in body["data"]] == ["IMAGE", "IMAGE", "VIDEO"]
    assert g.ok("GET", f"/{IMAGE}/children") == {"data": []}


@case("media.insights")
def _media_insights(g: Graph) -> None:
    body = g.ok("GET", f"/{IMAGE}/insights", params={"metric": "likes,comments,reach"})
    values = {m["name"]: m["values"][0]["value"] for m in body["data"]}
    assert values["likes"] == 214 and values["comments"] == 7
    assert body["data"][0]["id"] == f"{IMAGE}/insights/likes/lifetime"
    error = error_of(g.get(f"/{STORY}/insights", params={"metric": "reach"}))
    assert error["code"] == 10 and "Not enough viewers" in error["message"]
    error = error_of(g.get(f"/{IMAGE}/insights", params={"metric": "ig_reels_avg_watch_time"}))
    assert error["code"] == 100 and "metric[0]" in error["message"]


@case("media.comments")
def _media_comments(g: Graph) -> None:
    body = g.ok("GET", f"/{IMAGE}/comments")
    assert [set(c) for c in body["data"]] == [{"timestamp", "text", "id"}] * 5  # top level only
    assert body["data"][0]["id"] == OWNER_COMMENT  # newest first


@case("media.comment")
def _media_comment(g: Graph) -> None:
    created = g.ok("POST", f"/{IMAGE}/comments", data={"message": "First!"})
    first = g.ok("GET", f"/{IMAGE}/comments", params={"fields": "id,text,username", "limit": 1})
    assert first["data"] == [{"id": created["id"], "text": "First!", "username": "mira.makes"}]
    g.ok("POST", f"/{IMAGE}", data={"comment_enabled": "false"})
    assert error_of(g.post(f"/{IMAGE}/comments", data={"message": "x"}))["code"] == 100


@case("media.set_comment_enabled")
def _set_comment_enabled(g: Graph) -> None:
    assert g.ok("POST", f"/{OLD_IMAGE}", data={"comment_enabled": "false"}) == {"success": True}
    assert g.ok("GET", f"/{OLD_IMAGE}", params={"fields": "is_comment_enabled"}) == {
        "is_comment_enabled": False
    }
    assert g.ok("POST", f"/{OLD_IMAGE}", data={"comment_enabled": "false"}) == {"success": True}
    assert error_of(g.post(f"/{OLD_IMAGE}", data={"comment_enabled": "maybe"}))["code"] == 100


# ---- comments -----------------------------------------------------------------------------------
@case("comments.get")
def _comments_get(g: Graph) -> None:
    body = g.ok(
        "GET",
        f"/{REPLY}",
        params={"fields": "id,text,username,hidden,parent_id,from{id,username},media{id}"},
    )
    assert body["parent_id"] == TOP_COMMENT and body["hidden"] is False
    assert body["from"]["username"] == "clay_collector" and body["media"] == {"id": IMAGE}


@case("comments.replies")
def _comments_replies(g: Graph) -> None:
    body = g.ok("GET", f"/{TOP_COMMENT}/replies", params={"fields": "id,text"})
    assert body["data"] == [{"id": REPLY, "text": "Same question as Kate"}]


@case("comments.reply")
def _comments_reply(g: Graph) -> None:
    reply = g.ok("POST", f"/{REPLY}/replies", data={"message": "Yes, ilmenite"})
    # A reply to a reply attaches to the top-level comment (§3.3).
    assert g.ok("GET", f"/{reply['id']}", params={"fields": "parent_id"}) == {
        "parent_id": TOP_COMMENT
    }
    g.ok("POST", f"/{SPAM_COMMENT}", data={"hide": "true"})
    assert error_of(g.post(f"/{SPAM_COMMENT}/replies", data={"message": "x"}))["code"] == 100


@case("comments.hide")
def _comments_hide(g: Graph) -> None:
    assert g.ok("POST", f"/{SPAM_COMMENT}", data={"hide": "true"}) == {"success": True}
    assert g.ok("GET", f"/{SPAM_COMMENT}", params={"fields": "hidden"}) == {"hidden": True}
    assert g.ok("POST", f"/{SPAM_COMMENT}", data={"hide": "true"}) == {"success": True}
    assert g.ok("POST", f"/{SPAM_COMMENT}", data={"hide": "false"}) == {"success": True}
    # The owner's own comments always stay visible.
    error = error_of(g.post(f"/{OWNER_COMMENT}", data={"hide": "true"}))
    assert error["code"] == 100
    assert g.ok("GET", f"/{OWNER_COMMENT}", params={"fields": "hidden"}) == {"hidden": False}


@case("comments.delete")
def _comments_delete(g: Graph) -> None:
    assert g.ok("DELETE", f"/{TOP_COMMENT}") == {"success": True}
    error = error_of(g.get(f"/{TOP_COMMENT}"))
    assert (error["code"], error.get("error_subcode")) == (100, 33)
    assert error_of(g.get(f"/{REPLY}"))["code"] == 100  # its replies went with it
    # Only the media owner deletes, even a comment someone else wrote: northwind cannot
    # delete mira's comment on northwind's own media? It can (owner). Mira cannot delete on
    # northwind's media, though she wrote the reply.
    mine = g.ok(
        "POST",
        "/me/mentions",
        data={"media_id": NW_ALBUM, "comment_id": "17800000000020009", "message": "hi"},
    )
    error = error_of(g.delete(f"/{mine['id']}"))
    assert error["code"] == 100 and "owner" in error["message"]
    nw = g.new_token("northwind.coffee")
    assert g.ok("DELETE", f"/{mine['id']}", token=nw) == {"success": True}


# ---- publishing ---------------------------------------------------------------------------------
@case("containers.create")
def _containers_create(g: Graph) -> None:
    body = g.ok(
        "POST", "/me/media", data={"image_url": "https://cdn.example/p.jpg", "caption": "hi"}
    )
    assert set(body) == {"id"}
    error = error_of(g.post("/me/media", data={"image_url": "https://cdn.example/p.png"}))
    assert (error["code"], error["error_subcode"]) == (36001, 2207005)


@case("containers.get")
def _containers_get(g: Graph) -> None:
    container = g.ok("POST", "/me/media", json={"image_url": "https://cdn.example/p.jpg"})["id"]
    assert g.ok("GET", f"/{container}", params={"fields": "status_code"}) == {
        "status_code": "IN_PROGRESS"
    }
    g.advance(60)
    assert (
        g.ok("GET", f"/{container}", params={"fields": "status_code,status"})["status_code"]
        == "FINISHED"
    )
    assert g.ok("GET", f"/{container}") == {"id": container}


@case("media.publish")
def _media_publish(g: Graph) -> None:
    container = g.ok("POST", "/me/media", data={"image_url": "https://cdn.example/p.jpg"})["id"]
    g.advance(60)
    media = g.ok("POST", "/me/media_publish", data={"creation_id": container})["id"]
    assert g.ok("GET", f"/{container}", params={"fields": "status_code"}) == {
        "status_code": "PUBLISHED"
    }
    assert g.ok("GET", "/me/media", params={"limit": 1})["data"] == [{"id": media}]
    # A publish that is repeated is refused: reconcile by the container's PUBLISHED status.
    assert error_of(g.post("/me/media_publish", data={"creation_id": container}))["code"] == 100


# ---- tokens -------------------------------------------------------------------------------------
@case("auth.exchange_token")
def _exchange(g: Graph) -> None:
    short = g.new_token(kind="short")
    body = g.ok(
        "GET",
        "/access_token",
        version=None,
        token=short,
        params={"grant_type": "ig_exchange_token", "client_secret": APP_SECRET},
    )
    assert body["token_type"] == "bearer" and body["expires_in"] == 5184000
    assert g.ok("GET", "/me", token=body["access_token"]) == {"id": MIRA_ID}


@case("auth.refresh_token")
def _refresh(g: Graph) -> None:
    params = {"grant_type": "ig_refresh_token"}
    error = error_of(g.get("/refresh_access_token", version=None, params=params))
    assert error["code"] == 10  # not yet 24 h old
    g.advance(86400)
    body = g.ok("GET", "/refresh_access_token", version=None, params=params)
    assert body["expires_in"] == 5184000 and body["access_token"] != g.token


# ---- Facebook Login only: answered as the real host does for an Instagram Login token ------------
def _fb_only(error: dict[str, object]) -> None:
    assert (error["code"], error.get("error_subcode"), error["type"]) == (
        100,
        33,
        "GraphMethodException",
    )


@case("hashtags.search")
def _hashtag_search(g: Graph) -> None:
    _fb_only(error_of(g.get("/ig_hashtag_search", params={"user_id": MIRA_ID, "q": "pottery"})))


@case("hashtags.recent_media")
def _hashtag_recent(g: Graph) -> None:
    _fb_only(error_of(g.get("/17843853986012965/recent_media", params={"user_id": MIRA_ID})))


@case("hashtags.top_media")
def _hashtag_top(g: Graph) -> None:
    _fb_only(error_of(g.get("/17843853986012965/top_media", params={"user_id": MIRA_ID})))


@case("users.business_discovery")
def _business_discovery(g: Graph) -> None:
    fields = "business_discovery.username(northwind.coffee){followers_count,media_count}"
    error = error_of(g.get(f"/{MIRA_ID}", params={"fields": fields}))
    assert error["code"] == 100 and "business_discovery" in error["message"]


@case("users.like")
def _like(g: Graph) -> None:
    _fb_only(error_of(g.post(f"/{MIRA_ID}/likes", data={"media_id": IMAGE})))


@case("media.delete")
def _media_delete(g: Graph) -> None:
    _fb_only(error_of(g.delete(f"/{IMAGE}")))
    assert g.ok("GET", f"/{IMAGE}") == {"id": IMAGE}  # nothing was deleted


# ---- the suite --------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint_id", sorted(CASES))
def test_endpoint(endpoint_id: str, g: Graph) -> None:
    CASES[endpoint_id](g)


def test_every_route_of_the_sandbox_has_a_case() -> None:
    assert sorted(CASES) == routes.ENDPOINT_IDS


def test_every_endpoint_of_the_registry_profile_has_a_case() -> None:
    if not REGISTRY.exists():
        pytest.skip(
            "the instagram.graph registry profile is not in this tree (issue 14 client half)"
        )
    profile = yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))
    endpoints = profile.get("endpoints", profile)
    ids = set(endpoints) if isinstance(endpoints, dict) else {e["id"] for e in endpoints}
    missing = sorted(ids - set(CASES))
    assert missing == [], f"registry endpoints without a conformance case: {missing}"


def test_the_request_log_names_each_endpoint_id(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    tokens = []
    for endpoint_id in sorted(CASES):  # a fresh state per case, one log (it appends)
        with graph_sandbox(request_log=str(log)) as g:
            CASES[endpoint_id](g)
            tokens.append(g.token)
    import json

    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    seen = {line["endpoint"] for line in lines}
    assert set(CASES) <= seen
    # No token in the log, though every call carried one.
    text = log.read_text(encoding="utf-8")
    assert not any(token in text for token in tokens) and "IGAA" not in text


def test_signature_helper_matches_an_independent_hmac() -> None:
    from igflow.sandbox.graph.webhooks import signature

    body = b'{"object":"instagram"}'
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature(APP_SECRET, body) == expected


__all__ = ["Receiver"]

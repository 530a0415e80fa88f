"""The publishing flow of §3.4 on the fake clock: containers, status, publish, quota."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graph_conformance_support import Graph, error_of, graph_sandbox

JPG = "https://cdn.example/photo.jpg"


@pytest.fixture
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


def _status(g: Graph, container: str) -> str:
    return str(g.ok("GET", f"/{container}", params={"fields": "status_code"})["status_code"])


def test_photo_with_a_first_comment(g: Graph) -> None:
    container = g.ok(
        "POST", "/me/media", json={"image_url": JPG, "caption": "New mug", "alt_text": "a mug"}
    )["id"]
    assert _status(g, container) == "IN_PROGRESS"
    not_ready = error_of(g.post("/me/media_publish", data={"creation_id": container}))
    assert (not_ready["code"], not_ready["error_subcode"]) == (9007, 2207027)
    g.advance(10)
    assert _status(g, container) == "FINISHED"
    media = g.ok("POST", "/me/media_publish", data={"creation_id": container})["id"]
    assert _status(g, container) == "PUBLISHED"
    comment = g.ok("POST", f"/{media}/comments", data={"message": "Shop link in bio"})["id"]
    body = g.ok(
        "GET",
        f"/{media}",
        params={
            "fields": "caption,media_type,media_product_type,alt_text,comments_count,comments{id}"
        },
    )
    assert (
        body["caption"] == "New mug"
        and body["media_type"] == "IMAGE"
        and body["alt_text"] == "a mug"
    )
    assert body["comments_count"] == 1 and body["comments"]["data"] == [{"id": comment}]
    assert g.ok("GET", "/me/content_publishing_limit")["data"][0]["quota_usage"] == 1


def test_carousel(g: Graph) -> None:
    items = [
        g.ok("POST", "/me/media", data={"image_url": JPG, "is_carousel_item": "true"})["id"],
        g.ok(
            "POST",
            "/me/media",
            data={
                "video_url": "https://cdn.example/v.mp4",
                "media_type": "VIDEO",
                "is_carousel_item": "true",
            },
        )["id"],
    ]
    album = g.ok(
        "POST",
        "/me/media",
        data={"media_type": "CAROUSEL", "children": ",".join(items), "caption": "two"},
    )["id"]
    g.advance(60)
    media = g.ok("POST", "/me/media_publish", data={"creation_id": album})["id"]
    body = g.ok("GET", f"/{media}", params={"fields": "media_type,children{media_type}"})
    assert body["media_type"] == "CAROUSEL_ALBUM"
    assert [c["media_type"] for c in body["children"]["data"]] == ["IMAGE", "VIDEO"]
    # A carousel counts once against the quota; its items cannot be published alone.
    assert g.ok("GET", "/me/content_publishing_limit")["data"][0]["quota_usage"] == 1
    assert error_of(g.post("/me/media_publish", data={"creation_id": items[0]}))["code"] == 100
    caption_on_item = g.post(
        "/me/media", data={"image_url": JPG, "is_carousel_item": "true", "caption": "x"}
    )
    assert error_of(caption_on_item)["code"] == 100
    twelve = ",".join(items * 6)
    too_many = g.post("/me/media", data={"media_type": "CAROUSEL", "children": twelve})
    assert error_of(too_many)["error_subcode"] == 2207028


def test_reel_waits_longer_and_story_goes_to_stories(g: Graph) -> None:
    reel = g.ok(
        "POST", "/me/media", data={"media_type": "REELS", "video_url": "https://cdn.example/r.mp4"}
    )["id"]
    g.advance(30)
    assert _status(g, reel) == "IN_PROGRESS"
    g.advance(30)
    media = g.ok("POST", "/me/media_publish", data={"creation_id": reel})["id"]
    assert g.ok("GET", f"/{media}", params={"fields": "media_type,media_product_type"}) == {
        "media_type": "VIDEO",
        "media_product_type": "REELS",
    }
    story = g.ok("POST", "/me/media", data={"media_type": "STORIES", "image_url": JPG})["id"]
    g.advance(10)
    story_media = g.ok("POST", "/me/media_publish", data={"creation_id": story})["id"]
    assert story_media in [s["id"] for s in g.ok("GET", "/me/stories")["data"]]
    assert story_media not in [
        m["id"] for m in g.ok("GET", "/me/media", params={"limit": "100"})["data"]
    ]
    assert (
        error_of(
            g.post(
                "/me/media", data={"media_type": "VIDEO", "video_url": "https://cdn.example/v.mp4"}
            )
        )["error_subcode"]
        == 2207023
    )  # VIDEO is not accepted since 2023-11-09: REELS


def test_a_container_expires_after_24_hours(g: Graph) -> None:
    container = g.ok("POST", "/me/media", data={"image_url": JPG})["id"]
    g.advance(86400)
    assert _status(g, container) == "EXPIRED"
    error = error_of(g.post("/me/media_publish", data={"creation_id": container}))
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (24, 2207008, True)


def test_the_quota_rolls_over_24_hours(g: Graph) -> None:
    for _ in range(50):
        container = g.ok("POST", "/me/media", data={"image_url": JPG})["id"]
        g.advance(10)
        g.ok("POST", "/me/media_publish", data={"creation_id": container})
    limit = g.ok("GET", "/me/content_publishing_limit", params={"fields": "quota_usage,config"})[
        "data"
    ][0]
    assert limit == {"quota_usage": 50, "config": {"quota_total": 50, "quota_duration": 86400}}
    container = g.ok("POST", "/me/media", data={"image_url": JPG})["id"]
    g.advance(10)
    error = error_of(g.post("/me/media_publish", data={"creation_id": container}))
    assert (error["code"], error["error_subcode"]) == (9, 2207042)
    g.advance(86400 - 500)  # the first publishes leave the rolling 24 h window
    fresh = g.ok("POST", "/me/media", data={"image_url": JPG})["id"]
    g.advance(10)
    assert "id" in g.ok("POST", "/me/media_publish", data={"creation_id": fresh})


def test_a_publish_on_another_accounts_container_is_refused(g: Graph) -> None:
    container = g.ok("POST", "/me/media", data={"image_url": JPG})["id"]
    g.advance(10)
    nw = g.new_token("northwind.coffee")
    assert (
        error_of(g.post("/me/media_publish", token=nw, data={"creation_id": container}))["code"]
        == 24
    )
    assert error_of(g.get(f"/{container}", token=nw))["code"] == 100

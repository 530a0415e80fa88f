"""python-facebook-api (``pyfacebook``), unmodified, pointed at the Graph sandbox by its
``base_url`` option alone: account, media with fields, comments and replies, paging, typed
errors, and its rate-limit bookkeeping reading the sandbox's usage headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from graph_conformance_support import ALBUM, IMAGE, MIRA_ID, TOP_COMMENT, Graph, graph_sandbox

pyfacebook = pytest.importorskip("pyfacebook")  # the `test` extra installs it


@pytest.fixture
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


def _api(g: Graph, token: str | None = None) -> object:
    # Configuration only: the sandbox's origin as base_url; everything else is the library's.
    return pyfacebook.IGBusinessApi(
        access_token=token or g.token,
        instagram_business_id=MIRA_ID,
        base_url=g.url + "/",
        timeout=10,
    )


def test_reads_the_account(g: Graph) -> None:
    api = _api(g)
    user = api.user.get_info()  # the library's own default field list
    assert (user.id, user.username, user.name) == (MIRA_ID, "mira.makes", "Mira Okafor")
    assert (user.followers_count, user.media_count) == (1840, 4)
    assert user.biography.startswith("Small-batch ceramics")


def test_reads_media_with_fields_and_pages_through_them(g: Graph) -> None:
    api = _api(g)
    # limit=1: the library follows paging.next to the end (count=None means "all").
    media = api.user.get_media(count=None, limit=1)
    assert [m.id for m in media.data] == [
        "17900000000001001",
        "17900000000001002",
        "17900000000001003",
        "17900000000001004",
    ]
    album = next(m for m in media.data if m.id == ALBUM)
    assert album.media_type == "CAROUSEL_ALBUM" and album.caption == "Kiln day, before and after"
    assert [c.media_type for c in album.children.data] == ["IMAGE", "IMAGE", "VIDEO"]
    assert album.comments_count == 1 and album.like_count == 388
    assert album.permalink == "https://www.instagram.com/p/DMira0003ef/"
    info = api.media.get_info(
        media_id=IMAGE, fields="id,caption,media_product_type,is_comment_enabled"
    )
    assert info.caption.startswith("New glaze test") and info.is_comment_enabled is True


def test_reads_comments_and_replies_page_by_page(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with graph_sandbox(request_log=str(log)) as g:
        api = _api(g)
        comments = api.media.get_comments(media_id=IMAGE, count=None, limit=2)
        replies = api.comment.get_replies(comment_id=TOP_COMMENT, count=None, limit=1)
    assert len(comments.data) == 5  # top level only; 3 pages of 2
    assert comments.data[0].text == "Pinned: shop opens 10:00 CET"
    assert {c.username for c in comments.data} >= {"growth.guru.99", "promo_king_official"}
    assert [r.text for r in replies.data] == ["Same question as Kate"]
    # Its requests really went page by page, each with the sandbox's `after` cursor.
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    pages = [line for line in lines if line["endpoint"] == "media.comments"]
    assert len(pages) == 3
    assert "after" not in pages[0]["query"] and all("after" in p["query"] for p in pages[1:])


def test_sandbox_errors_arrive_as_its_typed_errors(g: Graph) -> None:
    api = _api(g)
    with pytest.raises(pyfacebook.FacebookError) as missing:
        api.media.get_info(media_id="17900000000999999")
    assert (missing.value.code, missing.value.error_subcode) == (100, 33)
    assert missing.value.type == "GraphMethodException" and missing.value.fbtrace_id
    with pytest.raises(pyfacebook.FacebookError) as field:
        api.media.get_info(media_id=IMAGE, fields="id,colour")
    assert field.value.code == 100 and "colour" in field.value.message
    with pytest.raises(pyfacebook.FacebookError) as fb_only:
        api.user.get_hashtag_search(q="pottery")
    assert fb_only.value.code == 100
    g.advance(61 * 86400)
    with pytest.raises(pyfacebook.FacebookError) as expired:
        api.user.get_info()
    assert (expired.value.code, expired.value.error_subcode) == (190, 463)


def test_a_write_and_its_rate_limit_bookkeeping(g: Graph) -> None:
    api = _api(g)
    api.user.get_info()
    usage = api.rate_limit.get_limit(object_id=MIRA_ID, rate_limit_type="instagram")
    assert usage.type == "instagram" and usage.call_count >= 0
    assert api.rate_limit.get_max_percent() >= 0
    # A write through the library's generic POST helper: a comment, then read back by HTTP.
    created = api.post_object(
        object_id=IMAGE, connection="comments", data={"message": "via pyfacebook"}
    )
    text = requests.get(
        f"{g.url}/v25.0/{created['id']}",
        params={"fields": "text"},
        headers={"Authorization": f"Bearer {g.token}"},
        timeout=10,
    ).json()
    assert text == {"text": "via pyfacebook"}

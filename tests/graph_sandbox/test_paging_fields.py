"""Cursor paging walked to the end, since/until, the 50-comment cap, and field expansion (§4)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from graph_conformance_support import (
    ALBUM,
    IMAGE,
    MIRA_ID,
    REPLY,
    TOP_COMMENT,
    Graph,
    error_of,
    graph_sandbox,
)


@pytest.fixture
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


def _walk(g: Graph, path: str, params: dict[str, str]) -> tuple[list[dict[str, object]], int]:
    """Follow paging.next (a full URL) until it is missing; return the items and page count."""
    first = g.get(path, params=params)
    assert first.status_code == 200, first.text
    body = first.json()
    items, pages = list(body["data"]), 1
    while "next" in body.get("paging", {}):
        url = body["paging"]["next"]
        assert url.startswith(g.url + "/v25.0/"), url  # on the sandbox's origin
        assert "access_token" not in url  # the token rode in the header, not the URL
        response = g.session.get(url, headers={"Authorization": f"Bearer {g.token}"}, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["data"]
        pages += 1
        assert pages < 100
    return items, pages


def test_media_walked_to_the_end_one_per_page(g: Graph) -> None:
    items, pages = _walk(g, "/me/media", {"limit": "1", "fields": "id,timestamp"})
    assert pages == 4 and len({i["id"] for i in items}) == 4
    stamps = [i["timestamp"] for i in items]
    assert stamps == sorted(stamps, reverse=True)


def test_cursors_and_previous(g: Graph) -> None:
    first = g.ok("GET", "/me/media", params={"limit": "2"})
    assert (
        set(first["paging"]["cursors"]) == {"before", "after"} and "previous" not in first["paging"]
    )
    second = g.ok(
        "GET", "/me/media", params={"limit": "2", "after": first["paging"]["cursors"]["after"]}
    )
    assert "next" not in second["paging"] and "previous" in second["paging"]
    before = parse_qs(urlsplit(second["paging"]["previous"]).query)["before"][0]
    back = g.ok("GET", "/me/media", params={"limit": "2", "before": before})
    assert back["data"] == first["data"]


def test_a_cursor_survives_a_deleted_boundary_item(g: Graph) -> None:
    page = g.ok("GET", f"/{IMAGE}/comments", params={"limit": "2"})
    g.ok("DELETE", f"/{page['data'][-1]['id']}")
    rest = g.ok(
        "GET",
        f"/{IMAGE}/comments",
        params={"limit": "10", "after": page["paging"]["cursors"]["after"]},
    )
    assert [c["id"] for c in rest["data"]] and not {c["id"] for c in rest["data"]} & {
        c["id"] for c in page["data"]
    }


def test_a_bad_cursor_is_a_parameter_error(g: Graph) -> None:
    assert error_of(g.get("/me/media", params={"after": "garbage"}))["code"] == 100


def test_comments_are_capped_at_50_a_page_and_walk_to_the_end(g: Graph) -> None:
    for n in range(60):
        response = g.admin(
            "POST",
            "graph/comments",
            {"media_id": IMAGE, "username": f"fan_{n}", "text": f"nice {n}"},
        )
        assert response.status_code == 201
    first = g.ok("GET", f"/{IMAGE}/comments", params={"limit": "100"})
    assert len(first["data"]) == 50
    items, pages = _walk(g, f"/{IMAGE}/comments", {"limit": "100", "fields": "id,text"})
    assert pages == 2 and len(items) == 65 and len({i["id"] for i in items}) == 65
    assert items[0]["text"] == "nice 59"  # newest first


def test_replies_walked(g: Graph) -> None:
    for n in range(3):
        g.admin(
            "POST",
            "graph/comments",
            {"media_id": IMAGE, "username": "u", "text": str(n), "parent_id": REPLY},
        )
    items, pages = _walk(g, f"/{TOP_COMMENT}/replies", {"limit": "2", "fields": "text"})
    assert [i["text"] for i in items] == ["2", "1", "0", "Same question as Kate"] and pages == 2


def test_since_and_until(g: Graph) -> None:
    now = g.admin("GET", "clock").json()["now"]
    recent = g.ok("GET", "/me/media", params={"since": str(int(now - 100 * 3600))})
    assert [m["id"] for m in recent["data"]] == ["17900000000001001", "17900000000001002"]
    old = g.ok("GET", "/me/media", params={"until": str(int(now - 1000 * 3600))})
    assert [m["id"] for m in old["data"]] == ["17900000000001004"]
    iso = g.ok("GET", "/me/media", params={"since": "2026-03-01"})
    assert [m["id"] for m in iso["data"]] == ["17900000000001001"]
    assert error_of(g.get("/me/media", params={"since": "last tuesday"}))["code"] == 100


def test_default_fields(g: Graph) -> None:
    assert g.ok("GET", "/me/media", params={"limit": "1"})["data"] == [{"id": "17900000000001001"}]
    comment = g.ok("GET", f"/{TOP_COMMENT}")
    assert set(comment) == {"id", "text", "timestamp"}
    assert comment["timestamp"].endswith("+0000")


def test_nested_expansion_and_modifiers(g: Graph) -> None:
    body = g.ok(
        "GET",
        f"/{ALBUM}",
        params={
            "fields": "id,media_type,children{id,media_type},comments.limit(1){text,replies{id}}"
        },
    )
    assert [c["media_type"] for c in body["children"]["data"]] == ["IMAGE", "IMAGE", "VIDEO"]
    assert set(body["children"]["paging"]) == {"cursors"}  # an expanded edge has no next (§4)
    assert body["comments"]["data"] == [{"text": "Cone 6 or 10?", "replies": {"data": []}}]
    media = g.ok("GET", "/me", params={"fields": "media.limit(2){id,comments_count},username"})
    assert media["username"] == "mira.makes" and len(media["media"]["data"]) == 2
    after = media["media"]["paging"]["cursors"]["after"]
    more = g.ok("GET", "/me", params={"fields": f"media.after({after}).limit(5){{id}}"})
    assert [m["id"] for m in more["media"]["data"]] == ["17900000000001003", "17900000000001004"]


def test_comment_subobjects(g: Graph) -> None:
    body = g.ok(
        "GET", f"/{REPLY}", params={"fields": "from{username},media{id,media_product_type},user"}
    )
    assert body == {
        "from": {"username": "clay_collector"},
        "media": {"id": IMAGE, "media_product_type": "FEED"},
    }  # `user` only for the caller's own comments
    own = g.ok("GET", "/17800000000010007", params={"fields": "user"})
    assert own == {"user": {"id": MIRA_ID}}


@pytest.mark.parametrize(
    "fields",
    ["id,", "id,,caption", " id , caption "],
)
def test_lenient_separators(g: Graph, fields: str) -> None:
    assert g.get(f"/{IMAGE}", params={"fields": fields}).status_code == 200


@pytest.mark.parametrize(
    "fields", ["id}", "children{id", "comments.limit(5", "a" + "{a" * 10 + "}" * 10, "id;drop"]
)
def test_bad_fields_are_one_clear_error(g: Graph, fields: str) -> None:
    error = error_of(g.get(f"/{IMAGE}", params={"fields": fields}))
    assert error["code"] == 100


def test_huge_fields_are_bounded(g: Graph) -> None:
    error = error_of(g.get(f"/{IMAGE}", params={"fields": ",".join(["id"] * 3000)}))
    assert error["code"] == 100

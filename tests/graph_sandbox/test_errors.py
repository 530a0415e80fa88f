"""Every error of the catalogue (graph_rules.yaml, reference §5) produced over HTTP and checked.

Most are produced the way a real client would meet them (``NATURAL``); the few the sandbox
cannot cause by itself (server trouble, policy blocks, other limits) come from
``POST /_sandbox/graph/errors``, which makes the next call answer that catalogue entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import requests
from graph_conformance_support import (
    ALBUM,
    IMAGE,
    MIRA_ID,
    OWNER_COMMENT,
    SPAM_COMMENT,
    STORY,
    Graph,
    error_of,
    graph_sandbox,
)

from igflow.sandbox.graph.rules import load_rules

Producer = Callable[[Graph], requests.Response]
CATALOGUE = load_rules().section("errors")


def _publish_ready(g: Graph) -> str:
    container = g.ok("POST", "/me/media", data={"image_url": "https://cdn.example/a.jpg"})["id"]
    g.advance(60)
    return str(container)


def _quota(g: Graph) -> requests.Response:
    for _ in range(50):
        container = g.ok("POST", "/me/media", data={"image_url": "https://cdn.example/a.jpg"})
        g.advance(11)
        g.ok("POST", "/me/media_publish", data={"creation_id": container["id"]})
    last = _publish_ready(g)
    return g.post("/me/media_publish", data={"creation_id": last})


def _revoked(g: Graph, reason: str) -> requests.Response:
    assert g.admin("POST", "graph/revoke", {"user": "mira.makes", "reason": reason}).ok
    return g.get("/me")


def _with_proof(g: Graph, proof: str | None) -> requests.Response:
    token = g.new_token(client="strict")
    params = {} if proof is None else {"appsecret_proof": proof}
    return g.get("/me", token=token, params=params)


NATURAL: dict[str, Producer] = {
    "token_missing": lambda g: g.get(f"/{IMAGE}", token=""),
    "token_missing_me": lambda g: g.get("/me", token=""),
    "token_invalid": lambda g: g.get("/me", token="IGAAnot-a-token"),
    "token_expired": lambda g: (g.advance(60 * 86400), g.get("/me"))[1],
    "token_password_changed": lambda g: _revoked(g, "password_changed"),
    "token_app_removed": lambda g: _revoked(g, "app_removed"),
    "token_revoked": lambda g: _revoked(g, "logged_out"),
    "token_refresh_too_early": lambda g: g.get(
        "/refresh_access_token", version=None, params={"grant_type": "ig_refresh_token"}
    ),
    "token_exchange_not_short": lambda g: g.get(
        "/access_token",
        version=None,
        params={
            "grant_type": "ig_exchange_token",
            "client_secret": "5f0c6a3e9b2d4c17a8e1f0b3c5d7e9a1",
        },
    ),
    "token_bad_secret": lambda g: g.get(
        "/access_token",
        version=None,
        params={"grant_type": "ig_exchange_token", "client_secret": "wrong"},
    ),
    "bad_grant_type": lambda g: g.get(
        "/refresh_access_token", version=None, params={"grant_type": "fb_exchange_token"}
    ),
    "appsecret_proof_invalid": lambda g: _with_proof(g, "00" * 32),
    "appsecret_proof_missing": lambda g: _with_proof(g, None),
    "permission_read": lambda g: g.get(
        f"/{IMAGE}/insights",
        token=g.new_token(scopes=["instagram_business_basic"]),
        params={"metric": "reach"},
    ),
    "permission_write": lambda g: g.post(
        f"/{IMAGE}/comments",
        token=g.new_token(scopes=["instagram_business_basic"]),
        data={"message": "hi"},
    ),
    "no_object": lambda g: g.get("/17900000000999999"),
    "unknown_path": lambda g: g.get("/me/media/extra/parts"),
    "unknown_version": lambda g: g.get("/me", version="v99.0"),
    "nonexisting_field": lambda g: g.get(f"/{IMAGE}", params={"fields": "id,colour"}),
    "bad_fields": lambda g: g.get(f"/{IMAGE}", params={"fields": "id,children{id"}),
    "bad_param": lambda g: g.get("/me/media", params={"limit": "lots"}),
    "body_too_large": lambda g: g.post(f"/{IMAGE}/comments", data={"message": "x" * 70_000}),
    "missing_param": lambda g: g.post(f"/{IMAGE}/comments"),
    "method_not_allowed": lambda g: g.delete("/me"),
    "fb_login_only": lambda g: g.get("/ig_hashtag_search", params={"q": "x"}),
    "fb_login_only_field": lambda g: g.get(
        "/me", params={"fields": "business_discovery.username(x){id}"}
    ),
    "comment_not_owner": lambda g: g.delete(
        "/"
        + g.ok(
            "POST",
            "/me/mentions",
            data={
                "media_id": "17900000000002002",
                "comment_id": "17800000000020009",
                "message": "hi",
            },
        )["id"]
    ),
    "hide_own_comment": lambda g: g.post(f"/{OWNER_COMMENT}", data={"hide": "true"}),
    "reply_to_hidden": lambda g: (
        g.ok("POST", f"/{SPAM_COMMENT}", data={"hide": "true"}),
        g.post(f"/{SPAM_COMMENT}/replies", data={"message": "x"}),
    )[1],
    "comments_disabled": lambda g: (
        g.ok("POST", f"/{IMAGE}", data={"comment_enabled": "false"}),
        g.post(f"/{IMAGE}/comments", data={"message": "x"}),
    )[1],
    "story_not_enough_viewers": lambda g: g.get(f"/{STORY}/insights", params={"metric": "reach"}),
    "metric_invalid": lambda g: g.get(f"/{IMAGE}/insights", params={"metric": "reach,bogus"}),
    "metric_deprecated": lambda g: g.get(f"/{IMAGE}/insights", params={"metric": "impressions"}),
    "no_insights_child": lambda g: g.get(f"/{_child(g)}/insights", params={"metric": "reach"}),
    "media_type_unknown": lambda g: g.post(
        "/me/media", data={"media_type": "HOLOGRAM", "image_url": "https://cdn.example/a.jpg"}
    ),
    "carousel_size": lambda g: g.post(
        "/me/media", data={"media_type": "CAROUSEL", "children": _item(g)}
    ),
    "media_fetch_failed": lambda g: g.post(
        "/me/media", data={"image_url": "https://unreachable.example/a.jpg"}
    ),
    "image_format": lambda g: g.post("/me/media", data={"image_url": "https://cdn.example/a.gif"}),
    "caption_too_long": lambda g: g.post(
        "/me/media",
        data={"image_url": "https://cdn.example/a.jpg", "caption": " ".join(["#tag"] * 31)},
    ),
    "container_missing": lambda g: g.post(
        "/me/media_publish", data={"creation_id": "17950000000099999"}
    ),
    "not_ready": lambda g: g.post(
        "/me/media_publish",
        data={
            "creation_id": g.ok(
                "POST", "/me/media", data={"image_url": "https://cdn.example/a.jpg"}
            )["id"]
        },
    ),
    "quota_reached": _quota,
    "already_published": lambda g: _twice(g),
    "video_format": lambda g: g.post(
        "/me/media", data={"media_type": "REELS", "video_url": "https://cdn.example/a.avi"}
    ),
    "not_mentioned": lambda g: g.post(
        "/me/mentions", data={"media_id": "17900000000002001", "message": "x"}
    ),
    "buc_limit": lambda g: _buc(g),
}


def _child(g: Graph) -> str:
    children = g.ok("GET", f"/{ALBUM}/children")["data"]
    return str(children[0]["id"])


def _item(g: Graph) -> str:
    return str(
        g.ok(
            "POST",
            "/me/media",
            data={"image_url": "https://cdn.example/a.jpg", "is_carousel_item": "true"},
        )["id"]
    )


def _twice(g: Graph) -> requests.Response:
    container = _publish_ready(g)
    g.ok("POST", "/me/media_publish", data={"creation_id": container})
    return g.post("/me/media_publish", data={"creation_id": container})


def _buc(g: Graph) -> requests.Response:
    assert g.admin("POST", "faults", {"exhaust_rate_limit": True}).ok
    return g.get("/me")


INJECTED = sorted(set(CATALOGUE) - set(NATURAL))


def test_every_catalogue_error_is_produced_here() -> None:
    assert set(NATURAL) | set(INJECTED) == set(CATALOGUE)
    # The injected ones are only those the sandbox cannot cause by itself.
    assert set(INJECTED) == {
        "app_limit", "user_limit", "pages_limit", "custom_limit", "pages_buc_limit",
        "app_limit_reached", "unknown_error", "service_error", "api_method", "session_invalid",
        "policy_block", "duplicate_post", "spam_restricted", "server_error", "download_timeout",
        "container_failed", "account_restricted", "aspect_ratio", "image_too_large",
        "media_not_found", "internal",
    }  # fmt: skip


@pytest.fixture
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


def _check(response: requests.Response, name: str) -> None:
    entry = CATALOGUE[name]
    error = error_of(response)
    assert response.status_code == entry["status"], (name, response.text)
    assert error["code"] == entry["code"], (name, error)
    assert error.get("error_subcode") == entry.get("subcode"), (name, error)
    assert error["type"] == entry["type"]
    assert error.get("is_transient") == entry.get("is_transient")
    assert error.get("error_user_title") == entry.get("user_title")
    assert not re.search(r"\{[a-z_]+\}", error["message"]), error["message"]  # all filled
    assert response.headers["x-fb-trace-id"] == error["fbtrace_id"]


@pytest.mark.parametrize("name", sorted(NATURAL))
def test_natural_error(name: str, g: Graph) -> None:
    _check(NATURAL[name](g), name)


@pytest.mark.parametrize("name", INJECTED)
def test_injected_error(name: str, g: Graph) -> None:
    pending = g.admin("POST", "graph/errors", {"error": name, "endpoint": "media.get"})
    assert pending.status_code == 200
    assert g.ok("GET", "/me")["id"] == MIRA_ID  # another endpoint is not struck
    _check(g.get(f"/{IMAGE}"), name)
    assert g.ok("GET", f"/{IMAGE}") == {"id": IMAGE}  # one call only


def test_fbtrace_ids_differ_per_error(g: Graph) -> None:
    first = error_of(g.get("/nope"))["fbtrace_id"]
    second = error_of(g.get("/nope"))["fbtrace_id"]
    assert first != second


def test_unknown_catalogue_name_is_refused(g: Graph) -> None:
    response = g.admin("POST", "graph/errors", {"error": "nope"})
    assert response.status_code == 400 and "nope" in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/v25.0"),
        ("PUT", "/v25.0/me"),
        ("GET", "/favicon.ico"),
        ("PATCH", "/x"),
    ],
)
def test_no_html_page_ever(method: str, path: str, g: Graph) -> None:
    response = requests.request(method, g.url + path, timeout=10)
    assert response.headers["Content-Type"].startswith("application/json")
    assert "error" in response.json()


def test_a_malformed_request_gets_the_graph_envelope(g: Graph) -> None:
    import socket

    host, port = g.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /v25.0/me?" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414")
    import json

    assert json.loads(body)["error"]["fbtrace_id"]

"""Webhooks (§7) end to end on loopback: the handshake, the account subscription, comment
notifications from the "another user commented" admin call, and X-Hub-Signature-256 checked
with an independent HMAC computation."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
import requests
from graph_conformance_support import (
    APP_SECRET,
    IMAGE,
    MIRA_ID,
    NW_IMAGE,
    TOP_COMMENT,
    Graph,
    Receiver,
    graph_sandbox,
)


@pytest.fixture
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


def _subscribe_app(g: Graph, receiver: Receiver, token: str | None = None) -> dict[str, object]:
    response = g.admin(
        "POST",
        "graph/webhooks",
        {
            "callback_url": receiver.url,
            "verify_token": token or receiver.verify_token,
            "fields": ["comments"],
        },
    )
    return {"status": response.status_code, **response.json()}


def _wait(receiver: Receiver, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.posts) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(receiver.posts) >= count, f"{len(receiver.posts)} of {count} notifications arrived"


def test_a_comment_by_another_user_is_delivered_signed(g: Graph) -> None:
    with Receiver() as receiver:
        assert _subscribe_app(g, receiver)["status"] == 200
        handshake = receiver.handshakes[0]
        assert handshake["hub.mode"] == "subscribe" and handshake["hub.challenge"].isdigit()
        g.ok("POST", "/me/subscribed_apps", params={"subscribed_fields": "comments"})
        created = g.admin(
            "POST", "graph/comments", {"media_id": IMAGE, "username": "new_fan", "text": "Love it"}
        )
        assert created.status_code == 201 and created.json()["notifications"] == 1
        _wait(receiver, 1)
        post = receiver.posts[0]
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), post.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(post.headers["X-Hub-Signature-256"], expected)
        assert post.headers["Content-Type"] == "application/json"
        payload = json.loads(post.body)
        assert payload["object"] == "instagram"
        entry = payload["entry"][0]
        assert entry["id"] == MIRA_ID and isinstance(entry["time"], int)
        change = entry["changes"][0]
        assert change["field"] == "comments"
        assert change["value"] == {
            "id": created.json()["id"],
            "text": "Love it",
            "from": {"id": change["value"]["from"]["id"], "username": "new_fan"},
            "media": {"id": IMAGE, "media_product_type": "FEED"},
        }
        # The comment is really there, through the API.
        assert g.ok("GET", f"/{created.json()['id']}", params={"fields": "text"}) == {
            "text": "Love it"
        }
        # A reply carries parent_id, attached to the top-level comment.
        g.admin(
            "POST",
            "graph/comments",
            {"media_id": IMAGE, "username": "x", "text": "re", "parent_id": TOP_COMMENT},
        )
        _wait(receiver, 2)
        assert (
            json.loads(receiver.posts[1].body)["entry"][0]["changes"][0]["value"]["parent_id"]
            == TOP_COMMENT
        )
        records = g.admin("GET", "graph/webhooks").json()
        assert [d["state"] for d in records["deliveries"]] == ["delivered", "delivered"]


def test_a_tampered_body_fails_the_independent_check(g: Graph) -> None:
    with Receiver() as receiver:
        _subscribe_app(g, receiver)
        g.ok("POST", "/me/subscribed_apps", params={"subscribed_fields": "comments"})
        g.admin("POST", "graph/comments", {"media_id": IMAGE, "username": "a", "text": "b"})
        _wait(receiver, 1)
        post = receiver.posts[0]
        tampered = post.body.replace(b'"b"', b'"c"')
        forged = "sha256=" + hmac.new(APP_SECRET.encode(), tampered, hashlib.sha256).hexdigest()
        assert forged != post.headers["X-Hub-Signature-256"]
        wrong_key = "sha256=" + hmac.new(b"another-secret", post.body, hashlib.sha256).hexdigest()
        assert wrong_key != post.headers["X-Hub-Signature-256"]


def test_nothing_is_delivered_without_the_account_subscription(g: Graph) -> None:
    with Receiver() as receiver:
        _subscribe_app(g, receiver)
        created = g.admin(
            "POST", "graph/comments", {"media_id": IMAGE, "username": "a", "text": "b"}
        )
        assert created.json()["notifications"] == 0
        # northwind subscribed, but the comment is on mira's media.
        g.ok(
            "POST",
            "/me/subscribed_apps",
            token=g.new_token("northwind.coffee"),
            params={"subscribed_fields": "comments"},
        )
        assert (
            g.admin(
                "POST", "graph/comments", {"media_id": IMAGE, "username": "a", "text": "c"}
            ).json()["notifications"]
            == 0
        )
        assert (
            g.admin(
                "POST", "graph/comments", {"media_id": NW_IMAGE, "username": "a", "text": "d"}
            ).json()["notifications"]
            == 1
        )
        _wait(receiver, 1)
        assert json.loads(receiver.posts[0].body)["entry"][0]["id"] == "17841400000000202"


def test_the_handshake_must_echo_the_challenge(g: Graph) -> None:
    with Receiver() as receiver:
        result = _subscribe_app(g, receiver, token="wrong-token")
        assert result["status"] == 400 and "verification failed" in str(result["error"])
        assert g.admin("GET", "graph/webhooks").json()["subscriptions"] == []


@pytest.mark.parametrize(
    "url", ["http://example.com/hook", "http://10.0.0.1/hook", "ftp://127.0.0.1/x", "nope"]
)
def test_callbacks_must_be_on_loopback(g: Graph, url: str) -> None:
    response = g.admin("POST", "graph/webhooks", {"callback_url": url, "verify_token": "t"})
    assert response.status_code == 400


def test_a_slow_callback_never_blocks_the_request(g: Graph) -> None:
    with Receiver(delay=5.0) as receiver:
        _subscribe_app(g, receiver)
        g.ok("POST", "/me/subscribed_apps", params={"subscribed_fields": "comments"})
        started = time.monotonic()
        for n in range(3):
            assert (
                g.admin(
                    "POST", "graph/comments", {"media_id": IMAGE, "username": "a", "text": str(n)}
                ).status_code
                == 201
            )
        assert time.monotonic() - started < 2.0
        # One attempt each, bounded by the timeout (3 s): the first times out, none is retried.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            states = [d["state"] for d in g.admin("GET", "graph/webhooks").json()["deliveries"]]
            if states[0] != "queued":
                break
            time.sleep(0.1)
        assert states[0] == "failed"
        assert len(states) == 3


def test_a_dead_callback_is_recorded_not_retried(g: Graph) -> None:
    with Receiver() as receiver:
        _subscribe_app(g, receiver)
        g.ok("POST", "/me/subscribed_apps", params={"subscribed_fields": "comments"})
    # The receiver is gone: the delivery fails once, quickly.
    g.admin("POST", "graph/comments", {"media_id": IMAGE, "username": "a", "text": "b"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliveries = g.admin("GET", "graph/webhooks").json()["deliveries"]
        if deliveries and deliveries[0]["state"] != "queued":
            break
        time.sleep(0.05)
    assert [d["state"] for d in deliveries] == ["failed"]
    assert deliveries[0]["error"]


def test_a_callback_that_never_answers_the_handshake_is_bounded(g: Graph) -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connections complete, nothing is ever read or answered
        port = silent.getsockname()[1]
        started = time.monotonic()
        response = g.admin(
            "POST",
            "graph/webhooks",
            {"callback_url": f"http://127.0.0.1:{port}/hook", "verify_token": "t"},
        )
        assert time.monotonic() - started < 8.0
    assert response.status_code == 400 and "verification failed" in response.json()["error"]


def test_control_bodies_are_bounded(g: Graph) -> None:
    response = g.admin(
        "POST", "graph/comments", {"media_id": IMAGE, "username": "a", "text": "x" * 300_000}
    )
    assert response.status_code == 413 and "bytes" in response.json()["error"]


def test_an_at_mention_notifies_the_mentioned_account(g: Graph) -> None:
    with Receiver() as receiver:
        response = g.admin(
            "POST",
            "graph/webhooks",
            {
                "callback_url": receiver.url,
                "verify_token": receiver.verify_token,
                "fields": ["comments", "mentions"],
            },
        )
        assert response.status_code == 200
        g.ok("POST", "/me/subscribed_apps", params={"subscribed_fields": "mentions"})  # mira
        created = g.admin(
            "POST",
            "graph/comments",
            {"media_id": NW_IMAGE, "username": "bean_hunter", "text": "ask @mira.makes!"},
        ).json()
        assert created["notifications"] == 1  # northwind is not subscribed: no comments one
        _wait(receiver, 1)
        post = receiver.posts[0]
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), post.body, hashlib.sha256).hexdigest()
        assert post.headers["X-Hub-Signature-256"] == expected
        entry = json.loads(post.body)["entry"][0]
        assert entry["id"] == MIRA_ID
        assert entry["changes"] == [
            {"field": "mentions", "value": {"media_id": NW_IMAGE, "comment_id": created["id"]}}
        ]
        # The mentioned account answers through the mentions endpoint.
        reply = g.ok(
            "POST",
            "/me/mentions",
            data={"media_id": NW_IMAGE, "comment_id": created["id"], "message": "hi!"},
        )
        assert "id" in reply


def test_token_and_oauth_bodies_are_bounded(g: Graph) -> None:
    token = g.admin("POST", "token", {"user": "x" * 70_000})
    assert token.status_code == 413 and "65536 bytes" in token.json()["error"]
    oauth = requests.post(g.url + "/oauth/access_token", data={"code": "x" * 70_000}, timeout=10)
    assert oauth.status_code == 413 and oauth.json()["error_type"] == "OAuthException"


def test_fault_settings_out_of_bounds_are_a_400(g: Graph) -> None:
    for body in ('{"latency_ms": 1e400}', '{"fail_nth": 1e400}', '{"latency_ms": 10000000000}'):
        response = requests.post(
            g.url + "/_sandbox/faults",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 400, response.text
        assert "must be" in response.json()["error"]

"""Fault injection, the request log, and WSGI conformance."""

from __future__ import annotations

import json
from pathlib import Path
from wsgiref.validate import validator

import pytest
import requests
from test_sandbox_support import FAKE_HANDLERS, fake_sandbox, implicit_token
from werkzeug.test import Client

from igflow.sandbox.app import create_app
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.faults import FaultSpec
from igflow.sandbox.server import start_sandbox

MEDIA_ID = "1667121369441597934_3657782666"


def set_faults(url: str, **spec: object) -> dict[str, object]:
    response = requests.post(url + "/_sandbox/faults", json=spec)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def likes(url: str, token: str, media: str = "1_2") -> int:
    return len(
        requests.get(f"{url}/v1/media/{media}/likes", params={"access_token": token}).json()["data"]
    )


def test_fail_nth_before_the_write_commits_changes_nothing() -> None:
    with fake_sandbox(faults=FaultSpec(fail_nth=2)) as running:
        token = implicit_token(running.url, "likes")
        assert likes(running.url, token) == 0  # request 1
        failed = requests.post(
            f"{running.url}/v1/media/1_2/likes", data={"access_token": token}
        )  # request 2
        assert failed.status_code == 500
        assert failed.json()["meta"]["error_type"] == "APIError"
        assert failed.headers["X-Sandbox-Fault"] == "error"
        assert "X-Ratelimit-Remaining" in failed.headers
        assert likes(running.url, token) == 0


def test_fail_after_the_write_commits_keeps_the_write() -> None:
    with fake_sandbox() as running:
        token = implicit_token(running.url, "likes")
        set_faults(running.url, fail_nth=1, phase="after")
        failed = requests.post(f"{running.url}/v1/media/1_2/likes", data={"access_token": token})
        assert failed.status_code == 500
        assert likes(running.url, token) == 1


@pytest.mark.parametrize(("phase", "expected_likes"), [("before", 1), ("after", 0)])
def test_dropped_connection_before_or_after_an_unlike(phase: str, expected_likes: int) -> None:
    # The real handlers and dataset: grantwinney's own like on the seed photo.
    with start_sandbox(SandboxConfig()) as running:
        token = implicit_token(running.url, "likes")
        set_faults(running.url, drop_nth=1, phase=phase)
        with pytest.raises(requests.ConnectionError):
            requests.delete(
                f"{running.url}/v1/media/{MEDIA_ID}/likes",
                params={"access_token": token},
                timeout=10,
            )
        # The server is still up, and the write happened only with phase "after".
        assert likes(running.url, token, MEDIA_ID) == expected_likes


def test_random_faults_are_reproducible_with_a_seed() -> None:
    def outcomes() -> list[int]:
        with fake_sandbox(faults=FaultSpec(fail_rate=0.5, seed=7), rate_limits="off") as running:
            token = implicit_token(running.url)
            return [
                requests.get(
                    f"{running.url}/v1/users/self", params={"access_token": token}
                ).status_code
                for _ in range(12)
            ]

    first = outcomes()
    assert set(first) == {200, 500}
    assert outcomes() == first


def test_faults_spare_oauth_and_admin_endpoints() -> None:
    with fake_sandbox(faults=FaultSpec(fail_rate=1.0)) as running:
        token = implicit_token(running.url)  # the OAuth flow is not affected
        assert requests.get(running.url + "/_sandbox/info").status_code == 200
        assert (
            requests.get(f"{running.url}/v1/users/self", params={"access_token": token}).status_code
            == 500
        )


def test_fault_settings_are_validated() -> None:
    with fake_sandbox() as running:
        for bad in (
            {"fail_rate": 2},
            {"phase": "during"},
            {"explode": True},
            {"exhaust_rate_limit": "yes"},
        ):
            response = requests.post(running.url + "/_sandbox/faults", json=bad)
            assert response.status_code == 400 and "error" in response.json(), bad
        assert set_faults(running.url, latency_ms=1)["latency_ms"] == 1


def test_request_log_redacts_secrets(tmp_path: Path) -> None:
    log_file = tmp_path / "requests.jsonl"
    with fake_sandbox(request_log=str(log_file), faults=FaultSpec(fail_nth=2)) as running:
        token = implicit_token(running.url, "likes")
        requests.get(
            f"{running.url}/v1/users/self",
            params={"access_token": token, "sig": "abc", "count": "2"},
        )
        requests.post(f"{running.url}/v1/media/1_2/likes", data={"access_token": token})
        requests.get(
            f"{running.url}/v1/subscriptions", params={"client_id": "c", "client_secret": "s3cr3t"}
        )
    text = log_file.read_text(encoding="utf-8")
    assert token not in text and "s3cr3t" not in text and "snappeas" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    login = next(e for e in entries if e["path"] == "/accounts/login/" and e["method"] == "POST")
    assert login["form"]["password"] == "***" and login["form"]["username"] == "grantwinney"
    me = next(e for e in entries if e["endpoint"] == "users.self")
    assert me["query"] == {"access_token": "***", "sig": "***", "count": "2"}
    assert me["status"] == 200 and me["method"] == "GET" and me["fault"] is None
    assert isinstance(me["duration_ms"], float) and isinstance(me["time"], float)
    like = next(e for e in entries if e["endpoint"] == "likes.create")
    assert (
        like["form"] == {"access_token": "***"}
        and like["status"] == 500
        and like["fault"] == "error"
    )
    subscriptions = next(e for e in entries if e["endpoint"] == "subscriptions.list")
    assert subscriptions["query"]["client_secret"] == "***"


def test_the_app_is_a_conforming_wsgi_application() -> None:
    app = create_app(SandboxConfig(), handlers=FAKE_HANDLERS)
    try:
        # buffered=True closes each response iterable, as a server must (the validator checks).
        browser = Client(validator(app))
        assert browser.get("/_sandbox/info", buffered=True).status_code == 200
        missing = browser.get("/v1/users/self.json?callback=cb", buffered=True)
        assert missing.status_code == 200 and missing.get_data(as_text=True).startswith("/**/ cb(")
        assert browser.get("/oauth/authorize/?client_id=x", buffered=True).status_code == 400
        assert (
            browser.post("/oauth/access_token", data={"client_id": "x"}, buffered=True).status_code
            == 400
        )
        assert browser.get("/nowhere", buffered=True).status_code == 404
        assert browser.get("/accounts/login/?next=/", buffered=True).status_code == 200
        assert browser.head("/v1/users/self", buffered=True).status_code == 400
    finally:
        app.close()

"""A spent rate limit through the real CLI: halt (the default) or wait and go on.

The sandbox's `exhaust_rate_limit` fault answers every request 429 until it is turned off. The
CLI's session is given a sleep that, instead of sleeping, turns the fault off: what a real wait
would find when the hour's window moved on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cli_helpers import run_cli
from housekeeping_support import Sandbox, generated_sandbox

from igflow.target import TargetSession

PLAYBOOK = """\
igflow: 1
steps:
  - authorize: {client: live, user: grantwinney, scopes: [basic, public_content, likes]}
  - call: users.media_liked
    with: {count: 5}
    paginate: {max_items: 5}
    extract: {liked: "$.data[*].id"}
  - foreach: "{{ liked }}"
    max_writes: 5
    call: likes.delete
    with: {media_id: "{{ item }}"}
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with generated_sandbox(tmp_path) as served:
        yield served


def exhaust(sandbox: Sandbox, on: bool) -> None:
    spec = {"exhaust_rate_limit": True} if on else {}
    requests.post(f"{sandbox.url}/_sandbox/faults", json=spec, timeout=10).raise_for_status()


def test_halt_is_the_default(sandbox: Sandbox, tmp_path: Path) -> None:
    playbook = tmp_path / "unlike.yml"
    playbook.write_text(PLAYBOOK)
    exhaust(sandbox, True)
    code, _, err = run_cli("run", str(playbook), "--target", sandbox.url)
    assert code == 3, err
    assert "users.media_liked: OAuthRateLimitException" in err


def test_wait_waits_for_the_limit_and_goes_on(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    playbook = tmp_path / "unlike.yml"
    playbook.write_text(PLAYBOOK)
    waits: list[float] = []
    original = TargetSession.__init__

    def init(self: TargetSession, *args: Any, **kwargs: Any) -> None:
        def sleep(seconds: float) -> None:
            waits.append(seconds)
            exhaust(sandbox, False)  # the window moved on

        kwargs["hooks"] = kwargs["hooks"]._replace(sleep=sleep)
        original(self, *args, **kwargs)

    monkeypatch.setattr(TargetSession, "__init__", init)
    before = sandbox.liked_by_me()
    # Authorize first (OAuth is not rate limited), then spend the limit before the first call.
    exhaust(sandbox, True)
    code, out, err = run_cli(
        "run", str(playbook), "--target", sandbox.url, "--on-rate-limit", "wait"
    )
    assert code == 0, out + err
    assert waits, "igflow never waited"
    assert len(before - sandbox.liked_by_me()) == 5
    assert "the API's rate limit is spent (OAuthRateLimitException" in out

"""The Graph sandbox's rate-limit errors through a real run: halt by default, wait and go on
with --on-rate-limit wait; the usage headers reach the report."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from graph_sandbox_support import GraphSandbox, run_igflow, serve

from igflow.compose import run_playbook
from igflow.environment import Environment
from igflow.errors import GraphRateLimitError
from igflow.settings import ClientSettings, RunSettings

PLAY = """\
igflow: 1
api: instagram.graph
steps:
  - authorize: {user: mira.makes, scopes: [instagram_business_basic]}
  - call: me
    with: {fields: [username]}
    extract: {who: $.username}
outputs:
  who: who
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GraphSandbox]:
    yield from serve(tmp_path)


def inject(sandbox: GraphSandbox, error: str, times: int) -> None:
    answer = requests.post(
        f"{sandbox.url}/_sandbox/graph/errors",
        json={"error": error, "times": times, "endpoint": "me"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def me_calls(sandbox: GraphSandbox) -> int:
    return sum(1 for s in sandbox.recorder.seen if s.path == "/v25.0/me")


@pytest.mark.parametrize("error", ["buc_limit", "app_limit", "user_limit"])
def test_a_rate_limit_halts_by_default(sandbox: GraphSandbox, tmp_path: Path, error: str) -> None:
    path = tmp_path / "play.yml"
    path.write_text(PLAY, encoding="utf-8")
    inject(sandbox, error, 1)
    run = run_igflow(["run", str(path), "--target", sandbox.url])
    assert run.code == 3, run.out + run.err
    assert "GraphRateLimitError" in run.err
    assert me_calls(sandbox) == 1


def test_wait_sends_the_refused_call_again(sandbox: GraphSandbox, tmp_path: Path) -> None:
    path = tmp_path / "play.yml"
    path.write_text(PLAY, encoding="utf-8")
    inject(sandbox, "buc_limit", 2)
    out, err = io.StringIO(), io.StringIO()
    settings = RunSettings(
        playbook=str(path),
        target=sandbox.url,
        rate_limit_policy="wait",
        client=ClientSettings(rate_limit_wait=0.2),
    )
    result = run_playbook(settings, Environment(stdout=out, stderr=err, environ={}))
    assert result.error is None, out.getvalue() + err.getvalue()
    assert result.outputs["who"] == "mira.makes"
    assert me_calls(sandbox) == 3  # refused twice, then answered
    assert "rate limit is spent" in out.getvalue()
    assert result.api_usage is not None and result.api_usage["app"] is not None


def test_the_rate_limit_error_is_typed(sandbox: GraphSandbox, tmp_path: Path) -> None:
    path = tmp_path / "play.yml"
    path.write_text(PLAY, encoding="utf-8")
    inject(sandbox, "buc_limit", 1)
    settings = RunSettings(playbook=str(path), target=sandbox.url)
    result = run_playbook(settings, Environment(stdout=io.StringIO(), stderr=io.StringIO()))
    assert isinstance(result.error, GraphRateLimitError)
    assert result.error.code == 80002 and result.error.fbtrace_id

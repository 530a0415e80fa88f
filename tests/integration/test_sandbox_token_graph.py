"""``igflow sandbox token`` against a Graph sandbox: Instagram Login on its pages, the code
exchange and the long-lived exchange (the ``authorize`` step's flow), through the real CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from igflow.cli import Environment, main
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["sandbox", "token", *argv], Environment(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "requests.jsonl"


@pytest.fixture
def graph(log: Path) -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(api="graph", request_log=str(log))) as running:
        yield running


def me(url: str, token: str) -> requests.Response:
    return requests.get(
        url + "/v25.0/me",
        params={"fields": "username"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_a_long_lived_token_through_the_login_pages(graph: RunningSandbox, log: Path) -> None:
    code, out, err = run(
        "--url",
        graph.url,
        "--user",
        "mira.makes",
        "--scopes",
        "instagram_business_basic,instagram_business_manage_comments",
    )
    assert (code, err) == (0, "")
    token = out.strip()
    assert token.startswith("IG") and out.count("\n") == 1
    assert me(graph.url, token).json() == {"username": "mira.makes"}
    # It can hide a comment: the comments permission was granted.
    hidden = requests.post(
        graph.url + "/v25.0/17800000000010003",
        data={"hide": "true"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert hidden.json() == {"success": True}
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    paths = [entry["path"] for entry in entries]
    # The pages, the code exchange, then the long-lived exchange (not /_sandbox/token).
    assert "/oauth/authorize" in paths and "/oauth/access_token" in paths
    assert "/_sandbox/token" not in paths
    assert [e["endpoint"] for e in entries if e["path"] == "/access_token"] == [
        "auth.exchange_token"
    ]


def test_the_default_scope_is_graphs_basic(graph: RunningSandbox) -> None:
    code, out, _ = run("--url", graph.url, "--user", "northwind.coffee")
    assert code == 0
    token = out.strip()
    assert me(graph.url, token).json() == {"username": "northwind.coffee"}
    refused = requests.post(
        graph.url + "/v25.0/17800000000020003",
        data={"hide": "true"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert refused.json()["error"]["code"] == 200  # no instagram_business_manage_comments


def test_refusals_are_one_line_with_the_auth_exit_status(graph: RunningSandbox) -> None:
    code, out, err = run("--url", graph.url, "--user", "jo.personal")
    assert (code, out) == (5, "")
    assert "not a professional account" in err and err.count("\n") == 1
    code, _, err = run("--url", graph.url, "--user", "mira.makes", "--password", "wrong")
    assert code == 5 and "password was incorrect" in err
    code, _, err = run("--url", graph.url, "--user", "mira.makes", "--scopes", "basic,likes")
    assert code == 5 and "Invalid Scopes" in err
    code, _, err = run("--url", graph.url, "--user", "mira.makes", "--client", "nope")
    assert code == 2 and "no client named 'nope'" in err
    assert "Traceback" not in err


def test_the_command_line_itself() -> None:
    """``python -m igflow sandbox token`` in a subprocess, against a served Graph sandbox."""
    with start_sandbox(SandboxConfig(api="graph")) as served:
        done = subprocess.run(
            [sys.executable, "-m", "igflow", "sandbox", "token", "--url", served.url]
            + ["--user", "mira.makes"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr
        assert me(served.url, done.stdout.strip()).json() == {"username": "mira.makes"}

"""``igflow sandbox serve --api graph`` as a person runs it: a banner, a live Graph sandbox for
curl or any Graph client, a clean stop on Ctrl-C; bad options are one line, exit 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_serve_api_graph_prints_a_banner_serves_and_stops() -> None:
    script = textwrap.dedent(
        """
        import sys
        from igflow.cli import main
        sys.exit(main(["sandbox", "serve", "--api", "graph", "--port", "0", "--clock", "fake"]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(banner)
        assert "igflow Graph sandbox (instagram.graph) serving on http://127.0.0.1:" in text
        assert "mira.makes" in text and "client_id=990011223344556" in text
        url = text.split("serving on ")[1].split()[0]
        assert requests.get(url + "/_sandbox/info", timeout=10).json()["api"] == "instagram.graph"
        token = requests.post(
            url + "/_sandbox/token", json={"user": "northwind.coffee"}, timeout=10
        ).json()["access_token"]
        me = requests.get(
            url + "/v25.0/me",
            params={"fields": "username,account_type"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert me.json() == {"username": "northwind.coffee", "account_type": "Business"}
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in err and "sandbox stopped" in out


def test_a_bad_api_is_one_line_and_exit_2() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "igflow", "sandbox", "serve", "--api", "v2", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "invalid choice: 'v2'" in result.stderr


def test_a_bad_dataset_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("accounts:\n  - {id: '1', username: x}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "igflow", "sandbox", "serve", "--api", "graph", "--port", "0",
         "--data", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    first, *problems = result.stderr.strip().splitlines()
    assert "bad.yaml: invalid Graph sandbox dataset:" in first
    assert problems == [
        "  2:5: accounts[0]: needs 'password'",
        "  2:5: accounts[0]: needs 'account_type'",
        "  2:5: accounts[0].account_type: must be one of Business, Media_Creator, Personal",
    ]  # one problem a line, each with its line:col and its path in the file


def test_v1_only_options_are_refused_with_api_graph() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for extra, word in (
        (["--generate", "users=5"], "--generate"),
        (["--era", "2018-04-04"], "--era"),
    ):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "igflow",
                "sandbox",
                "serve",
                "--api",
                "graph",
                "--port",
                "0",
                *extra,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 2 and word in result.stderr and "Traceback" not in result.stderr

"""``igflow sandbox ...`` through run_sandbox_command, against served sandboxes and state files."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from igflow.cli import Environment, main
from igflow.sandbox.app import create_app
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox


def run(*argv: str) -> tuple[int, str, str]:
    """``igflow sandbox ARGV`` through the real CLI: its failures take the one error path."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["sandbox", *argv], Environment(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig()) as running:
        yield running


@pytest.fixture
def state_file(tmp_path: Path) -> str:
    path = str(tmp_path / "state.db")
    create_app(SandboxConfig(db=path)).close()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_users_from_a_running_sandbox_and_from_a_state_file(
    sandbox: RunningSandbox, state_file: str
) -> None:
    for target in (("--url", sandbox.url), ("--db", state_file)):
        code, out, err = run("users", *target)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].split() == ["USERNAME", "ID", "PRIVATE", "PASSWORD"]
        assert lines[1].split() == ["grantwinney", "3657782666", "no", "snappeas2017"]


def test_token_runs_the_real_flow(sandbox: RunningSandbox) -> None:
    code, out, err = run(
        "token", "--url", sandbox.url, "--user", "grantwinney", "--scopes", "basic,likes"
    )
    assert code == 0, err
    token = out.strip()
    me = requests.get(sandbox.url + "/v1/users/self", params={"access_token": token})
    assert me.json()["data"]["username"] == "grantwinney"
    liked = requests.post(
        sandbox.url + "/v1/media/1667121369441597934_3657782666/likes", data={"access_token": token}
    )
    assert liked.status_code == 200


def test_token_failures_are_one_line_with_an_exit_status(sandbox: RunningSandbox) -> None:
    code, out, err = run(
        "token", "--url", sandbox.url, "--user", "grantwinney", "--password", "wrong"
    )
    assert code == 5 and out == "" and len(err.splitlines()) == 1 and "password" in err
    code, _, err = run("token", "--url", sandbox.url, "--user", "grantwinney", "--client", "nope")
    assert code == 2 and "no client named 'nope'" in err
    code, _, err = run("token", "--url", sandbox.url, "--user", "famous_foodie")
    assert code == 5 and "You are not a sandbox user of this client" in err
    # A client without implicit OAuth gets its token through the code flow instead.
    code, out, err = run(
        "token", "--url", sandbox.url, "--user", "grantwinney", "--client", "signed"
    )
    assert code == 0 and out.startswith("3657782666.9bacfc3."), err
    code, _, err = run("token", "--url", f"http://127.0.0.1:{free_port()}", "--user", "grantwinney")
    assert code == 4 and "Traceback" not in err and len(err.splitlines()) == 1


def test_clients_add_and_list_over_http(sandbox: RunningSandbox) -> None:
    code, out, err = run(
        "clients",
        "add",
        "--url",
        sandbox.url,
        "--name",
        "ci",
        "--signed",
        "--no-implicit",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--sandbox-user",
        "grantwinney",
    )
    assert code == 0, err
    assert "name: ci" in out and "signed: true" in out and "implicit: false" in out
    code, out, _ = run("clients", "list", "--url", sandbox.url)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == ["default", "live", "signed", "ci"]
    code, _, err = run("clients", "add", "--url", sandbox.url, "--name", "ci")
    assert code == 2 and "already exists" in err
    code, _, err = run("clients", "add", "--url", sandbox.url, "--sandbox-user", "nobody_here")
    assert code == 2 and "unknown sandbox user" in err


def test_clients_on_a_state_file_persist_across_restarts(state_file: str) -> None:
    code, out, err = run("clients", "add", "--db", state_file, "--name", "offline", "--live")
    assert code == 0, err
    client_id = next(line.split()[1] for line in out.splitlines() if line.startswith("client_id:"))
    with start_sandbox(SandboxConfig(db=state_file)) as running:
        clients = requests.get(running.url + "/_sandbox/info").json()["clients"]
    assert {"name": "offline", "client_id": client_id, "mode": "live"}.items() <= next(
        c for c in clients if c["name"] == "offline"
    ).items()


def test_bad_targets_and_values(tmp_path: Path) -> None:
    code, _, err = run("users", "--db", str(tmp_path / "missing.db"))
    assert code == 2 and "no such sandbox state file" in err
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite at all, just text " * 20)
    code, _, err = run("clients", "list", "--db", str(junk))
    assert code == 2 and "not a sandbox state file" in err
    code, _, err = run("users", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 4 and "cannot connect" in err
    for bad in (
        ["--era", "1999"],
        ["--rate-limits", "fast"],
        ["--fail-rate", "3"],
        ["--generate", "users=x"],
        ["--data", str(tmp_path / "none.yaml")],
    ):
        code, _, err = run("serve", "--port", "0", *bad)
        assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, bad


def test_serve_prints_a_banner_and_stops_cleanly_on_ctrl_c() -> None:
    script = textwrap.dedent(
        """
        import sys
        from igflow.cli import main
        sys.exit(main(["sandbox", "serve", "--port", "0", "--era", "2018-04-04"]))
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(banner)
        assert "igflow sandbox serving on http://127.0.0.1:" in text and "era 2018-04-04" in text
        assert "client_id=4c56a5eb5799895875d6739ca91b9cdb" in text and "grantwinney" in text
        url = text.split("serving on ")[1].split()[0]
        assert requests.get(url + "/_sandbox/info").json()["era"] == "2018-04-04"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in err and "sandbox stopped" in out

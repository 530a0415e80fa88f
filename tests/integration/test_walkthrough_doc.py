"""docs/walkthrough.md: every command on the page runs, in order, and prints what the page shows.

The page marks its blocks: ``<!-- walkthrough: serve -->`` (the server, started here on a free
port instead of 8765), ``<!-- walkthrough: run -->`` (shell, run in one bash session so
variables carry over) and ``<!-- walkthrough: output -->`` (lines the block before must print,
in order; ``...`` alone skips lines, inside a line it matches anything). ``igflow`` on the page
is this checkout's (``python -m igflow``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "walkthrough.md"
_BLOCK = re.compile(r"<!-- walkthrough: (serve|run|output) -->\n```[\w]*\n(.*?)```", re.S)
_SEPARATOR = "@@walkthrough-block@@"


def _blocks() -> list[tuple[str, str]]:
    return [(kind, body) for kind, body in _BLOCK.findall(PAGE.read_text(encoding="utf-8"))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _matches(expected: str, output: str) -> bool:
    """Whether the expected lines appear in the output, in order (``...`` as above)."""
    lines = [line.strip() for line in output.splitlines()]
    position = 0
    for want in (line.strip() for line in expected.splitlines()):
        if not want or want == "...":
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")) + r"\Z")
        while position < len(lines) and not pattern.match(lines[position]):
            position += 1
        if position == len(lines):
            return False
        position += 1
    return True


def test_the_page_marks_its_commands() -> None:
    kinds = [kind for kind, _ in _blocks()]
    assert kinds[0] == "serve" and kinds.count("serve") == 1
    assert kinds.count("run") >= 10 and kinds.count("output") >= 10
    # An output block always follows a command block.
    for before, after in zip(kinds, kinds[1:], strict=False):
        assert not (after == "output" and before != "run")
    # Every shell block of the page is marked (so none goes untested).
    fenced_sh = PAGE.read_text(encoding="utf-8").count("```sh\n")
    assert fenced_sh == kinds.count("run") + kinds.count("serve")


def test_every_command_of_the_walkthrough_runs_and_prints_what_the_page_says(
    tmp_path: Path,
) -> None:
    if shutil.which("curl") is None or shutil.which("bash") is None:
        pytest.skip("the walkthrough uses curl and bash (.ci/run installs curl where apt-get is)")
    port = _free_port()
    blocks = [(kind, body.replace("8765", str(port))) for kind, body in _blocks()]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PY": sys.executable, "NO_COLOR": "1"}
    # The playbook runs keep their resume journal under the working directory: a scratch one.
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    serve = blocks[0][1].strip()
    assert serve.startswith("igflow sandbox serve")
    server = subprocess.Popen(
        [sys.executable, "-m", "igflow", *serve.split()[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith("Press Ctrl-C"):
                break
        script = ["set -euo pipefail", 'igflow() { "$PY" -m igflow "$@"; }']
        commands = [body for kind, body in blocks if kind == "run"]
        for body in commands:
            script += [f"echo {_SEPARATOR}", body]
        finished = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        outputs = finished.stdout.split(_SEPARATOR + "\n")[1:]
        assert finished.returncode == 0 and len(outputs) == len(commands), (
            f"block {len(outputs)} failed:\n{commands[len(outputs) - 1]}\n"
            f"stdout:\n{finished.stdout}\nstderr:\n{finished.stderr}"
        )
        index = -1
        for kind, body in blocks[1:]:
            if kind == "run":
                index += 1
            elif kind == "output":
                assert _matches(body, outputs[index]), (
                    f"block {index + 1}:\n{commands[index]}\nprinted:\n{outputs[index]}\n"
                    f"but the page shows:\n{body}"
                )
        assert "Traceback" not in finished.stderr
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0 and "sandbox stopped" in out, err


def test_the_matcher_can_fail() -> None:
    assert _matches("a\n...\nc ... e", "a\nb\nc d e\n")
    assert not _matches("c\na", "a\nb\nc\n")  # order matters
    assert not _matches("x ... y", "x y z\n")

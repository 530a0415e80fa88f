"""A named pipe or a device where a playbook is expected: a clear error, never a hang.

Each case runs the real CLI in a subprocess with a timeout, so a regression fails instead of
hanging the suite (before the fix, `igflow check DIR` blocked forever opening a FIFO)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = "igflow: 1\nsteps:\n  - log: hello\n"


def igflow(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "igflow", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_check_dir_passes_over_a_named_pipe_that_is_not_named_as_a_playbook(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    os.mkfifo(tmp_path / "a" / "fifo.yml")
    (tmp_path / "one.yml").write_text(GOOD)
    run = igflow("check", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{tmp_path}/one.yml: ok (1 step)\n"


def test_check_dir_reports_a_named_pipe_named_as_a_playbook(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.igflow.yml")
    (tmp_path / "one.yml").write_text(GOOD)
    run = igflow("check", str(tmp_path))
    assert run.returncode == 2
    assert f"{tmp_path}/one.yml: ok (1 step)" in run.stdout
    assert f"{tmp_path}/pipe.igflow.yml: is a FIFO (named pipe), not a playbook file" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("command", ["check", "run", "plan"])
def test_a_named_pipe_as_the_playbook_is_refused(tmp_path: Path, command: str) -> None:
    os.mkfifo(tmp_path / "fifo.yml")
    run = igflow(command, str(tmp_path / "fifo.yml"))
    assert run.returncode == 2
    assert run.stderr == (
        f"igflow: error: {tmp_path}/fifo.yml: is a FIFO (named pipe), not a playbook file\n"
    )


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_as_the_playbook_is_refused(command: str, device: str) -> None:
    run = igflow(command, device)
    assert run.returncode == 2
    assert run.stderr == f"igflow: error: {device}: is a character device, not a playbook file\n"


def test_a_named_pipe_as_the_vars_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "play.yml").write_text(GOOD)
    os.mkfifo(tmp_path / "vars.yml")
    run = igflow("run", str(tmp_path / "play.yml"), "--vars-file", str(tmp_path / "vars.yml"))
    assert run.returncode == 2
    assert "is a FIFO (named pipe), not a regular file" in run.stderr
    assert "Traceback" not in run.stderr

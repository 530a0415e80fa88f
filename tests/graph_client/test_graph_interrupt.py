"""Ctrl-C while a write is out: the write is in doubt in the console, the JSON report and the
journal, and the summary points at --resume (never "nothing was done" for a write the server
applied).

A served Graph sandbox with latency plays the API; igflow runs as a real subprocess and gets a
real SIGINT just after the first `intent` line reaches its journal (the hide is then on the
wire, and the sandbox applies it). What the server applied is read from its request log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from graph_sandbox_support import PLAYBOOKS, GraphSandbox, serve
from test_graph_resume import hides, settle

from igflow.journal import read_state
from igflow.sandbox.faults import FaultSpec

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

LATENCY_MS = 700  # every request: the hide is still on the wire when SIGINT lands


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[GraphSandbox]:
    yield from serve(
        tmp_path,
        db=str(tmp_path / "state.db"),
        request_log=str(tmp_path / "requests.jsonl"),
        faults=FaultSpec(latency_ms=LATENCY_MS),
    )


def interrupted_hide_run(sandbox: GraphSandbox, concurrency: int) -> tuple[str, dict, Path]:
    """Run the hide loop with ``concurrency``; SIGINT just after its first intent."""
    play = yaml.safe_load((PLAYBOOKS / "hide_spam_comments.yml").read_text())
    hide = next(step for step in play["steps"] if step.get("id") == "hidden")
    hide["concurrency"] = concurrency
    playbook = sandbox.tmp / "hide.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    journal, report = sandbox.tmp / "journal.jsonl", sandbox.tmp / "r.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "igflow",
            "run",
            str(playbook),
            "--target",
            sandbox.url,
            "--journal",
            str(journal),
            "--report",
            f"json:{report}",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 90
    # The first intent is journaled, then the hide is sent: SIGINT once the sandbox has it
    # (it sleeps its latency, then applies it), so the hide is on the wire at the interrupt.
    while not any(
        seen.method == "POST" and seen.path.startswith("/v25.0/178")
        for seen in list(sandbox.recorder.seen)
    ):
        assert process.poll() is None, "igflow finished before it could be interrupted"
        assert time.monotonic() < deadline, "no hide reached the sandbox"
        time.sleep(0.005)
    assert '"intent"' in journal.read_text()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    time.sleep(2 * LATENCY_MS / 1000)  # what was on the wire has been answered, and logged
    settle(sandbox)
    return out, json.loads(report.read_text()), journal


def test_ctrl_c_during_a_hide_leaves_it_in_doubt_everywhere(slow: GraphSandbox) -> None:
    out, report, journal = interrupted_hide_run(slow, concurrency=1)
    applied = hides(slow)
    assert len(applied) == 1  # the server applied the hide that was out
    hide_step = next(step for step in report["steps"] if step["id"] == "hidden")
    items = hide_step["items"]
    assert [item["status"] for item in items] == ["in-doubt"]
    assert report["writes"]["sent"] == {"comments.hide": 1}
    assert len(report["writes"]["in_doubt"]) == 1
    assert "interrupted (Ctrl-C)" in report["writes"]["in_doubt"][0]
    assert "1 in doubt" in out  # the interrupted step's line
    assert "in doubt: 1 write may or may not have been applied" in out
    assert "igflow run --resume settles them" in out
    assert read_state(str(journal)).in_doubt_count == 1


def test_ctrl_c_during_concurrent_hides_reports_every_one_the_server_applied(
    slow: GraphSandbox,
) -> None:
    # Ctrl-C reaches the main thread; the writes out on the workers go on to their answers.
    # Whatever happened, no hide the server applied is missing from the report.
    out, report, journal = interrupted_hide_run(slow, concurrency=3)
    applied = set(hides(slow))
    assert applied
    spam = {c["id"]: c for c in slow.all_comments("mira.makes", "17841400000000101").values()}
    hide_step = next(step for step in report["steps"] if step["id"] == "hidden")
    reported = {
        item["item"]["id"]: item["status"]
        for item in hide_step["items"]
        if item["status"] in ("ok", "in-doubt")
    }
    assert applied <= set(reported), (applied, reported, out)
    assert all(spam[cid]["hidden"] for cid in applied)
    in_doubt = [cid for cid, status in reported.items() if status == "in-doubt"]
    assert len(report["writes"]["in_doubt"]) == len(in_doubt)
    assert read_state(str(journal)).in_doubt_count == len(in_doubt)
    assert sum(report["writes"]["sent"].values()) == len(reported)

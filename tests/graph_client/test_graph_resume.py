"""kill -9 in the middle of the comment-hiding loop, then --resume: every hide applied once.

A served Graph sandbox (a state file, a request log, some latency so the loop is still running
when the signal lands) with a hundred and more spam comments plays the API; igflow runs as a
real subprocess. What the test expects is read back through the API (plain requests) and from
the sandbox's request log, never through igflow.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from graph_sandbox_support import MIRA, MIRA_ID, PLAYBOOKS, GraphSandbox, run_igflow, serve

from igflow.journal import read_state
from igflow.sandbox.faults import FaultSpec
from igflow.sandbox.graph.dataset import default_path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SPAM = 120
RECENT_MEDIA = "17900000000001001"  # 20 hours old: inside the playbook's 7 days


@pytest.fixture
def spammed(tmp_path: Path) -> Iterator[GraphSandbox]:
    with open(default_path(), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    for i in range(SPAM):
        data["comments"].append(
            {
                "id": f"178000000009{i:05d}",
                "media": RECENT_MEDIA,
                "by": f"bot_{i:03d}",
                "text": f"cheap followers at spam.example #{i}",
                "age_hours": 10 + i / 100,
            }
        )
    dataset = tmp_path / "spammed.yaml"
    dataset.write_text(yaml.safe_dump(data), encoding="utf-8")
    yield from serve(
        tmp_path,
        data=str(dataset),
        db=str(tmp_path / "state.db"),
        request_log=str(tmp_path / "requests.jsonl"),
        faults=FaultSpec(latency_ms=25),
    )


def is_spam(comment: dict[str, object]) -> bool:
    """The playbook's rule, computed independently: a blocklist pattern, not allowlisted."""
    play = yaml.safe_load((PLAYBOOKS / "hide_spam_comments.yml").read_text())["vars"]
    pattern = re.compile("|".join(play["blocklist"]), re.IGNORECASE)
    author = comment["username"]
    return (
        bool(pattern.search(str(comment["text"])))
        and author not in [*play["allowlist"], MIRA]
        and not comment["hidden"]
    )


def hides(sandbox: GraphSandbox) -> list[str]:
    """The comment ids of the hide requests the sandbox answered (from its request log)."""
    log = sandbox.tmp / "requests.jsonl"
    entries = []
    for line in log.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:  # a line being written as we read: the next look sees it whole
            continue
    return [
        e["path"].rsplit("/", 1)[-1]
        for e in entries
        if e["endpoint"] == "comments.hide" and e["status"] == 200
    ]


def igflow(sandbox: GraphSandbox, journal: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "igflow",
            "run",
            str(PLAYBOOKS / "hide_spam_comments.yml"),
            "--target",
            sandbox.url,
            "--journal",
            str(journal),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def settle(sandbox: GraphSandbox) -> None:
    """Until requests still in flight when igflow died have been answered and logged."""
    log = sandbox.tmp / "requests.jsonl"
    stable, last = 0, -1
    deadline = time.monotonic() + 30
    while stable < 3 and time.monotonic() < deadline:
        size = log.stat().st_size
        stable = stable + 1 if size == last else 0
        last = size
        time.sleep(0.1)


def test_sigkill_mid_hide_loop_then_resume_hides_each_comment_once(
    spammed: GraphSandbox, tmp_path: Path
) -> None:
    sandbox, journal = spammed, tmp_path / "journal.jsonl"
    before = sandbox.all_comments(MIRA, MIRA_ID)
    spam = {cid for cid, c in before.items() if is_spam(c)}
    assert len(spam) > SPAM  # ours and the dataset's own on recent media

    process = igflow(sandbox, journal)
    deadline = time.monotonic() + 60
    while len(hides(sandbox)) < 30:
        assert process.poll() is None, "igflow finished before it could be killed"
        assert time.monotonic() < deadline, "the hide loop never got going"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    settle(sandbox)
    done_before = hides(sandbox)
    assert 30 <= len(done_before) < len(spam)
    hidden_now = {cid for cid, c in sandbox.all_comments(MIRA, MIRA_ID).items() if c["hidden"]}
    assert hidden_now == set(done_before)

    resumed = igflow(sandbox, journal, "--resume")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err

    after = sandbox.all_comments(MIRA, MIRA_ID)
    assert {cid for cid, c in after.items() if c["hidden"]} == spam
    assert set(after) == set(before)  # nothing deleted
    per_comment = collections.Counter(hides(sandbox))
    assert set(per_comment) == spam
    # Each hide was sent once; only a hide in flight at the kill (the loop sends one at a
    # time) can have been sent twice, as an in-doubt idempotent write. The resumed run
    # re-read the comments: those already hidden were not asked for again.
    assert sum(1 for count in per_comment.values() if count > 1) <= 1
    assert max(per_comment.values()) <= 2
    assert read_state(str(journal)).in_doubt_count == 0


TOP_COMMENT, ITS_MEDIA = "17800000000010005", "17900000000001001"
REPLY_TEXT = "Yes, ilmenite in the clay body"
REPLY_PLAYBOOK = f"""\
igflow: 1
api: instagram.graph
steps:
  - authorize:
      user: {MIRA}
      scopes: [instagram_business_basic, instagram_business_manage_comments]
  - id: reply
    call: comments.reply
    with: {{comment_id: "{TOP_COMMENT}", message: "{REPLY_TEXT}"}}
"""


def my_replies(sandbox: GraphSandbox) -> list[dict[str, object]]:
    replies = sandbox.all_pages(MIRA, f"{TOP_COMMENT}/replies", fields="id,text,username", limit=50)
    return [r for r in replies if r["username"] == MIRA and r["text"] == REPLY_TEXT]


def test_sigkill_mid_reply_then_fifty_replies_by_others_then_resume_finds_it_on_page_two(
    tmp_path: Path,
) -> None:
    # The reply reached the server but igflow died first; 50 replies by others then pushed it to
    # page 2 of the (newest first) replies: the resume must walk the pages and find it there.
    for sandbox in serve(tmp_path):
        playbook, journal = tmp_path / "reply.yml", tmp_path / "journal.jsonl"
        playbook.write_text(REPLY_PLAYBOOK, encoding="utf-8")
        faults = f"{sandbox.url}/_sandbox/faults"
        requests.post(faults, json={"latency_ms": 2500}, timeout=10).raise_for_status()
        command = [
            sys.executable, "-m", "igflow", "run", str(playbook),
            "--target", sandbox.url, "--journal", str(journal),
        ]  # fmt: skip
        env = {**os.environ, "NO_COLOR": "1"}
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + 60
        # The intent is journaled before the reply is sent; the kill comes once the sandbox
        # got the reply (it then sleeps its latency, and commits it after igflow is gone).
        while not any(
            seen.method == "POST" and seen.path.endswith(f"/{TOP_COMMENT}/replies")
            for seen in list(sandbox.recorder.seen)
        ):
            assert process.poll() is None, "igflow finished before it could be killed"
            assert time.monotonic() < deadline, "the reply never reached the sandbox"
            time.sleep(0.01)
        assert '"intent"' in journal.read_text()
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        requests.post(faults, json={}, timeout=10).raise_for_status()
        while not my_replies(sandbox):  # the server still commits it, after its latency
            assert time.monotonic() < deadline, "the reply was never applied"
            time.sleep(0.1)
        for n in range(50):
            requests.post(
                f"{sandbox.url}/_sandbox/graph/comments",
                json={
                    "media_id": ITS_MEDIA,
                    "parent_id": TOP_COMMENT,
                    "username": f"fan_{n:02d}",
                    "text": f"great glaze #{n}",
                },
                timeout=10,
            ).raise_for_status()

        resumed = subprocess.run(
            [*command, "--resume"], capture_output=True, text=True, env=env, timeout=120
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert len(my_replies(sandbox)) == 1  # never sent a second time
        assert "found by comments.replies" in resumed.stdout
        assert read_state(str(journal)).in_doubt_count == 0


CONTAINER_PLAYBOOK = f"""\
igflow: 1
api: instagram.graph
steps:
  - authorize:
      user: {MIRA}
      scopes: [instagram_business_basic, instagram_business_content_publish]
  - call: me
    with: {{fields: [user_id]}}
    extract: {{uid: $.user_id}}
  - id: make
    call: containers.create
    with: {{user_id: "{{{{ uid }}}}", image_url: "https://example.com/a.jpg"}}
"""


def test_a_container_in_doubt_is_to_settle_by_hand_in_every_message(tmp_path: Path) -> None:
    # containers.create loses its answer after it was applied; no read can check it. Neither
    # run, nor its resume, says that a resume settles it: every message says by hand.
    for sandbox in serve(tmp_path):
        playbook, journal = tmp_path / "container.yml", tmp_path / "journal.jsonl"
        playbook.write_text(CONTAINER_PLAYBOOK, encoding="utf-8")
        faults = f"{sandbox.url}/_sandbox/faults"
        # Counted from here, the create is the 4th request the sandbox's faults see (the
        # login's and the reads before it come first); exit 7 below says if that changed.
        requests.post(faults, json={"drop_nth": 4, "phase": "after"}, timeout=10)
        argv = ["run", str(playbook), "--target", sandbox.url, "--journal", str(journal)]
        first = run_igflow([*argv, "--retries", "1"])
        requests.post(faults, json={}, timeout=10).raise_for_status()
        resumed = run_igflow([*argv, "--resume"])
        for run in (first, resumed):
            assert run.code == 7, run.out + run.err
            text = run.out + run.err
            assert "igflow journal settle" in text
            assert "resume settles" not in text, text
            summary = next(line for line in run.out.splitlines() if line.startswith("in doubt: "))
            assert "check by hand" in summary
        assert read_state(str(journal)).in_doubt_count == 1

"""Kill igflow mid-loop (SIGKILL, and Ctrl-C), resume, and check no write was applied twice.

A separately served sandbox (SQLite state file, request log, some latency so the loop is still
running when the signal lands) plays the API; igflow runs as a real subprocess. What the tests
expect is read straight from the sandbox's state file and request log, never through igflow.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from housekeeping_support import GRANT, PLAYBOOKS, Sandbox, media_pk, path_media_pk

from igflow.journal import read_state
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.dataset import generate_dataset
from igflow.sandbox.faults import FaultSpec
from igflow.sandbox.server import start_sandbox

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

LIKES = 200
COMMENT_PLAYBOOK = """\
# yaml-language-server: $schema=../schemas/playbook.schema.json
igflow: 1
name: Thank every recent media
steps:
  - authorize: {client: live, user: grantwinney, scopes: [basic, comments]}
  - call: users.media_recent_self
    with: {count: 33}
    paginate: {max_items: 60}
    extract: {media_ids: "$.data[*].id"}
  - id: thank
    foreach: "{{ media_ids }}"
    as: media_id
    concurrency: 4
    max_writes: 60
    call: comments.create
    with: {media_id: "{{ media_id }}", text: "Thanks for looking at this one"}
outputs:
  posted: steps.thank.results | selectattr("status", "ne", "failed") | list | length
"""
THANKS = "Thanks for looking at this one"


@pytest.fixture
def slow_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    data = generate_dataset(60, 800, grant_likes=LIKES)
    db, log = tmp_path / "state.db", tmp_path / "requests.jsonl"
    config = SandboxConfig(
        db=str(db),
        rate_limits="off",
        request_log=str(log),
        faults=FaultSpec(latency_ms=25),
    )
    with start_sandbox(config, dataset=data) as running:
        yield Sandbox(running.url, db, log)


def igflow(playbook: Path, sandbox: Sandbox, journal: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen(
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
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(sandbox: Sandbox, endpoint: str, count: int, process: subprocess.Popen[str]) -> None:
    """Until the sandbox has logged ``count`` requests to ``endpoint`` (the loop is mid-way)."""
    deadline = time.monotonic() + 60
    while len(sandbox.requests(endpoint)) < count:
        assert process.poll() is None, "igflow finished before it could be interrupted"
        assert time.monotonic() < deadline, "the loop never got going"
        time.sleep(0.005)


def settle(sandbox: Sandbox) -> None:
    """Until requests still in flight when igflow died have been answered and logged."""
    stable, last = 0, -1
    deadline = time.monotonic() + 30
    while stable < 3 and time.monotonic() < deadline:
        size = sandbox.log.stat().st_size
        stable = stable + 1 if size == last else 0
        last = size
        time.sleep(0.1)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def journal_records(journal: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def test_sigkill_mid_unlike_loop_then_resume(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox, journal = slow_sandbox, tmp_path / "journal.jsonl"
    liked = sandbox.liked_by_me()
    assert len(liked) >= LIKES  # the generated likes, and a few from the default data

    process = igflow(PLAYBOOKS / "unlike_all.yml", sandbox, journal)
    wait_for(sandbox, "likes.delete", 60, process)
    process.send_signal(signal.SIGKILL)
    assert finish(process)[0] == -signal.SIGKILL
    settle(sandbox)
    sent_before = len(sandbox.requests("likes.delete"))
    assert 60 <= sent_before < len(liked)
    assert len(sandbox.liked_by_me()) == len(liked) - sent_before

    code, out, err = finish(igflow(PLAYBOOKS / "unlike_all.yml", sandbox, journal, "--resume"))
    assert code == 0, out + err
    assert sandbox.liked_by_me() == set()
    # Every liked media was unliked; a media unliked twice can only be one whose first unlike
    # was in doubt (idempotent, so resent), and there are at most as many as were in flight.
    per_media = collections.Counter(
        path_media_pk(entry["path"]) for entry in sandbox.requests("likes.delete")
    )
    assert set(per_media) == liked
    resent = [pk for pk, count in per_media.items() if count > 1]
    assert all(count <= 2 for count in per_media.values())
    assert len(resent) <= 8  # the loop's concurrency
    records = journal_records(journal)
    assert [r["type"] for r in records if r["type"] in ("run", "end")] == ["run", "run", "end"]
    # Each resent unlike is one the journal had in doubt (intent, no outcome), and its resend
    # names the attempt it supersedes; those the resume never met again were settled as moot
    # (the media was no longer liked): after the resume nothing is in doubt.
    first_intents = {r["serial"] for r in records if r["type"] == "intent"}
    superseding = [r for r in records if r["type"] == "intent" and r.get("supersedes")]
    assert len(superseding) >= len(resent)
    assert all(r["supersedes"] in first_intents for r in superseding)
    assert read_state(str(journal)).in_doubt_count == 0


def test_sigkill_mid_comment_loop_posts_each_comment_once(
    slow_sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox, journal = slow_sandbox, tmp_path / "journal.jsonl"
    playbook = tmp_path / "thank.yml"
    playbook.write_text(COMMENT_PLAYBOOK)
    recent = [m["pk"] for m in sandbox.my_media()[:60]]

    process = igflow(playbook, sandbox, journal)
    wait_for(sandbox, "comments.create", 20, process)
    process.send_signal(signal.SIGKILL)
    finish(process)
    settle(sandbox)
    posted_before = len(sandbox.requests("comments.create"))
    assert 20 <= posted_before < 60

    code, out, err = finish(igflow(playbook, sandbox, journal, "--resume"))
    assert code == 0, out + err
    thanks = collections.Counter(
        c.media_pk for c in sandbox.comments().values() if c.text == THANKS and c.author == GRANT
    )
    assert thanks == {pk: 1 for pk in recent}, "a comment is missing or was posted twice"
    # The request log agrees: one POST per media, none resent.
    posts = collections.Counter(
        path_media_pk(entry["path"]) for entry in sandbox.requests("comments.create")
    )
    assert posts == {pk: 1 for pk in recent}
    assert "posted = 60" in out
    # The writes in flight at the kill were in doubt: each was found by a read (applied, so not
    # resent) or was absent (killed between journaling and sending), and then sent once.
    records = journal_records(journal)
    first_run = records[1 : next(i for i, r in enumerate(records) if i and r["type"] == "run")]
    open_serials = {r["serial"] for r in first_run if r["type"] == "intent"} - {
        r["serial"] for r in first_run if r["type"] != "intent"
    }
    resolved = [
        r
        for r in records
        if (r["type"] in ("settled", "applied") and r["serial"] in open_serials)
        or (r["type"] == "intent" and r.get("supersedes") in open_serials)
    ]
    assert len(resolved) == len(open_serials)
    # Found: settled as applied; absent: resent by an intent that supersedes the old one.
    assert all(
        (r["type"] == "settled" and r["outcome"] == "applied")
        or (r["type"] == "intent" and r["endpoint"] == "comments.create")
        for r in resolved
    )


def test_interrupt_then_resume_and_a_changed_playbook_is_refused(
    slow_sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox, journal = slow_sandbox, tmp_path / "journal.jsonl"
    playbook = tmp_path / "thank.yml"
    playbook.write_text(COMMENT_PLAYBOOK)
    process = igflow(playbook, sandbox, journal)
    wait_for(sandbox, "comments.create", 10, process)
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process)
    assert code == 130
    assert "--resume" in err and "Traceback" not in err

    playbook.write_text(COMMENT_PLAYBOOK.replace("max_writes: 60", "max_writes: 61"))
    code, _, err = finish(igflow(playbook, sandbox, journal, "--resume"))
    assert code == 6
    assert "changed since the journal" in err

    playbook.write_text(COMMENT_PLAYBOOK)
    code, out, err = finish(igflow(playbook, sandbox, journal, "--resume"))
    assert code == 0, out + err
    thanks = collections.Counter(
        c.media_pk for c in sandbox.comments().values() if c.text == THANKS and c.author == GRANT
    )
    assert set(thanks.values()) == {1} and len(thanks) == 60
    assert "done by an earlier run" in out


def test_ids_in_the_journal_match_the_sandbox(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    """A fresh run journals one intent and one outcome per write, with redacted params."""
    sandbox, journal = slow_sandbox, tmp_path / "journal.jsonl"
    playbook = tmp_path / "thank.yml"
    playbook.write_text(COMMENT_PLAYBOOK)
    code, out, err = finish(igflow(playbook, sandbox, journal))
    assert code == 0, out + err
    records = journal_records(journal)
    intents = [r for r in records if r["type"] == "intent"]
    done = [r for r in records if r["type"] == "applied"]
    assert len(intents) == len(done) == 60
    posted = {media_pk(str(r["params"]["media_id"])) for r in intents}  # type: ignore[index]
    assert posted == {m["pk"] for m in sandbox.my_media()[:60]}
    assert "access_token" not in journal.read_text()

"""Findings 3 to 6 of issue 11 through the real CLI, against served sandboxes.

- caps span a resume (a like loop capped at n likes n media, however many runs it takes);
- a journal is bound to its target and to its account;
- writes in doubt are listed, settled and discarded deliberately (`igflow journal`), and a
  fresh run says what to do instead of refusing for ever;
- a journal igflow cannot read, or the playbook itself, is never replaced by a journal.
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
import requests
from cli_helpers import run_cli
from housekeeping_support import PLAYBOOKS, Sandbox, generated_sandbox

from igflow.journal import read_state
from igflow.sandbox.dataset import HOUSEKEEPING_TAG


def served(folder: Path) -> Iterator[Sandbox]:
    folder.mkdir()
    with generated_sandbox(folder) as running:
        yield running


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    yield from served(tmp_path / "a")


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Sandbox]:
    yield from served(tmp_path / "b")


def faults(sandbox: Sandbox, **spec: object) -> None:
    requests.post(f"{sandbox.url}/_sandbox/faults", json=spec, timeout=10).raise_for_status()


def unlike_playbook(tmp_path: Path, user: str = "grantwinney") -> Path:
    playbook = tmp_path / "unlike.yml"
    playbook.write_text(
        f"""\
igflow: 1
vars:
  who: {user}
steps:
  - authorize: {{client: live, user: "{{{{ who }}}}", scopes: [basic, public_content, likes]}}
  - call: users.media_liked
    with: {{count: 33}}
    paginate: {{max_items: 12}}
    extract: {{liked: "$.data[*].id"}}
  - id: unlike
    foreach: "{{{{ liked }}}}"
    call: likes.delete
    with: {{media_id: "{{{{ item }}}}"}}
    max_writes: 40
""",
        encoding="utf-8",
    )
    return playbook


def run(sandbox: Sandbox, playbook: Path, journal: Path, *args: str) -> tuple[int, str, str]:
    return run_cli("run", str(playbook), "--target", sandbox.url, "--journal", str(journal), *args)


def in_doubt_after_a_drop(sandbox: Sandbox, playbook: Path, journal: Path) -> None:
    """Run the unlike loop; its 3rd unlike loses its answer and is not retried: in doubt.

    /v1 requests from the start: the liked list (one page), the account (users.self, asked
    before the first write), then the unlikes one by one: the 3rd unlike is the 5th request.
    """
    faults(sandbox, drop_nth=5, phase="after")
    code, out, err = run(sandbox, playbook, journal, "--retries", "1")
    faults(sandbox)
    assert code == 7, out + err
    assert "in doubt" in out + err
    assert read_state(str(journal)).in_doubt_count == 1


def test_caps_count_every_run_of_a_journal(sandbox: Sandbox, tmp_path: Path) -> None:
    """Finding 3: a like loop with max_writes 5 ended with 10 likes after a drop and a resume."""
    playbook, journal = PLAYBOOKS / "like_tag_media.yml", tmp_path / "journal.jsonl"
    args = ["--var", "n=5", "--var", f"tag={HOUSEKEEPING_TAG}", "--retries", "1"]
    # How many /v1 reads come before the likes: a dry run reads the same pages.
    code, out, err = run_cli("run", str(playbook), "--target", sandbox.url, *args, "--dry-run")
    assert code == 0, out + err
    pages = len(sandbox.requests("tags.media_recent"))
    # Then the account (users.self), then the likes: the 3rd like loses its answer after it
    # committed (the loop runs 4 at a time, so which like is 3rd may vary; any will do).
    faults(sandbox, drop_nth=pages + 1 + 3, phase="after")
    code, out, err = run(sandbox, playbook, journal, *args)
    faults(sandbox)
    assert code == 7, out + err
    sent_first = {entry["path"] for entry in sandbox.requests("likes.create")}
    assert len(sent_first) == 5
    # The resume re-reads the tag: the five it liked are gone from its list, five others are
    # there; the cap, counted across both runs, refuses them.
    code, out, err = run(sandbox, playbook, journal, *args, "--resume")
    assert code == 6, out + err
    assert "write cap reached" in err and "earlier runs of this journal included" in err
    assert {entry["path"] for entry in sandbox.requests("likes.create")} == sent_first
    assert read_state(str(journal)).in_doubt_count == 0  # the in-doubt like was settled (moot)


def test_a_journal_is_not_resumed_against_another_target(
    sandbox: Sandbox, other: Sandbox, tmp_path: Path
) -> None:
    """Finding 4: resuming against another sandbox skipped its writes and said ok."""
    playbook, journal = unlike_playbook(tmp_path), tmp_path / "journal.jsonl"
    in_doubt_after_a_drop(sandbox, playbook, journal)
    code, out, err = run(other, playbook, journal, "--resume")
    assert code == 6, out + err
    assert f"describes writes to {sandbox.url}, not {other.url}" in err
    assert other.requests("likes.delete") == []
    # Against its own target it goes on.
    code, out, err = run(sandbox, playbook, journal, "--resume")
    assert code == 0, out + err


def test_a_journal_is_not_resumed_as_another_account(sandbox: Sandbox, tmp_path: Path) -> None:
    playbook, journal = unlike_playbook(tmp_path), tmp_path / "journal.jsonl"
    in_doubt_after_a_drop(sandbox, playbook, journal)
    before = len(sandbox.requests("likes.delete"))
    # --force lets the changed variable through; the account check still stops it.
    code, out, err = run(
        sandbox, playbook, journal, "--resume", "--force", "--var", "who=maya.bakes"
    )
    assert code == 6, out + err
    assert "writes sent as account 3657782666, but this run writes as 4021937711" in err
    assert len(sandbox.requests("likes.delete")) == before


def test_writes_in_doubt_are_shown_settled_and_discarded_deliberately(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Finding 5: stale in-doubt records refused every later fresh run; no command cleared them."""
    playbook, journal = unlike_playbook(tmp_path), tmp_path / "journal.jsonl"
    in_doubt_after_a_drop(sandbox, playbook, journal)

    code, out, err = run_cli("journal", "show", "--journal", str(journal), "--json")
    assert code == 0, err
    view = json.loads(out)
    assert view["target"] == sandbox.url and view["applied"] == 2
    [doubt] = view["in_doubt"]
    assert doubt["endpoint"] == "likes.delete" and doubt["account"] == "3657782666"
    assert "ConnectionDropped" in doubt["why"]
    code, out, _ = run_cli("journal", "show", "--journal", str(journal))
    assert "in doubt  1" in out and doubt["serial"] in out

    # A fresh run says what to do, and sends nothing.
    sent = len(sandbox.requests("likes.delete"))
    code, _, err = run(sandbox, playbook, journal)
    assert code == 6 and "journal settle" in err and "--resume" in err
    assert len(sandbox.requests("likes.delete")) == sent

    code, _, err = run_cli("journal", "discard", "--journal", str(journal))
    assert code == 6 and "--force" in err and journal.exists()
    code, _, err = run_cli(
        "journal", "settle", "--journal", str(journal), "--serial", "9.9", "--as", "applied"
    )
    assert code == 2 and f"in doubt: {doubt['serial']}" in err
    code, out, err = run_cli(
        "journal",
        "settle",
        "--journal",
        str(journal),
        "--serial",
        doubt["serial"],
        "--as",
        "applied",
    )
    assert code == 0, err
    assert read_state(str(journal)).in_doubt_count == 0
    code, out, err = run(sandbox, playbook, journal)  # now a fresh run goes ahead
    assert code == 0, out + err
    code, out, err = run_cli("journal", "discard", "--journal", str(journal))
    assert code == 0 and not journal.exists()


def test_a_journal_igflow_cannot_read_is_not_replaced_without_force(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Finding 7 (journals): a corrupt journal was silently replaced by the next fresh run."""
    playbook, journal = unlike_playbook(tmp_path), tmp_path / "journal.jsonl"
    journal.write_text("my notes, not a journal\n", encoding="utf-8")
    code, _, err = run(sandbox, playbook, journal)
    assert code == 2 and "not an igflow journal" in err and "--force" in err
    assert journal.read_text(encoding="utf-8") == "my notes, not a journal\n"
    assert sandbox.requests("likes.delete") == []
    code, out, err = run(sandbox, playbook, journal, "--force")
    assert code == 0, out + err
    assert read_state(str(journal)).done_count == 12


def test_the_journal_is_never_the_playbook(sandbox: Sandbox, tmp_path: Path) -> None:
    playbook = unlike_playbook(tmp_path)
    text = playbook.read_text(encoding="utf-8")
    for extra in ([], ["--force"]):
        code, _, err = run(sandbox, playbook, playbook, *extra)
        assert code == 2 and "is the playbook" in err
    assert playbook.read_text(encoding="utf-8") == text
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "elsewhere.jsonl")
    code, _, err = run(sandbox, playbook, link)
    assert code == 2 and "symbolic link" in err
    assert not (tmp_path / "elsewhere.jsonl").exists()


def test_a_report_never_replaces_the_journal_even_with_force(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Hostile test F4: a --report over the journal, with --force, destroyed its in-doubt writes."""
    playbook, journal = unlike_playbook(tmp_path), tmp_path / "journal.jsonl"
    in_doubt_after_a_drop(sandbox, playbook, journal)
    code, _, err = run(sandbox, playbook, journal, "--report", f"json:{journal}", "--force")
    assert code == 2 and "the resume journal of this run" in err
    assert read_state(str(journal)).in_doubt_count == 1  # still a journal, still in doubt


def test_a_write_step_never_replaces_the_journal(sandbox: Sandbox, tmp_path: Path) -> None:
    """Hostile test F5: a `write:` step to the journal's path replaced it."""
    playbook = tmp_path / "export.yml"
    playbook.write_text(
        """\
igflow: 1
steps:
  - authorize: {client: live, user: grantwinney, scopes: [basic, public_content, likes]}
  - call: users.media_liked
    with: {count: 3}
    extract: {liked: "$.data[*].id"}
  - foreach: "{{ liked[:1] }}"
    call: likes.delete
    with: {media_id: "{{ item }}"}
  - write: {path: out/journal.jsonl, value: "{{ liked }}", format: jsonl}
""",
        encoding="utf-8",
    )
    journal = tmp_path / "out" / "journal.jsonl"
    code, out, err = run(sandbox, playbook, journal)
    assert code == 2, out + err
    assert "the resume journal of this run" in out + err
    assert read_state(str(journal)).done_count == 1


def test_a_fresh_run_after_a_stopped_one_does_not_repeat_its_posts(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Hostile test F6: after a run halted at a cap, a run without --resume posted it all again."""
    newest = sandbox.my_media()[0]
    playbook = tmp_path / "posts.yml"
    playbook.write_text(
        f"""\
igflow: 1
vars:
  texts: [one, two, three, four]
steps:
  - authorize: {{client: live, user: grantwinney, scopes: [basic, comments]}}
  - foreach: "{{{{ texts }}}}"
    call: comments.create
    with: {{media_id: "{newest["pk"]}_3657782666", text: "{{{{ item }}}}"}}
    max_writes: 10
""",
        encoding="utf-8",
    )
    journal = tmp_path / "journal.jsonl"
    code, _, err = run(sandbox, playbook, journal, "--max-writes", "2")
    assert code == 6 and "write cap reached" in err
    code, _, err = run(sandbox, playbook, journal)
    assert code == 6, err
    assert "stopped before its end after applying 2 comments.create" in err and "--resume" in err
    assert len(sandbox.requests("comments.create")) == 2
    code, out, err = run(sandbox, playbook, journal, "--resume")
    assert code == 0, out + err
    assert len(sandbox.requests("comments.create")) == 4  # the other two, once each


def test_after_a_cap_stop_the_hint_says_a_resume_needs_a_higher_cap(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Caps count every run of a journal: a plain --resume after a cap stop stops at once."""
    playbook, journal = unlike_playbook(tmp_path), tmp_path / "journal.jsonl"
    code, _, err = run(sandbox, playbook, journal, "--max-writes", "3")
    assert code == 6, err
    assert "with a higher cap (--max-writes, or the step's max_writes)" in err
    code, _, err = run(sandbox, playbook, journal, "--resume", "--max-writes", "3")
    assert code == 6 and "earlier runs of this journal included" in err
    # The resume re-reads the liked list (the 3 are gone from it): 12 more, 15 in all.
    code, out, err = run(sandbox, playbook, journal, "--resume", "--max-writes", "15")
    assert code == 0, out + err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_an_unlike_leaves_it_in_doubt_and_a_resume_settles_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # A real SIGINT just after the first intent reaches the journal: the unlike is on the wire.
    playbook, journal = unlike_playbook(tmp_path), tmp_path / "journal.jsonl"
    report = tmp_path / "r.json"
    faults(sandbox, latency_ms=700)
    command = [
        sys.executable, "-m", "igflow", "run", str(playbook), "--target", sandbox.url,
        "--journal", str(journal),
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [*command, "--report", f"json:{report}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 90
    while not (journal.is_file() and '"intent"' in journal.read_text()):
        assert process.poll() is None, "igflow finished before it could be interrupted"
        assert time.monotonic() < deadline, "no intent was journaled"
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    faults(sandbox)
    body = json.loads(report.read_text())
    unlike = next(step for step in body["steps"] if step["id"] == "unlike")
    assert [item["status"] for item in unlike["items"]] == ["in-doubt"]
    assert len(body["writes"]["in_doubt"]) == 1
    assert "igflow run --resume settles them" in out
    assert read_state(str(journal)).in_doubt_count == 1

    code, out, err = run_cli(*command[3:], "--resume")
    assert code == 0, out + err
    assert "resent: likes.delete is idempotent" in out
    assert read_state(str(journal)).in_doubt_count == 0

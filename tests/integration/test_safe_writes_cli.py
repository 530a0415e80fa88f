"""igflow plan, run --dry-run, caps and confirmation through the real CLI and a served sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli
from housekeeping_support import PLAYBOOKS, Sandbox, generated_sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with generated_sandbox(tmp_path) as served:
        yield served


def unlike_loop(tmp_path: Path, extra: str = "") -> Path:
    playbook = tmp_path / "unlike.yml"
    playbook.write_text(
        f"""\
igflow: 1
steps:
  - authorize: {{client: live, user: grantwinney, scopes: [basic, public_content, likes]}}
  - call: users.media_liked
    with: {{count: 33}}
    paginate: {{max_items: 40}}
    extract: {{liked: "$.data[*].id"}}
  - name: Unlike them
    foreach: "{{{{ liked }}}}"
    call: likes.delete
    with: {{media_id: "{{{{ item }}}}"}}
    max_writes: 40
{extra}"""
    )
    return playbook


def run(sandbox: Sandbox, playbook: Path, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    journal = str(tmp_path / "journal.jsonl")
    return run_cli("run", str(playbook), "--target", sandbox.url, "--journal", journal, *args)


def test_plan_lists_steps_scopes_writes_and_estimates() -> None:
    code, out, err = run_cli("plan", str(PLAYBOOKS / "seed_walkthrough.yml"))
    assert code == 0, err
    assert "scopes needed: basic, likes" in out
    assert "writes: step 6 DELETE likes.delete (idempotent); step 8 DELETE likes.delete" in out
    assert "requests: 6 (authorize flows not counted)" in out
    code, out, _ = run_cli("plan", "--json", str(PLAYBOOKS / "prune_spam_comments.yml"))
    plan = json.loads(out)
    writes = [step for step in plan["steps"] if step["writes"]]
    assert [step["action"] for step in writes] == ["DELETE comments.delete"]
    assert plan["requests"]["at_most"] is None  # it depends on the lists at run time


def test_plan_of_an_invalid_playbook_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("igflow: 1\nsteps:\n  - call: nope\n")
    code, _, err = run_cli("plan", str(bad))
    assert code == 2 and "unknown endpoint 'nope'" in err


def test_dry_run_reads_for_real_and_sends_no_write(sandbox: Sandbox, tmp_path: Path) -> None:
    before = sandbox.liked_by_me()
    code, out, err = run(sandbox, unlike_loop(tmp_path), tmp_path, "--dry-run")
    assert code == 0, out + err
    assert sandbox.liked_by_me() == before
    assert sandbox.requests("likes.delete") == []
    assert len(sandbox.requests("users.media_liked")) == 2  # the reads did happen
    assert out.count("would send DELETE likes.delete media_id=") == 40
    assert "dry run: would send likes.delete ×40; nothing was sent to the account" in out
    assert not (tmp_path / "journal.jsonl").exists()


def test_max_writes_stops_the_run_with_exit_6(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = run(sandbox, unlike_loop(tmp_path), tmp_path, "--max-writes", "7")
    assert code == 6, out + err
    assert len(sandbox.requests("likes.delete")) == 7
    assert "write cap reached: --max-writes 7" in err
    assert "igflow run --resume" in err


def test_confirm_refuses_without_a_terminal_unless_yes(sandbox: Sandbox, tmp_path: Path) -> None:
    playbook = unlike_loop(tmp_path)
    playbook.write_text(
        playbook.read_text().replace("max_writes: 40", "max_writes: 40\n    confirm: true")
    )
    code, out, err = run(sandbox, playbook, tmp_path)
    assert code == 6, out + err
    assert "not confirmed, nothing sent" in err
    assert sandbox.requests("likes.delete") == []
    code, out, err = run(sandbox, playbook, tmp_path, "--yes")
    assert code == 0, out + err
    assert len(sandbox.requests("likes.delete")) == 40


def test_a_dry_run_never_asks(sandbox: Sandbox, tmp_path: Path) -> None:
    playbook = unlike_loop(tmp_path)
    playbook.write_text(
        playbook.read_text().replace("max_writes: 40", "max_writes: 40\n    confirm: true")
    )
    code, out, err = run(sandbox, playbook, tmp_path, "--dry-run")
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--resume", "--dry-run"), "cannot be combined"),
        (("--resume",), "nothing to resume"),
        (("--max-writes", "many"), "expected a whole number"),
    ],
)
def test_safety_flags_misused_are_usage_errors(
    sandbox: Sandbox, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = run(sandbox, unlike_loop(tmp_path), tmp_path, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_a_fresh_run_refuses_to_forget_writes_in_doubt(sandbox: Sandbox, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text(
        json.dumps({"type": "run", "digest": "x", "playbook": "unlike.yml"})
        + "\n"
        + json.dumps({"type": "intent", "key": ["s", "f"], "serial": "1.1"})
        + "\n"
    )
    code, _, err = run(sandbox, unlike_loop(tmp_path), tmp_path)
    assert code == 6
    assert "left 1 write in doubt" in err and "--resume" in err and "journal settle" in err
    assert sandbox.requests("likes.delete") == []


def test_check_warns_about_a_loop_of_writes_without_a_cap(tmp_path: Path) -> None:
    playbook = unlike_loop(tmp_path)
    playbook.write_text(playbook.read_text().replace("    max_writes: 40\n", ""))
    code, out, err = run_cli("check", str(playbook))
    assert code == 0
    assert "warning: this loop sends one likes.delete per item with no cap" in err


def test_the_built_in_sandbox_keeps_no_journal_and_cannot_resume(tmp_path: Path) -> None:
    """Its state ends with the run: a journal of it could never be resumed."""
    walkthrough = str(PLAYBOOKS / "seed_walkthrough.yml")
    code, _, err = run_cli("run", walkthrough, "--resume")
    assert code == 2 and "nothing to resume: the built-in sandbox starts afresh" in err

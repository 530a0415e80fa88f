"""The real CLI, in-process (cli.main with injected streams) and as a subprocess."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
BROKEN = sorted((ROOT / "tests" / "playbooks" / "broken").glob("*.yml"))


def test_help_lists_commands_and_exit_codes() -> None:
    code, out, _ = run_cli("--help")
    assert code == 0
    for command in ("run", "check", "endpoints", "schema", "sandbox"):
        assert command in out
    assert "130 interrupted" in out


def test_no_command_prints_help_and_exits_2() -> None:
    code, out, _ = run_cli()
    assert code == 2
    assert "usage: igflow" in out


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    code, _, err = run_cli("run", "--no-such-option", "x.yml")
    assert code == 2
    assert "unrecognized arguments" in err
    assert "Traceback" not in err


def test_endpoints_lists_the_whole_registry() -> None:
    code, out, _ = run_cli("endpoints")
    assert code == 0
    ids = re.findall(r"^([a-z_]+\.[a-z_]+)\s", out, flags=re.M)
    assert len(ids) == 33
    assert "likes.delete" in ids and "oembed.get" in ids
    delete_row = next(line for line in out.splitlines() if line.startswith("likes.delete "))
    assert "DELETE" in delete_row and "/v1/media/{media_id}/likes" in delete_row
    assert "likes" in delete_row and "yes, idempotent" in delete_row


def test_endpoints_shows_one_endpoint() -> None:
    code, out, _ = run_cli("endpoints", "comments.create")
    assert code == 0
    assert "POST https://api.instagram.com/v1/media/{media_id}/comments" in out
    assert "NOT idempotent" in out
    assert re.search(r"text\s+form, string, required", out)


def test_unknown_endpoint_suggests_the_closest() -> None:
    code, _, err = run_cli("endpoints", "like.delete")
    assert code == 2
    assert "did you mean 'likes.delete'" in err


def test_schema_prints_the_playbook_schema() -> None:
    code, out, _ = run_cli("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    code, out, _ = run_cli("schema", "--registry")
    assert json.loads(out)["title"] == "igflow endpoint registry"


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_every_example_playbook_passes_check(path: Path) -> None:
    code, out, err = run_cli("check", str(path))
    assert code == 0, err
    assert out.startswith(f"{path}: ok")


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_every_example_playbook_carries_the_schema_modeline(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/playbook.schema.json"


def _yaml_examples(markdown: Path) -> list[str]:
    blocks = re.findall(r"```yaml\n(.*?)```", markdown.read_text(encoding="utf-8"), flags=re.S)
    return [block for block in blocks if re.search(r"^igflow: 1$", block, flags=re.M)]


@pytest.mark.parametrize("doc", ["README.md", "docs/language.md"])
def test_every_documented_playbook_passes_check(doc: str, tmp_path: Path) -> None:
    examples = _yaml_examples(ROOT / doc)
    assert examples, f"{doc} has no playbook examples"
    for number, text in enumerate(examples):
        assert text.startswith("# yaml-language-server: $schema="), f"{doc} example {number}"
        path = tmp_path / f"example{number}.yml"
        path.write_text(text, encoding="utf-8")
        code, _, err = run_cli("check", str(path))
        assert code == 0, f"{doc} example {number}:\n{err}"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_playbooks_exit_2_with_a_located_message(path: Path) -> None:
    code, out, err = run_cli("check", str(path))
    assert code == 2
    assert "Traceback" not in err + out
    assert re.search(rf"{re.escape(str(path))}:\d+:\d+: ", err), err


def test_missing_playbook_file_is_a_usage_error() -> None:
    code, _, err = run_cli("check", "does/not/exist.yml")
    assert code == 2
    assert "does/not/exist.yml" in err
    assert "Traceback" not in err


def test_vars_file_must_be_a_mapping(tmp_path: Path) -> None:
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text("- not\n- a mapping\n", encoding="utf-8")
    code, _, err = run_cli("check", str(PLAYBOOKS[0]), "--vars-file", str(vars_file))
    assert code == 2
    assert "must be a mapping" in err


def test_bad_var_syntax_is_a_usage_error() -> None:
    code, _, err = run_cli("check", str(PLAYBOOKS[0]), "--var", "no-equals-sign")
    assert code == 2
    assert "NAME=VALUE" in err


def test_console_script_runs_as_a_real_process() -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "igflow", "check", str(ROOT / "playbooks" / "seed_walkthrough.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ok (" in completed.stdout


def test_a_closed_pipe_stops_quietly() -> None:
    import io

    from igflow.cli import Environment, main

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    err = io.StringIO()
    code = main(["endpoints"], Environment(stdout=ClosedPipe(), stderr=err, environ={}))
    assert code == 141  # as a process killed by SIGPIPE: not 130, "interrupted"
    assert err.getvalue() == ""


def test_a_real_closed_pipe_exits_141_quietly() -> None:
    """`igflow run ... | head -1`: the reader goes away after the first line."""
    script = (
        f"{shlex.quote(sys.executable)} -m igflow run "
        f"{shlex.quote(str(ROOT / 'playbooks' / 'seed_walkthrough.yml'))} | head -1; "
        'echo "status=${PIPESTATUS[0]}"'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert completed.stdout.splitlines()[-1] in ("status=141", "status=0"), completed
    assert "Traceback" not in completed.stderr and "interrupted" not in completed.stderr


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_console_that_cannot_show_an_arrow_gets_ascii(encoding: str, command: str) -> None:
    """PYTHONIOENCODING=ascii crashed run and plan with exit 70 on the → of their first line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": encoding}
    completed = subprocess.run(
        [sys.executable, "-m", "igflow", command, str(ROOT / "playbooks" / "seed_walkthrough.yml")],
        capture_output=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    out = completed.stdout.decode(encoding)
    assert "Traceback" not in completed.stderr.decode(errors="replace")
    if command == "run":
        assert " -> http://127.0.0.1:" in out and "ok: 8 passed" in out

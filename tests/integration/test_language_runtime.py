"""Run-time failures of the playbook language through the real CLI (issue 12): an error the
check could not see ends with exit 2 and a located message, never exit 70 or a traceback."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import run_cli


def test_an_invalid_pattern_from_a_variable_is_exit_2_at_run_time(tmp_path: Path) -> None:
    path = tmp_path / "play.yml"
    path.write_text(
        "igflow: 1\nvars: {pattern: '(a'}\nsteps:\n  - assert: \"'x' is regex_search(pattern)\"\n",
        encoding="utf-8",
    )
    assert run_cli("check", str(path))[0] == 0
    code, _, err = run_cli("run", str(path), "--dry-run")
    assert code == 2
    assert f"{path}:4:13: invalid regular expression '(a': missing ) at position 2" in err
    assert "Traceback" not in err


def test_a_number_held_as_text_says_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "play.yml"
    path.write_text(
        "igflow: 1\nvars: {items: [1, 2, 3], n: '2'}\nsteps:\n"
        "  - assert: items[:n] | length == 2\n",
        encoding="utf-8",
    )
    code, _, err = run_cli("run", str(path), "--dry-run")
    assert code == 2
    assert (
        f"{path}:4:13: slice indices must be integers: `n` is a string ('2'); use `n | int`, "
        "or pass it typed (--var n:=2)"
    ) in err

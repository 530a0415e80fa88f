"""`--var NAME:=JSON`: typed variables from the command line (issue 12, item 1)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cli_helpers import run_cli


def write_playbook(tmp_path: Path, body: str) -> str:
    path = tmp_path / "play.yml"
    path.write_text("igflow: 1\n" + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def test_a_typed_var_is_a_number_a_slice_can_use(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars: {n: 2, items: [a, b, c, d]}
        steps:
          - log: "first {{ items[:n] | join(',') }} of {{ n + 1 }}"
        """,
    )
    code, out, err = run_cli("run", path, "--var", "n:=3")
    assert code == 0, out + err
    assert "first a,b,c of 4" in out


def test_typed_vars_take_lists_and_booleans(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars: {tags: [], on: false}
        steps:
          - assert: ["tags == ['a', 'b']", "on is sameas true"]
        """,
    )
    code, out, err = run_cli("run", path, "--var", 'tags:=["a","b"]', "--var", "on:=true")
    assert code == 0, out + err


def test_a_plain_var_stays_a_string(tmp_path: Path) -> None:
    path = write_playbook(tmp_path, "steps:\n  - assert: [\"n == '5'\"]\n")
    code, out, err = run_cli("run", path, "--var", "n=5")
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("n:=five", "--var n:= expects JSON"),
        ("n:=", "--var n:= expects JSON"),
        ("tags:=[1,", "--var tags:= expects JSON"),
        ("n:=NaN", "NaN is not JSON"),
        ('m:={"a": 1, "a": 2}', "the key 'a' appears twice"),
        ("n:=" + "[" * 5000 + "]" * 5000, "nests deeper than 100 levels"),
        ("n:=" + "9" * 2000, "a number of 2000 characters"),
    ],
)
def test_invalid_json_is_a_usage_error_naming_the_variable(
    tmp_path: Path, item: str, words: str
) -> None:
    path = write_playbook(tmp_path, "steps:\n  - log: hi\n")
    code, out, err = run_cli("run", path, "--var", item)
    assert code == 2, out + err
    assert words in err
    assert "Traceback" not in err and out == ""


def test_check_accepts_a_typed_var(tmp_path: Path) -> None:
    path = write_playbook(tmp_path, 'steps:\n  - log: "{{ n + 1 }}"\n')
    code, _, err = run_cli("check", path, "--var", "n:=1")
    assert code == 0, err

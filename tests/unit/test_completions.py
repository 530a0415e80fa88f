"""Shell completion: the shipped scripts are what shtab generates from today's parser."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from igflow.cli import Environment, main
from igflow.completion_scripts import SHELLS, completion_script

COMPLETIONS = Path(__file__).resolve().parents[2] / "igflow" / "completions"


@pytest.mark.parametrize("shell", SHELLS)
def test_the_shipped_script_is_in_step_with_the_parser(shell: str) -> None:
    shipped = (COMPLETIONS / f"igflow.{shell}").read_text(encoding="utf-8")
    assert shipped == completion_script(shell), "run python scripts/gen_completions.py"


@pytest.mark.parametrize("shell", SHELLS)
def test_igflow_completion_prints_it(shell: str) -> None:
    out = io.StringIO()
    assert main(["completion", shell], Environment(stdout=out, stderr=io.StringIO())) == 0
    assert out.getvalue() == (COMPLETIONS / f"igflow.{shell}").read_text(encoding="utf-8")


def test_the_bash_script_knows_commands_and_options() -> None:
    script = (COMPLETIONS / "igflow.bash").read_text(encoding="utf-8")
    assert "_shtab_igflow_subparsers=(run plan check endpoints schema journal sandbox" in script
    assert "--dry-run" in script and "--on-rate-limit" in script
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(COMPLETIONS / "igflow.bash")], check=True)


def test_an_unknown_shell_is_a_usage_error() -> None:
    err = io.StringIO()
    assert main(["completion", "fish"], Environment(stdout=io.StringIO(), stderr=err)) == 2
    assert "invalid choice: 'fish'" in err.getvalue()

"""`igflow --help` is served from igflow/help.txt without argparse: the text must be the CLI's own.

Regenerate the file after changing the top-level parser with
``IGFLOW_UPDATE_GOLDEN=1 pytest tests/unit/test_launch.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import igflow
from igflow import __version__
from igflow.argv import build_parser as _build_parser
from igflow.argv import command_named as _command_named
from igflow.launch import help_text

HELP_FILE = Path(__file__).resolve().parents[2] / "igflow" / "help.txt"
_IGFLOW_PARENT = str(Path(igflow.__file__).resolve().parents[1])

_PROBE = """
import sys
# Run with -S: no site hook (some interpreters' import typing and re), so what the fast path
# imports is all that is measured; igflow is found where this test's igflow is.
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
sys.argv = ["igflow", *sys.argv[2:]]
import igflow.launch
code = igflow.launch.main()
heavy = ("argparse", "igflow.cli", "igflow.errors", "typing", "re", "enum")
loaded = [m for m in heavy if m in sys.modules and m not in before]
import json
sys.stderr.write(json.dumps({"code": code, "loaded": loaded}))
"""


def test_the_shipped_help_is_what_the_parser_prints() -> None:
    expected = _build_parser().format_help()
    if os.environ.get("IGFLOW_UPDATE_GOLDEN"):
        HELP_FILE.write_text(expected, encoding="utf-8")
    assert help_text() == expected, "run IGFLOW_UPDATE_GOLDEN=1 pytest tests/unit/test_launch.py"


@pytest.mark.parametrize(
    ("argv", "code", "output"),
    [
        (["--help"], 0, "help"),
        (["-h"], 0, "help"),
        ([], 2, "help"),
        (["--version"], 0, f"igflow {__version__}\n"),
        (["-V"], 0, f"igflow {__version__}\n"),
    ],
)
def test_the_fast_path_answers_without_argparse(argv: list[str], code: int, output: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE, _IGFLOW_PARENT, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    result = json.loads(completed.stderr)
    assert result == {"code": code, "loaded": []}
    assert completed.stdout == (help_text() if output == "help" else output)


def test_anything_else_goes_to_the_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "igflow", "check", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith("usage: igflow check")


@pytest.mark.parametrize("command", ["run", "plan", "check", "endpoints", "schema", "sandbox"])
def test_a_parser_built_for_one_command_reads_it_as_the_whole_parser_does(command: str) -> None:
    whole, one = _build_parser(), _build_parser(command)
    assert one.format_help() == whole.format_help()  # every command is still listed

    def subcommand_help(parser: argparse.ArgumentParser) -> str:
        with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:
            parser.parse_args([command, "--help"])
        return out.getvalue()

    assert subcommand_help(one) == subcommand_help(whole)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["run", "x.yml"], "run"),
        (["--traceback", "check", "a.yml"], "check"),
        (["sandbox", "serve"], "sandbox"),
        (["-h"], None),
        (["nope", "run"], None),
        (["--", "run"], None),
    ],
)
def test_the_command_is_read_off_the_first_word(argv: list[str], command: str | None) -> None:
    assert _command_named(argv) == command

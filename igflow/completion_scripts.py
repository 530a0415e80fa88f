"""Shell completion scripts generated from the command line's parser with shtab.

Used by scripts/gen_completions.py and its test only; never by the ``igflow`` command, which
prints the generated files shipped in igflow/completions/ (``igflow completion SHELL``).
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["SHELLS", "completion_script"]

SHELLS = ("bash", "zsh", "tcsh")

# Arguments that name files or directories complete as such (shtab's FILE and DIRECTORY).
_FILES = {"playbook", "playbooks", "vars_file", "journal", "db", "data", "request_log"}
_DIRECTORIES = {"out_dir"}


def completion_script(shell: str) -> str:
    import shtab

    from igflow.argv import build_parser

    parser = build_parser()  # every subcommand's arguments
    _mark_paths(parser, shtab)
    text: str = shtab.complete(parser, shell=shell)
    return text if text.endswith("\n") else text + "\n"


def _mark_paths(parser: argparse.ArgumentParser, shtab: Any) -> None:
    for action in parser._actions:  # argparse has no public walk of its actions
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _mark_paths(sub, shtab)
        elif action.dest in _FILES:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.dest in _DIRECTORIES:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]

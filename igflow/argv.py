"""The command line's grammar: every command's options (argparse), built on demand.

Only the named subcommand gets its arguments built (building them all costs about 4 ms on every
start); the others are still listed by name, for help and for the choices in a usage error. A
usage error is raised as :class:`~igflow.errors.UsageError`, so it takes the one error path.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from igflow import __version__
from igflow.errors import UsageError

if TYPE_CHECKING:
    from igflow.reporters import ReportSpec

__all__ = ["HELP_WIDTH", "build_parser", "command_named"]


# Help is wrapped at a fixed width, so the top-level help igflow.launch serves without argparse
# (igflow/help.txt) is exactly what argparse would print, on any terminal.
HELP_WIDTH = 80


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=HELP_WIDTH)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # argparse exits 2 by itself; keep one error path
        raise UsageError(f"{self.prog}: {message}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; given ``command``, only that subcommand gets its arguments.

    Building every subcommand's arguments costs about 4 ms more than building one, on every
    start; the others are still listed (help, and the choices in a usage error) by name.
    """
    parser = _Parser(
        prog="igflow",
        description="Run declarative YAML playbooks against the Instagram API "
        "(by default against the built-in sandbox of API v1).",
        epilog="Exit codes: 0 ok, 1 assertion or expectation failed, 2 usage or invalid playbook, "
        "3 API error, 4 transport failure, 5 authentication, 6 safety rule, 7 writes in doubt, "
        "70 internal error, 130 interrupted.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"igflow {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show a Python traceback for errors (debugging)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, add_arguments) in _COMMANDS.items():
        subparser = commands.add_parser(name, help=help_text)
        if command is None or command == name:
            add_arguments(subparser)
    return parser


def command_named(args: Sequence[str]) -> str | None:
    """The subcommand ``args`` name, if they name a known one before any other word."""
    for arg in args:
        if arg == "--":
            return None
        if not arg.startswith("-"):  # igflow's own options (--traceback, --version) take no value
            return arg if arg in _COMMANDS else None
    return None


def _add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("playbook", help="the playbook file (YAML)")
    _add_variable_options(run)
    run.add_argument(
        "--target",
        help="'sandbox' (default: a fresh in-process sandbox) or an API origin URL, "
        "e.g. http://127.0.0.1:8765 for `igflow sandbox serve`",
    )
    run.add_argument(
        "--api-version",
        metavar="VERSION",
        help="the Graph API version to call, e.g. v24.0 (default: the playbook's api_version, "
        "else the version instagram.graph pins, v25.0)",
    )
    run.add_argument(
        "--sandbox-data",
        metavar="FILE",
        help="a dataset YAML for the built-in sandbox (fresh each run; overrides the "
        "playbook's sandbox_data)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="read timeout for every request (default 30; connect timeout 5)",
    )
    run.add_argument(
        "--max-response-bytes",
        type=_count,
        metavar="N",
        help="the most bytes one response may have, decompressed (default 67108864, 64 MiB); "
        "a larger one stops the run (exit 4)",
    )
    verbosity = run.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="show each HTTP exchange (secrets redacted)"
    )
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="show only errors and the summary"
    )
    run.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour output (auto: on a terminal, or when FORCE_COLOR is set; never when "
        "NO_COLOR is set or TERM=dumb)",
    )
    run.add_argument(
        "--report",
        action="append",
        default=[],
        type=_report_spec,
        metavar="FORMAT:PATH",
        help="also write a report: json:PATH (every step and item) or junit:PATH (for CI); "
        "repeatable; written however the run ends",
    )
    run.add_argument(
        "--out-dir",
        metavar="DIR",
        help="where `write` steps write: their paths are relative to DIR and stay under it "
        "(default: the playbook's directory)",
    )
    safety = run.add_argument_group("safe writes")
    safety.add_argument(
        "--dry-run",
        action="store_true",
        help="perform the reads, print every write with its parameters instead of sending it",
    )
    safety.add_argument(
        "--max-writes",
        type=_count,
        metavar="N",
        help="refuse (exit 6) to send more than N writes in this run",
    )
    safety.add_argument(
        "--yes", action="store_true", help="answer yes to `confirm: true` steps (for scripts, CI)"
    )
    safety.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: skip writes its journal says were done",
    )
    safety.add_argument(
        "--force",
        action="store_true",
        help="replace a --report file that is not an igflow report, or a journal igflow "
        "cannot read; with --resume: resume even though the playbook or its variables changed",
    )
    safety.add_argument(
        "--journal",
        metavar="PATH",
        help="the resume journal (default .igflow/journals/<playbook>-<hash>.jsonl here)",
    )
    safety.add_argument(
        "--retries",
        type=_count,
        metavar="N",
        help="tries per request where a retry is safe (default 3; a step's `retry` wins)",
    )
    safety.add_argument(
        "--on-rate-limit",
        choices=("halt", "wait"),
        help="when the API's rate limit is spent: halt (default) or wait and go on",
    )
    run.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _add_plan_arguments(plan: argparse.ArgumentParser) -> None:
    plan.add_argument("playbook", help="the playbook file (YAML)")
    _add_variable_options(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _add_check_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument(
        "playbooks",
        nargs="+",
        metavar="PLAYBOOK",
        help="playbook files, or directories: every playbook under them (*.igflow.yml, and "
        "YAML files that start with `igflow: 1`)",
    )
    _add_variable_options(check)
    check.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _add_endpoints_arguments(endpoints: argparse.ArgumentParser) -> None:
    endpoints.add_argument("endpoint", nargs="?", help="an endpoint id, e.g. likes.delete")
    from igflow.registry import PROFILES  # built only for `igflow endpoints`

    endpoints.add_argument(
        "--api",
        default="instagram.v1",
        choices=tuple(PROFILES),
        help="registry profile: instagram.v1 (legacy, the default) or instagram.graph",
    )


def _add_schema_arguments(schema: argparse.ArgumentParser) -> None:
    schema.add_argument("--registry", action="store_true", help="print the registry schema instead")


def _add_completion_arguments(completion: argparse.ArgumentParser) -> None:
    completion.add_argument(
        "shell",
        choices=("bash", "zsh", "tcsh"),
        help='the shell; e.g. eval "$(igflow completion bash)" in ~/.bashrc',
    )


def _add_journal_arguments(journal: argparse.ArgumentParser) -> None:
    from igflow.journal_cli import add_journal_parser

    add_journal_parser(journal)


def _add_sandbox_arguments(sandbox: argparse.ArgumentParser) -> None:
    from igflow.sandbox.cli import add_sandbox_parser

    add_sandbox_parser(sandbox)


_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "run": ("validate a playbook, then run it step by step", _add_run_arguments),
    "plan": (
        "show what a playbook will do: steps, scopes, writes, request estimates",
        _add_plan_arguments,
    ),
    "check": ("validate playbooks without sending anything", _add_check_arguments),
    "endpoints": ("list the endpoint registry, or show one", _add_endpoints_arguments),
    "schema": ("print the playbook JSON Schema (for editors)", _add_schema_arguments),
    "journal": (
        "show a resume journal, settle its writes in doubt, or discard it",
        _add_journal_arguments,
    ),
    "sandbox": ("serve and manage the built-in Instagram API v1 sandbox", _add_sandbox_arguments),
    "completion": ("print a shell completion script (bash, zsh, tcsh)", _add_completion_arguments),
}


def _count(text: str) -> int:
    """argparse ``type`` for counts: a whole number, 0 or more."""
    if not text.strip().isdigit():
        raise UsageError(f"expected a whole number, got {text!r}")
    return int(text)


def _report_spec(text: str) -> ReportSpec:
    """argparse ``type`` for ``--report``: a bad value is a usage error naming the formats."""
    from igflow.reporters import parse_report_spec  # light: no writer is imported

    try:
        return parse_report_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_variable_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable (repeatable); overrides the playbook's vars; NAME:=JSON sets a "
        "typed value (n:=5, on:=true, tags:='[\"a\"]')",
    )
    parser.add_argument("--vars-file", metavar="FILE", help="a YAML mapping of variables")

"""The command line: parse argv, call one function, map errors to exit codes.

This is the only module that prints errors and decides exit codes. Imports of everything heavy
(jinja2, jsonschema, requests, werkzeug) happen inside the commands, so `igflow --help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from igflow import __version__, gcpolicy
from igflow.errors import ExitCode, IgflowError, UsageError, printable

if TYPE_CHECKING:  # imported for real inside the commands, so `igflow --help` stays fast
    from igflow.client import Timeouts
    from igflow.journal import Journal
    from igflow.playbook.model import Playbook, Step
    from igflow.redact import Redactor
    from igflow.reporters import ReportSpec
    from igflow.reporters.common import ReportWriter
    from igflow.results import RunResult
    from igflow.safety import WriteGate


class Environment:
    """What a command may touch: streams and environment variables (injected by tests)."""

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        from igflow.textout import DegradingStream

        # A console that cannot show → or × gets ASCII, never a crash (igflow.textout).
        self.stdout: TextIO = DegradingStream(stdout if stdout is not None else sys.stdout)  # type: ignore[assignment]
        self.stderr: TextIO = DegradingStream(stderr if stderr is not None else sys.stderr)  # type: ignore[assignment]
        self.stdin: TextIO = stdin if stdin is not None else sys.stdin
        self.environ: Mapping[str, str] = dict(os.environ) if environ is None else environ

    def color(self, stream: TextIO, choice: str = "auto") -> bool:
        if choice != "auto":
            return choice == "always"
        if "NO_COLOR" in self.environ:
            return False
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())


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


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
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
    parser.add_argument("--version", action="version", version=f"igflow {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show a Python traceback for errors (debugging)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, add_arguments) in _COMMANDS.items():
        subparser = commands.add_parser(name, help=help_text)
        if command is None or command == name:
            add_arguments(subparser)
    return parser


def _command_named(args: Sequence[str]) -> str | None:
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
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="read timeout for every request (default 30; connect timeout 5)",
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
        help="colour output (auto: only on a terminal, never when NO_COLOR is set)",
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
    check.add_argument("playbooks", nargs="+", metavar="PLAYBOOK")
    _add_variable_options(check)
    check.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _add_endpoints_arguments(endpoints: argparse.ArgumentParser) -> None:
    endpoints.add_argument("endpoint", nargs="?", help="an endpoint id, e.g. likes.delete")
    endpoints.add_argument("--api", default="instagram.v1", help="registry profile")


def _add_schema_arguments(schema: argparse.ArgumentParser) -> None:
    schema.add_argument("--registry", action="store_true", help="print the registry schema instead")


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


# -- commands --------------------------------------------------------------------------------


def _external_variables(args: argparse.Namespace) -> dict[str, Any]:
    from igflow.variables import external_variables

    return external_variables(args.var, args.vars_file)


def _compile(path: str, names: Sequence[str]) -> Playbook:
    from igflow.playbook import check_playbook

    return check_playbook(path, external_names=names)


def cmd_check(args: argparse.Namespace, env: Environment) -> int:
    from igflow.playbook import diagnose_playbook, format_issue

    names = list(_external_variables(args))
    worst = ExitCode.OK
    for path in args.playbooks:
        diagnosis = diagnose_playbook(path, external_names=names)
        for issue in diagnosis.issues:
            env.stderr.write(format_issue(issue, diagnosis.lines) + "\n")
        errors = sum(1 for issue in diagnosis.issues if issue.severity == "error")
        if not diagnosis.ok:
            env.stderr.write(
                f"igflow: {path}: {errors} problem{'s' if errors != 1 else ''} found\n"
            )
            worst = ExitCode.USAGE
            continue
        assert diagnosis.playbook is not None
        count = len(diagnosis.playbook.steps)
        env.stdout.write(f"{path}: ok ({count} step{'s' if count != 1 else ''})\n")
    return int(worst)


def cmd_run(args: argparse.Namespace, env: Environment) -> int:
    from igflow.redact import Redactor
    from igflow.reporters import make_report_writer

    specs: list[ReportSpec] = args.report
    paths = [_real_path(spec.path) for spec in specs]
    for spec, path in zip(specs, paths, strict=True):
        if paths.count(path) > 1:
            raise UsageError(f"--report: {spec.path} is given more than once")
    out_dir = args.out_dir
    if out_dir is not None and os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"--out-dir {args.out_dir}: that is not a directory")
    # The redactor is shared: tokens the run obtains are registered before the reports render.
    redactor = Redactor()
    writers = []
    for spec in specs:
        # A report never replaces the playbook, the --vars-file or another report.
        others = [other for other in specs if other is not spec]
        writer = make_report_writer(
            spec, redactor, args.playbook, force=args.force, protected=_protected(args, others)
        )
        try:
            writer.check_target()  # before anything is sent; again when it is written
        except IgflowError as exc:
            raise UsageError(f"--report {spec.format}:{spec.path}: {exc.message}") from None
        writers.append(writer)
    try:
        code = _run_playbook(args, env, redactor, writers)
    except BaseException as exc:
        # The run stopped before it finished (invalid playbook, usage error, Ctrl-C, a bug):
        # the reports are still written, saying so, and the error goes on to `main`.
        for writer in writers:
            writer.close(exc)
        _report_write_failures(writers, env)
        raise
    for writer in writers:
        writer.close()
    if _report_write_failures(writers, env) and code == ExitCode.OK:
        return int(ExitCode.USAGE)
    return code


def _real_path(path: str) -> str:
    """``path`` with its directories' links resolved (the file itself may not exist yet)."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(directory), name)


def _protected(args: argparse.Namespace, reports: Sequence[ReportSpec]) -> dict[str, str]:
    """The files a run's outputs must never replace: real path -> what it is."""
    named: dict[str, str] = {}
    for spec in reports:
        named[_real_path(spec.path)] = f"the {spec.format} report of this run"
    for what, path in (("the playbook", args.playbook), ("the --vars-file", args.vars_file)):
        if path:
            named[os.path.realpath(path)] = what
            named.setdefault(_real_path(path), what)  # the name itself, if it is a link
    return named


def _report_write_failures(writers: Sequence[ReportWriter], env: Environment) -> bool:
    """Say which reports could not be written (once each); True if any."""
    failed = False
    for writer in writers:
        if writer.failure is not None:
            failed = True
            env.stderr.write(f"igflow: {writer.format_name} report: {writer.failure.message}\n")
            writer.failure = None
    return failed


def _run_playbook(
    args: argparse.Namespace,
    env: Environment,
    redactor: Redactor,
    writers: Sequence[ReportWriter],
) -> int:
    from igflow.registry import load_registry
    from igflow.reporters import FanOut
    from igflow.reporters.console import ConsoleOptions, ConsoleReporter
    from igflow.safety import WriteGate

    variables = _external_variables(args)
    playbook = _compile(args.playbook, list(variables))
    for writer in writers:
        writer.set_playbook(playbook)
    for name in playbook.secrets:
        if name in variables:
            redactor.add(str(variables[name]))
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    options = ConsoleOptions(
        verbosity=1 if args.verbose else (-1 if args.quiet else 0),
        color=env.color(env.stdout, args.color),
        tty=_isatty(env.stdout),
    )
    console = ConsoleReporter(env.stdout, redactor, options)
    reporter = FanOut([console, *writers]) if writers else console
    registry = load_registry(playbook.api)
    journal = _open_journal(args, env, playbook, variables, redactor)
    gate = WriteGate(
        dry_run=args.dry_run,
        max_writes=args.max_writes,
        journal=journal,
        confirm=_confirmer(args, env),
        registry=registry,
        redact=redactor.redact,
    )
    try:
        result = _execute(args, env, playbook, variables, redactor, reporter, console, gate)
    except BaseException:
        if journal is not None:
            journal.close()
        raise
    if journal is not None:
        _finish_journal(journal, result, args, env)
    if result.interrupted:
        env.stderr.write("igflow: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    if result.error is not None:
        _report_error(
            result.error,
            env,
            traceback_wanted=args.traceback,
            lines=playbook.lines,
            redact=redactor.redact,
        )
        return int(result.error.exit_code)
    return int(ExitCode.OK)


def _execute(
    args: argparse.Namespace,
    env: Environment,
    playbook: Playbook,
    variables: dict[str, Any],
    redactor: Redactor,
    reporter: Any,
    console: Any,
    gate: WriteGate,
) -> RunResult:
    from igflow.outputs import OutputDir
    from igflow.playbook.model import RetrySpec
    from igflow.registry import load_registry
    from igflow.reporters.common import SANDBOX_SUFFIX
    from igflow.runner import Runner
    from igflow.target import SANDBOX, TargetSession

    default_timeouts = _timeouts(args.timeout)
    target = args.target or playbook.target or SANDBOX
    registry = load_registry(playbook.api)
    with TargetSession(
        target,
        registry=registry,
        redactor=redactor,
        timeouts=default_timeouts,
        on_exchange=console.exchange if args.verbose else None,
        retry=RetrySpec(attempts=max(args.retries, 1)) if args.retries is not None else None,
        rate_limit_policy=args.on_rate_limit or playbook.on_rate_limit or "halt",
        on_retry=console.retry_notice,
        on_rate_limit_wait=console.rate_limit_wait,
    ) as session:
        runner = Runner(
            playbook,
            session,
            reporter,
            variables=variables,
            environ=env.environ,
            redact_value=lambda value: redactor.add(str(value)),
            redact_text=redactor.redact,
            next_url_path=registry.next_url_path,
            timeouts_for=lambda seconds: (
                default_timeouts if seconds is None else _timeouts(seconds)
            ),
            gate=gate,
            outputs=OutputDir(
                args.out_dir or os.path.dirname(args.playbook) or ".",
                protected=_protected(args, args.report),
            ),
        )
        origin = session.origin + (SANDBOX_SUFFIX if target == SANDBOX else "")
        gcpolicy.settled()
        return runner.run(origin)


def _open_journal(
    args: argparse.Namespace,
    env: Environment,
    playbook: Playbook,
    variables: dict[str, Any],
    redactor: Redactor,
) -> Journal | None:
    """The resume journal, for a run that may write (none for a dry run or a read-only one)."""
    from igflow.journal import Journal, check_journal_path, default_journal_path, playbook_digest
    from igflow.target import SANDBOX, normalize_origin

    if args.dry_run and args.resume:
        raise UsageError("--dry-run and --resume cannot be combined (a dry run sends no write)")
    target = args.target or playbook.target or SANDBOX
    embedded = target == SANDBOX
    if embedded and args.resume:
        raise UsageError(
            "nothing to resume: the built-in sandbox starts afresh on every run (to try "
            "resuming, serve one that keeps its state: igflow sandbox serve --db FILE)"
        )
    writes = any(step.endpoint is not None and step.endpoint.mutates for step in playbook.steps)
    # The built-in sandbox's state ends with the run: a journal of it could never be resumed.
    if args.dry_run or not writes or (embedded and not args.journal):
        return None
    path = args.journal or default_journal_path(args.playbook)
    protected = {os.path.abspath(args.playbook): "the playbook"}
    if args.vars_file:
        protected[os.path.abspath(args.vars_file)] = "the --vars-file"
    for spec in args.report:
        protected[os.path.abspath(spec.path)] = f"the {spec.format} report"
    check_journal_path(path, protected=protected)
    digest = playbook_digest("\n".join(playbook.lines), variables)
    return Journal.start(
        path,
        playbook=args.playbook,
        digest=digest,
        resume=args.resume,
        force=args.force,
        target=None if embedded else normalize_origin(target),
        redact=redactor.redact,
    )


def _finish_journal(
    journal: Journal, result: RunResult, args: argparse.Namespace, env: Environment
) -> None:
    status = "interrupted" if result.interrupted else ("ok" if result.ok else "failed")
    journal.finish(status)
    journal.close()
    if status != "ok" and (any(result.writes.values()) or result.in_doubt):
        doubt = len(result.in_doubt)
        settled = f" ({doubt} in doubt: a resume settles them)" if doubt else ""
        env.stderr.write(
            f"igflow: the writes done so far are journaled in {journal.path}{settled}; "
            f"to continue: igflow run --resume {args.playbook}\n"
        )


def _confirmer(args: argparse.Namespace, env: Environment) -> Callable[[Step, int], bool]:
    """Asks on a terminal; otherwise `--yes` decides."""

    def confirm(step: Step, writes: int) -> bool:
        if args.yes:
            return True
        if not (_isatty(env.stdin) and _isatty(env.stderr)):
            return False
        endpoint = step.endpoint.id if step.endpoint is not None else "writes"
        many = f"up to {writes} {endpoint} writes" if writes != 1 else f"a {endpoint} write"
        env.stderr.write(
            f"{step.label} (line {step.location.line}) will send {many}. Go on? [y/N] "
        )
        env.stderr.flush()
        answer = env.stdin.readline()
        return answer.strip().lower() in ("y", "yes")

    return confirm


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _timeouts(read: float | None) -> Timeouts:
    from igflow.client import Timeouts

    if read is None:
        return Timeouts()
    return Timeouts(connect=min(5.0, read), read=read)


def cmd_plan(args: argparse.Namespace, env: Environment) -> int:
    import json

    from igflow.plan import build_plan, render_plan

    playbook = _compile(args.playbook, list(_external_variables(args)))
    plan = build_plan(playbook)
    if args.json:
        env.stdout.write(json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        env.stdout.write(render_plan(plan))
    return int(ExitCode.OK)


def cmd_endpoints(args: argparse.Namespace, env: Environment) -> int:
    from igflow.registry import load_registry
    from igflow.registry.describe import describe_endpoint, endpoint_table

    registry = load_registry(args.api)
    if args.endpoint:
        env.stdout.write(describe_endpoint(registry, registry.get(args.endpoint)))
    else:
        env.stdout.write(endpoint_table(registry))
    return int(ExitCode.OK)


def cmd_schema(args: argparse.Namespace, env: Environment) -> int:
    from igflow.resources import schemas_dir

    name = "registry.schema.json" if args.registry else "playbook.schema.json"
    env.stdout.write((schemas_dir() / name).read_text(encoding="utf-8"))
    return int(ExitCode.OK)


def cmd_journal(args: argparse.Namespace, env: Environment) -> int:
    from igflow.journal_cli import run_journal_command

    return run_journal_command(args, env.stdout)


def cmd_sandbox(args: argparse.Namespace, env: Environment) -> int:
    from igflow.sandbox.cli import run_sandbox_command

    return run_sandbox_command(args, env.stdout, env.stderr)


COMMANDS: dict[str, Callable[[argparse.Namespace, Environment], int]] = {
    "run": cmd_run,
    "check": cmd_check,
    "plan": cmd_plan,
    "endpoints": cmd_endpoints,
    "schema": cmd_schema,
    "journal": cmd_journal,
    "sandbox": cmd_sandbox,
}


# -- errors ----------------------------------------------------------------------------------


def _report_error(
    error: IgflowError,
    env: Environment,
    *,
    traceback_wanted: bool = False,
    lines: Sequence[str] | None = None,
    redact: Callable[[str], str] | None = None,
) -> None:
    from igflow.errors import AssertionFailed, PlaybookValidationError

    clean = redact or (lambda text: text)
    out: list[str] = []
    if isinstance(error, PlaybookValidationError):
        from igflow.playbook import format_issue

        for issue in error.issues:
            out.append(format_issue(issue, error.lines if hasattr(error, "lines") else lines))
        errors = sum(1 for i in error.issues if i.severity == "error")
        out.append(f"igflow: {errors} problem{'s' if errors != 1 else ''} found; nothing was sent")
    else:
        out.append(f"igflow: error: {error}")
        source = _source_line(error, lines)
        if source:
            out.append(source)
        if isinstance(error, AssertionFailed):
            from igflow.assertions import format_values

            if error.values:
                out.append("  where " + format_values(error.values))
    if traceback_wanted:
        import traceback

        out.append("".join(traceback.format_exception(error)).rstrip())
    # Run-time messages quote API text: escape control characters, but keep the lines.
    text = "\n".join(printable(line) for line in "\n".join(out).split("\n"))
    env.stderr.write(clean(text) + "\n")


def _source_line(error: IgflowError, lines: Sequence[str] | None) -> str | None:
    from igflow.source import quote_source, read_source_lines

    location = error.location
    if location is None:
        return None
    return quote_source(location, lines if lines is not None else read_source_lines(location.file))


def _silence_stdout(env: Environment) -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    if getattr(env.stdout, "wrapped", env.stdout) is sys.stdout:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    args_list = list(sys.argv[1:] if argv is None else argv)
    want_traceback = "--traceback" in args_list
    try:
        parser = _build_parser(_command_named(args_list))
        # argparse prints --help and --version to sys.stdout itself.
        with contextlib.redirect_stdout(env.stdout):
            args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help(env.stdout)
            return int(ExitCode.USAGE)
        return COMMANDS[args.command](args, env)
    except IgflowError as exc:
        _report_error(exc, env, traceback_wanted=want_traceback)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        env.stderr.write("igflow: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`igflow run ... | head -1`): stop quietly with the status a
        # process killed by SIGPIPE has, as other tools do; it was not interrupted.
        _silence_stdout(env)
        return int(ExitCode.CLOSED_PIPE)
    except SystemExit as exc:  # --help / --version
        return int(exc.code) if isinstance(exc.code, int) else 0
    except Exception as exc:  # a bug: say so, never a bare traceback
        from igflow.redact import Redactor

        detail = Redactor().redact(f"{type(exc).__name__}: {exc}")
        env.stderr.write(
            f"igflow: internal error (this is a bug in igflow, please report it): {detail}\n"
        )
        if want_traceback:
            import traceback

            env.stderr.write(Redactor().redact("".join(traceback.format_exception(exc))))
        else:
            env.stderr.write("igflow: rerun with --traceback to see where it happened\n")
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

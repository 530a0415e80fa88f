"""The command line: parse argv, call one function, map errors to exit codes.

This is the only module that prints errors and decides exit codes. Imports of everything heavy
(jinja2, jsonschema, requests, werkzeug) happen inside the commands, so `igflow --help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from igflow.argv import build_parser, command_named
from igflow.environment import Environment
from igflow.errors import ExitCode, IgflowError, UsageError, printable

if TYPE_CHECKING:  # imported for real inside the commands, so `igflow --help` stays fast
    from igflow.playbook.model import Playbook
    from igflow.settings import RunSettings

__all__ = ["COMMANDS", "Environment", "main"]


# -- commands --------------------------------------------------------------------------------


def _external_variables(args: argparse.Namespace, env: Environment) -> dict[str, Any]:
    """IGFLOW_VAR_x / IGFLOW_SECRET_x, then --vars-file, then each --var (igflow.env_overrides)."""
    from igflow.env_overrides import env_overrides
    from igflow.variables import external_variables

    return {**env_overrides(env.environ).variables, **external_variables(args.var, args.vars_file)}


def _compile(path: str, names: Sequence[str]) -> Playbook:
    from igflow.playbook import check_playbook

    return check_playbook(path, external_names=names)


def cmd_check(args: argparse.Namespace, env: Environment) -> int:
    from igflow.playbook import diagnose_playbook, format_issue

    names = list(_external_variables(args, env))
    worst = ExitCode.OK
    for path in _playbook_paths(args.playbooks):
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


def _playbook_paths(given: Sequence[str]) -> list[str]:
    """Files as given; a directory stands for the playbooks under it (igflow.discovery)."""
    from igflow.discovery import find_playbooks

    paths: list[str] = []
    for path in given:
        if not os.path.isdir(path):
            paths.append(path)
            continue
        found = list(find_playbooks(path))
        if not found:
            raise UsageError(
                f"{path}: no playbooks in this directory (*.igflow.yml, or YAML "
                "files that start with `igflow: 1`)"
            )
        paths.extend(found)
    return paths


def cmd_run(args: argparse.Namespace, env: Environment) -> int:
    from igflow.compose import run_playbook

    result = run_playbook(_run_settings(args, env), env)
    if result.interrupted:
        env.stderr.write("igflow: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    if result.error is not None:
        _report_error(
            result.error,
            env,
            traceback_wanted=args.traceback,
            lines=result.playbook.lines,
            redact=result.redact,
        )
        return int(result.error.exit_code)
    return int(ExitCode.USAGE if result.report_failures else ExitCode.OK)


def _run_settings(args: argparse.Namespace, env: Environment) -> RunSettings:
    """``igflow run``'s argv (and IGFLOW_* overrides) as frozen settings (igflow.settings)."""
    from igflow.env_overrides import env_overrides
    from igflow.playbook.model import RetrySpec
    from igflow.settings import DEFAULT_MAX_RESPONSE_BYTES, ClientSettings, RunSettings, Timeouts

    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    overrides = env_overrides(env.environ)
    client = ClientSettings(
        timeouts=Timeouts.for_read(args.timeout),
        retry=RetrySpec(attempts=max(args.retries, 1)) if args.retries is not None else None,
        max_response_bytes=(
            DEFAULT_MAX_RESPONSE_BYTES
            if args.max_response_bytes is None
            else args.max_response_bytes
        ),
    )
    return RunSettings(
        playbook=args.playbook,
        variables=_external_variables(args, env),
        vars_file=args.vars_file,
        secret_variables=overrides.secret_names,
        target=args.target or overrides.target,
        api_version=args.api_version,
        sandbox_data=args.sandbox_data,
        client=client,
        rate_limit_policy=args.on_rate_limit,
        reports=tuple(args.report),
        out_dir=args.out_dir,
        dry_run=args.dry_run,
        max_writes=args.max_writes,
        assume_yes=args.yes,
        resume=args.resume,
        force=args.force,
        journal=args.journal,
        verbosity=1 if args.verbose else (-1 if args.quiet else 0),
        color=args.color,
        traceback=args.traceback,
    )


def cmd_plan(args: argparse.Namespace, env: Environment) -> int:
    import json

    from igflow.plan import build_plan, render_plan

    playbook = _compile(args.playbook, list(_external_variables(args, env)))
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


def cmd_completion(args: argparse.Namespace, env: Environment) -> int:
    from igflow.resources import package_data

    # Generated by scripts/gen_completions.py (shtab) and shipped: nothing to import here.
    env.stdout.write(package_data("completions", f"igflow.{args.shell}").read_text("utf-8"))
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
    "completion": cmd_completion,
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
            out.append(format_issue(issue, error.lines if error.lines is not None else lines))
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
        parser = build_parser(command_named(args_list))
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

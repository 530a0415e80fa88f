"""Puts one run together: frozen settings and the I/O it is given in, a RunResult out.

The one place a run is assembled, in this order: the report writers (checked before anything is
sent), the playbook (compiled and checked), the console, the resume journal (bound to the
target, refused where it must be), the write gate, the target session with its clients, and
the runner. ``igflow run`` calls it from argv (:mod:`igflow.cli`, which maps what comes back
to an exit code); tests and a pytest plugin can call it with settings of their own.

Errors before the run starts (an invalid playbook, a refused journal) are raised, after the
reports have been written saying so; the run's own error is in ``RunResult.error``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from igflow import gcpolicy
from igflow.environment import Environment, isatty
from igflow.errors import IgflowError, SafetyError, UsageError
from igflow.outputs import real_path
from igflow.regular_file import file_kind
from igflow.settings import ClientHooks, RunSettings, Timeouts

if TYPE_CHECKING:
    from igflow.journal import Journal
    from igflow.playbook.model import Playbook, Step
    from igflow.redact import Redactor
    from igflow.registry import Registry
    from igflow.reporters import ReportSpec
    from igflow.reporters.common import ReportWriter
    from igflow.reporters.console import ConsoleReporter
    from igflow.results import Reporter, RunResult
    from igflow.safety import WriteGate
    from igflow.templating import TemplateEngine

__all__ = ["run_playbook"]


def run_playbook(settings: RunSettings, io: Environment) -> RunResult:
    """Run ``settings.playbook`` as ``settings`` say, talking through ``io``.

    Returns:
        The run's result. ``report_failures`` says which reports could not be written (their
        messages were printed on ``io.stderr``).

    Raises:
        IgflowError: The run could not start (usage, an invalid playbook, a refused journal).
        KeyboardInterrupt: Ctrl-C before the runner started.
    """
    from igflow.redact import Redactor

    _check_settings(settings)
    # The redactor is shared: tokens the run obtains are registered before the reports render.
    redactor = Redactor()
    writers = _report_writers(settings, redactor)
    try:
        result = _run(settings, io, redactor, writers)
    except BaseException as exc:
        # The run stopped before it finished (invalid playbook, a refused journal, Ctrl-C, a
        # bug): the reports are still written, saying so, and the error goes on.
        for writer in writers:
            writer.close(exc)
        _report_write_failures(writers, io)
        raise
    for writer in writers:
        writer.close()
    result.report_failures = _report_write_failures(writers, io)
    result.redact = redactor.redact
    return result


def _check_settings(settings: RunSettings) -> None:
    timeouts = settings.client.timeouts
    if timeouts.read <= 0 or timeouts.connect <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if settings.client.max_response_bytes < 1:
        raise UsageError("--max-response-bytes must be at least 1")
    out_dir = settings.out_dir
    if out_dir is not None and os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"--out-dir {out_dir}: that is not a directory")
    if settings.dry_run and settings.resume:
        raise UsageError("--dry-run and --resume cannot be combined (a dry run sends no write)")


def _report_writers(settings: RunSettings, redactor: Redactor) -> list[ReportWriter]:
    from igflow.reporters import make_report_writer

    specs = settings.reports
    paths = [real_path(spec.path) for spec in specs]
    for spec, path in zip(specs, paths, strict=True):
        if paths.count(path) > 1:
            raise UsageError(f"--report: {spec.path} is given more than once")
    writers = []
    for spec in specs:
        # A report never replaces the playbook, the --vars-file or another report.
        others = [other for other in specs if other is not spec]
        writer = make_report_writer(
            spec,
            redactor,
            settings.playbook,
            force=settings.force,
            protected=_protected(settings, others),
        )
        try:
            writer.check_target()  # before anything is sent; again when it is written
        except IgflowError as exc:
            raise UsageError(f"--report {spec.format}:{spec.path}: {exc.message}") from None
        writers.append(writer)
    return writers


def _run(
    settings: RunSettings, io: Environment, redactor: Redactor, writers: Sequence[ReportWriter]
) -> RunResult:
    from igflow.playbook import check_playbook
    from igflow.reporters import FanOut
    from igflow.reporters.console import ConsoleOptions, ConsoleReporter
    from igflow.safety import WriteGate
    from igflow.templating import TemplateEngine

    variables = dict(settings.variables)
    engine = TemplateEngine()  # the run's: now() may be set to the target's clock (below)
    playbook = check_playbook(
        settings.playbook,
        external_names=list(variables),
        api_version=settings.api_version,
        engine=engine,
    )
    for writer in writers:
        writer.set_playbook(playbook)
    for name in (*playbook.secrets, *settings.secret_variables):
        if name in variables:
            redactor.add(str(variables[name]))
    options = ConsoleOptions(
        verbosity=settings.verbosity,
        color=io.color(io.stdout, settings.color),
        tty=io.live(io.stdout),
    )
    console = ConsoleReporter(io.stdout, redactor, options)
    reporter: Reporter = FanOut([console, *writers]) if writers else console
    journal = _open_journal(settings, playbook, variables, redactor)
    gate = WriteGate(
        dry_run=settings.dry_run,
        max_writes=settings.max_writes,
        journal=journal,
        confirm=_confirmer(settings, io),
        registry=_registry(settings, playbook),
        redact=redactor.redact,
    )
    try:
        result = _execute(settings, io, playbook, redactor, reporter, console, gate, engine)
    except BaseException:
        if journal is not None:
            journal.close()
        raise
    if journal is not None:
        _finish_journal(journal, result, settings, io)
    return result


def _execute(
    settings: RunSettings,
    io: Environment,
    playbook: Playbook,
    redactor: Redactor,
    reporter: Reporter,
    console: ConsoleReporter,
    gate: WriteGate,
    engine: TemplateEngine,
) -> RunResult:
    from igflow.outputs import OutputDir
    from igflow.reporters.common import SANDBOX_SUFFIX
    from igflow.runner import Runner
    from igflow.target import SANDBOX, TargetSession

    target = settings.target or playbook.target or SANDBOX
    registry = _registry(settings, playbook)
    client = settings.client._replace(
        rate_limit_policy=settings.rate_limit_policy or playbook.on_rate_limit or "halt",
    )
    hooks = ClientHooks(
        on_exchange=console.exchange if settings.verbosity > 0 else None,
        on_retry=console.retry_notice,
        on_rate_limit_wait=console.rate_limit_wait,
    )
    default_timeouts = client.timeouts
    scope_cap = None
    if settings.dry_run:  # a rehearsal must not leave the grant wider (igflow.dry_scopes)
        from igflow.dry_scopes import read_scopes

        scope_cap = read_scopes(playbook, registry.base_scope)
    with TargetSession(
        target,
        registry=registry,
        redactor=redactor,
        settings=client,
        hooks=hooks,
        sandbox_config=_sandbox_config(settings, playbook, target),
        scope_cap=scope_cap,
    ) as session:
        _use_target_clock(engine, playbook, session.origin)
        runner = Runner(
            playbook,
            session,
            reporter,
            variables=settings.variables,
            environ=io.environ,
            redact_value=lambda value: redactor.add(str(value)),
            redact_text=redactor.redact,
            next_url_path=registry.next_url_path,
            timeouts_for=lambda seconds: (
                default_timeouts if seconds is None else Timeouts.for_read(seconds)
            ),
            gate=gate,
            outputs=OutputDir(
                settings.out_dir or os.path.dirname(settings.playbook) or ".",
                protected=_protected(settings, settings.reports),
            ),
        )
        origin = session.origin + (SANDBOX_SUFFIX if target == SANDBOX else "")
        gcpolicy.settled()
        return runner.run(origin)


def _use_target_clock(engine: TemplateEngine, playbook: Playbook, origin: str) -> None:
    """now() on an igflow sandbox's fake clock, read once (igflow.target_clock)."""
    from igflow.source import read_source_lines
    from igflow.target_clock import sandbox_clock, uses_now

    if uses_now(read_source_lines(playbook.path)):
        seconds = sandbox_clock(origin)
        if seconds is not None:
            engine.use_clock(int(seconds))


def _sandbox_config(settings: RunSettings, playbook: Playbook, target: str) -> Any:
    """The built-in sandbox's config for a dataset (--sandbox-data, else the playbook's
    ``sandbox_data``, relative to the playbook); None for the default dataset."""
    from igflow.target import SANDBOX

    if settings.sandbox_data is not None:
        if target != SANDBOX:
            raise UsageError(
                f"--sandbox-data loads the built-in sandbox, but the target is {target} "
                "(serve the dataset there with `igflow sandbox serve --data FILE`)"
            )
        # Typed by the user: anywhere, but a regular file (a FIFO would hang the sandbox).
        path = settings.sandbox_data
        if not os.path.exists(path):
            raise UsageError(f"--sandbox-data: no such dataset file: {path}")
        if not os.path.isfile(path):
            kind = file_kind(os.stat(path).st_mode)
            raise UsageError(f"--sandbox-data: {path} is {kind}, not a dataset file")
    elif playbook.sandbox_data is not None and target == SANDBOX:
        # Another target (a served sandbox) has its own data: the fixture is not used there.
        # Checked again (check did it too): confined to the playbook's tree (igflow.playbook_files).
        from igflow.playbook_files import dataset_path, sandbox_data_problem

        problem = sandbox_data_problem(playbook.path, playbook.sandbox_data)
        if problem is not None:
            raise UsageError(problem, location=playbook.locations.get(("sandbox_data",)))
        path = dataset_path(playbook.path, playbook.sandbox_data)
    else:
        return None
    from igflow.sandbox.config import SandboxConfig

    return SandboxConfig(data=path)


# -- the journal ------------------------------------------------------------------------------


def _open_journal(
    settings: RunSettings, playbook: Playbook, variables: dict[str, Any], redactor: Redactor
) -> Journal | None:
    """The resume journal, for a run that may write (none for a dry run or a read-only one)."""
    from igflow.target import SANDBOX, normalize_origin

    target = settings.target or playbook.target or SANDBOX
    embedded = target == SANDBOX
    if embedded and settings.resume:
        raise UsageError(
            "nothing to resume: the built-in sandbox starts afresh on every run (to try "
            "resuming, serve one that keeps its state: igflow sandbox serve --db FILE)"
        )
    writes = any(step.endpoint is not None and step.endpoint.mutates for step in playbook.steps)
    # The built-in sandbox's state ends with the run: a journal of it could never be resumed.
    if settings.dry_run or not writes or (embedded and not settings.journal):
        return None
    # Imported only here: a run that keeps no journal never loads the journal's code.
    from igflow.journal import Journal, check_journal_path, default_journal_path, playbook_digest

    path = settings.journal or default_journal_path(settings.playbook)
    check_journal_path(path, protected=_protected(settings, settings.reports, journal=False))
    registry = _registry(settings, playbook)

    def repeats(endpoint_id: str) -> bool:  # sending it again would apply it again
        endpoint = registry.endpoints.get(endpoint_id)
        return endpoint is None or (endpoint.mutates and not endpoint.idempotent)

    return Journal.start(
        path,
        playbook=settings.playbook,
        digest=playbook_digest("\n".join(playbook.lines), variables),
        resume=settings.resume,
        force=settings.force,
        target=None if embedded else normalize_origin(target),
        redact=redactor.redact,
        repeats=repeats,
    )


def _finish_journal(
    journal: Journal, result: RunResult, settings: RunSettings, io: Environment
) -> None:
    journal.finish(result.status.value)
    journal.close()
    if not result.ok and (any(result.writes.values()) or result.in_doubt):
        doubt = len(result.in_doubt)
        # The same words as the summary's: a resume settles only what a read or a resend can.
        settled = f" ({doubt} in doubt: {result.settle_advice})" if doubt else ""
        how = f"igflow run --resume {settings.playbook}"
        if result.in_doubt_by_hand:  # a resume stops at them again until a person settles them
            how = f"check and record them (igflow journal settle), then {how}"
        if isinstance(result.error, SafetyError) and result.error.cap_reached:
            # Caps count every run of a journal: a plain resume would stop at once again.
            how += " with a higher cap (--max-writes, or the step's max_writes)"
        io.stderr.write(
            f"igflow: the writes done so far are journaled in {journal.path}{settled}; "
            f"to continue: {how}\n"
        )


# -- helpers ----------------------------------------------------------------------------------


def _registry(settings: RunSettings, playbook: Playbook) -> Registry:
    """The playbook's profile at the API version asked for: --api-version, then the
    playbook's ``api_version``, then the profile's pinned one."""
    from igflow.registry import load_registry

    return load_registry(playbook.api, settings.api_version or playbook.api_version)


def _confirmer(settings: RunSettings, io: Environment) -> Callable[[Step, int], bool]:
    """Asks on a terminal; otherwise `--yes` decides."""

    def confirm(step: Step, writes: int) -> bool:
        if settings.assume_yes:
            return True
        if not (isatty(io.stdin) and isatty(io.stderr)):
            return False
        endpoint = step.endpoint.id if step.endpoint is not None else "writes"
        many = f"up to {writes} {endpoint} writes" if writes != 1 else f"a {endpoint} write"
        io.stderr.write(f"{step.label} (line {step.location.line}) will send {many}. Go on? [y/N] ")
        io.stderr.flush()
        answer = io.stdin.readline()
        return answer.strip().lower() in ("y", "yes")

    return confirm


def _protected(
    settings: RunSettings, reports: Sequence[ReportSpec], *, journal: bool = True
) -> dict[str, str]:
    """The files a run's outputs (reports, exports, the journal) must never replace."""
    named: dict[str, str] = {}
    if journal:  # the resume journal: a report or an export over it would lose its writes
        from igflow.journal_records import default_journal_path

        journal_path = settings.journal or default_journal_path(settings.playbook)
        named[real_path(journal_path)] = "the resume journal of this run"
    for spec in reports:
        named[real_path(spec.path)] = f"the {spec.format} report of this run"
    inputs = (("the playbook", settings.playbook), ("the --vars-file", settings.vars_file))
    for what, path in inputs:
        if path:
            named[os.path.realpath(path)] = what
            named.setdefault(real_path(path), what)  # the name itself, if it is a link
    return named


def _report_write_failures(writers: Sequence[ReportWriter], io: Environment) -> list[str]:
    """Say which reports could not be written (once each)."""
    failures = []
    for writer in writers:
        if writer.failure is not None:
            message = f"{writer.format_name} report: {writer.failure.message}"
            failures.append(message)
            io.stderr.write(f"igflow: {message}\n")
            writer.failure = None
    return failures

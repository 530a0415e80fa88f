"""What report writers share: the run as they saw it, error views, JSON-safe values, item lines.

A report must be written however the run ends: passed, failed, interrupted, or stopped before its
first step (an invalid playbook, a usage error, a bug). So a ``ReportWriter`` collects what the
runner tells it, writes on ``run_finished``, and ``close`` writes whatever it has when the run
never got that far. Writers render from a ``RunSnapshot`` and never raise into the run: a report
that cannot be written is kept as ``failure``, and the CLI reports it once, at the end. Files
are written with ``igflow.export.atomic_write_text`` (the ``write`` action's): temp file, fsync,
rename; only over a regular file, never over the playbook, the --vars-file or another report,
and over an existing file only if it is a report of the same kind (or with ``--force``).

Length: over 400 lines; it is the shared vocabulary of three reporters (snapshots, error views,
item lines), each piece small, and splitting it would scatter what they must word alike.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from igflow.errors import (
    ApiError,
    AssertionFailed,
    ExitCode,
    IgflowError,
    PlaybookValidationError,
)
from igflow.results import RunStatus

if TYPE_CHECKING:
    from igflow.playbook.model import Playbook, Step
    from igflow.redact import Redactor
    from igflow.results import ItemRecord, RunResult, StepRecord

SANDBOX_SUFFIX = " (sandbox)"  # how the CLI marks the in-process sandbox in the origin it passes

# How a run ended, as reports say it (igflow.results.RunStatus; kept here for their readers).
PASSED, FAILED, INTERRUPTED = RunStatus.PASSED, RunStatus.FAILED, RunStatus.INTERRUPTED


@dataclass
class RunSnapshot:
    """Everything a report needs, whether or not the run reached its end."""

    source_path: str  # the playbook path as given on the command line
    playbook: Playbook | None = None  # None: the run stopped before the playbook compiled
    origin: str | None = None
    sandbox: bool = False
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    elapsed: float = 0.0
    records: list[StepRecord] = field(default_factory=list)
    current: Step | None = None  # started, not finished: the step in flight when the run stopped
    # The in-flight loop's items finished so far and its size: an interrupted loop still says
    # which items were done.
    current_items: list[ItemRecord] = field(default_factory=list)
    current_total: int | None = None
    current_label: str | None = None  # the in-flight step's name as rendered when it started
    result: RunResult | None = None
    error: BaseException | None = None  # what ended the run (None when it passed)
    interrupted: bool = False

    @property
    def status(self) -> RunStatus:
        return RunStatus.of(error=self.error, interrupted=self.interrupted)

    @property
    def exit_code(self) -> int:
        """The exit code the CLI gives this run (the same rule as ``cli.cmd_run``)."""
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        if self.error is None:
            return int(ExitCode.OK)
        if isinstance(self.error, IgflowError):
            return int(self.error.exit_code)
        return int(ExitCode.INTERNAL)

    @property
    def name(self) -> str:
        if self.playbook is not None and self.playbook.name:
            return self.playbook.name
        return self.playbook.path if self.playbook is not None else self.source_path

    @property
    def path(self) -> str:
        return self.playbook.path if self.playbook is not None else self.source_path

    @property
    def steps(self) -> Sequence[Step]:
        return self.playbook.steps if self.playbook is not None else ()

    @property
    def outputs(self) -> Mapping[str, Any]:
        return self.result.outputs if self.result is not None else {}

    @property
    def output_errors(self) -> Mapping[str, str]:
        return self.result.output_errors if self.result is not None else {}


class ReportWriter:
    """A reporter that turns the whole run into one file, written atomically at the end.

    Subclasses implement ``render``. Every runner event only records state; the file is written
    once, by ``run_finished`` or, if the run never got there, by ``close``.
    """

    format_name = "report"

    def __init__(
        self,
        path: str,
        redactor: Redactor,
        source_path: str,
        *,
        force: bool = False,
        protected: Mapping[str, str] | None = None,
    ) -> None:
        self.path = path
        self.redactor = redactor
        self.force = force  # replace an existing file that is not a report of this kind
        self.protected = dict(protected or {})  # real path -> what it is: never replaced
        self.snapshot = RunSnapshot(source_path=source_path)
        self._started = time.perf_counter()
        self.written = False
        self.failure: IgflowError | None = None

    # -- the runner's events ------------------------------------------------------------------
    def run_started(self, playbook: Playbook, origin: str) -> None:
        self.snapshot.playbook = playbook
        self.snapshot.origin, self.snapshot.sandbox = split_origin(origin)
        self.snapshot.started_at = dt.datetime.now(dt.timezone.utc)
        self._started = time.perf_counter()

    def step_started(self, step: Step, label: str | None = None) -> None:
        self.snapshot.current = step
        self.snapshot.current_label = label
        self.snapshot.current_items = []
        self.snapshot.current_total = None

    def loop_started(self, step: Step, total: int) -> None:
        self.snapshot.current_total = total

    def item_finished(self, step: Step, item: ItemRecord, done: int, total: int) -> None:
        self.snapshot.current_items.append(item)

    def step_finished(self, record: StepRecord) -> None:
        self.snapshot.records.append(record)
        self.snapshot.current = None
        self.snapshot.current_items = []
        self.snapshot.current_total = None

    def run_finished(self, result: RunResult) -> None:
        snap = self.snapshot
        snap.result = result
        snap.records = list(result.records)
        snap.elapsed = result.elapsed
        snap.error = result.error
        snap.interrupted = result.interrupted
        self.write()

    # -- the CLI's side -----------------------------------------------------------------------
    def set_playbook(self, playbook: Playbook) -> None:
        """The compiled playbook, known before the run starts (so an early stop still lists it)."""
        self.snapshot.playbook = playbook

    def close(self, error: BaseException | None = None) -> None:
        """Write the report now if the run ended before ``run_finished`` (error or interrupt)."""
        if self.written:
            return
        snap = self.snapshot
        snap.elapsed = time.perf_counter() - self._started
        # A closed output pipe ends a run the way Ctrl-C does (`main` exits 130 for both).
        if isinstance(error, (KeyboardInterrupt, BrokenPipeError)):
            snap.interrupted = True
        elif error is not None:
            snap.error = error
        self.write()

    def write(self) -> None:
        """Render and write the file (atomically); a failure is kept for the CLI to report.

        Never raises ``WriteFailed``: a report that cannot be written must not stop the run or
        hide the console's summary.
        """
        from igflow.export import WriteFailed, atomic_write_text

        self.written = True  # once: a failure is reported by the CLI, not retried by close
        try:
            # Again at the end: the file may have appeared during the run.
            self.check_target()
            atomic_write_text(self.path, self.render(self.snapshot), protected=self.protected)
        except WriteFailed as exc:
            self.failure = exc

    def check_target(self) -> None:
        """Refuse a path whose file this report must not replace.

        Never: the playbook, the --vars-file, another report, anything but a regular file.
        Unless ``force``: an existing non-empty file that is not a report of this kind (as
        ``is_own_report`` reads its start), so a mistyped path cannot destroy someone's file.

        Raises:
            UnsafeTarget: with a message naming the reason (and --force where it helps).
        """
        from igflow.export import UnsafeTarget, refuse_unsafe_target
        from igflow.outputs import real_path

        target = os.path.abspath(self.path)
        real = real_path(target)
        try:
            existing: os.stat_result | None = os.lstat(target)
        except OSError:
            existing = None  # missing (or unreadable: the write itself will say why)
        refuse_unsafe_target(existing, self.path, real, self.protected)
        if existing is None or existing.st_size == 0 or self.force:
            return
        if not self.is_own_report(_read_start(target)):
            raise UnsafeTarget(
                f"cannot write {self.path}: it exists and is not an igflow {self.format_name} "
                "report, so it is kept (add --force to replace it)"
            )

    @classmethod
    def is_own_report(cls, start: str) -> bool:
        """Whether a file starting with ``start`` is a report this writer wrote."""
        return False

    def render(self, snapshot: RunSnapshot) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


# -- helpers ---------------------------------------------------------------------------------

REPORT_START_BYTES = 64 * 1024  # how much of an existing file tells whose report it is


def _read_start(path: str) -> str:
    """The start of an existing regular file, as text ("" if it cannot be read as one)."""
    try:
        # O_NONBLOCK: if a FIFO replaced the file since it was checked, do not hang on it.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, REPORT_START_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def split_origin(origin: str) -> tuple[str, bool]:
    """``"http://127.0.0.1:5000 (sandbox)"`` -> ``("http://127.0.0.1:5000", True)``."""
    if origin.endswith(SANDBOX_SUFFIX):
        return origin[: -len(SANDBOX_SUFFIX)], True
    return origin, False


def utc_iso(moment: dt.datetime, *, zone: bool = True) -> str:
    """Seconds-precision UTC time: ``2024-05-01T12:00:00Z`` (JUnit's schema wants no zone)."""
    text = moment.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    return text + "Z" if zone else text


def seconds(value: float) -> float:
    """Durations in reports: microsecond precision is plenty and keeps the files short."""
    return round(value, 6)


_MAX_DEPTH = 64  # deeper than any API body; stops a self-referencing value from recursing forever


def json_safe(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` that ``json.dumps`` accepts: anything unknown becomes its ``str``.

    Mapping keys become strings, tuples and sets lists, NaN and infinities strings (JSON has
    none), dates their ISO form.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {
            (k if isinstance(k, str) else str(k)): json_safe(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [json_safe(v, _depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [json_safe(v, _depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def error_view(error: BaseException | None) -> dict[str, Any] | None:
    """An error as reports show it: type, message, where (``file:line:col``) and the details."""
    if error is None:
        return None
    if isinstance(error, KeyboardInterrupt):
        return {"type": "KeyboardInterrupt", "message": "interrupted"}
    if not isinstance(error, IgflowError):
        return {"type": type(error).__name__, "message": str(error), "internal": True}
    view: dict[str, Any] = {"type": type(error).__name__, "message": error.message}
    location = error.location
    if location is not None:
        view.update(
            location=str(location), file=location.file, line=location.line, col=location.col
        )
    if error.step is not None:
        view["step"] = error.step
    if isinstance(error, ApiError):
        view.update(
            error_type=error.error_type,
            http_status=error.status,
            code=error.code,
            endpoint=error.endpoint,
        )
        # Graph: the subcode, Meta's support id and the envelope's own type, when there are.
        graph = {
            "subcode": error.subcode,
            "fbtrace_id": error.fbtrace_id,
            "api_type": error.api_type,
        }
        view.update({key: value for key, value in graph.items() if value is not None})
    if isinstance(error, AssertionFailed):
        view.update(expression=error.expression, values=json_safe(error.values))
    if isinstance(error, PlaybookValidationError):
        view["issues"] = [
            {"location": str(issue.location), "message": issue.message, "severity": issue.severity}
            for issue in error.issues
        ]
    return view


def error_text(error: BaseException, lines: Sequence[str] | None = None) -> str:
    """The full text of an error, as the console shows it: message, source line, values."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if not isinstance(error, IgflowError):
        return f"internal error (a bug in igflow): {type(error).__name__}: {error}"
    if isinstance(error, PlaybookValidationError):
        return "\n".join([str(issue) for issue in error.issues] + [error.message])
    out = [str(error)]
    if error.location is not None:
        from igflow.source import quote_source, read_source_lines

        quoted = quote_source(
            error.location, lines if lines is not None else read_source_lines(error.location.file)
        )
        if quoted:
            out.append(quoted)
    if isinstance(error, AssertionFailed) and error.values:
        from igflow.assertions import format_values

        out.append("  where " + format_values(error.values))
    return "\n".join(out)


def item_error_line(item: ItemRecord, redactor: Redactor, total: int | None = None) -> str:
    """One failed or ignored item on one line: ``[4] '1234_5': APINotFoundError: ...``."""
    from igflow.reporters.console import describe_value

    value = describe_value(redactor.redact_mapping(json_safe(item.item)))
    if item.error is not None:
        error = item.error
        kind = error.error_type if isinstance(error, ApiError) else type(error).__name__
        what = f"{kind}: {_without_item_prefix(error.message, item, total)}"
    else:
        what = item.message or item.status
    return redactor.redact(f"[{item.index}] {value}: {what}")


def _without_item_prefix(message: str, item: ItemRecord, total: int | None) -> str:
    """Drop the runner's ``item 5 of 200 ('1_2'): `` from a message: the line names the item.

    Only an exact match is dropped (the runner shortens the value's repr to 60 characters), so
    a message in any other form is shown whole.
    """
    if total is None:
        return message
    shown = repr(item.item)
    if len(shown) > 60:
        shown = shown[:59] + "…"
    prefix = f"item {item.index + 1} of {total} ({shown}): "
    return message[len(prefix) :] if message.startswith(prefix) else message


def item_counts(items: Sequence[ItemRecord]) -> str:
    """``200 items, 3 failed, 2 skipped``, or ``2 of 4 items run, 1 failed, 2 not run``.

    Failed counts ignored items too; items the run never started are ``not run``, never ``ok``.
    """
    from igflow.results import Status

    total = len(items)
    counts: dict[Status, int] = {}
    for item in items:
        counts[item.status] = counts.get(item.status, 0) + 1
    not_run = counts.get(Status.NOT_RUN, 0)
    if not_run:
        parts = [f"{total - not_run} of {total} item{'s' if total != 1 else ''} run"]
    else:
        parts = [f"{total} item{'s' if total != 1 else ''}"]
    failed = counts.get(Status.FAILED, 0) + counts.get(Status.IGNORED, 0)
    expected = counts.get(Status.EXPECTED_ERROR, 0)
    for count, label in (
        (failed, "failed"),
        (counts.get(Status.IN_DOUBT, 0), "in doubt"),
        (counts.get(Status.SKIPPED, 0), "skipped"),
        (expected, f"expected error{'s' if expected != 1 else ''}"),
        (counts.get(Status.DRY_RUN, 0), "dry run"),
        (counts.get(Status.DONE_EARLIER, 0), "done earlier"),
        (not_run, "not run"),
    ):
        if count:
            parts.append(f"{count} {label}")
    return ", ".join(parts)


def pages_fetched(record: StepRecord) -> str | None:
    """``3 pages``: what a paginated step fetched (a loop's items added up); None if it did not
    paginate."""
    if record.pages is not None:
        pages = record.pages
    else:
        counts = [i.pages for i in record.items or () if i.pages is not None]
        if not counts:
            return None
        pages = sum(counts)
    return f"{pages} page{'s' if pages != 1 else ''}"

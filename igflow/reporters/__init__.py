"""Reporters: how a run is shown (console) or recorded (json, junit).

This package's ``__init__`` stays light (the CLI parses ``--report`` with it); the writers are
imported only when a run asks for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from igflow.playbook.model import Playbook, Step
    from igflow.redact import Redactor
    from igflow.reporters.common import ReportWriter
    from igflow.results import ItemRecord, Reporter, RunResult, StepRecord

# `--report FORMAT:PATH`: the formats, in the order usage messages list them.
REPORT_FORMATS: tuple[str, ...] = ("json", "junit")


class ReportSpec(NamedTuple):
    format: str
    path: str


def parse_report_spec(text: str) -> ReportSpec:
    """``"junit:out/report.xml"`` -> ``ReportSpec("junit", "out/report.xml")``.

    Raises:
        ValueError: with a message for the user: no ``:``, an unknown format or no path.
    """
    formats = ", ".join(REPORT_FORMATS)
    name, sep, path = text.partition(":")
    name = name.strip().lower()
    if not sep:
        raise ValueError(f"expected FORMAT:PATH with FORMAT one of {formats}, got '{text}'")
    if name not in REPORT_FORMATS:
        raise ValueError(f"unknown report format '{name}' in '{text}' (formats: {formats})")
    if not path.strip():
        raise ValueError(f"'{text}' names no file: write {name}:PATH, e.g. {name}:report.{name}")
    return ReportSpec(name, path)


def make_report_writer(
    spec: ReportSpec,
    redactor: Redactor,
    source_path: str,
    *,
    force: bool = False,
    protected: Mapping[str, str] | None = None,
) -> ReportWriter:
    """The writer for one ``--report`` (imported here, so runs without reports never load it).

    ``force``: replace an existing file that is not a report of this kind; ``protected``: files
    it must never replace (real path -> what it is: the playbook, the --vars-file, other
    reports).
    """
    options: dict[str, Any] = {"force": force, "protected": protected}
    if spec.format == "json":
        from igflow.reporters.json_report import JsonReportWriter

        return JsonReportWriter(spec.path, redactor, source_path, **options)
    if spec.format == "junit":
        from igflow.reporters.junit import JunitReportWriter

        return JunitReportWriter(spec.path, redactor, source_path, **options)
    raise ValueError(f"unknown report format '{spec.format}'")  # parse_report_spec prevents it


class FanOut:
    """One reporter to the runner, several behind it: the console and each report writer.

    Events reach the reporters in order. A report writer never raises from an event (it only
    records state); the console may, e.g. on a closed pipe, and that must stop the run as before.
    """

    def __init__(self, reporters: Sequence[Reporter]) -> None:
        self.reporters = list(reporters)

    def run_started(self, playbook: Playbook, origin: str) -> None:
        for reporter in self.reporters:
            reporter.run_started(playbook, origin)

    def step_started(self, step: Step, label: str | None = None) -> None:
        for reporter in self.reporters:
            reporter.step_started(step, label)

    def loop_started(self, step: Step, total: int) -> None:
        for reporter in self.reporters:
            reporter.loop_started(step, total)

    def item_finished(self, step: Step, item: ItemRecord, done: int, total: int) -> None:
        for reporter in self.reporters:
            reporter.item_finished(step, item, done, total)

    def step_finished(self, record: StepRecord) -> None:
        for reporter in self.reporters:
            reporter.step_finished(record)

    def run_finished(self, result: RunResult) -> None:
        # Report files first: if the console then fails (a closed pipe), the files are written.
        ordered = sorted(self.reporters, key=lambda r: not _is_writer(r))
        for reporter in ordered:
            reporter.run_finished(result)


def _is_writer(reporter: object) -> bool:
    from igflow.reporters.common import ReportWriter

    return isinstance(reporter, ReportWriter)

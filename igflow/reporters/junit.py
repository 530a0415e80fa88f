"""``--report junit:PATH``: the run as JUnit XML, for CI systems (docs/reports.md).

The playbook is one ``<testsuite>``, each of its steps one ``<testcase>`` named ``"NN label"``
with the playbook's ``file`` and the step's ``line``. A failed assertion or expectation (exit 1) is
a ``<failure>``; an API, transport or any other error is an ``<error>``; a step skipped by its
``when`` and a step the run never reached are ``<skipped>``. Steps whose errors were ignored
(``on_error: continue``) pass and list what failed in ``<system-out>``.

Built with ElementTree (stdlib); every attribute and text goes through the run's redactor and
loses the characters XML 1.0 cannot carry, so any JUnit parser accepts the file.
"""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from igflow import __version__
from igflow.errors import ApiError, ExitCode, IgflowError, PlaybookValidationError
from igflow.reporters.common import (
    ReportWriter,
    RunSnapshot,
    error_text,
    item_counts,
    item_error_line,
    json_safe,
    pages_fetched,
    utc_iso,
)
from igflow.results import Status

if TYPE_CHECKING:
    from igflow.playbook.model import Step
    from igflow.redact import Redactor
    from igflow.results import StepRecord

# XML 1.0 allows tab, newline, carriage return and everything from U+0020 except the surrogates
# and U+FFFE/U+FFFF; anything else makes the whole file unparseable.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_MAX_ITEMS_LISTED = 200  # failed items named in one case; the JSON report has them all


# An igflow JUnit file: a <testsuites> root (after the XML declaration) and, in its first
# suite's properties, igflow.version. Read as text, never parsed: the file is not ours yet.
_OWN_ROOT = re.compile(r"(?:<\?xml[^>]*\?>\s*)?<testsuites[\s>/]")
_OWN_MARK = '<property name="igflow.version"'


class JunitReportWriter(ReportWriter):
    format_name = "junit"

    @classmethod
    def is_own_report(cls, start: str) -> bool:
        text = start.lstrip("\ufeff \t\r\n")
        return _OWN_ROOT.match(text) is not None and _OWN_MARK in text

    def render(self, snapshot: RunSnapshot) -> str:
        return render_junit(snapshot, self.redactor)


def render_junit(snap: RunSnapshot, redactor: Redactor) -> str:
    """The JUnit XML document for a run, as text (UTF-8 declaration included)."""
    builder = _Builder(snap, redactor)
    return builder.render()


class _Builder:
    def __init__(self, snap: RunSnapshot, redactor: Redactor) -> None:
        self.snap = snap
        self.redactor = redactor
        self.stem = Path(snap.path).stem
        self.width = max(2, len(str(len(snap.steps))))
        self.lines = snap.playbook.lines if snap.playbook is not None else None
        self.counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def clean(self, text: Any) -> str:
        return _NOT_XML.sub("\ufffd", self.redactor.redact(str(text)))

    def render(self) -> str:
        snap = self.snap
        suite = ET.Element("testsuite")
        properties = ET.SubElement(suite, "properties")
        for name, value in self._properties():
            ET.SubElement(properties, "property", name=self.clean(name), value=self.clean(value))
        run_case = self._run_case()
        if run_case is not None:
            suite.append(run_case)
        records = {record.step.index: record for record in snap.records}
        for step in snap.steps:
            suite.append(self._case(step, records.get(step.index)))
        elapsed = f"{snap.elapsed:.3f}"
        suite_attrs: dict[str, object] = {
            "name": snap.name,
            **{key: str(value) for key, value in self.counts.items()},
            "time": elapsed,
            "timestamp": utc_iso(snap.started_at, zone=False),
            "hostname": socket.gethostname() or "localhost",
            "id": "0",
            "package": self.stem,
            "file": snap.path,
        }
        for key, attr in suite_attrs.items():
            suite.set(key, self.clean(attr))
        root = ET.Element("testsuites")
        root_attrs: dict[str, object] = {"name": snap.name, **self.counts, "time": elapsed}
        for key, attr in root_attrs.items():
            root.set(key, self.clean(attr))
        root.append(suite)
        ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    # -- pieces ---------------------------------------------------------------------------
    def _properties(self) -> list[tuple[str, str]]:
        snap = self.snap
        props = [
            ("igflow.version", __version__),
            ("igflow.status", snap.status.value),
            ("igflow.exit_code", str(snap.exit_code)),
        ]
        if snap.origin is not None:
            props.append(("igflow.target", snap.origin + (" (sandbox)" if snap.sandbox else "")))
        for name, value in snap.outputs.items():
            shown = self.redactor.redact_mapping(json_safe(value))
            props.append((f"output.{name}", json.dumps(shown, ensure_ascii=False)))
        for name, why in snap.output_errors.items():
            props.append((f"output_error.{name}", why))
        return props

    def _new_case(self, name: str, line: int | None, elapsed: float) -> ET.Element:
        self.counts["tests"] += 1
        case = ET.Element("testcase")
        attrs = {"name": name, "classname": self.stem, "file": self.snap.path}
        if line is not None:
            attrs["line"] = str(line)
        attrs["time"] = f"{elapsed:.3f}"
        for key, value in attrs.items():
            case.set(key, self.clean(value))
        return case

    def _halt_note(self) -> str:
        """Why the steps after the halt did not run, for their ``<skipped>``."""
        snap = self.snap
        stopped = next((r for r in snap.records if r.status is Status.FAILED), None)
        if stopped is not None:
            return f"not run: the run halted at step {stopped.step.index + 1}"
        if snap.interrupted:
            if snap.current is not None:
                return f"not run: the run was interrupted at step {snap.current.index + 1}"
            return "not run: the run was interrupted"
        if snap.current is not None:
            return f"not run: the run halted at step {snap.current.index + 1}"
        if snap.records:
            return f"not run: the run halted after step {snap.records[-1].step.index + 1}"
        return "not run: the run halted before its first step"

    def _run_case(self) -> ET.Element | None:
        """A case for what ended the run outside any step: an invalid playbook, vars, a bug."""
        snap = self.snap
        error = snap.error
        in_a_step = any(r.error is error for r in snap.records) or snap.current is not None
        if snap.interrupted and snap.current is None:
            case = self._new_case(f"{0:0{self.width}d} run", None, snap.elapsed)
            self._add_problem(case, "error", "interrupted", "Interrupted", "interrupted")
            return case
        if error is None or snap.interrupted or in_a_step:
            return None
        line = error.location.line if isinstance(error, IgflowError) and error.location else None
        case = self._new_case(f"{0:0{self.width}d} run", line, snap.elapsed)
        kind = "failure" if _is_failure(error) else "error"
        self._add_problem(case, kind, _message(error), _type(error), error_text(error, self.lines))
        return case

    def _case(self, step: Step, record: StepRecord | None) -> ET.Element:
        snap = self.snap
        case = self._new_case(
            f"{step.index + 1:0{self.width}d} {_label(step, record, snap)}",
            step.location.line,
            record.elapsed if record is not None else 0.0,
        )
        if record is None:
            if snap.current is not None and snap.current.index == step.index:
                what = "interrupted" if snap.interrupted else "the run stopped during this step"
                error = snap.error
                text = error_text(error, self.lines) if error is not None else what
                if snap.current_total is not None:
                    text += f"\n{len(snap.current_items)} of {snap.current_total} items were done"
                self._add_problem(
                    case, "error", what, _type(error) if error else "Interrupted", text
                )
            else:
                self.counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=self.clean(self._halt_note()))
            return case
        out = self._step_output(record)
        if record.status is Status.SKIPPED:
            self.counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=self.clean(record.message or "skipped"))
        elif record.status in (Status.FAILED, Status.IN_DOUBT):
            error = record.error
            failed_items = self._failed_items(record)
            if error is None:  # a failed loop without one error of its own
                self._add_problem(
                    case, "failure", "failed", "StepFailed", "\n".join(failed_items) or "failed"
                )
            else:
                text = error_text(error, self.lines)
                if failed_items:
                    text += "\nfailed items:\n" + "\n".join(failed_items)
                kind = "failure" if _is_failure(error) else "error"
                self._add_problem(case, kind, _message(error), _type(error), text)
        if out:
            system_out = ET.SubElement(case, "system-out")
            system_out.text = self.clean("\n".join(out))
        return case

    def _step_output(self, record: StepRecord) -> list[str]:
        """What a passing (or skipped) step has to say: messages, items, ignored errors."""
        out: list[str] = []
        if record.items is not None:
            out.append(item_counts(record.items))
        pages = pages_fetched(record)
        if pages is not None:
            out.append(pages)
        if record.status is Status.EXPECTED_ERROR and record.error is not None:
            out.append(f"expected error: {record.error}")
        elif record.status is Status.IGNORED:
            failed = self._failed_items(record)
            if failed:  # a loop: its items say what failed
                out.append("failed items (on_error: continue):")
                out.extend(failed)
            elif record.error is not None:
                out.append(f"error ignored (on_error: continue): {record.error}")
        elif record.message and record.status is Status.OK:
            out.append(record.message)
        return out

    def _failed_items(self, record: StepRecord) -> list[str]:
        failed = record.failed_items
        total = len(record.items or ())
        lines = [f"  {item_error_line(item, self.redactor, total)}" for item in failed]
        if len(lines) > _MAX_ITEMS_LISTED:
            more = len(lines) - _MAX_ITEMS_LISTED
            lines = lines[:_MAX_ITEMS_LISTED] + [f"  ... and {more} more (see the JSON report)"]
        return lines

    def _add_problem(
        self, case: ET.Element, kind: str, message: str, type_: str, text: str
    ) -> None:
        self.counts["failures" if kind == "failure" else "errors"] += 1
        element = ET.SubElement(case, kind, message=self.clean(message), type=self.clean(type_))
        element.text = self.clean(text)


def _is_failure(error: BaseException) -> bool:
    """A check that failed (exit 1: assertion, expect_error, extraction), not a broken run."""
    return isinstance(error, IgflowError) and error.exit_code == ExitCode.FAILED


def _type(error: BaseException) -> str:
    return error.error_type if isinstance(error, ApiError) else type(error).__name__


def _message(error: BaseException) -> str:
    if isinstance(error, PlaybookValidationError) and error.issues:
        more = len(error.issues) - 1
        return str(error.issues[0]) + (f" (and {more} more)" if more else "")
    text = str(error) if not isinstance(error, KeyboardInterrupt) else "interrupted"
    return text.splitlines()[0] if text else type(error).__name__


def _label(step: Step, record: StepRecord | None, snap: RunSnapshot) -> str:
    """The step's name as the run rendered it; the in-flight step's from when it started."""
    if record is not None:
        return record.label
    in_flight = snap.current is not None and snap.current.index == step.index
    return (snap.current_label if in_flight else None) or step.label

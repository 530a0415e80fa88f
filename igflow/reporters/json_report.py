"""``--report json:PATH``: the whole run as one JSON document (docs/reports.md describes it).

Every step of the playbook appears, in order (``not-run`` for those the run never reached), with
its items for a ``foreach`` step. The document is built from plain values, made JSON-safe
(anything unknown becomes its ``str``), then passed whole through the run's redactor, so no
string in it (extracted values, items, URLs, messages) can carry a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from igflow import __version__
from igflow.reporters.common import (
    ReportWriter,
    RunSnapshot,
    error_view,
    json_safe,
    seconds,
    utc_iso,
)
from igflow.results import Status

if TYPE_CHECKING:
    from igflow.playbook.model import Step
    from igflow.results import ItemRecord, RequestView, StepRecord

FORMAT_VERSION = 1
NOT_RUN = Status.NOT_RUN.value
IN_FLIGHT_INTERRUPTED = "interrupted"  # the step running at Ctrl-C
IN_FLIGHT_STOPPED = "stopped"  # the step running when something outside it ended the run


# Every JSON report starts with this field (`dump` keeps the document's order): an existing
# file that does not is someone else's, and is not replaced without --force.
_OWN_START = re.compile(r'\{\s*"format"\s*:\s*"igflow-report"')


class JsonReportWriter(ReportWriter):
    format_name = "json"

    @classmethod
    def is_own_report(cls, start: str) -> bool:
        return _OWN_START.match(start.lstrip("\ufeff \t\r\n")) is not None

    def render(self, snapshot: RunSnapshot) -> str:
        document = self.redactor.redact_mapping(json_safe(build_document(snapshot)))
        return dump(document)


def dump(document: dict[str, Any]) -> str:
    """The document as text: one top-level field a line, one step a line, one item a line.

    A loop of thousands of items stays readable in a CI artifact view and greppable (an item is
    one line), where ``indent=2`` would spread each over a screen. Still one JSON document.
    """

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)

    fields = []
    for key, value in document.items():
        if key == "steps" and value:
            steps = ",\n".join(f"    {_step_text(step, one)}" for step in value)
            fields.append(f"  {one(key)}: [\n{steps}\n  ]")
        else:
            fields.append(f"  {one(key)}: {one(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _step_text(step: dict[str, Any], one: Callable[[Any], str]) -> str:
    items = step.get("items")
    if not items:
        return one(step)
    head = one({key: value for key, value in step.items() if key != "items"})
    lines = ",\n".join(f"      {one(item)}" for item in items)
    # `items` is the step's last field: reopen the object to put it there, one item a line.
    return f'{head[:-1]}, "items": [\n{lines}\n    ]}}'


def build_document(snap: RunSnapshot) -> dict[str, Any]:
    """The report as plain values, before JSON-safety and redaction."""
    playbook = snap.playbook
    records = {record.step.index: record for record in snap.records}
    steps = []
    for step in snap.steps:
        if (
            step.index not in records
            and snap.current is not None
            and snap.current.index == step.index
        ):
            steps.append(_step_in_flight(step, snap))
        else:
            steps.append(_step(step, records.get(step.index)))
    counts: dict[str, int] = {}
    for entry in steps:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    return {
        "format": "igflow-report",
        "format_version": FORMAT_VERSION,
        "igflow_version": __version__,
        "playbook": {
            "path": snap.path,
            "name": playbook.name if playbook is not None else None,
            "api": playbook.api if playbook is not None else None,
        },
        "target": {"origin": snap.origin, "sandbox": snap.sandbox},
        "started_at": utc_iso(snap.started_at),
        "elapsed": seconds(snap.elapsed),
        "status": snap.status.value,
        "exit_code": snap.exit_code,
        "error": error_view(snap.error),
        "summary": {"steps": len(steps), **counts},
        "outputs": dict(snap.outputs),
        "output_errors": dict(snap.output_errors),
        "writes": _writes(snap.result),
        "api_usage": getattr(snap.result, "api_usage", None),
        "steps": steps,
    }


def _writes(result: Any) -> dict[str, Any] | None:
    """What the run did to the account: writes sent, done earlier, settled and in doubt."""
    if result is None:
        return None
    return {
        "dry_run": result.dry_run,
        "sent": dict(result.writes),
        "done_earlier": result.writes_done_earlier,
        "settled": list(result.reconciled),
        "in_doubt": list(result.in_doubt),
    }


def _step_in_flight(step: Step, snap: RunSnapshot) -> dict[str, Any]:
    """The step the run stopped in (Ctrl-C, a bug): what it had done, items in item order."""
    entry = _step(step, None)
    entry["label"] = snap.current_label or step.label
    done = sorted(snap.current_items, key=lambda item: item.index)
    entry.update(
        status=IN_FLIGHT_INTERRUPTED if snap.interrupted else IN_FLIGHT_STOPPED,
        items=[_item(item) for item in done] if snap.current_total is not None else None,
        items_total=snap.current_total,
    )
    return entry


def _step(step: Step, record: StepRecord | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": step.index,
        "number": step.index + 1,
        "id": step.id,
        "name": step.name,
        "label": record.label if record is not None else step.label,
        "kind": step.kind,
        "line": step.location.line,
        "col": step.location.col,
    }
    if record is None:
        entry["status"] = NOT_RUN
        return entry
    entry.update(
        status=record.status.value,
        elapsed=seconds(record.elapsed),
        endpoint=record.endpoint,
        http_status=record.http_status,
        request=_request(record.request),
        pages=record.pages,
        extracted=dict(record.extracted),
        message=record.message,
        error=error_view(record.error),
        items=None if record.items is None else [_item(item) for item in record.items],
    )
    return entry


def _item(item: ItemRecord) -> dict[str, Any]:
    return {
        "index": item.index,
        "item": item.item,
        "status": item.status.value,
        "elapsed": seconds(item.elapsed),
        "http_status": item.http_status,
        "request": _request(item.request),
        "pages": item.pages,
        "extracted": dict(item.extracted),
        "message": item.message,
        "error": error_view(item.error),
    }


def _request(request: RequestView | None) -> dict[str, str] | None:
    return None if request is None else {"method": request.method, "url": request.url}

"""What the report writers share, and hand-built runs the other reporter tests use.

The builders (``make_step``, ``make_playbook``, ``make_result``) build the runner's records by
hand, so the reporters are tested on every shape a run can take without running anything.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from igflow.errors import (
    APINotFoundError,
    AssertionFailed,
    Issue,
    PlaybookValidationError,
    SourceLocation,
)
from igflow.playbook.model import Playbook, Step
from igflow.redact import Redactor
from igflow.reporters import REPORT_FORMATS, FanOut, make_report_writer, parse_report_spec
from igflow.reporters.common import (
    RunSnapshot,
    error_text,
    error_view,
    item_counts,
    json_safe,
    split_origin,
    utc_iso,
)
from igflow.results import ItemRecord, RunResult, Status, StepRecord

PATH = "plays/demo.yml"
TOKEN = "3657782666.ab12cd3.0123456789abcdef0123456789abcdef"
SECRET = "hunter2-the-secret"
LINES = tuple(f"line {n}" for n in range(1, 41))


def make_step(index: int, label: str, kind: str = "call", line: int | None = None) -> Step:
    return Step(
        index=index,
        id=f"s{index}",
        name=label,
        location=SourceLocation(PATH, line if line is not None else 10 + index * 3, 5),
        kind=kind,
        label=label,
    )


def make_playbook(steps: Sequence[Step], name: str | None = "Demo run") -> Playbook:
    return Playbook(
        path=PATH,
        name=name,
        api="instagram.v1",
        target=None,
        vars={},
        secrets=(),
        steps=tuple(steps),
        lines=LINES,
    )


def make_result(
    playbook: Playbook,
    records: Sequence[StepRecord],
    *,
    error: Any = None,
    interrupted: bool = False,
    outputs: dict[str, Any] | None = None,
    output_errors: dict[str, str] | None = None,
) -> RunResult:
    return RunResult(
        playbook,
        list(records),
        1.25,
        error=error,
        interrupted=interrupted,
        outputs=outputs or {},
        output_errors=output_errors or {},
    )


def assertion_error(step: Step, line: int = 14) -> AssertionFailed:
    error = AssertionFailed("likes == 2", {"likes": 1})
    error.at(SourceLocation(PATH, line, 9), step.label)
    return error


def api_error(step: Step | None = None, message: str = "invalid media id") -> APINotFoundError:
    error = APINotFoundError(message, status=400, code=400, endpoint="media.get")
    if step is not None:
        error.at(step.location, step.label)
    return error


def items(
    count: int, failed: Sequence[int] = (), status: Status = Status.IGNORED
) -> list[ItemRecord]:
    out = []
    for n in range(count):
        if n in failed:
            out.append(
                ItemRecord(n, f"{n}_3657", status=status, http_status=400, error=api_error())
            )
        else:
            out.append(
                ItemRecord(
                    n, f"{n}_3657", status=Status.OK, http_status=200, extracted={"id": str(n)}
                )
            )
    return out


def replay(reporter: Any, result: RunResult, origin: str = "http://127.0.0.1:1 (sandbox)") -> None:
    """Drive a reporter through the events the runner sends for ``result``."""
    reporter.run_started(result.playbook, origin)
    for record in result.records:
        reporter.step_started(record.step)
        if record.items is not None:
            reporter.loop_started(record.step, len(record.items))
            for done, item in enumerate(record.items, 1):
                reporter.item_finished(record.step, item, done, len(record.items))
        reporter.step_finished(record)
    reporter.run_finished(result)


# -- the helpers -------------------------------------------------------------------------------


def test_json_safe_turns_anything_into_json() -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    loop: list[Any] = []
    loop.append(loop)
    value = {
        1: (1, 2),
        "nan": math.nan,
        "inf": -math.inf,
        "set": {3, 1, 2},
        "when": dt.date(2017, 6, 24),
        "thing": Thing(),
        "loop": loop,
    }
    safe = json_safe(value)
    text = json.dumps(safe, allow_nan=False)
    assert safe["1"] == [1, 2]
    assert safe["nan"] == "nan" and safe["inf"] == "-inf"
    assert safe["set"] == [1, 2, 3]
    assert safe["when"] == "2017-06-24"
    assert safe["thing"] == "a thing"
    assert text  # a self-referencing list ends in a string instead of recursing forever


def test_reports_replace_the_file_whole_and_leave_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "report.json"
    step = make_step(0, "one")
    for name in ("first", "second"):
        writer = make_report_writer(parse_report_spec(f"json:{target}"), Redactor(), PATH)
        replay(writer, make_result(make_playbook([step], name=name), [StepRecord(step)]))
    assert json.loads(target.read_text(encoding="utf-8"))["playbook"]["name"] == "second"
    assert os.listdir(target.parent) == ["report.json"]


def test_origin_and_times() -> None:
    assert split_origin("http://127.0.0.1:5 (sandbox)") == ("http://127.0.0.1:5", True)
    assert split_origin("https://api.instagram.com") == ("https://api.instagram.com", False)
    moment = dt.datetime(2017, 6, 24, 12, 30, 5, 123, tzinfo=dt.timezone.utc)
    assert utc_iso(moment) == "2017-06-24T12:30:05Z"
    assert utc_iso(moment, zone=False) == "2017-06-24T12:30:05"


def test_error_views() -> None:
    step = make_step(0, "Get it")
    view = error_view(api_error(step))
    assert view is not None
    assert view["type"] == "APINotFoundError" and view["error_type"] == "APINotFoundError"
    assert view["location"] == f"{PATH}:10:5" and view["line"] == 10
    assert view["http_status"] == 400 and view["endpoint"] == "media.get"
    failed = error_view(assertion_error(step))
    assert failed is not None and failed["values"] == {"likes": 1}
    invalid = PlaybookValidationError([Issue(SourceLocation(PATH, 3, 1), "unknown key 'stpes'")])
    invalid_view = error_view(invalid)
    assert invalid_view is not None
    assert invalid_view["issues"][0]["location"] == f"{PATH}:3:1"
    bug = error_view(ZeroDivisionError("division by zero"))
    assert bug == {"type": "ZeroDivisionError", "message": "division by zero", "internal": True}
    assert error_view(None) is None


def test_error_text_quotes_the_line_and_the_values() -> None:
    text = error_text(assertion_error(make_step(0, "x")), LINES)
    assert text.splitlines() == [
        f"{PATH}:14:9: assertion failed: likes == 2",
        "    line 14",
        "            ^",
        "  where likes = 1",
    ]


def test_item_counts() -> None:
    assert item_counts(items(1)) == "1 item"
    assert item_counts(items(200, failed=(3, 4, 5))) == "200 items, 3 failed"


# -- --report parsing and the fan-out ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("json:out/r.json", ("json", "out/r.json")), ("JUnit:r.xml", ("junit", "r.xml"))],
)
def test_report_spec(text: str, expected: tuple[str, str]) -> None:
    assert tuple(parse_report_spec(text)) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("xml:r.xml", "unknown report format 'xml'"),
        ("report.json", "expected FORMAT:PATH"),
        ("junit:", "names no file"),
    ],
)
def test_bad_report_spec_names_the_formats(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_report_spec(text)
    assert fragment in str(caught.value)
    if "names no file" not in fragment:
        assert ", ".join(REPORT_FORMATS) in str(caught.value)


def test_fan_out_reaches_every_reporter_and_writers_finish_first(tmp_path: Path) -> None:
    order: list[str] = []

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return lambda *args: order.append(name)

    writer = make_report_writer(parse_report_spec(f"json:{tmp_path}/r.json"), Redactor(), PATH)
    step = make_step(0, "one")
    result = make_result(make_playbook([step]), [StepRecord(step)])
    fan = FanOut([Recorder(), writer])  # type: ignore[list-item]
    replay(fan, result)
    assert order == ["run_started", "step_started", "step_finished", "run_finished"]
    assert writer.written and (tmp_path / "r.json").exists()


def test_a_writer_that_cannot_write_keeps_the_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    writer = make_report_writer(parse_report_spec(f"junit:{blocker}/r.xml"), Redactor(), PATH)
    writer.close(KeyboardInterrupt())  # never raises into the run
    assert writer.failure is not None
    assert writer.failure.message.startswith(f"cannot write {blocker}/r.xml: ")


def test_close_writes_what_is_known_when_the_run_never_finished(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    writer = make_report_writer(parse_report_spec(f"json:{path}"), Redactor(), PATH)
    steps = [make_step(0, "one"), make_step(1, "two")]
    writer.set_playbook(make_playbook(steps))
    writer.step_started(steps[0])
    writer.close(RuntimeError("bug"))
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["status"] == "failed" and document["exit_code"] == 70
    assert [s["status"] for s in document["steps"]] == ["stopped", "not-run"]
    writer.close(None)  # once written, close does nothing more


def test_snapshot_status_and_exit_code() -> None:
    snap = RunSnapshot(source_path=PATH)
    assert (snap.status, snap.exit_code, snap.name) == ("passed", 0, PATH)
    snap.error = api_error()
    assert (snap.status, snap.exit_code) == ("failed", 3)
    snap.interrupted = True
    assert (snap.status, snap.exit_code) == ("interrupted", 130)

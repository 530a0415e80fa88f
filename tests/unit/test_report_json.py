"""`--report json:PATH` on hand-built runs: the document, redaction, every way a run ends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_report_common import (
    PATH,
    SECRET,
    TOKEN,
    api_error,
    assertion_error,
    items,
    make_playbook,
    make_result,
    make_step,
    replay,
)

from igflow.errors import Issue, PlaybookValidationError, SourceLocation
from igflow.redact import Redactor
from igflow.reporters.json_report import JsonReportWriter
from igflow.results import Status
from igflow.runner import ItemRecord, RequestView, StepRecord

URL = f"http://127.0.0.1:1/v1/media/1_2?access_token={TOKEN}"


def write(tmp_path: Path, result: Any, redactor: Redactor | None = None) -> dict[str, Any]:
    path = tmp_path / "report.json"
    writer = JsonReportWriter(str(path), redactor or Redactor(), PATH)
    replay(writer, result)
    assert writer.failure is None
    text = path.read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def test_a_passing_run(tmp_path: Path) -> None:
    steps = [make_step(0, "Authorize", "authorize"), make_step(1, "Get the photo")]
    records = [
        StepRecord(steps[0], message="as grantwinney", elapsed=0.02),
        StepRecord(
            steps[1],
            endpoint="media.get",
            http_status=200,
            extracted={"likes": 1, "media_id": "1_2"},
            request=RequestView("GET", URL),
            elapsed=0.003,
        ),
    ]
    doc = write(tmp_path, make_result(make_playbook(steps), records, outputs={"likes": 1}))
    assert doc["format"] == "igflow-report" and doc["format_version"] == 1
    assert doc["playbook"] == {"path": PATH, "name": "Demo run", "api": "instagram.v1"}
    assert doc["target"] == {"origin": "http://127.0.0.1:1", "sandbox": True}
    assert doc["started_at"].endswith("Z") and doc["elapsed"] == 1.25
    assert (doc["status"], doc["exit_code"], doc["error"]) == ("passed", 0, None)
    assert doc["summary"] == {"steps": 2, "ok": 2}
    assert doc["outputs"] == {"likes": 1} and doc["output_errors"] == {}
    first, second = doc["steps"]
    assert first["index"] == 0 and first["number"] == 1 and first["kind"] == "authorize"
    assert first["message"] == "as grantwinney" and first["items"] is None
    assert (second["line"], second["col"], second["id"]) == (13, 5, "s1")
    assert second["endpoint"] == "media.get" and second["http_status"] == 200
    assert second["request"] == {
        "method": "GET",
        "url": "http://127.0.0.1:1/v1/media/1_2?access_token=***",
    }
    assert second["extracted"] == {"likes": 1, "media_id": "1_2"}


def test_a_failed_assertion_and_the_steps_never_reached(tmp_path: Path) -> None:
    steps = [make_step(0, "Get"), make_step(1, "Unlike"), make_step(2, "Check")]
    error = assertion_error(steps[0])
    records = [StepRecord(steps[0], status=Status.FAILED, error=error, http_status=200)]
    doc = write(
        tmp_path,
        make_result(
            make_playbook(steps), records, error=error, output_errors={"n": "'n' is undefined"}
        ),
    )
    assert doc["status"] == "failed" and doc["exit_code"] == 1
    assert doc["error"]["location"] == f"{PATH}:14:9"
    assert doc["error"]["type"] == "AssertionFailed"
    assert doc["error"]["values"] == {"likes": 1}
    assert [s["status"] for s in doc["steps"]] == ["failed", "not-run", "not-run"]
    assert doc["steps"][0]["error"]["message"] == "assertion failed: likes == 2"
    assert doc["summary"] == {"steps": 3, "failed": 1, "not-run": 2}
    assert doc["output_errors"] == {"n": "'n' is undefined"}


def test_loop_items_in_order_with_their_errors(tmp_path: Path) -> None:
    step = make_step(0, "Unlike each")
    loop = items(5, failed=(1, 3))
    loop[0].request = RequestView("DELETE", URL)
    loop[2].pages = 3
    record = StepRecord(step, status=Status.IGNORED, items=loop, extracted={"id": ["0"]})
    doc = write(tmp_path, make_result(make_playbook([step]), [record]))
    entries = doc["steps"][0]["items"]
    assert [e["index"] for e in entries] == [0, 1, 2, 3, 4]
    assert [e["status"] for e in entries] == ["ok", "error-ignored", "ok", "error-ignored", "ok"]
    assert entries[0]["request"]["url"].endswith("access_token=***")
    assert entries[1]["error"]["error_type"] == "APINotFoundError"
    assert entries[1]["item"] == "1_3657" and entries[2]["pages"] == 3
    assert entries[4]["extracted"] == {"id": "4"}
    assert set(entries[0]) == {
        "index",
        "item",
        "status",
        "elapsed",
        "http_status",
        "request",
        "pages",
        "extracted",
        "message",
        "error",
    }


def test_one_line_per_step_and_per_item(tmp_path: Path) -> None:
    steps = [make_step(0, "Each"), make_step(1, "After"), make_step(2, "Never")]
    records = [StepRecord(steps[0], items=items(3)), StepRecord(steps[1], items=[])]
    write(tmp_path, make_result(make_playbook(steps), records))
    lines = (tmp_path / "report.json").read_text(encoding="utf-8").splitlines()
    steps_at = lines.index('  "steps": [')
    loop, *item_lines, closing, after, never, end, brace = lines[steps_at + 1 :]
    assert loop.startswith('    {"index": 0, ') and loop.endswith(', "items": [')
    assert [line[:18] for line in item_lines] == [f'      {{"index": {n},' for n in range(3)]
    assert closing == "    ]},"
    assert after.endswith('"items": []},') and never.endswith('"status": "not-run"}')
    assert (end, brace) == ("  ]", "}")


def test_secrets_are_redacted_everywhere(tmp_path: Path) -> None:
    redactor = Redactor([SECRET])
    step = make_step(0, "Leaky")
    loop = [
        ItemRecord(
            0, {"token": "plain-value", "note": SECRET}, status=Status.OK, extracted={"x": SECRET}
        ),
        ItemRecord(1, SECRET, status=Status.IGNORED, error=api_error(message=f"bad {SECRET}")),
    ]
    record = StepRecord(
        step,
        status=Status.IGNORED,
        items=loop,
        message=f"wrote 2 rows for {SECRET}",
        extracted={"next": f"http://x/?access_token={TOKEN}", "raw": TOKEN},
    )
    result = make_result(make_playbook([step]), [record], outputs={"secret": [SECRET, TOKEN]})
    write(tmp_path, result, redactor)
    text = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert SECRET not in text and TOKEN not in text
    assert "plain-value" not in text  # under a secret-named key
    assert "***" in text


def test_values_json_cannot_hold_become_text(tmp_path: Path) -> None:
    step = make_step(0, "Odd")
    record = StepRecord(step, extracted={"nan": float("nan"), "obj": object(), "t": (1, 2)})
    doc = write(tmp_path, make_result(make_playbook([step]), [record]))
    extracted = doc["steps"][0]["extracted"]
    assert extracted["nan"] == "nan" and extracted["t"] == [1, 2]
    assert extracted["obj"].startswith("<object object")


def test_an_interrupted_run(tmp_path: Path) -> None:
    steps = [make_step(0, "one"), make_step(1, "two")]
    records = [StepRecord(steps[0])]
    doc = write(tmp_path, make_result(make_playbook(steps), records, interrupted=True))
    assert doc["status"] == "interrupted" and doc["exit_code"] == 130
    assert [s["status"] for s in doc["steps"]] == ["ok", "not-run"]


def test_interrupted_in_a_loop_says_which_items_were_done(tmp_path: Path) -> None:
    steps = [make_step(0, "Each"), make_step(1, "After")]
    loop = items(10, failed=(1,))
    path = tmp_path / "report.json"
    writer = JsonReportWriter(str(path), Redactor(), PATH)
    writer.run_started(make_playbook(steps), "http://x")
    writer.step_started(steps[0])
    writer.loop_started(steps[0], 10)
    for done, item in enumerate([loop[2], loop[0], loop[1]], 1):  # finished out of order
        writer.item_finished(steps[0], item, done, 10)
    writer.run_finished(make_result(make_playbook(steps), [], interrupted=True))
    doc = json.loads(path.read_text(encoding="utf-8"))
    each, after = doc["steps"]
    assert each["status"] == "interrupted" and each["items_total"] == 10
    assert [item["index"] for item in each["items"]] == [0, 1, 2]
    assert each["items"][1]["status"] == "error-ignored"
    assert after["status"] == "not-run"


def test_an_api_error_halts(tmp_path: Path) -> None:
    step = make_step(0, "Get")
    error = api_error(step)
    record = StepRecord(step, status=Status.FAILED, error=error, http_status=400)
    doc = write(tmp_path, make_result(make_playbook([step]), [record], error=error))
    assert doc["exit_code"] == 3
    assert doc["error"]["error_type"] == "APINotFoundError"
    assert doc["steps"][0]["http_status"] == 400


def test_a_playbook_that_never_compiled(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    writer = JsonReportWriter(str(path), Redactor(), PATH)
    error = PlaybookValidationError([Issue(SourceLocation(PATH, 3, 1), "unknown key 'stpes'")])
    writer.close(error)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["status"] == "failed" and doc["exit_code"] == 2
    assert doc["playbook"] == {"path": PATH, "name": None, "api": None}
    assert doc["steps"] == [] and doc["target"]["origin"] is None
    assert doc["error"]["issues"] == [
        {"location": f"{PATH}:3:1", "message": "unknown key 'stpes'", "severity": "error"}
    ]

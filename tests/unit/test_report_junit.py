"""`--report junit:PATH` on hand-built runs, read back with junitparser and checked for structure.

``check_structure`` holds the JUnit schema's rules that CI systems rely on: the attributes the
common XSD (Ant/Jenkins) requires, at most one result per case, and counts that add up.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from junitparser import Error, Failure, JUnitXml, Skipped
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
from igflow.reporters.junit import JunitReportWriter
from igflow.results import ItemRecord, RunResult, Status, StepRecord

SUITE_REQUIRED = ("name", "tests", "failures", "errors", "time", "timestamp", "hostname")
CASE_REQUIRED = ("name", "classname", "time")
RESULTS = ("failure", "error", "skipped")


def check_structure(text: str) -> ET.Element:
    """Assert what JUnit consumers require of the file; return the <testsuite>."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    for attr in SUITE_REQUIRED:
        assert suite.get(attr), f"testsuite lacks {attr}"
    float(suite.get("time", ""))
    cases = suite.findall("testcase")
    counts = {"failure": 0, "error": 0, "skipped": 0}
    for case in cases:
        for attr in CASE_REQUIRED:
            assert case.get(attr), f"testcase lacks {attr}"
        assert float(case.get("time", "")) >= 0
        results = [child for child in case if child.tag in RESULTS]
        assert len(results) <= 1, "a case has at most one result"
        for child in results:
            counts[child.tag] += 1
            if child.tag != "skipped":
                assert child.get("message") and child.get("type")
    assert int(suite.get("tests", "")) == len(cases)
    assert int(suite.get("failures", "")) == counts["failure"]
    assert int(suite.get("errors", "")) == counts["error"]
    assert int(suite.get("skipped", "")) == counts["skipped"]
    for attr in ("tests", "failures", "errors", "skipped"):
        assert root.get(attr) == suite.get(attr)
    return suite


def write(tmp_path: Path, result: RunResult, redactor: Redactor | None = None) -> Any:
    path = tmp_path / "junit.xml"
    writer = JunitReportWriter(str(path), redactor or Redactor(), PATH)
    replay(writer, result)
    assert writer.failure is None
    check_structure(path.read_text(encoding="utf-8"))
    xml = JUnitXml.fromfile(str(path))
    return next(iter(xml))


def cases(suite: Any) -> dict[str, Any]:
    return {case.name: case for case in suite}


def test_a_failed_assertion_names_the_step_and_the_line(tmp_path: Path) -> None:
    steps = [make_step(0, "Authorize", "authorize"), make_step(1, "Get the photo", line=12)]
    steps.append(make_step(2, "Unlike"))
    error = assertion_error(steps[1], line=14)
    records = [
        StepRecord(steps[0], message="as grantwinney"),
        StepRecord(steps[1], status=Status.FAILED, error=error, http_status=200, elapsed=0.25),
    ]
    suite = write(tmp_path, make_result(make_playbook(steps), records, error=error))
    assert suite.name == "Demo run"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (3, 1, 0, 1)
    by_name = cases(suite)
    assert list(by_name) == ["01 Authorize", "02 Get the photo", "03 Unlike"]
    failing = by_name["02 Get the photo"]
    assert failing.classname == "demo"
    assert failing._elem.get("line") == "12" and failing._elem.get("file") == PATH
    assert failing.time == 0.25
    (failure,) = failing.result
    assert isinstance(failure, Failure)
    assert failure.message == f"{PATH}:14:9: assertion failed: likes == 2"
    assert failure.type == "AssertionFailed"
    assert "    line 14" in failure.text and "where likes = 1" in failure.text
    (skipped,) = by_name["03 Unlike"].result
    assert isinstance(skipped, Skipped)
    assert skipped.message == "not run: the run halted at step 2"
    assert by_name["01 Authorize"].result == []
    assert by_name["01 Authorize"].system_out == "as grantwinney"


def test_api_errors_are_errors_and_when_is_skipped(tmp_path: Path) -> None:
    steps = [make_step(0, "Maybe"), make_step(1, "Get")]
    error = api_error(steps[1])
    records = [
        StepRecord(steps[0], status=Status.SKIPPED, message="when: likes > 5"),
        StepRecord(steps[1], status=Status.FAILED, error=error, http_status=400),
    ]
    suite = write(tmp_path, make_result(make_playbook(steps), records, error=error))
    assert (suite.failures, suite.errors, suite.skipped) == (0, 1, 1)
    by_name = cases(suite)
    (skipped,) = by_name["01 Maybe"].result
    assert isinstance(skipped, Skipped) and skipped.message == "when: likes > 5"
    (problem,) = by_name["02 Get"].result
    assert isinstance(problem, Error)
    assert problem.type == "APINotFoundError"
    assert problem.message == f"{PATH}:13:5: media.get: APINotFoundError: invalid media id [400]"


def test_ignored_item_errors_pass_and_are_listed(tmp_path: Path) -> None:
    step = make_step(0, "Unlike each")
    record = StepRecord(step, status=Status.IGNORED, items=items(200, failed=(4, 9)))
    suite = write(tmp_path, make_result(make_playbook([step]), [record]))
    (case,) = suite
    assert case.result == [] and (suite.failures, suite.errors) == (0, 0)
    out = case.system_out
    assert "200 items, 2 failed" in out
    assert "[4] '4_3657': APINotFoundError: invalid media id" in out
    assert "[9] '9_3657'" in out


def test_a_failed_loop_lists_its_failed_items(tmp_path: Path) -> None:
    step = make_step(0, "Unlike each")
    loop = items(3, failed=(1,), status=Status.FAILED)
    error = api_error(step)
    record = StepRecord(step, status=Status.FAILED, items=loop, error=error)
    suite = write(tmp_path, make_result(make_playbook([step]), [record], error=error))
    (case,) = suite
    (problem,) = case.result
    assert isinstance(problem, Error)
    assert "failed items:\n  [1] '1_3657': APINotFoundError" in problem.text


def test_interrupted_in_a_step(tmp_path: Path) -> None:
    steps = [make_step(0, "one"), make_step(1, "two"), make_step(2, "three")]
    result = make_result(make_playbook(steps), [StepRecord(steps[0])], interrupted=True)
    path = tmp_path / "junit.xml"
    writer = JunitReportWriter(str(path), Redactor(), PATH)
    writer.run_started(result.playbook, "https://api.instagram.com")
    writer.step_started(steps[0])
    writer.step_finished(result.records[0])
    writer.step_started(steps[1])  # Ctrl-C here: no step_finished
    writer.run_finished(result)
    check_structure(path.read_text(encoding="utf-8"))
    suite = next(iter(JUnitXml.fromfile(str(path))))
    by_name = cases(suite)
    (stopped,) = by_name["02 two"].result
    assert isinstance(stopped, Error) and stopped.message == "interrupted"
    (skipped,) = by_name["03 three"].result
    assert skipped.message == "not run: the run was interrupted at step 2"


def test_an_invalid_playbook_still_gives_a_report(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    writer = JunitReportWriter(str(path), Redactor(), PATH)
    error = PlaybookValidationError(
        [
            Issue(SourceLocation(PATH, 3, 1), "unknown key 'stpes'"),
            Issue(SourceLocation(PATH, 9, 7), "unknown endpoint 'like.delete'"),
        ]
    )
    writer.close(error)
    suite = check_structure(path.read_text(encoding="utf-8"))
    assert suite.get("name") == PATH
    (case,) = suite.findall("testcase")
    assert case.get("name") == "00 run" and case.get("line") == "3"
    problem = case.find("error")
    assert problem is not None
    assert problem.get("message") == f"{PATH}:3:1: unknown key 'stpes' (and 1 more)"
    assert "unknown endpoint 'like.delete'" in (problem.text or "")


def test_a_vars_error_before_the_first_step(tmp_path: Path) -> None:
    steps = [make_step(0, "one")]
    error = api_error()
    suite = write(tmp_path, make_result(make_playbook(steps), [], error=error))
    by_name = cases(suite)
    assert list(by_name) == ["00 run", "01 one"]
    assert by_name["01 one"].result[0].message == "not run: the run halted before its first step"


def test_secrets_and_bad_characters_never_reach_the_file(tmp_path: Path) -> None:
    redactor = Redactor([SECRET])
    steps = [make_step(0, f"Log {SECRET}", "log"), make_step(1, "Loop")]
    loop = [ItemRecord(0, TOKEN, status=Status.IGNORED, error=api_error(message=f"{SECRET}"))]
    records = [
        StepRecord(steps[0], message=f"token {TOKEN} and \x00\x1b[31m control"),
        StepRecord(steps[1], status=Status.IGNORED, items=loop),
    ]
    result = make_result(make_playbook(steps), records, outputs={"o": SECRET})
    write(tmp_path, result, redactor)
    text = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert SECRET not in text and TOKEN not in text
    assert "\x00" not in text and "\x1b" not in text


def test_outputs_are_properties(tmp_path: Path) -> None:
    step = make_step(0, "one")
    result = make_result(
        make_playbook([step]),
        [StepRecord(step)],
        outputs={"unliked": 3, "ids": ["1", "2"]},
        output_errors={"later": "'later' is undefined"},
    )
    write(tmp_path, result)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["output.unliked"] == "3"
    assert props["output.ids"] == '["1", "2"]'
    assert props["output_error.later"] == "'later' is undefined"
    assert props["igflow.status"] == "passed" and props["igflow.exit_code"] == "0"

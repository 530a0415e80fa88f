"""`igflow run --report ...` end to end: the real CLI against the sandbox, the files read back.

JUnit files are parsed with junitparser (what CI plugins do) and checked against the schema's
rules (tests/unit/test_report_junit.py's ``check_structure``); JSON files with ``json``. Every
report is grepped for the run's access token and declared secrets.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from junitparser import Error, Failure, JUnitXml, Skipped

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
SEED = str(ROOT / "playbooks" / "seed_walkthrough.yml")
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_report_junit import check_structure  # noqa: E402

V1_TOKEN = re.compile(r"\d+\.[0-9a-f]{7}\.[0-9a-f]{32}")
UNREDACTED = re.compile(r"access_token=(?!\*\*\*)[^&\"'\s<]+")


def write_playbook(tmp_path: Path, body: str, name: str = "play.yml") -> str:
    path = tmp_path / name
    path.write_text("igflow: 1\n" + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def reports(tmp_path: Path) -> tuple[list[str], Path, Path]:
    json_path, junit_path = tmp_path / "out" / "run.json", tmp_path / "out" / "run.xml"
    return (
        ["--report", f"json:{json_path}", "--report", f"junit:{junit_path}"],
        json_path,
        junit_path,
    )


def read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def read_junit(path: Path) -> Any:
    check_structure(path.read_text(encoding="utf-8"))
    return next(iter(JUnitXml.fromfile(str(path))))


def assert_no_secrets(*texts: str, secrets: tuple[str, ...] = ()) -> None:
    for text in texts:
        assert not V1_TOKEN.search(text)
        assert not UNREDACTED.search(text), UNREDACTED.search(text)
        for secret in secrets:
            assert secret not in text


FAILING = """\
name: Like count
steps:
  - authorize: {scopes: [basic], user: grantwinney}
  - name: Get the photo
    call: media.shortcode
    with: {shortcode: Bcizg1_B3nu}
    extract:
      likes: $.data.likes.count
    assert:
      - likes == 2
  - log: never reached
"""


def test_a_failed_assertion_in_junit_names_the_step_and_the_line(tmp_path: Path) -> None:
    path = write_playbook(tmp_path, FAILING)
    args, json_path, junit_path = reports(tmp_path)
    code, out, err = run_cli("run", path, *args)
    assert code == 1, out + err
    suite = read_junit(junit_path)
    assert suite.name == "Like count"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (3, 1, 0, 1)
    case = next(case for case in suite if case.result and isinstance(case.result[0], Failure))
    assert case.name == "02 Get the photo"
    assert case.classname == "play"
    assert case._elem.get("file") == path and case._elem.get("line") == "5"
    (failure,) = case.result
    assert failure.message == f"{path}:11:9: assertion failed: likes == 2"
    assert failure.type == "AssertionFailed"
    assert "where likes = 1" in failure.text
    last = list(suite)[-1]
    assert isinstance(last.result[0], Skipped)
    assert last.result[0].message == "not run: the run halted at step 2"

    document = read_json(json_path)
    assert (document["status"], document["exit_code"]) == ("failed", 1)
    assert document["error"]["location"] == f"{path}:11:9"
    assert [s["status"] for s in document["steps"]] == ["ok", "failed", "not-run"]
    assert document["steps"][1]["extracted"] == {"likes": 1}
    assert document["steps"][1]["request"]["url"].endswith("access_token=***")
    assert_no_secrets(json_path.read_text(), junit_path.read_text(), out, err)


LOOP = """\
name: Loop report
secrets: [note]
steps:
  - authorize: {scopes: [basic, public_content], user: grantwinney}
  - id: mine
    name: My media, two pages
    call: users.media_recent_self
    with: {count: 2}
    paginate: {max_pages: 2}
    extract:
      ids: $.data[*].id
  - id: each
    name: Each media
    foreach: "{{ ids + ['0_0'] }}"
    as: media_id
    concurrency: 3
    call: media.get
    with: {media_id: "{{ media_id }}"}
    on_error: continue
    extract:
      likes: $.data.likes.count
  - log: "note {{ note }}"
  - write:
      path: "{{ out }}/likes.json"  # under the playbook's directory
      value: "{{ likes }}"
outputs:
  count: ids | length
  failed: steps.each.results | rejectattr("status", "equalto", "ok") | list | length
  secret: note
"""
NOTE = "my-declared-secret-note"


def run_loop(tmp_path: Path, *extra: str) -> tuple[int, str, str, Path, Path]:
    path = write_playbook(tmp_path, LOOP)
    args, json_path, junit_path = reports(tmp_path)
    code, out, err = run_cli("run", path, "--var", f"note={NOTE}", "--var", "out=.", *args, *extra)
    return code, out, err, json_path, junit_path


def test_a_loop_with_pages_ignored_errors_a_write_and_outputs(tmp_path: Path) -> None:
    code, out, err, json_path, junit_path = run_loop(tmp_path)
    assert code == 0, out + err
    assert re.search(r"PASS  2/5  My media, two pages  → 200  2 pages", out)
    assert re.search(r"IGNR  3/5  Each media  5 items, 1 failed", out)
    assert "      [4] '0_0': APINotFoundError: invalid media id" in out
    assert re.search(r"PASS  5/5  write .*  wrote \d+ values? to \./likes", out)
    assert out.splitlines()[-5:-1] == [
        "outputs:",
        "  count = 4",
        "  failed = 1",
        '  secret = "***"',
    ]

    document = read_json(json_path)
    assert document["status"] == "passed" and document["outputs"]["count"] == 4
    assert document["outputs"]["secret"] == "***"
    mine, each = document["steps"][1], document["steps"][2]
    assert mine["pages"] == 2 and len(mine["extracted"]["ids"]) == 4
    assert each["status"] == "error-ignored"
    assert [item["index"] for item in each["items"]] == [0, 1, 2, 3, 4]  # item order, not finish
    assert [item["item"] for item in each["items"]] == [*mine["extracted"]["ids"], "0_0"]
    assert each["items"][4]["error"]["error_type"] == "APINotFoundError"
    assert each["items"][0]["request"]["method"] == "GET"
    assert each["extracted"]["likes"][4] is None

    suite = read_junit(junit_path)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 0, 0, 0)
    loop_case = next(case for case in suite if case.name == "03 Each media")
    assert loop_case.result == []
    assert "[4] '0_0': APINotFoundError: invalid media id" in loop_case.system_out
    assert_no_secrets(json_path.read_text(), junit_path.read_text(), out, err, secrets=(NOTE,))


def test_quiet_still_prints_the_outputs(tmp_path: Path) -> None:
    code, out, _, _, _ = run_loop(tmp_path, "-q")
    assert code == 0
    assert out.splitlines() == [
        "outputs:",
        "  count = 4",
        "  failed = 1",
        '  secret = "***"',
        out.splitlines()[-1],
    ]


def test_verbose_shows_every_item_exchange(tmp_path: Path) -> None:
    code, out, _, _, _ = run_loop(tmp_path, "-v")
    assert code == 0
    assert len(re.findall(r"      > GET http://127\.0\.0\.1:\d+/v1/media/", out)) == 5
    assert_no_secrets(out)


@pytest.fixture
def served_sandbox() -> Iterator[str]:
    with start_sandbox(SandboxConfig()) as running:
        yield running.url


def test_the_access_token_never_reaches_a_report(tmp_path: Path, served_sandbox: str) -> None:
    args, json_path, junit_path = reports(tmp_path)
    code, out, err = run_cli("run", SEED, "--target", served_sandbox, "-v", *args)
    assert code == 0, out + err
    # The run's own token: one per (user, client), so `sandbox token` hands out the same one.
    code, token, err = run_cli(
        "sandbox", "token", "--url", served_sandbox, "--user", "grantwinney", "--scopes", "basic"
    )
    token = token.strip()
    assert code == 0 and V1_TOKEN.fullmatch(token), err
    for text in (json_path.read_text(), junit_path.read_text(), out):
        assert token not in text
        assert token.split(".")[-1] not in text
    assert "access_token=***" in json_path.read_text()
    assert_no_secrets(json_path.read_text(), junit_path.read_text())


# -- however the run ends, the reports are written ---------------------------------------------


def test_an_api_error_is_a_junit_error(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: media.shortcode
            with: {shortcode: NoSuchCode}
        """,
    )
    args, json_path, junit_path = reports(tmp_path)
    code, _, _ = run_cli("run", path, *args)
    assert code == 3
    suite = read_junit(junit_path)
    (problem,) = list(suite)[1].result
    assert isinstance(problem, Error) and problem.type == "APINotFoundError"
    assert read_json(json_path)["exit_code"] == 3


def test_an_invalid_playbook_still_writes_its_reports(tmp_path: Path) -> None:
    path = write_playbook(tmp_path, "stpes: []\n")
    args, json_path, junit_path = reports(tmp_path)
    code, _, err = run_cli("run", path, *args)
    assert code == 2
    assert "nothing was sent" in err
    document = read_json(json_path)
    assert (document["status"], document["exit_code"]) == ("failed", 2)
    assert document["error"]["type"] == "PlaybookValidationError" and document["steps"] == []
    suite = read_junit(junit_path)
    (case,) = suite
    assert case.name == "00 run" and isinstance(case.result[0], Error)


def test_an_interrupted_run_writes_its_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from igflow.runner import Runner

    real = Runner._perform

    def interrupt_on_log(self: Runner, step: Any, *args: Any) -> Any:
        if step.kind == "log":
            raise KeyboardInterrupt
        return real(self, step, *args)

    monkeypatch.setattr(Runner, "_perform", interrupt_on_log)
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - log: Ctrl-C here
          - call: users.self
        """,
    )
    args, json_path, junit_path = reports(tmp_path)
    code, _, err = run_cli("run", path, *args)
    assert code == 130 and "interrupted" in err
    document = read_json(json_path)
    assert (document["status"], document["exit_code"]) == ("interrupted", 130)
    assert [s["status"] for s in document["steps"]] == ["ok", "interrupted", "not-run"]
    suite = read_junit(junit_path)
    by_name = {case.name: case for case in suite}
    assert by_name["02 log"].result[0].message == "interrupted"
    assert by_name["03 call users.self"].result[0].message == (
        "not run: the run was interrupted at step 2"
    )


def test_an_interrupted_loop_says_which_items_were_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from igflow.results import ItemRecord
    from igflow.runner import Runner

    real = Runner._perform

    def interrupt_at_the_third_item(self: Runner, step: Any, scope: Any, record: Any) -> Any:
        if isinstance(record, ItemRecord) and record.index == 2:
            raise KeyboardInterrupt
        return real(self, step, scope, record)

    monkeypatch.setattr(Runner, "_perform", interrupt_at_the_third_item)
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - name: Me, five times
            foreach: [1, 2, 3, 4, 5]
            call: users.self
        """,
    )
    args, json_path, junit_path = reports(tmp_path)
    code, _, _ = run_cli("run", path, *args)
    assert code == 130
    loop = read_json(json_path)["steps"][1]
    assert loop["status"] == "interrupted" and loop["items_total"] == 5
    assert [(item["item"], item["status"]) for item in loop["items"]] == [(1, "ok"), (2, "ok")]
    (stopped,) = list(read_junit(junit_path))[1].result
    assert stopped.message == "interrupted" and "2 of 5 items were done" in stopped.text


def test_a_bug_still_writes_the_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from igflow.runner import Runner

    def broken(self: Runner, *args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Runner, "_perform", broken)
    path = write_playbook(tmp_path, "steps:\n  - log: hello\n")
    args, json_path, junit_path = reports(tmp_path)
    code, _, err = run_cli("run", path, *args)
    assert code == 70 and "internal error" in err and "Traceback" not in err
    document = read_json(json_path)
    assert document["exit_code"] == 70 and document["error"]["type"] == "RuntimeError"
    suite = read_junit(junit_path)
    assert suite.errors == 1


# -- the option itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("xml:out.xml", "unknown report format 'xml'"),
        ("out.json", "expected FORMAT:PATH"),
        ("junit:", "names no file"),
    ],
)
def test_a_bad_report_option_is_a_usage_error(value: str, fragment: str) -> None:
    code, out, err = run_cli("run", SEED, "--report", value)
    assert code == 2
    assert fragment in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert out == ""  # nothing ran
    if "names no file" not in fragment:
        assert "json, junit" in err


def test_report_paths_that_cannot_work_are_refused_before_the_run(tmp_path: Path) -> None:
    code, out, err = run_cli("run", SEED, "--report", f"json:{tmp_path}")
    assert code == 2 and "it is a directory" in err and out == ""
    same = f"{tmp_path}/r.json"
    code, _, err = run_cli("run", SEED, "--report", f"json:{same}", "--report", f"junit:{same}")
    assert code == 2 and "more than once" in err


def test_a_report_that_cannot_be_written_is_said_once(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    code, out, err = run_cli("run", SEED, "-q", "--report", f"junit:{blocker}/r.xml")
    assert code == 2
    assert out.startswith("ok: ")  # the run itself went through and said so
    assert err.count("junit report: cannot write") == 1
    # A failed run keeps its own exit code.
    path = write_playbook(tmp_path, FAILING)
    code, _, err = run_cli("run", path, "-q", "--report", f"json:{blocker}/r.json")
    assert code == 1 and "json report: cannot write" in err


def test_run_help_documents_report() -> None:
    code, out, _ = run_cli("run", "--help")
    assert code == 0
    assert "--report FORMAT:PATH" in out and "junit:PATH" in out


def test_a_failed_call_keeps_its_redacted_request_in_the_json_report(tmp_path: Path) -> None:
    playbook = tmp_path / "missing.yml"
    playbook.write_text(
        "igflow: 1\nsteps:\n"
        "  - authorize: {scopes: [basic], user: grantwinney}\n"
        "  - foreach: [nope1, nope2]\n"
        "    call: media.get\n"
        '    with: {media_id: "{{ item }}"}\n'
        "    on_error: continue\n"
    )
    report = tmp_path / "report.json"
    code, _, err = run_cli("run", str(playbook), "--report", f"json:{report}")
    assert code == 0, err
    document = json.loads(report.read_text())
    items = document["steps"][1]["items"]
    assert [item["status"] for item in items] == ["error-ignored", "error-ignored"]
    request = items[0]["request"]
    assert request["method"] == "GET" and "/v1/media/nope1" in request["url"]
    assert request["url"].endswith("access_token=***")  # the token itself never shows

"""Where igflow may write: write steps confined to the output directory, only regular files
replaced, CSV formulas neutralised, reports that never replace someone else's file."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest
from runner_fakes import FakeClient, compile_text, run

from igflow.errors import ExitCode, StepError
from igflow.export import (
    UnsafeTarget,
    WriteFailed,
    atomic_write_text,
    csv_cell,
    refuse_unsafe_target,
    serialize,
)
from igflow.outputs import OutputDir, OutsideOutputDir, path_problem
from igflow.playbook import diagnose_playbook
from igflow.redact import Redactor
from igflow.reporters import ReportSpec, make_report_writer
from igflow.reporters.common import ReportWriter

# --- the literal check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/tmp/x.json", "../x.json", "a/../../x.json", "./../x.json", "a/b/../../../x"],
)
def test_paths_leading_out_are_problems(path: str) -> None:
    assert path_problem(path) is not None


@pytest.mark.parametrize("path", ["x.json", "a/b/c.csv", "a/../x.json", "./a//b.jsonl", "..x.json"])
def test_paths_under_the_output_directory_are_fine(path: str) -> None:
    assert path_problem(path) is None


@pytest.mark.parametrize("path", ["", "a/", ".", "a/..", "x\x00.json"])
def test_paths_naming_no_file_are_problems(path: str) -> None:
    assert path_problem(path) is not None


def check_issues(tmp_path: Path, write_path: str) -> list[str]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "igflow: 1\nvars:\n  d: x\nsteps:\n"
        f"  - write: {{path: {json.dumps(write_path)}, value: '{{{{ 1 }}}}', format: json}}\n"
    )
    return [str(issue) for issue in diagnose_playbook(str(playbook)).issues]


@pytest.mark.parametrize(
    "write_path",
    ["/tmp/out.json", "../out.json", "exports/../../out.json", "/tmp/{{ d }}.json", "../{{ d }}/x"],
)
def test_a_write_path_leading_out_is_a_check_error_at_its_place(
    tmp_path: Path, write_path: str
) -> None:
    issues = check_issues(tmp_path, write_path)
    assert len(issues) == 1, issues
    assert issues[0].startswith(f"{tmp_path / 'play.yml'}:5:19: ")
    assert "output directory" in issues[0]


@pytest.mark.parametrize("write_path", ["out.json", "{{ d }}/x.json", "a/{{ d }}/../x", "a{{ d }}"])
def test_a_write_path_that_may_stay_inside_passes_the_check(
    tmp_path: Path, write_path: str
) -> None:
    assert check_issues(tmp_path, write_path) == []


# --- OutputDir ---------------------------------------------------------------------------------


def test_writes_land_under_the_output_directory_creating_directories(tmp_path: Path) -> None:
    OutputDir(str(tmp_path / "out")).write_text("a/b/c.json", "1\n")
    assert (tmp_path / "out" / "a" / "b" / "c.json").read_text() == "1\n"
    OutputDir(str(tmp_path / "out")).write_text("a/../d.json", "2\n")
    assert (tmp_path / "out" / "d.json").read_text() == "2\n"


@pytest.mark.parametrize("path", ["../escape.json", "/tmp/escape.json", "a/../../escape.json"])
def test_a_rendered_path_leading_out_is_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "out"
    with pytest.raises(OutsideOutputDir) as caught:
        OutputDir(str(root)).write_text(path.replace("/tmp", str(tmp_path)), "x")
    assert isinstance(caught.value, StepError) and caught.value.exit_code == ExitCode.USAGE
    assert not (tmp_path / "escape.json").exists()


def test_a_linked_directory_anywhere_in_the_path_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "out"
    (root / "a").mkdir(parents=True)
    (root / "a" / "link").symlink_to(outside)
    (root / "top").symlink_to(outside)
    for path in ("a/link/x.json", "top/x.json", "top/deeper/x.json"):
        with pytest.raises(OutsideOutputDir, match="symbolic link"):
            OutputDir(str(root)).write_text(path, "x")
    assert list(outside.iterdir()) == []


def test_a_link_as_the_file_itself_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    root = tmp_path / "out"
    root.mkdir()
    (root / "x.json").symlink_to(victim)
    with pytest.raises(OutsideOutputDir, match="symbolic link"):
        OutputDir(str(root)).write_text("x.json", "x")
    assert victim.read_text() == "precious\n" and (root / "x.json").is_symlink()


def test_the_output_directory_itself_may_be_reached_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    OutputDir(str(tmp_path / "alias")).write_text("x.json", "1\n")
    assert (tmp_path / "real" / "x.json").read_text() == "1\n"


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    with pytest.raises(UnsafeTarget, match="FIFO"):
        OutputDir(str(tmp_path)).write_text("pipe.json", "x")  # opening it would block
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe.json").st_mode)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.json").mkdir()
    with pytest.raises(UnsafeTarget, match="a directory"):
        OutputDir(str(tmp_path)).write_text("d.json", "x")


def test_a_device_is_refused_by_its_kind() -> None:
    # Checked on the stat alone: the test never writes to a real device.
    with pytest.raises(UnsafeTarget, match="character device"):
        refuse_unsafe_target(os.lstat(os.devnull), os.devnull, os.devnull, None)


def test_a_device_given_as_a_report_path_is_refused(tmp_path: Path) -> None:
    writer = make_report_writer(ReportSpec("json", os.devnull), Redactor(), "play.yml")
    with pytest.raises(UnsafeTarget, match="character device"):
        writer.check_target()
    assert stat.S_ISCHR(os.lstat(os.devnull).st_mode)


def test_the_playbook_itself_is_never_written(tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text("igflow: 1\n")
    with pytest.raises(UnsafeTarget, match="the playbook"):
        OutputDir.for_playbook(str(playbook)).write_text("play.yml", "{}")
    (tmp_path / "hard.yml").hardlink_to(playbook)  # another name, the same file
    with pytest.raises(UnsafeTarget, match="the playbook"):
        OutputDir.for_playbook(str(playbook)).write_text("hard.yml", "{}")
    assert playbook.read_text() == "igflow: 1\n"


def test_the_temporary_file_is_new_and_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    root = tmp_path / "out"
    root.mkdir()
    # Someone guessed the first temporary name and put a link there.
    (root / ".x.json.aaaa.tmp").symlink_to(victim)
    names = iter(["aaaa", "bbbb"])
    monkeypatch.setattr("igflow.export.secrets.token_hex", lambda n: next(names))
    OutputDir(str(root)).write_text("x.json", "new\n")
    assert victim.read_text() == "precious\n"
    assert (root / "x.json").read_text() == "new\n"
    assert sorted(p.name for p in root.iterdir()) == [".x.json.aaaa.tmp", "x.json"]


def test_a_failed_rename_removes_the_temporary_file_and_keeps_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x.json").write_text("old\n")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("igflow.export.os.replace", fail)
    with pytest.raises(WriteFailed, match="No space left"):
        OutputDir(str(tmp_path)).write_text("x.json", "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    assert (tmp_path / "x.json").read_text() == "old\n"


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("old\n")
    os.chmod(tmp_path / "x.json", 0o640)
    OutputDir(str(tmp_path)).write_text("x.json", "new\n")
    assert stat.S_IMODE(os.stat(tmp_path / "x.json").st_mode) == 0o640


def test_the_runner_writes_under_its_output_directory_and_points_at_the_step(
    tmp_path: Path,
) -> None:
    body = "vars:\n  to: x.json\nsteps:\n  - write: {path: '{{ to }}', value: '{{ 1 }}'}\n"
    result, _ = run(body, FakeClient(lambda *a: {}), outputs=OutputDir(str(tmp_path)))
    assert result.ok and (tmp_path / "x.json").read_text() == "1\n"
    escape = body.replace("to: x.json", "to: ../x.json")
    result, _ = run(escape, FakeClient(lambda *a: {}), outputs=OutputDir(str(tmp_path / "in")))
    assert isinstance(result.error, OutsideOutputDir)
    assert result.error.location is not None and result.error.location.line == 5
    assert not (tmp_path / "in").exists() or not list((tmp_path / "in").iterdir())
    assert compile_text(body).steps[0].kind == "write"


# --- CSV formulas --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-rMBOr1inH", "'-rMBOr1inH"),
        ("-", "'-"),
        ("a=1", "a=1"),
        ("-5", "-5"),  # a plain number as text: a spreadsheet reads the number, nothing runs
        ("+1.5e3", "+1.5e3"),
        (-5, "-5"),
        (-2.5, "-2.5"),
        (float("-inf"), "'-inf"),
        (True, "true"),
        (None, ""),
        ({"a": "=1"}, '{"a": "=1"}'),
    ],
)
def test_cells_a_spreadsheet_would_run_are_neutralised(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_a_csv_export_neutralises_cells_and_header(tmp_path: Path) -> None:
    rows = [{"=cmd": "=1+1", "n": -5, "s": "-5"}, {"=cmd": "@x", "n": 3, "s": "ok"}]
    text, count = serialize(rows, "csv")
    assert count == 2
    assert list(csv.reader(io.StringIO(text))) == [
        ["'=cmd", "n", "s"],
        ["'=1+1", "-5", "-5"],
        ["'@x", "3", "ok"],
    ]
    table, _ = serialize([["=a", 1]], "csv")
    assert table == "'=a,1\n"


def test_json_and_jsonl_are_written_as_they_are() -> None:
    assert serialize({"a": "=1"}, "json")[0] == '{\n  "a": "=1"\n}\n'
    assert serialize([{"a": "=1"}], "jsonl")[0] == '{"a": "=1"}\n'


# --- reports ---------------------------------------------------------------------------------


def writer_for(path: Path, fmt: str = "json", **options: object) -> ReportWriter:
    return make_report_writer(ReportSpec(fmt, str(path)), Redactor(), "play.yml", **options)  # type: ignore[arg-type]


def test_a_report_never_replaces_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    writer = writer_for(notes)
    with pytest.raises(UnsafeTarget, match="not an igflow json report.*--force"):
        writer.check_target()
    writer.close()
    assert writer.failure is not None and notes.read_text() == '{"mine": true}\n'


def test_force_replaces_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    writer = writer_for(notes, force=True)
    writer.close()
    assert writer.failure is None
    assert json.loads(notes.read_text())["format"] == "igflow-report"


@pytest.mark.parametrize("fmt", ["json", "junit"])
def test_a_report_replaces_its_own_kind_and_an_empty_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"report.{fmt}"
    path.write_text("")
    for _ in range(2):  # an empty file, then the report the first run wrote
        writer = writer_for(path, fmt)
        writer.close()
        assert writer.failure is None, writer.failure


def test_a_report_of_the_other_kind_is_not_its_own(tmp_path: Path) -> None:
    path = tmp_path / "report"
    writer_for(path, "json").close()
    with pytest.raises(UnsafeTarget, match="not an igflow junit report"):
        writer_for(path, "junit").check_target()
    junit = tmp_path / "other.xml"
    junit.write_text('<?xml version="1.0"?>\n<testsuites><testsuite name="theirs"/></testsuites>\n')
    with pytest.raises(UnsafeTarget, match="not an igflow junit report"):
        writer_for(junit, "junit").check_target()


def test_a_report_never_replaces_a_protected_file_even_with_force(tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text("igflow: 1\n")
    protected = {os.path.realpath(playbook): "the playbook"}
    writer = writer_for(playbook, force=True, protected=protected)
    with pytest.raises(UnsafeTarget, match="the playbook"):
        writer.check_target()
    writer.close()
    assert playbook.read_text() == "igflow: 1\n"


def test_a_report_on_a_fifo_or_a_link_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UnsafeTarget, match="FIFO"):
        writer_for(tmp_path / "pipe", force=True).check_target()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "link.json").symlink_to(victim)
    writer = writer_for(tmp_path / "link.json", force=True)
    writer.close()
    assert writer.failure is not None and "symbolic link" in writer.failure.message
    assert victim.read_text() == "precious\n"


def test_atomic_write_text_refuses_a_protected_file(tmp_path: Path) -> None:
    target = tmp_path / "vars.yml"
    target.write_text("a: 1\n")
    with pytest.raises(UnsafeTarget, match="the --vars-file"):
        atomic_write_text(str(target), "x", protected={str(target): "the --vars-file"})
    assert target.read_text() == "a: 1\n"

"""Every file the real CLI writes stays where it should: write steps under the output directory,
reports only over their own kind of file, never over the playbook or the --vars-file."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

from cli_helpers import run_cli

WRITE = """\
igflow: 1
vars:
  to: rows.csv
  rows: [{name: "=HYPERLINK(\\"http://evil\\")", n: -5, s: "-5", at: "@cmd"}]
steps:
  - log: hello
  - write: {path: "WRITE_PATH", value: "{{ rows }}", format: FORMAT}
"""


def playbook(tmp_path: Path, write_path: str = "{{ to }}", fmt: str = "csv") -> Path:
    path = tmp_path / "play.yml"
    path.write_text(WRITE.replace("WRITE_PATH", write_path).replace("FORMAT", fmt))
    return path


def test_a_report_path_naming_the_playbook_is_refused_and_the_playbook_kept(
    tmp_path: Path,
) -> None:
    path = playbook(tmp_path)
    before = path.read_text()
    for fmt in ("json", "junit"):
        for extra in ((), ("--force",)):
            code, out, err = run_cli("run", str(path), "--report", f"{fmt}:{path}", *extra)
            assert code == 2, err
            assert "it is the playbook" in err and out == ""  # nothing ran
            assert path.read_text() == before


def test_a_report_path_naming_the_vars_file_or_another_report_is_refused(tmp_path: Path) -> None:
    path = playbook(tmp_path)
    variables = tmp_path / "vars.yml"
    variables.write_text("to: other.csv\n")
    code, _, err = run_cli(
        "run", str(path), "--vars-file", str(variables), "--report", f"json:{variables}"
    )
    assert code == 2 and "it is the --vars-file" in err
    assert variables.read_text() == "to: other.csv\n"
    (tmp_path / "alias").symlink_to(tmp_path)
    code, _, err = run_cli(
        "run",
        str(path),
        "--report",
        f"json:{tmp_path / 'r.out'}",
        "--report",
        f"junit:{tmp_path / 'alias' / 'r.out'}",
    )
    assert code == 2 and "more than once" in err
    assert not (tmp_path / "r.out").exists()


def test_a_report_keeps_a_file_that_is_not_a_report_unless_forced(tmp_path: Path) -> None:
    path = playbook(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    code, out, err = run_cli("run", str(path), "--report", f"json:{notes}")
    assert code == 2 and out == ""
    assert "not an igflow json report" in err and "--force" in err
    assert notes.read_text() == "my notes\n"
    code, _, err = run_cli("run", str(path), "--report", f"json:{notes}", "--force")
    assert code == 0, err  # --force without --resume is allowed
    assert json.loads(notes.read_text())["format"] == "igflow-report"
    # Now it is a report: the next run replaces it without --force.
    code, _, err = run_cli("run", str(path), "--report", f"json:{notes}")
    assert code == 0, err
    # But it is not a JUnit report.
    code, _, err = run_cli("run", str(path), "--report", f"junit:{notes}")
    assert code == 2 and "not an igflow junit report" in err


def test_a_junit_report_replaces_its_own_and_keeps_someone_elses(tmp_path: Path) -> None:
    path = playbook(tmp_path)
    report = tmp_path / "junit.xml"
    for _ in range(2):
        code, _, err = run_cli("run", str(path), "--report", f"junit:{report}")
        assert code == 0, err
    theirs = '<?xml version="1.0"?>\n<testsuites name="pytest"></testsuites>\n'
    report.write_text(theirs)
    code, _, err = run_cli("run", str(path), "--report", f"junit:{report}")
    assert code == 2 and report.read_text() == theirs


def test_a_report_on_a_fifo_is_refused_before_the_run(tmp_path: Path) -> None:
    path = playbook(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    code, out, err = run_cli("run", str(path), "--report", f"json:{tmp_path / 'pipe'}", "--force")
    assert code == 2 and "FIFO" in err and out == ""
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)


def test_a_literal_write_path_leading_out_is_a_check_error_with_its_place(tmp_path: Path) -> None:
    for write_path in ("../escape.csv", str(tmp_path / "abs.csv"), "../{{ to }}"):
        path = playbook(tmp_path, write_path)
        code, _, err = run_cli("check", str(path))
        assert code == 2, (write_path, err)
        assert f"{path}:7:19: " in err, err
        assert "output directory" in err
        code, out, err = run_cli("run", str(path))
        assert code == 2 and "nothing was sent" in err
    assert not (tmp_path.parent / "escape.csv").exists() and not (tmp_path / "abs.csv").exists()


def test_a_rendered_write_path_leading_out_stops_the_run_at_the_step(tmp_path: Path) -> None:
    root = tmp_path / "pb"
    root.mkdir()
    path = playbook(root)
    code, out, err = run_cli("run", str(path), "--var", "to=../escape.csv")
    assert code == 2
    assert err.startswith(f"igflow: error: {path}:7:5: '../escape.csv' leads outside"), err
    assert "PASS  1/2" in out and "FAIL  2/2" in out
    assert not (tmp_path / "escape.csv").exists()
    code, _, err = run_cli("run", str(path), "--var", f"to={tmp_path / 'abs.csv'}")
    assert code == 2 and "absolute path" in err and not (tmp_path / "abs.csv").exists()


def test_a_linked_directory_or_file_in_the_output_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "rows.csv").write_text("precious\n")
    root = tmp_path / "pb"
    root.mkdir()
    path = playbook(root)
    (root / "exports").symlink_to(outside)
    code, _, err = run_cli("run", str(path), "--var", "to=exports/rows.csv")
    assert code == 2 and "exports is a symbolic link" in err, err
    (root / "rows.csv").symlink_to(outside / "rows.csv")
    code, _, err = run_cli("run", str(path))
    assert code == 2 and "symbolic link" in err, err
    assert (outside / "rows.csv").read_text() == "precious\n"
    assert sorted(p.name for p in outside.iterdir()) == ["rows.csv"]


def test_a_write_step_never_replaces_the_playbook_or_the_vars_file(tmp_path: Path) -> None:
    path = playbook(tmp_path, fmt="json")
    before = path.read_text()
    code, _, err = run_cli("run", str(path), "--var", "to=play.yml")
    assert code == 2 and "it is the playbook" in err
    assert path.read_text() == before
    variables = tmp_path / "vars.yml"
    variables.write_text("to: vars.yml\n")
    code, _, err = run_cli("run", str(path), "--vars-file", str(variables))
    assert code == 2 and "it is the --vars-file" in err
    assert variables.read_text() == "to: vars.yml\n"


def test_a_write_step_onto_a_fifo_is_refused(tmp_path: Path) -> None:
    path = playbook(tmp_path)
    os.mkfifo(tmp_path / "rows.csv")
    code, _, err = run_cli("run", str(path))
    assert code == 2 and "FIFO" in err
    assert stat.S_ISFIFO(os.lstat(tmp_path / "rows.csv").st_mode)


def test_out_dir_moves_the_writes_and_creates_missing_directories(tmp_path: Path) -> None:
    path = playbook(tmp_path)
    out = tmp_path / "build" / "exports"
    code, stdout, err = run_cli("run", str(path), "--out-dir", str(out), "--var", "to=a/b.csv")
    assert code == 0, err
    assert "wrote 1 row to a/b.csv" in stdout
    assert (out / "a" / "b.csv").is_file() and not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("")
    code, _, err = run_cli("run", str(path), "--out-dir", str(tmp_path / "file"))
    assert code == 2 and "--out-dir" in err and "not a directory" in err


def test_a_csv_export_neutralises_formulas_but_keeps_numbers(tmp_path: Path) -> None:
    path = playbook(tmp_path)
    code, _, err = run_cli("run", str(path))
    assert code == 0, err
    with (tmp_path / "rows.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [{"name": '\'=HYPERLINK("http://evil")', "n": "-5", "s": "-5", "at": "'@cmd"}]

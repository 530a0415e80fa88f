"""A step's `name` is a template rendered as the step starts (issue 12, item 2)."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

from cli_helpers import run_cli


def write_playbook(tmp_path: Path, body: str) -> str:
    path = tmp_path / "play.yml"
    path.write_text("igflow: 1\n" + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def test_a_templated_name_is_rendered_on_the_console_and_in_reports(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars: {owner: maya.bakes, ids: [a, b, c]}
        steps:
          - name: "Unlike the media of {{ owner }}"
            log: hi
          - name: "{{ ids | length }} items of {{ owner }}"
            foreach: "{{ ids }}"
            log: "{{ item }}"
        """,
    )
    json_path, junit_path = tmp_path / "r.json", tmp_path / "r.xml"
    code, out, err = run_cli(
        "run", path, "--report", f"json:{json_path}", "--report", f"junit:{junit_path}"
    )
    assert code == 0, out + err
    assert "Unlike the media of maya.bakes" in out
    assert "3 items of maya.bakes" in out  # a loop renders its name once, before its items
    assert "{{" not in out
    labels = [step["label"] for step in json.loads(json_path.read_text())["steps"]]
    assert labels == ["Unlike the media of maya.bakes", "3 items of maya.bakes"]
    names = [case.get("name") for case in ET.parse(junit_path).iter("testcase")]
    assert names == ["01 Unlike the media of maya.bakes", "02 3 items of maya.bakes"]


def test_a_name_reads_the_names_known_when_its_step_starts(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars: {n: 1}
        steps:
          - set: {n: "n + 1"}
          - name: "now {{ n }}"
            set: {n: "n + 1"}
          - name: "then {{ n }}"
            log: done
        """,
    )
    code, out, err = run_cli("run", path)
    assert code == 0, out + err
    assert "now 2" in out and "then 3" in out


def test_a_name_that_cannot_render_falls_back_to_its_text(tmp_path: Path) -> None:
    # `who` is defined only when the guarded step ran; the name shows its text instead.
    path = write_playbook(
        tmp_path,
        """\
        vars: {go: false}
        steps:
          - when: go
            set: {who: "'x'"}
          - name: "Hello {{ who | upper }}"
            when: go
            log: hi
          - name: "Halve {{ 1 // 0 }}"
            log: still runs
        """,
    )
    code, out, err = run_cli("run", path)
    assert code == 0, out + err
    assert "Hello {{ who | upper }}" in out
    assert "Halve {{ 1 // 0 }}" in out and "still runs" in out


def test_a_rendered_name_is_one_escaped_redacted_line(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        secrets: [pin]
        vars: {pin: s3cr3t-pin, evil: "a\\nb\\e[2J"}
        steps:
          - name: "pin {{ pin }} / {{ evil }}"
            log: hi
        """,
    )
    json_path = tmp_path / "r.json"
    code, out, err = run_cli("run", path, "--color", "never", "--report", f"json:{json_path}")
    assert code == 0, out + err
    assert "s3cr3t-pin" not in out and "s3cr3t-pin" not in json_path.read_text()
    assert "\x1b" not in out
    line = next(line for line in out.splitlines() if "pin " in line)
    assert "/ a b\\x1b[2J" in line


def test_check_refuses_names_not_defined_before_the_step(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars: {ids: [a]}
        steps:
          - name: "{{ later }} and {{ item }}"
            foreach: "{{ ids }}"
            set: {later: "item"}
          - name: "{{ 1 +  }}"
            log: x
        """,
    )
    code, _, err = run_cli("check", path)
    assert code == 2
    assert "play.yml:4:" in err and "'later' is used before it is defined" in err
    assert "before the loop's items: it cannot read 'item'" in err
    assert "play.yml:7:" in err

"""The loader bounds what aliases expand to, not the honest size of a playbook (issue 12).

A generated playbook of 6,400 steps has ~110,000 YAML nodes and no anchor: it must load. An
alias bomb writes a few nodes that expand to billions: it must still be refused at once.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from igflow.errors import PlaybookSyntaxError
from igflow.playbook import loader
from igflow.playbook.loader import MAX_ALIAS_NODES, load_playbook_text

ROOT = Path(__file__).resolve().parents[2]


def generated(steps: int) -> str:
    lines = ["igflow: 1", "vars: {shortcode: Bcizg1_B3nu}", "steps:"]
    lines.append("  - authorize: {scopes: [basic, public_content], user: grantwinney}")
    for i in range(steps):
        lines.append(
            f"  - id: s{i}\n    name: Step {i}\n    call: media.shortcode\n"
            f'    with: {{shortcode: "{{{{ shortcode }}}}"}}\n'
            f"    extract:\n      likes{i}: $.data.likes.count\n"
            f'    assert: ["likes{i} >= 0"]'
        )
    return "\n".join(lines) + "\n"


def test_a_generated_6400_step_playbook_without_anchors_loads() -> None:
    doc = load_playbook_text(generated(6400), "big.yml")
    assert len(doc.data["steps"]) == 6401
    assert doc.data["steps"][6400]["extract"] == {"likes6399": "$.data.likes.count"}


def test_the_python_composer_does_not_count_written_nodes_against_aliases(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same rule without libyaml, smaller: 400 steps are ~7,000 nodes, the alias bound 1,000.
    monkeypatch.setattr(loader, "_LIBYAML_LOADER", None)
    monkeypatch.setattr(loader, "MAX_ALIAS_NODES", 1000)
    assert len(load_playbook_text(generated(400), "big.yml").data["steps"]) == 401


def test_a_large_playbook_may_use_a_few_aliases() -> None:
    text = generated(6400).replace(
        "vars: {shortcode: Bcizg1_B3nu}", "vars: {shortcode: &code Bcizg1_B3nu, again: *code}"
    )
    assert load_playbook_text(text, "big.yml").data["vars"]["again"] == "Bcizg1_B3nu"


def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "python"])
def test_an_alias_bomb_is_refused_naming_the_limit(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not fast:
        monkeypatch.setattr(loader, "_LIBYAML_LOADER", None)
    with pytest.raises(PlaybookSyntaxError) as caught:
        load_playbook_text(bomb(30), "p.yml")  # 9**30 nodes if expanded
    assert caught.value.message.startswith(
        f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes"
    )
    assert "MAX_ALIAS_NODES" in caught.value.message


def test_a_big_playbook_with_a_bomb_in_it_is_still_refused() -> None:
    # The honest size of the rest does not buy the aliases any room.
    with pytest.raises(PlaybookSyntaxError, match="YAML aliases expand"):
        load_playbook_text(generated(6400) + textwrap.indent(bomb(12), "x") + "\n", "p.yml")


def test_aliases_just_inside_the_bound_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_ALIAS_NODES", 100)
    # 10 written nodes + 11 aliases of a 10-node list: 110 expanded, 100 beyond... one too many.
    base = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
    ok = base + "b: [" + ", ".join(["*a"] * 10) + "]\n"
    too_many = base + "b: [" + ", ".join(["*a"] * 11) + "]\n"
    assert len(load_playbook_text(ok, "p.yml").data["b"]) == 10
    with pytest.raises(PlaybookSyntaxError, match="YAML aliases expand"):
        load_playbook_text(too_many, "p.yml")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_an_alias_bomb_file_ends_quickly_and_small_in_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text("igflow: 1\n" + bomb(40), encoding="utf-8")
    # The peak is read from /proc (VmHWM): ru_maxrss would include the pytest process the
    # child was forked from.
    script = (
        "import re, sys, time\n"
        "from igflow.cli import main\n"
        "started = time.perf_counter()\n"
        "code = main(['check', sys.argv[1]])\n"
        "peak = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)\n"
        "print(code, time.perf_counter() - started, peak)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    code, seconds, max_rss_kb = done.stdout.split()[-3:]
    assert int(code) == 2 and "YAML aliases expand" in done.stderr
    assert float(seconds) < 5.0
    assert int(max_rss_kb) < 200 * 1024

"""Text from playbooks and APIs reaches the terminal escaped: no escape sequence runs there."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import run_cli


def test_a_log_line_with_escape_sequences_is_shown_escaped(tmp_path: Path) -> None:
    playbook = tmp_path / "esc.yml"
    playbook.write_text(
        'igflow: 1\nvars:\n  evil: "\\e[2J\\e]0;pwned\\a"\nsteps:\n  - log: "{{ evil }}"\n'
    )
    code, out, _ = run_cli("run", str(playbook), "--color", "never")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in out

"""A template that fails at run time points at the value it was written in, line and column,
as a check-time error does (issue 12): not at the start of its step."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

HEAD = "igflow: 1\nvars: {word: abc, n: 3}\nsteps:\n"

# The failing value is always `word | int(strict=true)`: a keyword int() does not take, so it
# fails only when rendered, wherever it is written. (line, column) is where its text starts.
BAD = "word | int(strict=true)"
CASES = {
    "set, second of two names": (
        f'  - set:\n      fine: "n + 1"\n      broken: "{BAD}"\n',
        (6, 15),
    ),
    "log": (f'  - log: "{{{{ {BAD} }}}}"\n', (4, 10)),
    "with": (
        "  - authorize: {scopes: [basic, public_content], user: grantwinney}\n"
        "  - call: media.shortcode\n"
        "    with:\n"
        f'      shortcode: "{{{{ {BAD} }}}}"\n',
        (7, 18),
    ),
    "log, second item of a list": (
        f'  - log:\n      - "{{{{ n }}}}"\n      - "{{{{ {BAD} }}}}"\n',
        (6, 9),
    ),
    "when": (f"  - log: hello\n    when: {BAD}\n", (5, 11)),
    "foreach": (f'  - foreach: "{{{{ {BAD} }}}}"\n    log: "{{{{ item }}}}"\n', (4, 14)),
    "set inside a loop item": (
        f'  - foreach: [1, 2]\n    set:\n      each: "{BAD}"\n',
        (6, 13),
    ),
    "write value": (
        f'  - write: {{path: out.json, value: "{{{{ {BAD} }}}}"}}\n',
        (4, 36),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_run_time_template_error_points_at_its_value(tmp_path: Path, case: str) -> None:
    body, (line, column) = CASES[case]
    path = tmp_path / "play.yml"
    path.write_text(HEAD + body, encoding="utf-8")
    code, _, err = run_cli("run", str(path), "--out-dir", str(tmp_path))
    assert code == 2, err
    assert f"{path}:{line}:{column}: " in err, err
    # The caret line shows the failing value's own source line.
    assert path.read_text(encoding="utf-8").splitlines()[line - 1].strip() in err
    assert "Traceback" not in err


def test_an_error_without_a_value_still_points_at_its_step(tmp_path: Path) -> None:
    # The API's own refusal is not a template error: the step's line, as before.
    path = tmp_path / "play.yml"
    path.write_text(
        HEAD + "  - authorize: {scopes: [basic], user: grantwinney}\n"
        "  - call: media.shortcode\n    with: {shortcode: nosuchcode}\n",
        encoding="utf-8",
    )
    code, _, err = run_cli("run", str(path))
    assert code != 0
    assert f"{path}:5:5: " in err, err

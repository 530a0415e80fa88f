"""Golden files for the messages of deliberately broken playbooks (they are part of the UX).

Each ``tests/playbooks/broken/<name>.yml`` has ``<name>.expected``: the exact issue lines,
``file:line:col: message``, with the file named relative to the repository root. Regenerate
after a deliberate wording change with
``IGFLOW_UPDATE_GOLDEN=1 pytest tests/unit/test_broken_playbooks.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from igflow.errors import IgflowError, PlaybookError
from igflow.playbook import check_playbook, diagnose_playbook, format_issue

REPO = Path(__file__).resolve().parents[2]
BROKEN = Path("tests/playbooks/broken")
GOOD = Path("tests/playbooks/good")
UPDATE = os.environ.get("IGFLOW_UPDATE_GOLDEN") == "1"

# The line of the first reported issue, written down by hand (independently of the goldens).
FIRST_LINE = {
    "alias_bomb": 8,
    "bad_jinja_expression": 9,
    "bad_jinja_multiline": 7,
    "bad_jinja_template": 8,
    "bad_jsonpath": 9,
    "bad_param_values": 6,
    "binary": 1,
    "braces_assert": 8,
    "braces_when": 7,
    "call_before_authorize": 4,
    "duplicate_key": 9,
    "duplicate_step_ids": 7,
    "empty": 1,
    "empty_steps": 4,
    "env_declarations": 5,
    "env_undeclared": 5,
    "env_whole": 5,
    "safety_misplaced": 8,
    "loop_modifiers_misused": 8,
    "loop_variable_outside_loop": 12,
    "name_defined_under_when": 11,
    "write_problems": 6,
    "invalid_utf8": 4,
    "jsonpath_error_position": 8,
    "jsonpath_template": 9,
    "regex_literals": 8,
    "unclosed_quote": 6,
    "unknown_test": 6,
    "many_problems": 3,
    "missing_param": 6,
    "missing_version": 2,
    "modifier_on_wrong_action": 5,
    "multiple_documents": 5,
    "no_action": 4,
    "python_object": 4,
    "redefined_name": 12,
    "reserved_name": 4,
    "scope_not_requested": 5,
    "step_ref_unknown": 8,
    "tabs": 4,
    "target_with_path": 3,
    "top_level_list": 2,
    "two_actions": 5,
    "typo_param": 7,
    "unclosed_flow": 7,
    "undefined_variable": 8,
    "unknown_endpoint": 5,
    "unknown_expect_error": 7,
    "unknown_filter": 6,
    "unknown_scope": 4,
    "unknown_step_key": 6,
    "unknown_top_level_key": 3,
    "unquoted_template": 8,
    "used_before_defined": 6,
    "user_and_token": 8,
    "when_reads_own_extract": 6,
    "wrong_types": 3,
    "wrong_version": 2,
    "yaml_syntax": 3,
}


def _cases(folder: Path) -> list[str]:
    return sorted(p.stem for p in (REPO / folder).glob("*.yml"))


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Locations name the file as given; relative names keep the goldens machine-independent.
    monkeypatch.chdir(REPO)


def test_every_case_is_listed() -> None:
    assert set(_cases(BROKEN)) == set(FIRST_LINE)
    assert len(FIRST_LINE) >= 25


@pytest.mark.parametrize("name", _cases(BROKEN))
def test_broken_playbook_matches_golden(name: str) -> None:
    path = str(BROKEN / f"{name}.yml")
    diagnosis = diagnose_playbook(path)
    actual = "".join(f"{issue}\n" for issue in diagnosis.issues)
    golden = REPO / BROKEN / f"{name}.expected"
    if UPDATE:
        golden.write_text(actual, encoding="utf-8")
    assert diagnosis.playbook is None
    assert diagnosis.issues, "a broken playbook must produce at least one issue"
    assert actual == golden.read_text(encoding="utf-8")
    assert diagnosis.issues[0].location.line == FIRST_LINE[name]
    assert all(issue.location.file == path for issue in diagnosis.issues)


@pytest.mark.parametrize("name", _cases(BROKEN))
def test_broken_playbook_raises_only_igflow_errors(name: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        check_playbook(str(BROKEN / f"{name}.yml"))
    error = caught.value
    assert isinstance(error, IgflowError)
    assert error.exit_code == 2
    assert error.location is not None
    assert "Traceback" not in str(error)


@pytest.mark.parametrize("name", _cases(BROKEN))
def test_rendering_shows_source_and_caret(name: str) -> None:
    diagnosis = diagnose_playbook(str(BROKEN / f"{name}.yml"))
    for issue in diagnosis.issues:
        rendered = format_issue(issue, diagnosis.lines).splitlines()
        assert rendered[0] == str(issue)
        if len(rendered) == 3:
            caret = rendered[2]
            assert caret.strip() == "^"
            assert caret.index("^") - 4 == issue.location.col - 1


@pytest.mark.parametrize("name", _cases(GOOD))
def test_good_playbooks_have_no_issues(name: str) -> None:
    path = str(GOOD / f"{name}.yml")
    diagnosis = diagnose_playbook(path)
    assert [str(issue) for issue in diagnosis.issues] == []
    assert diagnosis.playbook is not None
    assert check_playbook(path).steps


@pytest.mark.parametrize("name", _cases(GOOD))
def test_good_playbooks_carry_the_schema_modeline(name: str) -> None:
    first = (REPO / GOOD / f"{name}.yml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../../schemas/playbook.schema.json"

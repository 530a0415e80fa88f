"""What a new user meets writing playbooks from the docs alone (issue 12): JSONPaths written as
templates, regular expressions across YAML, Jinja and regex escaping, and messages that say
where the problem is and what to do.

The broken playbooks' goldens (tests/playbooks/broken) hold the exact wording; these tests pin
the behaviour behind it on inputs of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from igflow.errors import TemplateRenderError
from igflow.filters import regex_escape, regex_search
from igflow.playbook import diagnose_playbook, format_issue
from igflow.templating import TemplateEngine


def _issues(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "play.yml"
    path.write_text(text, encoding="utf-8")
    return [str(issue).replace(f"{path}:", "") for issue in diagnose_playbook(str(path)).issues]


def _rendered(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "play.yml"
    path.write_text(text, encoding="utf-8")
    diagnosis = diagnose_playbook(str(path))
    return [format_issue(issue, diagnosis.lines) for issue in diagnosis.issues]


HEAD = "igflow: 1\nvars:\n  items: [1, 2]\n  wanted: '1'\nsteps:\n"


# --- 1. JSONPath strings are not templates -----------------------------------------------------


def test_a_jsonpath_holding_a_template_is_a_check_error_at_the_braces(tmp_path: Path) -> None:
    play = (
        HEAD + "  - authorize: {scopes: [basic], user: grantwinney}\n"
        "  - call: users.media_recent_self\n"
        "    extract: {x: \"$.data[?(@.code == '{{ wanted }}')]\"}\n"
    )
    [issue] = _issues(tmp_path, play)
    # The path's text starts at column 19 (after `{x: "`); its `{{` is 20 characters in.
    assert issue.startswith("8:39: a JSONPath is not a template: '{{ wanted }}'")
    assert "selectattr('code', 'equalto', wanted)" in issue


def test_a_jsonpath_error_points_inside_the_path(tmp_path: Path) -> None:
    play = (
        HEAD + "  - authorize: {scopes: [basic], user: grantwinney}\n"
        "  - call: users.media_recent_self\n"
        "    extract:\n      x: $.data[0].caption text\n"
    )
    [issue] = _issues(tmp_path, play)
    # The path starts at column 10; `text` is its 19th character.
    assert issue == "9:28: invalid JSONPath '$.data[0].caption text': unexpected 'text' here"


# --- 2. regular expressions ----------------------------------------------------------------------


def test_regex_escape_matches_its_text_literally() -> None:
    assert regex_escape("a.b+(c)") == r"a\.b\+\(c\)"
    assert regex_search("price: a.b+(c)!", regex_escape("a.b+(c)"))
    assert not regex_search("axb", regex_escape("a.b"))
    assert regex_escape(None) == ""
    engine = TemplateEngine()
    compiled = engine.compile_expression("caption | regex_search(word | regex_escape)")
    assert compiled.evaluate({"caption": "1+1=2", "word": "1+1"}) is True
    assert compiled.evaluate({"caption": "11=2", "word": "1+1"}) is False


def test_a_backspace_in_a_literal_pattern_is_a_warning_in_either_quoting(tmp_path: Path) -> None:
    # Double-quoted YAML turns \b into a backspace; single-quoted YAML leaves `\b` to Jinja,
    # whose string literals turn it into one too. Both are warned about; `\\b` in Jinja is not.
    play = (
        HEAD + "  - set:\n"
        "      a: \"items | select('regex_search', '\\bx') | list\"\n"
        '      b: \'items | select("regex_search", "\\bx") | list\'\n'
        '      c: \'items | select("regex_search", "\\\\bx") | list\'\n'
        "  - assert: missing_name\n"
    )
    issues = _issues(tmp_path, play)
    warnings = [issue for issue in issues if "warning: regex_search: the pattern holds a" in issue]
    assert [w.split(":")[0] for w in warnings] == ["7", "8"]
    assert all("backspace" in w for w in warnings)


def test_an_invalid_literal_pattern_is_an_error_with_its_caret(tmp_path: Path) -> None:
    line = "  - log: \"{{ 'x' is regex_match('a{2') or 'x' is regex_match('(x') }}\""
    [rendered] = _rendered(tmp_path, HEAD + line + "\n")
    head, _, caret = rendered.splitlines()
    column = line.index("'(x'") + 1  # the second pattern's literal, not the first's
    assert f"6:{column}: regex_match: invalid regular expression '(x': missing )" in head
    assert caret.index("^") - 4 == column - 1


# --- 3. messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "  - set: {y: items | frist}\n",
            "6:22: invalid expression 'items | frist': "
            "unknown filter 'frist'; did you mean 'first'?",
        ),
        (
            '  - log: "{{ items | uniq }}"\n',
            "6:22: invalid expression 'items | uniq': "
            "unknown filter 'uniq'; did you mean 'unique'?",
        ),
        (
            "  - assert: items is iterabel\n",
            "6:22: invalid expression 'items is iterabel': "
            "unknown test 'iterabel'; did you mean 'iterable'?",
        ),
        (
            "  - assert: \"items | reject('nonee') | list\"\n",
            "6:30: unknown test 'nonee'; did you mean 'none'?",
        ),
    ],
)
def test_unknown_filters_and_tests_get_a_did_you_mean(
    tmp_path: Path, step: str, message: str
) -> None:
    assert _issues(tmp_path, HEAD + step) == [message]


def test_an_unclosed_quote_in_a_block_scalar_is_shown_at_its_quote(tmp_path: Path) -> None:
    # (A folded scalar's text is not its lines: there the issue stays at the text's start.)
    play = HEAD + '  - assert: |-\n      items | length == 2\n      and wanted == "1\n'
    [rendered] = _rendered(tmp_path, play)
    head, source, caret = rendered.splitlines()
    assert head.endswith('this " opens a string that is never closed (add the closing ")')
    assert head.split(": ")[0].endswith(":8:21")
    assert source.strip() == 'and wanted == "1'
    assert source[caret.index("^")] == '"'


def test_a_quote_after_an_escape_falls_back_to_the_start_of_the_text(tmp_path: Path) -> None:
    # "\t" is one character in the value and two in the file: no column is guessed past it.
    play = HEAD + '  - log: "\\t{{ \'a }}"\n'
    [issue] = _issues(tmp_path, play)
    assert issue.startswith("6:10: invalid template")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "items[:n]",
            "slice indices must be integers: `n` is a string ('5'); use `n | int`, "
            "or pass it typed (--var n:=5)",
        ),
        (
            "n > 3",
            "cannot compare a string with a number (>): `n` is a string ('5'); use "
            "`n | int`, or pass it typed (--var n:=5)",
        ),
        ("range(n) | list", "a whole number is needed here: `n` is a string ('5')"),
        (
            "ratio - 1",
            "cannot apply - to a string and a number: `ratio` is a string ('0.5'); "
            "use `ratio | float`, or pass it typed (--var ratio:=0.5)",
        ),
    ],
)
def test_a_number_held_as_text_is_named_with_the_fix(source: str, expected: str) -> None:
    compiled = TemplateEngine().compile_expression(source)
    with pytest.raises(TemplateRenderError) as caught:
        compiled.evaluate({"items": [1, 2, 3], "n": "5", "ratio": "0.5"})
    assert caught.value.message.startswith(expected)


def test_a_type_error_without_a_number_in_text_keeps_its_own_wording() -> None:
    compiled = TemplateEngine().compile_expression("n > 3")
    with pytest.raises(TemplateRenderError) as caught:
        compiled.evaluate({"n": "five"})
    assert caught.value.message == (
        "TypeError: '>' not supported between instances of 'str' and 'int'"
    )

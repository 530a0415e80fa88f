"""Unit tests for igflow.assertions: truthiness, failure values, and how values are printed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from igflow.assertions import UNDEFINED, check_assertion, format_values
from igflow.errors import AssertionFailed, ExitCode, TemplateRenderError
from igflow.templating import TemplateEngine

MEDIA_ID = "1667121369441597934_3657782666"


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine()


@pytest.mark.parametrize(
    ("expression", "context"),
    [
        ("likes == 1", {"likes": 1}),
        ("likes >= 1 and media_id", {"likes": 3, "media_id": MEDIA_ID}),
        ("items", {"items": [0]}),
        ("items | select('odd')", {"items": [1, 2]}),  # materialized, so an empty result fails
        ("'peas' in caption", {"caption": "Snap peas"}),
        ("steps.media.extracted.likes == 1", {"steps": {"media": {"extracted": {"likes": 1}}}}),
        ("missing is not defined", {}),
        ("missing | default(1)", {}),
    ],
)
def test_truthy_assertions_pass(
    engine: TemplateEngine, expression: str, context: dict[str, Any]
) -> None:
    check_assertion(engine.compile_expression(expression), context)


@pytest.mark.parametrize(
    ("expression", "context"),
    [
        ("likes == 1", {"likes": 2}),
        ("items", {"items": []}),
        ("items | select('odd')", {"items": [2, 4]}),
        ("none_value", {"none_value": None}),
        ("''", {}),
        ("0", {}),
        ("missing is defined", {}),
    ],
)
def test_falsy_assertions_fail(
    engine: TemplateEngine, expression: str, context: dict[str, Any]
) -> None:
    with pytest.raises(AssertionFailed):
        check_assertion(engine.compile_expression(expression), context)


def test_failure_carries_expression_and_values(engine: TemplateEngine) -> None:
    expression = engine.compile_expression("likes == 1 and media_id != ''")
    context = {"likes": 2, "media_id": MEDIA_ID, "unrelated": "x"}
    with pytest.raises(AssertionFailed) as caught:
        check_assertion(expression, context)
    failure = caught.value
    assert failure.expression == "likes == 1 and media_id != ''"
    assert failure.values == {"likes": 2, "media_id": MEDIA_ID}
    assert str(failure) == "assertion failed: likes == 1 and media_id != ''"
    assert failure.exit_code == ExitCode.FAILED
    assert format_values(failure.values) == f"likes = 2, media_id = '{MEDIA_ID}'"


def test_names_absent_from_the_context_are_marked(engine: TemplateEngine) -> None:
    with pytest.raises(AssertionFailed) as caught:
        check_assertion(engine.compile_expression("media_id is defined and likes"), {"likes": 0})
    assert caught.value.values == {"likes": 0, "media_id": UNDEFINED}
    assert caught.value.values["media_id"] is UNDEFINED
    assert format_values(caught.value.values) == "likes = 0, media_id = <undefined>"


def test_undefined_marker_serializes_as_json() -> None:
    assert json.dumps({"media_id": UNDEFINED}) == '{"media_id": "<undefined>"}'


def test_values_name_the_top_level_variable(engine: TemplateEngine) -> None:
    steps = {"media": {"extracted": {"likes": 2}}}
    with pytest.raises(AssertionFailed) as caught:
        expression = engine.compile_expression("steps.media.extracted.likes == 1")
        check_assertion(expression, {"steps": steps})
    assert caught.value.values == {"steps": steps}


@pytest.mark.parametrize(
    ("expression", "context", "message"),
    [
        ("media_id == 1", {}, "'media_id' is undefined"),
        ("x.__class__", {"x": 1}, "unsafe"),
        ("1 / x", {"x": 0}, "ZeroDivisionError"),
    ],
)
def test_evaluation_errors_are_not_assertion_failures(
    engine: TemplateEngine, expression: str, context: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        check_assertion(engine.compile_expression(expression), context)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, ""),
        ({"likes": 2}, "likes = 2"),
        ({"a": None, "b": True, "c": [1, 2]}, "a = None, b = True, c = [1, 2]"),
        ({"s": "it's"}, 's = "it\'s"'),
    ],
)
def test_format_values(values: dict[str, Any], expected: str) -> None:
    assert format_values(values) == expected


@pytest.mark.parametrize(
    "value",
    ["x" * 500, list(range(10_000)), {f"k{i}": "v" * 50 for i in range(1000)}, [[[[[1]]]]] * 50],
)
def test_format_values_truncates_long_values(value: Any) -> None:
    text = format_values({"v": value})
    assert text.startswith("v = ")
    assert len(text) <= len("v = ") + 80


def test_format_values_width_is_adjustable() -> None:
    text = format_values({"v": "x" * 100}, width=20)
    assert len(text) <= len("v = ") + 20
    assert "..." in text

"""The quick parse (names, attributes, integer subscripts, filters without arguments, one
comparison) builds the very tree Jinja's parser does, and refuses what it does not cover."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import exceptions as jinja_errors
from jinja2.parser import Parser

from igflow.errors import TemplateRenderError, TemplateSyntaxError
from igflow.interpreter import COMPARE_OPS as _COMPARE_OPS
from igflow.interpreter import quick_parse as _quick_parse
from igflow.templating import TemplateEngine

ENGINE = TemplateEngine()
ENV = ENGINE._env

words = st.sampled_from(
    [
        "likes",
        "media_id_0",
        "_x",
        "a1",
        "true",
        "False",
        "none",
        "and",
        "not",
        "in",
        "is",
        "if",
        "else",
        "range",
        "loop",
        "steps",
    ]
) | st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
numbers = st.sampled_from(["0", "1", "007", "12", "1_000", "3.5", "-1", "99999999999999999"])
spaces = st.sampled_from(["", " ", "  ", "\t"])
ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "=", "=>", "<>"])


punctuation = st.sampled_from(
    [".", "|", "[", "]", "[0]", "[12]", "(", ")", ",", "-", "~", "{", "}"]
)


@st.composite
def operands(draw: st.DrawFn) -> str:
    text = draw(words)
    for _ in range(draw(st.integers(0, 2))):
        text += draw(spaces) + draw(st.sampled_from([".", "[", "|", "|", "."]))
        text += draw(spaces) + draw(words | numbers)
        if text.rstrip().endswith(tuple("0123456789")) and draw(st.booleans()):
            text += draw(spaces) + "]"
    return text


@st.composite
def sources(draw: st.DrawFn) -> str:
    left = draw(operands())
    if draw(st.booleans()):
        text = draw(spaces) + left + draw(spaces)
    else:
        right = draw(operands() | numbers)
        text = draw(spaces) + left + draw(spaces) + draw(ops) + draw(spaces) + right
        text += draw(spaces)
    if draw(st.integers(0, 4)) == 0:  # noise the grammar must refuse or parse as Jinja does
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(punctuation | words | ops) + text[at:]
    return text


def jinja_tree(source: str) -> object:
    try:
        parser = Parser(ENV, source, state="variable")
        tree = parser.parse_expression()
    except Exception:
        return None
    return tree if parser.stream.eos else None


@settings(max_examples=1500, deadline=None)
@given(sources())
def test_a_quick_tree_is_the_parsers_tree(source: str) -> None:
    quick = _quick_parse(source)
    if quick is not None:
        assert quick == jinja_tree(source), source


def test_the_common_shapes_take_the_quick_path() -> None:
    for common in (
        "likes_0 == 1",
        " media_id ",
        "a != b",
        "likers | length == likes",
        "media.likes.count >= 3",
        "pair[0]",
        "pair[1] == likes",
        "name | lower | trim",
        "a == b | length",
    ):
        assert _quick_parse(common) is not None, common
        assert _quick_parse(common) == jinja_tree(common), common
    for other in (
        "a == 1.5",
        "a == -1",
        "x | join(',')",
        "x | length > 1 and y",
        "a < b < c",
        "a[-1]",
        "a[i]",
        "a.0",
        "x is defined",
        "x | default 3",
        "true",
        "not x",
        "",
    ):
        assert _quick_parse(other) is None, other


def test_a_whole_value_in_the_quick_grammar_keeps_its_type() -> None:
    value = ENGINE.compile_value("{{ pair[1] }}")
    assert value.render({"pair": ["Bb1", 3]}) == 3
    assert value.names == frozenset({"pair"})
    assert ENGINE.compile_value("{{ a }}{{ b }}").render({"a": 1, "b": 2}) == "12"
    assert ENGINE.compile_value("{{- a -}}").render({"a": 1}) == 1


def test_quick_and_slow_compile_evaluate_alike() -> None:
    expression = ENGINE.compile_expression("likes_0 == 3")
    assert expression.names == frozenset({"likes_0"})
    assert expression.evaluate({"likes_0": 3}) is True
    value = ENGINE.compile_value("{{ media_id_0 }}")
    assert value.render({"media_id_0": "1_2"}) == "1_2"
    assert value.names == frozenset({"media_id_0"})


def test_a_quick_tree_that_needs_jinjas_compiled_code_gets_it() -> None:
    # `select` is a context filter, which the interpreter leaves to the compiled code: the quick
    # tree goes to Jinja's code generator, as a parsed one would.
    expression = ENGINE.compile_expression("x | select | list")
    assert expression.evaluate({"x": [0, 1, 2]}) == [1, 2]
    with pytest.raises(TemplateSyntaxError, match="nosuch"):
        ENGINE.compile_expression("names | nosuch == 1")


# ---- what a quick expression evaluates to ---------------------------------------------------

QUICK_CONTEXT: dict[str, object] = {
    "likes": 3,
    "zero": 0,
    "name": "Grant",
    "likers": ["a", "b", "c"],
    "empty": [],
    "media": {"id": "1_2", "likes": {"count": 3}, "tags": ["x", "y"]},
    "pair": ["Bb1", 3],
    "none_value": None,
}
value_names = st.sampled_from([*QUICK_CONTEXT, "missing", "range", "loop"])
plain_filters = st.sampled_from(
    ["length", "first", "last", "lower", "upper", "int", "string", "list", "abs", "sort",
     "unique", "count", "select", "reject", "nofilter"]
)  # fmt: skip


@st.composite
def quick_operands(draw: st.DrawFn) -> str:
    text = draw(value_names)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # most values have no such member
        text += draw(st.sampled_from([".id", ".likes", ".count", ".tags", "[0]", "[1]", "[5]"]))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        text += " | " + draw(plain_filters)
    return text


@st.composite
def quick_expressions(draw: st.DrawFn) -> str:
    left = draw(quick_operands())
    if draw(st.booleans()):
        return left
    right = draw(quick_operands() | st.sampled_from(["0", "1", "3", "12"]))
    return f"{left} {draw(st.sampled_from(list(_COMPARE_OPS)))} {right}"


def _outcome(evaluate: Callable[[], object]) -> tuple[str, object]:
    try:
        value = evaluate()
    except TemplateRenderError as exc:
        return "error", exc.message
    except TemplateSyntaxError as exc:
        return "syntax", exc.message
    return type(value).__name__, value


@settings(max_examples=800, deadline=None)
@given(quick_expressions())
def test_a_quick_expression_evaluates_as_jinjas_compiled_code(source: str) -> None:
    from igflow import interpreter, templating

    assert _quick_parse(source) is not None, source
    engine = TemplateEngine()  # a fresh cache: this compile must take the quick path
    ours = _outcome(lambda: engine.compile_expression(source).evaluate(dict(QUICK_CONTEXT)))

    def jinja() -> object:
        try:
            code = engine._generate_expression(engine._parse_expression(source))
        except jinja_errors.TemplateSyntaxError as exc:
            raise engine._expression_error(source, exc) from exc
        return templating._evaluate(lambda: code(dict(QUICK_CONTEXT)))

    assert ours == _outcome(jinja), source
    if ours[0] != "syntax":
        names, _ = interpreter.survey(jinja_tree(source), ENV)  # type: ignore[arg-type]
        assert engine.compile_expression(source).names == names, source

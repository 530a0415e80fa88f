"""The quick parse of `name` and `name <op> name|int` builds the very tree Jinja's parser does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.parser import Parser

from igflow.templating import TemplateEngine, _quick_parse

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


@st.composite
def sources(draw: st.DrawFn) -> str:
    left = draw(words)
    if draw(st.booleans()):
        return draw(spaces) + left + draw(spaces)
    right = draw(words | numbers)
    return draw(spaces) + left + draw(spaces) + draw(ops) + draw(spaces) + right + draw(spaces)


def jinja_tree(source: str) -> object:
    parser = Parser(ENV, source, state="variable")
    try:
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
    assert _quick_parse("likes_0 == 1") is not None
    assert _quick_parse(" media_id ") is not None
    assert _quick_parse("a != b") is not None
    for other in ("a == 1.5", "a == -1", "a.b == 1", "x | length == 2", "true", "not x"):
        assert _quick_parse(other) is None, other


def test_quick_and_slow_compile_evaluate_alike() -> None:
    expression = ENGINE.compile_expression("likes_0 == 3")
    assert expression.names == frozenset({"likes_0"})
    assert expression.evaluate({"likes_0": 3}) is True
    value = ENGINE.compile_value("{{ media_id_0 }}")
    assert value.render({"media_id_0": "1_2"}) == "1_2"
    assert value.names == frozenset({"media_id_0"})

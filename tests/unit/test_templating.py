"""Unit tests for igflow.templating: the whole-value rule, the sandbox, names, caching, filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from igflow.errors import TemplateRenderError, TemplateSyntaxError
from igflow.filters import (
    difference,
    epoch_to_iso,
    from_epoch,
    intersect,
    regex_replace,
    regex_search,
    to_json,
)
from igflow.templating import TemplateEngine

MEDIA_ID = "1667121369441597934_3657782666"


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine()


def render(engine: TemplateEngine, value: Any, **context: Any) -> Any:
    return engine.compile_value(value).render(context)


# --------------------------------------------------------------------------- whole-value rule


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("{{ x }}", {"x": 7}, 7),
        ("{{ x }}", {"x": [1, 2]}, [1, 2]),
        ("{{ x }}", {"x": {"a": 1}}, {"a": 1}),
        ("{{ x }}", {"x": None}, None),
        ("{{ x }}", {"x": True}, True),
        ("{{ x }}", {"x": 1.5}, 1.5),
        ("{{ x }}", {"x": MEDIA_ID}, MEDIA_ID),
        ("{{ x }}", {"x": "123"}, "123"),  # digit strings stay strings (no NativeEnvironment)
        ("  {{ x }}\n", {"x": 7}, 7),  # whitespace around is allowed
        ("{{- x -}}", {"x": 7}, 7),
        ("{{ x + 1 }}", {"x": 7}, 8),
        ("{{ x | length }}", {"x": [1, 2, 3]}, 3),
        ("{{ '}}' }}", {}, "}}"),  # a closing delimiter inside a string literal
        ("{{ items | select('odd') }}", {"items": [1, 2, 3]}, [1, 3]),  # generators -> lists
        ("{{ d.keys() }}", {"d": {"a": 1}}, ["a"]),
    ],
)
def test_whole_value_keeps_native_type(
    engine: TemplateEngine, template: str, context: dict[str, Any], expected: Any
) -> None:
    result = render(engine, template, **context)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("id={{ x }}", {"x": 7}, "id=7"),
        ("{{ x }}{{ y }}", {"x": 1, "y": 2}, "12"),
        ("{{ x }} and {{ y }}", {"x": 1, "y": 2}, "1 and 2"),
        ("{% if x %}yes{% endif %}", {"x": 1}, "yes"),
        ("{# note #}{{ x }}", {"x": 7}, "7"),
        ("[{{ x }}]", {"x": [1]}, "[[1]]"),
    ],
)
def test_mixed_text_renders_to_str(
    engine: TemplateEngine, template: str, context: dict[str, Any], expected: str
) -> None:
    assert render(engine, template, **context) == expected


@pytest.mark.parametrize("value", [3, 2.5, True, None, "plain text", "a } b { c", ""])
def test_constants_pass_through(engine: TemplateEngine, value: Any) -> None:
    compiled = engine.compile_value(value)
    assert compiled.is_constant
    assert compiled.names == frozenset()
    assert compiled.render({}) is value


def test_containers_render_recursively(engine: TemplateEngine) -> None:
    value = {"media_id": "{{ media_id }}", "n": 3, "tags": ["#{{ tag }}", "{{ count }}"]}
    compiled = engine.compile_value(value)
    assert not compiled.is_constant
    assert compiled.names == {"media_id", "tag", "count"}
    result = compiled.render({"media_id": MEDIA_ID, "tag": "peas", "count": 2})
    assert result == {"media_id": MEDIA_ID, "n": 3, "tags": ["#peas", 2]}
    assert value["tags"] == ["#{{ tag }}", "{{ count }}"]  # the source is not modified


def test_rendered_containers_are_fresh_objects(engine: TemplateEngine) -> None:
    compiled = engine.compile_value({"a": [1, 2]})
    first = compiled.render({})
    first["a"].append(3)
    assert compiled.render({}) == {"a": [1, 2]}


def test_tuples_stay_tuples(engine: TemplateEngine) -> None:
    assert render(engine, ("{{ x }}", 1), x="a") == ("a", 1)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.from_regex(r"\A[0-9]{10,19}_[0-9]{5,10}\Z"),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(deadline=None)  # a fresh engine per example; timing is not what is tested
@given(json_values)
def test_whole_value_round_trips_any_json_value(value: Any) -> None:
    result = TemplateEngine().compile_value("{{ x }}").render({"x": value})
    assert result == value
    assert type(result) is type(value)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ media_id }}", "'media_id' is undefined"),
        ("id={{ media_id }}", "'media_id' is undefined"),
        ("{{ data.missing }}", "'dict object' has no attribute 'missing'"),
        ("{{ data.missing.deeper }}", "'dict object' has no attribute 'missing'"),
        ("{{ [media_id] }}", "'media_id' is undefined"),
        ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
        ("{{ 1 + 'a' }}", "TypeError: unsupported operand"),
        ("{{ data | int + undefined_name }}", "'undefined_name' is undefined"),
    ],
)
def test_render_errors_are_one_line_template_render_errors(
    engine: TemplateEngine, template: str, message: str
) -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render(engine, template, data={})
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert "Traceback" not in caught.value.message


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__.os }}",
        "{{ x.__class__ }}",
        "{{ [x.__class__] }}",
        "{{ {'k': x.__class__} }}",
        "text {{ x.__class__ }}",
        "text {{ [x.__class__] }}",
        "{{ x.append(1) }}",  # the sandbox is immutable
        "{{ d.update({'a': 1}) }}",
        "{{ 'a' * 100000000 }}",
        "{{ [0] * 10000000 }}",
        "{{ 2 ** 1000000 }}",
        "{{ range(10000000) | list }}",
    ],
)
def test_sandbox_violations_become_template_render_errors(
    engine: TemplateEngine, template: str
) -> None:
    with pytest.raises(TemplateRenderError):
        render(engine, template, x=[1], d={})


def test_unsafe_attribute_message_is_precise(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateRenderError, match="access to attribute '__class__'"):
        render(engine, "{{ ''.__class__ }}")


@pytest.mark.parametrize("template", ["{{ lipsum() }}", "{{ [1, 2] | random }}"])
def test_nondeterministic_helpers_are_removed(engine: TemplateEngine, template: str) -> None:
    with pytest.raises((TemplateRenderError, TemplateSyntaxError)):
        render(engine, template)


@pytest.mark.parametrize(
    ("source", "lineno"),
    [
        ("likes ==", 1),
        ("likes == = 1", 1),
        ("x.", 1),
        ("a\n+\n", 2),
        ("{{ likes == 1 }}", 1),
        ("x | no_such_filter", 1),
        ("x }} {{ y", 1),
        ("   ", 1),
    ],
)
def test_bad_expressions_raise_syntax_errors(
    engine: TemplateEngine, source: str, lineno: int
) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        engine.compile_expression(source)
    assert caught.value.lineno == lineno
    assert "\n" not in caught.value.message


def test_syntax_error_is_chained_from_jinja(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        engine.compile_expression("likes ==")
    assert caught.value.__cause__ is not None


def test_braces_in_an_expression_get_a_hint(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateSyntaxError, match="without"):
        engine.compile_expression("{{ likes == 1 }}")


@pytest.mark.parametrize(
    ("template", "lineno"),
    [("a {{ x ", 1), ("line one\n{% if %}", 2), ("{{ x | nope }}", 1), ("{% for %}", 1)],
)
def test_bad_templates_raise_syntax_errors(
    engine: TemplateEngine, template: str, lineno: int
) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        engine.compile_value({"k": [template]})
    assert caught.value.lineno == lineno


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("likes == 1", {"likes"}),
        ("steps.media.extracted.likes > 0", {"steps"}),
        ("env.HOME", {"env"}),
        ("a.b and c['d'] or e | default(f)", {"a", "c", "e", "f"}),
        ("range(3) | list", set()),  # globals are always defined
        ("x is defined", {"x"}),
        ("[1, 2] | length", set()),
        ("items | selectattr('id', 'in', ids)", {"items", "ids"}),
    ],
)
def test_expression_names(engine: TemplateEngine, source: str, names: set[str]) -> None:
    assert engine.compile_expression(source).names == names


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("{{ media_id }}", {"media_id"}),
        ("{{ steps.media.extracted }}", {"steps"}),
        ("{{ env.IG_TOKEN }}", {"env"}),
        ("{% for c in comments %}{{ c.id }}{{ loop.index }}{% endfor %}", {"comments"}),
        ("{% set y = x %}{{ y }}", {"x"}),
        ("no templates here", set()),
    ],
)
def test_template_names(engine: TemplateEngine, template: str, names: set[str]) -> None:
    assert engine.compile_value(template).names == names


# --------------------------------------------------------------------------- caching


def test_expressions_are_compiled_once(engine: TemplateEngine) -> None:
    assert engine.compile_expression("likes == 1") is engine.compile_expression("likes == 1")


def test_string_values_are_compiled_once(engine: TemplateEngine) -> None:
    assert engine.compile_value("{{ x }}") is engine.compile_value("{{ x }}")
    assert engine.compile_value("a {{ x }}") is engine.compile_value("a {{ x }}")
    assert engine.compile_value("plain") is engine.compile_value("plain")


def test_whole_value_shares_the_expression_cache(engine: TemplateEngine) -> None:
    expression = engine.compile_expression(" media_id ")
    engine.compile_value("{{ media_id }}")
    assert engine.compile_expression(" media_id ") is expression
    assert engine.compile_value({"a": "{{ media_id }}"}).names == {"media_id"}


def test_engines_do_not_share_caches() -> None:
    first, second = TemplateEngine(), TemplateEngine()
    assert first.compile_expression("x") is not second.compile_expression("x")


def test_compiled_objects_expose_source(engine: TemplateEngine) -> None:
    assert engine.compile_expression("likes == 1").source == "likes == 1"
    assert engine.compile_value("{{ x }}").source == "{{ x }}"
    assert "{{ x }}" in engine.compile_value({"a": "{{ x }}"}).source


def test_evaluate_accepts_any_mapping(engine: TemplateEngine) -> None:
    from types import MappingProxyType

    assert engine.compile_expression("x * 2").evaluate(MappingProxyType({"x": 4})) == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ x }}", True),
        ("{% if x %}{% endif %}", True),
        ("{# c #}", True),
        ("{x}", False),
        ("", False),
        ("a } b", False),
    ],
)
def test_is_template(text: str, expected: bool) -> None:
    assert TemplateEngine.is_template(text) is expected


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("value", "pattern", "ignorecase", "expected"),
    [
        ("Buy followers now", "buy", False, False),
        ("Buy followers now", "buy", True, True),
        ("Snap peas", r"pea", False, True),
        (None, r"^$", False, True),  # a null caption is searched as ""
        (12345, r"^\d+$", False, True),
    ],
)
def test_regex_search(value: Any, pattern: str, ignorecase: bool, expected: bool) -> None:
    assert regex_search(value, pattern, ignorecase) is expected


def test_regex_search_as_a_test_in_selectattr(engine: TemplateEngine) -> None:
    comments = [{"text": "nice!"}, {"text": "BUY followers"}, {"text": "free followers"}]
    expression = engine.compile_expression(
        "comments | selectattr('text', 'regex_search', 'buy|free', true) | list | length"
    )
    assert expression.evaluate({"comments": comments}) == 2


def test_regex_replace() -> None:
    assert regex_replace("a1b22", r"\d+", "#") == "a#b#"
    assert regex_replace("John Smith", r"(\w+) (\w+)", r"\2 \1") == "Smith John"
    assert regex_replace("ABC", "b", "x", ignorecase=True) == "AxC"
    assert regex_replace(None, "a", "b") == ""


@pytest.mark.parametrize(
    "call",
    [
        lambda: regex_search("x", "("),
        lambda: regex_replace("x", "[", "y"),
        lambda: regex_replace("x", "(x)", r"\2"),
        lambda: regex_replace("x", "x", len),  # type: ignore[arg-type]
        lambda: regex_search("x", 5),  # type: ignore[arg-type]
    ],
)
def test_regex_errors(call: Any) -> None:
    with pytest.raises(TemplateRenderError):
        call()


def test_bad_regex_in_a_template(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateRenderError, match="invalid regular expression"):
        render(engine, "{{ 'x' | regex_search('(') }}")


def test_regex_patterns_are_compiled_once() -> None:
    from igflow.filters import _compile_regex

    before = _compile_regex.cache_info().hits
    for _ in range(5):
        regex_search("abc", "unique-pattern-for-cache-test")
    assert _compile_regex.cache_info().hits >= before + 4


@pytest.mark.parametrize(
    ("a", "b", "expected_difference", "expected_intersect"),
    [
        ([1, 2, 3, 4], [2, 4], [1, 3], [2, 4]),
        (["c", "a", "b"], ["a"], ["c", "b"], ["a"]),  # order of `a` is kept
        ([1, 1, 2], [2], [1, 1], [2]),
        ([{"id": 1}, {"id": 2}], [{"id": 2}], [{"id": 1}], [{"id": 2}]),  # unhashable items
        ([{"id": 1}, 3], [3, 4], [{"id": 1}], [3]),  # unhashable probe, hashable pool
        ([], [1], [], []),
        ([1, 2], [], [1, 2], []),
    ],
)
def test_difference_and_intersect(
    a: list[Any], b: list[Any], expected_difference: list[Any], expected_intersect: list[Any]
) -> None:
    assert difference(a, b) == expected_difference
    assert intersect(a, b) == expected_intersect


def test_set_filters_in_templates(engine: TemplateEngine) -> None:
    context = {"following": ["u1", "u2", "u3"], "followers": ["u2"]}
    assert render(engine, "{{ following | difference(followers) }}", **context) == ["u1", "u3"]
    assert render(engine, "{{ following | intersect(followers) }}", **context) == ["u2"]


@pytest.mark.parametrize("value", ["1512956375", 1512956375, 1512956375.0])
def test_from_epoch(value: Any) -> None:
    moment = from_epoch(value)
    assert moment == dt.datetime(2017, 12, 11, 1, 39, 35, tzinfo=dt.timezone.utc)
    assert moment.utcoffset() == dt.timedelta(0)


def test_from_epoch_accepts_aware_datetimes() -> None:
    moment = dt.datetime(2017, 12, 11, 2, 39, 35, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert from_epoch(moment) == dt.datetime(2017, 12, 11, 1, 39, 35, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "value",
    ["yesterday", "", None, True, [1], 10**30, dt.datetime(2017, 1, 1)],
)
def test_from_epoch_rejects_non_timestamps(value: Any) -> None:
    with pytest.raises(TemplateRenderError, match="from_epoch"):
        from_epoch(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1512956375", "2017-12-11T01:39:35Z"), (0, "1970-01-01T00:00:00Z")],
)
def test_epoch_to_iso(value: Any, expected: str) -> None:
    assert epoch_to_iso(value) == expected


def test_datetime_attributes_in_templates(engine: TemplateEngine) -> None:
    assert render(engine, "{{ (created | from_epoch).year }}", created="1512956375") == 2017
    assert render(engine, "{{ created | epoch_to_iso }}", created="1512956375") == (
        "2017-12-11T01:39:35Z"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": [1, None, True]}, '{"a": [1, null, true]}'),
        ("<é>", '"<é>"'),  # no HTML escaping, no ASCII escaping
        (dt.datetime(2017, 1, 1, tzinfo=dt.timezone.utc), '"2017-01-01T00:00:00+00:00"'),
    ],
)
def test_to_json(value: Any, expected: str) -> None:
    assert to_json(value) == expected


def test_to_json_errors_become_render_errors(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateRenderError, match="not JSON serializable"):
        render(engine, "{{ x | to_json }}", x={1, 2})
    with pytest.raises(TemplateRenderError, match="undefined"):
        render(engine, "{{ {'a': nope} | to_json }}")


def test_long_sources_are_shortened_in_syntax_errors(engine: TemplateEngine) -> None:
    source = "likes == " + " + ".join(["1"] * 40) + " +"
    with pytest.raises(TemplateSyntaxError) as caught:
        engine.compile_expression(source)
    assert "..." in caught.value.message
    assert len(caught.value.message) < 150


def test_compiled_value_repr_shows_the_source(engine: TemplateEngine) -> None:
    assert repr(engine.compile_value("a {{ x }}")) == "<_StringTemplate a {{ x }}>"


def test_unknown_filter_in_a_string_template_is_an_igflow_syntax_error() -> None:
    engine = TemplateEngine()
    with pytest.raises(TemplateSyntaxError, match="unknown filter 'nofilter'"):
        engine.compile_value("a {{ x | nofilter }}")


def test_a_missing_environment_variable_is_named_plainly() -> None:
    from igflow.templating import EnvironmentVariables

    engine = TemplateEngine()
    value = engine.compile_value("{{ env.IG_TOKEN }}")
    with pytest.raises(TemplateRenderError, match="^environment variable IG_TOKEN is not set$"):
        value.render({"env": EnvironmentVariables({}, {"IG_TOKEN": False})})
    declared = EnvironmentVariables({"IG_TOKEN": "t"}, {"IG_TOKEN": False})
    assert value.render({"env": declared}) == "t"


# --------------------------------------------------------------------------- interpreted = compiled
#
# Most expressions are evaluated by walking Jinja's tree (``as_const``) instead of running the
# code Jinja generates for them (see "interpreted expressions" in igflow/templating.py). The two
# must be indistinguishable: same value, same type, same error message.

_CONTEXT: dict[str, Any] = {
    "a": 3,
    "b": "x",
    "zero": 0,
    "items": [3, 1, 2, 1],
    "words": ["b", "a"],
    "d": {"k": 1, "items": 2},
    "n": None,
    "t": True,
    "steps": {"m": {"status": "ok", "extracted": {"likes": 1}}},
}
_ATOMS = [
    "a",
    "b",
    "zero",
    "items",
    "words",
    "d",
    "n",
    "t",
    "missing",
    "1",
    "0",
    "-2",
    "2.5",
    "'x'",
    "'k'",
    "''",
    "[]",
    "[1, 2]",
    "{'k': 2}",
    "none",
    "true",
    "d.k",
    "d['k']",
    "d.items",
    "d.nope",
    "items[0]",
    "items[9]",
    "items[1:]",
    "b[0]",
    "steps.m.status",
    "steps.m.extracted.likes",
    "steps.nope.status",
    "a.__class__",
]
_FILTERS = [
    "length",
    "first",
    "last",
    "sort",
    "unique | list",
    "join(',')",
    "upper",
    "abs",
    "int",
    "string",
    "default(7)",
    "default(7, true)",
    "reverse | list",
    "sum",
    "min",
    "max",
    "list",
    "to_json",
    "flatten",
    "difference([1])",
]
_TESTS = ["defined", "undefined", "none", "number", "string", "odd", "even", "in items"]


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(_ATOMS))
    sub = _expressions(depth - 1)
    kind = draw(st.integers(0, 6))
    if kind == 0:
        op = draw(st.sampled_from(["==", "!=", "<", ">=", "in", "not in", "and", "or"]))
        return f"({draw(sub)} {op} {draw(sub)})"
    if kind == 1:
        op = draw(st.sampled_from(["+", "-", "/", "//", "%", "~"]))
        return f"({draw(sub)} {op} {draw(sub)})"
    if kind == 2:
        return f"({draw(sub)} | {draw(st.sampled_from(_FILTERS))})"
    if kind == 3:
        return f"({draw(sub)} is {draw(st.sampled_from(_TESTS))})"
    if kind == 4:
        return f"({draw(sub)} if {draw(sub)} else {draw(sub)})"
    if kind == 5:
        return f"(not {draw(sub)})"
    return f"[{draw(sub)}, {draw(sub)}][{draw(st.sampled_from(['0', '1', '-1', '5']))}]"


def _outcome(evaluate: Any) -> tuple[str, Any]:
    try:
        value = evaluate()
    except TemplateRenderError as exc:
        return "error", exc.message
    return type(value).__name__, value


@settings(max_examples=600, deadline=None)
@given(_expressions())
def test_interpreted_expressions_match_jinjas_compiled_code(source: str) -> None:
    from igflow import templating

    engine = TemplateEngine()
    try:
        jinja = engine._generate_expression(engine._parse_expression(source))
    except Exception:
        # Jinja's optimizer folds constants while generating code and can fail doing so, e.g.
        # on `a if ('' | first) else a` (an undefined in the test of an inline if): nothing to
        # compare with.
        assume(False)
    compiled = engine.compile_expression(source)
    context = dict(_CONTEXT)
    interpreted = _outcome(lambda: compiled.evaluate(context))
    assert interpreted == _outcome(lambda: templating._evaluate(lambda: jinja(context)))
    assert context == _CONTEXT  # nothing was changed


@pytest.mark.parametrize(
    ("source", "interpreted"),
    [
        ("likes == 1", True),
        ("likers | length == likes", True),
        ("steps.media.status == 'ok' and not x", True),
        ("a if b else c", True),
        ("a ~ '-' ~ b[1:]", True),
        ("media_id.split('_')[1]", False),  # a call: the sandbox checks it
        ("a * 2", False),  # `*` and `**` go through the sandbox's call_binop
        ("items | select('odd') | list", False),  # select takes the context
        ("a if b", False),  # no else: Jinja's code raises its own error
    ],
)
def test_which_expressions_are_interpreted(source: str, interpreted: bool) -> None:
    from igflow import interpreter

    compiled = TemplateEngine().compile_expression(source)
    assert isinstance(compiled._expression, interpreter.Interpreted) is interpreted


def test_an_unknown_filter_is_still_a_compile_time_error(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateSyntaxError, match="unknown filter 'nofilter'"):
        engine.compile_expression("likes | nofilter == 1")
    with pytest.raises(TemplateSyntaxError, match="unknown test 'notest'"):
        engine.compile_expression("likes is notest")


def test_interpreted_names_come_from_the_evaluation_under_way(engine: TemplateEngine) -> None:
    # The same compiled expression, evaluated on several threads with different names at once.
    from concurrent.futures import ThreadPoolExecutor

    expression = engine.compile_expression("x + 1 == y")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: expression.evaluate({"x": i, "y": i + 1}), range(2000)))
    assert results == [True] * 2000


def test_a_bare_name_is_looked_up_as_jinja_would(engine: TemplateEngine) -> None:
    expression = engine.compile_expression("x")
    assert expression.evaluate({"x": [1]}) == [1]
    assert expression.evaluate({"x": None}) is None
    with pytest.raises(TemplateRenderError, match="^'x' is undefined$"):
        expression.evaluate({})
    jinja = engine._generate_expression(engine._parse_expression("range"))
    assert engine.compile_expression("range").evaluate({}) is jinja({})  # a global
    assert engine.compile_expression("range").evaluate({"range": 1}) == 1  # names win


# --------------------------------------------------------------------------- limits
#
# Each bound holds on both paths: the interpreter (as_const) and Jinja's compiled code.
# tests/integration/test_hostile_templates.py runs the bombs through the CLI.


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("s ~ s", "string longer than 10,000,000 characters"),
        ("s + s", "string longer than 10,000,000 characters"),
        ("s ~ s if t else s", "string longer than 10,000,000 characters"),
        ("'%20000000s' % s", "string longer than 10,000,000 characters"),
        ("s | center(20000000)", "string longer than 10,000,000 characters"),
        ("items + items", "list longer than 1,000,000 items"),
    ],
)
def test_limits_hold_interpreted_and_compiled(source: str, message: str) -> None:
    from igflow import interpreter, templating

    engine = TemplateEngine()
    compiled = engine.compile_expression(source)
    assert isinstance(compiled._expression, interpreter.Interpreted)
    context = {"s": "x" * 6_000_000, "items": [0] * 600_000, "t": True}
    with pytest.raises(TemplateRenderError, match=message):
        compiled.evaluate(context)
    jinja = engine._generate_expression(engine._parse_expression(source))
    with pytest.raises(TemplateRenderError, match=message):
        templating._evaluate(lambda: jinja(context))


def test_a_large_export_still_renders_as_json(engine: TemplateEngine) -> None:
    rows = [
        {"id": f"{1667121369441597934 + n}_3657782666", "likes": n, "caption": "a caption"}
        for n in range(30_000)
    ]
    text = render(engine, "{{ rows | tojson }}", rows=rows)
    assert len(text) > 2_000_000
    assert render(engine, "{{ rows | length }}", rows=rows) == 30_000
    csv = render(engine, "{% for r in rows %}{{ r.id }},{{ r.likes }}\n{% endfor %}", rows=rows)
    assert csv.count("\n") == 30_000


def test_the_loop_budget_is_per_render(engine: TemplateEngine) -> None:
    template = engine.compile_value("{% for a in range(100000) %}{% endfor %}ok")
    for _ in range(30):  # 3,000,000 iterations in all, 100,000 per render
        assert template.render({}) == "ok"


def test_regex_filters_still_speak_pythons_dialect() -> None:
    assert regex_search("a1b22", r"\d{2}")
    assert regex_replace("2024-01-02", r"(\d+)-(\d+)-(\d+)", r"\3/\2/\1") == "02/01/2024"
    from igflow.filters import regex_match

    assert regex_match("Spam", "spam", ignorecase=True)

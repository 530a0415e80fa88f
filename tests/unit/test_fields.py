"""Graph list parameters (`fields`, `metric`, ...): checked by the grammar the API reads, at
check time for literal values (with the item's file:line:col) and in the client for rendered
ones; the nesting bound is the Graph sandbox's."""

from __future__ import annotations

from typing import Any

import pytest

from igflow.fields import MAX_FIELD_DEPTH, FieldListError, list_issues, render_list
from igflow.playbook import compile_playbook, load_playbook_text
from igflow.sandbox.graph.fields import MAX_DEPTH, parse_fields


def nested(levels: int) -> list[Any]:
    value: list[Any] = ["leaf"]
    for level in range(levels):
        value = [{f"e{level}": value}]
    return value


def braces(levels: int) -> str:
    return "".join(f"e{n}{{" for n in range(levels)) + "leaf" + "}" * levels


def test_the_bound_is_the_emulators_one_number() -> None:
    assert MAX_FIELD_DEPTH == MAX_DEPTH == 5
    # The deepest list igflow sends, the emulator reads; one level more, neither does.
    parse_fields(render_list(nested(MAX_FIELD_DEPTH)))
    parse_fields(render_list([braces(MAX_FIELD_DEPTH)]))
    for too_deep in (nested(MAX_FIELD_DEPTH + 1), [braces(MAX_FIELD_DEPTH + 1)]):
        with pytest.raises(FieldListError, match="deeper than 5 levels"):
            render_list(too_deep)
        with pytest.raises(ValueError, match="deeper than 5"):
            parse_fields(",".join(str(x) for x in [braces(MAX_FIELD_DEPTH + 1)]))


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (["id", "caption"], "id,caption"),
        ("id, caption", "id, caption"),
        (["comments.limit(5){text,username}"], "comments.limit(5){text,username}"),
        ([{"insights.metric(reach)": "values"}], "insights.metric(reach){values}"),
        (
            ["business_discovery.username(x){id,media{id}}"],
            "business_discovery.username(x){id,media{id}}",
        ),
    ],
)
def test_good_values_are_sent_as_written(value: Any, wire: str) -> None:
    assert render_list(value) == wire


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["id", None], "item 2 is null, not a field name"),
        ([1], "item 1 is a number"),
        ([True], "item 1 is a boolean"),
        ([""], "item 1: '' is empty"),
        ([" "], "item 1: ' ' is blank"),
        (["a,b"], "item 1: 'a,b' names more than one field"),
        ("id,,username", "'id,,username' has an empty field at character 4"),
        ("id,username{", "'id,username{' has a '{' that is not closed at character 12"),
        ("id}", "unexpected '}' at character 3"),
        (["comments.limit{text}"], "needs (...) after a .modifier"),
        (["a b"], "unexpected 'b'"),
        ([], "is an empty list"),
        ([{"children": []}], "is an empty list"),
        ([{"children{id}": ["x"]}], "an edge with {...} cannot take another list"),
        (None, "got null"),
        (7, "got a number"),
    ],
)
def test_bad_values_are_refused_never_sent_or_dropped(value: Any, message: str) -> None:
    with pytest.raises(FieldListError) as caught:
        render_list(value)
    assert message in str(caught.value)


def test_every_bad_item_of_a_list_is_reported_with_its_index() -> None:
    issues = list_issues(["user_id", None, 1, True, "", " ", "a,b", {"c": ["d"]}])
    assert [issue.where for issue in issues] == [(1,), (2,), (3,), (4,), (5,), (6,)]


def check(fields: str) -> list[str]:
    text = (
        "igflow: 1\napi: instagram.graph\nsteps:\n"
        "  - authorize: {scopes: [instagram_business_basic], user: mira.makes}\n"
        f"  - call: me\n    with: {{fields: {fields}}}\n"
    )
    return [str(i) for i in compile_playbook(load_playbook_text(text, "p.yml"))[1]]


def test_check_points_at_each_bad_literal_item() -> None:
    assert check('[user_id, null, 1, true, "", " ", "a,b"]') == [
        "p.yml:6:30: 'fields': item 2 is null, not a field name (quote it if it is one)",
        "p.yml:6:36: 'fields': item 3 is a number, not a field name (quote it if it is one)",
        "p.yml:6:39: 'fields': item 4 is a boolean, not a field name (quote it if it is one)",
        "p.yml:6:45: 'fields': item 5: '' is empty",
        "p.yml:6:49: 'fields': item 6: ' ' is blank",
        "p.yml:6:54: 'fields': item 7: 'a,b' names more than one field: write one item per field",
    ]
    assert check('"id,,username{"') == [
        "p.yml:6:20: 'fields': 'id,,username{' has an empty field at character 4"
    ]
    deep = "[{a: [{b: [{c: [{d: [{e: [{f: [g]}]}]}]}]}]}]"
    assert [m.split(": ", 1)[1] for m in check(deep)] == [
        "'fields': field expansions nest deeper than 5 levels (igflow.fields.MAX_FIELD_DEPTH, "
        "as deep as the Graph sandbox reads)"
    ]
    assert check("[{a: [{b: [{c: [{d: [{e: [f]}]}]}]}]}]") == []


def test_template_items_wait_for_the_run_and_the_literal_ones_are_still_checked() -> None:
    assert check("[\"{{ 'x' }}\", id]") == []
    assert check("\"{{ 'id,,x' }}\"") == []
    assert check('["{{ \'x\' }}", "a{b"]') == [
        "p.yml:6:34: 'fields': item 2: 'a{b' has a '{' that is not closed at character 2"
    ]

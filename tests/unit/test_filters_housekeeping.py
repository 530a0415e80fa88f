"""The filters housekeeping playbooks lean on, alone and inside the sandboxed engine."""

from __future__ import annotations

from typing import Any

import pytest

from igflow.errors import TemplateRenderError
from igflow.filters import flatten, regex_match, subelements, zip_lists
from igflow.templating import TemplateEngine


def test_zip_pairs_lists_up_to_the_shortest() -> None:
    assert zip_lists([1, 2, 3], ["a", "b"]) == [[1, "a"], [2, "b"]]
    assert zip_lists([1], ["a"], [True]) == [[1, "a", True]]


@pytest.mark.parametrize("bad", ["text", {"a": 1}, None, 3])
def test_zip_and_flatten_refuse_what_is_not_a_list(bad: Any) -> None:
    with pytest.raises(TemplateRenderError, match="needs a list"):
        zip_lists(bad, [1])
    with pytest.raises(TemplateRenderError, match="needs a list"):
        flatten(bad)


def test_flatten_one_level_dropping_nulls_from_skipped_items() -> None:
    assert flatten([[1, 2], None, [3], 4, [[5]]]) == [1, 2, 3, 4, [5]]


def test_subelements_pairs_each_parent_with_each_child() -> None:
    parents = [
        {"item": "m1", "extracted": {"comments": [{"id": "c1"}, {"id": "c2"}]}},
        {"item": "m2", "extracted": {"comments": None}},
        {"item": "m3", "extracted": {"comments": [{"id": "c3"}]}},
    ]
    pairs = subelements(parents, "extracted.comments")
    assert [(p["item"], c["id"]) for p, c in pairs] == [("m1", "c1"), ("m1", "c2"), ("m3", "c3")]
    assert subelements([["m1", ["a", "b"]]], "1") == [
        [["m1", ["a", "b"]], "a"],
        [["m1", ["a", "b"]], "b"],
    ]


def test_subelements_refuses_children_that_are_not_a_list() -> None:
    with pytest.raises(TemplateRenderError, match="not a list"):
        subelements([{"c": "text"}], "c")


def test_regex_match_anchors_at_the_start() -> None:
    assert regex_match("Buy followers now", r"buy", ignorecase=True)
    assert not regex_match("Please buy", r"buy")
    assert not regex_match(None, r".+")


def test_the_spam_selection_reads_as_written() -> None:
    engine = TemplateEngine()
    expression = engine.compile_expression(
        "pairs | rejectattr('1.from.username', 'eq', me)"
        " | selectattr('1.text', 'regex_search', spam, true) | map(attribute='1.id') | list"
    )
    pairs = [
        ["m1", {"id": "c1", "text": "FREE followers!", "from": {"username": "bot"}}],
        ["m1", {"id": "c2", "text": "free followers (joke)", "from": {"username": "me"}}],
        ["m2", {"id": "c3", "text": "lovely peas", "from": {"username": "friend"}}],
        ["m2", {"id": "c4", "text": "cheap likes here", "from": {"username": "bot"}}],
    ]
    spam = "free followers|cheap likes"
    assert expression.evaluate({"pairs": pairs, "me": "me", "spam": spam}) == ["c1", "c4"]

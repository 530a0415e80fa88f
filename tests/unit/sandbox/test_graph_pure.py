"""The Graph sandbox's pure parts: the fields parser, cursors and paging, versions by date."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igflow.sandbox.graph.fields import MAX_DEPTH, FieldsError, FieldSpec, parse_fields
from igflow.sandbox.graph.paging import CursorError, decode_cursor, encode_cursor, page
from igflow.sandbox.graph.rules import load_rules


def test_fields_with_expansion_and_modifiers() -> None:
    specs = parse_fields("id,children{id,media_type},comments.limit(5).after(QVFI){text}")
    assert specs[0] == FieldSpec("id")
    assert specs[1].children == (FieldSpec("id"), FieldSpec("media_type"))
    assert specs[2].modifiers == {"limit": "5", "after": "QVFI"}
    assert specs[2].children == (FieldSpec("text"),)


@pytest.mark.parametrize("text", ["id}", "a{b", "a.limit", "a.limit(5", "a;b", "{a}"])
def test_bad_fields(text: str) -> None:
    with pytest.raises(FieldsError):
        parse_fields(text)


def test_depth_is_bounded() -> None:
    ok = "a" + "{a" * MAX_DEPTH + "}" * MAX_DEPTH
    assert parse_fields(ok)
    with pytest.raises(FieldsError, match="deeper"):
        parse_fields("a" + "{a" * (MAX_DEPTH + 1) + "}" * (MAX_DEPTH + 1))


@given(st.text(alphabet="ab_.(){},5 ", max_size=60))
def test_the_parser_only_ever_raises_fields_error(text: str) -> None:
    with contextlib.suppress(FieldsError):
        parse_fields(text)


def _items(n: int) -> list[dict[str, object]]:
    return [{"id": str(100 - i), "created": 1000.0 - i} for i in range(n)]  # newest first


def test_pages_forward_and_back() -> None:
    items = _items(5)
    first = page(items, 2, None, None)
    assert (
        [i["id"] for i in first.items] == ["100", "99"] and first.has_after and not first.has_before
    )
    second = page(items, 2, first.cursors()["after"], None)
    assert [i["id"] for i in second.items] == ["98", "97"] and second.has_before
    back = page(items, 2, None, second.cursors()["before"])
    assert back.items == first.items and not back.has_before
    last = page(items, 2, page(items, 4, None, None).cursors()["after"], None)
    assert [i["id"] for i in last.items] == ["96"] and not last.has_after


def test_cursors_round_trip_and_reject_garbage() -> None:
    assert decode_cursor(encode_cursor({"id": "42", "created": 12.5})) == (12.5, "42")
    for bad in ("", "nope", "QVFI!!!", "QVFI" + "A" * 300):
        with pytest.raises(CursorError):
            decode_cursor(bad)


def _epoch(day: str) -> float:
    return dt.datetime.fromisoformat(day + "T12:00:00+00:00").timestamp()


def test_versions_follow_the_date() -> None:
    rules = load_rules()
    assert rules.serving_version("v25.0", _epoch("2026-02-17")) is None  # not yet released
    assert rules.serving_version("v25.0", _epoch("2026-03-01")) == "v25.0"
    assert rules.serving_version("v19.0", _epoch("2026-06-01")) == "v20.0"  # expired: forwarded
    assert rules.serving_version("v99.0", _epoch("2026-06-01")) is None

"""CSV `columns` a row lacks, or that hold lists or mappings, are said out loud (issue 12)."""

from __future__ import annotations

from igflow.export import serialize

ROWS = [
    {"id": "1", "likes": {"count": 3}, "caption": "a"},
    {"id": "2", "likes": {"count": 0}},
    {"id": "3", "likes": {"count": 1}, "caption": None},
]


def test_missing_and_nested_columns_warn_once_each_and_the_file_is_still_written() -> None:
    warnings: list[str] = []
    text, count = serialize(ROWS, "csv", ["id", "likes", "caption", "like"], warnings=warnings)
    assert count == 3
    assert text.splitlines()[0] == "id,likes,caption,like"
    assert text.splitlines()[2] == '2,"{""count"": 0}",,'
    assert warnings == [
        "column 'likes' holds a list or mapping in 3 of 3 rows, written as JSON text "
        "(build rows of plain values with a `set` step to pick one field)",
        "column 'caption' is missing from 1 of 3 rows (left empty)",
        "no row has the column 'like' (its cells are empty); did you mean 'likes'?",
    ]


def test_columns_every_row_has_with_plain_values_give_no_warning() -> None:
    warnings: list[str] = []
    serialize([{"id": "1", "n": 2, "c": None}], "csv", ["id", "n", "c"], warnings=warnings)
    assert warnings == []


def test_without_columns_or_with_list_rows_nothing_is_judged() -> None:
    warnings: list[str] = []
    serialize(ROWS, "csv", warnings=warnings)
    serialize([["a", [1]], ["b"]], "csv", ["x", "y"], warnings=warnings)
    assert warnings == []

"""Unit tests for igflow.extract: singular detection, results, errors, caching, pagination."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.errors import ExtractionError, JsonPathSyntaxError
from igflow.extract import MISSING, CompiledPath, compile_path

MEDIA_ID = "1667121369441597934_3657782666"

RESPONSE: dict[str, Any] = {
    "meta": {"code": 200},
    "data": {
        "id": MEDIA_ID,
        "likes": {"count": 1},
        "caption": None,
        "tags": ["garden", "peas"],
        "true_count": 3,
        "user": {"username": "grantwinney"},
    },
    "items": [
        {"id": "a", "likes": {"count": 2}},
        {"id": "b", "likes": {"count": 0}},
        {"id": "c", "likes": {"count": 5}},
    ],
}


@pytest.mark.parametrize(
    ("path", "singular"),
    [
        ("$", True),
        ("$.data.id", True),
        ("$.data.likes.count", True),
        ("$['data']['id']", True),
        ("data.id", True),
        ("$.items[0].id", True),
        ("$.items[-1].id", True),
        ("$.data.true_count", True),  # the extended lexer would read `true` as a boolean
        ("$.data.tags.`len`", True),
        ("$.data.user.`parent`", True),
        ("$.items[*]", False),
        ("$.items[*].id", False),
        ("$.items[0:2]", False),
        ("$.items[1:]", False),
        ("$.items[0,1]", False),
        ("$['data','meta']", False),
        ("$.data.*", False),
        ("$..id", False),
        ("$.items[?(@.likes.count > 1)].id", False),
        ("$.data | $.meta", False),
        ("$.items[\\id]", False),
        ("$.items where likes", False),
    ],
)
def test_singular_detection(path: str, singular: bool) -> None:
    assert compile_path(path).singular is singular


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.data.id", MEDIA_ID),
        ("$.data.likes.count", 1),
        ("$.data.caption", None),  # present but null is a match, not a miss
        ("$.data.tags", ["garden", "peas"]),
        ("$.data.tags[0]", "garden"),
        ("$.data.tags[-1]", "peas"),
        ("$.data.tags.`len`", 2),
        ("$.data.true_count", 3),
        ("$['data']['user']['username']", "grantwinney"),
        ("data.user.username", "grantwinney"),
        ("$.meta", {"code": 200}),
    ],
)
def test_singular_paths_return_one_value(path: str, expected: Any) -> None:
    assert compile_path(path).extract(RESPONSE) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.items[*].id", ["a", "b", "c"]),
        ("$.items[0:2].id", ["a", "b"]),
        ("$.items[0,2].id", ["a", "c"]),
        ("$.items[?(@.likes.count > 1)].id", ["a", "c"]),
        ("$.items[?(@.id == 'b')].likes.count", [0]),
        ("$.data.tags[*]", ["garden", "peas"]),
        ("$.nothing[*]", []),
        ("$.items[?(@.likes.count > 100)].id", []),
    ],
)
def test_non_singular_paths_return_lists(path: str, expected: list[Any]) -> None:
    assert compile_path(path).extract(RESPONSE) == expected


def test_recursive_descent_finds_every_level() -> None:
    assert sorted(compile_path("$..id").extract(RESPONSE)) == sorted([MEDIA_ID, "a", "b", "c"])


def test_extraction_does_not_modify_the_document() -> None:
    document = copy.deepcopy(RESPONSE)
    for path in ("$.data.id", "$.items[*].id", "$.items[?(@.id == 'a')]", "$.missing"):
        compile_path(path).extract(document, default=None)
    assert document == RESPONSE


TOP_KEYS = "the response has keys: meta, data, items, odd key, long, float, object, empty"


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("$.data.idx", "$.data has keys: id, likes, caption, tags, true_count, user"),
        ("$.data.likes.cnt", "$.data.likes has keys: count"),
        ("$.data.tags[5]", "$.data.tags is a list of 2 items"),
        ("$.data.tags[-5]", "$.data.tags is a list of 2 items"),
        ("$.meta[0]", "$.meta has keys: code"),
        ("$.data.caption.text", "$.data.caption is null"),
        ("$.data.id.x", f"$.data.id is a string ('{MEDIA_ID}')"),
        ("$.meta.code.x", "$.meta.code is a number (200)"),
        ("$.nope.x", TOP_KEYS),
        ("nope", TOP_KEYS),
        ("$.data.user.`this`.x", "$.data.user.`this` has keys: username"),
        (
            "$.data.user.`parent`.x",
            "$.data.user.`parent` has keys: id, likes, caption, tags, true_count, user",
        ),
        ("$['odd key'].x", "$['odd key'] is true"),
        ("$.long.x", "$.long is a string ('" + "y" * 37 + "...')"),
        ("$.float.x", "$.float is a number (1.5)"),
        ("$.object.x", "$.object is a object"),
        ("$.empty.x", "$.empty is an empty object"),
    ],
)
def test_singular_miss_raises_with_a_hint(path: str, hint: str) -> None:
    document = {
        **RESPONSE,
        "odd key": True,
        "long": "y" * 50,
        "float": 1.5,
        "object": object(),
        "empty": {},
    }
    with pytest.raises(ExtractionError) as caught:
        compile_path(path).extract(document)
    assert caught.value.message == f"{path} matched nothing in the response ({hint})"


def test_hint_is_bounded_for_wide_objects() -> None:
    document = {"data": {f"key{i}": i for i in range(100)}}
    with pytest.raises(ExtractionError) as caught:
        compile_path("$.data.missing").extract(document)
    assert "(92 more)" in caught.value.message
    assert len(caught.value.message) < 200


@pytest.mark.parametrize("document", [None, [], "text", 3, {}])
def test_singular_miss_on_odd_documents(document: Any) -> None:
    with pytest.raises(ExtractionError, match="matched nothing"):
        compile_path("$.data.id").extract(document)


@pytest.mark.parametrize("default", [None, 0, "", [], "fallback"])
def test_default_is_returned_on_a_miss(default: Any) -> None:
    assert compile_path("$.data.missing").extract(RESPONSE, default=default) is default


def test_default_is_ignored_on_a_match() -> None:
    assert compile_path("$.data.id").extract(RESPONSE, default="x") == MEDIA_ID


def test_default_applies_to_an_empty_list_match() -> None:
    assert compile_path("$.nothing[*]").extract(RESPONSE, default=None) is None
    assert compile_path("$.items[*].id").extract(RESPONSE, default=None) == ["a", "b", "c"]


def test_missing_sentinel() -> None:
    assert repr(MISSING) == "MISSING"
    assert MISSING is not None
    assert not isinstance(MISSING, str)


@pytest.mark.parametrize(
    ("path", "pages", "expected"),
    [
        (
            "$.data[*].id",
            [{"data": [{"id": 1}, {"id": 2}]}, {"data": []}, {"data": [{"id": 3}]}],
            [1, 2, 3],
        ),
        ("$.data[*].id", [], []),
        ("$.pagination.next_url", [{"pagination": {"next_url": "u1"}}, {"pagination": {}}], ["u1"]),
    ],
)
def test_extract_all_concatenates_pages(path: str, pages: list[Any], expected: list[Any]) -> None:
    assert compile_path(path).extract_all(pages) == expected


def test_extract_all_consumes_pages_lazily() -> None:
    seen: list[int] = []

    def pages() -> Iterator[dict[str, Any]]:
        for number in range(3):
            seen.append(number)
            yield {"data": [{"id": number}]}

    assert compile_path("$.data[*].id").extract_all(pages()) == [0, 1, 2]
    assert seen == [0, 1, 2]


def test_non_singular_path_that_cannot_be_applied_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    # Which documents make jsonpath-ng raise (rather than match nothing) differs between its
    # releases, so make it raise deliberately and check the error is ours. (A slice: a path of
    # names, indices and [*] is applied without jsonpath-ng while the document allows.)
    path = compile_path("$.data[0:].id")

    def broken_find(document: Any) -> Any:
        raise IndexError("list index out of range")

    monkeypatch.setattr(path._path, "find", broken_find)
    with pytest.raises(ExtractionError, match="could not be applied.*list index out of range"):
        path.extract({"data": [1]})


# --------------------------------------------------------------------------- compiling


@pytest.mark.parametrize(
    ("path", "fragment", "offset"),
    [
        ("$.data[", "ends before it is complete", 7),
        ("$..", "ends before it is complete", 3),
        ("$.data]", "unexpected ']' here", 6),
        ("$$", "unexpected '$' here", 1),
        ("$.a b", "unexpected 'b' here", 4),
        ("$.'unterminated", "a quoted name is never closed", 2),
        ("$.#", "unexpected character '#'", 2),
        ("`nope`", "Unknown named operator", 0),
        # the extended grammar's error, not the lexer's
        ("$.data[?(@.x ==)]", "unexpected ')' here", 15),
        ("", "empty", None),
        ("   ", "empty", None),
    ],
)
def test_bad_paths_raise_syntax_errors(path: str, fragment: str, offset: int | None) -> None:
    with pytest.raises(JsonPathSyntaxError) as caught:
        compile_path(path)
    assert fragment in caught.value.message
    if path.strip():
        assert repr(path) in caught.value.message
    # Where parsing stopped, for the caret `igflow check` draws.
    assert getattr(caught.value, "offset", None) == offset


@pytest.mark.parametrize("path", [None, 5, ["$.a"], {"path": "$.a"}])
def test_non_string_paths_raise_syntax_errors(path: Any) -> None:
    with pytest.raises(JsonPathSyntaxError, match="must be a string"):
        compile_path(path)


def test_paths_are_compiled_once() -> None:
    first = compile_path("$.data.caption.text")
    assert compile_path("$.data.caption.text") is first
    assert isinstance(first, CompiledPath)
    assert first.source == "$.data.caption.text"
    assert "singular=True" in repr(first)


# --------------------------------------------------------------------------- properties

keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6)
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=15,
)


def _paths_into(document: Any, prefix: str = "$") -> Iterator[tuple[str, Any]]:
    """Every singular path that exists in ``document``, with the value it leads to."""
    yield prefix, document
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths_into(value, f"{prefix}.{key}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _paths_into(value, f"{prefix}[{index}]")


# `where`/`wherenot` are keywords in jsonpath-ng, so they cannot be plain field names.
RESERVED = {"where", "wherenot"}


@settings(deadline=None)  # each new path is parsed (milliseconds, more under coverage)
@given(documents)
def test_every_existing_path_extracts_its_value(document: Any) -> None:
    for path, value in _paths_into(document):
        if RESERVED & set(path.replace("[", ".").split(".")):
            continue
        compiled = compile_path(path)
        assert compiled.singular
        assert compiled.extract(document) == value


@settings(deadline=None)
@given(st.dictionaries(keys, scalars, max_size=5), keys)
def test_absent_key_is_a_miss_or_the_default(document: dict[str, Any], key: str) -> None:
    if key in document or key in RESERVED:
        return
    path = compile_path(f"$.{key}")
    assert path.extract(document, default="d") == "d"
    with pytest.raises(ExtractionError):
        path.extract(document)


def test_the_reused_parsers_recover_from_errors_and_threads() -> None:
    # One parser of each kind serves every path (building one per path was most of the cost):
    # a syntax error must not leave state behind, and threads must not mix their paths up.
    from concurrent.futures import ThreadPoolExecutor

    from igflow.extract import _compile_cached

    for bad in ("$.data[", "$..[?(@.a >", "$.data.`nope"):
        with pytest.raises(JsonPathSyntaxError):
            compile_path(bad)
        assert compile_path("$.data.id").extract({"data": {"id": "7"}}) == "7"
    _compile_cached.cache_clear()
    sources = [f"$.data[{i}].f{i}" for i in range(200)] + [
        f"$.d[?(@.n > {i})].n" for i in range(50)
    ]
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(compile_path, sources))
    assert [path.source for path in paths] == sources
    assert paths[3].extract({"data": [{}, {}, {}, {"f3": "x"}]}) == "x"
    assert paths[201].extract({"d": [{"n": 0}, {"n": 1}, {"n": 2}]}) == [2]

"""Paths of field names, indices and [*] are applied without jsonpath-ng: the same matches,
the same singular/plural shape, the same errors, and jsonpath-ng is not even imported.

Whatever a quick step leaves to jsonpath-ng (an index into an object, [*] on a string) must
really reach it; where the quick path answers, jsonpath-ng (whichever release is installed) must
give the very same values.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import warnings
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.extract import _is_singular, _parser, _quick_find, _quick_steps, compile_path

KEYS = ["a", "b", "id", "data", "where", "true_count", "_x"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=4)
    ),
    max_leaves=12,
)

steps = st.sampled_from(
    [".a", ".b", ".id", ".data", ".where", ".true_count", "._x", "[0]", "[1]", "[3]", "[*]"]
)
paths = st.lists(steps, max_size=5).map(lambda parts: "$" + "".join(parts))


@functools.cache
def jsonpath_ng_tree(source: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _parser(False).parse(source)  # the plain parser igflow parses with


def jsonpath_ng_values(source: str, document: Any) -> list[Any] | str:
    tree = jsonpath_ng_tree(source)
    try:
        return [match.value for match in tree.find(document)]
    except Exception as exc:  # some releases raise on a mismatched document
        return f"raises {type(exc).__name__}"


@settings(max_examples=600, deadline=None)
@given(paths, json_values)
def test_a_quick_path_finds_what_jsonpath_ng_finds(source: str, document: Any) -> None:
    quick = _quick_steps(source)
    if quick is None:
        assert ".where" in source  # a keyword of jsonpath-ng's lexer: left to it
        return
    found = _quick_find(quick, document)
    if found is not None:
        assert found == jsonpath_ng_values(source, document), (source, document)


@settings(max_examples=200, deadline=None)
@given(paths)
def test_a_quick_path_is_singular_exactly_when_jsonpath_ng_says_so(source: str) -> None:
    if _quick_steps(source) is None:
        return
    assert compile_path(source).singular == _is_singular(jsonpath_ng_tree(source))


@pytest.mark.parametrize(
    "source",
    ["$..id", "$.a[-1]", "$['a']", "$.where", "$.a-b", "$.a.*", " $.a", "$.a ", "$[01]", "a.b"],
)
def test_other_paths_are_left_to_jsonpath_ng(source: str) -> None:
    assert _quick_steps(source) is None


def test_a_document_the_quick_steps_do_not_cover_goes_to_jsonpath_ng() -> None:
    assert _quick_find(_quick_steps("$.a[0]") or (), {"a": {"0": 1}}) is None
    assert _quick_find(_quick_steps("$.a[*]") or (), {"a": "text"}) is None
    assert _quick_find(_quick_steps("$.a.b") or (), {"a": MappingProxyType({"b": 1})}) is None
    assert compile_path("$.a.b").extract({"a": MappingProxyType({"b": 1})}) == 1
    path = compile_path("$.a[*]")
    assert path.extract({"a": [1, 2]}) == [1, 2]
    assert path.extract({"a": None}) == []
    # jsonpath-ng's answer for a string differs between releases; it is its answer either way.
    assert path.extract({"a": "xy"}) == jsonpath_ng_values("$.a[*]", {"a": "xy"})


_PROBE = """
import json, sys
from igflow.extract import compile_path
document = {"data": [{"username": "a"}, {"username": "b"}], "meta": {"code": 200}}
first = compile_path("$.data[*].username").extract(document)
code = compile_path("$.meta.code").extract(document)
before = "jsonpath_ng" in sys.modules
other = compile_path("$..username").extract(document)
print(json.dumps([first, code, before, other, "jsonpath_ng" in sys.modules]))
"""


def test_quick_paths_do_not_import_jsonpath_ng() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(completed.stdout) == [["a", "b"], 200, False, ["a", "b"], True]

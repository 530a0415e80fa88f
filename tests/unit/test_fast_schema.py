"""The fast schema check agrees with jsonschema, falls back when it cannot, and is what keeps
jsonschema (about 80 ms to import) off the path of a valid playbook.

`igflow.playbook.fast_schema.is_valid` answers True/False for the draft-07 keywords the playbook
schema uses, and None ("unknown") otherwise. Agreement with ``Draft7Validator(...).is_valid`` is
checked on every playbook in the repository and on random documents built from the schema's own
fragments (Hypothesis). CI runs a fixed, derandomized set; for a longer local run::

    IGFLOW_SCHEMA_EXAMPLES=5000 pytest -q tests/unit/test_fast_schema.py
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from igflow.errors import PlaybookSyntaxError
from igflow.playbook import compile_playbook, load_playbook_file, load_playbook_text
from igflow.playbook.fast_schema import ANNOTATIONS, KEYWORDS, is_valid
from igflow.resources import load_schema

# Hypothesis imports libcst (when installed) to suggest a patch for a failure, and that import
# warns; under filterwarnings=error the failure would then show as an INTERNALERROR.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
SCHEMA = load_schema("playbook.schema.json")
VALIDATOR = Draft7Validator(SCHEMA)

EXAMPLES_ENV = "IGFLOW_SCHEMA_EXAMPLES"


def _settings(ci_examples: int) -> settings:
    override = os.environ.get(EXAMPLES_ENV, "").strip()
    return settings(
        max_examples=int(override) if override else ci_examples,
        deadline=None,
        # CI sees the same examples every run; a local long run explores.
        derandomize=not override,
        database=None,
        # No `explain` phase: under filterwarnings=error its warnings would hide a failure.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _playbook_files() -> list[Path]:
    found: list[Path] = []
    for folder in ("playbooks", "tests/playbooks/good", "tests/playbooks/broken"):
        found += sorted((REPO / folder).glob("*.yml")) + sorted((REPO / folder).glob("*.yaml"))
    return found


def _load(path: Path) -> Any:
    try:
        return load_playbook_file(str(path)).data
    except PlaybookSyntaxError:
        pytest.skip("not a readable YAML document")


# --- every playbook in the repository ---------------------------------------------------------


@pytest.mark.parametrize("path", _playbook_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_agrees_with_jsonschema_on_every_playbook(path: Path) -> None:
    data = _load(path)
    assert is_valid(data, SCHEMA) is VALIDATOR.is_valid(data)


def test_the_repository_has_valid_and_invalid_playbooks_to_compare() -> None:
    verdicts = set()
    for path in _playbook_files():
        with contextlib.suppress(PlaybookSyntaxError):
            verdicts.add(VALIDATOR.is_valid(load_playbook_file(str(path)).data))
    assert verdicts == {True, False}


# --- random documents built from the schema's fragments ---------------------------------------


def _walk_schema(node: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    """Every subschema with its JSON pointer, and every literal value the schema mentions."""
    if not isinstance(node, dict):
        return
    yield pointer, node
    for key, value in node.items():
        here = f"{pointer}/{key}"
        if key in ("properties", "definitions"):
            for name, sub in value.items():
                yield from _walk_schema(sub, f"{here}/{name}")
        elif key in ("items", "additionalProperties", "propertyNames", "not"):
            yield from _walk_schema(value, here)
        elif key in ("oneOf", "anyOf"):
            for index, sub in enumerate(value):
                yield from _walk_schema(sub, f"{here}/{index}")


SUBSCHEMAS = dict(_walk_schema(SCHEMA, "#"))
POINTERS = sorted(SUBSCHEMAS)


def _literals() -> list[Any]:
    values: list[Any] = []
    for sub in SUBSCHEMAS.values():
        values += sub.get("examples", []) + sub.get("enum", [])
        values += [sub[k] for k in ("default", "const") if k in sub]
    return values


def _property_names() -> list[str]:
    names: set[str] = set()
    for sub in SUBSCHEMAS.values():
        names.update(sub.get("properties", {}))
        names.update(sub.get("required", []))
    return sorted(names)


PROPERTY_NAMES = _property_names()
LITERALS = _literals()

STRINGS = st.sampled_from(
    [
        "",
        "a",
        "_a1",
        "1a",
        "a-b",
        "ünïcödé",
        "名前",
        "é\u0301",
        "\u2028",
        "a\n",
        "sandbox",
        "sandbox\n",
        "sandbox/",
        "https://api.instagram.com",
        "http://127.0.0.1:8765/",
        "https://a.b/path",
        "https://",
        "ftp://a.b",
        "{{ n }}",
        " {{ n }} \n",
        "{{ n }}\n",
        "{{\nn }}",
        "{{ a }} b",
        "{{}}",
        "likes == 1",
        "$.data.id",
        "instagram.v1",
        "halt",
        "continue",
        "wait",
        "json",
        "jsonl",
        "csv",
        "basic",
    ]
    + PROPERTY_NAMES
    + [v for v in LITERALS if isinstance(v, str)]
) | st.text(max_size=10)

NUMBERS = (
    st.sampled_from(
        [0, 1, -1, 2, 20, 21, 63, 64, 65, 0.0, -0.0, 1.0, 0.5, 64.0, 1e300, 2**70]
        + [math.nan, math.inf, -math.inf]
    )
    | st.integers(-3, 100)
    | st.floats(-2, 100)
)

SCALARS = st.none() | st.booleans() | NUMBERS | STRINGS
KEYS = st.sampled_from(PROPERTY_NAMES) | STRINGS
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS | st.sampled_from(LITERALS).map(copy.deepcopy),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)


def _twin(value: Any) -> Any:
    """A value jsonschema's `equal` may or may not consider the same: 1/1.0/True, 0/False."""
    if value is True:
        return 1
    if value is False:
        return 0.0
    if isinstance(value, int):
        return float(value) if value not in (0, 1) else bool(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_twin(v) for v in value]
    if isinstance(value, dict):
        return {k: _twin(v) for k, v in value.items()}
    return value


def _good_parts() -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    """Steps and top-level values of the valid example playbooks: realistic starting points."""
    steps: list[dict[str, Any]] = []
    top: dict[str, list[Any]] = {}
    for path in _playbook_files():
        with contextlib.suppress(PlaybookSyntaxError):
            data = load_playbook_file(str(path)).data
            if not VALIDATOR.is_valid(data):
                continue
            steps += data["steps"]
            for key, value in data.items():
                if key not in ("igflow", "steps"):
                    top.setdefault(key, []).append(value)
    return steps, top


GOOD_STEPS, GOOD_TOP = _good_parts()


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _paths(sub, (*here, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _paths(sub, (*here, index))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def _mutated(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with one change at a random place: replaced, dropped, added to, duplicated."""
    paths = list(_paths(doc))
    path = draw(st.sampled_from(paths))
    target = _get(doc, path)
    operations = ["replace", "twin"]
    if path:
        operations.append("drop")
    if isinstance(target, dict):
        operations.append("add")
    if isinstance(target, list):
        operations += ["add", "duplicate"] if target else ["add"]
    operation = draw(st.sampled_from(operations))
    new: Any
    if operation == "replace":
        new = draw(JSON | st.sampled_from(GOOD_STEPS).map(copy.deepcopy))
    elif operation == "twin":
        new = _twin(target)
    elif operation == "drop":
        parent = _get(doc, path[:-1])
        del parent[path[-1]]
        return doc
    elif operation == "add" and isinstance(target, dict):
        target[draw(KEYS)] = draw(JSON)
        return doc
    elif operation == "add":
        target.append(draw(JSON | st.sampled_from(GOOD_STEPS).map(copy.deepcopy)))
        return doc
    else:  # duplicate a list item, itself or as its 1/1.0/True twin (uniqueItems)
        item = draw(st.sampled_from(target))
        target.append(copy.deepcopy(item) if draw(st.booleans()) else _twin(item))
        return doc
    if not path:
        return new
    _get(doc, path[:-1])[path[-1]] = new
    return doc


@st.composite
def documents(draw: st.DrawFn) -> Any:
    steps = draw(st.lists(st.sampled_from(GOOD_STEPS), max_size=6))
    doc: dict[str, Any] = {"igflow": 1, "steps": copy.deepcopy(steps)}
    for key in draw(st.lists(st.sampled_from(sorted(GOOD_TOP)), unique=True)):
        doc[key] = copy.deepcopy(draw(st.sampled_from(GOOD_TOP[key])))
    result: Any = doc
    for _ in range(draw(st.integers(0, 4))):
        result = draw(_mutated(result))
    return result


def _agree(instance: Any, schema: Any, validator: Draft7Validator) -> None:
    expected = validator.is_valid(instance)
    event(f"valid: {expected}")
    # This schema uses nothing the fast check lacks, so "unknown" would be a bug here (and a
    # silent loss of its speed): the answer must be exactly jsonschema's.
    assert is_valid(instance, schema) is expected, instance


@_settings(ci_examples=300)
@given(documents())
def test_agrees_with_jsonschema_on_mutated_playbooks(doc: Any) -> None:
    _agree(doc, SCHEMA, VALIDATOR)


@cache
def _fragment(pointer: str) -> tuple[dict[str, Any], Draft7Validator]:
    if pointer == "#":
        return SCHEMA, VALIDATOR  # (a root whose `$ref` is "#" would only name itself)
    # A root whose `$ref` names the fragment: draft-07 ignores its siblings, so only the
    # fragment applies, and its own `$ref`s still resolve against the definitions.
    schema = {key: value for key, value in SCHEMA.items() if key != "$id"}
    schema["$ref"] = pointer
    return schema, Draft7Validator(schema)


# Every value found anywhere in the valid playbooks: likely to fit some fragment exactly.
GOOD_VALUES = [_get(step, path) for step in GOOD_STEPS for path in _paths(step)]


@st.composite
def fragment_values(draw: st.DrawFn) -> tuple[str, Any]:
    pointer = draw(st.sampled_from(POINTERS))
    value: Any = draw(JSON | st.sampled_from(GOOD_VALUES).map(copy.deepcopy))
    for _ in range(draw(st.integers(0, 2))):
        value = draw(_mutated(value))
    return pointer, value


@_settings(ci_examples=300)
@given(fragment_values())
def test_agrees_with_jsonschema_on_each_fragment_of_the_schema(case: tuple[str, Any]) -> None:
    pointer, value = case
    schema, validator = _fragment(pointer)
    _agree(value, schema, validator)


@pytest.mark.parametrize(
    ("instance", "expected"),
    [
        ({"igflow": 1.0, "steps": [{"log": "x"}]}, True),  # 1.0 is an integer and equals 1
        ({"igflow": True, "steps": [{"log": "x"}]}, False),  # a bool is never an integer
        ({"igflow": 1, "steps": [{"log": "x", "concurrency": 8.0}]}, True),
        ({"igflow": 1, "steps": [{"log": "x", "concurrency": True}]}, False),
        ({"igflow": 1, "steps": [{"log": "x", "timeout": 0}]}, False),  # exclusiveMinimum
        ({"igflow": 1, "steps": [{"log": "x", "timeout": math.nan}]}, True),  # NaN compares false
        ({"igflow": 1, "steps": [{"log": "x"}], "secrets": ["a", "a"]}, False),
        ({"igflow": 1, "steps": [{"log": "x"}], "target": "sandbox\n"}, True),  # re.search, $
        ({"igflow": 1, "steps": [{"assert": "x"}]}, True),
        ({"igflow": 1, "steps": [{"assert": "x", "log": "y"}]}, True),  # assert rides along
        ({"igflow": 1, "steps": [{"call": "a", "log": "y"}]}, False),  # two actions
        ({"igflow": 1, "steps": [{"log": "x", "foreach": "{{ a }}\n"}]}, True),
        ({"igflow": 1, "steps": [{"log": "x", "foreach": "x {{ a }}"}]}, False),
    ],
)
def test_draft7_corner_cases(instance: Any, expected: bool) -> None:
    assert VALIDATOR.is_valid(instance) is expected  # the premise: what jsonschema says
    assert is_valid(instance, SCHEMA) is expected


@pytest.mark.parametrize(
    "schema",
    [
        {"if": {"type": "string"}, "then": {"minLength": 3}},
        {"if": {"type": "string"}, "else": {"type": "integer"}},
        {"if": {"type": "string"}, "then": {"minLength": 3}, "else": {"minimum": 5}},
        {"then": {"type": "integer"}, "else": {"type": "integer"}},  # no `if`: both ignored
        {
            "if": {"required": ["api"], "properties": {"api": {"const": "g"}}},
            "then": {"properties": {"x": {"enum": [1]}}},
            "else": {"properties": {"x": {"enum": [2]}}},
        },
        {"if": False, "then": False, "else": {"type": "string"}},
    ],
    ids=lambda s: json.dumps(s)[:60],
)
def test_if_then_else_agrees_with_jsonschema(schema: dict[str, Any]) -> None:
    instances = ["ab", "abcd", 4, 7, {"api": "g", "x": 1}, {"api": "g", "x": 2}, {"x": 2}, {}]
    for instance in instances:
        expected = Draft7Validator(schema).is_valid(instance)
        assert is_valid(instance, schema) is expected, instance


@pytest.mark.parametrize(
    "items",
    [[1, True], [0, False], [1, 1.0], [[1], [True]], [[1], [True], [1]], [{"a": 1}, {"a": 1.0}]]
    + [["a", "b", "a"], [None, None], [math.nan, 1.0, 1], [{"a": [True]}, {"a": [1]}]],
    ids=repr,
)
def test_unique_items_match_jsonschema_quirks_included(items: list[Any]) -> None:
    schema = {"type": "array", "uniqueItems": True}
    assert is_valid(items, schema) is Draft7Validator(schema).is_valid(items)


# --- what it does not implement falls back -----------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "maxLength": 3},
        {"allOf": [{"type": "string"}]},
        {"type": "string", "format": "email"},
        {"if": {"type": "string"}, "then": {"maxLength": 9}},  # if/then is known; maxLength not
        {"properties": {"x": {"maxLength": 1}}},
        {"type": "array", "items": [{"type": "string"}]},  # tuple form of items
        {"$ref": "other.json#/definitions/x"},
        {"$ref": "#/definitions/missing"},
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"},
        {"type": "strnig"},
        {"type": "string", "minLength": "1"},
        {"properties": {"x": {"$id": "https://elsewhere/x", "type": "string"}}},
        {"definitions": {"a": {"maxItems": 1}}, "properties": {"x": {"$ref": "#/definitions/a"}}},
    ],
    ids=lambda s: json.dumps(s)[:60],
)
def test_a_keyword_it_does_not_implement_gives_unknown(schema: dict[str, Any]) -> None:
    for instance in ("abcd", {"x": "ab"}, ["a", "b"], 5):
        assert is_valid(instance, schema) is None


def test_the_playbook_schema_growing_a_keyword_is_never_silently_accepted() -> None:
    grown = copy.deepcopy(SCHEMA)
    grown["definitions"]["step"]["properties"]["call"]["maxLength"] = 3
    data = load_playbook_file(str(REPO / "playbooks" / "seed_walkthrough.yml")).data
    assert not Draft7Validator(grown).is_valid(data)  # jsonschema would reject it now...
    assert is_valid(data, grown) is None  # ...and the fast check hands it over, not True


def test_annotations_and_unreferenced_definitions_are_ignored_as_jsonschema_does() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://example.test/s.json",
        "$comment": "c",
        "title": "t",
        "description": "d",
        "examples": ["x"],
        "default": "x",
        "definitions": {"unused": {"maxLength": 1}},
        "type": "string",
        # Draft-07: `$ref` replaces its siblings, even ones this module does not know.
        "properties": {"x": {"$ref": "#/definitions/name", "maxLength": 1}},
    }
    schema["definitions"]["name"] = {"type": "string"}
    assert is_valid("abc", schema) is True
    assert is_valid({"x": "abc"}, schema) is False  # not a string at the top
    assert is_valid({"x": "abc"}, schema["properties"]["x"]) is None  # no such definition there


def test_every_keyword_of_the_playbook_schema_is_implemented() -> None:
    used = {key for _, sub in _walk_schema(SCHEMA, "#") for key in sub}
    assert used <= KEYWORDS | ANNOTATIONS
    assert is_valid({"igflow": 1, "steps": [{"log": "x"}]}, SCHEMA) is True


def test_recursive_references_work() -> None:
    tree = {
        "definitions": {
            "node": {
                "type": "object",
                "required": ["v"],
                "properties": {
                    "v": {"type": "integer"},
                    "kids": {"items": {"$ref": "#/definitions/node"}},
                },
            }
        },
        "$ref": "#/definitions/node",
    }
    good = {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}
    bad = {"v": 1, "kids": [{"v": 2, "kids": [{"v": "3"}]}]}
    assert is_valid(good, tree) is True
    assert is_valid(bad, tree) is False


# --- the validation path ------------------------------------------------------------------------


def test_an_invalid_playbook_still_gets_jsonschemas_worded_issues() -> None:
    doc = load_playbook_text("igflow: 1\nsteps: []\n", "p.yml")
    playbook, issues = compile_playbook(doc)
    assert playbook is None
    assert [i.message for i in issues] == ["`steps` is empty; a playbook needs at least one step"]


_PROBE = """
import sys
from igflow.playbook import compile_playbook, load_playbook_file

playbook, issues = compile_playbook(load_playbook_file(sys.argv[1]))
assert playbook is not None, issues
print(sorted(m for m in sys.modules if m == "jsonschema" or m.startswith("jsonschema.")))
"""


@pytest.mark.parametrize("name", ["seed_walkthrough.yml", "export_media.yml"])
def test_compiling_a_valid_playbook_does_not_import_jsonschema(name: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, str(REPO / "playbooks" / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"

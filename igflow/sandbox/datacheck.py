"""Typed, bounded fields of a dataset record: one checker for the v1 and Graph datasets.

A dataset is data written by hand: every field a loader reads is checked here first, so a
mapping where text belongs, a number that is not finite (``.nan``, ``.inf``), an integer past
SQLite's 64 bits or a string where a number belongs is one problem naming the field's path in
the file (``users[3].full_name``), never a database error or a raw Python message. Each
dataset module declares its records' fields as data (``name -> kind``); a field left out of a
record is not checked here (the dataset module says which are required).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from igflow.errors import printable
from igflow.sandbox.ids import MAX_ID, parse_decimal

MAX_TEXT_CHARS = 100_000  # a caption or a bio; a longer text is a mistake, not a test case
MAX_INT = 2**53  # exact in JSON and a float, and far inside SQLite's 64-bit INTEGER
# No real dataset nests more than a handful of levels; PyYAML's composer (and any checker
# walking the tree) recurses once a level, so a deeper file is refused before it is built.
MAX_DEPTH = 64
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: several times faster


def load_yaml(path: str, fh: Any) -> Any:
    """The YAML document in ``fh`` (from ``path``), safely loaded and bounded in depth.

    Raises:
        OSError, yaml.YAMLError: as reading and parsing do.
        ValueError: the document nests deeper than :data:`MAX_DEPTH` (``path:line:col``).
    """
    text = fh.read()
    depth = 0
    # Events are parsed iteratively (no recursion), so the depth is known before composing.
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
                raise ValueError(
                    f"{where}: the dataset nests deeper than {MAX_DEPTH} levels (lists and "
                    "mappings inside each other)"
                )
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
    return yaml.load(text, Loader=_LOADER)


def shown(value: Any) -> str:
    """A value as a problem quotes it: its repr, printable and short."""
    text = printable(repr(value))
    return text if len(text) <= 60 else text[:56] + "...'"


def _bound(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be text, not {_kind(value)}"
    if len(value) > MAX_TEXT_CHARS:
        return f"is {len(value)} characters long, more than {MAX_TEXT_CHARS}"
    return None


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {shown(value)}"


def _int(value: Any, low: float = 0, high: float = MAX_INT) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number, not {shown(value)}"
    if not low <= value <= high:
        return f"must be between {_bound(low)} and {_bound(high)}, not {shown(value)}"
    return None


def _number(value: Any, low: float, high: float) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, not {shown(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {shown(value)}"
    if not low <= value <= high:
        return f"must be between {_bound(low)} and {_bound(high)}, not {shown(value)}"
    return None


def _decimal(value: Any) -> str | None:
    """An id: a decimal string (or an unquoted whole number) that fits its INTEGER column."""
    if is_id(value):
        return None
    return f'must be a decimal id such as "3657782666" (at most {MAX_ID}), not {shown(value)}'


def is_id(value: Any) -> bool:
    """A decimal id the sandbox's SQLite columns can hold (ids.parse_decimal's rule)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    return parse_decimal(str(value)) is not None


def _scalar(value: Any) -> str | None:
    """An external id or a code: text or a whole number (YAML reads 1234 unquoted as one)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"must be text or a whole number, not {_kind(value)}"
    return _text(str(value)) if isinstance(value, str) else _int(value, -MAX_INT, MAX_INT)


def _text_list(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"must be a list of text, not {_kind(value)}"
    for item in value:
        problem = _text(item)
        if problem:
            return f"must be a list of text: an item {problem}"
    return None


def _json(value: Any) -> str | None:
    """A mapping or list of JSON values (no YAML date, no non-finite number)."""
    if not isinstance(value, Mapping | list):
        return f"must be a mapping or a list, not {_kind(value)}"
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if not all(isinstance(k, str) for k in item):
                return "must have text keys only"
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            return f"must hold finite numbers only, not {shown(item)}"
        elif item is not None and not isinstance(item, str | int | float | bool):
            return f"must hold JSON values only, not {_kind(item)}"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{type(value).__name__} {shown(value)}"


# A field's kind: a name, or ("int"|"number", low, high).
Kind = str | tuple[str, float, float]
_SIMPLE = {
    "text": _text,
    "bool": _bool,
    "int": _int,
    "decimal": _decimal,
    "scalar": _scalar,
    "text_list": _text_list,
    "json": _json,
}


def check_fields(
    record: Mapping[str, Any], fields: Mapping[str, Kind], where: str, *, nullable: bool = True
) -> list[str]:
    """A problem line ``where.field: what`` for each present field of the wrong kind or size.

    ``nullable``: a field given as null counts as absent (the loaders read it as the default).
    """
    problems: list[str] = []
    for name, kind in fields.items():
        if name not in record or (nullable and record[name] is None):
            continue
        value = record[name]
        if isinstance(kind, tuple):
            what, low, high = kind
            problem = _int(value, low, high) if what == "int" else _number(value, low, high)
        else:
            problem = _SIMPLE[kind](value)
        if problem:
            problems.append(f"{where}.{name}: {problem}")
    return problems


MAX_PROBLEMS_SHOWN = 50


def invalid(path: str, what: str, problems: list[str]) -> ValueError:
    """The one error for a dataset with problems: the file, then one problem a line.

    Each line starts with ``line:col`` of the field in the file when its path can be found
    there (the file is composed again only now, when something is wrong).
    """
    marks = _marks(path)
    shown_lines = [_located(problem, marks) for problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown_lines.append(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return ValueError(f"{path}: invalid {what}:\n  " + "\n  ".join(shown_lines))


def wrong_profile(raw: Any, path: str, *, want: str) -> ValueError | None:
    """A one-line error when ``raw`` is the other sandbox's dataset (v1 has users:, Graph
    accounts:), else None."""
    if not isinstance(raw, Mapping):
        return None
    if want == "graph" and "users" in raw and "accounts" not in raw:
        return ValueError(
            f"{path}: this is a v1 sandbox dataset (it has users:, not accounts:); the Graph "
            "sandbox needs a Graph dataset (docs/graph-sandbox.md), or serve this one without "
            "--api graph"
        )
    if want == "v1" and "accounts" in raw and "users" not in raw:
        return ValueError(
            f"{path}: this is a Graph sandbox dataset (it has accounts:, not users:); serve it "
            "with --api graph, or give the v1 sandbox a v1 dataset (docs/sandbox-data.md)"
        )
    return None


_SEGMENT = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _marks(path: str) -> Any:
    """The file's YAML node tree (for line numbers), or None when it cannot be had."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.compose(fh, Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError, ValueError, RecursionError):  # then no line:col, no crash
        return None


def _located(problem: str, root: Any) -> str:
    """``problem`` prefixed with the line:col of the deepest node its path reaches."""
    where, sep, _ = problem.partition(": ")
    if root is None or not sep or " " in where:
        return problem
    node, found = root, None
    for index, key in _SEGMENT.findall(where):
        child = _child(node, int(index) if index else key)
        if child is None:
            break
        node = found = child
    if found is None:
        return problem
    mark = found.start_mark
    return f"{mark.line + 1}:{mark.column + 1}: {problem}"


def _child(node: Any, step: int | str) -> Any:
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
        return node.value[step] if step < len(node.value) else None
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == step:
                return value
    return None

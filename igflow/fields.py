"""List parameters on the wire: Graph's ``fields`` (with expansions and modifiers) and friends.

A ``type: list`` parameter of the registry (``fields``, ``metric``, ``children``,
``subscribed_fields``) is written in YAML as a list and sent comma-joined. An item is a string
naming one field (``children{id,media_type}``, ``comments.limit(5){text}``), or a one-key
mapping from an edge to its own list of fields, which becomes ``edge{a,b}``::

    fields: [id, caption, {children: [id, media_type]}, "comments.limit(5){text}"]
    -> id,caption,children{id,media_type},comments.limit(5){text}

A string value is a whole comma-separated list (``fields: "id,caption"``). Every value is checked
before it is sent, by the grammar the API reads (``name(.modifier(args))*({fields})?``): a null,
a number or a boolean item, an empty or blank one, an item with a comma in it (two fields: write
two items), an empty field (``id,,caption``), an unclosed brace and nesting deeper than
MAX_FIELD_DEPTH are refused with the item's index, never sent or silently dropped. `igflow
check` applies it to literal values (igflow.playbook.params), the client to rendered ones.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn

from igflow.errors import FieldListError

__all__ = ["MAX_FIELD_DEPTH", "FieldListError", "list_issues", "render_list"]

# Expansions ({...}) nest at most this deep, counted as the Graph sandbox counts them
# (igflow.sandbox.graph.fields.MAX_DEPTH, kept equal by tests/unit/test_fields.py): a deeper
# list would pass `check` and be refused by the emulator. It also keeps a structure a template
# hands over from exhausting the interpreter's stack.
MAX_FIELD_DEPTH = 5

_NAME = re.compile(r"[A-Za-z0-9_]+")
_BLANK = " \t"

Where = tuple[int | str, ...]  # the path to the item, below the parameter


def render_list(value: Any) -> str:
    """The wire form of a list parameter's value, after checking it.

    Raises:
        FieldListError: A ValueError: an item is not a well-formed field, or the expansions
            nest deeper than MAX_FIELD_DEPTH (the message says which item and why).
    """
    return _render(value, 0, ())


def list_issues(value: Any) -> list[FieldListError]:
    """What is wrong with a list parameter's value, each with the item's path: one per item of
    a list (so `check` shows them all), else at most one."""
    if isinstance(value, list) and value:
        found = []
        for index, item in enumerate(value):
            try:
                _item(index, item, 0, (index,))
            except FieldListError as exc:
                found.append(exc)
        return found
    if isinstance(value, Mapping):
        value = [value]
    try:
        render_list(value)
    except FieldListError as exc:
        return [exc]
    return []


def _render(value: Any, depth: int, where: Where) -> str:
    if isinstance(value, str):
        _check_text(value, depth, where, one=False)
        return value
    if isinstance(value, Mapping):
        return _edge(value, depth, where)
    if not isinstance(value, list | tuple):
        raise FieldListError(
            f"must be a list (or a comma-separated string), got {_kind(value)}", where
        )
    if not value:
        raise FieldListError("is an empty list: name at least one field", where)
    return ",".join(_item(index, item, depth, (*where, index)) for index, item in enumerate(value))


def _item(index: int, item: Any, depth: int, at: Where) -> str:
    if isinstance(item, Mapping):
        return _edge(item, depth, at)
    if isinstance(item, str):
        try:
            _check_text(item, depth, at, one=True)
        except FieldListError as exc:
            raise FieldListError(f"item {index + 1}: {exc}", at) from None
        return item
    if isinstance(item, list | tuple):
        raise FieldListError(
            f"item {index + 1} is a list; a list item cannot itself be a list "
            "(write {edge: [fields]})",
            at,
        )
    raise FieldListError(
        f"item {index + 1} is {_kind(item)}, not a field name (quote it if it is one)", at
    )


def _edge(item: Mapping[Any, Any], depth: int, where: Where) -> str:
    if len(item) != 1:
        raise FieldListError(
            "an expansion is a mapping of one edge to its fields, e.g. {children: [id]}", where
        )
    ((edge, sub),) = item.items()
    if not isinstance(edge, str):
        raise FieldListError(f"an expansion's edge is {_kind(edge)}, not a field name", where)
    _check_text(edge, depth, where, one=True, edge=True)
    if depth + 1 > MAX_FIELD_DEPTH:
        raise _too_deep(where)
    return f"{edge}{{{_render(sub, depth + 1, (*where, edge))}}}"


def _too_deep(where: Where) -> FieldListError:
    return FieldListError(
        f"field expansions nest deeper than {MAX_FIELD_DEPTH} levels (igflow.fields."
        "MAX_FIELD_DEPTH, as deep as the Graph sandbox reads)",
        where,
    )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _check_text(text: str, depth: int, where: Where, *, one: bool, edge: bool = False) -> None:
    """``text`` reads as fields: one field when ``one`` (a list item), else a comma-separated
    list; an ``edge`` (a mapping's key) takes no ``{...}`` of its own."""
    scan = _Scan(text, where)
    if not text.strip(_BLANK):
        scan.fail("is empty" if not text else "is blank")
    count = scan.fields(depth)
    if scan.pos != len(text):
        scan.fail(f"unexpected {text[scan.pos]!r}", scan.pos)
    if one and count > 1:
        scan.fail("names more than one field: write one item per field")
    if edge and "{" in text:
        scan.fail("an edge with {...} cannot take another list: write {edge: [fields]}")


class _Scan:
    """A recursive reader of ``a,b.limit(5){c,d{e}}``; depth is bounded by MAX_FIELD_DEPTH."""

    def __init__(self, text: str, where: Where) -> None:
        self.text = text
        self.where = where
        self.pos = 0

    def fail(self, problem: str, at: int | None = None) -> NoReturn:
        spot = "" if at is None else f" at character {at + 1}"
        raise FieldListError(f"{self.text!r} {problem}{spot}", self.where)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def blanks(self) -> None:
        while self.peek() and self.peek() in _BLANK:
            self.pos += 1

    def fields(self, depth: int, opened: int | None = None) -> int:
        """Read fields up to the end or a ``}`` (that of the ``{`` at ``opened``); how many."""
        count = 0
        while True:
            self.blanks()
            if self.peek() == "" and opened is not None:
                self.fail("has a '{' that is not closed", opened)
            if self.peek() in (",", "}", ""):
                self.fail("has an empty field", self.pos)
            self.field(depth)
            count += 1
            self.blanks()
            if self.peek() != ",":
                return count
            self.pos += 1

    def field(self, depth: int) -> None:
        self.name()
        while self.peek() == ".":
            self.pos += 1
            self.name()
            if self.peek() != "(":
                self.fail("needs (...) after a .modifier", self.pos)
            end = self.text.find(")", self.pos)
            if end < 0:
                self.fail("has a '(' that is not closed", self.pos)
            self.pos = end + 1
        if self.peek() == "{":
            if depth + 1 > MAX_FIELD_DEPTH:
                raise _too_deep(self.where)
            opened = self.pos
            self.pos += 1
            self.fields(depth + 1, opened)
            if self.peek() != "}":
                self.fail("has a '{' that is not closed", opened)
            self.pos += 1

    def name(self) -> None:
        match = _NAME.match(self.text, self.pos)
        if match is None:
            found = self.peek()
            self.fail(
                f"has {found!r} where a field name belongs" if found else "ends early", self.pos
            )
        self.pos = match.end()

"""The ``fields`` parameter (§4): ``id,caption,children{id,media_type},comments.limit(5){text}``.

A pure parser: a list of :class:`FieldSpec` (name, modifiers such as ``limit``/``after``/
``username``, nested fields). Input is bounded (length, depth, count) so a hostile value is one
clear error, never a deep recursion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_CHARS = 4000
MAX_DEPTH = 5
MAX_FIELDS = 200
_NAME = re.compile(r"[A-Za-z0-9_]+")


class FieldsError(ValueError):
    """The fields parameter does not parse; the message names the offending part."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    children: tuple[FieldSpec, ...] | None = None  # None: no {...} given


def parse_fields(text: str) -> tuple[FieldSpec, ...]:
    if len(text) > MAX_CHARS:
        raise FieldsError(f"longer than {MAX_CHARS} characters")
    parser = _Parser(text)
    specs = parser.fields(0)
    if parser.pos != len(text):
        raise FieldsError(text[parser.pos : parser.pos + 20])
    return specs


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.count = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fields(self, depth: int) -> tuple[FieldSpec, ...]:
        if depth > MAX_DEPTH:
            raise FieldsError(f"nested deeper than {MAX_DEPTH} levels")
        specs: list[FieldSpec] = []
        while True:
            while self.peek() == " ":
                self.pos += 1
            if self.peek() in (",",):
                self.pos += 1
                continue
            if self.peek() in ("", "}"):
                break
            specs.append(self.field(depth))
            self.count += 1
            if self.count > MAX_FIELDS:
                raise FieldsError(f"more than {MAX_FIELDS} fields")
            while self.peek() == " ":
                self.pos += 1
            if self.peek() not in (",", "}", ""):
                raise FieldsError(self.text[self.pos : self.pos + 20])
        return tuple(specs)

    def name(self) -> str:
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise FieldsError(self.text[self.pos : self.pos + 20] or "(end)")
        self.pos = match.end()
        return match.group(0)

    def field(self, depth: int) -> FieldSpec:
        name = self.name()
        modifiers: dict[str, str] = {}
        while self.peek() == ".":
            self.pos += 1
            key = self.name()
            if self.peek() != "(":
                raise FieldsError(f".{key} needs (...)")
            end = self.text.find(")", self.pos)
            if end < 0:
                raise FieldsError(f".{key}( is not closed")
            modifiers[key] = self.text[self.pos + 1 : end].strip()
            self.pos = end + 1
        children: tuple[FieldSpec, ...] | None = None
        if self.peek() == "{":
            self.pos += 1
            children = self.fields(depth + 1)
            if self.peek() != "}":
                raise FieldsError(f"{name}{{ is not closed")
            self.pos += 1
        return FieldSpec(name, modifiers, children)

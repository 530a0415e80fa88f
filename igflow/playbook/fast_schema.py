"""A fast, dependency-free validity check for the playbook schema (JSON Schema draft-07).

Why: importing jsonschema costs about 80 ms on every ``igflow run`` and ``igflow check``, and
validating a 400-step playbook with it another ~77 ms, while almost every playbook is valid.
This module answers one question, "is this instance valid?", for the draft-07 keywords that
``schemas/playbook.schema.json`` uses, with jsonschema's own semantics (see below), in about
2 ms for 400 steps. When it says anything but ``True`` the caller asks jsonschema
(:mod:`igflow.playbook.schema_check`), which also words the problems for people.

The answer is ``True``, ``False`` or ``None`` ("unknown": the schema uses something this
module does not implement, or checking raised). ``None`` is falsy on purpose: a caller that
writes ``if is_valid(...)`` falls back to jsonschema instead of accepting unchecked input.

Semantics copied from jsonschema 4 (``Draft7Validator``), keyword by keyword:

- ``type``: "integer" is an int that is not a bool, or a float with an integral value
  (``1.0``); "number" is any ``numbers.Number`` but bool; "object" is a dict, "array" a list.
- Every keyword that constrains one kind of value (``properties``, ``minLength``,
  ``minimum``...) ignores values of other kinds, as the spec says.
- ``enum``/``const``/``uniqueItems`` use jsonschema's ``equal``: ``1 == 1.0`` but
  ``True != 1``, recursively through lists and mappings; ``uniqueItems`` copies ``uniq``,
  including its sort-then-compare-neighbours shortcut, so even its corner cases agree.
- ``pattern`` is ``re.search`` (not a full match).
- ``$ref`` (to ``#`` or ``#/...`` in the same document) replaces its sibling keywords, as
  draft-07 says and jsonschema does.

Compiling the schema into closures happens once per schema dict (cached by identity; schemas are
treated as immutable, as :func:`igflow.resources.load_schema`'s cached dict is).

Length: over 400 lines, a second implementation kept only for speed: it settles valid playbooks
without importing jsonschema (80 ms of import plus 77 ms of validation, against about 2 ms;
bench/README.md). Measured again in issue 12's work: still needed.
"""

from __future__ import annotations

import itertools
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

__all__ = ["ANNOTATIONS", "KEYWORDS", "is_valid"]

Check = Callable[[Any], bool]

# Keywords that only describe: jsonschema does not validate with them. ``definitions`` is a
# container that ``$ref`` reaches into; what it holds is compiled when it is referenced.
ANNOTATIONS = frozenset(
    {"$comment", "$id", "$schema", "default", "definitions", "description", "examples", "title"}
)

# What this module validates. Anything else (maxLength, allOf, format, ...) makes
# the whole schema "unknown", so a schema that grows a keyword can never be half-checked.
KEYWORDS = frozenset(
    {
        "$ref",
        "additionalProperties",
        "anyOf",
        "const",
        "enum",
        "else",
        "exclusiveMinimum",
        "if",
        "items",
        "maximum",
        "minimum",
        "minItems",
        "minLength",
        "minProperties",
        "not",
        "oneOf",
        "pattern",
        "properties",
        "propertyNames",
        "required",
        "then",
        "type",
        "uniqueItems",
    }
)

_DRAFT7_URIS = frozenset(
    {"http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema"}
)


class _Unknown(Exception):
    """The schema uses something this module does not implement (the caller falls back)."""


# --- the answer --------------------------------------------------------------------------------

# id(schema) -> (schema, compiled check or None for "unknown"). The schema itself is kept so
# its id cannot be reused by another object while the entry exists.
_CACHE: dict[int, tuple[object, Check | None]] = {}
_CACHE_SIZE = 64


def is_valid(instance: Any, schema: Mapping[str, Any] | bool) -> bool | None:
    """Whether ``instance`` is valid under the draft-07 ``schema``, as jsonschema would say.

    Args:
        instance: A JSON-like value (dicts, lists, str, int, float, bool, None).
        schema: A draft-07 schema; the root of any ``$ref`` it contains.

    Returns:
        True or False; None when the schema uses a keyword (or a form of one) this module does
        not implement, or when checking raised: then only jsonschema can tell.
    """
    check = _compiled(schema)
    if check is None:
        return None
    try:
        return check(instance)
    except Exception:
        # E.g. comparing an exotic number with `minimum`, or nesting past the recursion limit:
        # whatever it is, jsonschema decides (and words it), never a guess here.
        return None


def _compiled(schema: Mapping[str, Any] | bool) -> Check | None:
    entry = _CACHE.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    check: Check | None
    try:
        check = _Compiler(schema).compile_root()
    except Exception:
        # _Unknown, or a schema malformed in a way the compiler did not foresee: fall back.
        check = None
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()  # only callers that build schemas on the fly get here (tests)
    _CACHE[id(schema)] = (schema, check)
    return check


# --- jsonschema's type predicates and equality ---------------------------------------------------


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    # Draft 6 and later: a float with an integral value is an integer (jsonschema agrees).
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _is_number(x: Any) -> bool:
    kind = type(x)
    if kind is int or kind is float:  # the common case, without an ABC check
        return True
    return not isinstance(x, bool) and isinstance(x, numbers.Number)


def _is_object(x: Any) -> bool:
    return isinstance(x, dict)


def _is_array(x: Any) -> bool:
    return isinstance(x, list)


def _is_string(x: Any) -> bool:
    return isinstance(x, str)


def _is_boolean(x: Any) -> bool:
    return isinstance(x, bool)


def _is_null(x: Any) -> bool:
    return x is None


_TYPES: dict[str, Check] = {
    "array": _is_array,
    "boolean": _is_boolean,
    "integer": _is_integer,
    "null": _is_null,
    "number": _is_number,
    "object": _is_object,
    "string": _is_string,
}

# jsonschema's ``unbool`` sentinels: True and False stop being equal to 1 and 0.
_TRUE, _FALSE = object(), object()


def _unbool(x: Any) -> Any:
    if x is True:
        return _TRUE
    if x is False:
        return _FALSE
    return x


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's ``_utils.equal``."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two, strict=False))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and _equal(value, two[key]) for key, value in one.items()
        )
    return bool(_unbool(one) == _unbool(two))


def _uniq(container: list[Any]) -> bool:
    """jsonschema's ``_utils.uniq``, quirks included.

    It sorts and compares neighbours, falling back to all pairs when the items do not sort. The
    shortcut can miss duplicates that do not end up side by side (``[[1], [True], [1]]`` counts
    as unique), and the point here is to agree with jsonschema, not to be more right.
    """
    if all(type(item) is str for item in container):
        # Sorted strings put equal ones side by side and `equal` is `==` for them: a set says
        # the same, faster (the lists in playbooks are scopes and names).
        return len(set(container)) == len(container)
    try:
        ordered = sorted(_unbool(item) for item in container)
        return not any(
            _equal(i, j) for i, j in zip(ordered, itertools.islice(ordered, 1, None), strict=False)
        )
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in container:
            item = _unbool(item)
            if any(_equal(other, item) for other in seen):
                return False
            seen.append(item)
        return True


# --- compiling ---------------------------------------------------------------------------------


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _all_of(checks: list[Check]) -> Check:
    checks = [c for c in checks if c is not _always]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)
    parts = tuple(checks)

    def check(x: Any) -> bool:
        # A plain loop, not all(<generator>): this runs for every value checked, and the
        # generator costs about a third more (2.0 vs 3.2 ms for a 400-step playbook).
        for part in parts:  # noqa: SIM110
            if not part(x):
                return False
        return True

    return check


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Unknown(f"not a number: {value!r}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Unknown(f"not a count: {value!r}")
    return value


class _Compiler:
    """Turns one schema document into a tree of closures, resolving ``$ref`` as it goes."""

    def __init__(self, root: Mapping[str, Any] | bool) -> None:
        self.root = root
        # "#/definitions/x" -> its check; while it is being compiled, a forwarder reads the
        # finished check from here, so recursive references work.
        self.refs: dict[str, Check] = {}
        self.in_progress: set[str] = set()

    def compile_root(self) -> Check:
        if isinstance(self.root, Mapping):
            dialect = self.root.get("$schema")
            if dialect is not None and dialect not in _DRAFT7_URIS:
                raise _Unknown(f"$schema {dialect!r}")
        return self.compile(self.root, is_root=True)

    def compile(self, schema: Any, *, is_root: bool = False) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            raise _Unknown(f"not a schema: {schema!r}")
        if not is_root and ("$id" in schema or "$schema" in schema):
            # An embedded resource changes the base URI (or the dialect) for what it holds.
            raise _Unknown("$id or $schema below the root")
        if "$ref" in schema:
            # Draft-07: `$ref` replaces its siblings; jsonschema ignores them too.
            return self.ref(schema["$ref"])
        for keyword in schema:
            if keyword not in KEYWORDS and keyword not in ANNOTATIONS:
                raise _Unknown(f"keyword {keyword!r}")
        checks: list[Check] = []
        if "type" in schema:
            checks.append(self.type_check(schema["type"]))
        checks.append(self.object_check(schema))
        checks.append(self.string_check(schema))
        checks.append(self.number_check(schema))
        checks.append(self.array_check(schema))
        if "enum" in schema:
            checks.append(self.enum_check(schema["enum"]))
        if "const" in schema:
            expected = schema["const"]
            checks.append(lambda x: _equal(x, expected))
        if "anyOf" in schema:
            branches = self.branches(schema["anyOf"])
            checks.append(lambda x: any(branch(x) for branch in branches))
        if "oneOf" in schema:
            checks.append(self.one_of(self.branches(schema["oneOf"])))
        if "not" in schema:
            negated = self.compile(schema["not"])
            checks.append(lambda x: not negated(x))
        if "if" in schema:  # `then` and `else` without `if` mean nothing (draft-07)
            checks.append(self.if_then_else(schema))
        return _all_of(checks)

    def if_then_else(self, schema: Mapping[str, Any]) -> Check:
        condition = self.compile(schema["if"])
        then = self.compile(schema["then"]) if "then" in schema else _always
        otherwise = self.compile(schema["else"]) if "else" in schema else _always
        return lambda x: then(x) if condition(x) else otherwise(x)

    def ref(self, ref: Any) -> Check:
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            raise _Unknown(f"$ref {ref!r}")  # remote or relative to an $id: not handled here
        done = self.refs.get(ref)
        if done is not None:
            return done
        if ref in self.in_progress:
            refs = self.refs
            return lambda x: refs[ref](x)
        self.in_progress.add(ref)
        check = self.compile(self.resolve(ref), is_root=ref == "#")
        self.in_progress.discard(ref)
        self.refs[ref] = check
        return check

    def resolve(self, ref: str) -> Any:
        """The subschema a ``#/a/b`` JSON pointer names (RFC 6901, percent-decoded)."""
        node: Any = self.root
        # As jsonschema's `referencing` does: percent-decode the whole pointer, then split.
        for raw in unquote(ref[1:]).split("/")[1:]:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise _Unknown(f"unresolvable $ref {ref!r}")
        return node

    def branches(self, value: Any) -> tuple[Check, ...]:
        if not isinstance(value, list) or not value:
            raise _Unknown(f"not a list of schemas: {value!r}")
        return tuple(self.compile(each) for each in value)

    @staticmethod
    def one_of(branches: tuple[Check, ...]) -> Check:
        def check(x: Any) -> bool:
            found = False
            for branch in branches:
                if branch(x):
                    if found:
                        return False
                    found = True
            return found

        return check

    @staticmethod
    def type_check(value: Any) -> Check:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            raise _Unknown(f"type {value!r}")
        try:
            predicates = tuple(_TYPES[name] for name in names)
        except (KeyError, TypeError):
            raise _Unknown(f"type {value!r}") from None
        if len(predicates) == 1:
            return predicates[0]
        return lambda x: any(predicate(x) for predicate in predicates)

    @staticmethod
    def enum_check(values: Any) -> Check:
        if not isinstance(values, list):
            raise _Unknown(f"enum {values!r}")
        # A string equals only an equal string under `equal`, so strings are a set lookup.
        strings = frozenset(v for v in values if isinstance(v, str))
        others = tuple(v for v in values if not isinstance(v, str))

        def check(x: Any) -> bool:
            if isinstance(x, str):
                return x in strings
            return any(_equal(each, x) for each in others)

        return check

    def object_check(self, schema: Mapping[str, Any]) -> Check:
        """``properties``, ``additionalProperties``, ``required``, ``minProperties`` and
        ``propertyNames`` in one pass over the mapping (they all skip non-objects)."""
        if not any(
            k in schema
            for k in (
                "properties",
                "additionalProperties",
                "required",
                "minProperties",
                "propertyNames",
            )
        ):
            return _always
        raw_properties = schema.get("properties", {})
        if not isinstance(raw_properties, Mapping):
            raise _Unknown("properties")
        properties = {key: self.compile(sub) for key, sub in raw_properties.items()}
        additional_raw = schema.get("additionalProperties", True)
        if isinstance(additional_raw, bool):
            additional: Check = _always if additional_raw else _never
        elif isinstance(additional_raw, Mapping):
            additional = self.compile(additional_raw)
        else:
            raise _Unknown("additionalProperties")
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise _Unknown("required")
        required_keys = tuple(required)
        min_properties = _count(schema.get("minProperties", 0))
        names: Check | None = None
        if "propertyNames" in schema:
            names = self.compile(schema["propertyNames"])
            if names is _always:
                names = None
        # Keys with an always-true schema need no call; unlisted keys meet `additional`.
        plain = frozenset(key for key, check in properties.items() if check is _always)
        checked = {key: check for key, check in properties.items() if check is not _always}
        lookup = checked.get
        additional_free = additional is _always
        if not checked and additional_free and names is None:
            # Only `required`/`minProperties` (the step's one-action branches): no walk.
            def counts(x: Any) -> bool:
                if not isinstance(x, dict):
                    return True
                if len(x) < min_properties:
                    return False
                for key in required_keys:  # noqa: SIM110  (a loop: see _all_of)
                    if key not in x:
                        return False
                return True

            return counts

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            if len(x) < min_properties:
                return False
            for key in required_keys:
                if key not in x:
                    return False
            for key, value in x.items():
                if names is not None and not names(key):
                    return False
                sub = lookup(key)
                if sub is not None:
                    if not sub(value):
                        return False
                elif key not in plain and not additional_free and not additional(value):
                    return False
            return True

        return check

    @staticmethod
    def string_check(schema: Mapping[str, Any]) -> Check:
        if "minLength" not in schema and "pattern" not in schema:
            return _always
        min_length = _count(schema.get("minLength", 0))
        search: Callable[[str], Any] | None = None
        if "pattern" in schema:
            if not isinstance(schema["pattern"], str):
                raise _Unknown("pattern")
            try:
                # jsonschema calls `re.search(pattern, instance)`: the same engine and flags.
                search = re.compile(schema["pattern"]).search
            except re.error:
                raise _Unknown("pattern") from None

        def check(x: Any) -> bool:
            if not isinstance(x, str):
                return True
            if len(x) < min_length:
                return False
            return search is None or search(x) is not None

        return check

    @staticmethod
    def number_check(schema: Mapping[str, Any]) -> Check:
        bounds: list[Check] = []
        if "minimum" in schema:
            low = _number(schema["minimum"])
            bounds.append(lambda x: not x < low)
        if "exclusiveMinimum" in schema:
            # Draft 6 and later: a number, not draft 4's boolean.
            above = _number(schema["exclusiveMinimum"])
            bounds.append(lambda x: not x <= above)
        if "maximum" in schema:
            high = _number(schema["maximum"])
            bounds.append(lambda x: not x > high)
        if not bounds:
            return _always
        within = _all_of(bounds)
        # The comparisons are written as jsonschema's (`instance < minimum` fails), so NaN,
        # which compares false with everything, passes both here and there.
        return lambda x: not _is_number(x) or within(x)

    def array_check(self, schema: Mapping[str, Any]) -> Check:
        if not any(k in schema for k in ("items", "minItems", "uniqueItems")):
            return _always
        min_items = _count(schema.get("minItems", 0))
        unique = schema.get("uniqueItems", False)
        if not isinstance(unique, bool):
            raise _Unknown("uniqueItems")
        items_raw = schema.get("items", True)
        if not isinstance(items_raw, (bool, Mapping)):
            raise _Unknown("items as a list (tuple validation)")
        items = self.compile(items_raw)

        def check(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            if len(x) < min_items:
                return False
            if unique and not _uniq(x):
                return False
            if items is not _always:
                for item in x:
                    if not items(item):
                        return False
            return True

        return check

"""The wording of template errors: what Jinja and Python say, turned into what to do about it.

A new user writes playbooks from the documentation alone, so a message names the problem in the
playbook's terms and, where one is plain, the fix: a filter name close to the one written, the
quote that is never closed, the string variable that needs ``| int``. Only failure paths come
here; nothing in this module runs while a template renders well.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from igflow.errors import PositionedSyntaxError, TemplateSyntaxError

__all__ = ["PositionedSyntaxError", "syntax_error", "type_error_message"]


# Jinja's lexer: `unexpected char "'" at 5` (the offset into the whole source).
_UNEXPECTED_CHAR = re.compile(r"unexpected char (['\"])(.)\1 at (\d+)\Z", re.DOTALL)
# Jinja's code generator: `No filter named 'lenght'.`, `No test named 'evn'.`
_NO_SUCH = re.compile(r"No (filter|test) named '([^']*)'")
_QUOTES: Final = ("'", '"')


def syntax_error(
    what: str,
    snippet: str,
    source: str,
    exc: Any,
    filters: Iterable[str],
    tests: Iterable[str],
) -> TemplateSyntaxError:
    """igflow's error for a Jinja ``TemplateSyntaxError`` raised by ``source``.

    Args:
        what: "expression" or "template".
        snippet: ``source`` as the message quotes it.
        source: The text that was parsed (offsets count into it).
        exc: Jinja's error.
        filters: The filter names a template may use (for "did you mean").
        tests: The test names.
    """
    detail = " ".join((exc.message or "").split())
    lineno = exc.lineno or 1
    head = f"invalid {what} {snippet}"
    char = _UNEXPECTED_CHAR.match(detail)
    if char is not None and int(char.group(3)) < len(source):
        at, quote = int(char.group(3)), char.group(2)
        if quote in _QUOTES:
            detail = f"this {quote} opens a string that is never closed (add the closing {quote})"
        else:
            detail = f"unexpected character {quote!r}"
        return PositionedSyntaxError(f"{head}: {detail}", lineno=lineno, offset=at)
    missing = _NO_SUCH.search(detail)
    if missing is not None:
        kind, name = missing.groups()
        known = [n for n in (filters if kind == "filter" else tests) if n.isidentifier()]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        message = f"{head}: unknown {kind} '{name}'{hint}"
        where = _name_offset(source, kind, name)
        if where is not None:
            return PositionedSyntaxError(message, lineno=_line_of(source, where), offset=where)
        return TemplateSyntaxError(message, lineno=lineno)
    return TemplateSyntaxError(f"{head}: {detail}", lineno=lineno)


def _name_offset(source: str, kind: str, name: str) -> int | None:
    """Where a filter (``| name``) or a test (``is [not] name``) is written, if it can be told."""
    escaped = re.escape(name)
    if kind == "filter":
        pattern = rf"\|\s*({escaped})\b"
    else:
        pattern = rf"\bis\s+(?:not\s+)?({escaped})\b|['\"]({escaped})['\"]"
    found = re.search(pattern, source)
    if found is None:
        return None
    return found.start(1) if found.group(1) is not None else found.start(2)


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


# --------------------------------------------------------------------------- run time

# Python's wording of the type errors a string where a number was meant causes, in igflow's.
_TYPE_ERRORS: Final = (
    (re.compile(r"slice indices must be integers"), "slice indices must be integers"),
    (re.compile(r"has no element slice\("), "slice indices must be integers"),
    (re.compile(r"cannot be interpreted as an integer"), "a whole number is needed here"),
    (
        re.compile(r"'(<|<=|>|>=)' not supported between instances of '(\w+)' and '(\w+)'"),
        "cannot compare {2} with {3} ({1})",
    ),
    (
        re.compile(r"can only concatenate str \(not \"(\w+)\"\) to str"),
        "cannot add {1} to a string",
    ),
    (
        re.compile(r"unsupported operand type\(s\) for ([^:]+): '(\w+)' and '(\w+)'"),
        "cannot apply {1} to {2} and {3}",
    ),
    (
        re.compile(r"list indices must be integers or slices, not (\w+)"),
        "a list index must be a number, not {1}",
    ),
)
_KINDS: Final = {
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "list": "a list",
    "dict": "a mapping",
    "NoneType": "null",
    "bool": "a boolean",
}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\Z")


def type_error_message(
    error: Exception, names: Iterable[str], context: Mapping[str, Any]
) -> str | None:
    """A message for a failure that a number held as text explains, or None.

    When one of the names the template reads holds a string that reads as a number, the
    message says so and gives both fixes: convert it in the template, or pass it typed.
    """
    text = " ".join(str(getattr(error, "message", None) or error).split())
    wording = None
    for pattern, replacement in _TYPE_ERRORS:
        found = pattern.search(text)
        if found is not None:
            groups = [_KINDS.get(group, group) for group in found.groups()]
            wording = replacement.format(found.group(0), *groups)
            break
    if wording is None and not isinstance(error, TypeError):
        return None
    for name in sorted(names):
        value = context.get(name) if name in context else None
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            shown = value if len(value) <= 20 else value[:17] + "..."
            convert = "float" if "." in value else "int"
            return (
                f"{wording or text}: `{name}` is a string ({shown!r}); use `{name} | {convert}`, "
                f"or pass it typed (--var {name}:={value.strip()})"
            )
    return None

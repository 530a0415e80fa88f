"""Assertions: Jinja expressions that must be truthy, and how a failure is shown.

A failure carries the expression and the current value of every name it reads, so the console
can print ``assertion failed: likes == 1`` followed by ``likes = 2``.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from typing import Any, Final

from igflow.errors import AssertionFailed
from igflow.templating import CompiledExpression

__all__ = ["UNDEFINED", "check_assertion", "format_values"]

VALUE_WIDTH: Final = 80


class _UndefinedMarker(str):
    """Stands for a name that is not in the context.

    A ``str`` subclass so that JSON reports can serialize it as ``"<undefined>"``, with a repr
    that prints without quotes so the console shows ``media_id = <undefined>``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<undefined>"


UNDEFINED: Final = _UndefinedMarker("<undefined>")


def check_assertion(expr: CompiledExpression, context: Mapping[str, Any]) -> None:
    """Evaluate ``expr`` against ``context`` and fail unless the result is truthy.

    Args:
        expr: A compiled bare expression, e.g. ``likes == 1``.
        context: Variable names to values.

    Raises:
        AssertionFailed: The result is falsy; ``values`` maps each name the expression reads
            to its current value (``UNDEFINED`` when absent).
        TemplateRenderError: The expression could not be evaluated.
    """
    if expr.evaluate(context):
        return
    values = {name: context.get(name, UNDEFINED) for name in sorted(expr.names)}
    raise AssertionFailed(expr.source, values)


def _short_repr(value: Any, width: int) -> str:
    # reprlib bounds the work on a huge response; the final cut bounds the width. A long string
    # keeps its head only: reprlib's own cut also keeps a tail, which may start inside a secret.
    shortener = reprlib.Repr()
    shortener.maxstring = 4 * width
    shortener.maxother = width
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = 10
    shortener.maxlevel = 3
    text = shortener.repr(value)
    if len(text) > width:
        text = _cut(text, width - 3) + "..."
    return text


# A run of the characters tokens and secrets are made of.
_WORD_END = re.compile(r"[\w.~+/=-]+\Z")
_WORD_START = re.compile(r"[\w.~+/=-]")


def _cut(text: str, limit: int) -> str:
    """``text[:limit]``, without the token-like word the cut may go through.

    The values are redacted after they are cut, and the redactor recognizes a secret only whole:
    half of one left at the end would be shown. A word of letters and digits is left out.
    """
    head = text[:limit]
    if _WORD_START.match(text, limit):
        word = _WORD_END.search(head)
        if word is not None and _token_like(word.group()):
            head = head[: word.start()]
    return head


def _token_like(word: str) -> bool:
    return any(c.isdigit() for c in word) and any(c.isalpha() for c in word)


def format_values(values: Mapping[str, Any], width: int = VALUE_WIDTH) -> str:
    """Render ``name = value`` pairs on one line, e.g. ``likes = 2, media_id = '1667..._3657'``.

    Args:
        values: Names to values, as in ``AssertionFailed.values``.
        width: The longest a single value may print; longer ones end in ``...``.

    Returns:
        The pairs joined by ``", "``, in the mapping's order.
    """
    return ", ".join(f"{name} = {_short_repr(value, width)}" for name, value in values.items())

"""Assertions: Jinja expressions that must be truthy, and how a failure is shown.

A failure carries the expression and the current value of every name it reads, so the console
can print ``assertion failed: likes == 1`` followed by ``likes = 2``.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any, Final

from igflow.errors import AssertionFailed
from igflow.redact import cut_before_redacting
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
        text = cut_before_redacting(text, width - 3) + "..."
    return text


def format_values(values: Mapping[str, Any], width: int = VALUE_WIDTH) -> str:
    """Render ``name = value`` pairs on one line, e.g. ``likes = 2, media_id = '1667..._3657'``.

    Args:
        values: Names to values, as in ``AssertionFailed.values``.
        width: The longest a single value may print; longer ones end in ``...``.

    Returns:
        The pairs joined by ``", "``, in the mapping's order.
    """
    return ", ".join(f"{name} = {_short_repr(value, width)}" for name, value in values.items())

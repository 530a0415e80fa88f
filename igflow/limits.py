"""The bounds on playbook input and on what one template render may build, in one place.

A template comes from the playbook, so a hostile or mistaken one must end with a message, not
exhaust memory or hang: Jinja's sandbox blocks unsafe attributes but only bounds ``range()``.
Each number is far above what a real playbook needs (the examples and benchmarks stay well
inside them) and far below what would hurt: every bound is met within a few seconds and a few
tens of megabytes. docs/language.md ("Limits") lists them for users.
"""

from __future__ import annotations

from typing import Final

# --- playbook input ----------------------------------------------------------------------

# A real playbook is a few kilobytes, a generated one of 6,400 steps about a megabyte. The node
# bounds (loader.MAX_NODES, MAX_ALIAS_NODES) act only after reading and parsing: the file's size
# is checked first.
MAX_PLAYBOOK_BYTES: Final = 4 * 1024 * 1024

# --- one template render -----------------------------------------------------------------

# Characters in one string a template builds (a filter's, an operator's, the text of a
# template). tojson of 30,000 exported media is about 7.5 million; larger exports go through the
# `write` step, which serializes the value itself and has no such bound.
MAX_STRING_LENGTH: Final = 10_000_000
# Characters all the strings built in one render may add up to (`map('center', ...)` builds many
# strings, each within the bound above).
MAX_RENDER_CHARACTERS: Final = 4 * MAX_STRING_LENGTH
# Items in one list, tuple or dict a template builds (`[x] * n`, `a + b`, `batch`, ...).
MAX_ITEMS: Final = 1_000_000
# Items a range() may have (Jinja's sandbox has the same default).
MAX_RANGE: Final = 100_000
# Loop iterations in one render, items visited by filters included: `for` inside `for`
# over range(100000) would be 10 billion. As many as the largest list holds: one pass over it
# fits, and a runaway recursive loop stops in about 3 s on a 2-core VM (at 2,000,000 it took 6
# to 10 s, racing the render's time limit).
MAX_LOOP_ITERATIONS: Final = 1_000_000
# Bits in one integer a template computes (`**`, `*`, the int filter): Instagram's ids have 64.
MAX_INT_BITS: Final = 4096
# Seconds one regular expression may run for (the regex filters and tests).
REGEX_TIMEOUT_SECONDS: Final = 1.0
# Wall-clock seconds one render may take: a net under everything above, for loops whose bodies
# are slow in ways no count sees (`x in long_list` in a loop). Checked every few thousand steps.
MAX_RENDER_SECONDS: Final = 10.0

# The end of every limit message: how to get past it.
HOW_TO_RAISE: Final = "build large data with steps (foreach, write) instead of inside one template"


# --- enforcing them ----------------------------------------------------------------------
#
# The checks live beside the numbers so that every message is worded in one place. They raise
# TemplateRenderError (exit 2), which the template engine passes through unchanged; inside
# Jinja's constant folding (at compile time) any error just leaves the expression unfolded.

import time  # noqa: E402  (kept with the code that uses it)
from contextvars import ContextVar  # noqa: E402
from typing import Any  # noqa: E402

from igflow.errors import TemplateRenderError  # noqa: E402


def _number(value: float) -> str:
    return f"{value:,}"


def limit_error(
    what: str, limit: int | float, scope: str, *, raisable: bool = True
) -> TemplateRenderError:
    """The one message shape: what would have happened, the limit, and how to get past it."""
    message = f"{what} {_number(limit)} {scope}"
    if raisable:
        message += f"; {HOW_TO_RAISE}"
    return TemplateRenderError(message)


def string_too_long() -> TemplateRenderError:
    return limit_error(
        "template would build a string longer than",
        MAX_STRING_LENGTH,
        "characters (the limit for one value)",
    )


def too_many_items() -> TemplateRenderError:
    return limit_error(
        "template would build a list longer than", MAX_ITEMS, "items (the limit for one value)"
    )


def int_too_large() -> TemplateRenderError:
    return limit_error(
        "template would compute an integer of more than",
        MAX_INT_BITS,
        "bits (the limit for one number)",
        raisable=False,
    )


class RenderBudget:
    """What one render has spent: loop iterations (and items visited) and characters built."""

    __slots__ = ("characters", "next_check", "started", "steps")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a render. (One object per thread is reused: renders are many and small.)"""
        self.steps = 0
        self.characters = 0
        # Iterations are counted inline (`steps += 1; if steps > next_check`), so the clock
        # and the limit are looked at only every few thousand of them; the clock starts at the
        # first look (a render that never loops that long never reads it).
        self.started = 0.0
        self.next_check = _CLOCK_EVERY

    def check(self) -> None:
        """Called when ``steps`` passes ``next_check``: the limit, then the clock."""
        if not self.started:
            self.started = time.monotonic()
        if self.steps > MAX_LOOP_ITERATIONS:
            raise limit_error(
                "template ran more than",
                MAX_LOOP_ITERATIONS,
                "loop iterations in one render (the limit for one render)",
            )
        if time.monotonic() - self.started > MAX_RENDER_SECONDS:
            raise limit_error(
                "template took longer than",
                MAX_RENDER_SECONDS,
                "seconds to render (the limit for one render)",
            )
        self.next_check = min(self.steps + _CLOCK_EVERY, MAX_LOOP_ITERATIONS)

    def spend(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.next_check:
            self.check()

    def build(self, characters: int) -> None:
        self.characters += characters
        if self.characters > MAX_RENDER_CHARACTERS:
            raise limit_error(
                "template built more than",
                MAX_RENDER_CHARACTERS,
                "characters in one render (the limit for one render)",
            )


_CLOCK_EVERY: Final = 4096
# The render under way in this thread (None before the first: a filter called directly is
# bounded per value only). Jinja folding constants at compile time counts against the last
# render's budget, which the next render resets.
_BUDGET: ContextVar[RenderBudget | None] = ContextVar("igflow_render_budget", default=None)


def start_render() -> None:
    """Start counting a render in this thread (or task)."""
    budget = _BUDGET.get()
    if budget is None:
        _BUDGET.set(RenderBudget())
    else:
        budget.reset()


def current_budget() -> RenderBudget | None:
    return _BUDGET.get()


def spend(steps: int) -> None:
    """Count ``steps`` loop iterations (or items a filter visits) against the render."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend(steps)


def check_text(text: str) -> str:
    """A string a template built: within the bound for one value, and counted for the render."""
    length = len(text)
    if length > MAX_STRING_LENGTH:
        raise string_too_long()
    if length > 64:  # short strings cannot add up to anything that matters
        budget = _BUDGET.get()
        if budget is not None:
            budget.build(length)
    return text


def check_string_length(length: int) -> None:
    """Refuse, before building it, a string of ``length`` characters."""
    if length > MAX_STRING_LENGTH:
        raise string_too_long()


def check_int(value: int) -> int:
    if value.bit_length() > MAX_INT_BITS:
        raise int_too_large()
    return value


def check_result(value: Any) -> Any:
    """The generic check on what a filter or a call returned."""
    kind = type(value)
    if kind is str:
        return check_text(value)
    if kind is int:
        return check_int(value)
    if kind is bytes and len(value) > MAX_STRING_LENGTH:
        raise string_too_long()
    if kind in (list, tuple, dict, set, frozenset) and len(value) > MAX_ITEMS:
        raise too_many_items()
    return value


class _Over(Exception):
    pass


_NESTING: Final = 200


def text_size(value: Any, limit: int = MAX_STRING_LENGTH) -> int:
    """About how many characters ``str(value)`` or JSON of it takes (at least), computed without
    building it; stops as soon as it is past ``limit`` and returns ``limit + 1`` then.

    A list repeated by reference (``[s] * 1000`` inside ``[...] * 1000``) is small in memory
    but enormous as text; this walk counts each shared part once per mention, remembering the
    size of each container it has measured.
    """
    memo: dict[int, int] = {}
    try:
        return _size(value, limit, memo, 0)
    except _Over:
        return limit + 1


def _size(value: Any, limit: int, memo: dict[int, int], depth: int) -> int:
    kind = type(value)
    if kind is str:
        return len(value) + 2
    if kind is int:
        return int(value.bit_length() * 3 // 10 + 1)
    if kind in (float, bool) or value is None:
        return 4
    if kind in (list, tuple, set, frozenset, dict) or isinstance(value, list | tuple | dict):
        known = memo.get(id(value))
        if known is not None:
            return known
        if depth > _NESTING:
            raise TemplateRenderError(f"template value is nested more than {_NESTING} levels deep")
        total = 2
        if isinstance(value, dict):
            for key, item in value.items():
                total += (
                    _size(key, limit, memo, depth + 1) + _size(item, limit, memo, depth + 1) + 2
                )
                if total > limit:
                    raise _Over
        else:
            for item in value:
                total += _size(item, limit, memo, depth + 1) + 2
                if total > limit:
                    raise _Over
        memo[id(value)] = total
        return total
    if isinstance(value, range):
        return len(value) * 2
    attrs = getattr(value, "_Namespace__attrs", None)  # Jinja's namespace() shows its values
    if isinstance(attrs, dict):
        return _size(attrs, limit, memo, depth + 1)
    return 16

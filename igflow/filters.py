"""The filters (and the tests) igflow adds to Jinja, and the stock helpers it takes away.

Every filter is a plain function, usable and tested without Jinja. Failures raise
:class:`~igflow.errors.TemplateRenderError` with a message that reads well on its own; the
template engine (:mod:`igflow.templating`) passes those through unchanged.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from jinja2 import Undefined

from igflow.errors import TemplateRenderError

__all__ = [
    "FILTERS",
    "REMOVED_FILTERS",
    "REMOVED_GLOBALS",
    "TESTS",
    "difference",
    "epoch_to_iso",
    "flatten",
    "from_epoch",
    "intersect",
    "regex_match",
    "regex_replace",
    "regex_search",
    "subelements",
    "to_json",
    "zip_lists",
]


@functools.lru_cache(maxsize=256)
def _compile_regex(pattern: str, flags: int) -> re.Pattern[str]:
    # Cached so that a filter used inside a loop compiles its pattern once.
    return re.compile(pattern, flags)


def _regex(pattern: Any, ignorecase: bool) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise TemplateRenderError(
            f"regular expression must be a string, not {type(pattern).__name__}"
        )
    try:
        return _compile_regex(pattern, re.IGNORECASE if ignorecase else 0)
    except re.error as exc:
        raise TemplateRenderError(f"invalid regular expression {pattern!r}: {exc}") from exc


def _text(value: Any) -> str:
    # Instagram sends `null` for a missing caption; matching it as "" saves every playbook a guard.
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def regex_search(value: Any, pattern: str, ignorecase: bool = False) -> bool:
    """Tell whether ``pattern`` occurs anywhere in ``value``.

    Registered both as a filter and as a test, so ``selectattr('text', 'regex_search', 'spam')``
    works. ``None`` is searched as the empty string.

    Args:
        value: The text to search; non-strings are converted with ``str()``.
        pattern: A Python regular expression.
        ignorecase: Match without regard to case.

    Returns:
        True when the pattern matches somewhere in the text.

    Raises:
        TemplateRenderError: The pattern is not a valid regular expression.
    """
    return _regex(pattern, ignorecase).search(_text(value)) is not None


def regex_match(value: Any, pattern: str, ignorecase: bool = False) -> bool:
    """Tell whether ``pattern`` matches at the start of ``value`` (filter and test).

    Args:
        value: The text to match; ``None`` is matched as the empty string.
        pattern: A Python regular expression.
        ignorecase: Match without regard to case.

    Returns:
        True when the text starts with a match.

    Raises:
        TemplateRenderError: The pattern is not a valid regular expression.
    """
    return _regex(pattern, ignorecase).match(_text(value)) is not None


def regex_replace(value: Any, pattern: str, repl: str, ignorecase: bool = False) -> str:
    """Replace every match of ``pattern`` in ``value`` with ``repl`` (backreferences allowed).

    Args:
        value: The text to rewrite; ``None`` counts as the empty string.
        pattern: A Python regular expression.
        repl: The replacement text, e.g. ``r"\\1"``.
        ignorecase: Match without regard to case.

    Returns:
        The rewritten text.

    Raises:
        TemplateRenderError: The pattern or the replacement is invalid.
    """
    if not isinstance(repl, str):
        # A callable replacement would let a template run arbitrary code per match.
        raise TemplateRenderError(f"replacement must be a string, not {type(repl).__name__}")
    compiled = _regex(pattern, ignorecase)
    try:
        return compiled.sub(repl, _text(value))
    except re.error as exc:
        raise TemplateRenderError(f"invalid replacement {repl!r}: {exc}") from exc


def _membership(items: Iterable[Any]) -> Callable[[Any], bool]:
    """A fast ``in`` test over ``items`` that still works when items are unhashable (dicts)."""
    pool = list(items)
    try:
        hashed = set(pool)
    except TypeError:
        return pool.__contains__

    def contains(item: Any) -> bool:
        try:
            return item in hashed
        except TypeError:  # an unhashable probe cannot be in a set of hashables
            return False

    return contains


def difference(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    """Items of ``a`` that are not in ``b``, in ``a``'s order (duplicates in ``a`` are kept).

    Args:
        a: The items to keep or drop.
        b: The items to drop.

    Returns:
        A new list.
    """
    contains = _membership(b)
    return [item for item in a if not contains(item)]


def intersect(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    """Items of ``a`` that are also in ``b``, in ``a``'s order (duplicates in ``a`` are kept).

    Args:
        a: The items to keep or drop.
        b: The items to keep.

    Returns:
        A new list.
    """
    contains = _membership(b)
    return [item for item in a if contains(item)]


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise TemplateRenderError(f"{what} needs a list, got {type(value).__name__}")
    return list(value)


def zip_lists(value: Any, *others: Any) -> list[list[Any]]:
    """Pair lists up by position: ``[1, 2] | zip(['a', 'b'])`` is ``[[1, 'a'], [2, 'b']]``.

    Args:
        value: The first list.
        *others: The other lists; the result is as long as the shortest.

    Returns:
        A list of lists, one per position.

    Raises:
        TemplateRenderError: One of the values is not a list.
    """
    lists = [_as_list(value, "zip"), *(_as_list(other, "zip") for other in others)]
    return [list(group) for group in zip(*lists, strict=False)]


def flatten(value: Any) -> list[Any]:
    """Flatten one level: ``[[1, 2], [3], 4]`` becomes ``[1, 2, 3, 4]``; ``null`` entries go.

    Lists a loop extracted per item (one list per item, ``null`` for skipped items) become one
    list this way.

    Args:
        value: A list whose entries may be lists.

    Returns:
        The flattened list.

    Raises:
        TemplateRenderError: The value is not a list.
    """
    flat: list[Any] = []
    for entry in _as_list(value, "flatten"):
        if entry is None:
            continue
        if isinstance(entry, list | tuple):
            flat.extend(entry)
        else:
            flat.append(entry)
    return flat


def _lookup(value: Any, key: str) -> Any:
    # Dotted keys and integer positions, as Jinja's attribute lookups in selectattr/map.
    for part in key.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list | tuple) and part.lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
    return value


def subelements(value: Any, key: str) -> list[list[Any]]:
    """``[[parent, child], ...]`` for each child in each parent's ``key`` (as Ansible's filter).

    ``key`` may be dotted (``extracted.comments``) or a position (``1``). Parents whose ``key``
    is missing or null contribute nothing.

    Args:
        value: A list of parents (mappings or lists).
        key: Where each parent keeps its children.

    Returns:
        One ``[parent, child]`` pair per child, in order.

    Raises:
        TemplateRenderError: The value is not a list, or a parent's ``key`` is not a list.
    """
    if not isinstance(key, str | int):
        raise TemplateRenderError(f"subelements key must be text, not {type(key).__name__}")
    pairs: list[list[Any]] = []
    for parent in _as_list(value, "subelements"):
        children = _lookup(parent, str(key))
        if children is None:
            continue
        if not isinstance(children, list | tuple):
            raise TemplateRenderError(
                f"subelements: {key!r} of an entry is a {type(children).__name__}, not a list"
            )
        pairs.extend([parent, child] for child in children)
    return pairs


def from_epoch(value: Any) -> dt.datetime:
    """Turn epoch seconds (an int, a float or a digit string, as v1 sends) into a UTC datetime.

    Args:
        value: Seconds since 1970-01-01 UTC; an aware datetime is converted to UTC.

    Returns:
        A timezone-aware datetime in UTC.

    Raises:
        TemplateRenderError: The value is not an epoch timestamp.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TemplateRenderError("from_epoch: naive datetime has no timezone")
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TemplateRenderError(f"from_epoch: {value!r} is not an epoch timestamp")
    try:
        seconds = float(value) if isinstance(value, str) else value
        return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    except (ValueError, OverflowError, OSError) as exc:
        raise TemplateRenderError(f"from_epoch: {value!r} is not an epoch timestamp") from exc


def epoch_to_iso(value: Any) -> str:
    """Format epoch seconds as ISO 8601 in UTC, e.g. ``"2017-12-11T01:39:35Z"``.

    Args:
        value: Anything :func:`from_epoch` accepts.

    Returns:
        The timestamp to the second, with a ``Z`` suffix.

    Raises:
        TemplateRenderError: The value is not an epoch timestamp.
    """
    return from_epoch(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value: Any, indent: int | None = None) -> str:
    """Serialize ``value`` as JSON, without the HTML escaping of Jinja's own ``tojson``.

    Args:
        value: JSON-like data; datetimes become ISO 8601 strings.
        indent: Pretty-print with this many spaces per level.

    Returns:
        The JSON text.
    """
    return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    "regex_search": regex_search,
    "regex_match": regex_match,
    "regex_replace": regex_replace,
    "zip": zip_lists,
    "flatten": flatten,
    "subelements": subelements,
    "difference": difference,
    "intersect": intersect,
    "from_epoch": from_epoch,
    "epoch_to_iso": epoch_to_iso,
    "to_json": to_json,
}
TESTS: Final[Mapping[str, Callable[..., Any]]] = {
    "regex_search": regex_search,
    "regex_match": regex_match,
}
# Playbooks must run the same way every time, so nondeterministic helpers are removed.
REMOVED_FILTERS: Final = ("random",)
REMOVED_GLOBALS: Final = ("lipsum",)

"""The filters (and the tests) igflow adds to Jinja, and the stock helpers it takes away.

Every filter is a plain function, usable and tested without Jinja. Failures raise
:class:`~igflow.errors.TemplateRenderError` with a message that reads well on its own; the
template engine (:mod:`igflow.templating`) passes those through unchanged.

Length: over 400 lines because it is a catalogue: some forty small filters and tests, each a
few lines with its docstring, plus the bounds that keep stock Jinja filters from building huge
values. Nothing in it depends on anything else in it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from jinja2 import Undefined

from igflow import limits
from igflow.errors import TemplateRenderError

__all__ = [
    "FILTERS",
    "REGEX_FILTERS",
    "REMOVED_FILTERS",
    "REMOVED_GLOBALS",
    "TESTS",
    "difference",
    "epoch_to_iso",
    "flatten",
    "from_epoch",
    "intersect",
    "regex_error",
    "regex_escape",
    "regex_match",
    "regex_replace",
    "regex_search",
    "subelements",
    "to_json",
    "zip_lists",
]


def _engine() -> Any:
    # `regex`, not `re`: a match in `re` cannot be interrupted, so `(a+)+$` against forty a's
    # and a "!" would hang the run; `regex` takes a timeout. Imported on first use only.
    import regex

    return regex


@functools.lru_cache(maxsize=256)
def _compile_regex(pattern: str, flags: int) -> Any:
    # Cached so that a filter used inside a loop compiles its pattern once. VERSION0 is the
    # module's `re`-compatible dialect.
    engine = _engine()
    return engine.compile(pattern, flags | engine.VERSION0)


def _regex(pattern: Any, ignorecase: bool) -> Any:
    if not isinstance(pattern, str):
        raise TemplateRenderError(
            f"regular expression must be a string, not {type(pattern).__name__}"
        )
    engine = _engine()
    try:
        return _compile_regex(pattern, engine.IGNORECASE if ignorecase else 0)
    except engine.error as exc:
        raise TemplateRenderError(f"invalid regular expression {pattern!r}: {exc}") from exc


def regex_error(pattern: str, ignorecase: bool = False) -> str | None:
    """Why ``pattern`` is not a regular expression the regex filters accept, or None (for the
    check, which reports a literal pattern before the run)."""
    try:
        _regex(pattern, ignorecase)
    except TemplateRenderError as exc:
        return exc.message
    return None


def regex_escape(value: Any) -> str:
    """``value`` with every regex metacharacter escaped, to match it literally (as Ansible's).

    ``caption | regex_search(word | regex_escape)`` finds ``word`` even when it holds ``.``,
    ``+`` or ``(``. ``None`` is escaped as the empty string.

    Args:
        value: The text to escape; non-strings are converted with ``str()``.

    Returns:
        A pattern that matches exactly ``value``.
    """
    return re.escape(_text(value))


def _timed_out(pattern: Any, text: str) -> TemplateRenderError:
    shown = pattern.pattern if len(pattern.pattern) <= 60 else pattern.pattern[:57] + "..."
    return TemplateRenderError(
        f"regular expression {shown!r} ran longer than {limits.REGEX_TIMEOUT_SECONDS:g} second "
        f"on a text of {len(text):,} characters (the limit for one match); "
        "simplify the pattern (nested repeats such as (a+)+ can take forever)"
    )


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
    compiled, text = _regex(pattern, ignorecase), _text(value)
    try:
        return compiled.search(text, timeout=limits.REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        raise _timed_out(compiled, text) from None


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
    compiled, text = _regex(pattern, ignorecase), _text(value)
    try:
        return compiled.match(text, timeout=limits.REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        raise _timed_out(compiled, text) from None


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
    compiled, text = _regex(pattern, ignorecase), _text(value)
    timeout = limits.REGEX_TIMEOUT_SECONDS
    try:
        # Each match adds at most the replacement and its group references (each no longer than
        # the text); when that could pass the bound, the matches are expanded and counted.
        most = len(text) + (len(text) + 1) * (len(repl) + repl.count("\\") * len(text))
        if most <= limits.MAX_STRING_LENGTH:
            return limits.check_text(compiled.sub(repl, text, timeout=timeout))
        return limits.check_text(compiled.sub(_counting(repl, len(text)), text, timeout=timeout))
    except TimeoutError:
        raise _timed_out(compiled, text) from None
    except _engine().error as exc:
        raise TemplateRenderError(f"invalid replacement {repl!r}: {exc}") from exc


def _counting(template: str, length: int) -> Callable[[Any], str]:
    """A replacement function that expands ``template`` per match and stops the substitution
    once the result would be longer than the bound."""
    grown = [length]

    def expand(match: Any) -> str:
        expanded: str = match.expand(template)
        grown[0] += len(expanded) - (match.end() - match.start())
        limits.check_string_length(grown[0])
        return expanded

    return expand


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


def json_default(value: Any) -> Any:
    """What ``tojson`` and ``to_json`` write for a value JSON has no type for."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Mapping):  # a loop's result entries (igflow.results.ItemResult)
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value: Any, indent: int | None = None) -> str:
    """Serialize ``value`` as JSON, without the HTML escaping of Jinja's own ``tojson``.

    Args:
        value: JSON-like data; datetimes become ISO 8601 strings.
        indent: Pretty-print with this many spaces per level.

    Returns:
        The JSON text.
    """
    _check_text_size(value)
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=json_default)
    return limits.check_text(text)


# --------------------------------------------------------------------------- bounds
#
# Jinja's own filters, and the operators that build strings and lists (`~`, `+`, `%`: the
# template engine rewrites them into the filters below, so that the compiled code and the
# interpreter in igflow.templating both go through them), are bounded here: what can only grow
# by a small factor is checked after it is built; what a parameter can make enormous
# (`center(300000000)`, `'%300000000s' % x`, `join` of a huge list) is refused before.


def _check_text_size(value: Any) -> None:
    """Refuse to turn into text a value whose text would pass the bound for one string."""
    if type(value) is not str and limits.text_size(value) > limits.MAX_STRING_LENGTH:
        raise limits.string_too_long()


def _as_text(value: Any) -> str:
    if type(value) is str:
        return value
    _check_text_size(value)
    return str(value)


def concat_values(first: Any, *rest: Any) -> str:
    """``a ~ b ~ c``: each part as text, joined, within the bound for one string."""
    parts = [_as_text(first), *(_as_text(part) for part in rest)]
    limits.check_string_length(sum(map(len, parts)))
    return limits.check_text("".join(parts))


def add_values(left: Any, right: Any) -> Any:
    """``a + b``, with strings and lists kept within their bounds before they are built."""
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        total = len(left) + len(right)
        if isinstance(left, str):
            limits.check_string_length(total)
        elif total > limits.MAX_ITEMS:
            raise limits.too_many_items()
    return limits.check_result(left + right)


# `%[(name)][flags][width][.precision][length]type`, as printf-style formatting reads it.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.?)", re.DOTALL)


def check_printf(template: str, values: Any) -> None:
    """Refuse ``template % values`` when a width, a precision or a value would make the text
    longer than the bound: Python would build it whole before anything could look at it."""
    if "%" not in template:
        return
    positional = values if isinstance(values, tuple) else (values,)
    index = 0
    total = len(template)
    for match in _PRINTF.finditer(template):
        width_text, precision_text, kind = match.groups()
        if kind == "%":
            continue
        numbers = []
        for text in (width_text, precision_text):
            if text == "*":
                star = positional[index] if index < len(positional) else 0
                index += 1
                numbers.append(abs(star) if isinstance(star, int) else 0)
            elif text:
                numbers.append(int(text) if len(text) < 10 else limits.MAX_STRING_LENGTH + 1)
        value = positional[index] if index < len(positional) else None
        index += 1
        size = limits.text_size(value) if kind in ("s", "r", "a") else 0
        total += max(size, *numbers, 0)
        limits.check_string_length(total)


def mod_values(left: Any, right: Any) -> Any:
    """``a % b``: modulo, or printf-style formatting kept within the bound."""
    if isinstance(left, str):
        check_printf(left, right)
    return limits.check_result(left % right)


def _value_index(func: Callable[..., Any]) -> int:
    # Filters marked @pass_context (and its kin) take Jinja's object first, the value second.
    return 1 if getattr(func, "jinja_pass_arg", None) is not None else 0


def guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` as a bounded filter: each list it is given counts its items against the
    render's loop budget (``map``, ``sum``, ``sort`` visit every item), and what it returns is
    checked (strings, lists, integers). Jinja's marks (``jinja_pass_arg``) are kept."""
    at = _value_index(func)

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if len(args) > at:
            value = args[at]
            if type(value) in (list, tuple, dict, range):
                limits.spend(len(value))
        return limits.check_result(func(*args, **kwargs))

    return guarded


def _arg(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any
) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _width(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _pre_center(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    limits.check_string_length(_width(_arg(args, kwargs, 1, "width", 80)))


def _pre_indent(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    text, width = _arg(args, kwargs, 0, "s", ""), _arg(args, kwargs, 1, "width", 4)
    step = len(width) if isinstance(width, str) else _width(width)
    limits.check_string_length(step)
    lines = text.count("\n") + 1 if isinstance(text, str) else 1
    limits.check_string_length(len(_as_text(text)) + lines * step)


def _pre_format(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if args:
        check_printf(_as_text(args[0]), dict(kwargs) if kwargs else tuple(args[1:]))


def _pre_join(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    # (eval_ctx, value, d, attribute): the items are listed once, measured, then joined.
    items = args[1] if len(args) > 1 else kwargs.get("value", ())
    separator = _arg(args, kwargs, 2, "d", "")
    if isinstance(items, Undefined) or not isinstance(items, Iterable):
        return args
    listed = list(items)
    limits.spend(len(listed))
    if _arg(args, kwargs, 3, "attribute", None) is None:
        total = len(separator) * max(len(listed) - 1, 0) if isinstance(separator, str) else 0
        for item in listed:
            total += len(item) if type(item) is str else limits.text_size(item)
            limits.check_string_length(total)
    return (args[0], listed, *args[2:]) if len(args) > 1 else args


def _pre_replace(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    # (eval_ctx, s, old, new, count)
    text = _as_text(_arg(args, kwargs, 1, "s", ""))
    old, new = _arg(args, kwargs, 2, "old", ""), _arg(args, kwargs, 3, "new", "")
    check_replace(text, old, new, _arg(args, kwargs, 4, "count", None))


def check_replace(text: str, old: Any, new: Any, count: Any) -> None:
    """Refuse ``text.replace(old, new, count)`` when the result would pass the bound."""
    if not isinstance(old, str) or not isinstance(new, str) or len(new) <= len(old):
        return
    found = text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    limits.check_string_length(len(text) + found * (len(new) - len(old)))


def _pre_wordwrap(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    # (environment, s, width, break_long_words, wrapstring, ...): every line can be one
    # character long, and each gets a wrapstring.
    text = _as_text(_arg(args, kwargs, 1, "s", ""))
    wrap = _arg(args, kwargs, 4, "wrapstring", None)
    if isinstance(wrap, str) and len(wrap) > 1:
        limits.check_string_length(len(text) + (len(text) + 1) * len(wrap))


def _pre_serialize(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    # tojson (eval_ctx, value, indent) and pprint (value): the value's text is measured first.
    value = args[1] if len(args) > 1 else _arg(args, kwargs, 0, "value", None)
    _check_text_size(value)


def _pre_pprint(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _check_text_size(_arg(args, kwargs, 0, "value", None))


def _pre_string(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if args:
        _check_text_size(args[0])


def _pre_count(index: int, name: str) -> Callable[[tuple[Any, ...], Mapping[str, Any]], None]:
    def check(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        count = _arg(args, kwargs, index, name, 0)
        if isinstance(count, int) and count > limits.MAX_ITEMS:
            raise limits.too_many_items()

    return check


def _pre_round(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    # round(5, -10**9) computes 10**(10**9); ceil and floor multiply by 10**precision.
    precision = _arg(args, kwargs, 1, "precision", 0)
    if isinstance(precision, int) and abs(precision) > _MAX_ROUND_DIGITS:
        raise TemplateRenderError(
            f"round: a precision of more than {_MAX_ROUND_DIGITS:,} digits (the limit for one "
            "number)"
        )


_MAX_ROUND_DIGITS: Final = 1000

_Check = Callable[[tuple[Any, ...], Mapping[str, Any]], Any]
# The stock filters a parameter can make enormous, and what is checked before each runs.
_PRECHECKS: Final[Mapping[str, _Check]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "format": _pre_format,
    "join": _pre_join,
    "replace": _pre_replace,
    "wordwrap": _pre_wordwrap,
    "tojson": _pre_serialize,
    "pprint": _pre_pprint,
    "string": _pre_string,
    "urlencode": _pre_pprint,
    "batch": _pre_count(1, "linecount"),
    "slice": _pre_count(1, "slices"),
    "round": _pre_round,
}


def guard_stock(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A stock Jinja filter, bounded: its pre-check (if it has one), then :func:`guard`."""
    checked = guard(func)
    precheck = _PRECHECKS.get(name)
    if precheck is None:
        return checked

    @functools.wraps(func)
    def prechecked(*args: Any, **kwargs: Any) -> Any:
        replaced = precheck(args, kwargs)
        return checked(*(replaced if isinstance(replaced, tuple) else args), **kwargs)

    return prechecked


# Internal filters the engine rewrites operators into. The names cannot be written in a
# template (they are not identifiers), so only the rewrite reaches them.
CONCAT_FILTER: Final = "igflow ~"
ADD_FILTER: Final = "igflow +"
MOD_FILTER: Final = "igflow %"
OPERATOR_FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    CONCAT_FILTER: concat_values,
    ADD_FILTER: add_values,
    MOD_FILTER: mod_values,
}


FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    "regex_escape": regex_escape,
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
# The filters and tests whose first argument is a regular expression.
REGEX_FILTERS: Final = frozenset({"regex_search", "regex_match", "regex_replace"})
# Playbooks must run the same way every time, so nondeterministic helpers are removed.
REMOVED_FILTERS: Final = ("random",)
REMOVED_GLOBALS: Final = ("lipsum",)

"""igflow's Jinja environment: the stock immutable sandbox, bounded by igflow.limits.

`"a" * 10**9` or `9 ** 9 ** 9` would exhaust memory or hang; the stock sandbox only caps
`range()`. Intercepting these operators also stops Jinja from constant-folding them at compile
time, which would otherwise hang `igflow check`. The bounds are in igflow.limits; the filters and
tests igflow adds are in igflow.filters. :mod:`igflow.templating` compiles and renders with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, cast

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import Markup

from igflow import limits
from igflow.envvars import EnvironmentVariables
from igflow.filters import (
    ADD_FILTER,
    CONCAT_FILTER,
    FILTERS,
    MOD_FILTER,
    OPERATOR_FILTERS,
    REMOVED_FILTERS,
    REMOVED_GLOBALS,
    TESTS,
    check_replace,
    guard,
    guard_stock,
    json_default,
)

__all__ = ["Sandbox", "bound_node", "bound_tree", "check_defined", "make_environment"]


def _check_repeat(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int) and count > 1:
            if isinstance(seq, str):
                limits.check_string_length(len(seq) * count)
                return
            if len(seq) * count > limits.MAX_ITEMS:
                raise limits.too_many_items()
            # `[s] * n` shares s n times: small in memory, enormous once walked or printed.
            if limits.text_size(seq, limits.MAX_STRING_LENGTH // count) * count > (
                limits.MAX_STRING_LENGTH
            ):
                raise limits.too_many_items()
            return


def _check_multiply(left: Any, right: Any) -> None:
    if type(left) is int and type(right) is int:
        if left.bit_length() + right.bit_length() > limits.MAX_INT_BITS + 1:
            raise limits.int_too_large()
    else:
        _check_repeat(left, right)


def _check_power(base: Any, exponent: Any) -> None:
    integers = isinstance(base, int) and isinstance(exponent, int)
    # |base| ** exponent has at least exponent * (bits - 1) + 1 bits.
    if (
        integers
        and abs(base) > 1
        and exponent > 0
        and (
            exponent > limits.MAX_INT_BITS
            or exponent * (abs(base).bit_length() - 1) >= limits.MAX_INT_BITS
        )
    ):
        raise limits.int_too_large()


def _range(*args: Any) -> range:
    """range(), within the bound (a for loop over it also counts against the render)."""
    made = range(*args)
    if len(made) > limits.MAX_RANGE:
        raise limits.limit_error(
            "range() of more than",
            limits.MAX_RANGE,
            "items (the limit for one range)",
        )
    return made


def _bounded_concat(pieces: Iterable[str]) -> str:
    """Jinja's ``concat`` (a template's text, a ``{% set %}`` block's, a macro's), bounded."""
    listed = pieces if type(pieces) is list else list(pieces)
    limits.check_string_length(sum(map(len, listed)))
    return limits.check_text("".join(listed))


def _counted(iterable: Any) -> Iterator[Any]:
    """A for loop's items, each counted against the render's loop budget."""
    budget = limits.current_budget()
    if budget is None:  # not in a render (constant folding): nothing to count against
        yield from iterable
        return
    for item in iterable:
        budget.steps += 1
        if budget.steps > budget.next_check:
            budget.check()
        yield item


_LOOP_FILTER: Final = "igflow for"

# String methods a parameter can make enormous, and how long their result would be.
_WIDTH_METHODS: Final = frozenset({"center", "ljust", "rjust", "zfill"})


def _check_method(
    owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Refuse a call of a string method whose result would pass the bound; the arguments to
    call it with (an iterable given to ``join`` is listed once, to be measured)."""
    if name in _WIDTH_METHODS:
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int):
            limits.check_string_length(width)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            limits.check_string_length(
                len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * size
            )
    elif name == "replace" and isinstance(owner, str) and len(args) >= 2:
        check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"))
    elif name == "join" and args:
        items = list(args[0]) if isinstance(args[0], Iterable) else []
        limits.spend(len(items))
        total = len(owner) * max(len(items) - 1, 0)
        for item in items:
            total += len(item) if isinstance(item, str | bytes) else 0
        limits.check_string_length(total)
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str | bytes)), default=1)
        limits.check_string_length(len(owner) * max(longest, 1))
    elif name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int):
            limits.check_string_length(length)
    return args


class _BoundedFormatter(SandboxedFormatter):
    """str.format with each field's width, precision and value's text kept within the bound."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None and _too_long_as_text(value):
            raise limits.string_too_long()
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        for number in _SPEC_NUMBERS.findall(format_spec):
            if len(number) > 9 or int(number) > limits.MAX_STRING_LENGTH:
                raise limits.string_too_long()
        if not format_spec and _too_long_as_text(value):
            raise limits.string_too_long()
        return limits.check_text(super().format_field(value, format_spec))


def _too_long_as_text(value: Any) -> bool:
    return type(value) is not str and limits.text_size(value) > limits.MAX_STRING_LENGTH


# Width and precision in a format spec (`>300000000`, `.5f`, `0=10,`): every run of digits.
_SPEC_NUMBERS: Final = re.compile(r"\d+")


# The public attributes of jinja2.runtime.LoopContext (read-only properties and two methods).
_LOOP_ATTRIBUTES: Final = frozenset(
    {
        "changed",
        "cycle",
        "depth",
        "depth0",
        "first",
        "index",
        "index0",
        "last",
        "length",
        "nextitem",
        "previtem",
        "revindex",
        "revindex0",
    }
)


class Sandbox(ImmutableSandboxedEnvironment):
    """The stock immutable sandbox, plus the bounds of igflow.limits on what a render builds."""

    intercepted_binops = frozenset({"*", "**"})
    concat = staticmethod(_bounded_concat)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_multiply(left, right)
        elif operator == "**":
            _check_power(left, right)
        return limits.check_result(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `loop.index`, `loop.depth`...: Jinja's own loop object, whose public attributes are
        # all safe, so the sandbox's checks (about 12 µs an access on this VM, most of a
        # loop's cost) are skipped for them.
        if type(obj) is LoopContext and attribute in _LOOP_ATTRIBUTES:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes | int) and not isinstance(owner, bool):
            args = _check_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return limits.check_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None or isinstance(value.__self__, Markup):
            return wrapped  # igflow never autoescapes; Markup keeps Jinja's own formatter
        template: str = value.__self__
        vformat = _BoundedFormatter(self).vformat
        is_format_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    return wrapped(*args, **kwargs)  # Jinja words the TypeError
                kwargs, args = args[0], ()
            return limits.check_text(str(vformat(template, args, kwargs)))

        return bounded


def check_defined(value: Any) -> None:
    """Fail on an Undefined at the top level of ``value``.

    The sandbox hands back a blocked attribute as an Undefined instead of raising, so a value is
    only trustworthy once this has passed. Only the top level is scanned: walking a whole API
    response on every render would cost more than it protects.
    """
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, Undefined):
                item._fail_with_undefined_error()
    elif isinstance(value, dict):
        for key, item in value.items():
            for part in (key, item):
                if isinstance(part, Undefined):
                    part._fail_with_undefined_error()


class _Undefined(StrictUndefined):
    """StrictUndefined, with a message that names a missing environment variable plainly."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if isinstance(self._undefined_obj, EnvironmentVariables) and not self._undefined_hint:
            return f"environment variable {self._undefined_name} is not set"
        return str(super()._undefined_message)


def _finalize(value: Any) -> Any:
    # Without this, "{{ [x.__class__] }}" in a string template would quietly print "[Undefined]".
    check_defined(value)
    if type(value) in _CONTAINERS and limits.text_size(value) > limits.MAX_STRING_LENGTH:
        raise limits.string_too_long()  # a list shared many times over, about to become text
    return value


_CONTAINERS: Final = frozenset({list, tuple, dict, set, frozenset})


def _now() -> int:
    """``now()``: the current Unix time in whole seconds (e.g. Graph's ``since``/``until``)."""
    import time

    return int(time.time())


def make_environment() -> Sandbox:
    env = Sandbox(undefined=_Undefined, autoescape=False, finalize=_finalize)
    env.filters.update(_bounded_filters(env.filters))
    env.tests.update(TESTS)
    env.globals["range"] = _range
    # Jinja's own tojson: datetimes and a loop's result entries as to_json writes them.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": json_default}
    env.globals["now"] = _now
    for name in REMOVED_FILTERS:
        env.filters.pop(name, None)
    for name in REMOVED_GLOBALS:
        env.globals.pop(name, None)
    return env


_BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {}


def _bounded_filters(stock: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter, bounded (made once: wrapping them all costs more than a small run)."""
    if not _BOUNDED_FILTERS:
        bounded = {name: guard_stock(name, func) for name, func in stock.items()}
        bounded.update((name, guard(func)) for name, func in FILTERS.items())
        bounded.update(OPERATOR_FILTERS)
        bounded[_LOOP_FILTER] = _counted
        _BOUNDED_FILTERS.update(bounded)
    return _BOUNDED_FILTERS


# Operators that build strings or lists, rewritten into bounded filters (igflow.filters) so that
# Jinja's compiled code and the interpreter below both go through the bounds.
_OPERATOR_FILTERS: Final[dict[type[nodes.Node], str]] = {
    nodes.Add: ADD_FILTER,
    nodes.Mod: MOD_FILTER,
}


def bound_tree(node: nodes.Node, recursive_loop: bool = False) -> nodes.Node:
    """Rewrite, in place, the parts of a parsed tree that need a bound at run time: ``~``,
    ``+`` and ``%`` become filter calls, and each for loop counts its iterations (nesting is
    bounded by MAX_NESTING, so recursion is fine)."""
    for field in node.fields:
        value = getattr(node, field, None)
        if isinstance(value, nodes.Node):
            setattr(node, field, bound_node(value, recursive_loop))
        elif isinstance(value, list):
            value[:] = [
                bound_node(item, recursive_loop) if isinstance(item, nodes.Node) else item
                for item in value
            ]
    return node


def bound_node(node: nodes.Node, recursive_loop: bool) -> nodes.Node:
    at = {"lineno": node.lineno}
    if isinstance(node, nodes.For):
        bound_tree(node, recursive_loop or node.recursive)
        node.iter = nodes.Filter(node.iter, _LOOP_FILTER, [], [], None, None, **at)
        return node
    bound_tree(node, recursive_loop)
    if isinstance(node, nodes.Concat) and node.nodes:
        first, *rest = node.nodes
        return nodes.Filter(first, CONCAT_FILTER, rest, [], None, None, **at)
    name = _OPERATOR_FILTERS.get(type(node))
    if name is not None:
        binary = cast(nodes.BinExpr, node)
        return nodes.Filter(binary.left, name, [binary.right], [], None, None, **at)
    if (
        recursive_loop
        and isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "loop"
        and node.args
    ):
        # `loop(children)` in a recursive loop iterates its argument in Jinja's own code.
        node.args[0] = nodes.Filter(node.args[0], _LOOP_FILTER, [], [], None, None, **at)
    return node

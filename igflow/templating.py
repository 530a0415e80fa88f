"""Sandboxed Jinja2 templating: compile once at plan time, render many times at run time.

Two kinds of source text reach this module (DESIGN.md §7, "Expressions vs templates"):

* **Expressions** (``when``, ``assert``, ``set``): bare Jinja expressions such as
  ``likes == 1``. :meth:`TemplateEngine.compile_expression` turns one into a
  :class:`CompiledExpression`.
* **Values** (``with``, ``vars``, ``log``, ...): arbitrary YAML data whose strings may hold
  templates. :meth:`TemplateEngine.compile_value` turns one into a :class:`CompiledValue`.

The whole-value rule: a string that is exactly one ``{{ expr }}`` (whitespace around it is
allowed) keeps the native type of ``expr``; any other templated string renders to ``str``.
``NativeEnvironment`` is deliberately not used: its ``literal_eval`` step turns an id string such
as ``"1667121369441597934_3657782666"`` into an int.

Every failure while evaluating becomes a one-line :class:`~igflow.errors.TemplateRenderError`;
syntax errors become :class:`~igflow.errors.TemplateSyntaxError` at compile time. The filters
igflow adds live in :mod:`igflow.filters` (re-exported here).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, cast

from jinja2 import StrictUndefined, Undefined, meta, nodes
from jinja2 import exceptions as jinja_errors
from jinja2.environment import Environment, Template, TemplateExpression
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import Markup

from igflow import limits
from igflow.envvars import EnvironmentVariables  # re-exported: the `env` namespace lives there
from igflow.errors import IgflowError, TemplateRenderError, TemplateSyntaxError
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
)

__all__ = [
    "CompiledExpression",
    "CompiledValue",
    "EnvironmentVariables",
    "TemplateEngine",
]

# `"a" * 10**9` or `9 ** 9 ** 9` would exhaust memory or hang; the stock sandbox only caps
# `range()`. Intercepting these operators also stops Jinja from constant-folding them at
# compile time, which would otherwise hang `igflow check`. The bounds are in igflow.limits.
# Jinja parses, generates code and evaluates recursively, and Python refuses to compile code
# nested about 200 deep: a deeper template would fail with RecursionError or SyntaxError, not
# with a message. Real expressions nest a few levels.
MAX_NESTING: Final = 50

_SNIPPET_LENGTH: Final = 60
_WHOLE_VALUE = re.compile(r"\A\s*\{\{[-+]?(.*?)[-+]?\}\}\s*\Z", re.DOTALL)
_TEMPLATE_MARKERS: Final = ("{{", "{%", "{#")

# The commonest shapes by far (`{{ name }}`, `likes == 3`, `likers | length == likes`,
# `media.id`, `pair[0]`) are built as Jinja's parser would build them, without running it:
# Jinja's lexer and parser cost about 0.1 ms an expression, which a playbook of hundreds of steps
# pays hundreds of times before its first request. The grammar taken here is
#     expression := operand [compare-op (operand | integer)]
#     operand    := name ("." name | "[" integer "]")* ("|" name)*
# with ASCII names and plain decimal integers; anything else gets Jinja's parser.
# tests/unit/test_templating_quick_parse.py checks the trees are the parser's own.
_QUICK_TOKEN = re.compile(
    r"[ \t]*(?:([A-Za-z_][A-Za-z0-9_]*)|(0|[1-9][0-9]{0,14})(?![0-9A-Za-z_.])"
    r"|(==|!=|<=|>=|<|>)|([.|\[\]]))"
)
_NAME_TOKEN, _INT_TOKEN, _COMPARE_TOKEN, _PUNCT_TOKEN = 1, 2, 3, 4
_COMPARE_OPS: Final = {"==": "eq", "!=": "ne", "<": "lt", "<=": "lteq", ">": "gt", ">=": "gteq"}
# Words the parser reads as literals or operators, never as names.
_NOT_NAMES: Final = frozenset(
    {"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else"}
)


# An operand's attributes, indices and filters together stay well inside MAX_NESTING.
_QUICK_MAX_CHAIN: Final = 40


def _quick_parse(source: str, environment: Environment | None = None) -> nodes.Expr | None:
    """The tree of an expression in the quick grammar above (Jinja's parser's own); None for
    anything else. Its nodes carry ``environment`` (as ``set_environment`` would give them)."""
    return _QuickParse(environment, read_variables=False).parse(source)


class _QuickParse:
    """One parse in the quick grammar, noting the variables read and the filters called.

    With ``read_variables``, each variable is built as the interpreter reads it (a lookup in
    ``_VARIABLES``, see ``_read_names``) instead of as a ``Name``, so the tree needs no second
    pass before it is evaluated.
    """

    __slots__ = ("at", "bare", "filters", "names", "read_variables")

    def __init__(self, environment: Environment | None, *, read_variables: bool) -> None:
        self.at: dict[str, Any] = {"lineno": 1, "environment": environment}
        self.read_variables = read_variables
        self.names: list[str] = []
        self.filters: list[str] = []
        self.bare = False  # the expression is one name and nothing else

    def parse(self, source: str) -> nodes.Expr | None:
        at = self.at
        tokens: list[tuple[int, str]] = []
        position = 0
        while (match := _QUICK_TOKEN.match(source, position)) is not None:
            kind = match.lastindex or 0
            tokens.append((kind, match.group(kind)))
            position = match.end()
        if source[position:].strip(" \t") or not tokens:
            return None
        parsed = self.operand(tokens, 0)
        if parsed is None:
            return None
        left, index = parsed
        if index == len(tokens):
            self.bare = index == 1
            return left
        kind, op = tokens[index]
        if kind != _COMPARE_TOKEN or index + 1 == len(tokens):
            return None
        right: nodes.Expr
        kind, text = tokens[index + 1]
        if kind == _INT_TOKEN:
            right, index = nodes.Const(int(text), **at), index + 2
        else:
            parsed = self.operand(tokens, index + 1)
            if parsed is None:
                return None
            right, index = parsed
        if index != len(tokens):
            return None  # `a < b < c`, trailing tokens: the parser's business
        return nodes.Compare(left, [nodes.Operand(_COMPARE_OPS[op], right, **at)], **at)

    def operand(self, tokens: list[tuple[int, str]], index: int) -> tuple[nodes.Expr, int] | None:
        """``name ("." name | "[" integer "]")* ("|" name)*`` from ``tokens[index]`` on."""
        at = self.at
        kind, text = tokens[index]
        if kind != _NAME_TOKEN or text in _NOT_NAMES:
            return None
        node = self.variable(text)
        start = index = index + 1
        count = len(tokens)
        while index < count and tokens[index][1] in (".", "["):
            if tokens[index][1] == ".":
                if index + 1 == count or tokens[index + 1][0] != _NAME_TOKEN:
                    return None
                node = nodes.Getattr(node, tokens[index + 1][1], "load", **at)
                index += 2
            else:
                if (
                    index + 2 >= count
                    or tokens[index + 1][0] != _INT_TOKEN
                    or tokens[index + 2][1] != "]"
                ):
                    return None
                arg = nodes.Const(int(tokens[index + 1][1]), **at)
                node = nodes.Getitem(node, arg, "load", **at)
                index += 3
        while index < count and tokens[index][1] == "|":
            if index + 1 == count or tokens[index + 1][0] != _NAME_TOKEN:
                return None
            self.filters.append(tokens[index + 1][1])
            node = nodes.Filter(node, tokens[index + 1][1], [], [], None, None, **at)
            index += 2
        if index < count and tokens[index][0] != _COMPARE_TOKEN:
            return None  # a filter argument, a test, a call, a second subscript after a filter...
        if index - start > 2 * _QUICK_MAX_CHAIN:
            return None  # Jinja's parser, then the nesting check, have their say
        return node, index

    def variable(self, name: str) -> nodes.Expr:
        self.names.append(name)
        if not self.read_variables:
            return nodes.Name(name, "load", **self.at)
        return _variable_lookup(name, self.at["lineno"])


def _is_quick_whole_expression(text: str) -> bool:
    """Whether ``text`` is exactly ``{{ expr }}`` with ``expr`` in the quick grammar (which has
    no braces, so the delimiters cannot be anywhere else)."""
    return text.startswith("{{") and text.endswith("}}") and _quick_parse(text[2:-2]) is not None


# --------------------------------------------------------------------------- environment


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


class _Sandbox(ImmutableSandboxedEnvironment):
    """The stock immutable sandbox, plus the bounds of igflow.limits on what a render builds."""

    intercepted_binops = frozenset({"*", "**"})
    concat = staticmethod(_bounded_concat)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_multiply(left, right)
        elif operator == "**":
            _check_power(left, right)
        return limits.check_result(super().call_binop(context, operator, left, right))

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


def _check_defined(value: Any) -> None:
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
    _check_defined(value)
    if type(value) in _CONTAINERS and limits.text_size(value) > limits.MAX_STRING_LENGTH:
        raise limits.string_too_long()  # a list shared many times over, about to become text
    return value


_CONTAINERS: Final = frozenset({list, tuple, dict, set, frozenset})


def _make_environment() -> _Sandbox:
    env = _Sandbox(undefined=_Undefined, autoescape=False, finalize=_finalize)
    env.filters.update(_bounded_filters(env.filters))
    env.tests.update(TESTS)
    env.globals["range"] = _range
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


def _bound_tree(node: nodes.Node, recursive_loop: bool = False) -> nodes.Node:
    """Rewrite, in place, the parts of a parsed tree that need a bound at run time: ``~``,
    ``+`` and ``%`` become filter calls, and each for loop counts its iterations (nesting is
    bounded by MAX_NESTING, so recursion is fine)."""
    for field in node.fields:
        value = getattr(node, field, None)
        if isinstance(value, nodes.Node):
            setattr(node, field, _bound_node(value, recursive_loop))
        elif isinstance(value, list):
            value[:] = [
                _bound_node(item, recursive_loop) if isinstance(item, nodes.Node) else item
                for item in value
            ]
    return node


def _bound_node(node: nodes.Node, recursive_loop: bool) -> nodes.Node:
    at = {"lineno": node.lineno}
    if isinstance(node, nodes.For):
        _bound_tree(node, recursive_loop or node.recursive)
        node.iter = nodes.Filter(node.iter, _LOOP_FILTER, [], [], None, None, **at)
        return node
    _bound_tree(node, recursive_loop)
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


# --------------------------------------------------------------------------- evaluation


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _snippet(source: str) -> str:
    flat = _one_line(source)
    if len(flat) > _SNIPPET_LENGTH:
        flat = flat[: _SNIPPET_LENGTH - 3] + "..."
    return repr(flat)


def _materialize(value: Any) -> Any:
    # Jinja's select/map/reject return generators, and dict methods return views; neither can be
    # sent as a parameter or asserted on meaningfully (a generator is always truthy).
    if isinstance(value, Iterator | range | KeysView | ValuesView | ItemsView):
        return list(value)
    return value


def _evaluate(call: Callable[[], Any]) -> Any:
    """Run one evaluation and turn anything that goes wrong into a TemplateRenderError."""
    limits.start_render()
    try:
        value = _materialize(call())
        _check_defined(value)
        return value
    except IgflowError:
        raise  # a filter's own error already reads well
    except jinja_errors.TemplateError as exc:
        raise TemplateRenderError(_one_line(exc.message or type(exc).__name__)) from exc
    except MemoryError:
        raise TemplateRenderError("template ran out of memory") from None
    except Exception as exc:  # user expressions can fail in any way; no traceback reaches users
        raise TemplateRenderError(_one_line(f"{type(exc).__name__}: {exc}")) from exc


# --------------------------------------------------------------------------- compiled objects


@dataclass(frozen=True, eq=False)
class CompiledExpression:
    """A bare Jinja expression, compiled once.

    Attributes:
        source: The expression as written, e.g. ``"likes == 1"``.
        names: The top-level variable names it reads (``steps`` for ``steps.media.extracted``).
    """

    source: str
    names: frozenset[str]
    # Jinja's compiled expression, or a plain lookup for an expression that is one bare name.
    _expression: Callable[[Mapping[str, Any]], Any]

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """Evaluate against ``context`` and return the native result.

        Args:
            context: Variable names to values.

        Returns:
            The value of the expression; generators and dict views become lists.

        Raises:
            TemplateRenderError: An undefined name or attribute, a sandbox violation, or any
                error raised while evaluating.
        """
        return _evaluate(lambda: self._expression(context))


class _Dynamic:
    """Stands for a part of a value only rendering can tell (see ``CompiledValue.static``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DYNAMIC"


DYNAMIC: Any = _Dynamic()


class CompiledValue(ABC):
    """A YAML value whose strings may be templates, compiled once.

    Attributes:
        source: A readable form of the value (the text itself for a string).
        names: The top-level variable names its templates read.
    """

    __slots__ = ("names", "source")

    def __init__(self, source: str, names: frozenset[str]) -> None:
        self.source = source
        self.names = names

    @property
    def is_constant(self) -> bool:
        """True when rendering cannot depend on the context."""
        return False

    def static(self) -> Any:
        """The value as far as it is known without rendering: templates become ``DYNAMIC``.

        For static analysis (``igflow plan``): the length of a literal list, a literal
        parameter among templated ones.
        """
        return DYNAMIC

    @abstractmethod
    def render(self, context: Mapping[str, Any]) -> Any:
        """Render against ``context``.

        Args:
            context: Variable names to values.

        Returns:
            A new value of the same shape; strings that were exactly one ``{{ expr }}`` are
            replaced by the native value of ``expr``.

        Raises:
            TemplateRenderError: Any template in the value fails to render.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.source}>"


class _Constant(CompiledValue):
    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        super().__init__(value if isinstance(value, str) else repr(value), frozenset())
        self._value = value

    @property
    def is_constant(self) -> bool:
        return True

    def static(self) -> Any:
        return self._value

    def render(self, context: Mapping[str, Any]) -> Any:
        return self._value


class _WholeExpression(CompiledValue):
    __slots__ = ("_expression",)

    def __init__(self, source: str, expression: CompiledExpression) -> None:
        super().__init__(source, expression.names)
        self._expression = expression

    def render(self, context: Mapping[str, Any]) -> Any:
        return self._expression.evaluate(context)


class _StringTemplate(CompiledValue):
    __slots__ = ("_template",)

    def __init__(self, source: str, names: frozenset[str], template: Template) -> None:
        super().__init__(source, names)
        self._template = template

    def render(self, context: Mapping[str, Any]) -> Any:
        return _evaluate(lambda: self._template.render(context))


def _union_names(parts: Iterable[CompiledValue]) -> frozenset[str]:
    return frozenset().union(*(part.names for part in parts))


class _Mapping(CompiledValue):
    __slots__ = ("_items",)

    def __init__(self, source: str, items: tuple[tuple[Any, CompiledValue], ...]) -> None:
        super().__init__(source, _union_names(value for _, value in items))
        self._items = items

    def static(self) -> Any:
        return {key: value.static() for key, value in self._items}

    def render(self, context: Mapping[str, Any]) -> Any:
        return {key: value.render(context) for key, value in self._items}


class _Sequence(CompiledValue):
    __slots__ = ("_items", "_kind")

    def __init__(self, source: str, items: tuple[CompiledValue, ...], kind: type) -> None:
        super().__init__(source, _union_names(items))
        self._items = items
        self._kind = kind

    def static(self) -> Any:
        return self._kind(item.static() for item in self._items)

    def render(self, context: Mapping[str, Any]) -> Any:
        return self._kind(item.render(context) for item in self._items)


# --------------------------------------------------------------------------- the engine


class TemplateEngine:
    """Owns one sandboxed Jinja environment and the compiled forms of every source it has seen.

    One engine per run. Compiling the same source text twice returns the same object, so a
    plan can compile everything up front and the run pays only for rendering.
    """

    def __init__(self) -> None:
        self._env = _make_environment()
        self._expressions: dict[str, CompiledExpression] = {}
        self._strings: dict[str, CompiledValue] = {}

    @staticmethod
    def is_template(text: str) -> bool:
        """Tell whether ``text`` contains Jinja syntax (``{{``, ``{%`` or ``{#``)."""
        return any(marker in text for marker in _TEMPLATE_MARKERS)

    def compile_expression(self, source: str) -> CompiledExpression:
        """Compile a bare expression such as ``likes == 1`` (cached by source text).

        Args:
            source: The expression, without ``{{ }}``.

        Returns:
            The compiled expression.

        Raises:
            TemplateSyntaxError: The expression does not parse.
        """
        cached = self._expressions.get(source)
        if cached is not None:
            return cached
        if not source.strip():
            raise TemplateSyntaxError("empty expression")

        def generate() -> TemplateExpression:  # the interpreter's fallback, made on first need
            return self._generate_expression(self._parse_expression(source))

        evaluate: Callable[[Mapping[str, Any]], Any]
        try:
            quick = _QuickParse(self._env, read_variables=True)
            tree = quick.parse(source)
            if tree is not None:
                # The quick parse already knows what a walk of the tree would find.
                names = frozenset(name for name in quick.names if name not in self._env.globals)
                if quick.bare:
                    evaluate = _NameLookup(quick.names[0], self._env)
                elif all(self._plain_filter(name) for name in quick.filters):
                    evaluate = _Interpreted(tree, self._env, generate)
                else:  # a context filter, or an unknown one (an error, from Jinja's compiler)
                    named = cast(nodes.Expr, _quick_parse(source, self._env))  # parsed above
                    evaluate = self._generate_expression(named)
            else:
                ast = self._parse_expression(source)
                names, interpretable = _survey(ast, self._env)
                if isinstance(ast, nodes.Name) and ast.ctx == "load":
                    evaluate = _NameLookup(ast.name, self._env)
                elif interpretable:
                    evaluate = _Interpreted(cast(nodes.Expr, _read_names(ast)), self._env, generate)
                else:
                    evaluate = self._generate_expression(ast)
        except jinja_errors.TemplateSyntaxError as exc:
            raise TemplateSyntaxError(
                self._expression_error(source, exc), lineno=exc.lineno or 1
            ) from exc
        except (RecursionError, SyntaxError):
            raise TemplateSyntaxError(
                f"invalid expression {_snippet(source)}: {_TOO_DEEP}"
            ) from None
        compiled = CompiledExpression(source, names, evaluate)
        self._expressions[source] = compiled
        return compiled

    def _plain_filter(self, name: str) -> bool:
        return _interpreter_can_call(self._env.filters.get(name))

    def _parse_expression(self, source: str) -> nodes.Expr:
        """Parse an expression once, as ``Environment.compile_expression`` does."""
        parser = Parser(self._env, source, state="variable")
        ast = parser.parse_expression()
        if not parser.stream.eos:
            raise jinja_errors.TemplateSyntaxError(
                "chunk after expression", parser.stream.current.lineno, None, None
            )
        ast = cast(nodes.Expr, _bound_node(ast, False))
        ast.set_environment(self._env)
        return ast

    def _generate_expression(self, ast: nodes.Expr) -> TemplateExpression:
        """Jinja's ``compile_expression`` from an already parsed tree (it would parse again).

        Code generation also raises TemplateSyntaxError subclasses (an unknown filter or test).
        """
        body = [nodes.Assign(nodes.Name("result", "store"), ast, lineno=1)]
        template = self._env.from_string(nodes.Template(body, lineno=1))
        return TemplateExpression(template, undefined_to_none=False)

    def compile_value(self, value: Any) -> CompiledValue:
        """Compile a YAML value: dicts and lists recursively, strings as templates.

        Dict keys are used as they are (never templated). Strings without Jinja syntax and
        non-string scalars become constants that render at no cost.

        Args:
            value: Plain data as loaded from YAML.

        Returns:
            The compiled value; string values are cached by their text.

        Raises:
            TemplateSyntaxError: A template in the value does not parse.
        """
        if isinstance(value, str):
            return self._compile_string(value)
        if isinstance(value, Mapping):
            items = tuple((key, self.compile_value(item)) for key, item in value.items())
            return _Mapping(repr(value), items)
        if isinstance(value, list | tuple):
            parts = tuple(self.compile_value(item) for item in value)
            return _Sequence(repr(value), parts, type(value))
        return _Constant(value)

    def _compile_string(self, text: str) -> CompiledValue:
        cached = self._strings.get(text)
        if cached is not None:
            return cached
        compiled: CompiledValue
        if not self.is_template(text):
            compiled = _Constant(text)
        elif _is_quick_whole_expression(text):
            compiled = _WholeExpression(text, self.compile_expression(text[2:-2]))
        else:
            try:
                ast = self._env.parse(text)
                _check_nesting(ast)
                inner = _whole_expression(text, ast)
                if inner is not None:
                    compiled = _WholeExpression(text, self.compile_expression(inner))
                else:
                    _bound_tree(ast)
                    # Code generation also raises (TemplateAssertionError: an unknown filter).
                    template = self._env.from_string(ast)
                    compiled = _StringTemplate(text, self._names(ast), template)
            except jinja_errors.TemplateSyntaxError as exc:
                message = f"invalid template {_snippet(text)}: {_one_line(exc.message or '')}"
                raise TemplateSyntaxError(message, lineno=exc.lineno or 1) from exc
            except (RecursionError, SyntaxError):
                raise TemplateSyntaxError(
                    f"invalid template {_snippet(text)}: {_TOO_DEEP}"
                ) from None
        self._strings[text] = compiled
        return compiled

    def _names(self, node: nodes.Node) -> frozenset[str]:
        template = node if isinstance(node, nodes.Template) else nodes.Template([node])
        template.set_environment(self._env)
        return frozenset(meta.find_undeclared_variables(template))

    @staticmethod
    def _expression_error(source: str, exc: jinja_errors.TemplateSyntaxError) -> str:
        message = f"invalid expression {_snippet(source)}: {_one_line(exc.message or '')}"
        if source.lstrip().startswith("{{"):
            message += " (expressions are written without {{ }})"
        return message


class _NameLookup:
    """Evaluates an expression that is one bare name (``media_id``) without generated code.

    The most common expression by far (every ``"{{ name }}"`` value is one), and Jinja's code
    generation costs far more than the lookup. The result is what Jinja's would be: the context's
    value, else a global's (``range``, ``dict``, ...), else an undefined that fails when checked.
    """

    __slots__ = ("_globals", "_name", "_undefined")

    def __init__(self, name: str, env: _Sandbox) -> None:
        self._name = name
        self._globals = env.globals
        self._undefined = env.undefined

    def __call__(self, context: Mapping[str, Any]) -> Any:
        name = self._name
        if name in context:
            return context[name]
        if name in self._globals:
            return self._globals[name]
        return self._undefined(name=name)


# ---- interpreted expressions
#
# Jinja turns every expression into Python source and compiles it: about half a millisecond each,
# which a playbook of a few hundred steps pays a few hundred times before its first request. Most
# expressions (`likes == 1`, `likers | length == likes`, `steps.media.status == "ok"`) are made
# of nodes that Jinja can also evaluate directly, with the `as_const` methods its optimizer uses
# to fold constants. Those go through the same sandboxed `environment.getattr`/`getitem`, apply
# the same operators and call the same filters and tests as the generated code, and give up
# (`nodes.Impossible`) on anything they cannot do exactly so, any exception included. So an
# interpreted expression evaluates its tree with the run's names in place of its variables and,
# when that gives up or fails (an undefined name, a failing filter, a value an operator rejects),
# falls back to Jinja's compiled code, generated then, which gives the real result or the real
# error.
# Expressions with calls, `*` or `**` (checked by the sandbox's call_binop), context filters
# (`select`, `map`, ...), an inline `if` without `else`, or an unknown filter or test (an error
# `check` must report) are compiled up front, as before.

_INTERPRETED_NODES: Final = frozenset(
    {
        nodes.Const,
        nodes.List,
        nodes.Tuple,
        nodes.Dict,
        nodes.Pair,
        nodes.Keyword,
        nodes.Name,
        nodes.Getattr,
        nodes.Getitem,
        nodes.Slice,
        nodes.Compare,
        nodes.Operand,
        nodes.And,
        nodes.Or,
        nodes.Not,
        nodes.Neg,
        nodes.Pos,
        nodes.Add,
        nodes.Sub,
        nodes.Div,
        nodes.FloorDiv,
        nodes.Mod,
        nodes.Concat,
        nodes.CondExpr,
        nodes.Filter,
        nodes.Test,
    }
)


def _interpreter_can_call(func: Any) -> bool:
    """Whether ``as_const`` can call this filter or test: it exists and is not marked
    ``@pass_context`` (as_const cannot call those)."""
    if func is None:
        return False
    pass_arg = getattr(func, "jinja_pass_arg", None)  # set by @pass_context and its kin
    return getattr(pass_arg, "name", None) != "context"


def _interpretable_node(node: nodes.Node, env: _Sandbox) -> bool:
    """True when ``as_const`` can evaluate this node as Jinja's code would."""
    if type(node) not in _INTERPRETED_NODES:
        return False
    if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem) and node.ctx != "load":
        return False
    if isinstance(node, nodes.BinExpr) and node.operator in env.intercepted_binops:
        return False
    if isinstance(node, nodes.CondExpr) and node.expr2 is None:
        return False
    if isinstance(node, nodes.Filter | nodes.Test):
        table = env.filters if isinstance(node, nodes.Filter) else env.tests
        return _interpreter_can_call(table.get(node.name))
    return True


def _survey(ast: nodes.Expr, env: _Sandbox) -> tuple[frozenset[str], bool]:
    """One walk of an expression's tree: the variable names it reads (globals such as ``range``
    left out) and whether ``as_const`` can evaluate all of it; a tree nested deeper than
    MAX_NESTING is refused.

    An expression cannot bind names (no assignments, loops or macros), so every loaded name is
    read from the context: the same set ``meta.find_undeclared_variables`` gives, without its
    code-generation pass. The walk is iterative, and reads children as Jinja's
    ``iter_child_nodes`` does, in one pass instead of one per question.
    """
    env_globals = env.globals
    names: set[str] = set()
    interpretable = True
    stack: list[tuple[nodes.Node, int]] = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            # A Jinja error, so the caller's handler turns it into igflow's with the source.
            raise jinja_errors.TemplateSyntaxError(_TOO_DEEP, node.lineno or 1)
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in env_globals:
            names.add(node.name)
        if interpretable and not _interpretable_node(node, env):
            interpretable = False
        for field in node.fields:
            value = getattr(node, field, None)
            if isinstance(value, nodes.Node):
                stack.append((value, depth + 1))
            elif isinstance(value, list):
                stack.extend((item, depth + 1) for item in value if isinstance(item, nodes.Node))
    return frozenset(names), interpretable


# The interpreted tree reads each variable as `_VARIABLES[name]`: a constant stand-in whose lookups
# go to the names of the evaluation under way (a context variable, so threads do not mix them up).
# A name that is not there gives up, and the compiled code then resolves it (a global such as
# `range`, or an undefined with Jinja's own message). (Jinja allows no node types of one's own.)
_NAMES: ContextVar[Mapping[str, Any]] = ContextVar("igflow_template_names")


class _Variables:
    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        names = _NAMES.get()
        if name in names:
            return names[name]
        raise nodes.Impossible()  # not a LookupError: the sandbox's getitem must not catch it

    def __repr__(self) -> str:
        return "<variables>"


_VARIABLES: Final = _Variables()


def _variable_lookup(name: str, lineno: int) -> nodes.Expr:
    """``_VARIABLES[name]``, as a tree the interpreter evaluates."""
    variables = nodes.Const(_VARIABLES, lineno=lineno)
    return nodes.Getitem(variables, nodes.Const(name, lineno=lineno), "load", lineno=lineno)


def _read_names(node: nodes.Node) -> nodes.Node:
    """Replace every loaded ``Name`` of a tree with a lookup in ``_VARIABLES`` (in place: the
    tree is the caller's own; nesting is bounded, so recursion is fine)."""
    if isinstance(node, nodes.Name):
        return _variable_lookup(node.name, node.lineno) if node.ctx == "load" else node
    for field in node.fields:
        value = getattr(node, field, None)
        if isinstance(value, nodes.Node):
            setattr(node, field, _read_names(value))
        elif isinstance(value, list):
            value[:] = [
                _read_names(item) if isinstance(item, nodes.Node) else item for item in value
            ]
    return node


class _Interpreted:
    """Evaluates an interpretable tree, or Jinja's compiled code (made on first need) instead."""

    __slots__ = ("_compiled", "_env", "_generate", "_tree")

    def __init__(
        self,
        tree: nodes.Expr,
        env: _Sandbox,
        generate: Callable[[], Callable[[Mapping[str, Any]], Any]],
    ) -> None:
        self._tree = tree  # its variables already read from _VARIABLES (see _read_names)
        self._env = env
        self._generate = generate
        self._compiled: Callable[[Mapping[str, Any]], Any] | None = None

    def __call__(self, context: Mapping[str, Any]) -> Any:
        token = _NAMES.set(context)
        try:
            return self._tree.as_const(nodes.EvalContext(self._env))
        except Exception:  # Impossible, or an error that the compiled code words its own way
            # A few as_const methods let an error through instead of giving up (`~` stringifies
            # each part as it goes, an inline if tests an undefined): the compiled code then
            # evaluates in Jinja's own order and raises Jinja's own error.
            pass
        finally:
            _NAMES.reset(token)
        compiled = self._compiled
        if compiled is None:  # two threads may both make it: the same code, no harm done
            compiled = self._compiled = self._generate()
        return compiled(context)


_TOO_DEEP: Final = f"nested more than {MAX_NESTING} levels deep"


def _check_nesting(ast: nodes.Node) -> None:
    """Refuse a tree nested deeper than MAX_NESTING (walked iteratively, not recursively)."""
    stack = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            # A Jinja error, so the callers' handlers turn it into igflow's with the source.
            raise jinja_errors.TemplateSyntaxError(_TOO_DEEP, node.lineno or 1)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def _whole_expression(text: str, ast: nodes.Template) -> str | None:
    """Return the inner source when ``text`` is exactly one ``{{ expr }}``, else None.

    The parsed tree decides the shape (one output node, only whitespace beside it); the regex
    then only has to cut the delimiters off, which it can do safely once the shape is known.
    """
    if len(ast.body) != 1 or not isinstance(ast.body[0], nodes.Output):
        return None
    parts = ast.body[0].nodes
    expressions = [part for part in parts if not isinstance(part, nodes.TemplateData)]
    data = [part for part in parts if isinstance(part, nodes.TemplateData)]
    if len(expressions) != 1 or any(part.data.strip() for part in data):
        return None
    match = _WHOLE_VALUE.match(text)
    return match.group(1) if match else None

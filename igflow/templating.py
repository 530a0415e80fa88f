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
syntax errors become :class:`~igflow.errors.TemplateSyntaxError` at compile time.

Beside this module: :mod:`igflow.jinja_env` (the sandboxed environment and its bounds),
:mod:`igflow.interpreter` (the quick parser and the tree interpreter most expressions take
instead of Jinja's compiled code) and :mod:`igflow.filters` (igflow's filters and tests).
What is left here (about 480 lines, over the 400 aimed at) is the engine and the compiled
objects it makes, half of it docstrings: the two change together, and a module for the objects
alone would import the engine's private helpers back.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass
from typing import Any, Final, cast

from jinja2 import exceptions as jinja_errors
from jinja2 import meta, nodes
from jinja2.environment import Template, TemplateExpression
from jinja2.parser import Parser

from igflow import limits
from igflow.envvars import EnvironmentVariables  # re-exported: the `env` namespace lives there
from igflow.errors import IgflowError, TemplateRenderError, TemplateSyntaxError
from igflow.interpreter import (
    MAX_NESTING,
    TOO_DEEP,
    Interpreted,
    NameLookup,
    QuickParse,
    check_nesting,
    interpreter_can_call,
    is_quick_whole_expression,
    quick_parse,
    read_names,
    survey,
)
from igflow.jinja_env import bound_node, bound_tree, check_defined, make_environment
from igflow.template_errors import PositionedSyntaxError, syntax_error, type_error_message

__all__ = [
    "MAX_NESTING",
    "CompiledExpression",
    "CompiledValue",
    "EnvironmentVariables",
    "TemplateEngine",
]

_SNIPPET_LENGTH: Final = 60
_WHOLE_VALUE = re.compile(r"\A\s*\{\{[-+]?(.*?)[-+]?\}\}\s*\Z", re.DOTALL)
_TEMPLATE_MARKERS: Final = ("{{", "{%", "{#")

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


def _evaluate(
    call: Callable[[], Any],
    names: Iterable[str] = (),
    context: Mapping[str, Any] | None = None,
) -> Any:
    """Run one evaluation and turn anything that goes wrong into a TemplateRenderError
    (``names`` and ``context``, the names it reads and their values, only word a failure)."""
    limits.start_render()
    try:
        value = _materialize(call())
        check_defined(value)
        return value
    except IgflowError:
        raise  # a filter's own error already reads well
    except jinja_errors.TemplateError as exc:
        hint = type_error_message(exc, names, context or {})
        raise TemplateRenderError(hint or _one_line(exc.message or type(exc).__name__)) from exc
    except MemoryError:
        raise TemplateRenderError("template ran out of memory") from None
    except Exception as exc:  # user expressions can fail in any way; no traceback reaches users
        hint = type_error_message(exc, names, context or {})
        raise TemplateRenderError(hint or _one_line(f"{type(exc).__name__}: {exc}")) from exc


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
        return _evaluate(lambda: self._expression(context), self.names, context)


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
        return _evaluate(lambda: self._template.render(context), self.names, context)


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
        rendered = {}
        for key, value in self._items:
            try:
                rendered[key] = value.render(context)
            except IgflowError as exc:
                exc.within(key)
                raise
        return rendered


class _Sequence(CompiledValue):
    __slots__ = ("_items", "_kind")

    def __init__(self, source: str, items: tuple[CompiledValue, ...], kind: type) -> None:
        super().__init__(source, _union_names(items))
        self._items = items
        self._kind = kind

    def static(self) -> Any:
        return self._kind(item.static() for item in self._items)

    def render(self, context: Mapping[str, Any]) -> Any:
        rendered = []
        for index, item in enumerate(self._items):
            try:
                rendered.append(item.render(context))
            except IgflowError as exc:
                exc.within(index)
                raise
        return rendered if self._kind is list else self._kind(rendered)


# --------------------------------------------------------------------------- the engine


class TemplateEngine:
    """Owns one sandboxed Jinja environment and the compiled forms of every source it has seen.

    One engine per run. Compiling the same source text twice returns the same object, so a
    plan can compile everything up front and the run pays only for rendering.
    """

    def __init__(self) -> None:
        self._env = make_environment()
        self._expressions: dict[str, CompiledExpression] = {}
        self._strings: dict[str, CompiledValue] = {}

    def use_clock(self, seconds: int) -> None:
        """``now()`` gives ``seconds`` from here on, in every template compiled so far too (they
        read the environment's globals when rendered): a target's fake clock
        (igflow.target_clock)."""
        self._env.globals["now"] = lambda: seconds

    @property
    def test_names(self) -> frozenset[str]:
        """The names of the Jinja tests templates may use."""
        return frozenset(self._env.tests)

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
            quick = QuickParse(self._env, read_variables=True)
            tree = quick.parse(source)
            if tree is not None:
                # The quick parse already knows what a walk of the tree would find.
                names = frozenset(name for name in quick.names if name not in self._env.globals)
                if quick.bare:
                    evaluate = NameLookup(quick.names[0], self._env)
                elif all(self._plain_filter(name) for name in quick.filters):
                    evaluate = Interpreted(tree, self._env, generate)
                else:  # a context filter, or an unknown one (an error, from Jinja's compiler)
                    named = cast(nodes.Expr, quick_parse(source, self._env))  # parsed above
                    evaluate = self._generate_expression(named)
            else:
                ast = self._parse_expression(source)
                names, interpretable = survey(ast, self._env)
                if isinstance(ast, nodes.Name) and ast.ctx == "load":
                    evaluate = NameLookup(ast.name, self._env)
                elif interpretable:
                    evaluate = Interpreted(cast(nodes.Expr, read_names(ast)), self._env, generate)
                else:
                    evaluate = self._generate_expression(ast)
        except jinja_errors.TemplateSyntaxError as exc:
            raise self._expression_error(source, exc) from exc
        except (RecursionError, SyntaxError):
            raise TemplateSyntaxError(
                f"invalid expression {_snippet(source)}: {TOO_DEEP}"
            ) from None
        compiled = CompiledExpression(source, names, evaluate)
        self._expressions[source] = compiled
        return compiled

    def _plain_filter(self, name: str) -> bool:
        return interpreter_can_call(self._env.filters.get(name))

    def _parse_expression(self, source: str) -> nodes.Expr:
        """Parse an expression once, as ``Environment.compile_expression`` does."""
        parser = Parser(self._env, source, state="variable")
        ast = parser.parse_expression()
        if not parser.stream.eos:
            raise jinja_errors.TemplateSyntaxError(
                "chunk after expression", parser.stream.current.lineno, None, None
            )
        ast = cast(nodes.Expr, bound_node(ast, False))
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
        elif is_quick_whole_expression(text):
            compiled = _WholeExpression(text, self._inner_expression(text, 2, text[2:-2]))
        else:
            try:
                ast = self._env.parse(text)
                check_nesting(ast)
                inner = _whole_expression(text, ast)
                if inner is not None:
                    source, at = inner
                    compiled = _WholeExpression(text, self._inner_expression(text, at, source))
                else:
                    bound_tree(ast)
                    # Code generation also raises (TemplateAssertionError: an unknown filter).
                    template = self._env.from_string(ast)
                    compiled = _StringTemplate(text, self._names(ast), template)
            except jinja_errors.TemplateSyntaxError as exc:
                raise syntax_error(
                    "template", _snippet(text), text, exc, self._env.filters, self._env.tests
                ) from exc
            except (RecursionError, SyntaxError):
                raise TemplateSyntaxError(
                    f"invalid template {_snippet(text)}: {TOO_DEEP}"
                ) from None
        self._strings[text] = compiled
        return compiled

    def _names(self, node: nodes.Node) -> frozenset[str]:
        template = node if isinstance(node, nodes.Template) else nodes.Template([node])
        template.set_environment(self._env)
        return frozenset(meta.find_undeclared_variables(template))

    def _inner_expression(self, text: str, at: int, source: str) -> CompiledExpression:
        """The expression of a whole-value template; an error's position counts in ``text``."""
        try:
            return self.compile_expression(source)
        except PositionedSyntaxError as exc:
            lineno = text.count("\n", 0, exc.offset + at) + 1
            raise PositionedSyntaxError(exc.message, lineno=lineno, offset=exc.offset + at) from exc

    def _expression_error(
        self, source: str, exc: jinja_errors.TemplateSyntaxError
    ) -> TemplateSyntaxError:
        env = self._env
        error = syntax_error("expression", _snippet(source), source, exc, env.filters, env.tests)
        if source.lstrip().startswith("{{"):
            error.message += " (expressions are written without {{ }})"
        return error


def _whole_expression(text: str, ast: nodes.Template) -> tuple[str, int] | None:
    """Return the inner source, and where it starts, when ``text`` is exactly one
    ``{{ expr }}``, else None.

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
    return (match.group(1), match.start(1)) if match else None

"""The quick paths of expression evaluation: a parser for the commonest expressions, and an
interpreter that evaluates Jinja trees without Jinja's generated code.

Both exist for speed only (bench/README.md, "What was changed for speed"): Jinja's lexer and
parser cost about 0.1 ms an expression, and its code generation about half a millisecond, which a
playbook of hundreds of steps pays hundreds of times before its first request. Each gives way to
Jinja's own machinery whenever it is not sure to do exactly what Jinja would:
tests/unit/test_templating_quick_parse.py compares the quick trees with the parser's, and
tests/unit/test_templating.py compares interpreted results with compiled ones (Hypothesis).
:mod:`igflow.templating` decides which path an expression takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final

from jinja2 import exceptions as jinja_errors
from jinja2 import nodes
from jinja2.environment import Environment
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "COMPARE_OPS",
    "MAX_NESTING",
    "TOO_DEEP",
    "Interpreted",
    "NameLookup",
    "QuickParse",
    "check_nesting",
    "interpreter_can_call",
    "is_quick_whole_expression",
    "quick_parse",
    "read_names",
    "survey",
]

# Jinja parses, generates code and evaluates recursively, and Python refuses to compile code
# nested about 200 deep: a deeper template would fail with RecursionError or SyntaxError, not
# with a message. Real expressions nest a few levels.
MAX_NESTING: Final = 50
TOO_DEEP: Final = f"nested more than {MAX_NESTING} levels deep"

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
COMPARE_OPS: Final = {"==": "eq", "!=": "ne", "<": "lt", "<=": "lteq", ">": "gt", ">=": "gteq"}
# Words the parser reads as literals or operators, never as names.
_NOT_NAMES: Final = frozenset(
    {"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else"}
)


# An operand's attributes, indices and filters together stay well inside MAX_NESTING.
_QUICK_MAX_CHAIN: Final = 40


def quick_parse(source: str, environment: Environment | None = None) -> nodes.Expr | None:
    """The tree of an expression in the quick grammar above (Jinja's parser's own); None for
    anything else. Its nodes carry ``environment`` (as ``set_environment`` would give them)."""
    return QuickParse(environment, read_variables=False).parse(source)


class QuickParse:
    """One parse in the quick grammar, noting the variables read and the filters called.

    With ``read_variables``, each variable is built as the interpreter reads it (a lookup in
    ``_VARIABLES``, see ``read_names``) instead of as a ``Name``, so the tree needs no second
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
        return nodes.Compare(left, [nodes.Operand(COMPARE_OPS[op], right, **at)], **at)

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


def is_quick_whole_expression(text: str) -> bool:
    """Whether ``text`` is exactly ``{{ expr }}`` with ``expr`` in the quick grammar (which has
    no braces, so the delimiters cannot be anywhere else)."""
    return text.startswith("{{") and text.endswith("}}") and quick_parse(text[2:-2]) is not None


def check_nesting(ast: nodes.Node) -> None:
    """Refuse a tree nested deeper than MAX_NESTING (walked iteratively, not recursively)."""
    stack = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            # A Jinja error, so the callers' handlers turn it into igflow's with the source.
            raise jinja_errors.TemplateSyntaxError(TOO_DEEP, node.lineno or 1)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


class NameLookup:
    """Evaluates an expression that is one bare name (``media_id``) without generated code.

    The most common expression by far (every ``"{{ name }}"`` value is one), and Jinja's code
    generation costs far more than the lookup. The result is what Jinja's would be: the context's
    value, else a global's (``range``, ``dict``, ...), else an undefined that fails when checked.
    """

    __slots__ = ("_globals", "_name", "_undefined")

    def __init__(self, name: str, env: SandboxedEnvironment) -> None:
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


def interpreter_can_call(func: Any) -> bool:
    """Whether ``as_const`` can call this filter or test: it exists and is not marked
    ``@pass_context`` (as_const cannot call those)."""
    if func is None:
        return False
    pass_arg = getattr(func, "jinja_pass_arg", None)  # set by @pass_context and its kin
    return getattr(pass_arg, "name", None) != "context"


def _interpretable_node(node: nodes.Node, env: SandboxedEnvironment) -> bool:
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
        return interpreter_can_call(table.get(node.name))
    return True


def survey(ast: nodes.Expr, env: SandboxedEnvironment) -> tuple[frozenset[str], bool]:
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
            raise jinja_errors.TemplateSyntaxError(TOO_DEEP, node.lineno or 1)
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


def read_names(node: nodes.Node) -> nodes.Node:
    """Replace every loaded ``Name`` of a tree with a lookup in ``_VARIABLES`` (in place: the
    tree is the caller's own; nesting is bounded, so recursion is fine)."""
    if isinstance(node, nodes.Name):
        return _variable_lookup(node.name, node.lineno) if node.ctx == "load" else node
    for field in node.fields:
        value = getattr(node, field, None)
        if isinstance(value, nodes.Node):
            setattr(node, field, read_names(value))
        elif isinstance(value, list):
            value[:] = [
                read_names(item) if isinstance(item, nodes.Node) else item for item in value
            ]
    return node


class Interpreted:
    """Evaluates an interpretable tree, or Jinja's compiled code (made on first need) instead."""

    __slots__ = ("_compiled", "_env", "_generate", "_tree")

    def __init__(
        self,
        tree: nodes.Expr,
        env: SandboxedEnvironment,
        generate: Callable[[], Callable[[Mapping[str, Any]], Any]],
    ) -> None:
        self._tree = tree  # its variables already read from _VARIABLES (see read_names)
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

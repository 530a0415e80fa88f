"""The ``env`` namespace: the environment variables a playbook declares, and nothing else.

A playbook names the variables it reads (``env: [IG_TOKEN, {name: IG_USER, public: true}]``,
plus every name in ``secrets:``) and templates read them one at a time, as ``env.NAME`` or
``env['NAME']``. The rest of the user's environment stays out of reach: the namespace cannot be
listed, iterated, printed or serialized, so ``{{ env }}``, ``env | list`` or ``env.items()``
cannot send it anywhere. ``igflow check`` refuses those uses before a run (see
:func:`env_references`); this object is the run-time half, for anything that gets past it.

Values are secret unless declared public: :func:`secret_values` gives the runner the values to
register with the redactor before any template is rendered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final, NamedTuple, NoReturn

from jinja2.nodes import Call, Const, Getattr, Getitem, Name, Node

from igflow.errors import TemplateRenderError

__all__ = [
    "EnvReference",
    "EnvironmentVariables",
    "env_references",
    "not_declared_message",
    "secret_values",
    "whole_env_message",
]

ENV: Final = "env"


def not_declared_message(name: str, hint: str = "") -> str:
    """Why ``env.<name>`` cannot be read; ``hint`` is a "did you mean" for ``check``."""
    return f"environment variable {name} is not declared{hint} (declare it: env: [{name}])"


def whole_env_message() -> str:
    return (
        "`env` cannot be used as a whole (printed, listed, iterated or passed on): read one "
        "declared variable at a time, as env.NAME or env['NAME']"
    )


class EnvironmentVariables:
    """The declared environment variables of one run.

    Reading a declared variable that is not set raises :class:`KeyError`, which the sandbox
    turns into an undefined value (so ``env.NAME | default('x')`` and ``env.NAME is defined``
    work, and a plain use fails with "environment variable NAME is not set"). Reading an
    undeclared name fails at once, whatever the template does with it.

    Deliberately not a Mapping: no keys, items, values, length or iteration. Its only public
    operation is ``namespace[name]``; the sandbox reaches it for ``env.NAME`` too, because
    the class has no attribute of that name. The state lives in name-mangled slots, which the
    sandbox refuses to read (they start with an underscore).
    """

    __slots__ = ("__declared", "__values")

    def __init__(self, environ: Mapping[str, str], declared: Mapping[str, bool]) -> None:
        """
        Args:
            environ: The process environment (only declared names are copied out of it).
            declared: Each declared name, and whether it is public (shown as is) rather than
                secret (redacted everywhere).
        """
        self.__declared: dict[str, bool] = dict(declared)
        self.__values: dict[str, str] = {
            name: environ[name] for name in self.__declared if name in environ
        }

    def __getitem__(self, name: object) -> str:
        if not isinstance(name, str) or name not in self.__declared:
            raise TemplateRenderError(not_declared_message(str(name)))
        return self.__values[name]  # KeyError for a declared name that is not set

    # --- nothing else -------------------------------------------------------------------------
    # Jinja's list/join/tojson/`in` all go through iteration or these; each one fails plainly.

    def __iter__(self) -> Iterator[str]:
        _refuse_whole()

    def __len__(self) -> int:
        _refuse_whole()

    def __contains__(self, name: object) -> bool:
        _refuse_whole()

    def __str__(self) -> str:
        # Reports stringify what they cannot serialize (an assertion's `env = ...`): say what
        # this is without a single value.
        return "<environment variables>"

    __repr__ = __str__


def _refuse_whole() -> NoReturn:
    raise TemplateRenderError(whole_env_message())


def secret_values(environ: Mapping[str, str], declared: Mapping[str, bool]) -> list[str]:
    """The values of the declared variables that are set and not public: what the redactor
    must hide. (A module function, not a method: every public attribute of the namespace
    would be readable from a template.)"""
    return [environ[name] for name, public in declared.items() if not public and name in environ]


class EnvReference(NamedTuple):
    """One use of ``env`` in a template: ``name`` is the variable read, None for a use of
    ``env`` as a whole (``{{ env }}``, ``env | list``, ``env[key]`` with a computed key)."""

    name: str | None
    lineno: int


def constant_lookups(ast: Node) -> Iterator[tuple[Getattr | Getitem, object]]:
    """Every ``x.name`` and ``x['literal']`` in a parsed template, with its key."""
    for node in ast.find_all((Getattr, Getitem)):
        # find_all types a tuple of node classes as their common base (Expr): narrow again.
        if isinstance(node, Getattr):
            yield node, node.attr
        elif isinstance(node, Getitem) and isinstance(node.arg, Const):
            yield node, node.arg.value


def env_references(ast: Node) -> list[EnvReference]:
    """Every use of the name ``env`` in a parsed template, in source order.

    A lookup with a literal string key (``env.NAME``, ``env['NAME']``) reads that one
    variable; anything else that touches ``env`` itself uses it as a whole.
    """
    # `env.items()`: a method call, not a variable named `items`.
    called = {id(node.node) for node in ast.find_all(Call)}
    lookups: dict[int, EnvReference] = {}
    for node, key in constant_lookups(ast):
        target = node.node
        is_env = isinstance(target, Name) and target.name == ENV and target.ctx == "load"
        if is_env and isinstance(key, str) and id(node) not in called:
            lookups[id(target)] = EnvReference(key, node.lineno)
    found: list[EnvReference] = []
    for name_node in ast.find_all(Name):
        if name_node.name != ENV or name_node.ctx != "load":
            continue
        found.append(lookups.get(id(name_node), EnvReference(None, name_node.lineno)))
    return found

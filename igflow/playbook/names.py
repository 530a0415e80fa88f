"""The flat namespace of a playbook, tracked step by step at check time.

One namespace (DESIGN §7): vars, --var/--vars-file names, extracted names and ``set`` names,
plus ``env`` and ``steps`` which always exist. The table knows, for each name, where it was
defined so far, and (from a first pass) where it is defined later, so "used before defined"
messages can say where the definition actually is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from jinja2.defaults import DEFAULT_NAMESPACE
from jinja2.nodes import Name, Node, Test

from igflow.envvars import constant_lookups
from igflow.errors import SourceLocation
from igflow.playbook.suggest import did_you_mean

__all__ = [
    "ALWAYS_DEFINED",
    "Definition",
    "NameTable",
    "names_tested_for_definition",
    "step_references",
]

# Always present: `env` (the declared environment variables, see igflow.envvars) and `steps`
# (earlier steps by id).
ALWAYS_DEFINED = frozenset({"env", "steps"})
# Jinja's own globals (range, dict, cycler, ...) read as undeclared names in an AST.
_JINJA_GLOBALS = frozenset(DEFAULT_NAMESPACE)


class Definition(NamedTuple):
    """Where and how a name gets its value."""

    how: str  # "var" | "external" | "extracted" | "set"
    location: SourceLocation | None  # None for names passed in from outside
    # The `when` of the defining step: the name exists only if that step ran.
    guard: str | None = None

    def where(self) -> str:
        if self.location is None:
            return "outside the playbook (--var or --vars-file)"
        return f"at {self.location}"


@dataclass
class NameTable:
    """Names defined so far, plus the first later definition of each name not yet defined."""

    defined: dict[str, Definition] = field(default_factory=dict)
    later: dict[str, Definition] = field(default_factory=dict)
    # Loop variables of the steps checked so far: they exist only inside their own step.
    loop_variables: dict[str, SourceLocation] = field(default_factory=dict)

    @classmethod
    def with_externals(cls, names: Iterable[str]) -> NameTable:
        return cls({name: Definition("external", None) for name in names})

    def is_defined(self, name: str) -> bool:
        return name in self.defined or name in ALWAYS_DEFINED or name in _JINJA_GLOBALS

    def define(self, name: str, definition: Definition) -> None:
        existing = self.defined.get(name)
        # An unconditional definition settles a name an earlier guarded step might have skipped.
        if existing is None or (existing.guard is not None and definition.guard is None):
            self.defined[name] = definition

    def undefined_message(self, name: str, extra: Iterable[str] = ()) -> str:
        """Why ``name`` cannot be read here, with the most useful hint."""
        loop_step = self.loop_variables.get(name)
        if loop_step is not None and name == "loop":
            return f"'loop' exists only inside a step with `foreach` (as at {loop_step})"
        if loop_step is not None:
            return (
                f"'{name}' is the loop variable of the step at {loop_step}; it exists only "
                "inside that step (extract or set what later steps need there: it becomes a list)"
            )
        later = self.later.get(name)
        if later is not None and later.location is not None:
            verb = {"extracted": "extracted", "set": "set", "var": "defined in vars"}[later.how]
            return (
                f"'{name}' is used before it is defined (it is {verb} later, at {later.location})"
            )
        hint = did_you_mean(name, [*self.defined, *extra, *ALWAYS_DEFINED])
        if hint:
            return f"'{name}' is not defined{hint}"
        return (
            f"'{name}' is not defined (define it in `vars`, pass it with --var, or extract "
            "it in an earlier step)"
        )


def names_tested_for_definition(ast: Node) -> set[str]:
    """Names the template itself asks about with ``is defined`` / ``is undefined``."""
    return {
        node.node.name
        for node in ast.find_all(Test)
        if node.name in ("defined", "undefined") and isinstance(node.node, Name)
    }


def step_references(ast: Node) -> list[str]:
    """The step ids read as ``steps.<id>`` or ``steps['<id>']`` in a parsed template."""
    found: list[str] = []
    for node, key in constant_lookups(ast):
        target = node.node
        if isinstance(target, Name) and target.name == "steps" and isinstance(key, str):
            found.append(key)
    return found

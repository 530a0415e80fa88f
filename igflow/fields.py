"""List parameters on the wire: Graph's ``fields`` (with expansions and modifiers) and friends.

A ``type: list`` parameter of the registry (``fields``, ``metric``, ``children``,
``subscribed_fields``) is written in YAML as a list and sent comma-joined. An item is a string,
sent as it is (``children{id,media_type}``, ``comments.limit(5){text}``), or a one-key mapping
from an edge to its own list of fields, which becomes ``edge{a,b}``, nested as deep as written::

    fields: [id, caption, {children: [id, media_type]}, "comments.limit(5){text}"]
    -> id,caption,children{id,media_type},comments.limit(5){text}

A string value is sent as it is, so ``fields: "id,caption"`` works too. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_FIELD_DEPTH", "list_problem", "render_list"]

# Deeper expansions than this are refused: Graph nests a few levels at most, and a template
# could otherwise hand over a structure deep enough to exhaust the interpreter's stack.
MAX_FIELD_DEPTH = 8


def _scalar(value: Any) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    return str(value)


def render_list(value: Any, depth: int = 0) -> str:
    """The wire form of a list parameter's value.

    Raises:
        ValueError: An item is neither a scalar nor a one-key mapping of an edge to a list,
            or the expansions nest deeper than MAX_FIELD_DEPTH.
    """
    if depth > MAX_FIELD_DEPTH:
        raise ValueError(f"field expansions nest deeper than {MAX_FIELD_DEPTH} levels")
    if isinstance(value, str) or not isinstance(value, list | tuple):
        if isinstance(value, Mapping):
            return _edge(value, depth)
        return _scalar(value)
    parts: list[str] = []
    for item in value:
        if isinstance(item, Mapping):
            parts.append(_edge(item, depth))
        elif isinstance(item, list | tuple):
            raise ValueError("a list item cannot itself be a list (write {edge: [fields]})")
        elif item is not None:
            parts.append(_scalar(item))
    return ",".join(parts)


def _edge(item: Mapping[Any, Any], depth: int) -> str:
    if len(item) != 1:
        raise ValueError(
            "an expansion is a mapping of one edge to its fields, e.g. {children: [id]}"
        )
    ((edge, sub),) = item.items()
    return f"{edge}{{{render_list(sub, depth + 1)}}}"


def list_problem(name: str, value: Any) -> str | None:
    """What is wrong with a literal value of list parameter ``name`` (None: nothing)."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list | str | int | float) or isinstance(value, bool):
        return f"'{name}' must be a list (or a comma-separated string)"
    try:
        render_list(value)
    except ValueError as exc:
        return f"'{name}': {exc}"
    return None

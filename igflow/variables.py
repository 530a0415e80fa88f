"""Variables from the command line: ``--vars-file FILE`` and ``--var NAME=VALUE`` / ``NAME:=JSON``.

``NAME=VALUE`` sets a string, exactly as typed. ``NAME:=JSON`` (httpie's convention) sets the
JSON value: ``n:=5`` is the number 5, ``on:=true`` a boolean, ``tags:='["a","b"]'`` a list. A
name is a plain identifier, so a ``:`` before the first ``=`` can only mean the typed form.
The JSON value gets the bounds a ``--vars-file`` gets (nesting depth, number length), so the two
ways in cannot differ in what they let through.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from igflow.errors import UsageError

__all__ = ["RESERVED_NAMES", "external_variables", "parse_var"]

# Names the runner itself provides; a variable of that name would hide them.
RESERVED_NAMES = ("env", "steps")


def external_variables(var_items: Sequence[str], vars_file: str | None) -> dict[str, Any]:
    """The variables of ``--vars-file`` overridden by each ``--var`` in order.

    Raises:
        UsageError: An unreadable or malformed --vars-file, a malformed --var, invalid JSON
            after ``:=``, or a reserved name.
        PlaybookSyntaxError: The --vars-file is not valid (safe, bounded) YAML.
    """
    variables: dict[str, Any] = {}
    if vars_file:
        variables.update(_read_vars_file(vars_file))
    for item in var_items:
        name, value = parse_var(item)
        variables[name] = value
    for reserved in RESERVED_NAMES:
        if reserved in variables:
            raise UsageError(f"'{reserved}' is a reserved name and cannot be set as a variable")
    return variables


def parse_var(item: str) -> tuple[str, Any]:
    """One ``--var``: ``NAME=VALUE`` is a string, ``NAME:=JSON`` the JSON value.

    Raises:
        UsageError: No ``=``, a name that is not a plain identifier, or invalid JSON.
    """
    name, sep, value = item.partition("=")
    typed = name.endswith(":")
    if typed:
        name = name[:-1]
    if not sep or not name.isidentifier():
        raise UsageError(
            "--var expects NAME=VALUE (a string) or NAME:=JSON (a number, boolean, list, ...) "
            f"with NAME a plain identifier, got '{item}'"
        )
    return name, (_json_value(name, value) if typed else value)


def _read_vars_file(path: str) -> dict[str, Any]:
    # The playbook loader: safe, bounded (size, depth, number length) and located messages.
    from igflow.errors import PlaybookSyntaxError
    from igflow.playbook.loader import load_playbook_text, read_bounded

    try:
        text = read_bounded(path, "a --vars-file").decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read --vars-file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--vars-file {path} is not UTF-8 text") from None
    try:
        loaded = load_playbook_text(text, path).data
    except PlaybookSyntaxError as exc:
        if exc.message != "playbook is empty":
            raise
        loaded = None  # only comments, or nothing: no variables
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise UsageError(f"--vars-file {path} must be a mapping of names to values")
    return loaded


class _BadJson(ValueError):
    """A JSON text json.loads would accept but a playbook value cannot be."""


def _json_value(name: str, text: str) -> Any:
    from igflow.playbook.loader import MAX_DEPTH, MAX_NUMBER_LENGTH

    def number(kind: type[int] | type[float]) -> Any:
        def convert(digits: str) -> Any:
            if len(digits) > MAX_NUMBER_LENGTH:
                raise _BadJson(f"a number of {len(digits)} characters; at most {MAX_NUMBER_LENGTH}")
            return kind(digits)

        return convert

    def constant(word: str) -> Any:
        raise _BadJson(f"{word} is not JSON (JSON has no NaN or Infinity)")

    def mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise _BadJson(f"the key '{key}' appears twice")
            result[key] = value
        return result

    hint = "; quote a string as '\"text\"', or use NAME=VALUE for a plain string"
    try:
        value = json.loads(
            text,
            parse_int=number(int),
            parse_float=number(float),
            parse_constant=constant,
            object_pairs_hook=mapping,
        )
    except _BadJson as exc:
        raise UsageError(f"--var {name}:= is not a valid value: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--var {name}:= expects JSON, but '{_shown(text)}' is not valid JSON "
            f"({exc.msg} at character {exc.pos + 1}){hint}"
        ) from None
    except RecursionError:
        raise UsageError(
            f"--var {name}:= nests deeper than {MAX_DEPTH} levels (igflow.playbook.loader."
            "MAX_DEPTH); pass deep data with --vars-file"
        ) from None
    if _depth(value) > MAX_DEPTH:
        raise UsageError(
            f"--var {name}:= nests deeper than {MAX_DEPTH} levels (igflow.playbook.loader."
            "MAX_DEPTH); pass deep data with --vars-file"
        )
    return value


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in a parsed value (iteratively: no recursion limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: list[Any] = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _shown(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."

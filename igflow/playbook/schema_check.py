"""JSON Schema validation of a loaded playbook, with messages written for people.

jsonschema's raw messages ("{'name': 'x'} is not valid under any of the given schemas") are
accurate but unhelpful. Each error is mapped to the position of the node it is about (through
``absolute_path``, the same path tuples the loader records) and re-worded: unknown keys get a
"did you mean", type errors name the field, and ``oneOf`` noise is reduced to the branch that
matches the value's type.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from igflow.errors import Issue, printable
from igflow.playbook.loader import LoadedDocument, Path
from igflow.playbook.model import ACTIONS
from igflow.playbook.suggest import did_you_mean, kind_of
from igflow.resources import playbook_schema

__all__ = ["schema_issues", "playbook_schema"]

# Keys of the language that a later version brings; the schema rejects them with this note.
_ACTION_LIST = ", ".join(ACTIONS[:-1]) + " or " + ACTIONS[-1]

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}

_REQUIRED_WORDS = {
    "igflow": "missing `igflow: 1` (the playbook format version) at the top of the playbook",
    "steps": "missing `steps:`, the list of steps to run",
    "scopes": "authorize needs `scopes:`, the list of scopes to request",
    "path": "an extraction written as a mapping needs `path:` (the JSONPath)",
    "type": "expect_error needs `type:`, an error class or group name",
}

_NAME_RULE = "use letters, digits and _, not starting with a digit"


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    return Draft7Validator(playbook_schema())


def schema_issues(doc: LoadedDocument) -> list[Issue]:
    """Validate ``doc.data`` against the playbook schema.

    Args:
        doc: A loaded playbook whose top level is a mapping.

    Returns:
        One issue per problem, each at the position of the node it is about.
    """
    errors = list(_validator().iter_errors(doc.data))
    # A value of the wrong type also fails its enum/pattern/const; the type error says it all.
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    issues: list[Issue] = []
    mapper = _Mapper(doc)
    for error in errors:
        if error.validator != "type" and tuple(error.absolute_path) in mistyped:
            continue
        # Messages quote the user's keys and values; a newline in one must not break the
        # one-line `file:line:col: message` form.
        issues.extend(
            issue._replace(message=printable(issue.message)) for issue in mapper.issues(error)
        )
    return issues


class _Mapper:
    """Turns jsonschema errors into issues, one ``on_<keyword>`` handler per keyword.

    jsonschema sets ``instance``, ``validator_value`` and ``schema`` on every error it yields;
    its stubs also admit the ``Unset`` placeholder of a bare ``ValidationError``, so handlers
    read the first two into ``Any`` locals (they are JSON values) and the schema through
    :func:`_keywords`.
    """

    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc

    def issues(self, error: ValidationError) -> Iterator[Issue]:
        path: Path = tuple(error.absolute_path)
        handler = getattr(self, f"on_{error.validator}", None)
        if handler is not None:
            yield from handler(error, path)
        else:
            yield Issue(self.doc.location(path), error.message)

    def at(self, path: Path, message: str) -> Issue:
        return Issue(self.doc.location(path), message)

    # --- one handler per jsonschema keyword -----------------------------------------------

    def on_additionalProperties(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        known = _keywords(error).get("properties", {})
        where = _where(path)
        instance: Any = error.instance
        for key in instance:
            if key in known:
                continue
            location = self.doc.key_location((*path, key))
            hint = did_you_mean(key, known)
            where_text = "" if where == "playbook" else f" in {where}"
            label = "top-level key" if where == "playbook" else "key"
            yield Issue(location, f"unknown {label} '{key}'{where_text}{hint}")

    def on_required(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        names: Any = error.validator_value
        for name in names:
            if isinstance(error.instance, dict) and name not in error.instance:
                text = _REQUIRED_WORDS.get(name, f"{_where(path)} needs '{name}'")
                yield self.at(path, text)

    def on_type(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        wanted: Any = error.validator_value
        types = [wanted] if isinstance(wanted, str) else list(wanted)
        yield self.at(path, _type_message(path, types, error.instance))

    def on_const(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        if path == ("igflow",):
            yield self.at(
                path,
                f"unsupported playbook format `igflow: {error.instance}`; "
                "this version of igflow reads `igflow: 1`",
            )
        else:
            yield self.at(path, f"{_field(path)} must be {error.validator_value!r}")

    def on_enum(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        values: Any = error.validator_value
        options = [str(v) for v in values]
        got = error.instance
        hint = did_you_mean(got, options) if isinstance(got, str) else ""
        if path == ("api",):
            yield self.at(path, f"unknown API profile {got!r} (known: {', '.join(options)}){hint}")
            return
        yield self.at(
            path, f"{_field(path)} must be one of {', '.join(options)}, got {got!r}{hint}"
        )

    def on_pattern(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        if "propertyNames" in error.schema_path:
            # jsonschema reports a bad key at its mapping; point at the key itself.
            key: Any = error.instance  # the offending key, a string
            location = self.doc.key_location((*path, key))
            yield Issue(location, f"'{error.instance}' is not a valid name: {_NAME_RULE}")
        elif path == ("target",):
            yield self.at(
                path,
                f"target must be `sandbox` or an origin URL such as "
                f"https://api.instagram.com (no path), got {error.instance!r}",
            )
        elif path == ("api_version",):
            from igflow.registry import version_problem

            yield self.at(path, version_problem(str(error.instance)) or "not an API version")
        elif path[-1:] == ("id",):
            yield self.at(path, f"'{error.instance}' is not a valid step id: {_NAME_RULE}")
        else:
            yield self.at(path, f"'{error.instance}' is not a valid name: {_NAME_RULE}")

    def on_minItems(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        if path == ("steps",):
            yield self.at(path, "`steps` is empty; a playbook needs at least one step")
        else:
            yield self.at(path, f"{_field(path)} must not be an empty list")

    def on_minLength(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        yield self.at(path, f"{_field(path)} must not be empty")

    def on_uniqueItems(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        seen: set[Any] = set()
        items: Any = error.instance
        for index, item in enumerate(items):
            key = repr(item)
            if key in seen:
                yield self.at((*path, index), f"{_field(path)} lists {item!r} twice")
                return
            seen.add(key)

    def on_exclusiveMinimum(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        yield self.at(path, f"{_field(path)} must be greater than {error.validator_value}")

    def on_oneOf(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        if _where(path) == "step" and len(path) == 2:
            yield from self.step_actions(error.instance, path)
            return
        yield from self.best_branch(error, path)

    on_anyOf = on_oneOf

    # --- helpers ---------------------------------------------------------------------------

    def step_actions(self, step: Any, path: Path) -> Iterator[Issue]:
        if not isinstance(step, dict):
            return  # the type error is reported on its own
        actions = [key for key in ACTIONS if key in step and key != "assert"]
        if not actions and "assert" in step:
            actions = ["assert"]
        if not actions:
            yield self.at(path, "step needs exactly one action: " + _ACTION_LIST)
        elif len(actions) > 1:
            names = ", ".join(actions)
            yield self.at(
                path, f"step has more than one action ({names}); split it into one step per action"
            )

    def best_branch(self, error: ValidationError, path: Path) -> Iterator[Issue]:
        # Group the sub-errors by branch; a branch whose only complaint is the value's type is
        # not what the user meant, so report inside the branch that matched the type.
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context or ():
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        types: list[str] = []
        for subs in branches.values():
            top_type = [s for s in subs if s.validator == "type" and not s.relative_path]
            if not top_type:
                for sub in subs:
                    yield from self.issues(sub)
                return
            wanted: Any = top_type[0].validator_value
            types.extend([wanted] if isinstance(wanted, str) else wanted)
        yield self.at(path, _type_message(path, list(dict.fromkeys(types)), error.instance))


def _type_message(path: Path, types: list[str], value: Any) -> str:
    if len(path) == 2 and path[0] == "steps":
        return (
            "each step must be a mapping with one action (authorize, call, set, assert or "
            f"log), got {kind_of(value)}"
        )
    if len(path) >= 4 and path[-2] == "extract":
        return (
            f"{_field(path)} must be a JSONPath or a mapping with `path:` and `default:`, "
            f"got {kind_of(value)}"
        )
    if path[-1:] == ("expect_error",):
        return (
            "'expect_error' must be an error name or a mapping with `type:` and `message:`, "
            f"got {kind_of(value)}"
        )
    words = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
    return f"{_field(path)} must be {words}, got {kind_of(value)}"


def _field(path: Path) -> str:
    """How a message names the value at ``path``: 'count', 'scopes[1]', 'the playbook'."""
    if not path:
        return "the playbook"
    text = ""
    for part in reversed(path):
        if isinstance(part, int):
            text = f"[{part}]" + text
        else:
            return f"'{part}{text}'"
    return f"'steps{text}'"


def _where(path: Path) -> str:
    """Which construct the mapping at ``path`` is, for "unknown key in ..." messages."""
    if not path:
        return "playbook"
    if len(path) == 2 and path[0] == "steps":
        return "step"
    last = path[-1]
    if isinstance(last, str):
        if len(path) >= 4 and path[-2] == "extract":
            return "extraction"
        return last
    return "list item"


def _keywords(error: ValidationError) -> Mapping[str, Any]:
    """The keywords of the subschema that failed (a boolean subschema has none)."""
    return error.schema if isinstance(error.schema, Mapping) else {}

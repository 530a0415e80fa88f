"""Check-time looks at what a template cannot tell until it runs: regular expressions written as
literals, and templates written where a JSONPath is expected.

A regular expression in a playbook goes through three readers, each with its own escapes: YAML
(in a double-quoted string ``\\b`` is a backspace), Jinja (in a string literal too) and the regex
engine. A pattern that reaches the engine holding a backspace compiles and quietly matches
nothing, so the check warns about control characters in a literal pattern, and a literal pattern
that does not compile is an error here instead of at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final, NamedTuple

from jinja2 import nodes

from igflow.filters import REGEX_FILTERS, regex_error

__all__ = [
    "RegexLiteral",
    "control_character_warning",
    "named_tests",
    "regex_literals",
    "regex_problem",
    "template_in_path_message",
]

# Filters that take a test name and its argument: select('regex_search', 'x'),
# selectattr('caption.text', 'regex_search', 'x'); the index of the test name in their args.
_TEST_TAKERS: Final = {"select": 0, "reject": 0, "selectattr": 1, "rejectattr": 1}
# A Jinja string literal, as its lexer reads one.
_STRING = re.compile(r"'([^'\\]*(?:\\.[^'\\]*)*)'|\"([^\"\\]*(?:\\.[^\"\\]*)*)\"", re.DOTALL)
_HARMLESS: Final = frozenset("\t\n\r")  # mean the same to the regex engine as their escapes


class RegexLiteral(NamedTuple):
    """A pattern written as a string literal, the filter or test it goes to, and where the
    literal starts in the text (0 when it cannot be told)."""

    filter: str
    pattern: str
    offset: int


def _patterns(ast: nodes.Node) -> Iterator[tuple[str, str]]:
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        args = node.args
        if node.name in REGEX_FILTERS and args:
            first = args[0]
            if isinstance(first, nodes.Const) and isinstance(first.value, str):
                yield node.name, first.value
        at = _TEST_TAKERS.get(node.name) if isinstance(node, nodes.Filter) else None
        if at is not None and len(args) > at + 1:
            test, pattern = args[at], args[at + 1]
            if (
                isinstance(test, nodes.Const)
                and test.value in REGEX_FILTERS
                and isinstance(pattern, nodes.Const)
                and isinstance(pattern.value, str)
            ):
                yield str(test.value), pattern.value


def _jinja_string(body: str) -> str:
    # What Jinja's lexer makes of a string literal's body (jinja2.lexer, "string" tokens).
    try:
        return body.encode("ascii", "backslashreplace").decode("unicode-escape")
    except UnicodeDecodeError:
        return body


def regex_literals(ast: nodes.Node, text: str) -> list[RegexLiteral]:
    """Every literal pattern given to a regex filter or test in ``ast`` (parsed from ``text``)."""
    found = list(_patterns(ast))
    if not found:
        return []
    literals = [
        (match.start(), _jinja_string(match.group(1) or match.group(2) or ""))
        for match in _STRING.finditer(text)
    ]
    used: set[int] = set()
    result = []
    for name, pattern in found:
        offset = 0
        for start, value in literals:
            if start not in used and value == pattern:
                used.add(start)
                offset = start
                break
        result.append(RegexLiteral(name, pattern, offset))
    return result


def named_tests(ast: nodes.Node) -> Iterator[str]:
    """The test names given as literals to select, reject, selectattr and rejectattr (Jinja
    looks them up only when the filter runs)."""
    for node in ast.find_all(nodes.Filter):
        at = _TEST_TAKERS.get(node.name)
        if at is not None and len(node.args) > at:
            test = node.args[at]
            if isinstance(test, nodes.Const) and isinstance(test.value, str):
                yield test.value


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` does not compile, or None."""
    return regex_error(pattern)


def control_character_warning(pattern: str) -> str | None:
    """What looks wrong about the control characters in a literal pattern, or None."""
    odd = [c for c in pattern if (ord(c) < 32 and c not in _HARMLESS) or ord(c) == 127]
    if not odd:
        return None
    if "\b" in odd:
        return (
            "the pattern holds a backspace (\\x08), not the word boundary \\b: YAML's "
            "double-quoted strings and Jinja's string literals both read \\b as a backspace; "
            "write \\\\b inside the expression, in single-quoted YAML or a block scalar "
            "(docs/language.md, Regular expressions)"
        )
    shown = ", ".join(sorted({f"\\x{ord(c):02x}" for c in odd}))
    return (
        f"the pattern holds the control character {shown}: an escape YAML or Jinja read "
        "before the regex engine did; write its backslash twice inside the expression "
        "(docs/language.md, Regular expressions)"
    )


# `$.data[?(@.id == '{{ x }}')]`: the filter a new user most often writes as a template.
_TEMPLATED_FILTER = re.compile(
    r"(?P<list>.*?)\[\?\(?\s*@\.(?P<field>[\w.]+)\s*==\s*(['\"]?)\{\{-?\s*(?P<name>[\w.]+)\s*-?\}\}\3"
)
_TEMPLATE_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{[{%].*", re.DOTALL)


def template_in_path_message(source: str) -> str:
    """Why a JSONPath holding ``{{ }}`` or ``{% %}`` cannot work, and how to filter instead."""
    part = _TEMPLATE_PART.search(source)
    shown = part.group(0) if part is not None else "{{ }}"
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    found = _TEMPLATED_FILTER.match(source)
    if found is not None:
        way = (
            f"extract {found.group('list')}[*] and filter it in a `set` step: "
            f"`that_list | selectattr('{found.group('field')}', 'equalto', "
            f"{found.group('name')}) | list`"
        )
    else:
        way = (
            "extract the whole list and filter it in a `set` step, e.g. "
            "`that_list | selectattr('id', 'equalto', wanted) | list`"
        )
    return (
        f"a JSONPath is not a template: {shown!r} would be matched as literal text, so this "
        f"path matches nothing; {way}"
    )

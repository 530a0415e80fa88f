"""JSONPath extraction from API responses, compiled once and cached.

DESIGN.md §7 fixes the result shape: a *singular* path (no wildcard, slice, filter, union or
recursive descent) yields one value and is an error when nothing matches, unless a default is
given; any other path yields a list of every match.

Parsing choice: jsonpath-ng's plain parser is tried first and its extended parser (filters such
as ``$.data[?(@.likes.count > 1)]``, sorting, arithmetic, ``len``) only when the plain one
fails. The extended lexer is not a superset for plain paths: it reads a field whose name begins
with ``true``/``false`` as a boolean (``$.true_count`` fails) and rejects non-ASCII names that
the plain lexer accepts. Parsing is not free (PLY), so each parser is built once per process,
:func:`compile_path` is cached, and it is meant to run at plan time only.

Most paths are a few field names, indices and ``[*]`` (``$.data.id``, ``$.data[*].username``).
Those are read and applied here, without jsonpath-ng, which is then imported (about 6 ms),
built and run only for other paths, or for a document where such a step meets a value that
jsonpath-ng versions treat differently (an index into an object, ``[*]`` on a string): the
quirks stay jsonpath-ng's own. tests/unit/test_extract_quick.py checks both agree.

Length: over 400 lines because the quick path for plain paths (names, indices, ``[*]``) sits
beside jsonpath-ng's, and the two must agree on every shape (a property test keeps them equal).
"""

from __future__ import annotations

import enum
import functools
import re
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from igflow.errors import ExtractionError, JsonPathSyntaxError, PathSyntaxError, printable
from igflow.redact import cut_before_redacting

__all__ = ["MAX_PATH_DEPTH", "MISSING", "CompiledPath", "PathSyntaxError", "compile_path"]


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING
"""Default for ``default``: no default was given (``None`` is a legitimate default)."""

_HINT_KEYS: Final = 8
# Real paths have a handful of steps; jsonpath-ng recurses once per level (see _depth).
MAX_PATH_DEPTH: Final = 100
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _is_singular(node: Any) -> bool:
    from jsonpath_ng import Child, Fields, Index, Parent, Root, This
    from jsonpath_ng.ext.iterable import Len

    # Nodes that select at most one datum from one datum. `This` is compared by exact type
    # because the extended parser's sorting and string operators subclass it.
    if isinstance(node, Child):
        return _is_singular(node.left) and _is_singular(node.right)
    if isinstance(node, Fields):
        return len(node.fields) == 1 and node.fields[0] != "*"
    if isinstance(node, Index):
        return len(node.indices) == 1
    return type(node) in (Root, This, Parent, Len)


def _steps(node: Any) -> list[Any]:
    """Flatten a chain of Child nodes into its steps, left to right."""
    from jsonpath_ng import Child

    if isinstance(node, Child):
        return _steps(node.left) + _steps(node.right)
    return [node]


def _render_step(step: Any, first: bool) -> str:
    from jsonpath_ng import Fields, Index, Root, This

    if isinstance(step, Root):
        return "$"
    if type(step) is This:
        return "@" if first else ".`this`"
    if isinstance(step, Fields) and len(step.fields) == 1:
        name = step.fields[0]
        if _IDENTIFIER.match(name):
            return name if first else f".{name}"
        return f"[{name!r}]"
    if isinstance(step, Index) and len(step.indices) == 1:
        return f"[{step.indices[0]}]"
    return str(step) if first else f".{step}"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "is an empty object"
        # The response's own keys: a control character in one must not reach the terminal.
        keys = [printable(str(key)) for key in value]
        shown = ", ".join(keys[:_HINT_KEYS])
        more = f", ... ({len(keys) - _HINT_KEYS} more)" if len(keys) > _HINT_KEYS else ""
        return f"has keys: {shown}{more}"
    if isinstance(value, list):
        return f"is a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if value is None:
        return "is null"
    if isinstance(value, bool):
        return f"is {'true' if value else 'false'}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else cut_before_redacting(value, 37) + "..."
        return f"is a string ({text!r})"
    if isinstance(value, int | float):
        return f"is a number ({value})"
    return f"is a {type(value).__name__}"


@dataclass(frozen=True, eq=False)
class CompiledPath:
    """A parsed JSONPath and the shape of what it extracts.

    Attributes:
        source: The path as written, e.g. ``"$.data.id"``.
        singular: True when the path can match at most one value (no wildcard, slice, filter,
            union or recursive descent).
    """

    source: str
    singular: bool
    _quick: tuple[tuple[int, Any], ...] | None  # the steps of a quick path, else None

    @cached_property
    def _path(self) -> Any:
        """jsonpath-ng's tree, parsed on first need (at once for a path that is not quick)."""
        return _parse(self.source)

    def __repr__(self) -> str:
        return f"CompiledPath({self.source!r}, singular={self.singular})"

    def extract(self, document: Any, default: Any = MISSING) -> Any:
        """Apply the path to one response document.

        Args:
            document: Decoded JSON.
            default: Returned when nothing matches. Without it, a singular path that matches
                nothing is an error and any other path returns an empty list.

        Returns:
            The one matched value for a singular path; otherwise a list of matched values.

        Raises:
            ExtractionError: A singular path matched nothing and no default was given, or the
                path could not be applied to the document.
        """
        matches = self._find(document)
        if matches:
            return matches[0] if self.singular else matches
        if default is not MISSING:
            return default
        if self.singular:
            raise ExtractionError(self._nothing_matched(document))
        return []

    def extract_all(self, documents: Iterable[Any]) -> list[Any]:
        """Apply the path to each document (page) in turn and concatenate the matches.

        Pages are consumed one at a time, so memory holds what is extracted, not the pages. A
        singular path contributes one value per page that has it.

        Args:
            documents: Decoded JSON pages, in order; may be a lazy iterator.

        Returns:
            Every match, page by page, in document order.

        Raises:
            ExtractionError: The path could not be applied to a page.
        """
        matches: list[Any] = []
        for document in documents:
            matches.extend(self._find(document))
        return matches

    def _find(self, document: Any) -> list[Any]:
        if self._quick is not None:
            found = _quick_find(self._quick, document)
            if found is not None:
                return found
        try:
            return [match.value for match in self._path.find(document)]
        except Exception as exc:
            # jsonpath-ng raises instead of "not found" in a few places (an index on an object,
            # a negative index past the start); for one value that is simply a miss.
            if self.singular:
                return []
            raise ExtractionError(
                f"{self.source} could not be applied to the response: {exc}"
            ) from exc

    def _nothing_matched(self, document: Any) -> str:
        """Say how far the path got, since that is usually where the typo is."""
        from jsonpath_ng import DatumInContext

        datum = DatumInContext.wrap(document)
        reached = ""
        for step in _steps(self._path):
            try:
                found = step.find(datum)
            except Exception:
                found = []
            if not found:
                break
            datum = found[0]
            reached += _render_step(step, first=not reached)
        where = reached if reached not in ("", "$") else "the response"
        hint = f"{where} {_describe(datum.value)}"
        return f"{self.source} matched nothing in the response ({hint})"


# The quick paths: `$`, then field names (`.id`), indices (`[0]`) and `[*]`. Names are those of
# the plain lexer's identifiers without its `-` and `@`, and not its keywords.
_QUICK_PATH = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:0|[1-9][0-9]{0,8}|\*)\])*\Z")
_QUICK_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]|\[\*\]")
_QUICK_KEYWORDS: Final = frozenset({"where", "wherenot"})
_QUICK_MAX_STEPS: Final = 32
_FIELD, _INDEX, _EVERY = 0, 1, 2


def _quick_steps(source: str) -> tuple[tuple[int, Any], ...] | None:
    """The steps of a path in the quick grammar; None for any other path."""
    if _QUICK_PATH.match(source) is None:
        return None
    steps: list[tuple[int, Any]] = []
    for match in _QUICK_STEP.finditer(source, 1):
        name, index = match.group(1), match.group(2)
        if name is not None:
            if name in _QUICK_KEYWORDS:
                return None
            steps.append((_FIELD, name))
        elif index is not None:
            steps.append((_INDEX, int(index)))
        else:
            steps.append((_EVERY, None))
    return tuple(steps) if len(steps) <= _QUICK_MAX_STEPS else None


def _quick_find(steps: tuple[tuple[int, Any], ...], document: Any) -> list[Any] | None:
    """The values a quick path selects, as jsonpath-ng selects them; None when a step meets a
    value that jsonpath-ng's versions treat each their own way (jsonpath-ng then decides)."""
    values = [document]
    for kind, key in steps:
        found: list[Any] = []
        for value in values:
            if kind == _FIELD:
                if isinstance(value, dict):
                    if key in value:
                        found.append(value[key])
                elif hasattr(value, "get"):
                    return None  # a mapping of another kind: jsonpath-ng reads it its own way
                # a field of anything else (no `.get`) selects nothing
            elif isinstance(value, list):
                if kind == _INDEX:
                    if key < len(value):
                        found.append(value[key])
                else:
                    found.extend(value)
            elif not (kind == _EVERY and value is None):
                return None
        values = found
    return values


def _parse(source: str) -> Any:
    # Newer jsonpath-ng releases warn that `|` (union) goes away in 2.0; the dependency is pinned
    # below 2.0, and a warning printed at plan time would only confuse a playbook's author.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _parse_either(source)


@functools.cache
def _parser(extended: bool) -> Any:
    """One parser of each kind for the process.

    jsonpath-ng's own ``parse()`` builds a new parser for every path, and building one costs more
    than parsing: PLY sets up its LALR tables each time (jsonpath-ng 1.8 regenerates them, about
    4 ms a path against 0.3 ms with a reused parser; 1.16 loads pre-built ones, 0.2 ms against
    0.1 ms). Every ``parse`` starts from fresh stacks and a fresh lexer, so a parser can be reused;
    ``_PARSE_LOCK`` keeps two threads from sharing one at the same moment.
    """
    if extended:
        from jsonpath_ng.ext.parser import ExtendedJsonPathParser

        return ExtendedJsonPathParser()
    from jsonpath_ng.parser import JsonPathParser

    return JsonPathParser()


_PARSE_LOCK = threading.Lock()


def _parse_either(source: str) -> Any:
    with _PARSE_LOCK:
        return _parse_locked(source)


def _parse_locked(source: str) -> Any:
    from jsonpath_ng.exceptions import JsonPathLexerError

    try:
        return _parser(False).parse(source)
    except Exception as plain_error:
        try:
            return _parser(True).parse(source)
        except Exception as ext_error:
            # Report the parser that got further: if the plain lexer met a character it does
            # not know but the extended one tokenized everything, the path is meant as
            # extended syntax and the extended grammar error is the useful one.
            best = plain_error
            if isinstance(plain_error, JsonPathLexerError) and not isinstance(
                ext_error, JsonPathLexerError
            ):
                best = ext_error
            detail, offset = _parse_problem(source, str(best))
            raise PathSyntaxError(f"invalid JSONPath {source!r}: {detail}", offset) from best


# jsonpath-ng's messages, with 0-based columns: "Parse error at 1:5 near token ta (ID)",
# "Error on line 1, col 7: Unexpected character: #", "Parse error near the end of string!".
_NEAR_TOKEN = re.compile(r"Parse error at (\d+):(\d+) near token (.*?) \((.*)\)\Z", re.DOTALL)
_LEXER_CHAR = re.compile(r"Error on line (\d+), col (\d+): Unexpected character: (.)", re.DOTALL)


def _parse_problem(source: str, message: str) -> tuple[str, int]:
    """jsonpath-ng's message in igflow's words, and the offset in ``source`` it is about."""
    lines = source.split("\n")

    def offset(line: str, col: str) -> int:
        before = sum(len(text) + 1 for text in lines[: max(int(line) - 1, 0)])
        return min(before + int(col), len(source))

    found = _NEAR_TOKEN.match(message)
    if found is not None:
        return f"unexpected {found.group(3)!r} here", offset(found.group(1), found.group(2))
    found = _LEXER_CHAR.match(message)
    if found is not None:
        return f"unexpected character {found.group(3)!r}", offset(found.group(1), found.group(2))
    if "end of string" in message:
        return "the path ends before it is complete (a [ or ( left open?)", len(source)
    if "EOF in string literal" in message:
        quote = max(source.rfind("'"), source.rfind('"'))
        return "a quoted name is never closed", max(quote, 0)
    return message, 0


def _depth(path: Any) -> int:
    """How deeply the parsed tree nests (iteratively: the point is not to hit recursion limits).

    Every jsonpath-ng node keeps its sub-paths as attributes (``left``/``right``, a filter's
    ``expressions``), so any attribute holding a JSONPath, or a list of them, is a child.
    """
    from jsonpath_ng import JSONPath

    deepest = 0
    stack: list[tuple[Any, int]] = [(path, 1)]
    while stack and deepest <= MAX_PATH_DEPTH:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for value in getattr(node, "__dict__", {}).values():
            for child in value if isinstance(value, list | tuple) else (value,):
                if isinstance(child, JSONPath):
                    stack.append((child, depth + 1))
    return deepest


@functools.lru_cache(maxsize=1024)
def _compile_cached(source: str) -> CompiledPath:
    quick = _quick_steps(source)
    if quick is not None:
        return CompiledPath(source, all(kind != _EVERY for kind, _ in quick), quick)
    path = _parse(source)
    # jsonpath-ng walks its trees recursively (find, str, our _is_singular): a path nested a few
    # hundred levels deep would raise RecursionError at plan time or, worse, at run time.
    if _depth(path) > MAX_PATH_DEPTH:
        raise JsonPathSyntaxError(
            f"invalid JSONPath {_shorten(source)}: nested more than {MAX_PATH_DEPTH} levels deep"
        )
    compiled = CompiledPath(source, _is_singular(path), None)
    compiled.__dict__["_path"] = path  # already parsed: the cached property's own slot
    return compiled


def _shorten(source: str, limit: int = 60) -> str:
    return repr(source if len(source) <= limit else source[: limit - 3] + "...")


def compile_path(source: str) -> CompiledPath:
    """Parse a JSONPath once; later calls with the same text return the same object.

    Args:
        source: The path, e.g. ``"$.data.likes.count"``.

    Returns:
        The compiled path.

    Raises:
        JsonPathSyntaxError: The text is not a JSONPath.
    """
    if not isinstance(source, str):
        raise JsonPathSyntaxError(f"a JSONPath must be a string, not {type(source).__name__}")
    if not source.strip():
        raise JsonPathSyntaxError("empty JSONPath")
    return _compile_cached(source)

"""Shared state of one check run: the issues found so far and the compile helpers.

Every helper *records* a problem and returns None instead of raising, because a check run
must report all problems at once. Templates, expressions and JSONPaths are compiled here, once
each, and their positions come from the loader's location table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jinja2

from igflow.envvars import ENV, env_references, not_declared_message, whole_env_message
from igflow.errors import Issue, JsonPathSyntaxError, SourceLocation, TemplateSyntaxError
from igflow.extract import CompiledPath, PathSyntaxError, compile_path
from igflow.playbook.loader import LoadedDocument, Path
from igflow.playbook.names import NameTable, names_tested_for_definition, step_references
from igflow.playbook.regex_check import (
    control_character_warning,
    named_tests,
    regex_literals,
    regex_problem,
    template_in_path_message,
)
from igflow.playbook.suggest import did_you_mean
from igflow.registry import Registry
from igflow.template_errors import PositionedSyntaxError
from igflow.templating import CompiledExpression, CompiledValue, TemplateEngine

__all__ = ["CheckContext"]

# Literal `set`/`when` values (numbers, booleans, null) become Jinja literals.
_JINJA_LITERALS = {True: "true", False: "false", None: "none"}


@dataclass
class CheckContext:
    """One check run over one document."""

    doc: LoadedDocument
    engine: TemplateEngine
    registry: Registry | None
    names: NameTable
    issues: list[Issue] = field(default_factory=list)
    # Whether the schema (or the loader) found errors: then no plan will be built.
    shape_errors: bool = False
    # Step ids seen so far (id -> location) and all ids in the playbook (for "runs later").
    step_ids: dict[str, SourceLocation] = field(default_factory=dict)
    all_step_ids: dict[str, SourceLocation] = field(default_factory=dict)
    # The `when` of the step being checked: reading a name defined under the same `when` is fine.
    current_guard: str | None = None
    # The declared environment variables (`env:` and `secrets:`): name -> public.
    env: dict[str, bool] = field(default_factory=dict)
    _parser: jinja2.Environment = field(default_factory=jinja2.Environment)

    # --- recording --------------------------------------------------------------------------

    def error(self, where: Path | SourceLocation, message: str) -> None:
        location = where if isinstance(where, SourceLocation) else self.doc.location(where)
        self.issues.append(Issue(location, message))

    def warning(self, where: Path, message: str) -> None:
        """Something that runs but is probably not what the author wants."""
        self.issues.append(Issue(self.doc.location(where), message, "warning"))

    def key_error(self, path: Path, message: str) -> None:
        """An error about a key itself (unknown, reserved...), located at the key."""
        self.issues.append(Issue(self.doc.key_location(path), message))

    def text_location(self, path: Path, lineno: int) -> SourceLocation:
        """The position of line ``lineno`` (1-based) inside the string at ``path``."""
        start = self.doc.location(path)
        if lineno <= 1 and path not in self.doc.block_scalars:
            return start
        # A block scalar's text starts on the line after its `|` / `>` indicator.
        line = start.line + lineno - (0 if path in self.doc.block_scalars else 1)
        if 1 <= line <= len(self.doc.lines):
            text = self.doc.lines[line - 1]
            return SourceLocation(start.file, line, len(text) - len(text.lstrip()) + 1)
        return start

    def offset_location(self, path: Path, text: str, offset: int) -> SourceLocation:
        """The position of character ``offset`` (0-based) of the string at ``path``.

        Exact where the file shows the text as it is up to there (a plain or quoted scalar
        without escapes before it, a block scalar's line); else the start of the string's line,
        which is never wrong, only less precise.
        """
        offset = max(0, min(offset, len(text)))
        lineno = text.count("\n", 0, offset) + 1
        start = self.text_location(path, lineno)
        if not 1 <= start.line <= len(self.doc.lines):
            return start
        source_line = self.doc.lines[start.line - 1]
        column = start.col - 1
        if lineno == 1 and path not in self.doc.block_scalars:
            if source_line[column : column + 1] in ("'", '"'):
                column += 1
            before = text[:offset]
        else:
            # text_location points at the line's first non-blank character.
            before = text[text.rfind("\n", 0, offset) + 1 : offset].lstrip(" ")
        if source_line[column : column + len(before)] != before:
            return start
        return SourceLocation(start.file, start.line, column + len(before) + 1)

    def syntax_issue(self, path: Path, text: str, exc: TemplateSyntaxError) -> Issue:
        """The issue of a template or expression that does not parse, at the character it is
        about when the engine knows it."""
        if isinstance(exc, PositionedSyntaxError):
            return Issue(self.offset_location(path, text, exc.offset), exc.message)
        return Issue(self.text_location(path, exc.lineno), exc.message)

    # --- compiling --------------------------------------------------------------------------

    def template(self, value: Any, path: Path) -> CompiledValue | None:
        """Compile a template value (recursively), reporting each bad string at its position."""
        ok = True
        for leaf_path, text in _string_leaves(value, path):
            try:
                self.engine.compile_value(text)
            except TemplateSyntaxError as exc:
                self.issues.append(self.syntax_issue(leaf_path, text, exc))
                ok = False
                continue
            except jinja2.TemplateSyntaxError as exc:
                # Jinja finds unknown filters and tests only when generating code.
                self.issues.append(
                    Issue(
                        self.text_location(leaf_path, exc.lineno or 1),
                        f"invalid template {text!r}: {exc.message}",
                    )
                )
                ok = False
                continue
            self.check_regex_literals(text, leaf_path, is_expression=False)
        if not ok:
            return None
        return self.engine.compile_value(value)  # each string is already in the engine's cache

    def expression(self, value: Any, path: Path, what: str) -> CompiledExpression | None:
        """Compile a bare expression (``when``, ``assert`` items, ``set`` values)."""
        if not isinstance(value, str):
            literal = _JINJA_LITERALS.get(value, repr(value)) if _is_literal(value) else None
            return None if literal is None else self.engine.compile_expression(literal)
        stripped = value.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            inner = stripped[2:-2].strip()
            self.error(path, f"write the {what} expression without {{{{ }}}}: `{inner}`")
            return None
        try:
            compiled = self.engine.compile_expression(value)
        except TemplateSyntaxError as exc:
            self.issues.append(self.syntax_issue(path, value, exc))
            return None
        except jinja2.TemplateSyntaxError as exc:  # unknown filter or test
            self.issues.append(
                Issue(
                    self.text_location(path, exc.lineno or 1),
                    f"invalid expression {value!r}: {exc.message}",
                )
            )
            return None
        self.check_regex_literals(value, path, is_expression=True)
        return compiled

    def jsonpath(self, source: str, path: Path) -> CompiledPath | None:
        marker = min((at for at in (source.find("{{"), source.find("{%")) if at >= 0), default=-1)
        if marker >= 0:
            self.issues.append(
                Issue(self.offset_location(path, source, marker), template_in_path_message(source))
            )
            return None
        try:
            return compile_path(source)
        except JsonPathSyntaxError as exc:
            offset = exc.offset if isinstance(exc, PathSyntaxError) else None
            where = self.doc.location(path)
            if offset is not None:
                where = self.offset_location(path, source, offset)
            self.issues.append(Issue(where, exc.message))
            return None

    def check_regex_literals(self, text: str, path: Path, *, is_expression: bool) -> None:
        """What Jinja would find only at run time: a test name given to ``select`` and its kin
        that does not exist, and regular expressions written as literals in a regex filter or
        test. One that does not compile is an error now; one with a control character in it
        (YAML's and Jinja's strings both read ``\\b`` as a backspace) is probably not the
        pattern its author meant."""
        if "regex_" not in text and "select" not in text and "reject" not in text:
            return
        try:
            ast = self._parser.parse("{{ " + text + " }}" if is_expression else text)
        except jinja2.TemplateSyntaxError:
            return  # the engine accepted it; a different reading here is not worth a report
        known = self.engine.test_names
        for name in named_tests(ast):
            if name not in known:
                hint = did_you_mean(name, (test for test in known if test.isidentifier()))
                at = text.find(name)
                where = self.offset_location(path, text, at) if at >= 0 else path
                self.error(where, f"unknown test '{name}'{hint}")
        for literal in regex_literals(ast, text):
            where = self.offset_location(path, text, literal.offset)
            problem = regex_problem(literal.pattern)
            if problem is not None:
                self.error(where, f"{literal.filter}: {problem}")
                continue
            warning = control_character_warning(literal.pattern)
            if warning is not None:
                self.issues.append(Issue(where, f"{literal.filter}: {warning}", "warning"))

    # --- names ------------------------------------------------------------------------------

    def check_value_names(self, value: Any, path: Path, extra: Iterable[str] = ()) -> None:
        """Check the names read by every template string inside ``value``."""
        for leaf_path, text in _string_leaves(value, path):
            try:
                compiled = self.engine.compile_value(text)  # cached by the engine
            except (TemplateSyntaxError, jinja2.TemplateSyntaxError):
                continue  # reported where it was compiled
            self.check_names(compiled.names, leaf_path, extra, source=text, is_expression=False)

    def check_names(
        self,
        used: Iterable[str],
        path: Path,
        extra: Iterable[str] = (),
        *,
        source: str | None = None,
        is_expression: bool = True,
        conditional_ok: bool = False,
    ) -> None:
        """Report every name in ``used`` that is not defined at this point of the playbook.

        ``conditional_ok``: reading a name a skipped step may not have defined is fine here (the
        reader copes with it, as ``outputs`` do).
        """
        allowed = set(extra)
        tested: set[str] | None = None
        for name in sorted(used):
            if name in allowed:
                continue
            if not self.names.is_defined(name):
                self.error(path, self.names.undefined_message(name, allowed))
                continue
            definition = self.names.defined.get(name)
            if (
                conditional_ok
                or definition is None
                or definition.guard
                in (
                    None,
                    self.current_guard,
                )
            ):
                continue
            if tested is None:
                tested = self._tested_for_definition(source, is_expression)
            if name not in tested:
                self.error(
                    path,
                    f"'{name}' may not exist here: it is defined at {definition.location} by a "
                    f"step that runs only when `{definition.guard}`; give this step the same "
                    f"`when`, test `{name} is defined`, or `set` it unconditionally first",
                )
        if source is not None and "steps" in used:
            self.check_step_references(source, path, is_expression)
        if source is not None and ENV in used and ENV not in allowed:
            self.check_env_references(source, path, is_expression)

    def _tested_for_definition(self, source: str | None, is_expression: bool) -> set[str]:
        if source is None:
            return set()
        try:
            ast = self._parser.parse("{{ " + source + " }}" if is_expression else source)
        except jinja2.TemplateSyntaxError:
            return set()
        return names_tested_for_definition(ast)

    def check_env_references(self, source: str, path: Path, is_expression: bool) -> None:
        """Each ``env.NAME`` must name a declared variable, and ``env`` is never used whole."""
        try:
            ast = self._parser.parse("{{ " + source + " }}" if is_expression else source)
        except jinja2.TemplateSyntaxError:
            return  # the engine accepted it; a different reading here is not worth a report
        for reference in env_references(ast):
            where = self.text_location(path, reference.lineno)
            where = self._env_column(where, reference.name, is_expression)
            if reference.name is None:
                self.error(where, whole_env_message())
            elif reference.name not in self.env:
                hint = did_you_mean(reference.name, self.env)
                self.error(where, not_declared_message(reference.name, hint))

    def _env_column(
        self, where: SourceLocation, name: str | None, is_expression: bool
    ) -> SourceLocation:
        """Move ``where`` onto the ``env`` the message is about, when its line shows it plainly
        (the parser gives lines, not columns); else leave it at the start of the text."""
        if not 1 <= where.line <= len(self.doc.lines):
            return where
        text = self.doc.lines[where.line - 1]
        if name is None:  # `env` not followed by a plain lookup (a method call is not one)
            pattern = r"\benv\b(?!\s*(?:\.\s*\w+\b(?!\s*\()|\[\s*['\"]))"
        else:
            key = re.escape(name)
            pattern = rf"\benv\s*(?:\.\s*{key}\b|\[\s*(['\"]){key}\1\s*\])"
        for match in re.finditer(pattern, text[where.col - 1 :]):
            start = where.col - 1 + match.start()
            before = text[:start]
            # Inside `{{ }}` or `{% %}` on this line, not plain text that happens to say "env".
            opened = before.count("{{") + before.count("{%")
            if is_expression or opened > before.count("}}") + before.count("%}"):
                return SourceLocation(where.file, where.line, start + 1)
        return where

    def check_step_references(self, source: str, path: Path, is_expression: bool) -> None:
        text = "{{ " + source + " }}" if is_expression else source
        try:
            ast = self._parser.parse(text)
        except jinja2.TemplateSyntaxError:
            return  # the engine accepted it; a different reading here is not worth a report
        for step_id in step_references(ast):
            if step_id in self.step_ids:
                continue
            later = self.all_step_ids.get(step_id)
            if later is not None:
                self.error(
                    path,
                    f"steps.{step_id} refers to a step that has not run yet (it is at {later})",
                )
            else:
                hint = did_you_mean(step_id, self.step_ids)
                self.error(
                    path, f"steps.{step_id}: there is no earlier step with id '{step_id}'{hint}"
                )


def _is_literal(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float)


def _string_leaves(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_leaves(item, (*path, index))

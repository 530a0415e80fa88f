"""Playbooks: load (YAML with positions), check (schema + semantics), compile (the plan).

Public API::

    load_playbook_file(path) -> LoadedDocument
    load_playbook_text(text, filename) -> LoadedDocument
    compile_playbook(doc, *, registry=None, engine=None, external_names=())
        -> (Playbook | None, [Issue])
    check_playbook(path, **kw) -> Playbook      # raises PlaybookSyntaxError or ...ValidationError
    diagnose_playbook(path, **kw) -> Diagnosis  # never raises for a bad playbook (`igflow check`)
    format_issue(issue, lines) -> str           # "file:line:col: message" + source line + caret
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from igflow.errors import Issue, PlaybookSyntaxError, SourceLocation
from igflow.playbook.loader import LoadedDocument, load_playbook_file, load_playbook_text
from igflow.playbook.model import (
    AssertionSpec,
    AuthorizeSpec,
    ExpectedError,
    Extraction,
    Playbook,
    Step,
)
from igflow.playbook.validate import check_playbook, compile_playbook, sort_issues
from igflow.registry import Registry
from igflow.resources import playbook_schema
from igflow.source import quote_source, read_source_lines
from igflow.templating import TemplateEngine

__all__ = [
    "AssertionSpec",
    "AuthorizeSpec",
    "Diagnosis",
    "ExpectedError",
    "Extraction",
    "LoadedDocument",
    "Playbook",
    "Step",
    "check_playbook",
    "compile_playbook",
    "diagnose_playbook",
    "format_issue",
    "load_playbook_file",
    "load_playbook_text",
    "playbook_schema",
]


class Diagnosis(NamedTuple):
    """Everything `igflow check` needs to print about one playbook file.

    Attributes:
        playbook: The compiled playbook, or None when there is any error.
        issues: Every problem, sorted by position (a YAML syntax error is the only issue).
        lines: The source lines (empty when the file could not be decoded).
    """

    playbook: Playbook | None
    issues: list[Issue]
    lines: list[str]

    @property
    def ok(self) -> bool:
        return self.playbook is not None


def diagnose_playbook(
    path: str,
    *,
    registry: Registry | None = None,
    engine: TemplateEngine | None = None,
    external_names: Iterable[str] = (),
) -> Diagnosis:
    """Load and check a playbook, turning every playbook problem into an issue.

    Args:
        path: The playbook file.
        registry: See :func:`compile_playbook`.
        engine: See :func:`compile_playbook`.
        external_names: See :func:`compile_playbook`.

    Returns:
        The diagnosis.

    Raises:
        UsageError: The file is missing, a directory or unreadable (not a playbook problem).
    """
    try:
        doc = load_playbook_file(path)
    except PlaybookSyntaxError as exc:
        location = exc.location or SourceLocation(path, 1, 1)
        return Diagnosis(None, [Issue(location, exc.message)], read_source_lines(path))
    playbook, issues = compile_playbook(
        doc, registry=registry, engine=engine, external_names=external_names
    )
    return Diagnosis(playbook, sort_issues(issues), doc.lines)


def format_issue(issue: Issue, lines: Sequence[str] | None) -> str:
    """Render an issue for a terminal: its one-line form, then the source line and a caret.

    Args:
        issue: The issue.
        lines: The playbook's source lines (None or empty: only the message line).

    Returns:
        Two or three lines (no trailing newline)::

            play.yml:7:11: unknown endpoint 'likes.delte' in instagram.v1; did you mean ...
                call: likes.delte
                      ^
    """
    head = str(issue)
    quoted = quote_source(issue.location, lines)
    return head if quoted is None else f"{head}\n{quoted}"

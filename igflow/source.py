"""Quoting the user's source: the line an error points at, with a caret under the column.

Used by `igflow check` (``igflow.playbook.format_issue``) and by the CLI for errors met while
running, so both look the same. Kept free of heavy imports: the CLI uses it on its error path.
"""

from __future__ import annotations

from collections.abc import Sequence

from igflow.errors import SourceLocation
from igflow.regular_file import open_regular

_MAX_READ = 1_000_000  # a playbook is small; never slurp a huge file just to quote one line


def read_source_lines(path: str) -> list[str]:
    """The file's lines for quoting; empty when it is unreadable or binary.

    Invalid UTF-8 is decoded with replacement characters, so the offending line can still be
    shown next to the message that explains it.
    """
    try:
        with open_regular(path) as fh:
            raw = fh.read(_MAX_READ)
    except OSError:
        return []
    if b"\0" in raw:
        return []
    return raw.decode("utf-8", errors="replace").splitlines()


def quote_source(location: SourceLocation, lines: Sequence[str] | None) -> str | None:
    """The source line at ``location`` and a caret under its column, indented; None if unknown."""
    if not lines or not 1 <= location.line <= len(lines):
        return None
    # Tabs would shift the caret; show each as one space so columns stay true.
    text = lines[location.line - 1].rstrip("\r\n").replace("\t", " ")
    if not text.strip():
        return None
    caret = " " * (max(location.col, 1) - 1) + "^"
    return f"    {text}\n    {caret}"

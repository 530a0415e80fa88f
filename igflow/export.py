"""The ``write`` action: serialize a value as JSON, JSON Lines or CSV and replace a file atomically.

Atomic means: the text goes to a temporary file in the target's directory, is flushed and
fsynced, then ``os.replace``-d over the target (an atomic rename on POSIX and Windows), and the
directory is fsynced so the rename itself survives a power cut. A crash at any moment leaves the
old file or the new one, never half of either; the temporary file is removed on failure.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from igflow.errors import StepError, UsageError

__all__ = ["ExportError", "WriteFailed", "atomic_write_text", "serialize"]


class ExportError(StepError):
    """The value cannot be written in the asked format (a data problem: exit 1)."""


class WriteFailed(UsageError):
    """The file cannot be written (permissions, a directory in the way, disk full: exit 2)."""


def serialize(value: Any, fmt: str, columns: Sequence[str] | None = None) -> tuple[str, int]:
    """Render ``value`` as ``fmt`` text.

    Args:
        value: JSON-like data; a list for ``jsonl`` and ``csv``.
        fmt: ``json``, ``jsonl`` or ``csv``.
        columns: For ``csv``: the columns in order (default: keys in order of first appearance).

    Returns:
        The text and the number of records in it (rows for jsonl/csv, 1 for json).

    Raises:
        ExportError: The value does not fit the format.
    """
    if fmt == "json":
        return _dumps(value, indent=2) + "\n", 1
    rows = _rows(value, fmt)
    if fmt == "jsonl":
        return "".join(_dumps(row) + "\n" for row in rows), len(rows)
    if fmt == "csv":
        return _csv_text(rows, columns), len(rows)
    raise ExportError(f"unknown format {fmt!r} (json, jsonl or csv)")


def atomic_write_text(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, creating parent directories.

    Raises:
        WriteFailed: The file or its directory cannot be written.
    """
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    try:
        os.makedirs(directory, exist_ok=True)
        if os.path.isdir(target):
            raise WriteFailed(f"cannot write {path}: it is a directory")
        fd, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        raise WriteFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        # mkstemp creates 0600 files; an export gets the target's mode, else the umask's.
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise WriteFailed(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    _fsync_directory(directory)


def _mode_for(target: str) -> int:
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: str) -> None:
    # Makes the rename durable; not possible (nor needed) on every platform.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _dumps(value: Any, indent: int | None = None) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)
    except ValueError as exc:  # circular structures
        raise ExportError(f"cannot write the value as JSON: {exc}") from None


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise ExportError(f"cannot write a {type(value).__name__} as JSON")


def _rows(value: Any, fmt: str) -> list[Any]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ExportError(f"{fmt} needs a list of records, got {_kind(value)}")
    return list(value)


def _csv_text(rows: list[Any], columns: Sequence[str] | None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if rows and all(isinstance(row, list | tuple) for row in rows) and columns is None:
        for row in rows:  # a table given as lists: no header to invent
            writer.writerow([_cell(cell) for cell in row])
        return buffer.getvalue()
    header = list(columns) if columns is not None else _columns(rows)
    writer.writerow(header)
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Mapping):
            writer.writerow([_cell(row.get(name)) for name in header])
        elif isinstance(row, list | tuple):
            writer.writerow([_cell(cell) for cell in row])
        else:
            raise ExportError(f"csv row {number} is {_kind(row)}, not a mapping or a list")
    return buffer.getvalue()


def _columns(rows: list[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ExportError(
                f"csv row {number} is {_kind(row)}: without `columns`, rows must be mappings"
            )
        for key in row:
            seen.setdefault(str(key), None)
    return list(seen)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return _dumps(value)  # nested values stay machine-readable


def _kind(value: Any) -> str:
    names: Mapping[type, str] = {dict: "a mapping", str: "a string", list: "a list"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return "null" if value is None else f"a {type(value).__name__}"

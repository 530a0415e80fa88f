"""The ``write`` action: serialize a value as JSON, JSON Lines or CSV and replace a file atomically.

Atomic means: the text goes to a new temporary file (created with ``O_EXCL``, never through a
link) in the target's directory, is flushed and fsynced, then renamed over the target (atomic
on POSIX), and the directory is fsynced so the rename itself survives a power cut. A crash at
any moment leaves the old file or the new one, never half of either; the temporary file is
removed on failure. Only regular files are replaced: a device, FIFO, socket, directory or
symbolic link in the way is refused, and so are the files a run must never touch (the playbook,
the --vars-file).

CSV cells a spreadsheet would run as a formula are neutralised (see ``csv_cell``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from igflow.errors import ExportError, UnsafeTarget, WriteFailed
from igflow.outputs import real_path
from igflow.regular_file import file_kind

__all__ = [
    "ExportError",
    "UnsafeTarget",
    "WriteFailed",
    "atomic_write_text",
    "serialize",
    "write_in_directory",
]


def serialize(
    value: Any,
    fmt: str,
    columns: Sequence[str] | None = None,
    *,
    warnings: list[str] | None = None,
) -> tuple[str, int]:
    """Render ``value`` as ``fmt`` text.

    Args:
        value: JSON-like data; a list for ``jsonl`` and ``csv``.
        fmt: ``json``, ``jsonl`` or ``csv``.
        columns: For ``csv``: the columns in order (default: keys in order of first appearance).
        warnings: Gets one line per chosen ``columns`` entry that some rows lack or that holds
            lists or mappings (written as JSON text): the file is still written, since rows
            with optional fields are normal, but a typo or an unpicked field is said out loud.

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
        if columns is not None and warnings is not None:
            warnings.extend(column_warnings(rows, columns))
        return _csv_text(rows, columns), len(rows)
    raise ExportError(f"unknown format {fmt!r} (json, jsonl or csv)")


def atomic_write_text(path: str, text: str, *, protected: Mapping[str, str] | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, creating parent directories.

    For paths the user gave on the command line (``--report``): the parent directories are
    followed wherever they lead, but the file itself must be a regular file or not exist yet.
    ``write`` steps go through ``igflow.outputs.OutputDir``, which also confines the path.

    Args:
        path: The file to replace.
        text: Its new content.
        protected: Files that must never be replaced (real path -> what it is, for the
            message): the playbook, the --vars-file.

    Raises:
        WriteFailed: The file or its directory cannot be written.
        UnsafeTarget: The path names something other than a regular file, or a protected one.
    """
    target = os.path.abspath(path)
    directory, name = os.path.split(target)
    try:
        os.makedirs(directory, exist_ok=True)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise WriteFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        write_in_directory(
            dir_fd, name, text, shown=path, real_path=real_path(target), protected=protected
        )
    finally:
        os.close(dir_fd)


def write_in_directory(
    dir_fd: int,
    name: str,
    text: str,
    *,
    shown: str,
    real_path: str,
    protected: Mapping[str, str] | None = None,
) -> None:
    """Replace the entry ``name`` of the open directory ``dir_fd`` with a regular file.

    Everything happens relative to ``dir_fd``, so a directory renamed or swapped for a link
    meanwhile cannot redirect the write. The target is never opened: the text goes to a new
    temporary file (``O_EXCL``, never a link) in the same directory, which is renamed over it.

    Args:
        shown: The path as the user wrote it, for messages.
        real_path: The target's real path, compared with ``protected``.

    Raises:
        WriteFailed, UnsafeTarget: as ``atomic_write_text``.
    """
    existing = _lstat(dir_fd, name, shown)
    refuse_unsafe_target(existing, shown, real_path, protected)
    mode = stat.S_IMODE(existing.st_mode) if existing is not None else _default_mode()
    temporary = _create_temporary(dir_fd, name, shown)
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        # The temporary file is created 0600; an export gets the target's mode, else the umask's.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=dir_fd)
        if isinstance(exc, OSError):
            raise WriteFailed(f"cannot write {shown}: {exc.strerror or exc}") from None
        raise
    # Makes the rename durable; not possible (nor needed) on every file system.
    with contextlib.suppress(OSError):
        os.fsync(dir_fd)


def refuse_unsafe_target(
    existing: os.stat_result | None,
    shown: str,
    real_path: str,
    protected: Mapping[str, str] | None,
) -> None:
    """Raise ``UnsafeTarget`` unless the target is absent or a regular file nobody protects."""
    for path, what in (protected or {}).items():
        if real_path == path or (existing is not None and _same_file(existing, path)):
            raise UnsafeTarget(f"cannot write {shown}: it is {what}, which igflow never replaces")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise UnsafeTarget(
            f"cannot write {shown}: it is {file_kind(existing.st_mode)}; "
            "igflow only replaces regular files"
        )


def _same_file(existing: os.stat_result, path: str) -> bool:
    try:
        other = os.stat(path)
    except OSError:
        return False
    return (existing.st_dev, existing.st_ino) == (other.st_dev, other.st_ino)


def _lstat(dir_fd: int, name: str, shown: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WriteFailed(f"cannot write {shown}: {exc.strerror or exc}") from None


def _create_temporary(dir_fd: int, name: str, shown: str) -> str:
    """A new, empty temporary file next to the target; its name (relative to ``dir_fd``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    # The target's name, shortened: the temporary file's name must fit the file system's limit.
    stem = name[:64]
    for _ in range(100):
        temporary = f".{stem}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(temporary, flags, 0o600, dir_fd=dir_fd))
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteFailed(f"cannot write {shown}: {exc.strerror or exc}") from None
        return temporary
    raise WriteFailed(f"cannot write {shown}: no free temporary file name next to it")


def _default_mode() -> int:
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


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
    if isinstance(value, Mapping):  # a loop's result entries (igflow.results.ItemResult)
        return dict(value)
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
            writer.writerow([csv_cell(cell) for cell in row])
        return buffer.getvalue()
    header = list(columns) if columns is not None else _columns(rows)
    writer.writerow([csv_cell(name) for name in header])
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Mapping):
            writer.writerow([csv_cell(row.get(name)) for name in header])
        elif isinstance(row, list | tuple):
            writer.writerow([csv_cell(cell) for cell in row])
        else:
            raise ExportError(f"csv row {number} is {_kind(row)}, not a mapping or a list")
    return buffer.getvalue()


def column_warnings(rows: Sequence[Any], columns: Sequence[str]) -> list[str]:
    """What is off with chosen CSV ``columns``: one line per column that rows lack, and one per
    column holding lists or mappings (their cells are JSON text). Rows given as lists are
    written by position and not judged."""
    records = [row for row in rows if isinstance(row, Mapping)]
    if not records:
        return []
    found: list[str] = []
    keys: dict[str, None] = {}
    for row in records:
        keys.update((str(key), None) for key in row)
    total = len(records)
    for name in dict.fromkeys(columns):
        missing = sum(1 for row in records if name not in row)
        nested = sum(1 for row in records if isinstance(row.get(name), Mapping | list | tuple))
        if missing == total:
            from igflow.playbook.suggest import did_you_mean

            hint = did_you_mean(name, keys)
            found.append(f"no row has the column '{name}' (its cells are empty){hint}")
        elif missing:
            found.append(f"column '{name}' is missing from {missing} of {total} rows (left empty)")
        if nested:
            found.append(
                f"column '{name}' holds a list or mapping in {nested} of {total} rows, written "
                "as JSON text (build rows of plain values with a `set` step to pick one field)"
            )
    return found


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


# OWASP's list of the characters a spreadsheet takes as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number: a spreadsheet reads it as that number, so nothing runs.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def csv_cell(value: Any) -> str:
    """One CSV cell's text; anything a spreadsheet would run as a formula gets a leading ``'``.

    A string starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return becomes
    ``'=...`` (OWASP's advice against CSV injection), unless it is a plain decimal number
    (``-5``, ``+1.5e3``): a spreadsheet reads that as the number, and quoting it would turn a
    value into text. Numbers stay numbers, ``true``/``false`` and null (empty) as before.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = str(value)  # "-inf" (a float, not JSON) is checked like any text below
    else:
        text = _dumps(value)  # nested values stay machine-readable
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _kind(value: Any) -> str:
    names: Mapping[type, str] = {dict: "a mapping", str: "a string", list: "a list"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return "null" if value is None else f"a {type(value).__name__}"

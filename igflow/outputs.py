"""Where ``write`` steps may write: under one output directory, and nowhere else.

A write path is relative to the output directory (the playbook's directory, or ``--out-dir``).
The check (``path_problem``) refuses what is wrong on its face, before the run: an absolute
path, ``..`` climbing out, a path naming no file. At run time ``OutputDir`` walks the path one
directory at a time from the open output directory, opening each with ``O_NOFOLLOW``: a
symbolic link anywhere below the output directory is refused (it could lead out), so the file
written is always the directory's real descendant, whatever the file system holds or becomes
meanwhile. Missing directories are created. The file itself is replaced as
``igflow.export.write_in_directory`` does: only a regular file, never the playbook or the
--vars-file, via a temporary file and a rename.

The output directory itself may be reached through links (it is resolved once, when written).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Mapping

from igflow.errors import OutsideOutputDir

__all__ = ["OutputDir", "OutsideOutputDir", "path_problem", "protected_files"]

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def real_path(path: str) -> str:
    """``path`` with its directories' links resolved (the file itself may not exist yet, and a
    link in its own name is kept: that is what a protected-files check compares)."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(directory), name)


_OUT_DIR = "the output directory (the playbook's directory, or `igflow run --out-dir DIR`)"


def path_problem(
    path: str,
    *,
    prefix_only: bool = False,
    what: str = "write paths are",
    root: str = _OUT_DIR,
) -> str | None:
    """What keeps ``path`` from naming a file under the output directory, or None.

    Args:
        path: A write path as written (or rendered), relative to the output directory.
        prefix_only: ``path`` is only the literal start of a template (complete directory
            names): a missing file name is not a problem yet.
        what, root: The words for another confined path (a playbook's ``sandbox_data`` is
            confined the same way to the playbook's directory: igflow.playbook_files).
    """
    if "\x00" in path:
        return (
            "a write path cannot contain a NUL character"
            if what == "write paths are"
            else ("the path cannot contain a NUL character")
        )
    if path.startswith("/"):
        return f"{path!r} is an absolute path: {what} relative to {root}"
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return f"{path!r} leads outside {root}: `..` climbs above it"
        elif part not in ("", "."):
            depth += 1
    if prefix_only:
        return None
    last = path.rsplit("/", 1)[-1]
    if not path.strip():
        return "the write path is empty" if what == "write paths are" else "the path is empty"
    if last in ("", ".", ".."):
        return f"{path!r} names a directory, not a file"
    return None


def protected_files(paths: Mapping[str, str | None]) -> dict[str, str]:
    """``{what: path}`` -> ``{real path: what}``, skipping the ones not given."""
    return {os.path.realpath(path): what for what, path in paths.items() if path}


class OutputDir:
    """The output directory of a run, and the files in it a write must never replace."""

    def __init__(self, root: str, *, protected: Mapping[str, str] | None = None) -> None:
        """
        Args:
            root: The directory (created when first written to, if missing).
            protected: Real path -> what it is (``protected_files``).
        """
        self.root = root or "."
        self.protected = dict(protected or {})

    @classmethod
    def for_playbook(cls, playbook_path: str) -> OutputDir:
        """The default: the playbook's directory, with the playbook protected."""
        return cls(
            os.path.dirname(playbook_path) or ".",
            protected=protected_files({"the playbook": playbook_path}),
        )

    def write_text(self, path: str, text: str) -> None:
        """Replace ``path`` (relative to the output directory) with ``text``, atomically.

        Raises:
            OutsideOutputDir: The path leads outside (absolute, ``..``, a symbolic link).
            WriteFailed: It cannot be written; ``UnsafeTarget``: it names something igflow
                must not replace.
        """
        from igflow.export import WriteFailed, write_in_directory

        problem = path_problem(path)
        if problem is not None:
            raise OutsideOutputDir(problem)
        parts = [part for part in path.split("/") if part not in ("", ".")]
        parts = _collapse(parts)
        try:
            os.makedirs(self.root, exist_ok=True)
            real_root = os.path.realpath(self.root)
            fd = os.open(real_root, _DIRECTORY_FLAGS)
        except OSError as exc:
            raise WriteFailed(
                f"cannot write {path}: output directory {self.root}: {exc.strerror or exc}"
            ) from None
        try:
            for index, part in enumerate(parts[:-1]):
                walked = "/".join(parts[: index + 1])
                below = _open_below(fd, part, path, walked)
                os.close(fd)
                fd = below
            name = parts[-1]
            with contextlib.suppress(OSError):
                if stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise OutsideOutputDir(_link_message(path, "/".join(parts)))
            write_in_directory(
                fd,
                name,
                text,
                shown=path,
                real_path=os.path.join(real_root, *parts),
                protected=self.protected,
            )
        finally:
            os.close(fd)


def _collapse(parts: list[str]) -> list[str]:
    """Resolve ``a/../b`` by name. Sound here only because no link below the root is followed:
    every directory walked is the real child of the one before."""
    out: list[str] = []
    for part in parts:
        if part == "..":
            out.pop()  # path_problem refused any `..` that climbs above the root
        else:
            out.append(part)
    return out


def _open_below(dir_fd: int, part: str, path: str, walked: str) -> int:
    """The sub-directory ``part`` of ``dir_fd``, opened without following a link; created if
    missing."""
    from igflow.export import WriteFailed
    from igflow.regular_file import file_kind

    flags = _DIRECTORY_FLAGS | os.O_NOFOLLOW
    for _ in range(3):  # a directory created or removed meanwhile: look again
        try:
            return os.open(part, flags, dir_fd=dir_fd)
        except FileNotFoundError:
            try:
                os.mkdir(part, 0o777, dir_fd=dir_fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise WriteFailed(
                    f"cannot write {path}: cannot create {walked}: {exc.strerror or exc}"
                ) from None
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise WriteFailed(f"cannot write {path}: {walked}: {exc.strerror or exc}") from None
            try:
                mode = os.stat(part, dir_fd=dir_fd, follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                raise OutsideOutputDir(_link_message(path, walked)) from None
            raise WriteFailed(
                f"cannot write {path}: {walked} is {file_kind(mode)}, not a directory"
            ) from None
    raise WriteFailed(f"cannot write {path}: {walked} keeps changing")


def _link_message(path: str, walked: str) -> str:
    return (
        f"cannot write {path}: {walked} is a symbolic link; igflow follows no link under the "
        "output directory (a link could lead outside it)"
    )

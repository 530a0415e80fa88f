"""Files a playbook names for igflow to read (its ``sandbox_data``): confined to its own tree.

A playbook is often someone else's (a shared repository, a pull request). What it names is read
by igflow, and the sandbox quotes a dataset's values in its validation messages, so a playbook
naming ``../../etc/passwd``, ``/etc/shadow`` or a symbolic link to them would show a stranger's
files. The rules are those of write paths (igflow.outputs.path_problem: no absolute path, no
``..`` climbing above the directory), plus: the file exists, is a regular file, and its real
path (links resolved) is still under the playbook's real directory, so a link inside the tree
is fine and one leading out is not. ``--sandbox-data FILE``, typed by the user, may be anywhere.

Checked by `igflow check` (at the value's file:line:col) and again when the run starts. The
sandbox opens the file by name afterwards: a file swapped for a link in between is not caught
(it is the playbook's own directory; the check is about what the playbook says, not a race).
"""

from __future__ import annotations

import os
import stat

from igflow.outputs import path_problem
from igflow.regular_file import file_kind

__all__ = ["dataset_path", "sandbox_data_problem"]

_ROOT = "the playbook's directory"


def dataset_path(playbook_path: str, value: str) -> str:
    """Where a playbook's ``sandbox_data`` is: relative to the playbook's directory."""
    return os.path.join(os.path.dirname(playbook_path) or ".", value)


def sandbox_data_problem(playbook_path: str, value: str) -> str | None:
    """What keeps ``value`` from naming a dataset in the playbook's tree, or None."""
    problem = path_problem(value, what="sandbox_data is", root=_ROOT)
    if problem is not None:
        return f"sandbox_data: {problem}"
    path = dataset_path(playbook_path, value)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"sandbox_data: no such dataset file: {path}"
    except OSError as exc:
        return f"sandbox_data: cannot read the dataset {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"sandbox_data: {path} is {file_kind(info.st_mode)}, not a dataset file"
    root = os.path.realpath(os.path.dirname(playbook_path) or ".")
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        return (
            f"sandbox_data: {value!r} leads outside {_ROOT} through a symbolic link; keep the "
            "dataset in the playbook's tree, or pass `--sandbox-data FILE`"
        )
    return None

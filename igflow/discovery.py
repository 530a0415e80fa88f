"""Which files are playbooks, when a directory is given (``igflow check DIR``, the pytest plugin).

A playbook is a ``*.igflow.yml`` / ``*.igflow.yaml`` file, or any other ``.yml`` / ``.yaml``
file with a top-level ``igflow: 1`` line in its first 4 KiB (the format version every playbook
starts with). Other YAML (datasets, vars files, CI configs) is left alone. Light (the stdlib
and igflow.errors), because the pytest plugin asks about every YAML file of a test run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from igflow.regular_file import open_regular

__all__ = ["PLAYBOOK_SUFFIXES", "find_playbooks", "is_playbook", "starts_as_playbook"]

PLAYBOOK_SUFFIXES = (".igflow.yml", ".igflow.yaml")
_YAML_SUFFIXES = (".yml", ".yaml")
_SNIFF_BYTES = 4096


def is_playbook(path: str, *, by_content: bool = True) -> bool:
    """Whether ``path`` is a playbook by its name or (``by_content``) by its first lines."""
    name = os.path.basename(path).lower()
    if not name.endswith(_YAML_SUFFIXES):
        return False
    if name.endswith(PLAYBOOK_SUFFIXES):
        return True
    return by_content and starts_as_playbook(path)


def starts_as_playbook(path: str) -> bool:
    """A top-level ``igflow: 1`` line near the top of the file (a regular file: a named pipe
    would block the open, a device never end the read)."""
    try:
        with open_regular(path) as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    for raw in head.splitlines():
        line = raw.split(b"#", 1)[0].rstrip()
        if line.replace(b" ", b"").replace(b"\t", b"") in (
            b"igflow:1",
            b"igflow:'1'",
            b'igflow:"1"',
        ):
            return not raw[:1].isspace()
    return False


def find_playbooks(directory: str) -> Iterator[str]:
    """The playbooks under ``directory``, recursively, in sorted order; hidden directories
    (``.git``, ``.igflow``) and ``__pycache__`` are skipped."""
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(root, name)
            if is_playbook(path):
                yield path

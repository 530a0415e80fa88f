"""Opening a file the user named only when it is a regular file (a playbook, a vars file).

A named pipe blocks ``open()`` until a writer comes, which may be never (``igflow check DIR``
with a FIFO in it hung); a device never ends (/dev/zero) or waits for a person (/dev/tty). The
file is opened without blocking and judged by ``fstat`` on the open descriptor, so nothing can be
swapped in between the check and the read. Light (the stdlib and igflow.errors): discovery
uses it, for the pytest plugin.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from igflow.errors import NotRegularFile

__all__ = ["file_kind", "open_regular"]


def file_kind(mode: int) -> str:
    """``a directory``, ``a FIFO``...: what a non-regular file is, for messages."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    for test, kind in kinds:
        if test(mode):
            return kind
    return "not a regular file" if not stat.S_ISREG(mode) else "a regular file"


def open_regular(path: str) -> BinaryIO:
    """``path`` opened for reading in binary, if it is a regular file (links followed).

    Raises:
        NotRegularFile: It is something else (nothing is read from it).
        OSError: It cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, file_kind(mode))
        os.set_blocking(fd, True)  # no effect on a regular file's reads; plain from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise

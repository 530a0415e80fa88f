"""What a command may touch: its streams and environment variables (tests inject their own)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from igflow.textout import DegradingStream

__all__ = ["Environment", "isatty"]


class Environment:
    """Streams and environment variables of one command.

    stdout and stderr degrade to ASCII on a console that cannot show a character
    (:mod:`igflow.textout`), so output never crashes a run.
    """

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.stdout: TextIO = DegradingStream(stdout if stdout is not None else sys.stdout)  # type: ignore[assignment]
        self.stderr: TextIO = DegradingStream(stderr if stderr is not None else sys.stderr)  # type: ignore[assignment]
        self.stdin: TextIO = stdin if stdin is not None else sys.stdin
        self.environ: Mapping[str, str] = dict(os.environ) if environ is None else environ

    def color(self, stream: TextIO, choice: str = "auto") -> bool:
        """Colour or not: ``--color`` wins; then, as CPython decides for its own output,
        NO_COLOR (set: no colour), FORCE_COLOR (set, non-empty: colour even when piped),
        TERM=dumb (no colour); else colour on a terminal only."""
        if choice != "auto":
            return choice == "always"
        if "NO_COLOR" in self.environ:
            return False
        if self.environ.get("FORCE_COLOR"):
            return True
        if self.environ.get("TERM") == "dumb":
            return False
        return isatty(stream)

    def live(self, stream: TextIO) -> bool:
        """Whether progress may rewrite lines in place: a terminal that is not TERM=dumb."""
        return isatty(stream) and self.environ.get("TERM") != "dumb"


def isatty(stream: TextIO) -> bool:
    probe = getattr(stream, "isatty", None)
    try:
        return bool(probe and probe())
    except ValueError:  # a closed stream
        return False

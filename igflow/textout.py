"""Text streams that degrade instead of crashing: a console that cannot show a character.

igflow's output uses a few characters outside ASCII (→, ×, …, –). On a console whose encoding
cannot show them (``PYTHONIOENCODING=ascii``, a cp1252 Windows console, ``LANG=C`` on an old
system), writing one raises ``UnicodeEncodeError``. :class:`DegradingStream` writes the text as
it is when it can, and otherwise an ASCII spelling of those characters (``->``, ``x``, ``...``)
with anything else escaped (``\\u2603``), so a run never dies of its own output.
"""

from __future__ import annotations

from typing import Any, TextIO

__all__ = ["DegradingStream", "ascii_spelling"]

_SPELLINGS = str.maketrans(
    {
        "→": "->",
        "←": "<-",
        "×": "x",
        "…": "...",
        "–": "-",
        "—": "--",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "✓": "ok",
        "•": "*",
        "µ": "u",
    }
)


def ascii_spelling(text: str, encoding: str = "ascii") -> str:
    """``text`` in characters ``encoding`` can show: known symbols spelled, the rest escaped."""
    spelled = text.translate(_SPELLINGS)
    return spelled.encode(encoding, errors="backslashreplace").decode(encoding)


class DegradingStream:
    """Wraps a text stream; every other attribute is the stream's own."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            return self._stream.write(ascii_spelling(text, encoding))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

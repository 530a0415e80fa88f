"""Every secret value the sandbox issued, so its request log can mask them wherever they appear.

Redacting by parameter name misses a token pasted into a path segment or a search query. The
sandbox knows each secret it hands out (access tokens, client secrets, OAuth codes, session ids,
CSRF nonces and tokens), and each ends in 32 lowercase hex digits, so a line is scanned once
for hex runs and every 32-digit window is looked up: linear in the line, whatever the number
of secrets. A secret of another shape (none today) falls back to a plain substring search.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

MASK = "***"
CORE = 32
_HEX_RUN = re.compile(rf"[0-9a-f]{{{CORE},}}")
_CORE_AT_END = re.compile(rf"[0-9a-f]{{{CORE}}}$")


class SecretIndex:
    """A thread-safe set of secret values with a masking function.

    Args:
        lookup: Asked about a 32-hex run the index does not know; returns the whole secret it
            ends (from the database: another process may have issued it) or None.
    """

    def __init__(self, lookup: Callable[[str], str | None] | None = None) -> None:
        self._by_core: dict[str, str] = {}  # last 32 hex digits → the whole secret
        self._plain: set[str] = set()
        self._lookup = lookup
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if not value:
            return
        with self._lock:
            if _CORE_AT_END.search(value):
                self._by_core[value[-CORE:]] = value
            elif len(value) >= 8:  # shorter values would mask ordinary words
                self._plain.add(value)

    def add_all(self, values: Iterable[str]) -> None:
        for value in values:
            self.add(value)

    def __contains__(self, value: str) -> bool:
        with self._lock:
            return self._by_core.get(value[-CORE:]) == value or value in self._plain

    def redact(self, text: str) -> str:
        """``text`` with every known secret (and any bare 32-hex tail of one) masked."""
        spans: list[tuple[int, int]] = []
        for run in _HEX_RUN.finditer(text):
            start, end = run.span()
            for i in range(start, end - CORE + 1):
                whole = self._secret_for(text[i : i + CORE], exact=end - start == CORE)
                if whole is None:
                    continue
                prefix = whole[:-CORE]
                begin = i - len(prefix) if prefix and text[:i].endswith(prefix) else i
                spans.append((begin, i + CORE))
        if spans:
            text = _mask(text, spans)
        with self._lock:
            plain = sorted(self._plain, key=len, reverse=True)
        for value in plain:
            text = text.replace(value, MASK)
        return text

    def _secret_for(self, core: str, *, exact: bool) -> str | None:
        with self._lock:
            whole = self._by_core.get(core)
        if whole is None and exact and self._lookup is not None:
            # Only whole 32-digit runs go to the database: a 64-digit `sig` would cost 33.
            whole = self._lookup(core)
            if whole is not None:
                self.add(whole)
        return whole


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    out, last = [], 0
    for begin, end in merged:
        out.append(text[last:begin])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)

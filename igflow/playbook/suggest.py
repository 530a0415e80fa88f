"""Small wording helpers shared by the checks: "did you mean" and type names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["did_you_mean", "closest", "kind_of", "quoted_list"]


def closest(word: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The candidates closest to ``word``, best first (case-insensitive)."""
    pool = sorted(set(candidates))
    by_lower = {c.lower(): c for c in pool}
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=n, cutoff=cutoff)
    return [by_lower[f] for f in found]


def did_you_mean(word: str, candidates: Iterable[str], n: int = 1, cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` (or ``'x', 'y'``), or "" when nothing is close."""
    found = closest(word, candidates, n=n, cutoff=cutoff)
    if not found:
        return ""
    return "; did you mean " + quoted_list(found, "or") + "?"


def quoted_list(words: Iterable[str], last: str = "and") -> str:
    """``'a', 'b' and 'c'``."""
    items = [f"'{w}'" for w in words]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def kind_of(value: Any) -> str:
    """The YAML-ish name of a value's type, for "got ..." in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__

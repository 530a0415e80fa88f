"""Cursor paging (§4): ``paging.cursors.before/after``, ``next``/``previous`` as full URLs.

A cursor is opaque to clients; here it is the base64 of the boundary item's sort key (created,
id), so a page boundary survives inserts and deletes between requests. Lists are newest first.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_CURSOR_CHARS = 200


class CursorError(ValueError):
    pass


def encode_cursor(item: dict[str, Any]) -> str:
    raw = f"{float(item['created']):.3f}:{item['id']}".encode()
    return "QVFI" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    if len(cursor) > MAX_CURSOR_CHARS or not cursor.startswith("QVFI"):
        raise CursorError(cursor[:40])
    body = cursor[4:]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        created, _, item_id = text.partition(":")
        return float(created), item_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError(cursor[:40]) from None


def _key(item: dict[str, Any]) -> tuple[float, str]:
    return (round(float(item["created"]), 3), str(item["id"]))


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    has_after: bool
    has_before: bool

    def cursors(self) -> dict[str, str]:
        if not self.items:
            return {}
        return {"before": encode_cursor(self.items[0]), "after": encode_cursor(self.items[-1])}


def page(
    items: Sequence[dict[str, Any]], limit: int, after: str | None, before: str | None
) -> Page:
    """One page of ``items`` (sorted newest first) after or before a cursor."""
    ordered = list(items)
    if after:
        bound = decode_cursor(after)
        ordered = [item for item in ordered if _key(item) < bound]
        return Page(ordered[:limit], has_after=len(ordered) > limit, has_before=True)
    if before:
        bound = decode_cursor(before)
        earlier = [item for item in ordered if _key(item) > bound]
        chosen = earlier[-limit:]
        return Page(chosen, has_after=True, has_before=len(earlier) > limit)
    return Page(ordered[:limit], has_after=len(ordered) > limit, has_before=False)


def paging_object(
    result: Page, url_for: Callable[[dict[str, str]], str] | None
) -> dict[str, Any] | None:
    """The ``paging`` member; ``url_for`` None (an expanded edge) gives cursors only (§4)."""
    cursors = result.cursors()
    if not cursors:
        return None
    paging: dict[str, Any] = {"cursors": cursors}
    if url_for is not None:
        if result.has_after:
            paging["next"] = url_for({"after": cursors["after"]})
        if result.has_before:
            paging["previous"] = url_for({"before": cursors["before"]})
    return paging

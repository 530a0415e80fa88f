"""What the query mixins in ``store_media`` and ``store_social`` need from their host class.

The mixins annotate ``self`` with ``StoreHost``, so mypy checks their bodies against this
protocol, and checks every call on a ``Store`` against it too: ``Store`` must keep providing
these members for its mixin methods to be callable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from igflow.sandbox.db import Database


class StoreHost(Protocol):
    @property
    def db(self) -> Database: ...

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]: ...

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None: ...

    def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any: ...

    def _write(self, sql: str, params: Iterable[Any] = ()) -> int: ...

    def short_users(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...

"""Fixtures for the sandbox content tests: a loaded in-memory store and a handler caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import pytest
from sandbox_helpers import NOW, viewer

from igflow.registry import load_registry
from igflow.sandbox.contract import HandlerResult, RequestContext, Viewer
from igflow.sandbox.dataset import read_dataset
from igflow.sandbox.db import Database
from igflow.sandbox.store import Store


@pytest.fixture
def db() -> Database:
    database = Database(":memory:")
    store = Store(database)
    store.create_schema()
    store.load(read_dataset(None))
    return database


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db)


CallFn = Callable[..., HandlerResult]


@pytest.fixture
def call(db: Database) -> CallFn:
    """Call a handler as the app would: ``call("media.shortcode", shortcode="x", as_=viewer())``."""
    from igflow.sandbox.handlers import HANDLERS

    registry = load_registry()

    def _call(
        endpoint_id: str,
        *,
        as_: Viewer | None | str = "grant",
        era: str = "2016",
        client_id: str | None = None,
        **params: Any,
    ) -> HandlerResult:
        endpoint = registry.get(endpoint_id)
        who = viewer() if as_ == "grant" else as_
        assert who is None or isinstance(who, Viewer)
        path = {k: str(v) for k, v in params.items() if k in endpoint.path_params}
        rest = {k: str(v) for k, v in params.items() if k not in path}

        def next_url(replace: Mapping[str, str]) -> str:
            merged = {**rest, **replace}
            return f"http://sandbox.test/v1{endpoint.build_path(path)}?{urlencode(merged)}"

        ctx = RequestContext(
            endpoint=endpoint,
            path_params=path,
            params=rest,
            viewer=who,
            client_id=client_id or (who.client_id if who else None),
            era=era,
            db=db,
            now=NOW,
            next_url=next_url,
        )
        return HANDLERS[endpoint_id](ctx)

    return _call

"""What a test can do with a sandbox it was given, served or mocked: the same helpers for both.

A :class:`SandboxHandle` works on the sandbox *app* in process (no HTTP): tokens are granted
through the app's own OAuth state, state is read from its database, the clock and faults are
the app's own. A Graph sandbox's helpers that differ from v1's (tokens, users, apps, state
views, datasets) are in :mod:`igflow.testing.graph`; the handle picks them by profile. The app
sits in an :class:`AppSlot`, so :meth:`SandboxHandle.reset` (and
:meth:`SandboxHandle.load`) put a fresh app, built from the same config, in its place without
stopping the server or the mock: that is how the session fixture resets between tests.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from igflow.errors import UsageError
from igflow.testing.graph import (
    GraphState,
    control,
    graph_client,
    graph_token,
    graph_user_id,
    graph_users,
    load_file,
    load_mapping,
)
from igflow.testing.profiles import Profile
from igflow.testing.v1 import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from igflow.sandbox.clients import Client
    from igflow.sandbox.config import SandboxConfig
    from igflow.sandbox.faults import FaultSpec

__all__ = ["AppSlot", "ClockControl", "SandboxHandle", "SandboxState"]

_REQUEST_LOG = "requests.jsonl"


class AppSlot:
    """A WSGI app that forwards to the sandbox app it holds; the app can be swapped for a new one.

    Owns a temporary directory for the request log, removed by :meth:`close`.
    """

    def __init__(
        self, profile: Profile, config: SandboxConfig, dataset: dict[str, Any] | None = None
    ) -> None:
        self.profile = profile
        self.api = profile.api  # what the server's malformed-request answers read (its envelope)
        # Checked before anything is made: a v1-only setting (era, generate) on Graph is refused.
        if profile.graph:
            config = replace(config, api="graph")
        self._dir = tempfile.TemporaryDirectory(prefix="igflow-sandbox-")
        self.log_path = os.path.join(self._dir.name, _REQUEST_LOG)
        # Every app of this slot logs its requests here (the user's own request_log is kept
        # out: a test reads the log through the handle).
        self.config = replace(config, request_log=self.log_path)
        self._dataset = dataset
        self._lock = threading.Lock()
        self._app: Any = profile.make_app(self.config, dataset)

    @property
    def app(self) -> Any:
        """The app serving now: a v1 SandboxApp, or a GraphApp for the Graph profile."""
        app = self._app
        if app is None:
            raise UsageError("this sandbox has been stopped")
        return app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer: Iterable[bytes] = self.app(environ, start_response)
        return answer

    def replace(self, dataset: dict[str, Any] | None = None, *, keep_dataset: bool = True) -> None:
        """A fresh app from the same config (and the same dataset, unless ``dataset`` is given).

        Requests in flight finish on the old app's objects; its database is closed after the swap.
        """
        if dataset is not None or not keep_dataset:
            self._dataset = dataset
        fresh = self.profile.make_app(self.config, self._dataset)
        with self._lock:
            old, self._app = self._app, fresh
        if old is not None:
            old.close()
        # The new app appends to the same file: start it empty, as the new state is.
        with open(self.log_path, "w", encoding="utf-8"):
            pass

    def close(self) -> None:
        """Release the app (its database and request log) and the temporary directory."""
        with self._lock:
            old, self._app = self._app, None
        if old is not None:
            old.close()
        self._dir.cleanup()


class ClockControl:
    """The sandbox's clock; moving it needs a fake clock (``clock="fake"`` in the config)."""

    def __init__(self, slot: AppSlot) -> None:
        self._slot = slot

    def now(self) -> float:
        return float(self._slot.app.clock.now())

    def _fake(self) -> Any:
        from igflow.sandbox.clock import FakeClock

        clock = self._slot.app.clock
        if not isinstance(clock, FakeClock):
            raise UsageError(
                "the sandbox runs on real time; configure it with clock='fake' to move its "
                "clock (@pytest.mark.igflow_sandbox(clock='fake'), or igflow.mock(clock='fake'))"
            )
        return clock

    def advance(self, seconds: float) -> float:
        return float(self._fake().advance(seconds))

    def set(self, epoch: float) -> float:
        return float(self._fake().set(epoch))


class SandboxHandle:
    """A sandbox under test: where it is, and helpers for tokens, clients, state and faults."""

    def __init__(self, slot: AppSlot, url: str) -> None:
        self._slot = slot
        self.url = url  # the origin to aim code at: http://127.0.0.1:PORT, or the real host
        self.api = slot.profile.api
        self._graph = slot.profile.graph
        self.state: Any = GraphState(slot) if self._graph else SandboxState(slot)
        self.clock = ClockControl(slot)

    @property
    def app(self) -> Any:
        """The sandbox app serving now (a new one after each reset): a v1 ``SandboxApp``, or a
        ``GraphApp`` for ``instagram.graph``."""
        return self._slot.app

    @property
    def config(self) -> SandboxConfig:
        return self._slot.config

    # ---- users, clients, tokens ---------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        """The demo users: id, username, full_name, private, password (demo data); on Graph:
        id, username, password, account_type, professional, name."""
        if self._graph:
            return graph_users(self.app)
        from igflow.sandbox.admin import user_summary

        return [user_summary(user) for user in self.app.store.list_users()]

    def user_id(self, username: str) -> str:
        if self._graph:
            return graph_user_id(self.app, username)
        user = self.app.store.user_by_username(username)
        if user is None:
            raise UsageError(f"no sandbox user '{username}'")
        return str(user["id"])

    def client(self, name: str = "default") -> Any:
        """A registered client (``client_id``, ``client_secret``, ``redirect_uris``, ...); on
        Graph an app of the dataset (``client_id``, ``secret``, ``redirect_uris``, ...)."""
        if self._graph:
            return graph_client(self.app, name)
        found = self.app.oauth_state.client_by_name(name)
        if found is None:
            known = ", ".join(c.name for c in self.app.oauth_state.clients())
            raise UsageError(f"no sandbox client '{name}' (known: {known})")
        return found

    def add_client(self, name: str, **fields: Any) -> Client:
        """Register a client: ``redirect_uris``, ``implicit``, ``signed``, ``mode``,
        ``sandbox_users`` (usernames), as ``igflow sandbox clients add`` takes them. v1 only:
        a Graph sandbox's apps come from its dataset (``load()`` one with more apps)."""
        if self._graph:
            raise UsageError(
                "a Graph sandbox's apps come from its dataset: load() a dataset with the app"
            )
        from igflow.sandbox.admin import add_client_from_json
        from igflow.sandbox.clients import ClientSpecError

        try:
            return add_client_from_json(
                self.app.oauth_state, self.app.store, {"name": name, **fields}
            )
        except ClientSpecError as exc:
            raise UsageError(str(exc)) from None

    def token(
        self,
        username: str,
        scopes: Iterable[str] | None = None,
        *,
        client: str = "default",
        kind: str = "long",
    ) -> str:
        """An access token for ``username``, granted ``scopes`` by ``client``.

        v1 (default scopes ``basic``, always granted): the grant is recorded as the consent
        page records it (one token per user and client; more scopes widen the same grant).
        What the consent page would refuse is refused: unknown scopes, and users that are not
        among a sandbox-mode client's sandbox users. ``kind`` is Graph's only.

        Graph (default ``instagram_business_basic``): a token as ``POST /_sandbox/token`` issues
        it, long-lived (60 days) or ``kind="short"`` (1 hour); unknown permissions, unknown
        accounts and apps, and personal accounts are refused.
        """
        app = self.app
        if scopes is None:
            scopes = self._slot.profile.default_scopes
        if self._graph:
            return graph_token(app, username, scopes, client, kind)
        if kind != "long":
            raise UsageError("kind= is for Graph tokens; a v1 token has no short/long kind")
        wanted = list(scopes)
        unknown = [scope for scope in wanted if scope not in app.registry.scopes]
        if unknown:
            known = ", ".join(sorted(app.registry.scopes))
            raise UsageError(f"unknown scope(s) {', '.join(unknown)} (known: {known})")
        registered = self.client(client)
        user_id = self.user_id(username)
        if registered.mode == "sandbox" and user_id not in registered.sandbox_users:
            raise UsageError(
                f"'{username}' is not a sandbox user of client '{client}', so it cannot "
                "authorize it (add the user to the client's sandbox_users)"
            )
        return str(app.oauth_state.grant(user_id, registered.client_id, wanted).token)

    # ---- faults, rate limits, the request log -----------------------------------------------
    def set_faults(self, **settings: Any) -> FaultSpec:
        """Inject faults (``fail_nth``, ``fail_rate``, ``fail_status``, ``drop_nth``,
        ``drop_rate``, ``latency_ms``, ``exhaust_rate_limit``, ``phase``, ``seed``), as
        ``POST /_sandbox/faults`` takes them; replaces the faults set before."""
        from igflow.sandbox.faults import FaultSpec, FaultSpecError

        try:
            spec = FaultSpec.from_dict(settings)
        except FaultSpecError as exc:
            raise UsageError(str(exc)) from None
        self.app.faults.set(spec)
        return spec

    def clear_faults(self) -> None:
        from igflow.sandbox.faults import FaultSpec

        self.app.faults.set(FaultSpec())

    def reset_rate_limits(self) -> None:
        if self._graph:
            self.app.usage.reset()  # the app and account usage (X-App-Usage, BUC)
        else:
            self.app.limiter.reset()

    # ---- Graph only: events the API cannot cause ------------------------------------------------
    def comment_as(
        self, media_id: str, username: str, text: str, *, parent_id: str | None = None
    ) -> str:
        """Graph: "another user commented" (``POST /_sandbox/graph/comments``: webhooks to
        subscribed apps, mentions); the new comment's id."""
        body: dict[str, Any] = {"media_id": str(media_id), "username": username, "text": text}
        if parent_id is not None:
            body["parent_id"] = str(parent_id)
        return str(control(self._graph_app(), "/_sandbox/graph/comments", body)["id"])

    def inject_error(self, error: str, times: int = 1, endpoint: str | None = None) -> None:
        """Graph: the next call(s) (to ``endpoint``, an endpoint id, or any) answer a catalogued
        error (``POST /_sandbox/graph/errors``: ``app_limit``, ``user_limit``, ...)."""
        body: dict[str, Any] = {"error": error, "times": times}
        if endpoint is not None:
            body["endpoint"] = endpoint
        control(self._graph_app(), "/_sandbox/graph/errors", body)

    def revoke(self, username: str, reason: str = "logged_out") -> int:
        """Graph: invalidate the account's tokens (``password_changed``, ``app_removed`` or
        ``logged_out``); how many."""
        body = {"user": username, "reason": reason}
        return int(control(self._graph_app(), "/_sandbox/graph/revoke", body)["revoked"])

    def subscribe_webhooks(
        self,
        callback_url: str,
        *,
        verify_token: str = "igflow",
        fields: Sequence[str] = ("comments",),
        client: str = "default",
    ) -> None:
        """Graph: the app-level webhook subscription (``POST /_sandbox/graph/webhooks``); the
        verification handshake is run against ``callback_url`` (loopback only) first. Accounts
        still subscribe through the API (``users.subscribe_app``)."""
        body = {
            "callback_url": callback_url,
            "verify_token": verify_token,
            "fields": list(fields),
            "client": client,
        }
        control(self._graph_app(), "/_sandbox/graph/webhooks", body)

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Graph: the webhook notifications sent so far (id, url, field, state, status...)."""
        records: list[dict[str, Any]] = self._graph_app().webhooks.records()
        return records

    def _graph_app(self) -> Any:
        if not self._graph:
            raise UsageError(f"this helper is the Graph sandbox's; this one is {self.api}")
        return self.app

    def requests(self) -> list[dict[str, Any]]:
        """Every request the sandbox received since it started (or was reset), oldest first:
        time, method, path, query, form (secrets masked), status, endpoint, fault, duration_ms."""
        with open(self._slot.log_path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    # ---- datasets and reset -------------------------------------------------------------------
    def reset(self) -> None:
        """Fresh state from the same config and dataset: tokens, writes, faults and the request
        log are gone (the URL stays)."""
        self._slot.replace()

    def load(self, data: str | os.PathLike[str] | Mapping[str, Any]) -> None:
        """Replace the state with a dataset (a YAML file or a mapping in that format)."""
        if self._graph:
            graph_raw = (
                load_mapping(data) if isinstance(data, Mapping) else load_file(os.fspath(data))
            )
            self._slot.replace(graph_raw)
            return
        from igflow.sandbox import dataset

        if isinstance(data, Mapping):
            raw = json.loads(json.dumps(dict(data)))  # a private, plain copy
            problems = dataset.check_dataset(raw)
            if problems:
                raise UsageError("bad dataset: " + "; ".join(problems))
        else:
            try:
                raw = dataset.read_dataset(os.fspath(data))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        self._slot.replace(raw)

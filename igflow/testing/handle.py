"""What a test can do with a sandbox it was given, served or mocked: the same helpers for both.

A :class:`SandboxHandle` works on the sandbox *app* in process (no HTTP): tokens are granted
through the app's own OAuth state, state is read from its database, the clock and faults are
the app's own. The app sits in an :class:`AppSlot`, so :meth:`SandboxHandle.reset` (and
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
from igflow.testing.profiles import Profile

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from igflow.sandbox.app import SandboxApp
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
        self._dir = tempfile.TemporaryDirectory(prefix="igflow-sandbox-")
        self.log_path = os.path.join(self._dir.name, _REQUEST_LOG)
        # Every app of this slot logs its requests here (the user's own request_log is kept
        # out: a test reads the log through the handle).
        self.config = replace(config, request_log=self.log_path)
        self._dataset = dataset
        self._lock = threading.Lock()
        self._app: SandboxApp | None = profile.make_app(self.config, dataset)

    @property
    def app(self) -> SandboxApp:
        app = self._app
        if app is None:
            raise UsageError("this sandbox has been stopped")
        return app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)

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
        return self._slot.app.clock.now()

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


class SandboxState:
    """Read-only views of the sandbox's data, by username and shortcode (as tests think).

    They show the data as it is, with no visibility rule applied: a sandbox-mode client's API
    calls see only its sandbox users, these views see everyone."""

    def __init__(self, slot: AppSlot) -> None:
        self._slot = slot

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._slot.app.db.transaction() as conn:
            return list(conn.execute(sql, tuple(params)).fetchall())

    def _user_id(self, username: str) -> str:
        user = self._slot.app.store.user_by_username(username)
        if user is None:
            raise UsageError(f"no sandbox user '{username}'")
        return str(user["id"])

    def _media_pk(self, media: str) -> int:
        """A media id (``<pk>_<owner>``) or a shortcode."""
        rows = self._rows("SELECT pk FROM media WHERE shortcode = ?", (media,))
        if rows:
            return int(rows[0][0])
        pk, _, owner = media.partition("_")
        if pk.isdigit() and self._rows("SELECT pk FROM media WHERE pk = ?", (int(pk),)):
            return int(pk)
        raise UsageError(f"no sandbox media '{media}' (give a media id or a shortcode)")

    def media_of(self, username: str) -> list[str]:
        """The user's media ids, newest first."""
        uid = self._user_id(username)
        rows = self._rows(
            "SELECT pk FROM media WHERE owner = ? ORDER BY created_time DESC, pk DESC", (uid,)
        )
        return [f"{row[0]}_{uid}" for row in rows]

    def likes_of(self, username: str) -> list[str]:
        """The media ids the user likes, most recent like first."""
        rows = self._rows(
            "SELECT m.pk, m.owner FROM likes l JOIN media m ON m.pk = l.media_pk "
            "WHERE l.user_id = ? ORDER BY l.seq DESC",
            (self._user_id(username),),
        )
        return [f"{row[0]}_{row[1]}" for row in rows]

    def likers_of(self, media: str) -> list[str]:
        """Usernames of the users who like a media (id or shortcode), in like order."""
        rows = self._rows(
            "SELECT u.username FROM likes l JOIN users u ON u.id = l.user_id "
            "WHERE l.media_pk = ? ORDER BY l.seq",
            (self._media_pk(media),),
        )
        return [str(row[0]) for row in rows]

    def comments_on(self, media: str) -> list[dict[str, str]]:
        """The comments on a media (id or shortcode), oldest first: id, username, text."""
        rows = self._rows(
            "SELECT c.id, u.username, c.text FROM comments c JOIN users u ON u.id = c.author "
            "WHERE c.media_pk = ? ORDER BY c.created_time, c.id",
            (self._media_pk(media),),
        )
        return [{"id": str(row[0]), "username": str(row[1]), "text": str(row[2])} for row in rows]

    def follows_of(self, username: str) -> list[str]:
        """Usernames the user follows (accepted follows only), in follow order."""
        rows = self._rows(
            "SELECT u.username FROM follows f JOIN users u ON u.id = f.followee "
            "WHERE f.follower = ? AND f.status = 'follows' ORDER BY f.seq",
            (self._user_id(username),),
        )
        return [str(row[0]) for row in rows]

    def followers_of(self, username: str) -> list[str]:
        """Usernames that follow the user (accepted follows only), in follow order."""
        rows = self._rows(
            "SELECT u.username FROM follows f JOIN users u ON u.id = f.follower "
            "WHERE f.followee = ? AND f.status = 'follows' ORDER BY f.seq",
            (self._user_id(username),),
        )
        return [str(row[0]) for row in rows]


class SandboxHandle:
    """A sandbox under test: where it is, and helpers for tokens, clients, state and faults."""

    def __init__(self, slot: AppSlot, url: str) -> None:
        self._slot = slot
        self.url = url  # the origin to aim code at: http://127.0.0.1:PORT, or the real host
        self.api = slot.profile.api
        self.state = SandboxState(slot)
        self.clock = ClockControl(slot)

    @property
    def app(self) -> SandboxApp:
        """The sandbox app serving now (a new one after each reset)."""
        return self._slot.app

    @property
    def config(self) -> SandboxConfig:
        return self._slot.config

    # ---- users, clients, tokens ---------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        """The demo users: id, username, full_name, private, password (demo data)."""
        from igflow.sandbox.admin import user_summary

        return [user_summary(user) for user in self.app.store.list_users()]

    def user_id(self, username: str) -> str:
        user = self.app.store.user_by_username(username)
        if user is None:
            raise UsageError(f"no sandbox user '{username}'")
        return str(user["id"])

    def client(self, name: str = "default") -> Client:
        """A registered client (``client_id``, ``client_secret``, ``redirect_uris``, ...)."""
        found = self.app.oauth_state.client_by_name(name)
        if found is None:
            known = ", ".join(c.name for c in self.app.oauth_state.clients())
            raise UsageError(f"no sandbox client '{name}' (known: {known})")
        return found

    def add_client(self, name: str, **fields: Any) -> Client:
        """Register a client: ``redirect_uris``, ``implicit``, ``signed``, ``mode``,
        ``sandbox_users`` (usernames), as ``igflow sandbox clients add`` takes them."""
        from igflow.sandbox.admin import add_client_from_json
        from igflow.sandbox.clients import ClientSpecError

        try:
            return add_client_from_json(
                self.app.oauth_state, self.app.store, {"name": name, **fields}
            )
        except ClientSpecError as exc:
            raise UsageError(str(exc)) from None

    def token(
        self, username: str, scopes: Iterable[str] = ("basic",), *, client: str = "default"
    ) -> str:
        """An access token for ``username``, granted ``scopes`` (``basic`` always) by ``client``.

        The grant is recorded as the consent page records it (one token per user and client;
        more scopes widen the same grant). What the consent page would refuse is refused:
        unknown scopes, and users that are not among a sandbox-mode client's sandbox users.
        """
        app = self.app
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
        return app.oauth_state.grant(user_id, registered.client_id, wanted).token

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
        self.app.limiter.reset()

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

"""The test doubles' helpers for the Graph profile (``instagram.graph``): tokens, users, state.

:class:`~igflow.testing.handle.SandboxHandle` calls these when its sandbox is a Graph one; the
names and shapes follow the v1 helpers where the two APIs mean the same thing (``token``,
``users``, ``state.media_of``, ``state.comments_on``), and say Graph's words where they do not
(media and comments by id: Graph has no shortcode lookup; comments carry ``hidden``).

Everything works on the app in process, as the v1 helpers do: a token is issued as
``POST /_sandbox/token`` issues it (same checks), and the "another user commented" and
injected-error helpers run the control endpoints' own views, so their validation is the
sandbox's, without an entry in the request log (which shows what the code under test sent).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from igflow.errors import UsageError

if TYPE_CHECKING:
    from igflow.sandbox.graph.app import GraphApp
    from igflow.sandbox.graph.store import App
    from igflow.testing.handle import AppSlot

__all__ = ["GraphState", "control", "graph_client", "graph_token", "graph_users", "load_mapping"]

PROFESSIONAL = ("Business", "Media_Creator")
TOKEN_KINDS = ("short", "long")


def graph_users(app: GraphApp) -> list[dict[str, Any]]:
    """The dataset's accounts as ``/_sandbox/info`` lists them (demo passwords included)."""
    with app.db.transaction():
        accounts = app.store.accounts()
    return [
        {
            "id": a["id"],
            "username": a["username"],
            "password": a["password"],
            "account_type": a["account_type"],
            "professional": a["account_type"] in PROFESSIONAL,
            "name": a.get("name", ""),
        }
        for a in accounts
    ]


def graph_user_id(app: GraphApp, username: str) -> str:
    with app.db.transaction():
        account = app.store.account_by_username(username)
    if account is None:
        raise UsageError(f"no sandbox account '{username}'")
    return str(account["id"])


def graph_client(app: GraphApp, name: str) -> App:
    """An app of the dataset by name or client id (``client_id``, ``secret``, ...)."""
    with app.db.transaction():
        found = app.store.app_by_name(name) or app.store.app(name)
        known = ", ".join(a.name for a in app.store.apps())
    if found is None:
        raise UsageError(f"no sandbox app '{name}' (known: {known})")
    return found


def graph_token(
    app: GraphApp, username: str, scopes: Iterable[str], client: str, kind: str = "long"
) -> str:
    """A token as ``POST /_sandbox/token`` issues it: a long-lived one (or ``kind="short"``,
    the 1-hour token the login flow gives, to exercise ``ig_exchange_token``)."""
    wanted = list(scopes)
    unknown = [scope for scope in wanted if scope not in app.rules.scopes]
    if unknown:
        known = ", ".join(sorted(app.rules.scopes))
        raise UsageError(f"unknown permission(s) {', '.join(unknown)} (known: {known})")
    if kind not in TOKEN_KINDS:
        raise UsageError(f"kind must be short or long, not {kind!r}")
    registered = graph_client(app, client)
    with app.db.transaction():
        account = app.store.account_by_username(username)
        if account is None:
            raise UsageError(f"no sandbox account '{username}'")
        if account["account_type"] not in PROFESSIONAL:
            # As the login page refuses it: the API serves professional accounts only.
            raise UsageError(f"'{username}' is not a professional account, so it gets no token")
        lifetime = app.rules.number("tokens", f"{kind}_seconds")
        token = app.store.issue_token(
            kind,
            str(account["id"]),
            registered.client_id,
            frozenset(wanted),
            app.clock.now(),
            lifetime,
        )
    app.secrets.add(token.token)  # the request log masks it
    return token.token


def control(app: GraphApp, path: str, body: Mapping[str, Any]) -> Any:
    """Run a ``/_sandbox/...`` control view in process (POST, JSON); its error as a UsageError."""
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    entry = app.admin.routes().get(path)
    assert entry is not None, path  # the paths are this module's own
    builder = EnvironBuilder(path=path, method="POST", json=dict(body))
    try:
        request = Request(builder.get_environ())
    finally:
        builder.close()
    response = entry[1](request)
    answer = json.loads(response.get_data(as_text=True))
    if response.status_code >= 400:
        raise UsageError(f"{path}: {answer.get('error', response.status)}")
    return answer


def load_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """A private, plain copy of a Graph dataset given as a mapping, checked."""
    from igflow.sandbox.graph.dataset import check_dataset

    raw: dict[str, Any] = json.loads(json.dumps(dict(data)))
    problems = check_dataset(raw)
    if problems:
        raise UsageError("bad Graph dataset: " + "; ".join(problems))
    return raw


def load_file(path: str) -> dict[str, Any]:
    from igflow.sandbox.graph.dataset import read_dataset

    try:
        return read_dataset(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class GraphState:
    """Read-only views of a Graph sandbox's data, with no permission or visibility rule.

    Media and comments by their ids; accounts by username. Lists come in the API's own order
    where it has one (media newest first), else oldest first."""

    def __init__(self, slot: AppSlot) -> None:
        self._slot = slot

    @property
    def _app(self) -> GraphApp:
        app: GraphApp = self._slot.app
        return app

    def _media(self, media_id: str) -> dict[str, Any]:
        with self._app.db.transaction():
            found = self._app.store.media(str(media_id))
        if found is None:
            raise UsageError(f"no sandbox media '{media_id}' (Graph media are named by id)")
        return found

    def media_of(self, username: str) -> list[str]:
        """The account's feed and reels media ids (not stories, not album children), newest
        first: what ``users.media`` lists."""
        uid = graph_user_id(self._app, username)
        with self._app.db.transaction():
            rows = self._app.store.media_of(uid, stories=False)
        return [str(row["id"]) for row in rows]

    def stories_of(self, username: str) -> list[str]:
        """The account's story ids, newest first."""
        uid = graph_user_id(self._app, username)
        with self._app.db.transaction():
            rows = self._app.store.media_of(uid, stories=True)
        return [str(row["id"]) for row in rows]

    def media(self, media_id: str) -> dict[str, Any]:
        """A media's stored fields (``caption``, ``media_type``, ``is_comment_enabled``, ...)."""
        return self._media(media_id)

    def comments_on(self, media_id: str) -> list[dict[str, Any]]:
        """Every comment on a media, replies too, oldest first: ``id``, ``username``, ``text``,
        ``hidden``, ``parent_id`` (None for a top-level comment), ``like_count``."""
        self._media(media_id)
        with self._app.db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, username, text, hidden, parent, like_count FROM graph_comments "
                "WHERE media = ? ORDER BY created, id",
                (str(media_id),),
            ).fetchall()
        return [_comment(row) for row in rows]

    def hidden_on(self, media_id: str) -> list[str]:
        """The ids of the hidden comments on a media, oldest first."""
        return [c["id"] for c in self.comments_on(media_id) if c["hidden"]]

    def comment(self, comment_id: str) -> dict[str, Any] | None:
        """One comment (as :meth:`comments_on` shows it, plus ``media_id``); None once deleted."""
        with self._app.db.transaction():
            row = self._app.store.comment(str(comment_id))
        if row is None:
            return None
        return {**_comment(row), "media_id": str(row["media"])}


def _comment(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "username": str(row["username"]),
        "text": str(row["text"]),
        "hidden": bool(row["hidden"]),
        "parent_id": None if row["parent"] is None else str(row["parent"]),
        "like_count": int(row["like_count"]),
    }

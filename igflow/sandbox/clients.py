"""OAuth state: registered clients, grants (one access token per user and client), codes, sessions.

All of it lives in the sandbox's SQLite database, in ``oauth_*`` tables, so a ``--db`` file keeps
clients and tokens across restarts. Every public method runs in its own (possibly joined)
transaction of :class:`~igflow.sandbox.db.Database`, which also serialises threads.

Length: over 400 lines: clients, grants, codes and sessions are one state machine (the OAuth
rules of reference §5) over one store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from igflow.errors import printable
from igflow.sandbox.db import Database

MODES = ("sandbox", "live")
MAX_SANDBOX_USERS = 10  # reference §10: the admin counts as one of the ten
CODE_TTL_SECONDS = 600.0
MAX_URI_LENGTH = 2048
# A client's name: the portal's field limit, and no control character (a name is printed on
# terminals by `clients list` and `serve`; an escape sequence there could rewrite the screen).
MAX_NAME_CHARS = 4_096

SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    client_secret TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,  -- JSON list
    implicit      INTEGER NOT NULL,
    signed        INTEGER NOT NULL,
    mode          TEXT NOT NULL,
    sandbox_users TEXT NOT NULL   -- JSON list of user ids
);
CREATE TABLE IF NOT EXISTS oauth_grants (
    token     TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth_clients(client_id),
    scopes    TEXT NOT NULL,      -- space-separated, sorted
    UNIQUE (user_id, client_id)
);
CREATE TABLE IF NOT EXISTS oauth_codes (
    code         TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires      REAL NOT NULL,
    used         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oauth_sessions (
    session_id TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL
);
"""


class ClientSpecError(ValueError):
    """A client definition that cannot be registered."""


@dataclass(frozen=True)
class Client:
    """A registered OAuth client (an "app" in the developer dashboard)."""

    name: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    implicit: bool
    signed: bool
    mode: str
    sandbox_users: tuple[str, ...]  # user ids; meaningful for sandbox-mode clients

    def public(self) -> dict[str, Any]:
        """The client as /_sandbox/info shows it (secrets included: demo data, on purpose)."""
        return {
            "name": self.name,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "implicit": self.implicit,
            "signed": self.signed,
            "mode": self.mode,
        }


@dataclass(frozen=True)
class Grant:
    """What a user allowed a client: the token and its scopes."""

    token: str
    user_id: str
    client_id: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class AuthCode:
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    expires: float
    used: bool


def _hex32() -> str:
    return secrets.token_hex(16)


def derived_hex(*parts: str) -> str:
    """A stable 32-hex value, so the default clients keep the same ids from run to run."""
    return hashlib.sha256("\x1f".join(("igflow-sandbox", *parts)).encode()).hexdigest()[:32]


def _client(row: Mapping[str, Any]) -> Client:
    return Client(
        name=row["name"],
        client_id=row["client_id"],
        client_secret=row["client_secret"],
        redirect_uris=tuple(json.loads(row["redirect_uris"])),
        implicit=bool(row["implicit"]),
        signed=bool(row["signed"]),
        mode=row["mode"],
        sandbox_users=tuple(json.loads(row["sandbox_users"])),
    )


def _grant(row: Mapping[str, Any]) -> Grant:
    return Grant(
        token=row["token"],
        user_id=row["user_id"],
        client_id=row["client_id"],
        scopes=frozenset(row["scopes"].split()),
    )


class OAuthState:
    """Clients, grants, codes and login sessions over one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Told (kind, value) of every secret issued here, so the request log can mask it;
        # kind is "token", "client_secret", "code" or "session".
        self.on_issue: Callable[[str, str], None] = lambda _kind, _value: None

    # ---- schema --------------------------------------------------------------------------
    def initialized(self) -> bool:
        """Whether this database already holds a sandbox (its OAuth tables are the last made)."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'oauth_clients'"
            ).fetchone()
        return row is not None

    def create_schema(self) -> None:
        self.db.executescript(SCHEMA)

    # ---- clients -------------------------------------------------------------------------
    def add_client(
        self,
        *,
        name: str,
        redirect_uris: Sequence[str] = ("http://localhost",),
        implicit: bool = False,
        signed: bool = False,
        mode: str = "sandbox",
        sandbox_users: Iterable[str] = (),
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> Client:
        """Register a client; ids and secrets are generated unless given (32 hex each).

        Implicit OAuth starts disabled, as on the real developer site: the seed had to uncheck
        "Disable implicit OAuth" before ``response_type=token`` worked.
        """
        for value, what in ((client_id, "client_id"), (client_secret, "client_secret")):
            if value is not None and not _is_hex32(value):
                raise ClientSpecError(f"{what} must be 32 hex characters")
        client = _checked(
            Client(
                name=name,
                client_id=client_id or _hex32(),
                client_secret=client_secret or _hex32(),
                redirect_uris=tuple(redirect_uris),
                implicit=bool(implicit),
                signed=bool(signed),
                mode=mode,
                sandbox_users=tuple(dict.fromkeys(sandbox_users)),
            )
        )
        with self.db.transaction() as conn:
            clash = conn.execute(
                "SELECT name FROM oauth_clients WHERE name = ? OR client_id = ?",
                (client.name, client.client_id),
            ).fetchone()
            if clash is not None:
                raise ClientSpecError(
                    f"a client named '{client.name}' (or with that id) already exists"
                )
            self.on_issue("client_secret", client.client_secret)
            conn.execute(
                "INSERT INTO oauth_clients VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    client.client_id,
                    client.name,
                    client.client_secret,
                    json.dumps(list(client.redirect_uris)),
                    int(client.implicit),
                    int(client.signed),
                    client.mode,
                    json.dumps(list(client.sandbox_users)),
                ),
            )
        return client

    def update_client(
        self,
        client_id: str,
        *,
        redirect_uris: Sequence[str] | None = None,
        implicit: bool | None = None,
        signed: bool | None = None,
        mode: str | None = None,
        sandbox_users: Iterable[str] | None = None,
    ) -> Client:
        """Change a client's settings (None leaves one as it is); returns the updated client.

        Its id, secret and tokens stay: on the real site, toggling a checkbox did not revoke
        anybody's access.
        """
        with self.db.transaction() as conn:
            current = self.client(client_id)
            if current is None:
                raise ClientSpecError(f"no client with id '{client_id}'")
            client = _checked(
                dataclasses.replace(
                    current,
                    redirect_uris=current.redirect_uris
                    if redirect_uris is None
                    else tuple(redirect_uris),
                    implicit=current.implicit if implicit is None else bool(implicit),
                    signed=current.signed if signed is None else bool(signed),
                    mode=current.mode if mode is None else mode,
                    sandbox_users=current.sandbox_users
                    if sandbox_users is None
                    else tuple(dict.fromkeys(sandbox_users)),
                )
            )
            conn.execute(
                "UPDATE oauth_clients SET redirect_uris = ?, implicit = ?, signed = ?, mode = ?, "
                "sandbox_users = ? WHERE client_id = ?",
                (
                    json.dumps(list(client.redirect_uris)),
                    int(client.implicit),
                    int(client.signed),
                    client.mode,
                    json.dumps(list(client.sandbox_users)),
                    client.client_id,
                ),
            )
        return client

    def remove_client(self, client_id: str) -> Client:
        """Delete a client with its grants and codes (its tokens stop working at once)."""
        with self.db.transaction() as conn:
            current = self.client(client_id)
            if current is None:
                raise ClientSpecError(f"no client with id '{client_id}'")
            conn.execute("DELETE FROM oauth_grants WHERE client_id = ?", (client_id,))
            conn.execute("DELETE FROM oauth_codes WHERE client_id = ?", (client_id,))
            conn.execute("DELETE FROM oauth_clients WHERE client_id = ?", (client_id,))
        return current

    def client(self, client_id: str) -> Client | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM oauth_clients WHERE client_id = ?", (client_id,)
            ).fetchone()
        return _client(row) if row else None

    def client_by_name(self, name: str) -> Client | None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM oauth_clients WHERE name = ?", (name,)).fetchone()
        return _client(row) if row else None

    def clients(self) -> list[Client]:
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT * FROM oauth_clients ORDER BY rowid").fetchall()
        return [_client(row) for row in rows]

    # ---- grants and tokens -----------------------------------------------------------------
    def grant(self, user_id: str, client_id: str, scopes: Iterable[str]) -> Grant:
        """Record consent. One token per (user, client): more scopes widen the same grant."""
        wanted = set(scopes) | {"basic"}
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM oauth_grants WHERE user_id = ? AND client_id = ?",
                (user_id, client_id),
            ).fetchone()
            if row is None:
                token = f"{user_id}.{client_id[:7]}.{_hex32()}"
                self.on_issue("token", token)
                conn.execute(
                    "INSERT INTO oauth_grants VALUES (?, ?, ?, ?)",
                    (token, user_id, client_id, " ".join(sorted(wanted))),
                )
                return Grant(token, user_id, client_id, frozenset(wanted))
            granted = set(row["scopes"].split()) | wanted
            conn.execute(
                "UPDATE oauth_grants SET scopes = ? WHERE token = ?",
                (" ".join(sorted(granted)), row["token"]),
            )
            return Grant(row["token"], user_id, client_id, frozenset(granted))

    def grant_for(self, user_id: str, client_id: str) -> Grant | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM oauth_grants WHERE user_id = ? AND client_id = ?",
                (user_id, client_id),
            ).fetchone()
        return _grant(row) if row else None

    def by_token(self, token: str) -> Grant | None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM oauth_grants WHERE token = ?", (token,)).fetchone()
        return _grant(row) if row else None

    def grants(self, user_id: str | None = None) -> list[Grant]:
        """Every grant (of one user when given), oldest first."""
        sql, params = "SELECT * FROM oauth_grants", ()  # type: tuple[str, tuple[str, ...]]
        if user_id is not None:
            sql, params = sql + " WHERE user_id = ?", (user_id,)
        with self.db.transaction() as conn:
            rows = conn.execute(sql + " ORDER BY rowid", params).fetchall()
        return [_grant(row) for row in rows]

    def revoke(self, user_id: str, client_id: str) -> Grant | None:
        """Withdraw a user's grant to a client (its token is refused from now on).

        Returns the grant revoked, None when there was none. Authorizing again makes a new
        token, as re-approving a revoked app did. Unused codes the user got for the client go
        too, so an exchange cannot bring the grant back.
        """
        with self.db.transaction() as conn:
            grant = self.grant_for(user_id, client_id)
            if grant is None:
                return None
            conn.execute("DELETE FROM oauth_grants WHERE token = ?", (grant.token,))
            conn.execute(
                "DELETE FROM oauth_codes WHERE user_id = ? AND client_id = ?", (user_id, client_id)
            )
        return grant

    # ---- authorization codes -----------------------------------------------------------------
    def issue_code(self, client_id: str, user_id: str, redirect_uri: str, now: float) -> str:
        code = _hex32()
        self.on_issue("code", code)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO oauth_codes VALUES (?, ?, ?, ?, ?, 0)",
                (code, client_id, user_id, redirect_uri, now + CODE_TTL_SECONDS),
            )
        return code

    def code(self, code: str) -> AuthCode | None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM oauth_codes WHERE code = ?", (code,)).fetchone()
        if row is None:
            return None
        return AuthCode(
            code=row["code"],
            client_id=row["client_id"],
            user_id=row["user_id"],
            redirect_uri=row["redirect_uri"],
            expires=row["expires"],
            used=bool(row["used"]),
        )

    def use_code(self, code: str) -> bool:
        """Mark a code used; False when it already was (a concurrent exchange won)."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE oauth_codes SET used = 1 WHERE code = ? AND used = 0", (code,)
            )
        return cursor.rowcount == 1

    # ---- login sessions ----------------------------------------------------------------------
    def create_session(self, user_id: str) -> str:
        session_id = secrets.token_hex(16)
        self.on_issue("session", session_id)
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO oauth_sessions VALUES (?, ?)", (session_id, user_id))
        return session_id

    def end_session(self, session_id: str) -> None:
        """Log out: the session id is forgotten, so a copy of the cookie no longer works."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM oauth_sessions WHERE session_id = ?", (session_id,))

    def session_user(self, session_id: str | None) -> str | None:
        if not session_id:
            return None
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT user_id FROM oauth_sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
        return row["user_id"] if row else None

    # ---- what the request log must mask -----------------------------------------------------
    def issued_secrets(self) -> list[tuple[str, str]]:
        """(kind, value) of every secret in the database, as :attr:`on_issue` names them."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT 'token', token FROM oauth_grants "
                "UNION ALL SELECT 'client_secret', client_secret FROM oauth_clients "
                "UNION ALL SELECT 'code', code FROM oauth_codes "
                "UNION ALL SELECT 'session', session_id FROM oauth_sessions"
            ).fetchall()
        return [(str(row[0]), str(row[1])) for row in rows]

    def secret_ending(self, core: str) -> str | None:
        """The stored secret that is, or ends in, these 32 hex digits (None if none is)."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT client_secret FROM oauth_clients WHERE client_secret = ?1 "
                "UNION ALL SELECT code FROM oauth_codes WHERE code = ?1 "
                "UNION ALL SELECT session_id FROM oauth_sessions WHERE session_id = ?1 "
                "UNION ALL SELECT token FROM oauth_grants WHERE substr(token, -32) = ?1 "
                "LIMIT 1",
                (core,),
            ).fetchone()
        return str(row[0]) if row else None


def _checked(client: Client) -> Client:
    """The client when its settings can be registered; ClientSpecError says what is wrong."""
    problem = name_problem(client.name)
    if problem:
        raise ClientSpecError(problem)
    if client.mode not in MODES:
        raise ClientSpecError(f"client mode must be sandbox or live, not '{client.mode}'")
    if not client.redirect_uris:
        raise ClientSpecError("a client needs at least one redirect URI")
    for uri in client.redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem:
            raise ClientSpecError(problem)
    if client.mode == "sandbox" and len(client.sandbox_users) > MAX_SANDBOX_USERS:
        raise ClientSpecError(
            f"a sandbox-mode client has at most {MAX_SANDBOX_USERS} sandbox users"
        )
    return client


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a client (None when it can): the API's and the portal's rule."""
    if not isinstance(name, str) or not name.strip():
        return "a client needs a name"
    if len(name) > MAX_NAME_CHARS:
        return f"a client name is at most {MAX_NAME_CHARS} characters, not {len(name)}"
    if printable(name) != name:
        return f"a client name must not contain control characters ('{printable(name[:60])}')"
    # A lone surrogate cannot be stored or printed as UTF-8; a format character (U+202E
    # right-to-left override, U+200B zero width space, U+FEFF) reorders or hides what
    # `clients list` shows. Neither is ever part of a real name.
    hidden = next((c for c in name if unicodedata.category(c) in ("Cf", "Cs")), None)
    if hidden is not None:
        return (
            "a client name must not contain invisible or format characters "
            f"(U+{ord(hidden):04X} {'surrogate' if 0xD800 <= ord(hidden) <= 0xDFFF else 'format'})"
        )
    return None


def redirect_uri_problem(uri: object) -> str | None:
    """Why a redirect URI cannot be registered (None when it can): an http(s) URL with a host."""
    shown = printable(str(uri)[:200])
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        return f"redirect URI '{shown}' is not an http(s) URL (e.g. http://localhost)"
    parts = urlsplit(uri)
    if (
        not parts.hostname
        or any(c.isspace() for c in uri)
        or printable(uri) != uri
        or len(uri) > MAX_URI_LENGTH
    ):
        return f"redirect URI '{shown}' is not a valid URL (e.g. http://localhost/callback)"
    if parts.fragment or "#" in uri:
        return f"redirect URI '{shown}' must not contain a fragment (#...)"
    return None


def _is_hex32(value: str) -> bool:
    return (
        isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)
    )


# The three clients every sandbox has when its dataset names none (the default dataset does).
DEFAULT_CLIENTS: tuple[dict[str, Any], ...] = (
    {
        "name": "default",
        "redirect_uris": ["http://localhost"],
        "implicit": True,
        "signed": False,
        "mode": "sandbox",
    },
    {
        "name": "live",
        "redirect_uris": ["http://localhost"],
        "implicit": True,
        "signed": False,
        "mode": "live",
    },
    {
        "name": "signed",
        "redirect_uris": ["http://localhost"],
        "implicit": False,
        "signed": True,
        "mode": "sandbox",
    },
)


def load_clients(
    state: OAuthState,
    specs: Iterable[Mapping[str, Any]],
    resolve_user: Callable[[str], str | None],
    fallback_users: Sequence[str],
) -> list[Client]:
    """Register the clients a dataset describes.

    Args:
        state: Where to register them.
        specs: ``{name, client_id?, client_secret?, redirect_uris, implicit, signed, mode,
            sandbox_users: [username or id, ...]}`` items.
        resolve_user: Username (or id) → user id, None when unknown; unknown names are skipped,
            so a generated dataset can reuse the default dataset's client list.
        fallback_users: Ids used when a sandbox-mode client ends up with no sandbox user.
    """
    loaded = []
    for spec in specs:
        name = str(spec["name"])
        users = [uid for uid in map(resolve_user, map(str, spec.get("sandbox_users") or ())) if uid]
        mode = str(spec.get("mode", "sandbox"))
        if mode == "sandbox" and not users:
            users = list(fallback_users[:MAX_SANDBOX_USERS])
        loaded.append(
            state.add_client(
                name=name,
                client_id=spec.get("client_id") or derived_hex(name, "client_id"),
                client_secret=spec.get("client_secret") or derived_hex(name, "client_secret"),
                redirect_uris=spec.get("redirect_uris") or ("http://localhost",),
                implicit=bool(spec.get("implicit", False)),
                signed=bool(spec.get("signed", False)),
                mode=mode,
                sandbox_users=users,
            )
        )
    return loaded


class UserStore(Protocol):
    """What the app needs from the data store (``igflow.sandbox.store.Store``)."""

    def create_schema(self) -> None: ...

    def load(self, raw: dict[str, Any]) -> None: ...

    def authenticate(self, username: str, password: str) -> str | None: ...

    def user_by_username(self, name: str) -> dict[str, Any] | None: ...

    def user_by_id(self, user_id: str) -> dict[str, Any] | None: ...

    def user_json(self, user_id: str) -> dict[str, Any]: ...

    def list_users(self) -> list[dict[str, Any]]: ...


def user_resolver(store: UserStore) -> Callable[[str], str | None]:
    """Username or id → user id (None when neither is known)."""

    def resolve(name: str) -> str | None:
        user = store.user_by_username(name) or store.user_by_id(name)
        return str(user["id"]) if user else None

    return resolve

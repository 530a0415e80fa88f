"""The Graph sandbox's state in SQLite: apps, accounts, media, comments, containers, tokens.

Each request's writes run inside the app's ``db.transaction()``; the store only reads and writes
rows. Bodies are JSON so a new field is a dataset change, not a schema change.

Length: a little over 400 lines: one short section of queries per table of schema.sql; split,
the sections would each need the row helpers and the schema would be read in several places.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from igflow.resources import package_data
from igflow.sandbox.db import Database

# First ids handed out for new objects (the dataset's own ids sit below these).
_SEQ_START = {
    "media": 17900000000090001,
    "comment": 17800000000090001,
    "container": 17950000000000001,
}


@dataclass(frozen=True)
class App:
    client_id: str
    name: str
    secret: str
    redirect_uris: tuple[str, ...]
    api_version: str
    require_app_secret: bool

    def public(self) -> dict[str, Any]:
        """As /_sandbox/info shows it (the secret too: demo data, on purpose)."""
        return {
            "name": self.name,
            "client_id": self.client_id,
            "client_secret": self.secret,
            "redirect_uris": list(self.redirect_uris),
            "api_version": self.api_version,
            "require_app_secret": self.require_app_secret,
            "implicit": False,  # Instagram Login has the code flow only (v1's info shape)
        }


@dataclass(frozen=True)
class Token:
    token: str
    kind: str  # "short" | "long"
    user_id: str
    client_id: str
    scopes: frozenset[str]
    issued: float
    expires: float
    revoked: str | None  # None, or the catalogue error a use of it gets (password changed, ...)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _row_dict(row: Any) -> dict[str, Any]:
    data = dict(row)
    body = json.loads(data.pop("body", "{}") or "{}")
    return {**body, **data}


class GraphStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn = db._conn  # the Database lock is held through transaction() by callers

    # ---- schema --------------------------------------------------------------------------
    def initialized(self) -> bool:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='graph_meta'"
            ).fetchone()
            if row is None:
                return False
            return conn.execute("SELECT 1 FROM graph_meta WHERE key='ready'").fetchone() is not None

    def create_schema(self) -> None:
        path = package_data("sandbox", "graph", "schema.sql")
        self.db.executescript(path.read_text(encoding="utf-8"))

    def wipe(self) -> None:
        """Empty every table (``/_sandbox/reset``; inside the caller's transaction)."""
        names = [
            row[0]
            for row in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'graph_%'"
            )
        ]
        for name in names:
            self._conn.execute(f'DELETE FROM "{name}"')  # names from sqlite_master, not input

    def mark_ready(self) -> None:
        self._conn.execute("INSERT OR REPLACE INTO graph_meta VALUES ('ready', '1')")

    def is_graph_db(self) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='graph_meta'"
        ).fetchone()
        return row is not None

    def next_id(self, kind: str) -> str:
        row = self._conn.execute("SELECT value FROM graph_seq WHERE name=?", (kind,)).fetchone()
        value = int(row["value"]) if row else _SEQ_START[kind]
        self._conn.execute("INSERT OR REPLACE INTO graph_seq VALUES (?, ?)", (kind, value + 1))
        return str(value)

    # ---- apps and accounts ----------------------------------------------------------------
    def add_app(self, app: App) -> None:
        self._conn.execute(
            "INSERT INTO graph_apps VALUES (?, ?, ?, ?, ?, ?)",
            (
                app.client_id,
                app.name,
                app.secret,
                _json(list(app.redirect_uris)),
                app.api_version,
                int(app.require_app_secret),
            ),
        )

    def apps(self) -> list[App]:
        rows = self._conn.execute("SELECT * FROM graph_apps ORDER BY rowid").fetchall()
        return [self._app(row) for row in rows]

    def app(self, client_id: str) -> App | None:
        row = self._conn.execute(
            "SELECT * FROM graph_apps WHERE client_id=?", (client_id,)
        ).fetchone()
        return self._app(row) if row else None

    def app_by_name(self, name: str) -> App | None:
        row = self._conn.execute("SELECT * FROM graph_apps WHERE name=?", (name,)).fetchone()
        return self._app(row) if row else None

    @staticmethod
    def _app(row: Any) -> App:
        return App(
            client_id=row["client_id"],
            name=row["name"],
            secret=row["secret"],
            redirect_uris=tuple(json.loads(row["redirect_uris"])),
            api_version=row["api_version"],
            require_app_secret=bool(row["require_app_secret"]),
        )

    def add_account(self, account: dict[str, Any]) -> None:
        body = {
            k: v
            for k, v in account.items()
            if k not in ("id", "username", "password", "account_type")
        }
        self._conn.execute(
            "INSERT INTO graph_accounts VALUES (?, ?, ?, ?, ?)",
            (
                account["id"],
                account["username"],
                account["password"],
                account["account_type"],
                _json(body),
            ),
        )

    def accounts(self) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT * FROM graph_accounts ORDER BY rowid").fetchall()
        return [_row_dict(row) for row in rows]

    def account(self, user_id: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT * FROM graph_accounts WHERE id=?", (user_id,)).fetchone()
        return _row_dict(row) if row else None

    def account_by_username(self, username: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT * FROM graph_accounts WHERE lower(username)=lower(?)", (username,)
        ).fetchone()
        return _row_dict(row) if row else None

    def set_password(self, user_id: str, password: str) -> None:
        self._conn.execute("UPDATE graph_accounts SET password=? WHERE id=?", (password, user_id))

    # ---- media -------------------------------------------------------------------------------
    def add_media(
        self,
        media_id: str,
        owner: str,
        created: float,
        body: dict[str, Any],
        *,
        parent: str | None = None,
        position: int = 0,
    ) -> None:
        self._conn.execute(
            "INSERT INTO graph_media VALUES (?, ?, ?, ?, ?, ?)",
            (media_id, owner, parent, position, created, _json(body)),
        )

    def media(self, media_id: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT * FROM graph_media WHERE id=?", (media_id,)).fetchone()
        return _row_dict(row) if row else None

    def update_media(self, media_id: str, changes: dict[str, Any]) -> None:
        current = self.media(media_id)
        if current is None:
            return
        row = self._conn.execute("SELECT body FROM graph_media WHERE id=?", (media_id,)).fetchone()
        body = {**json.loads(row["body"]), **changes}
        self._conn.execute("UPDATE graph_media SET body=? WHERE id=?", (_json(body), media_id))

    def media_of(self, owner: str, *, stories: bool) -> list[dict[str, Any]]:
        """Top-level media of an account, newest first; feed/reels or stories."""
        op = "=" if stories else "!="
        rows = self._conn.execute(
            "SELECT * FROM graph_media WHERE owner=? AND parent IS NULL "
            f"AND json_extract(body, '$.media_product_type') {op} 'STORY' "
            "ORDER BY created DESC, id DESC",
            (owner,),
        ).fetchall()
        return [_row_dict(row) for row in rows]

    def children(self, album_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT * FROM graph_media WHERE parent=? ORDER BY position, id", (album_id,)
        ).fetchall()
        return [_row_dict(row) for row in rows]

    # ---- comments ----------------------------------------------------------------------------
    def add_comment(self, comment: dict[str, Any]) -> None:
        self._conn.execute(
            "INSERT INTO graph_comments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                comment["id"],
                comment["media"],
                comment.get("parent"),
                comment["created"],
                comment["username"],
                comment["from_id"],
                comment["text"],
                int(bool(comment.get("hidden", False))),
                int(comment.get("like_count", 0)),
            ),
        )

    def comment(self, comment_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT * FROM graph_comments WHERE id=?", (comment_id,)
        ).fetchone()
        return dict(row) if row else None

    def comments(self, media_id: str, parent: str | None = None) -> list[dict[str, Any]]:
        """Top-level comments of a media (or replies of ``parent``), newest first (§3.3)."""
        if parent is None:
            rows = self._conn.execute(
                "SELECT * FROM graph_comments WHERE media=? AND parent IS NULL "
                "ORDER BY created DESC, id DESC",
                (media_id,),
            ).fetchall()
        else:
            rows = self._conn.execute(
                "SELECT * FROM graph_comments WHERE parent=? ORDER BY created DESC, id DESC",
                (parent,),
            ).fetchall()
        return [dict(row) for row in rows]

    def comment_count(self, media_id: str) -> int:
        row = self._conn.execute(
            "SELECT count(*) AS n FROM graph_comments WHERE media=?", (media_id,)
        ).fetchone()
        return int(row["n"])

    def set_hidden(self, comment_id: str, hidden: bool) -> None:
        self._conn.execute(
            "UPDATE graph_comments SET hidden=? WHERE id=?", (int(hidden), comment_id)
        )

    def delete_comment(self, comment_id: str) -> None:
        self._conn.execute("DELETE FROM graph_comments WHERE parent=?", (comment_id,))
        self._conn.execute("DELETE FROM graph_comments WHERE id=?", (comment_id,))

    # ---- containers ----------------------------------------------------------------------------
    def add_container(
        self, container_id: str, owner: str, created: float, body: dict[str, Any]
    ) -> None:
        self._conn.execute(
            "INSERT INTO graph_containers VALUES (?, ?, ?, ?, NULL, NULL)",
            (container_id, owner, created, _json(body)),
        )

    def container(self, container_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT * FROM graph_containers WHERE id=?", (container_id,)
        ).fetchone()
        return _row_dict(row) if row else None

    def mark_published(self, container_id: str, media_id: str, when: float) -> None:
        self._conn.execute(
            "UPDATE graph_containers SET media_id=?, published=? WHERE id=?",
            (media_id, when, container_id),
        )

    def publishes_since(self, owner: str, since: float) -> int:
        row = self._conn.execute(
            "SELECT count(*) AS n FROM graph_containers WHERE owner=? AND published IS NOT NULL "
            "AND published > ? AND json_extract(body, '$.is_carousel_item') IS NOT 1",
            (owner, since),
        ).fetchone()
        return int(row["n"])

    # ---- tokens, codes, sessions ---------------------------------------------------------------
    def issue_token(
        self,
        kind: str,
        user_id: str,
        client_id: str,
        scopes: frozenset[str],
        now: float,
        lifetime: float,
    ) -> Token:
        # Real Instagram tokens start "IG"; the 40-hex tail lets the log's secret index mask it.
        value = "IGAA" + secrets.token_hex(20)
        self._conn.execute(
            "INSERT INTO graph_tokens VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
            (value, kind, user_id, client_id, ",".join(sorted(scopes)), now, now + lifetime),
        )
        return Token(value, kind, user_id, client_id, scopes, now, now + lifetime, None)

    def token(self, value: str) -> Token | None:
        row = self._conn.execute("SELECT * FROM graph_tokens WHERE token=?", (value,)).fetchone()
        if row is None:
            return None
        return Token(
            token=row["token"],
            kind=row["kind"],
            user_id=row["user_id"],
            client_id=row["client_id"],
            scopes=frozenset(filter(None, row["scopes"].split(","))),
            issued=row["issued"],
            expires=row["expires"],
            revoked=row["revoked"],
        )

    def revoke_tokens(self, user_id: str, reason: str, client_id: str | None = None) -> int:
        if client_id is None:
            cursor = self._conn.execute(
                "UPDATE graph_tokens SET revoked=? WHERE user_id=? AND revoked IS NULL",
                (reason, user_id),
            )
        else:
            cursor = self._conn.execute(
                "UPDATE graph_tokens SET revoked=? WHERE user_id=? AND client_id=? "
                "AND revoked IS NULL",
                (reason, user_id, client_id),
            )
        return int(cursor.rowcount)

    def secrets(self) -> list[str]:
        """Every secret in the state (the request log masks them)."""
        values = [row[0] for row in self._conn.execute("SELECT token FROM graph_tokens")]
        values += [row[0] for row in self._conn.execute("SELECT code FROM graph_codes")]
        values += [row[0] for row in self._conn.execute("SELECT id FROM graph_sessions")]
        values += [row[0] for row in self._conn.execute("SELECT secret FROM graph_apps")]
        return values

    def issue_code(
        self,
        client_id: str,
        user_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        expires: float,
    ) -> str:
        code = "AQ" + secrets.token_hex(24)
        self._conn.execute(
            "INSERT INTO graph_codes VALUES (?, ?, ?, ?, ?, ?, 0)",
            (code, client_id, user_id, redirect_uri, ",".join(scopes), expires),
        )
        return code

    def use_code(self, code: str) -> dict[str, Any] | None:
        """The code's row, marked used; None when unknown or already used."""
        row = self._conn.execute("SELECT * FROM graph_codes WHERE code=?", (code,)).fetchone()
        if row is None or row["used"]:
            return None
        self._conn.execute("UPDATE graph_codes SET used=1 WHERE code=?", (code,))
        return dict(row)

    def create_session(self, user_id: str, now: float) -> str:
        session = secrets.token_hex(16)
        self._conn.execute("INSERT INTO graph_sessions VALUES (?, ?, ?)", (session, user_id, now))
        return session

    def session_user(self, session: str) -> str | None:
        if not session:
            return None
        row = self._conn.execute(
            "SELECT user_id FROM graph_sessions WHERE id=?", (session,)
        ).fetchone()
        return str(row["user_id"]) if row else None

    # ---- webhook subscriptions -----------------------------------------------------------------
    def set_account_sub(self, client_id: str, user_id: str, fields: list[str]) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO graph_account_subs VALUES (?, ?, ?)",
            (client_id, user_id, ",".join(fields)),
        )

    def delete_account_sub(self, client_id: str, user_id: str) -> None:
        self._conn.execute(
            "DELETE FROM graph_account_subs WHERE client_id=? AND user_id=?", (client_id, user_id)
        )

    def account_subs(self, user_id: str) -> dict[str, list[str]]:
        rows = self._conn.execute(
            "SELECT client_id, fields FROM graph_account_subs WHERE user_id=?", (user_id,)
        ).fetchall()
        return {row["client_id"]: list(filter(None, row["fields"].split(","))) for row in rows}

    def set_app_sub(
        self, client_id: str, callback_url: str, verify_token: str, fields: list[str]
    ) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO graph_app_subs VALUES (?, ?, ?, ?)",
            (client_id, callback_url, verify_token, ",".join(fields)),
        )

    def app_subs(self) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT * FROM graph_app_subs ORDER BY client_id").fetchall()
        return [
            {**dict(row), "fields": list(filter(None, row["fields"].split(",")))} for row in rows
        ]

"""What the registration form asks beyond the OAuth settings (description, website, ...).

The OAuth tables hold what the API needs; these descriptive fields are the portal's own, kept in
a table of their own (made on first use, so a state file from before the portal still works).
"""

from __future__ import annotations

from collections.abc import Mapping

from igflow.sandbox.db import Database

FIELDS = ("description", "company", "website", "privacy_url", "contact_email")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_client_details (
    client_id     TEXT PRIMARY KEY,
    description   TEXT NOT NULL DEFAULT '',
    company       TEXT NOT NULL DEFAULT '',
    website       TEXT NOT NULL DEFAULT '',
    privacy_url   TEXT NOT NULL DEFAULT '',
    contact_email TEXT NOT NULL DEFAULT ''
);
"""


class ClientDetails:
    """The descriptive fields of clients registered in the portal."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ready = False

    def _schema(self) -> None:
        if not self._ready:
            self.db.executescript(_SCHEMA)
            self._ready = True

    def save(self, client_id: str, values: Mapping[str, str]) -> None:
        self._schema()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO portal_client_details VALUES (?, ?, ?, ?, ?, ?)",
                (client_id, *(values.get(name, "") for name in FIELDS)),
            )

    def get(self, client_id: str) -> dict[str, str]:
        """The client's fields; empty strings for a client registered elsewhere (CLI, dataset)."""
        self._schema()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM portal_client_details WHERE client_id = ?", (client_id,)
            ).fetchone()
        return {name: (row[name] if row else "") for name in FIELDS}

    def forget(self, client_id: str) -> None:
        self._schema()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM portal_client_details WHERE client_id = ?", (client_id,))

    def reset(self) -> None:
        """The tables were dropped (a state reset): make them again on next use."""
        self._ready = False

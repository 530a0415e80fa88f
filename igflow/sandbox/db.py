"""One SQLite connection, shared across the server's threads under a lock.

Every request runs inside ``transaction()``: either all its writes commit or none do, so a failed
request changes nothing (rate-limit counters are recorded outside it, on purpose).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Database:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
        self._lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block atomically; nested calls join the outer transaction."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def executescript(self, script: str) -> None:
        with self._lock:
            self._conn.executescript(script)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the connection for a sequence of transactions no other thread may interleave."""
        with self._lock:
            yield

    def wipe(self) -> None:
        """Drop every table, index and trigger (a reset loads the dataset again afterwards)."""
        with self._lock:
            # Foreign keys off while dropping, so the order of the tables does not matter; the
            # pragma cannot change inside a transaction, hence outside it.
            self._conn.execute("PRAGMA foreign_keys = OFF")
            try:
                with self.transaction() as conn:
                    names = conn.execute(
                        "SELECT type, name FROM sqlite_master "
                        "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
                    ).fetchall()
                    for kind, name in names:
                        quoted = '"' + str(name).replace('"', '""') + '"'
                        conn.execute(f"DROP {str(kind).upper()} IF EXISTS {quoted}")
            finally:
                self._conn.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        """Close the connection; a state file is checkpointed first, so it stands alone.

        In WAL mode recent writes sit in ``FILE-wal`` until a checkpoint; copying only the main
        file after a stop would lose them. Switching back to the rollback journal folds the WAL
        in and removes it (the next open turns WAL on again).
        """
        with self._lock:
            if self.path != ":memory:":
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    self._conn.execute("PRAGMA journal_mode = DELETE")
                except sqlite3.Error:
                    pass  # closing must not fail; SQLite still checkpoints on the last close
            self._conn.close()

"""A generated sandbox for the housekeeping playbooks, and views of its state that bypass igflow.

The sandbox is served on loopback with a generated dataset big enough to page (v1 pages hold at
most 33 items), a SQLite state file and a request log. What the tests expect is computed from
that state file (read through a separate read-only connection) and what the playbooks did is
read back from it and from the request log: never through igflow's client, templates or
filters, so a bug there cannot hide itself.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli_helpers import run_cli

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.dataset import generate_dataset
from igflow.sandbox.server import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
ME = "grantwinney"
GRANT = "3657782666"
PAGE = 33  # the most a v1 page holds: more items than this means more than one page

# Sizes: a few hundred likes, follows and media of his own, every list over several pages, and
# still about a second per playbook.
USERS = 150
MEDIA = 1200
GRANT_LIKES = 300
NEWEST_FIRST = "ORDER BY created_time DESC, pk DESC"  # how v1 lists media (keyset order)


@dataclass(frozen=True)
class Comment:
    id: int
    media_pk: int
    author: str
    text: str


@dataclass
class Sandbox:
    """A served sandbox: its URL, its state file and its request log."""

    url: str
    db: Path
    log: Path

    # ---- state, straight from SQLite ----------------------------------------------------
    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        uri = f"file:{self.db}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            return conn.execute(sql, args).fetchall()

    def likes(self) -> set[tuple[int, str]]:
        """Every like as (media pk, user id)."""
        return {(pk, user) for pk, user in self.rows("SELECT media_pk, user_id FROM likes")}

    def liked_by_me(self) -> set[int]:
        return {pk for pk, user in self.likes() if user == GRANT}

    def comments(self) -> dict[int, Comment]:
        rows = self.rows("SELECT id, media_pk, author, text FROM comments")
        return {row[0]: Comment(*row) for row in rows}

    def follows(self) -> set[tuple[str, str, str]]:
        """Every relationship row as (follower, followee, status)."""
        return set(self.rows("SELECT follower, followee, status FROM follows"))  # type: ignore[arg-type]

    def usernames(self) -> dict[str, str]:
        return dict(self.rows("SELECT id, username FROM users"))  # type: ignore[arg-type]

    def my_media(self) -> list[dict[str, Any]]:
        """grantwinney's media, newest first, with the counts computed here."""
        rows = self.rows(
            "SELECT pk, owner, shortcode, caption_text, created_time, "
            "(SELECT COUNT(*) FROM likes k WHERE k.media_pk = m.pk), "
            "(SELECT COUNT(*) FROM comments c WHERE c.media_pk = m.pk) "
            f"FROM media m WHERE owner = ? {NEWEST_FIRST}",
            GRANT,
        )
        keys = ("pk", "owner", "shortcode", "caption", "created_time", "likes", "comments")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # ---- what was sent ------------------------------------------------------------------
    def requests(self, endpoint: str) -> list[dict[str, Any]]:
        """The logged requests to one endpoint (registry id), in arrival order."""
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return [entry for entry in map(json.loads, lines) if entry["endpoint"] == endpoint]

    def endpoints(self) -> list[str | None]:
        """The endpoint of every logged request, in arrival order (None: OAuth, admin)."""
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return [json.loads(line)["endpoint"] for line in lines]

    def run(self, playbook: str, *args: str) -> tuple[int, str, str]:
        """``igflow run playbooks/<playbook> --target <this sandbox> ARGS``, in-process.

        The resume journal goes next to the state file, so runs never share one.
        """
        journal = ["--journal", str(self.db.parent / "journal.jsonl")]
        if "--journal" in args:
            journal = []
        return run_cli("run", str(PLAYBOOKS / playbook), "--target", self.url, *journal, *args)


def pages(items: int) -> int:
    """How many full-size v1 pages ``items`` entries take (at least one)."""
    return max(-(-items // PAGE), 1)


def media_pk(media_id: str) -> int:
    """The pk of a v1 media id ``<pk>_<owner id>``."""
    return int(media_id.partition("_")[0])


def path_media_pk(path: str) -> int:
    """The media pk in a logged request path such as ``/v1/media/<pk>_<owner>/likes``."""
    return media_pk(path.split("/")[3])


@contextmanager
def generated_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """Serve a fresh generated dataset; faithful write limits lifted (pacing is not tested here)."""
    data = generate_dataset(USERS, MEDIA, grant_likes=GRANT_LIKES)
    db, log = tmp_path / "state.db", tmp_path / "requests.jsonl"
    config = SandboxConfig(db=str(db), rate_limits="off", request_log=str(log))
    with start_sandbox(config, dataset=data) as running:
        yield Sandbox(running.url, db, log)


def outputs(stdout: str) -> dict[str, Any]:
    """The ``outputs:`` block the console prints at the end of a run, parsed back from JSON."""
    lines = stdout.splitlines()
    assert "outputs:" in lines, f"no outputs printed:\n{stdout}"
    found: dict[str, Any] = {}
    for line in lines[lines.index("outputs:") + 1 :]:
        if not line.startswith("  ") or " = " not in line:
            break
        name, _, value = line.strip().partition(" = ")
        found[name] = json.loads(value)
    return found

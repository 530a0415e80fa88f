"""A served Graph sandbox that records what reached it, and views of its state through plain HTTP.

The playbook tests run igflow against it and then read the state back with ``requests`` and a
token of the sandbox's own (``POST /_sandbox/token``), never through igflow's client, templates
or filters, so a bug there cannot hide itself. :class:`Recorder` keeps the raw target, query
string and Authorization header of every request, for the "no token in a URL" checks.
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from igflow.cli import Environment, main
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.graph.app import create_graph_app
from igflow.sandbox.server import RunningSandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks" / "graph"
VERSION = "v25.0"
MIRA, MIRA_ID = "mira.makes", "17841400000000101"
NORTHWIND, NORTHWIND_ID = "northwind.coffee", "17841400000000202"
ALL_SCOPES = [
    "instagram_business_basic",
    "instagram_business_manage_comments",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
]


@dataclass
class Seen:
    method: str
    path: str
    query: str
    authorization: str


class Recorder:
    """WSGI middleware: what every request carried, before the sandbox saw it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        entry = Seen(
            environ.get("REQUEST_METHOD", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_AUTHORIZATION", ""),
        )
        with self._lock:
            self.seen.append(entry)
        return self.app(environ, start_response)

    def __getattr__(self, name: str) -> Any:  # close(), config, ... of the real app
        return getattr(self.app, name)

    def bearer_tokens(self) -> set[str]:
        return {
            s.authorization.split(" ", 1)[1]
            for s in self.seen
            if s.authorization.lower().startswith("bearer ")
        }


@dataclass
class GraphSandbox:
    running: RunningSandbox
    recorder: Recorder
    tmp: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.running.url

    # ---- the state, through plain HTTP --------------------------------------------------
    def token(self, user: str) -> str:
        if user not in self._tokens:
            answer = requests.post(
                f"{self.url}/_sandbox/token", json={"user": user, "scopes": ALL_SCOPES}, timeout=10
            )
            answer.raise_for_status()
            self._tokens[user] = answer.json()["access_token"]
        return self._tokens[user]

    def get(self, user: str, path: str, **params: Any) -> Any:
        answer = requests.get(
            f"{self.url}/{VERSION}/{path.lstrip('/')}",
            params=params,
            headers={"Authorization": f"Bearer {self.token(user)}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def all_pages(self, user: str, path: str, **params: Any) -> list[Any]:
        body = self.get(user, path, **params)
        items = list(body.get("data", []))
        while body.get("paging", {}).get("next"):
            answer = requests.get(
                body["paging"]["next"],
                headers={"Authorization": f"Bearer {self.token(user)}"},
                timeout=10,
            )
            body = answer.json()
            items.extend(body.get("data", []))
        return items

    def media_ids(self, user: str, user_id: str) -> list[str]:
        return [m["id"] for m in self.all_pages(user, f"{user_id}/media", limit=50)]

    def comments(self, user: str, media_id: str) -> list[dict[str, Any]]:
        fields = "id,text,username,hidden,replies{id,text,username}"
        return self.all_pages(user, f"{media_id}/comments", fields=fields, limit=50)

    def all_comments(self, user: str, user_id: str) -> dict[str, dict[str, Any]]:
        """Every top-level comment on the account's media, by id."""
        return {
            c["id"]: {**c, "media": m}
            for m in self.media_ids(user, user_id)
            for c in self.comments(user, m)
        }

    # ---- running igflow against it ------------------------------------------------------
    def run(self, playbook: str, *args: str, environ: dict[str, str] | None = None) -> Run:
        journal = tempfile.mktemp(suffix=".jsonl", dir=self.tmp)
        report = tempfile.mktemp(suffix=".json", dir=self.tmp)
        argv = [
            "run",
            str(PLAYBOOKS / playbook),
            "--target",
            self.url,
            "--journal",
            journal,
            "--report",
            f"json:{report}",
            "--out-dir",
            str(self.tmp / "out"),
            *args,
        ]
        return run_igflow(argv, environ, [Path(journal), Path(report)])


@dataclass
class Run:
    code: int
    out: str
    err: str
    artefacts: list[Path]

    def texts(self) -> Iterable[str]:
        """Everything the run left for a person or a file: its output, reports, journal."""
        yield self.out
        yield self.err
        for path in self.artefacts:
            if path.is_file():
                yield path.read_text(encoding="utf-8", errors="replace")


def run_igflow(
    argv: list[str], environ: dict[str, str] | None = None, artefacts: list[Path] | None = None
) -> Run:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ=environ or {})
    code = main(argv, env)
    return Run(code, out.getvalue(), err.getvalue(), artefacts or [])


def serve(tmp: Path, **config: Any) -> Iterator[GraphSandbox]:
    settings = SandboxConfig(api="graph", **config)
    recorder = Recorder(create_graph_app(settings))
    with start_sandbox(app=recorder) as running:  # type: ignore[arg-type]
        yield GraphSandbox(running, recorder, tmp)

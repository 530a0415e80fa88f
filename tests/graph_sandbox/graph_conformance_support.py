"""Helpers for the Graph sandbox's conformance suite: a served sandbox, plain HTTP, no igflow
client code (the suite checks the emulator against the reference, not against igflow)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

V = "v25.0"
MIRA = "mira.makes"
MIRA_ID = "17841400000000101"
NORTHWIND = "northwind.coffee"
NORTHWIND_ID = "17841400000000202"
PERSONAL = "jo.personal"
APP_ID = "990011223344556"
APP_SECRET = "5f0c6a3e9b2d4c17a8e1f0b3c5d7e9a1"
IMAGE = "17900000000001001"  # mira's newest image, 7 comments (2 replies, 2 by mira)
REEL = "17900000000001002"
ALBUM = "17900000000001003"  # 3 children
OLD_IMAGE = "17900000000001004"
STORY = "17900000000001005"  # 3 viewers
NW_IMAGE = "17900000000002001"
NW_ALBUM = "17900000000002002"
SPAM_COMMENT = "17800000000010003"
OWNER_COMMENT = "17800000000010007"
TOP_COMMENT = "17800000000010005"
REPLY = "17800000000010006"
ALL_SCOPES = [
    "instagram_business_basic",
    "instagram_business_manage_comments",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
]


@dataclass
class Graph:
    """A served Graph sandbox and a caller holding one token."""

    sandbox: RunningSandbox
    token: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return self.sandbox.url

    def new_token(self, user: str = MIRA, scopes: list[str] | None = None, **extra: Any) -> str:
        body = {"user": user, "scopes": ALL_SCOPES if scopes is None else scopes, **extra}
        response = requests.post(self.url + "/_sandbox/token", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        version: str | None = V,
        **kwargs: Any,
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        use = self.token if token is None else token
        if use:
            headers.setdefault("Authorization", f"Bearer {use}")
        prefix = f"/{version}" if version else ""
        return self.session.request(
            method, self.url + prefix + path, headers=headers, timeout=10, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, self.url + "/_sandbox/" + path, json=body, timeout=10)

    def advance(self, seconds: float) -> None:
        assert self.admin("POST", "clock", {"advance": seconds}).status_code == 200


@contextmanager
def graph_sandbox(**config: Any) -> Iterator[Graph]:
    options: dict[str, Any] = {"api": "graph", "clock": "fake", **config}
    with start_sandbox(SandboxConfig(**options)) as sandbox:
        graph = Graph(sandbox)
        graph.token = graph.new_token()
        yield graph


def error_of(response: requests.Response) -> dict[str, Any]:
    """The Graph envelope's ``error``, checked for the members every error has (§5.1)."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and isinstance(error["code"], int)
    assert isinstance(error["fbtrace_id"], str) and len(error["fbtrace_id"]) >= 10
    assert response.headers["Content-Type"].startswith("application/json")
    return dict(error)


# ---- a loopback webhook receiver ----------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server on 127.0.0.1 that answers the handshake and records notifications."""

    def __init__(self, verify_token: str = "s3cret-verify", *, delay: float = 0.0) -> None:
        self.verify_token = verify_token
        self.delay = delay
        self.posts: list[Received] = []
        self.handshakes: list[dict[str, str]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                from urllib.parse import parse_qsl, urlsplit

                query = dict(parse_qsl(urlsplit(self.path).query))
                receiver.handshakes.append(query)
                ok = (
                    query.get("hub.mode") == "subscribe"
                    and query.get("hub.verify_token") == receiver.verify_token
                )
                body = query.get("hub.challenge", "").encode() if ok else b"forbidden"
                self.send_response(200 if ok else 403)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                import time

                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver.posts.append(Received(self.path, dict(self.headers.items()), body))
                receiver.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def payloads(self) -> list[Any]:
        return [json.loads(post.body) for post in self.posts]

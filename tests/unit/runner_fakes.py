"""A fake API for driving the runner without HTTP: canned bodies, pages, rate-limit headers."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from igflow.client import ApiResponse, RateLimitInfo
from igflow.playbook import compile_playbook, load_playbook_text
from igflow.playbook.model import Playbook, Step
from igflow.registry import Endpoint
from igflow.results import ItemRecord, RunResult, StepRecord
from igflow.runner import Runner

Responder = Callable[[Endpoint, Mapping[str, Any]], Any]


def response(body: Any, remaining: int | None = None, url: str = "http://fake/v1/x") -> ApiResponse:
    return ApiResponse(
        status=200,
        body=body,
        headers={},
        rate_limit=RateLimitInfo(5000 if remaining is not None else None, remaining),
        elapsed=0.001,
        method="GET",
        url=url,
        endpoint_id=None,
    )


@dataclass
class FakeClient:
    respond: Responder
    pages: Mapping[str, Any] = field(default_factory=dict)  # next_url -> body
    remaining: Callable[[], int | None] = lambda: None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    followed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(
        self,
        endpoint: Endpoint,
        params: Mapping[str, Any],
        *,
        token: str | None,
        timeout: Any,
        retry: Any = None,
    ) -> ApiResponse:
        with self.lock:
            self.calls.append((endpoint.id, dict(params)))
        result = self.respond(endpoint, params)
        if isinstance(result, Exception):
            raise result
        return response(result, self.remaining())

    def get_next(
        self,
        url: str,
        *,
        endpoint: Endpoint,
        token: str | None,
        timeout: Any,
        retry: Any = None,
    ) -> ApiResponse:
        self.followed.append(url)
        return response(self.pages[url], self.remaining(), url=url)


@dataclass
class Authorized:
    client: FakeClient
    token: str = "token-1"


@dataclass
class FakeConnection:
    client: FakeClient

    def authorize(self, **spec: Any) -> Authorized:
        return Authorized(self.client)

    def anonymous_client(self) -> FakeClient:
        return self.client


@dataclass
class Events:
    lines: list[str] = field(default_factory=list)
    threads: set[str] = field(default_factory=set)

    def _note(self, line: str) -> None:
        self.threads.add(threading.current_thread().name)
        self.lines.append(line)

    def run_started(self, playbook: Playbook, origin: str) -> None:
        self._note("start")

    def step_started(self, step: Step, label: str | None = None) -> None:
        self._note(f"begin {step.index}")

    def loop_started(self, step: Step, total: int) -> None:
        self._note(f"loop {step.index} {total}")

    def item_finished(self, step: Step, item: ItemRecord, done: int, total: int) -> None:
        self._note(f"item {item.index} {item.status} {done}/{total}")

    def step_finished(self, record: StepRecord) -> None:
        self._note(f"end {record.step.index} {record.status}")

    def run_finished(self, result: RunResult) -> None:
        self._note("finish")


def compile_text(body: str) -> Playbook:
    doc = load_playbook_text("igflow: 1\n" + textwrap.dedent(body), "play.yml")
    playbook, issues = compile_playbook(doc)
    assert playbook is not None, [str(issue) for issue in issues]
    return playbook


def run(body: str, client: FakeClient, **kwargs: Any) -> tuple[RunResult, Events]:
    events = Events()
    result = Runner(compile_text(body), FakeConnection(client), events, **kwargs).run("x")
    return result, events


AUTH = "  - authorize: {scopes: [basic, public_content, likes, comments], user: grantwinney}\n"

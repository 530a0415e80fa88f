"""Fuzz `igflow run` against an origin that answers anything (requests-mock).

A small fixed set of real playbooks (authorize with a token, call, extract, assert, set, log,
foreach with concurrency, paginate, expect_error, on_error, write, outputs) runs against
``http://fuzz.invalid``, whose every answer Hypothesis chooses: random statuses, malformed or
truncated JSON, wrong content types, JSON of the wrong shape, huge values, missing envelope
fields, random error envelopes, hostile pagination links, odd rate-limit headers, and network
exceptions instead of responses.

Invariants: a documented exit code (never 70) with the error on stderr, no traceback, the token
nowhere in the output or in any file the run wrote, and no request sent anywhere but the target.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent, indent
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests_mock
from fuzz_support import (
    Clock,
    assert_no_crash,
    fuzz_settings,
    known_crash,
    run_cli,
    simulated_sleep,
)
from hypothesis import given
from hypothesis import strategies as st
from response_strategies import (
    ANSWERS,
    CLIENT_SECRET,
    INFO_ANSWERS,
    OAUTH_ANSWERS,
    ORIGIN,
    PASSWORD,
    TOKEN,
    Answer,
    Failure,
    Reply,
)

from igflow.errors import ExitCode

# A run against a hostile origin must still end in reasonable (simulated) time.
MAX_SIMULATED_WAIT = 3600.0
# Control characters other than the newline (escape sequences, carriage returns, ...).
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")

SCOPES = "[basic, public_content, follower_list, comments, relationships, likes]"
AUTHORIZE_ENV = f'  - authorize: {{scopes: {SCOPES}, token: "{{{{ env.IG_TOKEN }}}}"}}\n'
AUTHORIZE_LITERAL = f'  - authorize: {{scopes: {SCOPES}, token: "{TOKEN}"}}\n'


@dataclass(frozen=True)
class Scenario:
    """A playbook and the exit codes a misbehaving API may legitimately cause."""

    steps: str
    codes: frozenset[int]
    literal_token: bool = False
    outputs: str = ""

    def text(self) -> str:
        header = f"igflow: 1\ntarget: {ORIGIN}\nsecrets: [IG_TOKEN]\nsteps:\n"
        auth = AUTHORIZE_LITERAL if self.literal_token else AUTHORIZE_ENV
        # Writes are relative to the playbook's directory: the run's own temporary one.
        steps = indent(dedent(self.steps), "  ")
        return header + auth + steps + dedent(self.outputs)


# Exit codes any API answer can cause: 0 ok, 1 assertion/extraction/expect_error, 3 API error,
# 4 transport failure or malformed response, 5 authentication error, 6 refused next_url.
API = frozenset({0, 1, 3, 4, 5, 6})
# ... and 2 where a template does arithmetic or lookups on response values, which can fail at
# run time with a value of the wrong type (README: "a template that fails at run time").
API_AND_TEMPLATES = API | {2}

SCENARIOS: dict[str, Scenario] = {
    "profile": Scenario(
        """\
          - id: me
            call: users.self
            extract:
              user_id: $.data.id
              username: {path: $.data.username, default: "?"}
              counts: {path: $.data.counts, default: null}
          - log: "{{ username }} ({{ user_id }}): {{ counts }}"
          - assert:
              - steps.me.status == "ok"
              - steps.me.response is not none
        """,
        API,
        literal_token=True,
    ),
    "recent media": Scenario(
        """\
          - id: recent
            call: users.media_recent_self
            with: {count: 5}
            extract:
              ids: $.data[*].id
              likes: $.data[*].likes.count
              captions: $..caption.text
              first: {path: "$.data[0]", default: null}
          - set:
              numbers: likes | select("number") | list
              spam: captions | select("string") | select("regex_search", "follow|https?://") | list
          - log: "{{ ids | length }} media, {{ numbers | length }} counts, {{ spam | length }} spam"
          - assert: ids | length >= 0
        """,
        API,
        outputs="""\
        outputs:
          total: numbers | sum
          first_id: first.id
        """,
    ),
    "likes arithmetic": Scenario(
        """\
          - call: media.get
            with: {media_id: "1_2"}
            extract:
              likes: $.data.likes.count
              owner: $.data.user.username
          - set:
              more: likes + 1
          - log: "{{ owner | upper }} has {{ more }} likes"
          - assert:
              - more > likes
        """,
        API_AND_TEMPLATES,
    ),
    "foreach": Scenario(
        """\
          - call: users.media_recent_self
            extract:
              ids: $.data[*].id
          - name: Each media
            foreach: "{{ ids }}"
            as: media_id
            concurrency: 4
            call: media.get
            with: {media_id: "{{ media_id }}"}
            on_error: continue
            extract:
              likes: {path: $.data.likes.count, default: 0}
          - log: "{{ likes | length }} results"
          - id: again
            foreach: ["1_2", "3_4", "5_6"]
            call: likes.list
            with: {media_id: "{{ item }}"}
            extract:
              likers: $.data[*].username
        """,
        API,
    ),
    "paginate": Scenario(
        """\
          - id: liked
            call: users.media_liked
            paginate: {max_pages: 4, max_items: 10}
            extract:
              liked: $.data[*].id
              cursor: {path: $.pagination.next_max_like_id, default: null}
          - id: follows
            call: relationships.follows
            paginate: true
            on_error: continue
            extract:
              names: $.data[*].username
          - assert:
              - steps.liked.pages >= 1
              - liked | length <= 10
        """,
        API,
    ),
    "expect_error and write": Scenario(
        """\
          - call: media.get
            with: {media_id: "0_0"}
            expect_error: NotFoundError
          - id: feed
            call: users.feed
            on_error: continue
          - call: users.media_recent_self
            extract:
              rows: $.data[*]
          - write: {path: "exports/media.json", value: "{{ rows }}"}
          - write: {path: "exports/media.jsonl", value: "{{ rows }}"}
          - write:
              path: "exports/media.csv"
              value: "{{ rows | selectattr('id', 'defined') | list }}"
              columns: [id, type, link]
          - write: {path: "exports/feed.json", value: "{{ steps.feed }}"}
        """,
        API,
    ),
}


class Origin:
    """The mocked origin: serves drawn answers in order, then repeats the last one.

    ``routes`` maps a path prefix to its own answers (the sandbox's info and OAuth pages);
    every other request gets the next of ``answers``.
    """

    def __init__(
        self, answers: Sequence[Answer], routes: Mapping[str, Sequence[Answer]] | None = None
    ) -> None:
        self.queues = {"": list(answers), **{k: list(v) for k, v in (routes or {}).items()}}
        self.served = dict.fromkeys(self.queues, 0)
        self.urls: list[str] = []
        self._lock = threading.Lock()

    def fresh(self) -> Origin:
        """The same answers, none served yet."""
        return Origin(self.queues[""], {k: v for k, v in self.queues.items() if k})

    def __call__(self, request: Any, context: Any) -> bytes:
        path = urlsplit(request.url).path
        route = max((k for k in self.queues if path.startswith(k)), key=len)
        with self._lock:
            self.urls.append(request.url)
            queue = self.queues[route]
            answer = queue[min(self.served[route], len(queue) - 1)]
            self.served[route] += 1
        if isinstance(answer, Failure):
            raise answer.make(request.url)
        assert isinstance(answer, Reply)
        context.status_code = answer.status
        context.headers = dict(answer.headers)
        return answer.body


@contextmanager
def working_directory(path: str) -> Iterator[None]:
    """Run in ``path``, so anything written relative to the cwd lands in the temp dir."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def leaks(secret: str, text: str, size: int = 16) -> list[str]:
    """Pieces of ``secret`` (``size`` characters or more) found in ``text``."""
    pieces = {secret[i : i + size] for i in range(max(len(secret) - size + 1, 1))}
    return sorted(piece for piece in pieces if piece in text)


def run_scenario(scenario: Scenario, answers: Sequence[Answer], argv: Sequence[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_playbook(tmp, scenario.text(), scenario.codes, Origin(answers), argv)


def run_playbook(
    tmp: str,
    text: str,
    codes: frozenset[int],
    origin: Origin,
    argv: Sequence[str],
    secrets: Sequence[str] = (TOKEN,),
) -> None:
    """Run ``text`` against ``origin`` in ``tmp`` and check every invariant."""
    path = Path(tmp) / "fuzz.yml"
    path.write_text(text, encoding="utf-8")

    def invoke(server: Origin, *flags: str) -> tuple[int, str, str, Clock]:
        with working_directory(tmp), requests_mock.Mocker() as mocker, simulated_sleep() as clock:
            mocker.register_uri(requests_mock.ANY, requests_mock.ANY, content=server)
            argv_ = [*flags, "run", str(path), *argv]
            code, out, err = run_cli(argv_, environ={"IG_TOKEN": TOKEN})
        return code, out, err, clock

    code, out, err, clock = invoke(origin)

    def rerun() -> str:  # the same answers from the start, to see where it crashed
        return invoke(origin.fresh(), "--traceback")[2]

    if known_crash(code, rerun):
        return
    assert_no_crash(code, out, err, rerun)
    assert clock.slept <= MAX_SIMULATED_WAIT, f"would have waited {clock.slept} s:\n{out}"
    assert code in codes, f"exit {code}:\n{out}\n{err}"
    if code == ExitCode.OK:
        assert not err, err
    else:
        assert err.strip(), f"exit {code} with nothing on stderr:\n{out}"
    if code == ExitCode.USAGE:
        # Only a template failing on response data, reported at its place in the playbook.
        assert err.startswith(f"igflow: error: {path}:"), err
    # What the server sent reaches the terminal: no escape sequences, no faked lines.
    control = CONTROL.search(err)
    assert control is None, f"control character {control.group()!r} on stderr:\n{err!r}"
    for secret in secrets:
        assert not leaks(secret, out + err), f"secret leaked:\n{out}\n{err}"
    for written in Path(tmp).rglob("*"):
        if written.is_file() and written != path:
            content = written.read_text(encoding="utf-8", errors="replace")
            for secret in secrets:
                assert not leaks(secret, content), f"leaked into {written}:\n{content[:2000]}"
    for url in origin.urls:
        assert urlsplit(url).hostname == "fuzz.invalid", f"a request left the target: {url}"


VERBOSITY = st.sampled_from([[], [], ["-v"], ["-q"]])


@fuzz_settings(ci_examples=250)
@given(
    name=st.sampled_from(sorted(SCENARIOS)),
    answers=st.lists(ANSWERS, min_size=1, max_size=6),
    argv=VERBOSITY,
)
def test_run_against_any_api_answer(name: str, answers: list[Answer], argv: list[str]) -> None:
    run_scenario(SCENARIOS[name], answers, argv)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_are_valid_playbooks(tmp_path: Path, name: str) -> None:
    path = tmp_path / "scenario.yml"
    path.write_text(SCENARIOS[name].text(), encoding="utf-8")
    code, out, err = run_cli(["check", str(path)])
    assert (code, err) == (0, ""), err


LOGIN = f"""\
igflow: 1
target: {ORIGIN}
steps:
  - authorize: {{scopes: [basic], user: grantwinney}}
  - id: me
    call: users.self
    extract:
      username: {{path: $.data.username, default: "?"}}
  - log: "{{{{ username }}}}"
"""


@fuzz_settings(ci_examples=100)
@given(
    info=st.lists(INFO_ANSWERS, min_size=1, max_size=2),
    oauth=st.lists(OAUTH_ANSWERS, min_size=1, max_size=6),
    answers=st.lists(ANSWERS, min_size=1, max_size=3),
    argv=VERBOSITY,
)
def test_sandbox_login_against_any_answer(
    info: list[Answer], oauth: list[Answer], answers: list[Answer], argv: list[str]
) -> None:
    """`authorize: {user: ...}` against a target that claims to be a sandbox, and lies."""
    origin = Origin(answers, {"/_sandbox/info": info, "/oauth/": oauth})
    with tempfile.TemporaryDirectory() as tmp:
        run_playbook(tmp, LOGIN, API, origin, argv, secrets=(TOKEN, PASSWORD, CLIENT_SECRET))

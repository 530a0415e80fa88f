"""The runner without any HTTP: a fake connection and client feed it canned responses."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from igflow.client import ApiResponse, RateLimitInfo
from igflow.errors import (
    APINotFoundError,
    AssertionFailed,
    AuthenticationError,
    ExpectedErrorMissing,
    ExtractionError,
    OAuthPermissionsException,
    TemplateRenderError,
)
from igflow.playbook import compile_playbook, load_playbook_text
from igflow.playbook.model import Playbook, Step
from igflow.registry import Endpoint
from igflow.results import ItemRecord, RunResult, StepRecord
from igflow.runner import Runner

Responder = Callable[[Endpoint, Mapping[str, Any]], Any]


def response(body: Any, status: int = 200) -> ApiResponse:
    return ApiResponse(
        status=status,
        body=body,
        headers={},
        rate_limit=RateLimitInfo(None, None),
        elapsed=0.001,
        method="GET",
        url="http://fake/v1",
        endpoint_id=None,
    )


@dataclass
class FakeClient:
    respond: Responder
    calls: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)

    def call(
        self,
        endpoint: Endpoint,
        params: Mapping[str, Any],
        *,
        token: str | None,
        timeout: Any = None,
        retry: Any = None,
    ) -> ApiResponse:
        self.calls.append((endpoint.id, dict(params), token))
        result = self.respond(endpoint, params)
        if isinstance(result, Exception):
            raise result
        return response(result)


@dataclass
class Authorized:
    client: FakeClient
    token: str


@dataclass
class FakeConnection:
    client: FakeClient
    authorizations: list[dict[str, Any]] = field(default_factory=list)

    def authorize(self, **spec: Any) -> Authorized:
        self.authorizations.append(spec)
        return Authorized(self.client, f"token-{len(self.authorizations)}")

    def anonymous_client(self) -> FakeClient:
        return self.client


@dataclass
class RecordingReporter:
    events: list[str] = field(default_factory=list)

    def run_started(self, playbook: Playbook, origin: str) -> None:
        self.events.append(f"start {origin}")

    def step_started(self, step: Step, label: str | None = None) -> None:
        self.events.append(f"begin {step.index}")

    def loop_started(self, step: Step, total: int) -> None:
        self.events.append(f"loop {step.index} {total}")

    def item_finished(self, step: Step, item: ItemRecord, done: int, total: int) -> None:
        self.events.append(f"item {step.index} {item.index} {item.status} {done}/{total}")

    def step_finished(self, record: StepRecord) -> None:
        self.events.append(f"end {record.step.index} {record.status}")

    def run_finished(self, result: RunResult) -> None:
        self.events.append("finish")


def compile_text(body: str, external: tuple[str, ...] = ()) -> Playbook:
    doc = load_playbook_text("igflow: 1\n" + textwrap.dedent(body), "play.yml")
    playbook, issues = compile_playbook(doc, external_names=external)
    assert playbook is not None, [str(issue) for issue in issues]
    return playbook


def run(
    body: str, respond: Responder, **kwargs: Any
) -> tuple[RunResult, FakeConnection, RecordingReporter]:
    connection = FakeConnection(FakeClient(respond))
    reporter = RecordingReporter()
    playbook = compile_text(body, tuple(kwargs.get("variables", {})))
    result = Runner(playbook, connection, reporter, **kwargs).run("http://fake")
    return result, connection, reporter


MEDIA = {"data": {"id": "1_2", "likes": {"count": 3}, "tags": ["a", "b"]}}


def test_extracts_asserts_and_passes_native_values_to_the_next_call() -> None:
    result, connection, reporter = run(
        """\
        steps:
          - authorize: {scopes: [basic, likes], user: grantwinney}
          - call: media.shortcode
            with: {shortcode: abc}
            extract:
              media_id: $.data.id
              likes: $.data.likes.count
              tags: $.data.tags[*]
            assert:
              - likes == 3
              - tags == ["a", "b"]
          - call: likes.delete
            with: {media_id: "{{ media_id }}"}
        """,
        lambda endpoint, params: MEDIA if endpoint.id == "media.shortcode" else {"data": None},
    )
    assert result.ok
    assert connection.client.calls == [
        ("media.shortcode", {"shortcode": "abc"}, "token-1"),
        ("likes.delete", {"media_id": "1_2"}, "token-1"),
    ]
    assert result.records[1].extracted == {"media_id": "1_2", "likes": 3, "tags": ["a", "b"]}
    assert reporter.events == [
        "start http://fake",
        "begin 0",
        "end 0 ok",
        "begin 1",
        "end 1 ok",
        "begin 2",
        "end 2 ok",
        "finish",
    ]


def test_authorize_renders_user_and_token_templates() -> None:
    _, connection, _ = run(
        """\
        vars: {who: grantwinney}
        steps:
          - authorize: {scopes: [basic], user: "{{ who }}", client: live}
        """,
        lambda e, p: {},
    )
    assert connection.authorizations == [
        {
            "scopes": ("basic",),
            "user": "grantwinney",
            "password": None,
            "client": "live",
            "token": None,
        }
    ]


def test_assertion_failure_halts_with_location_and_values() -> None:
    result, _, reporter = run(
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: media.shortcode
            with: {shortcode: abc}
            extract: {likes: $.data.likes.count}
            assert: [likes == 4]
          - log: not reached
        """,
        lambda e, p: MEDIA,
    )
    error = result.error
    assert isinstance(error, AssertionFailed)
    assert error.values == {"likes": 3}
    assert str(error.location) == "play.yml:7:14"
    assert len(result.records) == 2 and "begin 2" not in reporter.events


def test_expected_error_is_recorded_and_the_run_goes_on() -> None:
    refused = OAuthPermissionsException("needs likes", status=400, code=400)
    result, _, _ = run(
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - id: unlike
            call: likes.delete
            with: {media_id: "1_2"}
            expect_error: ApiPermissionError
          - assert:
              - steps.unlike.status == "expected-error"
              - steps.unlike.error.error_type == "OAuthPermissionsException"
        """,
        lambda e, p: refused,
    )
    assert result.ok
    assert [r.status for r in result.records] == ["ok", "expected-error", "ok"]


def test_expected_error_with_a_message_that_does_not_match_halts() -> None:
    result, _, _ = run(
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: media.get
            with: {media_id: "9_9"}
            expect_error: {type: NotFoundError, message: this user does not exist}
        """,
        lambda e, p: APINotFoundError("invalid media id", status=400, code=400),
    )
    assert isinstance(result.error, APINotFoundError)


def test_success_where_an_error_was_expected_fails() -> None:
    result, _, _ = run(
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: users.self
            expect_error: NotFoundError
        """,
        lambda e, p: {"data": {}},
    )
    assert isinstance(result.error, ExpectedErrorMissing)
    assert result.error.exit_code == 1


def test_on_error_continue_records_and_continues() -> None:
    result, _, _ = run(
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: media.get
            with: {media_id: "9_9"}
            on_error: continue
          - log: after
        """,
        lambda e, p: APINotFoundError("invalid media id", status=400),
    )
    assert result.ok
    assert [r.status for r in result.records] == ["ok", "error-ignored", "ok"]


def test_when_skips_and_set_computes() -> None:
    result, connection, _ = run(
        """\
        vars: {n: 2}
        steps:
          - set: {doubled: n * 2}
          - when: doubled > 10
            log: skipped
          - assert: [doubled == 4]
        """,
        lambda e, p: {},
    )
    assert result.ok
    assert [r.status for r in result.records] == ["ok", "skipped", "ok"]
    assert connection.client.calls == []


def test_singular_path_that_matches_nothing_is_an_extraction_error() -> None:
    result, _, _ = run(
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: users.self
            extract: {bio: $.data.bio}
        """,
        lambda e, p: {"data": {"id": "1"}},
    )
    assert isinstance(result.error, ExtractionError)
    assert result.error.location is not None and result.error.location.line == 5


def test_extraction_default_is_used_when_nothing_matches() -> None:
    result, _, _ = run(
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: users.self
            extract:
              bio: {path: $.data.bio, default: none given}
            assert: [bio == "none given"]
        """,
        lambda e, p: {"data": {"id": "1"}},
    )
    assert result.ok


def test_external_variables_override_playbook_vars() -> None:
    result, _, _ = run(
        """\
        vars: {greeting: hello}
        steps:
          - assert: [greeting == "bonjour"]
        """,
        lambda e, p: {},
        variables={"greeting": "bonjour"},
    )
    assert result.ok


def test_secret_variables_are_handed_to_the_redactor() -> None:
    secrets: list[Any] = []
    result, _, _ = run(
        """\
        vars: {key: abc123456}
        secrets: [key]
        steps:
          - log: "{{ key }}"
        """,
        lambda e, p: {},
        redact_value=secrets.append,
    )
    assert result.ok and secrets == ["abc123456"]


def test_missing_env_variable_is_a_render_error() -> None:
    result, _, _ = run(
        """\
        env: [NOT_SET]
        steps:
          - log: "{{ env.NOT_SET }}"
        """,
        lambda e, p: {},
        environ={},
    )
    assert isinstance(result.error, TemplateRenderError)
    assert result.error.message == "environment variable NOT_SET is not set"
    assert result.error.exit_code == 2


def test_a_call_needing_a_token_without_authorize_is_an_authentication_error() -> None:
    # `check` rejects this statically; the runner still refuses rather than sending no token.
    doc = load_playbook_text(
        "igflow: 1\nsteps:\n  - call: users.self\n    expect_error: OAuthParameterException\n",
        "play.yml",
    )
    playbook, issues = compile_playbook(doc)
    assert playbook is not None, issues
    result = Runner(playbook, FakeConnection(FakeClient(lambda e, p: {})), RecordingReporter()).run(
        "http://fake"
    )
    assert isinstance(result.error, AuthenticationError)


def test_interrupt_is_reported_as_interrupted() -> None:
    def interrupt(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        raise KeyboardInterrupt

    result, _, reporter = run(
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: users.self
        """,
        interrupt,
    )
    assert result.interrupted and not result.ok
    assert reporter.events[-1] == "finish"


@pytest.mark.parametrize("endpoint_auth", ["none"])
def test_endpoints_without_auth_use_the_anonymous_client(endpoint_auth: str) -> None:
    result, connection, _ = run(
        """\
        steps:
          - call: oembed.get
            with: {url: "https://www.instagram.com/p/Bcizg1_B3nu/"}
        """,
        lambda e, p: {"title": "x"},
    )
    assert result.ok
    assert connection.client.calls[0][2] is None and connection.authorizations == []


def test_a_var_that_fails_to_render_names_the_var() -> None:
    result, _, reporter = run(
        """\
        env: [NOPE]
        vars:
          token: "{{ env.NOPE }}"
        steps:
          - log: "{{ token }}"
        """,
        lambda e, p: {},
        environ={},
    )
    assert isinstance(result.error, TemplateRenderError)
    assert result.error.message == "vars.token: environment variable NOPE is not set"
    assert result.records == [] and reporter.events[-1] == "finish"

"""Executes a compiled playbook, step by step.

Rules of this module:
- Everything was compiled and checked before the first step (``igflow.playbook``); the runner
  never parses a template or a JSONPath.
- It does no I/O of its own: HTTP goes through the ``Connection`` it is given, output through the
  ``Reporter``. Tests can drive it with fakes.
- One flat namespace of names (DESIGN §7): vars, extracted names, ``set`` names, plus ``env`` and
  ``steps`` (every step with an id, as ``steps.<id>``).
- A step's outcome is a ``StepRecord``; the first unexpected error stops the run and is returned in
  ``RunResult.error`` (the CLI turns it into a message and an exit code).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from igflow.assertions import check_assertion
from igflow.errors import (
    ApiError,
    AuthenticationError,
    ExpectedErrorMissing,
    IgflowError,
)
from igflow.playbook.model import Playbook, Step
from igflow.templating import EnvironmentVariables

# Step statuses, as reports and `steps.<id>.status` show them.
OK = "ok"
SKIPPED = "skipped"
EXPECTED_ERROR = "expected-error"
FAILED = "failed"  # an assertion or expectation failed, or an error halted the run
IGNORED = "error-ignored"  # on_error: continue


@dataclass(frozen=True)
class RequestView:
    """The request behind a record, as reports show it: method and URL, already redacted."""

    method: str
    url: str


@dataclass
class ItemRecord:
    """One item of a ``foreach`` step."""

    index: int  # 0-based position in the list
    item: Any  # the loop value (reporters redact it)
    status: str = OK
    elapsed: float = 0.0
    http_status: int | None = None
    error: IgflowError | None = None
    extracted: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    request: RequestView | None = None  # the last request the item sent
    pages: int | None = None  # paginated calls: pages fetched


@dataclass
class StepRecord:
    step: Step
    status: str = OK
    elapsed: float = 0.0
    endpoint: str | None = None
    http_status: int | None = None
    error: IgflowError | None = None
    extracted: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # a log step's text, why it was skipped, what write wrote
    request: RequestView | None = None  # the last request the step sent (not for foreach)
    pages: int | None = None  # paginated calls: pages fetched
    items: list[ItemRecord] | None = None  # foreach steps: one per item, in item order

    @property
    def failed_items(self) -> list[ItemRecord]:
        return [i for i in self.items or () if i.status in (FAILED, IGNORED)]


@dataclass
class RunResult:
    playbook: Playbook
    records: list[StepRecord]
    elapsed: float
    error: IgflowError | None = None
    interrupted: bool = False
    # Top-level `outputs` that could be evaluated, in playbook order; the others, with why not.
    outputs: dict[str, Any] = field(default_factory=dict)
    output_errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted


class Reporter(Protocol):
    """What the runner tells its observers. Every call comes from the runner's own thread."""

    def run_started(self, playbook: Playbook, origin: str) -> None: ...
    def step_started(self, step: Step) -> None: ...
    def loop_started(self, step: Step, total: int) -> None: ...
    def item_finished(self, step: Step, item: ItemRecord, done: int, total: int) -> None: ...
    def step_finished(self, record: StepRecord) -> None: ...
    def run_finished(self, result: RunResult) -> None: ...


class Connection(Protocol):
    """What the runner needs from a target (``igflow.target.TargetSession``)."""

    def authorize(
        self,
        *,
        scopes: Any,
        user: str | None,
        password: str | None,
        client: str | None,
        token: str | None,
    ) -> Any: ...

    def anonymous_client(self) -> Any: ...


class Runner:
    def __init__(
        self,
        playbook: Playbook,
        connection: Connection,
        reporter: Reporter,
        *,
        variables: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        redact_value: Any = None,
        timeouts_for: Any = None,
    ) -> None:
        self.playbook = playbook
        self.connection = connection
        self.reporter = reporter
        self.external = dict(variables or {})
        self.names: dict[str, Any] = {
            "env": EnvironmentVariables(environ or {}),
            "steps": {},
        }
        self._redact_value = redact_value or (lambda value: None)
        self._timeouts_for = timeouts_for or (lambda seconds: None)
        self._auth: Any = None
        self._last_body: Any = None  # the latest call's parsed body, for steps.<id>.response

    # -- the run -------------------------------------------------------------------------
    def run(self, origin: str) -> RunResult:
        started = time.perf_counter()
        records: list[StepRecord] = []
        result = RunResult(self.playbook, records, 0.0)
        self.reporter.run_started(self.playbook, origin)
        try:
            self._bind_vars()
            for step in self.playbook.steps:
                record = self._run_step(step)
                records.append(record)
                if record.status == FAILED:
                    result.error = record.error
                    break
        except KeyboardInterrupt:
            result.interrupted = True
        except IgflowError as exc:  # vars that failed to render
            result.error = exc
        result.elapsed = time.perf_counter() - started
        self.reporter.run_finished(result)
        return result

    def _bind_vars(self) -> None:
        # External values (--var, --vars-file) win over the playbook's own defaults.
        self.names.update(self.external)
        for name, value in self.playbook.vars.items():
            if name not in self.external:
                try:
                    self.names[name] = value.render(self.names)
                except IgflowError as exc:
                    exc.message = f"vars.{name}: {exc.message}"
                    raise
        for name in self.playbook.secrets:
            if name in self.names:
                self._redact_value(self.names[name])

    def _run_step(self, step: Step) -> StepRecord:
        record = StepRecord(step, endpoint=step.endpoint.id if step.endpoint else None)
        self.reporter.step_started(step)
        started = time.perf_counter()
        try:
            if step.when is not None and not step.when.evaluate(self.names):
                record.status = SKIPPED
                record.message = f"when: {step.when.source}"
            else:
                self._execute(step, record)
        except IgflowError as exc:
            exc.at(step.location, step.label)
            record.error = exc
            if step.on_error == "continue":
                record.status = IGNORED
            else:
                record.status = FAILED
        record.elapsed = time.perf_counter() - started
        if step.id is not None:
            self.names["steps"][step.id] = {
                "status": record.status,
                "extracted": dict(record.extracted),
                "error": _error_view(record.error),
                "response": self._last_body if step.kind == "call" else None,
            }
        self.reporter.step_finished(record)
        return record

    # -- step kinds ----------------------------------------------------------------------
    def _execute(self, step: Step, record: StepRecord) -> None:
        if step.kind == "authorize":
            record.message = self._authorize(step)
        elif step.kind == "call":
            self._call(step, record)
        elif step.kind == "set":
            for name, expression in step.set_values.items():
                self.names[name] = expression.evaluate(self.names)
                record.extracted[name] = self.names[name]
        elif step.kind == "log":
            assert step.log is not None
            record.message = _as_text(step.log.render(self.names))
        if step.kind != "call":
            self._check_assertions(step)

    def _authorize(self, step: Step) -> str:
        """Run the authorize step; return who was authorized, for the console."""
        spec = step.authorize
        assert spec is not None

        def text(value: Any) -> str | None:
            return None if value is None else _as_text(value.render(self.names))

        user = text(spec.user)
        self._auth = self.connection.authorize(
            scopes=spec.scopes,
            user=user,
            password=text(spec.password),
            client=spec.client,
            token=text(spec.token),
        )
        who = f"as {user}" if user is not None else "with the given token"
        return who + (f" (client {spec.client})" if spec.client else "")

    def _call(self, step: Step, record: StepRecord) -> None:
        endpoint = step.endpoint
        assert endpoint is not None
        params = step.params.render(self.names) if step.params is not None else {}
        if endpoint.auth == "token":
            if self._auth is None:
                raise AuthenticationError(
                    f"{endpoint.id} needs an access token: no authorize step ran"
                )
            client, token = self._auth.client, self._auth.token
        else:
            client, token = self.connection.anonymous_client(), None
        timeouts = self._timeouts_for(step.timeout)
        self._last_body = None
        try:
            response = client.call(endpoint, params, token=token, timeout=timeouts)
        except ApiError as exc:
            record.http_status = exc.status
            if step.expect_error is not None and step.expect_error.matches(exc):
                record.status = EXPECTED_ERROR
                record.error = exc
                record.message = f"{exc.error_type}: {exc.message}"
                return
            raise
        record.http_status = response.status
        self._last_body = response.body
        if step.expect_error is not None:
            raise ExpectedErrorMissing(
                f"expected {step.expect_error.name}, but {endpoint.id} succeeded "
                f"(HTTP {response.status})"
            )
        for name, extraction in step.extract.items():
            try:
                value = (
                    extraction.path.extract(response.body, extraction.default)
                    if extraction.has_default
                    else extraction.path.extract(response.body)
                )
            except IgflowError as exc:
                exc.at(extraction.location, step.label)
                raise
            self.names[name] = value
            record.extracted[name] = value
        self._check_assertions(step)

    def _check_assertions(self, step: Step) -> None:
        for spec in step.asserts:
            try:
                check_assertion(spec.expression, self.names)
            except IgflowError as exc:
                exc.at(spec.location, step.label)
                raise


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _error_view(error: IgflowError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    view: dict[str, Any] = {"type": type(error).__name__, "message": error.message}
    if isinstance(error, ApiError):
        view.update(error_type=error.error_type, status=error.status, code=error.code)
    return view

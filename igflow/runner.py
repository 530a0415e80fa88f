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

Length: over 400 lines: the step semantics (loops, pages, writes, outputs) are one interpreter
over the compiled plan; the result types, the write protocol and the run's assembly already live
elsewhere (results.py, safety.py, compose.py).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import PurePath
from typing import Any, Protocol

from igflow.assertions import check_assertion
from igflow.envvars import EnvironmentVariables, secret_values
from igflow.errors import (
    ApiError,
    AssertionFailed,
    AuthenticationError,
    ExpectedErrorMissing,
    IgflowError,
    LoopError,
    MalformedResponse,
    SafetyError,
    SourceLocation,
    StepError,
    TransportError,
    WriteInDoubt,
)
from igflow.outputs import OutputDir
from igflow.playbook.model import (
    FORMAT_BY_EXTENSION,
    WRITE_FORMATS,
    Extraction,
    Playbook,
    Step,
)
from igflow.redact import cut_before_redacting
from igflow.registry import Endpoint
from igflow.results import (
    ItemRecord,
    ItemResult,
    Reporter,
    RequestView,
    RunResult,
    Status,
    StepRecord,
    error_view,
)
from igflow.safety import WriteGate, WriteInterrupted, WriteOutcome, WriteRequest

# The result types live in igflow.results (runner and reporters both import them); the status
# names are kept here too, for callers that knew them from the runner.
OK, SKIPPED, EXPECTED_ERROR = Status.OK, Status.SKIPPED, Status.EXPECTED_ERROR
FAILED, IGNORED, DRY_RUN = Status.FAILED, Status.IGNORED, Status.DRY_RUN
DONE_EARLIER, IN_DOUBT, NOT_RUN = Status.DONE_EARLIER, Status.IN_DOUBT, Status.NOT_RUN

# The most pages one `paginate` follows when it sets no max_pages (Runner._paginate).
MAX_PAGES = 10_000


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


# `steps.<id>` in an expression's source: which steps an output needs.
_STEP_REFERENCE = re.compile(r"\bsteps\.([A-Za-z_][A-Za-z0-9_]*)")

# "No body given": the page to extract from is the response's own body.
_UNSET: Any = object()


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
        redact_text: Callable[[str], str] | None = None,
        timeouts_for: Any = None,
        next_url_path: str = "pagination.next_url",
        gate: WriteGate | None = None,
        outputs: OutputDir | None = None,
    ) -> None:
        self.playbook = playbook
        self.connection = connection
        self.reporter = reporter
        self.external = dict(variables or {})
        # `env` holds only what the playbook declares; their secret values are redacted first.
        self.names: dict[str, Any] = {
            "env": EnvironmentVariables(environ or {}, playbook.env),
            "steps": {},
        }
        self._env_secrets = secret_values(environ or {}, playbook.env)
        self._redact_value = redact_value or (lambda value: None)
        self._redact_text = redact_text or (lambda text: text)
        self._timeouts_for = timeouts_for or (lambda seconds: None)
        self._next_url_keys = tuple(next_url_path.split("."))
        self.gate = gate or WriteGate()
        self._outputs = outputs or OutputDir.for_playbook(playbook.path)  # where `write` writes
        self._auth: Any = None
        # The API's latest X-Ratelimit-Remaining, read by the loop scheduler (any thread writes).
        self._rate_remaining: int | None = None
        self._api_usage: Any = None  # the latest usage the API reported (Graph)
        self._caps: dict[int, int] = {}  # step index -> its max_writes, once rendered
        self._accounts: dict[int, str | None] = {}  # id(authorization) -> account id
        self._files_written: list[str] = []  # what `write` steps wrote, in order
        self._account_lock = threading.Lock()

    # -- the run -------------------------------------------------------------------------
    def run(self, origin: str) -> RunResult:
        started = time.perf_counter()
        records: list[StepRecord] = []
        result = RunResult(self.playbook, records, 0.0)
        self.reporter.run_started(self.playbook, origin)
        finished: set[str] = set()  # step keys of the steps that ran to their end
        try:
            self._bind_vars()
            for step in self.playbook.steps:
                record = self._run_step(step)
                records.append(record)
                if self._halts(step, record.status):
                    result.error = record.error
                    if isinstance(record.error, SafetyError) and record.error.cap_reached:
                        finished.add(self.gate.step_key(step))  # it sends no more writes
                    break
                finished.add(self.gate.step_key(step))
            # A resume settles what earlier runs left in doubt and it never met again.
            self.gate.settle_leftovers(self._leftover_channel(), finished)
        except KeyboardInterrupt as exc:
            result.interrupted = True
            stopped = getattr(exc, "record", None)
            if isinstance(stopped, StepRecord):  # a write Ctrl-C left in doubt: it has a record
                records.append(stopped)
        except IgflowError as exc:  # vars that failed to render
            result.error = exc
        self._evaluate_outputs(result)
        result.dry_run = self.gate.dry_run
        result.writes = {k: v for k, v in self.gate.per_endpoint.items() if v}
        result.writes_done_earlier = self.gate.resumed
        result.reconciled = list(self.gate.reconciled)
        result.in_doubt = list(self.gate.in_doubt)
        result.in_doubt_by_hand = self.gate.by_hand
        result.journaled = self.gate.journal is not None
        result.files_written = list(self._files_written)
        result.api_usage = self._api_usage
        if result.error is None and not result.interrupted and self.gate.unsent:
            # on_error: continue goes past the API's refusals of items, not past writes that a
            # failing network kept from being sent: the run says so, and a later run sends them.
            count = len(self.gate.unsent)
            result.error = TransportError(
                f"{count} write{'s were' if count != 1 else ' was'} not sent because of "
                f"failures on the way, first {self.gate.unsent[0]}"
                + (f" (and {count - 1} more)" if count > 1 else "")
                + "; run again (with --resume where a journal is kept) to send them"
            )
        if result.error is None and not result.interrupted and result.in_doubt:
            # on_error: continue went past them; the run still does not end well.
            count = len(result.in_doubt)
            result.error = WriteInDoubt(
                f"{count} write{'s are' if count != 1 else ' is'} in doubt: "
                f"{'they' if count != 1 else 'it'} may or may not have been applied; "
                + result.settle_advice,
                count=count,
            )
        result.elapsed = time.perf_counter() - started
        self.reporter.run_finished(result)
        return result

    def _bind_vars(self) -> None:
        # Before anything renders: a var built from a secret environment variable holds it.
        for secret in self._env_secrets:
            self._redact_value(secret)
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

    def _evaluate_outputs(self, result: RunResult) -> None:
        for name, expression in self.playbook.outputs.items():
            try:
                result.outputs[name] = expression.evaluate(self.names)
            except IgflowError as exc:
                result.output_errors[name] = self._why_not(expression, exc, result)

    def _why_not(self, expression: Any, error: IgflowError, result: RunResult) -> str:
        """Why an output has no value, in words: Jinja's would be "'dict object' has no
        attribute 'each'" for a step the run never reached."""
        stopped = result.error is not None or result.interrupted
        when = "the run stopped before " if stopped else ""
        steps = [
            step_id
            for step_id in dict.fromkeys(_STEP_REFERENCE.findall(expression.source))
            if step_id not in self.names["steps"]
        ]
        if steps:
            listed = ", ".join(f"`{step_id}`" for step_id in steps)
            return f"{when}step {listed} " + ("finished" if stopped else "did not run")
        missing = sorted(n for n in expression.names if n not in self.names)
        if missing:
            listed = ", ".join(f"`{n}`" for n in missing)
            return f"{when}{listed} " + ("was set" if stopped else "was never set")
        return error.message

    def _run_step(self, step: Step) -> StepRecord:
        record = StepRecord(
            step,
            endpoint=step.endpoint.id if step.endpoint else None,
            label=step.rendered_label(self.names),  # a templated name, with the names known now
        )
        self.reporter.step_started(step, record.label)
        started = time.perf_counter()
        response: Any = None
        try:
            if step.foreach is not None:
                self._resolve_cap(step)
                self._run_loop(step, record)
            elif (skipped := _skip_reason(step, self.names)) is not None:
                record.status = SKIPPED
                record.message = skipped
            else:
                self._resolve_cap(step)
                self._confirm(step, 1)
                # A step outside a loop reads and writes the run's namespace directly.
                response = self._perform(step, self.names, record)
        except IgflowError as exc:
            exc.at(self._value_location(step, exc), record.label)
            record.error = exc
            record.status = self._failure_status(step, exc)
        except WriteInterrupted as exc:
            if step.foreach is not None:
                raise  # the loop is in flight: its in-doubt item was reported
            # Ctrl-C while the step's write was out: the step is in doubt, not "not run".
            record.status = IN_DOUBT
            record.error = WriteInDoubt(f"in doubt: {exc.message}")
            record.error.at(step.location, record.label)
            record.elapsed = time.perf_counter() - started
            if step.id is not None:
                self.names["steps"][step.id] = self._step_view(record, None)
            self.reporter.step_finished(record)
            exc.record = record
            raise
        record.elapsed = time.perf_counter() - started
        if step.id is not None:
            self.names["steps"][step.id] = self._step_view(record, response)
        self.reporter.step_finished(record)
        return record

    def _value_location(self, step: Step, exc: IgflowError) -> SourceLocation:
        """Where in the playbook an error arose: the value a template error came from (its
        line:col, as a check-time error shows), else the step."""
        if not exc.value_path:
            return step.location
        path: tuple[str | int, ...] = ("steps", step.index, *exc.value_path)
        locations = self.playbook.locations
        for end in range(len(path), 2, -1):
            found = locations.get(path[:end])
            if found is not None:
                return found
        return step.location

    @staticmethod
    def _step_view(record: StepRecord, response: Any) -> dict[str, Any]:
        view: dict[str, Any] = {
            "status": record.status,
            "extracted": dict(record.extracted),
            "error": error_view(record.error),
            "response": response,
            "pages": record.pages,
        }
        if record.items is not None:
            # The item's own extracted dict, not a copy: a loop of 100,000 items would keep a
            # second dict per item (nothing changes it once the loop is over).
            view["results"] = [ItemResult(item) for item in record.items]
        return view

    # -- loops ---------------------------------------------------------------------------
    def _run_loop(self, step: Step, record: StepRecord) -> None:
        assert step.foreach is not None
        try:
            values = _loop_list(step.foreach.render(self.names))
        except IgflowError as exc:
            exc.within("foreach")
            raise
        total = len(values)
        items: list[ItemRecord] = [ItemRecord(index, value) for index, value in enumerate(values)]
        record.items = items
        self._confirm(step, total)
        self.reporter.loop_started(step, total)
        concurrency = self._int_setting(step.concurrency, self.names, "concurrency", 1)
        if concurrency > 1 and step.kind == "call" and total > 1:
            halted_by = self._run_items_concurrently(step, items, min(concurrency, 64))
        else:
            halted_by = self._run_items_in_turn(step, items)
        # Extracted and set names become lists in item order; null where an item gave nothing.
        for name in step.defines:
            record.extracted[name] = [item.extracted.get(name) for item in items]
        self.names.update(record.extracted)
        record.pages = sum(item.pages or 0 for item in items) if step.paginate else None
        if halted_by is not None:
            assert halted_by.error is not None
            raise halted_by.error
        failed = record.failed_items
        if failed:
            record.status = IGNORED
            record.error = failed[0].error
            record.message = f"{len(failed)} of {total} items failed"
        elif items and all(item.status == SKIPPED for item in items):
            record.status = SKIPPED
            record.message = f"when: {step.when.source}" if step.when is not None else None

    def _halts(self, step: Step, status: Status) -> bool:
        """A failure stops the run; so does a write in doubt, unless on_error: continue."""
        return status == FAILED or (status == IN_DOUBT and step.on_error != "continue")

    def _leftover_channel(self) -> _Channel | None:
        if self._auth is None:
            return None
        client, token = self._auth.client, self._auth.token
        return _Channel(self, client, token, self._timeouts_for(None), None, None, {}, self._auth)

    def _run_items_in_turn(self, step: Step, items: list[ItemRecord]) -> ItemRecord | None:
        total = len(items)
        for done, item in enumerate(items, start=1):
            try:
                self._run_item(step, item, total)
            except WriteInterrupted:
                self.reporter.item_finished(step, item, done, total)  # in doubt: it was sent
                raise
            self.reporter.item_finished(step, item, done, total)
            if self._halts(step, item.status):
                return item
        return None

    def _run_items_concurrently(
        self, step: Step, items: list[ItemRecord], concurrency: int
    ) -> ItemRecord | None:
        """Run items on a bounded pool; report them from this thread, as they finish.

        No new item starts after the first failure (or Ctrl-C); the ones in flight finish, so
        no write is left in an unknown state by igflow itself. Ctrl-C reaches this thread only
        (the workers' writes go on to their answers), wherever it is: every item that finished
        is still reported, so a write applied after Ctrl-C is in the report.
        """
        total = len(items)
        pending = iter(items)
        in_flight: set[Future[None]] = set()
        ready: list[Future[None]] = []  # finished, in item order, not yet reported
        counted: set[int] = set()  # item indexes already counted as done
        halted_by: ItemRecord | None = None
        interrupted = False
        done = 0
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="igflow-item") as pool:
            owner: dict[Future[None], ItemRecord] = {}
            while True:
                try:
                    while ready:
                        record = owner[ready[0]]
                        if record.index not in counted:
                            counted.add(record.index)
                            ready[0].result()  # _run_item catches igflow errors; else a bug
                            done += 1
                            if self._halts(step, record.status) and halted_by is None:
                                halted_by = record
                        # Popped once reported: a report Ctrl-C cut short is made again
                        # (a line twice at worst, never an applied write left out).
                        self.reporter.item_finished(step, record, done, total)
                        ready.pop(0)
                    while (
                        halted_by is None
                        and not interrupted
                        and len(in_flight) < self._slots(concurrency)
                    ):
                        item = next(pending, None)
                        if item is None:
                            break
                        future = pool.submit(self._run_item, step, item, total)
                        owner[future] = item
                        in_flight.add(future)
                    if not in_flight:
                        break
                    finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    ready = sorted(finished, key=lambda f: owner[f].index)
                except KeyboardInterrupt:
                    interrupted = True
        if interrupted:
            raise KeyboardInterrupt
        return halted_by

    def _slots(self, concurrency: int) -> int:
        # Never more requests in flight than the API says remain (at least one, so the run
        # moves on and meets the API's own rate-limit answer).
        remaining = self._rate_remaining
        if remaining is None:
            return concurrency
        return max(1, min(concurrency, remaining))

    @staticmethod
    def _int_setting(value: Any, scope: Mapping[str, Any], what: str, minimum: int) -> int:
        """A step setting: a literal, or a whole-value template rendered now."""
        if isinstance(value, int):
            return value
        rendered = value.render(scope)
        if isinstance(rendered, str) and rendered.strip().isdigit():
            rendered = int(rendered)  # --var values are text
        if isinstance(rendered, bool) or not isinstance(rendered, int) or rendered < minimum:
            raise StepError(
                f"{what} must be a whole number of at least {minimum}, got {rendered!r}"
            )
        return rendered

    def _run_item(self, step: Step, item: ItemRecord, total: int) -> None:
        scope = dict(self.names)
        scope[step.as_] = item.item
        scope["loop"] = {
            "index": item.index + 1,
            "index0": item.index,
            "first": item.index == 0,
            "last": item.index == total - 1,
            "length": total,
        }
        started = time.perf_counter()
        item.status = OK  # it runs: a status of its own, unless something below says otherwise
        try:
            if (skipped := _skip_reason(step, scope)) is not None:
                item.status = SKIPPED
                item.message = skipped
            else:
                self._perform(step, scope, item)
        except IgflowError as exc:
            exc.message = f"item {item.index + 1} of {total} ({_brief(item.item)}): {exc.message}"
            exc.at(self._value_location(step, exc), step.label)
            item.error = exc
            item.status = self._failure_status(step, exc)
        except WriteInterrupted as exc:
            # Ctrl-C while the item's write was out: in doubt, and reported so (then the
            # interrupt goes on stopping the run).
            item.status = IN_DOUBT
            item.error = WriteInDoubt(
                f"item {item.index + 1} of {total} ({_brief(item.item)}): in doubt: {exc.message}"
            )
            item.error.at(step.location, step.label)
            item.elapsed = time.perf_counter() - started
            raise
        item.elapsed = time.perf_counter() - started

    # -- step kinds ----------------------------------------------------------------------
    def _perform(self, step: Step, scope: dict[str, Any], record: StepRecord | ItemRecord) -> Any:
        """Run the step's action once in ``scope``; return the call's (last) body, if any.

        Outside a loop ``scope`` is the run's namespace; inside, a copy per item.
        """
        body: Any = None
        if step.kind == "authorize":
            record.message = self._authorize(step, scope)
        elif step.kind == "call":
            body = self._call(step, scope, record)
        elif step.kind == "set":
            for name, expression in step.set_values.items():
                try:
                    scope[name] = expression.evaluate(scope)
                except IgflowError as exc:
                    exc.within("set", name)
                    raise
                record.extracted[name] = scope[name]
        elif step.kind == "log":
            assert step.log is not None
            try:
                record.message = _as_text(step.log.render(scope))
            except IgflowError as exc:
                exc.within("log")
                raise
        elif step.kind == "write":
            record.message = self._write(step, scope)
        if record.status not in (EXPECTED_ERROR, DRY_RUN):  # no response to check
            self._check_assertions(step, scope)
        return body

    def _authorize(self, step: Step, scope: Mapping[str, Any]) -> str:
        """Run the authorize step; return who was authorized, for the console."""
        spec = step.authorize
        assert spec is not None

        def text(value: Any) -> str | None:
            return None if value is None else _as_text(value.render(scope))

        user, client = text(spec.user), text(spec.client)
        secret = text(spec.app_secret)
        self._auth = self.connection.authorize(
            scopes=spec.scopes,
            user=user,
            password=text(spec.password),
            client=client,
            token=text(spec.token),
            **({"app_secret": secret} if secret is not None else {}),
        )
        journal = self.gate.journal
        if journal is not None and journal.resumed:
            # A resume checks the account at once, not at its first write: even a run that
            # sends nothing must not settle another account's writes.
            auth = self._auth
            self.gate.check_account(
                self._account_of(auth, auth.client, auth.token, self._timeouts_for(None))
            )
        who = f"as {user}" if user is not None else "with the given token"
        return who + (f" (client {client})" if client else "")

    def _write(self, step: Step, scope: Mapping[str, Any]) -> str:
        from igflow.export import serialize

        spec = step.write
        assert spec is not None
        try:
            path = _as_text(spec.path.render(scope))
        except IgflowError as exc:
            exc.within("write", "path")
            raise
        fmt = _write_format(spec.format, path, scope)
        warnings: list[str] = []  # csv `columns` that rows lack or that hold nested values
        try:
            value = spec.value.render(scope)
        except IgflowError as exc:
            exc.within("write", "value")
            raise
        text, count = serialize(value, fmt, spec.columns, warnings=warnings)
        # Confined to the output directory: a rendered path can still lead out (or onto a link).
        self._outputs.write_text(path, self._redact_text(text))
        self._files_written.append(path)
        unit = "value" if fmt == "json" else ("row" if count == 1 else "rows")
        wrote = f"wrote {count if fmt != 'json' else 1} {unit} to {path}"
        return "; warning: ".join([wrote, *warnings])

    def _call(self, step: Step, scope: dict[str, Any], record: StepRecord | ItemRecord) -> Any:
        endpoint = step.endpoint
        assert endpoint is not None
        try:
            params = step.params.render(scope) if step.params is not None else {}
        except IgflowError as exc:
            exc.within("with")
            raise
        if endpoint.auth == "token":
            if self._auth is None:
                raise AuthenticationError(
                    f"{endpoint.id} needs an access token: no authorize step ran"
                )
            client, token = self._auth.client, self._auth.token
        else:
            client, token = self.connection.anonymous_client(), None
        timeouts = self._timeouts_for(step.timeout)
        if endpoint.mutates:
            auth = self._auth
            channel = _Channel(self, client, token, timeouts, step, endpoint, params, auth)
            return self._write_call(step, scope, record, endpoint, params, channel)
        try:
            response = client.call(
                endpoint, params, token=token, timeout=timeouts, retry=step.retry
            )
        except ApiError as exc:
            if self._expected(step, exc, record):
                return None
            raise
        self._note_response(response, record)
        if step.expect_error is not None:
            raise _missing_expected(step, endpoint, response.status)
        if step.paginate is None:
            for name, extraction in step.extract.items():
                value = self._extract(step, extraction, response)
                scope[name] = record.extracted[name] = value
            return response.body
        return self._paginate(step, scope, record, response, client, token, timeouts)

    def _write_call(
        self,
        step: Step,
        scope: dict[str, Any],
        record: StepRecord | ItemRecord,
        endpoint: Endpoint,
        params: Mapping[str, Any],
        channel: _Channel,
    ) -> Any:
        """Hand a write to the gate, which sends, journals and settles it; record the result."""

        def extract(body: Any) -> dict[str, Any]:
            if step.expect_error is not None:
                return {}  # an answer to a write that should have failed: nothing to extract
            return {
                name: self._extract(step, extraction, None, body)
                for name, extraction in step.extract.items()
            }

        request = WriteRequest(
            step,
            endpoint,
            params,
            item=record.index if isinstance(record, ItemRecord) else None,
            cap=self._caps.get(step.index),
        )
        try:
            result = self.gate.write(request, channel, extract)
        finally:
            if channel.response is not None:
                self._note_response(channel.response, record)
        outcome = result.outcome
        if outcome in (WriteOutcome.DONE_EARLIER, WriteOutcome.DRY_RUN):
            record.status = DONE_EARLIER if outcome is WriteOutcome.DONE_EARLIER else DRY_RUN
            record.message = result.message
            # A dry run extracts nothing: its names are null, as for a skipped item.
            restored = result.extracted or {}
            for name in step.extract:
                scope[name] = record.extracted[name] = restored.get(name)
            return None
        if outcome is WriteOutcome.NOT_APPLIED:
            error = result.error
            assert error is not None
            if isinstance(error, ApiError) and self._expected(step, error, record):
                return None
            raise error
        if outcome is WriteOutcome.IN_DOUBT:
            cause = result.error
            if isinstance(cause, ApiError):
                self._note_api_error(cause, record)
            raise WriteInDoubt(
                f"in doubt: {result.message or endpoint.id + ' may have been applied'}",
                cause=cause,
            )
        # Applied: by its own answer, or as a read showed after an answer was lost.
        for name in step.extract:
            scope[name] = record.extracted[name] = (result.extracted or {}).get(name)
        if result.found:
            record.message = (
                "applied by an earlier run (found by a read); not sent again"
                if result.error is None
                else "applied (the answer was lost; a read found it)"
            )
            if result.error is None:
                record.status = DONE_EARLIER
        if step.expect_error is not None:
            status = result.response.status if result.response is not None else None
            raise _missing_expected(step, endpoint, status)
        return result.body

    def _account_of(self, auth: Any, client: Any, token: str | None, timeouts: Any) -> str | None:
        """The id of the account a token acts for (read once per authorization, if needed).

        None when the registry says nothing about accounts, or the answer holds no id.

        Raises:
            IgflowError: The read failed (it is tried again the next time: a failure is not
                remembered, an answer is).
        """
        registry = self.gate.registry
        lookup = registry.account if registry is not None else None
        if auth is None or lookup is None or registry is None:
            return None
        reader = registry.endpoints.get(lookup.call)
        if reader is None:
            return None
        with self._account_lock:
            key = id(auth)
            if key not in self._accounts:
                params = dict(lookup.params)  # Graph: the fields holding the id
                body = client.call(reader, params, token=token, timeout=timeouts).body
                value: Any = body
                for part in lookup.id_field.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                self._accounts[key] = None if value is None else str(value)
            return self._accounts[key]

    def _expected(self, step: Step, error: ApiError, record: StepRecord | ItemRecord) -> bool:
        """Note an API error on the record; True when it is the one ``expect_error`` names."""
        self._note_api_error(error, record)
        if step.expect_error is None or not step.expect_error.matches(error):
            return False
        record.status = EXPECTED_ERROR
        record.error = error
        record.message = f"{error.error_type}: {error.message}"
        return True

    def _note_api_error(self, error: ApiError, record: StepRecord | ItemRecord) -> None:
        record.http_status = error.status
        if error.request is not None:
            record.request = RequestView(*error.request)
        self._note_rate_limit(error.rate_limit)

    def _failure_status(self, step: Step, error: IgflowError) -> Status:
        # A safety refusal stops the run even under on_error: continue: that is its point.
        if isinstance(error, SafetyError):
            return FAILED
        if isinstance(error, WriteInDoubt):
            return IN_DOUBT
        if self.gate.dry_run and isinstance(error, AssertionFailed | ExpectedErrorMissing):
            # What a dry run reads does not show the writes it did not send: a check of their
            # effect may fail only because of that. Reported, not fatal.
            error.message += " (dry run: the writes not sent may explain this)"
            return IGNORED
        return IGNORED if step.on_error == "continue" else FAILED

    def _resolve_cap(self, step: Step) -> None:
        """A step's max_writes, rendered once from the run's names: every item sees the same."""
        if step.max_writes is not None:
            self._caps[step.index] = self._int_setting(step.max_writes, self.names, "max_writes", 0)

    def _confirm(self, step: Step, writes: int) -> None:
        if step.confirm and step.endpoint is not None and step.endpoint.mutates:
            self.gate.confirm_step(step, writes)

    def _paginate(
        self,
        step: Step,
        scope: dict[str, Any],
        record: StepRecord | ItemRecord,
        response: Any,
        client: Any,
        token: str | None,
        timeouts: Any,
    ) -> Any:
        """Follow next-page links, extracting page by page; only the current page is held.

        Without ``max_pages`` at most MAX_PAGES are followed: an API (or an impostor) handing out
        distinct next_urls forever would otherwise keep the step going forever. Reaching that
        bound is an error (MalformedResponse, exit 4), not a quiet stop: what was extracted is
        incomplete, and a housekeeping loop over it would act on part of the list as if whole.
        """
        assert step.paginate is not None and step.endpoint is not None
        max_pages = self._optional_int(step.paginate.max_pages, scope, "max_pages")
        max_items = self._optional_int(step.paginate.max_items, scope, "max_items")
        collected: dict[str, list[Any]] = {name: [] for name in step.extract}
        seen: set[str] = set()
        pages = taken = 0
        while True:
            pages += 1
            body = response.body
            if max_items is not None:
                body, count = _cut_page(body, max_items - taken)
                taken += count
            for name, extraction in step.extract.items():
                value = self._extract(step, extraction, response, body)
                if extraction.path.singular:
                    collected[name].append(value)
                else:
                    collected[name].extend(value)
            next_url = self._next_url(response.body)
            if (
                next_url is None
                or (max_pages is not None and pages >= max_pages)
                or (max_items is not None and taken >= max_items)
            ):
                break
            if max_pages is None and pages >= MAX_PAGES:
                raise MalformedResponse(
                    f"{step.endpoint.id}: stopped after {MAX_PAGES:,} pages (the most one "
                    "paginate follows; set max_pages to go further or to stop sooner)"
                )
            if next_url in seen:
                raise MalformedResponse(
                    f"{step.endpoint.id}: page {pages} links back to a page already fetched; "
                    "stopped following next_url"
                )
            seen.add(next_url)
            response = client.get_next(
                next_url, endpoint=step.endpoint, token=token, timeout=timeouts, retry=step.retry
            )
            self._note_response(response, record)
        record.pages = pages
        for name, values in collected.items():
            scope[name] = record.extracted[name] = values
        return response.body

    def _optional_int(self, value: Any, scope: Mapping[str, Any], what: str) -> int | None:
        return None if value is None else self._int_setting(value, scope, what, 1)

    def _next_url(self, body: Any) -> str | None:
        value = body
        for key in self._next_url_keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value if isinstance(value, str) and value else None

    def _extract(
        self, step: Step, extraction: Extraction, response: Any, body: Any = _UNSET
    ) -> Any:
        document = response.body if body is _UNSET else body
        try:
            if extraction.has_default:
                return extraction.path.extract(document, extraction.default)
            return extraction.path.extract(document)
        except IgflowError as exc:
            exc.at(extraction.location, step.label)
            raise

    def _note_response(self, response: Any, record: StepRecord | ItemRecord) -> None:
        record.http_status = response.status
        record.request = RequestView(response.method, response.url)
        self._note_rate_limit(response.rate_limit)

    def _note_rate_limit(self, rate_limit: Any) -> None:
        remaining = getattr(rate_limit, "remaining", None)
        if remaining is not None:
            self._rate_remaining = remaining
        usage = getattr(rate_limit, "usage", None)  # Graph's usage headers, for the reports
        if usage is not None:
            self._api_usage = usage

    def _check_assertions(self, step: Step, scope: Mapping[str, Any]) -> None:
        for spec in step.asserts:
            try:
                check_assertion(spec.expression, scope)
            except IgflowError as exc:
                exc.at(spec.location, step.label)
                raise


def _write_format(fmt: Any, path: str, scope: Mapping[str, Any]) -> str:
    if fmt is None:
        extension = PurePath(path).suffix.lower()
        found = FORMAT_BY_EXTENSION.get(extension)
        if found is None:
            raise StepError(
                f"cannot tell the format of {path!r} from its extension "
                f"({', '.join(FORMAT_BY_EXTENSION)}); add `format` to the write step"
            )
        return found
    value = fmt if isinstance(fmt, str) else fmt.render(scope)
    if value not in WRITE_FORMATS:
        raise StepError(f"format must be one of {', '.join(WRITE_FORMATS)}, got {value!r}")
    return str(value)


def _missing_expected(step: Step, endpoint: Endpoint, status: int | None) -> ExpectedErrorMissing:
    assert step.expect_error is not None
    answered = f" (HTTP {status})" if status is not None else ""
    return ExpectedErrorMissing(
        f"expected {step.expect_error.name}, but {endpoint.id} succeeded{answered}"
    )


def _skip_reason(step: Step, scope: Mapping[str, Any]) -> str | None:
    """Why the step is skipped in ``scope`` (its ``when`` is false), or None: it runs."""
    if step.when is None:
        return None
    try:
        return None if step.when.evaluate(scope) else f"when: {step.when.source}"
    except IgflowError as exc:
        exc.within("when")
        raise


def _loop_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    kind = "null" if value is None else type(value).__name__
    if isinstance(value, dict):
        hint = " (use `mapping | list` for its keys, or `mapping | dictsort` for its pairs)"
    else:
        hint = ""
    raise LoopError(f"foreach needs a list, got {kind}{hint}")


def _cut_page(body: Any, room: int) -> tuple[Any, int]:
    """The page with ``data`` cut to ``room`` entries, and how many entries it keeps."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return body, 0
    if len(data) <= room:
        return body, len(data)
    return {**body, "data": data[: max(room, 0)]}, max(room, 0)


def _brief(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else cut_before_redacting(text, limit - 1) + "…"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


class _Channel:
    """What the gate may do for one write: send it, read, and learn the account."""

    def __init__(
        self,
        runner: Runner,
        client: Any,
        token: str | None,
        timeouts: Any,
        step: Step | None,
        endpoint: Endpoint | None,
        params: Mapping[str, Any],
        auth: Any,
    ) -> None:
        self._runner = runner
        self._client = client
        self._token = token
        self._timeouts = timeouts
        self._step = step
        self._endpoint = endpoint
        self._params = params
        self._auth = auth
        self.response: Any = None  # the write's own answer, once it came

    def send(self) -> Any:
        assert self._endpoint is not None and self._step is not None
        self.response = self._client.call(
            self._endpoint,
            self._params,
            token=self._token,
            timeout=self._timeouts,
            retry=self._step.retry,
        )
        return self.response

    def read(self, endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        client = (
            self._client if endpoint.auth == "token" else self._runner.connection.anonymous_client()
        )
        retry = self._step.retry if self._step is not None else None
        return client.call(
            endpoint, params, token=self._token, timeout=self._timeouts, retry=retry
        ).body

    def read_next(self, endpoint: Endpoint, url: str) -> Any:
        client = (
            self._client if endpoint.auth == "token" else self._runner.connection.anonymous_client()
        )
        retry = self._step.retry if self._step is not None else None
        return client.get_next(
            url, endpoint=endpoint, token=self._token, timeout=self._timeouts, retry=retry
        ).body

    def account(self) -> str | None:
        return self._runner._account_of(self._auth, self._client, self._token, self._timeouts)

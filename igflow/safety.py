"""The write gate: every write the runner would send passes through here first.

It decides, per write, between sending it (journaled: intent before, outcome after), skipping it
because an earlier run did it (``--resume``), settling an earlier in-doubt attempt (resend an
idempotent write; check a non-idempotent one with the registry's ``reconcile`` read), printing it
instead (``--dry-run``), or refusing it (``--max-writes``, a step's ``max_writes``, a declined
``confirm``). Refusals are :class:`~igflow.errors.SafetyError` (exit 6), which ``on_error:
continue`` never swallows.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from igflow.errors import SafetyError
from igflow.extract import compile_path
from igflow.journal import Journal, WriteKey, request_fingerprint
from igflow.playbook.model import Step
from igflow.registry import Endpoint, Registry

__all__ = ["Confirm", "WriteDecision", "WriteGate", "WriteTicket"]

# Asked before a `confirm: true` step's first write: (step, how many writes at most) -> yes?
Confirm = Callable[[Step, int], bool]


@dataclass(frozen=True)
class WriteTicket:
    """A write being sent: its journal key and serial (None when there is no journal)."""

    key: WriteKey
    serial: str | None


@dataclass(frozen=True)
class WriteDecision:
    """What to do with one write.

    ``send``: send it (``ticket`` journals it). ``done-earlier``: an earlier run did it;
    ``extracted`` holds what it extracted. ``found``: an earlier in-doubt attempt was applied
    (a read found it); ``body`` is a response-shaped document to extract from. ``dry-run``:
    print ``message`` instead of sending.
    """

    action: str
    ticket: WriteTicket | None = None
    extracted: Mapping[str, Any] | None = None
    body: Any = None
    message: str | None = None


class WriteGate:
    def __init__(
        self,
        *,
        dry_run: bool = False,
        max_writes: int | None = None,
        journal: Journal | None = None,
        confirm: Confirm | None = None,
        registry: Registry | None = None,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.dry_run = dry_run
        self.max_writes = max_writes
        self.journal = journal
        self._confirm = confirm
        self._registry = registry
        self._redact = redact
        self._lock = threading.Lock()
        self.total = 0  # writes sent (or, in a dry run, that would be sent)
        self.per_step: Counter[int] = Counter()
        self.per_endpoint: Counter[str] = Counter()
        self.resumed = 0  # writes an earlier run had done
        self.reconciled: list[str] = []  # how each in-doubt write was settled, for the summary

    # -- before a step ---------------------------------------------------------------------
    def confirm_step(self, step: Step, writes: int) -> None:
        """Ask before a ``confirm: true`` step writes (no question in a dry run)."""
        if not step.confirm or self.dry_run or writes == 0:
            return
        if self._confirm is None or not self._confirm(step, writes):
            raise SafetyError(
                f"{step.label}: not confirmed, nothing sent (the step asks before writing; "
                "answer yes on a terminal, or pass --yes)"
            )

    # -- one write ---------------------------------------------------------------------------
    def before(
        self,
        step: Step,
        endpoint: Endpoint,
        params: Mapping[str, Any],
        *,
        item: int | None,
        read: Callable[[Endpoint, Mapping[str, Any]], Any],
        cap: int | None = None,
    ) -> WriteDecision:
        """Decide about one write; ``read`` performs a reconciling read (returns the body)."""
        key = WriteKey(_step_key(step), request_fingerprint(endpoint.method, endpoint.id, params))
        journal = self.journal
        if journal is not None:
            restored = journal.take_done(key)
            if restored is not None:
                with self._lock:
                    self.resumed += 1
                return WriteDecision("done-earlier", extracted=restored)
            doubt = journal.take_in_doubt(key)
            if doubt is not None:
                found = self._settle(key, doubt, endpoint, params, read)
                if found is not None:
                    return found
        self._reserve(step, endpoint, cap)
        if self.dry_run:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in params.items() if v is not None)
            message = self._redact(f"would send {endpoint.method} {endpoint.id} {shown}".rstrip())
            return WriteDecision("dry-run", message=message)
        serial = None
        if journal is not None:
            serial = journal.intent(
                key,
                endpoint=endpoint.id,
                method=endpoint.method,
                params=_redacted(params, self._redact),
                item=item,
            )
        return WriteDecision("send", ticket=WriteTicket(key, serial))

    def sent(self, ticket: WriteTicket, status: int | None, extracted: Mapping[str, Any]) -> None:
        """The write was applied (``status`` None: found by a reconciling read)."""
        if self.journal is not None and ticket.serial is not None:
            self.journal.outcome(
                ticket.key, ticket.serial, "done", status=status, extracted=extracted
            )

    def refused(self, ticket: WriteTicket, status: int | None, error: str) -> None:
        """The API refused the write: nothing was applied."""
        if self.journal is not None and ticket.serial is not None:
            self.journal.outcome(ticket.key, ticket.serial, "failed", status=status, error=error)

    def not_sent(self, ticket: WriteTicket) -> None:
        """The connection was refused: nothing reached the API."""
        if self.journal is not None and ticket.serial is not None:
            self.journal.outcome(ticket.key, ticket.serial, "not-sent")
        with self._lock:  # it does not count against the caps
            self.total -= 1

    # -- internals -------------------------------------------------------------------------
    def _reserve(self, step: Step, endpoint: Endpoint, cap: int | None) -> None:
        with self._lock:
            if self.max_writes is not None and self.total >= self.max_writes:
                raise SafetyError(
                    f"write cap reached: --max-writes {self.max_writes} writes already "
                    f"{'planned' if self.dry_run else 'sent'}; {endpoint.id} was not sent"
                )
            if cap is not None and self.per_step[step.index] >= cap:
                raise SafetyError(
                    f"write cap reached: this step's max_writes ({cap}) writes "
                    f"already {'planned' if self.dry_run else 'sent'}; {endpoint.id} was not sent"
                )
            self.total += 1
            self.per_step[step.index] += 1
            self.per_endpoint[endpoint.id] += 1

    def _settle(
        self,
        key: WriteKey,
        doubt: Mapping[str, Any],
        endpoint: Endpoint,
        params: Mapping[str, Any],
        read: Callable[[Endpoint, Mapping[str, Any]], Any],
    ) -> WriteDecision | None:
        """An earlier attempt of this write has no outcome. None: send it (again)."""
        assert self.journal is not None
        old = WriteTicket(key, str(doubt.get("serial")))
        if endpoint.idempotent:
            self._resolve(old, f"resent: {endpoint.id} is idempotent")
            return None
        spec = endpoint.reconcile
        if spec is None or self._registry is None:
            raise SafetyError(
                f"{endpoint.id} may or may not have been applied before the previous run "
                "stopped, and it cannot be checked automatically or safely sent twice; check "
                "by hand, then run without --resume"
            )
        reader = self._registry.endpoints[spec.call]
        read_params = {name: params.get(source) for name, source in spec.with_params.items()}
        body = read(reader, read_params)
        entries = compile_path(spec.find).extract(body, [])
        for entry in entries if isinstance(entries, list) else [entries]:
            if all(
                _field(entry, name) == str(params.get(source))
                for name, source in spec.match.items()
            ):
                self._note(f"found by {spec.call}: {endpoint.id} had been applied")
                return WriteDecision(
                    "found", ticket=old, body={"meta": {"code": 200}, "data": entry}
                )
        self._resolve(old, f"absent from {spec.call}: {endpoint.id} sent again")
        return None

    def _resolve(self, ticket: WriteTicket, how: str) -> None:
        assert self.journal is not None and ticket.serial is not None
        self.journal.outcome(ticket.key, ticket.serial, "resolved", error=how)
        self._note(how)

    def _note(self, how: str) -> None:
        with self._lock:
            self.reconciled.append(how)


def _step_key(step: Step) -> str:
    return step.id if step.id is not None else f"step-{step.index + 1}"


def _field(entry: Any, dotted: str) -> str | None:
    value = entry
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return None if value is None else str(value)


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _redacted(params: Mapping[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    return {k: redact(v) if isinstance(v, str) else v for k, v in params.items()}

"""The write gate: every write the runner would send goes through here, and only here.

The runner hands the gate a write (:class:`WriteRequest`) with a way to send it and to read
(:class:`WriteChannel`); the gate alone runs the protocol:

1. **Decide.** Skip a write an earlier run of the journal applied (``--resume``); settle an
   earlier in-doubt attempt (resend an idempotent write; check a non-idempotent one with the
   registry's ``reconcile`` read); print it instead (``--dry-run``); or refuse it (``--max-writes``,
   a step's ``max_writes``, counted across every run of the journal). Refusals are
   :class:`~igflow.errors.SafetyError` (exit 6), which ``on_error: continue`` never swallows.
2. **Journal the intent**, with the account the write is sent as, before anything is sent.
3. **Send**, and **classify** the outcome (:func:`classify_failure`): *applied* (the API said so,
   or a read found it), *not applied* (a refusal the API guarantees changed nothing: a typed 4xx,
   a refused connection) or *in doubt* (anything that may have reached the server: a 5xx, a
   timeout, a dropped connection, a malformed answer).
4. **Settle** what is in doubt: a non-idempotent write with a ``reconcile`` read is looked for at
   once, matching everything that identifies it (media, text and author). Found settles it as
   applied. Absent does *not* settle it as not applied: a server that timed out may still be
   working on the request, so only a later run (``--resume``) trusts an absent answer and sends
   the write again. What cannot be settled stays in doubt, is reported as such (exit 7), and is
   journaled so that ``--resume`` or ``igflow journal settle`` can finish it.

At the end of a resumed run that went through, in-doubt writes of earlier runs that it never met
again are settled too (:meth:`WriteGate.settle_leftovers`): the resumed run re-read the state
and no longer asked for them.

Length: over 400 lines, by design: the whole write protocol (decide, journal, send, classify,
settle, reconcile) is in one module so that no other module decides anything about a write.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from igflow.errors import (
    ApiError,
    ConnectError,
    IgflowError,
    RateLimitError,
    SafetyError,
    TransientApiError,
    TransportError,
)
from igflow.extract import compile_path
from igflow.journal_records import (
    APPLIED,
    IN_DOUBT,
    NOT_APPLIED,
    Baseline,
    WriteKey,
    baseline_of,
    request_fingerprint,
)
from igflow.playbook.model import Step
from igflow.registry import Endpoint, Reconcile, Registry
from igflow.results import SETTLE_BY_HAND, SETTLE_ONE_BY_HAND

if TYPE_CHECKING:  # a run without a journal never imports it
    from igflow.journal import Journal

__all__ = [
    "Confirm",
    "WriteChannel",
    "WriteGate",
    "WriteInterrupted",
    "WriteOutcome",
    "WriteRequest",
    "WriteResult",
    "classify_failure",
]

# Asked before a `confirm: true` step's first write: (step, how many writes at most) -> yes?
Confirm = Callable[[Step, int], bool]
# Computes a step's extracted values from a response body (the gate journals them).
Extract = Callable[[Any], dict[str, Any]]


class WriteOutcome(Enum):
    """What became of one write."""

    APPLIED = "applied"  # the API answered success, or a read found it applied
    NOT_APPLIED = "not-applied"  # refused in a way that changed nothing
    IN_DOUBT = "in-doubt"  # may or may not have been applied; nothing could tell yet
    DONE_EARLIER = "done-earlier"  # an earlier run of the journal applied it: not sent again
    DRY_RUN = "dry-run"  # printed, not sent


def classify_failure(error: IgflowError) -> WriteOutcome:
    """How a failed send left a write: NOT_APPLIED only when nothing can have changed.

    A refused connection sent nothing; a typed 4xx error envelope is the API refusing the
    request (rate limits included). Everything else that went wrong after the request may have
    left (a 5xx, a timeout, a dropped connection, a body that is not the API's answer) is in
    doubt: the server may have applied it before things went wrong.
    """
    if isinstance(error, ConnectError):
        return WriteOutcome.NOT_APPLIED
    if isinstance(error, ApiError):
        server_side = isinstance(error, TransientApiError) or (error.status or 0) >= 500
        return WriteOutcome.IN_DOUBT if server_side else WriteOutcome.NOT_APPLIED
    if isinstance(error, TransportError):
        return WriteOutcome.IN_DOUBT
    return WriteOutcome.IN_DOUBT


class WriteRequest(NamedTuple):
    """One write, as the runner resolved it."""

    step: Step
    endpoint: Endpoint
    params: Mapping[str, Any]
    item: int | None = None  # 0-based loop position, for the journal's reader
    cap: int | None = None  # the step's max_writes, rendered


class WriteChannel(Protocol):
    """How the gate reaches the API for one write: the runner's client, token and timeouts."""

    def send(self) -> Any:
        """Send the write once (the client retries what is safe to retry); the response."""

    def read(self, endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        """Perform a read (a reconcile read) and return its body."""

    def read_next(self, endpoint: Endpoint, url: str) -> Any:
        """Follow a read's next-page link (a reconcile read's later pages); the page's body."""

    def account(self) -> str | None:
        """The id of the account the write is sent as (None when it cannot be known)."""


class WriteInterrupted(KeyboardInterrupt):
    """Ctrl-C came while a write was being sent: it is in doubt (journaled and counted so).

    A KeyboardInterrupt, so that everything that stops a run on Ctrl-C still does; the runner
    also marks the step or item that sent it as in doubt.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.record: Any = None  # the runner's record of the step it stopped, once made


class WriteResult(NamedTuple):
    """What the gate did with a write, for the runner to record and report.

    ``body`` is the document to extract from (the response's body, or a response-shaped
    document around an entry a read found); ``extracted`` what the gate journaled (restored for
    DONE_EARLIER); ``error`` why it was not applied, or why it is in doubt.
    """

    outcome: WriteOutcome
    response: Any = None
    body: Any = None
    extracted: Mapping[str, Any] | None = None
    error: IgflowError | None = None
    message: str | None = None
    found: bool = False  # applied, as a read showed (not as the write's own answer)


class _Earlier(NamedTuple):
    """An in-doubt attempt of an earlier run, being settled by this one."""

    serial: str
    intent: Mapping[str, Any]


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
        self.registry = registry
        self._redact = redact
        self._lock = threading.Lock()
        # Caps count every run of the journal: what earlier runs sent (applied or in doubt).
        earlier = journal.state if journal is not None else None
        self.earlier_total = earlier.sent_total if earlier is not None else 0
        self.total = self.earlier_total
        self.per_step: Counter[str] = Counter(earlier.sent_per_step if earlier else {})
        self.per_endpoint: Counter[str] = Counter()  # this run: writes sent (or planned)
        self.resumed = 0  # writes an earlier run had applied, skipped by this one
        self.reconciled: list[str] = []  # how each in-doubt write was settled, for the summary
        self.in_doubt: list[str] = []  # writes this run leaves in doubt, in words
        self.by_hand = 0  # how many of them no read can check: only a person settles them
        # Writes not sent, or refused unapplied, because of a failure that is not the API's
        # answer to them (the network, a 5xx on the read before them): a later run sends them.
        self.unsent: list[str] = []
        # Applied writes, earlier runs included, counted per request (its fingerprint) whatever
        # step sends it: two steps posting the same text on the same media are, to a reconcile
        # read, one request sent twice.
        self._applied: Counter[str] = Counter()
        if earlier is not None:
            for done_key, values in earlier.done.items():
                self._applied[done_key.fingerprint] += len(values)
        # Per request: the matching entries that existed before its first write (the journal
        # keeps them, so a resume counts from the same place).
        self._baselines: dict[str, Baseline] = dict(earlier.baselines) if earlier else {}
        self._accounts_checked: set[str] = set()
        self._request_locks: dict[str, threading.Lock] = {}

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
    def write(self, request: WriteRequest, channel: WriteChannel, extract: Extract) -> WriteResult:
        """Run the whole protocol for one write (see the module's docstring)."""
        endpoint = request.endpoint
        key = WriteKey(
            _step_key(request.step),
            request_fingerprint(endpoint.method, endpoint.id, request.params),
        )
        journal = self.journal
        earlier: _Earlier | None = None
        if journal is not None:
            restored = journal.take_done(key)
            if restored is not None:
                with self._lock:
                    self.resumed += 1
                return WriteResult(
                    WriteOutcome.DONE_EARLIER,
                    extracted=restored,
                    message="done by an earlier run; not sent again",
                )
            doubt = journal.take_in_doubt(key)
            if doubt is not None:
                earlier = _Earlier(str(doubt.get("serial")), doubt)
                settled = self._settle_earlier(key, earlier, request, channel, extract)
                if settled is not None:
                    return settled
        if earlier is None:  # a resend of an earlier attempt was counted when it was sent
            self._reserve(request)
        if self.dry_run:
            return WriteResult(WriteOutcome.DRY_RUN, message=self._would_send(request))
        return self._send(key, request, channel, extract, earlier)

    def settle_leftovers(self, channel: WriteChannel | None, finished: set[str]) -> None:
        """Settle the in-doubt writes of earlier runs that this resume never met.

        ``finished``: the keys of the steps this run took to their end (or to their write cap,
        past which they send nothing). Such a step re-read the state it goes over and did not
        ask for the write again: an idempotent one is then *moot* (not sent again; its effect,
        if it had one, is what the playbook wants). A write with a reconcile read is looked for
        with the parameters its intent recorded, whatever step stopped the run: found is
        applied; absent is not applied (and, not asked for again, not sent). Anything else
        stays in doubt, and is reported.
        """
        journal = self.journal
        if journal is None or not journal.resumed:
            return
        account_now = _safe(channel.account) if channel is not None else None
        for intent in journal.take_all_in_doubt():
            serial = str(intent.get("serial"))
            if intent.get("account") not in (None, account_now):
                self._left_in_doubt(
                    f"{intent.get('endpoint')} (journal serial {serial}): sent as "
                    f"account {intent.get('account')}, not this run's"
                )
                continue
            endpoint_id = str(intent.get("endpoint"))
            endpoint = self.registry.endpoints.get(endpoint_id) if self.registry else None
            label = f"{endpoint_id} (journal serial {serial})"
            step_key = str((intent.get("key") or [""])[0])
            if endpoint is not None and endpoint.idempotent:
                if step_key not in finished:
                    self._left_in_doubt(f"{label}: its step did not run to its end")
                    continue
                journal.settle(
                    serial,
                    "moot",
                    "the resumed run re-read the state and no longer asked for it (idempotent)",
                )
                self._note(f"{label} no longer asked for (idempotent)")
                continue
            spec = endpoint.reconcile if endpoint is not None else None
            params = intent.get("params")
            if spec is None:
                self._left_in_doubt(f"{label}: cannot be checked with a read", by_hand=True)
                continue
            if channel is None or not isinstance(params, Mapping):
                self._left_in_doubt(f"{label}: not checked (no authorized read in this run)")
                continue
            account = intent.get("account")
            leftover = WriteKey(*[str(part) for part in (intent.get("key") or ["", ""])])
            baseline = _recorded(intent)
            found = self._look_for(
                spec,
                params,
                account if isinstance(account, str) else None,
                channel,
                baseline,
                leftover,
            )
            if found is None:
                self._left_in_doubt(f"{label}: the read that would settle it failed")
            elif found is _ABSENT:
                journal.settle(serial, NOT_APPLIED, f"absent from {spec.call}; not asked again")
                self._note(f"{label} absent from {spec.call}, and no longer asked for")
            else:
                journal.settle(serial, APPLIED, f"found by {spec.call}")
                with self._lock:
                    self._applied[leftover.fingerprint] += 1
                self._note(f"{label} found by {spec.call}")

    # -- the protocol's steps --------------------------------------------------------------
    def _send(
        self,
        key: WriteKey,
        request: WriteRequest,
        channel: WriteChannel,
        extract: Extract,
        earlier: _Earlier | None,
    ) -> WriteResult:
        endpoint = request.endpoint
        if endpoint.reconcile is None or endpoint.idempotent:
            return self._send_now(key, request, channel, extract, earlier, None)
        # The same request twice (a list with duplicates, or two steps) goes one at a time: its
        # reconcile counts must see the one before it finished, never in flight.
        with self._request_lock(key.fingerprint):
            # How many entries a reconcile read already matches before this write: only more
            # than that can be this write (an older comment with the same text must not pass
            # for a lost post). Read before the intent; a failed read sends nothing.
            try:
                baseline = self._baseline(key, request, channel)
            except IgflowError as error:
                self._note_unsent(request, error)
                if earlier is None:
                    self._release(request)  # not sent: it takes no slot of the caps
                else:  # the earlier attempt stays in doubt, as its journal still says
                    self._left_in_doubt(
                        f"{endpoint.id} {self._brief(request)}: in doubt from an earlier run, "
                        "and the read before resending it failed"
                    )
                raise
            except KeyboardInterrupt:
                if earlier is None:
                    self._release(request)  # Ctrl-C before anything was sent: no slot taken
                raise
            return self._send_now(key, request, channel, extract, earlier, baseline)

    def _send_now(
        self,
        key: WriteKey,
        request: WriteRequest,
        channel: WriteChannel,
        extract: Extract,
        earlier: _Earlier | None,
        baseline: Baseline | None,
    ) -> WriteResult:
        endpoint = request.endpoint
        journal = self.journal
        serial: str | None = None
        if journal is not None:
            try:
                account = channel.account()
            except IgflowError as error:
                self._note_unsent(request, error)
                if earlier is None:
                    self._release(request)  # not sent: it takes no slot of the caps
                error.message = (
                    f"{endpoint.id} not sent: the read of the account it is sent as (which the "
                    f"journal records) failed ({error.message}); nothing was applied"
                )
                raise
            except KeyboardInterrupt:
                if earlier is None:
                    self._release(request)  # Ctrl-C before anything was sent: no slot taken
                raise
            self.check_account(account)
        failure: IgflowError | None = None
        try:
            if journal is not None:
                serial = journal.intent(
                    key,
                    endpoint=endpoint.id,
                    method=endpoint.method,
                    params=_redacted(request.params, self._redact),
                    item=request.item,
                    account=account,
                    supersedes=earlier.serial if earlier is not None else None,
                    baseline=baseline.matched if baseline is not None else None,
                    seen=sorted(baseline.ids) if baseline is not None and baseline.ids else None,
                )
            try:
                response = channel.send()
            except IgflowError as error:
                failure = error
        except KeyboardInterrupt:
            # Ctrl-C once the intent may be journaled, or while the request was out: the
            # server may well apply it. Said so here, in the journal and the report, before
            # the interrupt goes on stopping the run.
            raise self._interrupted(key, serial, request) from None
        if failure is not None:
            return self._failed(key, serial, request, channel, extract, failure, baseline)
        # Anything else (a bug) leaves the intent without an outcome: in doubt.
        extracted: dict[str, Any] = {}
        try:
            extracted = extract(response.body)
        finally:  # applied, whatever the extraction made of the answer
            self._applied_now(key, serial, response.status, extracted)
        return WriteResult(
            WriteOutcome.APPLIED, response=response, body=response.body, extracted=extracted
        )

    def _interrupted(
        self, key: WriteKey, serial: str | None, request: WriteRequest
    ) -> WriteInterrupted:
        endpoint = request.endpoint
        why = "interrupted (Ctrl-C) while it was being sent"
        if self.journal is not None and serial is not None:
            self.journal.outcome(key, serial, IN_DOUBT, error=why)
        self._left_in_doubt(f"{endpoint.id} {self._brief(request)}: {why}", _by_hand(endpoint))
        later = self._settled_how(endpoint)
        return WriteInterrupted(f"{endpoint.id} may or may not have been applied ({why}); {later}")

    def _failed(
        self,
        key: WriteKey,
        serial: str | None,
        request: WriteRequest,
        channel: WriteChannel,
        extract: Extract,
        error: IgflowError,
        baseline: Baseline | None,
    ) -> WriteResult:
        endpoint = request.endpoint
        outcome = classify_failure(error)
        status = error.status if isinstance(error, ApiError) else None
        described = f"{type(error).__name__}: {error.message}"
        if outcome is WriteOutcome.NOT_APPLIED:
            if not isinstance(error, ApiError) or isinstance(error, RateLimitError):
                self._note_unsent(request, error)  # not the API's verdict on this write
            if self.journal is not None and serial is not None:
                self.journal.outcome(key, serial, NOT_APPLIED, status=status, error=described)
            self._release(request)  # it changed nothing: it does not count against the caps
            return WriteResult(WriteOutcome.NOT_APPLIED, error=error)
        if self.journal is not None and serial is not None:
            self.journal.outcome(key, serial, IN_DOUBT, status=status, error=described)
        spec = endpoint.reconcile
        why = "nothing here can tell which"
        later = self._settled_how(endpoint)
        if spec is not None and not endpoint.idempotent and baseline is not None:
            found = self._look_for(spec, request.params, None, channel, baseline, key)
            if found is not None and found is not _ABSENT:
                extracted = extract(found)
                self._applied_now(key, serial, None, extracted, found=True)
                self._note(f"found by {spec.call}: {endpoint.id} had been applied")
                return WriteResult(
                    WriteOutcome.APPLIED, body=found, extracted=extracted, found=True, error=error
                )
            # Absent is not proof: a server that failed to answer may still be applying it.
            if found is _ABSENT:
                why = f"{spec.call} does not show it yet"
                if self.journal is not None:
                    later = "a resume looks again and sends it only if it is still absent"
            else:
                why = f"the read of {spec.call} that would tell failed too"
        self._left_in_doubt(
            f"{endpoint.id} {self._brief(request)}: {described}",
            self.journal is not None and _by_hand(endpoint),
        )
        return WriteResult(
            WriteOutcome.IN_DOUBT,
            error=error,
            message=f"{endpoint.id} may or may not have been applied ({described}); {why}; {later}",
        )

    def _settle_earlier(
        self,
        key: WriteKey,
        earlier: _Earlier,
        request: WriteRequest,
        channel: WriteChannel,
        extract: Extract,
    ) -> WriteResult | None:
        """An earlier attempt of this write is in doubt. None: send it (again)."""
        assert self.journal is not None
        endpoint = request.endpoint
        if self.dry_run:
            return WriteResult(
                WriteOutcome.IN_DOUBT,
                message=f"{endpoint.id} is in doubt from an earlier run (a resume settles it)",
            )
        if endpoint.idempotent:
            self._note(f"resent: {endpoint.id} is idempotent")
            return None
        spec = endpoint.reconcile
        if spec is None or self.registry is None:
            why = (
                f"{endpoint.id} may or may not have been applied before the previous run "
                "stopped, and it can neither be checked with a read nor safely sent twice; "
                "check by hand, then record what you found with `igflow journal settle`"
            )
            self._left_in_doubt(
                f"{endpoint.id} {self._brief(request)}: cannot be checked", by_hand=True
            )
            return WriteResult(WriteOutcome.IN_DOUBT, message=why)
        recorded = earlier.intent.get("account")
        account = recorded if isinstance(recorded, str) else None
        baseline = _recorded(earlier.intent)
        found = self._look_for(spec, request.params, account, channel, baseline, key)
        if found is None:
            why = (
                f"{endpoint.id} is in doubt and the read of {spec.call} that would settle it failed"
            )
            self._left_in_doubt(f"{endpoint.id} {self._brief(request)}: {spec.call} failed")
            return WriteResult(WriteOutcome.IN_DOUBT, message=why)
        if found is _ABSENT:
            self._note(f"absent from {spec.call}: {endpoint.id} sent again")
            return None
        extracted = extract(found)
        self.journal.settle(earlier.serial, APPLIED, f"found by {spec.call}", extracted=extracted)
        with self._lock:
            self._applied[key.fingerprint] += 1
        self._note(f"found by {spec.call}: {endpoint.id} had been applied")
        return WriteResult(WriteOutcome.APPLIED, body=found, extracted=extracted, found=True)

    def _look_for(
        self,
        spec: Reconcile,
        params: Mapping[str, Any],
        account: str | None,
        channel: WriteChannel,
        baseline: Baseline,
        key: WriteKey,
    ) -> Any:
        """Read whether a write was applied: a response-shaped document around the entry that
        is it, ``_ABSENT``, or None when the read failed or the author cannot be known.

        Only entries that are not in the baseline (those that existed before the request's
        first write: by id where it was recorded, else by count) can be the request's writes;
        those its known applied writes explain are not this one.
        """
        matching = self._matching(spec, params, account, channel)
        if matching is None:
            return None
        if baseline.ids is not None:
            new = [e for e in matching if _field(e, spec.id_field) not in baseline.ids]
        else:  # journals before ids were recorded: by count
            new = matching[baseline.matched :]
        with self._lock:
            explained = self._applied[key.fingerprint]
        if len(new) > explained:
            return self._as_answer(spec, new[explained])
        return _ABSENT

    def _as_answer(self, spec: Reconcile, entry: Any) -> Any:
        """The found entry shaped as the write's own answer would be, for its extractions:
        v1 wraps an object in ``{"meta", "data"}``, Graph answers the object itself. An entry
        that is not the answer at all (Graph's publish is found by its container) gives an
        empty document: the write's extractions then take their defaults."""
        if not spec.answer:
            return {}
        key = self.registry.object_key if self.registry is not None else "data"
        return {"meta": {"code": 200}, key: entry} if key else entry

    def _matching(
        self,
        spec: Reconcile,
        params: Mapping[str, Any],
        account: str | None,
        channel: WriteChannel,
        *,
        raise_errors: bool = False,
    ) -> list[Any] | None:
        """The entries of the reconcile read that match the write (media, text, author).

        None: the read failed, or the author the match needs is unknown.
        """
        if self.registry is None or spec.call not in self.registry.endpoints:
            return None
        if spec.author is not None:
            if account is None:
                account = channel.account() if raise_errors else _safe(channel.account)
            if account is None:
                return None  # without the author, someone else's entry could pass for ours
        reader = self.registry.endpoints[spec.call]
        read_params = dict(spec.params)
        read_params.update({name: params.get(src) for name, src in spec.with_params.items()})
        try:
            entries = self._entries(spec, reader, read_params, channel)
        except IgflowError:
            if raise_errors:
                raise
            return None
        return [
            entry
            for entry in entries
            if all(
                _field(entry, name) == _text(params.get(src)) for name, src in spec.match.items()
            )
            and all(_field(entry, name) == value for name, value in spec.equals.items())
            and (spec.author is None or _field(entry, spec.author) == account)
        ]

    def _entries(
        self,
        spec: Reconcile,
        reader: Endpoint,
        read_params: Mapping[str, Any],
        channel: WriteChannel,
    ) -> list[Any]:
        """Every entry of the reconcile read, page after page (the profile's next-page link).

        One page is not the list: newest first, a lost comment is on page 2 once 50 others
        came after it, and "not on page 1" taken for absent sends it twice. A read that does
        not come to its end cannot tell, and raises rather than answer "absent".

        Raises:
            IgflowError: A page could not be read.
            SafetyError: More than ``spec.max_pages`` pages, or a page links back to one
                already read.
        """
        find = compile_path(spec.find)
        body = channel.read(reader, read_params)
        entries: list[Any] = []
        links: set[str] = set()
        pages = 0
        while True:
            pages += 1
            found = find.extract(body, [])
            entries.extend(found if isinstance(found, list) else [found])
            link = self._next_link(body)
            if link is None:
                return entries
            if pages >= spec.max_pages:
                raise SafetyError(
                    f"{spec.call} has more than {spec.max_pages} pages, the most its reconcile "
                    "read follows (the registry's reconcile max_pages): it cannot tell"
                )
            if link in links:
                raise SafetyError(
                    f"{spec.call}: page {pages} links back to a page already read: "
                    "the read cannot tell"
                )
            links.add(link)
            body = channel.read_next(reader, link)

    def _next_link(self, body: Any) -> str | None:
        """The next page's link in a read's body (the profile's ``next_url``), if any."""
        value = body
        dotted = self.registry.next_url_path if self.registry is not None else ""
        for part in dotted.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value if isinstance(value, str) and value else None

    def _baseline(
        self, key: WriteKey, request: WriteRequest, channel: WriteChannel
    ) -> Baseline | None:
        """The matching entries that existed before a reconcilable request's first write (None:
        no reconcile). Read fresh before the first write of each request in a run (earlier
        writes of the run to the same media may have added entries), then kept: later writes
        of the same request, and resumes, count from the same place.

        Raises:
            IgflowError: The read failed (the write is not sent: nothing was applied).
            SafetyError: The account the match needs is unknown.
        """
        endpoint = request.endpoint
        spec = endpoint.reconcile
        if spec is None or endpoint.idempotent:
            return None
        with self._lock:
            known = self._baselines.get(key.fingerprint)
        if known is not None:  # not the request's first write (in this run or an earlier one)
            return known
        try:
            matching = self._matching(spec, request.params, None, channel, raise_errors=True)
        except IgflowError as error:
            error.message = (
                f"{endpoint.id} not sent: the read of {spec.call} that lets igflow check "
                f"it later failed ({error.message}); nothing was applied"
            )
            raise
        if matching is None:
            raise SafetyError(
                f"{endpoint.id} not sent: the account it would be sent as is unknown, so "
                "igflow could not check it later; nothing was applied"
            )
        ids = {_field(entry, spec.id_field) for entry in matching}
        baseline = Baseline(len(matching), frozenset(i for i in ids if i is not None))
        with self._lock:
            self._baselines[key.fingerprint] = baseline
        return baseline

    def _request_lock(self, fingerprint: str) -> threading.Lock:
        with self._lock:
            return self._request_locks.setdefault(fingerprint, threading.Lock())

    # -- bookkeeping -----------------------------------------------------------------------
    def _applied_now(
        self,
        key: WriteKey,
        serial: str | None,
        status: int | None,
        extracted: Mapping[str, Any],
        *,
        found: bool = False,
    ) -> None:
        with self._lock:
            self._applied[key.fingerprint] += 1
        if self.journal is not None and serial is not None:
            self.journal.outcome(
                key, serial, APPLIED, status=status, extracted=extracted, found=found
            )

    def check_account(self, account: str | None) -> None:
        """A resume writes as an account the journal knows, or not at all."""
        journal = self.journal
        if journal is None or account is None or account in self._accounts_checked:
            return
        known = journal.state.accounts
        if known and account not in known:
            raise SafetyError(
                f"the journal {journal.path} records writes sent as account "
                f"{', '.join(sorted(known))}, but this run writes as {account}; resuming would "
                "skip writes that account never saw. Authorize as the journal's account, or "
                "start over (igflow journal discard, then run without --resume)"
            )
        with self._lock:
            self._accounts_checked.add(account)

    def _reserve(self, request: WriteRequest) -> None:
        step, endpoint, cap = request.step, request.endpoint, request.cap
        key = _step_key(step)
        verb = "planned" if self.dry_run else "sent"
        with self._lock:
            if self.max_writes is not None and self.total >= self.max_writes:
                raise SafetyError(
                    f"write cap reached: --max-writes {self.max_writes} writes already "
                    f"{verb}{self._earlier_note()}; {endpoint.id} was not sent",
                    cap_reached=True,
                )
            if cap is not None and self.per_step[key] >= cap:
                raise SafetyError(
                    f"write cap reached: this step's max_writes ({cap}) writes already "
                    f"{verb}{self._earlier_note()}; {endpoint.id} was not sent",
                    cap_reached=True,
                )
            self.total += 1
            self.per_step[key] += 1
            self.per_endpoint[endpoint.id] += 1

    def _release(self, request: WriteRequest) -> None:
        with self._lock:
            self.total -= 1
            self.per_step[_step_key(request.step)] -= 1
            self.per_endpoint[request.endpoint.id] -= 1

    def _earlier_note(self) -> str:
        return ", earlier runs of this journal included" if self.earlier_total else ""

    @staticmethod
    def step_key(step: Step) -> str:
        """How the journal names a step: its id, else its position."""
        return _step_key(step)

    def _would_send(self, request: WriteRequest) -> str:
        endpoint = request.endpoint
        return self._redact(f"would send {endpoint.method} {endpoint.id} {self._brief(request)}")

    @staticmethod
    def _brief(request: WriteRequest) -> str:
        params = request.params
        return ", ".join(f"{k}={_show(v)}" for k, v in params.items() if v is not None)

    def _note_unsent(self, request: WriteRequest, error: IgflowError) -> None:
        if isinstance(error, ApiError) and not isinstance(
            error, TransientApiError | RateLimitError
        ):
            return  # the API refused it: final, and reported as such
        with self._lock:
            self.unsent.append(
                self._redact(f"{request.endpoint.id} {self._brief(request)}: {error.message}")
            )

    def _left_in_doubt(self, why: str, by_hand: bool = False) -> None:
        """A write this run leaves in doubt; ``by_hand``: no later run can settle it (not
        idempotent, no reconcile read), only a person with ``igflow journal settle``."""
        with self._lock:
            self.in_doubt.append(self._redact(why))
            if by_hand:
                self.by_hand += 1

    def _settled_how(self, endpoint: Endpoint) -> str:
        """What settles an in-doubt write of ``endpoint``, in words (its message's end)."""
        if self.journal is None:
            return SETTLE_BY_HAND
        return SETTLE_ONE_BY_HAND if _by_hand(endpoint) else "a resume settles it"

    def _note(self, how: str) -> None:
        with self._lock:
            self.reconciled.append(how)


# "The read found no such entry" (None is "the read could not tell").
_ABSENT: Any = object()


def _by_hand(endpoint: Endpoint) -> bool:
    """No later run can settle an in-doubt write of it: not safe to resend, nothing to read."""
    return not endpoint.idempotent and endpoint.reconcile is None


def _recorded(intent: Mapping[str, Any]) -> Baseline:
    """The baseline an intent recorded (journals before baselines: none known)."""
    return baseline_of(intent) or Baseline(0, None)


def _safe(read_account: Callable[[], str | None]) -> str | None:
    try:
        return read_account()
    except IgflowError:
        return None


def _step_key(step: Step) -> str:
    return step.id if step.id is not None else f"step-{step.index + 1}"


def _field(entry: Any, dotted: str) -> str | None:
    value = entry
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return None if value is None else str(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _redacted(params: Mapping[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    return {k: redact(v) if isinstance(v, str) else v for k, v in params.items()}

"""The resume journal: every write's intent before it is sent, and its outcome after.

One JSON Lines file per playbook. Each line is flushed and fsynced before igflow goes on, so
after a crash, a SIGKILL or Ctrl-C the file says exactly which writes were done (with what they
extracted), which failed, and which are *in doubt*: sent, or about to be, with no outcome
recorded. ``igflow run --resume`` reads it back:

- a write whose key has a ``done`` record is not sent again; its extracted values are restored;
- an in-doubt write is resent only if the registry marks it idempotent, otherwise it is checked
  with a read (the registry's ``reconcile``) or reported;
- a playbook (or variables) that changed since the journal was started is refused unless forced.

A write's key is its step (id, else position) and a fingerprint of the request (method,
endpoint, resolved parameters; never the token or ``sig``), not the item's position: a resumed
housekeeping run re-reads its lists, and the items left to do are then at other positions.
The same request twice in one step (a list with duplicates) is counted, not merged.

Records (``type``): ``run`` (a run started: playbook, digest, resumed), ``intent``, ``done``,
``failed`` (the API refused: nothing was applied), ``not-sent`` (the connection was refused),
``resolved`` (a later run settled an earlier in-doubt write: resent, found or absent), and ``end``
(the run finished: status). Every intent has a serial unique in the file (``<run>.<n>``) that
its outcome repeats. Parameters and errors are stored redacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from igflow import __version__
from igflow.errors import SafetyError, UsageError

__all__ = [
    "Journal",
    "JournalState",
    "WriteKey",
    "default_journal_path",
    "playbook_digest",
    "request_fingerprint",
]

FORMAT = 1
Redact = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class WriteKey:
    """Which write: its step and the fingerprint of its request."""

    step: str
    fingerprint: str

    def as_list(self) -> list[str]:
        return [self.step, self.fingerprint]


def request_fingerprint(method: str, endpoint_id: str, params: Mapping[str, Any]) -> str:
    """A stable digest of a request, from its resolved parameters (JSON, sorted keys)."""
    canonical = json.dumps(
        [method.upper(), endpoint_id, {str(k): v for k, v in params.items() if v is not None}],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def playbook_digest(text: str, variables: Mapping[str, Any]) -> str:
    """What must not change between a run and its resume: the playbook and outside variables."""
    material = json.dumps([text, dict(variables)], sort_keys=True, default=str)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def default_journal_path(playbook_path: str, cwd: str | None = None) -> str:
    """``.igflow/journals/<stem>-<hash of the playbook's absolute path>.jsonl`` under ``cwd``.

    In the working directory (playbooks may live where igflow cannot write), one file per
    playbook, so two playbooks with the same name in different folders never share a journal.
    """
    absolute = os.path.abspath(playbook_path)
    stem = os.path.splitext(os.path.basename(absolute))[0] or "playbook"
    tag = hashlib.sha256(absolute.encode("utf-8")).hexdigest()[:8]
    return os.path.join(cwd or os.getcwd(), ".igflow", "journals", f"{stem}-{tag}.jsonl")


@dataclass
class JournalState:
    """What a journal file says, read back for ``--resume``."""

    digest: str | None = None
    playbook: str | None = None
    finished: bool = False  # the last run recorded its end
    runs: int = 0
    # key -> extracted values of each completed write (a list: duplicates are counted)
    done: dict[WriteKey, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # key -> the intent record of each write with no outcome
    in_doubt: dict[WriteKey, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @property
    def done_count(self) -> int:
        return sum(len(v) for v in self.done.values())

    @property
    def in_doubt_count(self) -> int:
        return sum(len(v) for v in self.in_doubt.values())


def read_state(path: str) -> JournalState:
    """Read a journal; a torn last line (the crash came mid-write) is ignored.

    Raises:
        UsageError: The file is not an igflow journal.
    """
    state = JournalState()
    intents: dict[str, dict[str, Any]] = {}  # serial -> intent, while it has no outcome
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read the journal {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not an igflow journal (not UTF-8 text)") from None
    for number, record in _records(text, path):
        kind = record.get("type")
        if kind == "run":
            state.runs += 1
            state.digest = record.get("digest")
            state.playbook = record.get("playbook")
            state.finished = False
            continue
        if kind == "end":
            state.finished = True
            continue
        key_parts = record.get("key")
        if not (isinstance(key_parts, list) and len(key_parts) == 2):
            raise UsageError(f"{path}:{number}: not an igflow journal record")
        key = WriteKey(str(key_parts[0]), str(key_parts[1]))
        serial = str(record.get("serial"))
        if kind == "intent":
            intents[serial] = record
        elif kind in ("done", "failed", "not-sent", "resolved"):
            intents.pop(serial, None)
            if kind == "done":
                extracted = record.get("extracted")
                state.done[key].append(extracted if isinstance(extracted, dict) else {})
    if state.runs == 0:
        raise UsageError(f"{path} is not an igflow journal (no run record)")
    for intent in intents.values():
        key_parts = intent["key"]
        state.in_doubt[WriteKey(str(key_parts[0]), str(key_parts[1]))].append(intent)
    return state


def _records(text: str, path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number >= len(lines) - 1:
                return  # the last line was being written when the process died
            raise UsageError(f"{path}:{number}: not an igflow journal (invalid JSON)") from None
        if not isinstance(record, dict):
            raise UsageError(f"{path}:{number}: not an igflow journal record")
        yield number, record


class Journal:
    """An open journal: append-only, one fsynced line per record, safe across threads."""

    def __init__(self, path: str, handle: IO[str], state: JournalState, redact: Redact) -> None:
        self.path = path
        self._handle = handle
        self._lock = threading.Lock()
        self._redact = redact
        self._count = 0
        self._run = state.runs + 1  # serials are "<run>.<n>", unique in the file
        self.state = state  # what earlier runs recorded (empty for a fresh journal)

    @classmethod
    def start(
        cls,
        path: str,
        *,
        playbook: str,
        digest: str,
        resume: bool,
        force: bool = False,
        redact: Redact = lambda text: text,
    ) -> Journal:
        """Open the journal for a run.

        A fresh run starts a new file (the old one, if any, is replaced). A resumed run reads the
        file, checks the digest and appends.

        Raises:
            UsageError: ``resume`` with no journal, or an unreadable one.
            SafetyError: The playbook or its variables changed since the journal began (unless
                ``force``), or the journal's last run already finished.
        """
        state = JournalState()
        if resume:
            if not os.path.exists(path):
                raise UsageError(
                    f"nothing to resume: no journal at {path} (run without --resume first)"
                )
            state = read_state(path)
            if state.digest != digest and not force:
                raise SafetyError(
                    f"the playbook or its variables changed since the journal {path} was "
                    "written; resuming could skip or repeat the wrong writes. Restore them, "
                    "run without --resume to start over, or add --force to resume anyway"
                )
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            # Kept open for the whole run (closed by close()): one fsynced line per record.
            handle = open(path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"cannot write the journal {path}: {exc.strerror or exc}") from None
        journal = cls(path, handle, state, redact)
        journal._append(
            {
                "type": "run",
                "format": FORMAT,
                "igflow": __version__,
                "playbook": playbook,
                "digest": digest,
                "resumed": resume,
                "at": _now(),
            }
        )
        return journal

    # -- what earlier runs did ------------------------------------------------------------
    def take_done(self, key: WriteKey) -> dict[str, Any] | None:
        """The extracted values of an earlier completed write with this key (consumed)."""
        with self._lock:
            done = self.state.done.get(key)
            return done.pop(0) if done else None

    def take_in_doubt(self, key: WriteKey) -> dict[str, Any] | None:
        """The intent record of an earlier in-doubt write with this key (consumed)."""
        with self._lock:
            doubts = self.state.in_doubt.get(key)
            return doubts.pop(0) if doubts else None

    # -- this run -------------------------------------------------------------------------
    def intent(
        self,
        key: WriteKey,
        *,
        endpoint: str,
        method: str,
        params: Mapping[str, Any],
        item: int | None,
    ) -> str:
        """Record that a write is about to be sent; returns its serial for the outcome."""
        with self._lock:
            self._count += 1
            serial = f"{self._run}.{self._count}"
        record = {
            "type": "intent",
            "key": key.as_list(),
            "serial": serial,
            "endpoint": endpoint,
            "method": method,
            "params": dict(params),
            "item": item,
            "at": _now(),
        }
        self._append(record)
        return serial

    def outcome(
        self,
        key: WriteKey,
        serial: str,
        kind: str,
        *,
        status: int | None = None,
        extracted: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a write ended (``done``, ``failed``, ``not-sent``), or how an earlier
        in-doubt write was settled (``resolved``, with ``error`` saying how)."""
        record: dict[str, Any] = {"type": kind, "key": key.as_list(), "serial": serial}
        if status is not None:
            record["status"] = status
        if extracted is not None:
            record["extracted"] = dict(extracted)
        if error is not None:
            record["error"] = error
        record["at"] = _now()
        self._append(record)

    def finish(self, status: str) -> None:
        self._append({"type": "end", "status": status, "at": _now()})

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def _append(self, record: Mapping[str, Any]) -> None:
        line = self._redact(json.dumps(record, ensure_ascii=False, default=str)) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            os.fsync(self._handle.fileno())


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

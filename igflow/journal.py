"""The resume journal: every write's intent before it is sent, and its outcome after.

One JSON Lines file per playbook. Each line is flushed and fsynced before igflow goes on, so
after a crash, a SIGKILL or Ctrl-C the file says exactly which writes were applied (with what
they extracted), which were not, and which are *in doubt*: sent, or about to be, with no outcome
recorded. ``igflow run --resume`` reads it back (the write gate, :mod:`igflow.safety`, decides
what to do with each write); ``igflow journal show|settle|discard`` lets a person do the same.

A journal is bound to what it describes. Its ``run`` records name the target origin, and every
intent the account (user id) it was sent as: a resume against another target or as another
account is refused, since the journal says nothing about that state. A changed playbook (or
variables) is refused unless forced.

A write's key is its step (id, else position) and a fingerprint of the request (method,
endpoint, resolved parameters; never the token or ``sig``), not the item's position: a resumed
housekeeping run re-reads its lists, and the items left to do are then at other positions.
The same request twice in one step (a list with duplicates) is counted, not merged.

Records (``type``):

- ``run``: a run started (playbook, digest, target, resumed);
- ``intent``: a write is about to be sent (serial ``<run>.<n>``, key, endpoint, params, account;
  ``supersedes``: the serial of an earlier in-doubt attempt it resends);
- ``applied``: its outcome is known applied (``extracted``; ``found``: a read showed it);
- ``not-applied``: it changed nothing (a typed 4xx, a refused connection);
- ``in-doubt``: it failed in a way that may or may not have applied it (a 5xx, a timeout or a
  dropped connection after it was sent): the write stays in doubt, the record says why;
- ``settled``: an earlier in-doubt write was settled (``outcome`` applied | not-applied | moot,
  ``how`` in words); moot: a resumed run no longer asked for an idempotent write (its effect
  holds either way); it still counts against the caps;
- ``end``: the run finished (status).

Older journals (before these names) wrote ``done``, ``failed``, ``not-sent`` and ``resolved``;
they are read as applied, not-applied, not-applied and settled.

Caps span a resume: the writes each step (and the run) sent, in every run of the journal, are
counted from its intents, less those that were not applied.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import threading
import time
from collections import Counter, defaultdict
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
    "read_state",
    "request_fingerprint",
]

FORMAT = 2
Redact = Callable[[str], str]

# Record types, and the older names read as them.
INTENT = "intent"
APPLIED = "applied"
NOT_APPLIED = "not-applied"
IN_DOUBT = "in-doubt"
SETTLED = "settled"
_OLD_NAMES = {
    "done": APPLIED,
    "failed": NOT_APPLIED,
    "not-sent": NOT_APPLIED,
    "resolved": SETTLED,
}
# The most a journal file may be (its records are one line per write): far beyond any real run,
# and a bound on what `read_state` holds in memory.
MAX_JOURNAL_BYTES = 512 * 1024 * 1024


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
    """What a journal file says, read back for ``--resume`` and ``igflow journal``."""

    digest: str | None = None
    playbook: str | None = None
    target: str | None = None  # the origin the first run wrote to
    finished: bool = False  # the last run recorded its end
    last_status: str | None = None
    runs: int = 0
    accounts: set[str] = field(default_factory=set)  # every account an intent was sent as
    # key -> extracted values of each applied write (a list: duplicates are counted)
    done: dict[WriteKey, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # key -> the intent record of each write with no outcome (the in-doubt record's reason,
    # if one was written, is under "doubt")
    in_doubt: dict[WriteKey, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # Writes that may have changed something (applied or in doubt), per step key: the caps'
    # count so far. A settled in-doubt write that was resent counts once.
    sent_per_step: Counter[str] = field(default_factory=Counter)
    torn_tail: int = 0  # bytes of a last line cut short by a crash (ignored, then truncated)
    valid_bytes: int = 0  # the length of the file up to its last complete line

    @property
    def done_count(self) -> int:
        return sum(len(v) for v in self.done.values())

    @property
    def in_doubt_count(self) -> int:
        return sum(len(v) for v in self.in_doubt.values())

    @property
    def sent_total(self) -> int:
        return sum(self.sent_per_step.values())

    def doubts(self) -> list[dict[str, Any]]:
        """Every in-doubt intent, oldest first."""
        found = [intent for intents in self.in_doubt.values() for intent in intents]
        return sorted(found, key=lambda r: _serial_order(str(r.get("serial"))))


def read_state(path: str) -> JournalState:
    """Read a journal; a torn last line (the crash came mid-write) is noted and ignored.

    Raises:
        UsageError: The file cannot be read or is not an igflow journal.
    """
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # A crash can cut a multi-byte character: only the torn last line may be undecodable.
        cut = data.rfind(b"\n") + 1
        try:
            text = data[:cut].decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not an igflow journal (not UTF-8 text)") from None
        text += "\ufffd"  # stands for the torn bytes; the line is torn either way
    return parse_state(text, path)


def parse_state(text: str, path: str) -> JournalState:
    """The state a journal's text describes (see :func:`read_state`)."""
    state = JournalState()
    intents: dict[str, dict[str, Any]] = {}  # serial -> intent, while it has no outcome
    step_of: dict[str, str] = {}  # serial -> step key, for the caps' count
    complete, torn = _split_complete(text)
    state.torn_tail = len(torn.encode("utf-8")) if torn.strip() else 0
    state.valid_bytes = len(complete.encode("utf-8"))
    for number, record in _records(complete, path):
        kind = record.get("type")
        kind = _OLD_NAMES.get(str(kind), kind)
        if kind == "run":
            state.runs += 1
            state.digest = record.get("digest")
            state.playbook = record.get("playbook")
            if state.target is None and isinstance(record.get("target"), str):
                state.target = record["target"]
            state.finished = False
            continue
        if kind == "end":
            state.finished = True
            state.last_status = str(record.get("status"))
            continue
        serial = str(record.get("serial"))
        if kind == SETTLED:
            _settle_record(state, intents, step_of, serial, record)
            continue
        key = _key(record, path, number)
        if kind == INTENT:
            replaced = record.get("supersedes")
            if replaced is not None and intents.pop(str(replaced), None) is not None:
                state.sent_per_step[step_of.get(str(replaced), key.step)] -= 1
            intents[serial] = record
            step_of[serial] = key.step
            state.sent_per_step[key.step] += 1
            account = record.get("account")
            if isinstance(account, str) and account:
                state.accounts.add(account)
        elif kind == IN_DOUBT:
            if serial in intents:
                intents[serial] = {**intents[serial], "doubt": record.get("error")}
        elif kind in (APPLIED, NOT_APPLIED):
            intent = intents.pop(serial, None)
            if kind == APPLIED:
                extracted = record.get("extracted")
                state.done[key].append(extracted if isinstance(extracted, dict) else {})
            elif intent is not None:
                state.sent_per_step[key.step] -= 1  # it changed nothing: not counted
        else:
            raise UsageError(f"{path}:{number}: not an igflow journal record ({kind!r})")
    if state.runs == 0:
        raise UsageError(f"{path} is not an igflow journal (no run record)")
    for intent in intents.values():
        state.in_doubt[_key(intent, path, 0)].append(intent)
    return state


def _settle_record(
    state: JournalState,
    intents: dict[str, dict[str, Any]],
    step_of: dict[str, str],
    serial: str,
    record: Mapping[str, Any],
) -> None:
    intent = intents.pop(serial, None)
    if intent is None:
        return
    outcome = record.get("outcome")
    step = step_of.get(serial, "")
    if outcome == APPLIED:
        extracted = record.get("extracted")
        key = WriteKey(*[str(part) for part in intent["key"]])
        state.done[key].append(extracted if isinstance(extracted, dict) else {})
    elif outcome == NOT_APPLIED or outcome is None:
        # It changed nothing (older journals wrote no outcome: their `resolved` meant a resend,
        # counted again by the resend's own intent).
        state.sent_per_step[step] -= 1


def _key(record: Mapping[str, Any], path: str, number: int) -> WriteKey:
    parts = record.get("key")
    if not (isinstance(parts, list) and len(parts) == 2):
        raise UsageError(f"{path}:{number}: not an igflow journal record")
    return WriteKey(str(parts[0]), str(parts[1]))


def _serial_order(serial: str) -> tuple[int, int]:
    run, _, n = serial.partition(".")
    try:
        return int(run), int(n)
    except ValueError:
        return (0, 0)


def _read_bytes(path: str) -> bytes:
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path} is not an igflow journal (not a regular file)")
        if info.st_size > MAX_JOURNAL_BYTES:
            raise UsageError(
                f"{path} is larger than {MAX_JOURNAL_BYTES // (1024 * 1024)} MiB: not a journal "
                "igflow wrote"
            )
        with open(path, "rb") as handle:
            return handle.read(MAX_JOURNAL_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the journal {path}: {exc.strerror or exc}") from None


def _split_complete(text: str) -> tuple[str, str]:
    """The text up to its last newline, and what follows it (a line a crash cut short)."""
    cut = text.rfind("\n") + 1
    return text[:cut], text[cut:]


def _records(text: str, path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise UsageError(f"{path}:{number}: not an igflow journal (invalid JSON)") from None
        if not isinstance(record, dict):
            raise UsageError(f"{path}:{number}: not an igflow journal record")
        yield number, record


def check_journal_path(path: str, *, protected: Mapping[str, str]) -> None:
    """Refuse a journal path that is one of the run's own inputs or outputs, or not a file.

    ``protected`` maps absolute paths to what they are ("the playbook", "the --vars-file").

    Raises:
        UsageError: The path names one of them, a directory, a device, a FIFO or a symlink.
    """
    absolute = os.path.realpath(path)
    for other, what in protected.items():
        if os.path.realpath(other) == absolute:
            raise UsageError(f"--journal {path} is {what}; give the journal a path of its own")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot use the journal {path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"the journal {path} is a symbolic link; igflow does not follow it")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"the journal {path} is not a regular file")


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
        self.resumed = state.runs > 0

    @classmethod
    def start(
        cls,
        path: str,
        *,
        playbook: str,
        digest: str,
        resume: bool,
        force: bool = False,
        target: str | None = None,
        redact: Redact = lambda text: text,
    ) -> Journal:
        """Open the journal for a run.

        A fresh run starts a new file. It never replaces a journal with writes in doubt, nor a
        file that is not a journal (unless ``force``, and then only a file that is not in
        doubt). A resumed run reads the file, checks it describes the same playbook and target,
        cuts a torn last line off, and appends.

        Raises:
            UsageError: ``resume`` with no journal, or an unreadable one; a fresh run over a
                file that is not a journal (without ``force``).
            SafetyError: A resume whose playbook or variables changed (unless ``force``) or
                whose target differs; a fresh run over a journal with writes in doubt.
        """
        state = JournalState()
        if resume:
            if not os.path.exists(path):
                raise UsageError(
                    f"nothing to resume: no journal at {path} (run without --resume first)"
                )
            state = read_state(path)
            _check_resume(path, state, digest=digest, target=target, force=force)
        elif os.path.lexists(path):
            _check_replace(path, force=force)
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            handle = _open_for_append(path, state) if resume else _open_fresh(path)
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
                "target": target,
                "resumed": resume,
                "at": _now(),
            }
        )
        return journal

    @classmethod
    def reopen(cls, path: str, state: JournalState) -> Journal:
        """Open an existing journal to append settlements (``igflow journal settle``)."""
        try:
            handle = _open_for_append(path, state)
        except OSError as exc:
            raise UsageError(f"cannot write the journal {path}: {exc.strerror or exc}") from None
        return cls(path, handle, state, lambda text: text)

    # -- what earlier runs did ------------------------------------------------------------
    def take_done(self, key: WriteKey) -> dict[str, Any] | None:
        """The extracted values of an earlier applied write with this key (consumed)."""
        with self._lock:
            done = self.state.done.get(key)
            return done.pop(0) if done else None

    def take_in_doubt(self, key: WriteKey) -> dict[str, Any] | None:
        """The intent record of an earlier in-doubt write with this key (consumed)."""
        with self._lock:
            doubts = self.state.in_doubt.get(key)
            return doubts.pop(0) if doubts else None

    def take_all_in_doubt(self) -> list[dict[str, Any]]:
        """Every earlier in-doubt intent not taken yet (consumed), oldest first."""
        with self._lock:
            found = self.state.doubts()
            self.state.in_doubt.clear()
            return found

    # -- this run -------------------------------------------------------------------------
    def intent(
        self,
        key: WriteKey,
        *,
        endpoint: str,
        method: str,
        params: Mapping[str, Any],
        item: int | None,
        account: str | None = None,
        supersedes: str | None = None,
    ) -> str:
        """Record that a write is about to be sent; returns its serial for the outcome.

        ``supersedes``: the serial of an earlier in-doubt attempt this one resends (one record,
        so a crash cannot leave the old attempt settled and the new one unrecorded).
        """
        with self._lock:
            self._count += 1
            serial = f"{self._run}.{self._count}"
        record = {
            "type": INTENT,
            "key": key.as_list(),
            "serial": serial,
            "endpoint": endpoint,
            "method": method,
            "params": dict(params),
            "item": item,
            "account": account,
            "at": _now(),
        }
        if supersedes is not None:
            record["supersedes"] = supersedes
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
        found: bool = False,
    ) -> None:
        """Record how a write ended: ``applied``, ``not-applied`` or ``in-doubt``."""
        record: dict[str, Any] = {"type": kind, "key": key.as_list(), "serial": serial}
        if status is not None:
            record["status"] = status
        if extracted is not None:
            record["extracted"] = dict(extracted)
        if error is not None:
            record["error"] = error
        if found:
            record["found"] = True
        record["at"] = _now()
        self._append(record)

    def settle(
        self,
        serial: str,
        outcome: str,
        how: str,
        *,
        extracted: Mapping[str, Any] | None = None,
    ) -> None:
        """Record how an earlier in-doubt write was settled (applied, not-applied, superseded)."""
        record: dict[str, Any] = {"type": SETTLED, "serial": serial, "outcome": outcome}
        record["how"] = how
        if extracted is not None:
            record["extracted"] = dict(extracted)
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


def _check_resume(
    path: str, state: JournalState, *, digest: str, target: str | None, force: bool
) -> None:
    if state.target is not None and target is not None and state.target != target:
        raise SafetyError(
            f"the journal {path} describes writes to {state.target}, not {target}; resuming "
            "there would skip writes that target never saw. Resume against "
            f"{state.target}, or start over (igflow journal discard, then run without --resume)"
        )
    if state.digest != digest and not force:
        raise SafetyError(
            f"the playbook or its variables changed since the journal {path} was "
            "written; resuming could skip or repeat the wrong writes. Restore them, "
            "run without --resume to start over, or add --force to resume anyway"
        )


def _check_replace(path: str, *, force: bool) -> None:
    """A fresh run may replace an old journal only if nothing in it is in doubt."""
    try:
        earlier = read_state(path)
    except UsageError as exc:
        if force:
            return
        raise UsageError(
            f"{exc.message}; igflow will not replace it with a new journal. Choose another "
            "--journal, or add --force to replace it"
        ) from None
    if earlier.in_doubt_count:
        count = earlier.in_doubt_count
        raise SafetyError(
            f"the last run of this playbook left {count} write{'s' if count != 1 else ''} in "
            f"doubt (journal {path}); a new run would lose track of "
            f"{'them' if count != 1 else 'it'}. Continue with --resume (it settles them), or "
            "look with `igflow journal show` and settle them by hand (`igflow journal settle`)"
        )


def _open_fresh(path: str) -> IO[str]:
    # Written to a temporary file and renamed, so a crash never leaves half an old journal
    # and half a new one; O_NOFOLLOW refuses a symlink planted at the temporary name.
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    fd = os.open(temporary, flags, 0o600)
    try:
        os.replace(temporary, path)
    except OSError:
        os.close(fd)
        os.unlink(temporary)
        raise
    return os.fdopen(fd, "a", encoding="utf-8")


def _open_for_append(path: str, state: JournalState) -> IO[str]:
    """Open for appending, after cutting off a torn last line (or a missing final newline)."""
    fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    try:
        size = os.fstat(fd).st_size
        if size != state.valid_bytes:
            os.ftruncate(fd, state.valid_bytes)
            os.fsync(fd)
        os.lseek(fd, 0, os.SEEK_END)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "a", encoding="utf-8")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

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

Length: over 400 lines, half of it the record format's documentation and the file-handling rules
(locking, torn tails, refusals) that must stay next to the writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from igflow import __version__
from igflow.errors import SafetyError, UsageError
from igflow.journal_records import default_journal_path
from igflow.journal_state import (
    APPLIED,
    IN_DOUBT,
    INTENT,
    NOT_APPLIED,
    SETTLED,
    JournalState,
    WriteKey,
    parse_state,
    read_state,
    request_fingerprint,
)
from igflow.results import RunStatus

__all__ = [
    "APPLIED",
    "INTENT",
    "IN_DOUBT",
    "NOT_APPLIED",
    "SETTLED",
    "Journal",
    "parse_state",
    "JournalState",
    "WriteKey",
    "default_journal_path",
    "playbook_digest",
    "read_state",
    "request_fingerprint",
]

FORMAT = 2
_OLD_PASSED = "ok"  # how journals before RunStatus recorded a run that passed
Redact = Callable[[str], str]


def playbook_digest(text: str, variables: Mapping[str, Any]) -> str:
    """What must not change between a run and its resume: the playbook and outside variables."""
    material = json.dumps([text, dict(variables)], sort_keys=True, default=str)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


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

    def __init__(
        self,
        path: str,
        handle: IO[str],
        state: JournalState,
        redact: Redact,
        lock_fd: int | None = None,
    ) -> None:
        self.path = path
        self._handle = handle
        self._lock_fd = lock_fd  # the journal's lock file, held until close()
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
        repeats: Callable[[str], bool] | None = None,
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
        if resume and not os.path.exists(path):
            raise UsageError(
                f"nothing to resume: no journal at {path} (run without --resume first)"
            )
        # One run at a time per journal: its lock file (beside it, created if need be, so two
        # fresh runs on a path that does not exist yet cannot both go) is taken before anything
        # is read, and held for the whole run.
        lock_fd = _locked(path)
        try:
            if resume:
                state = read_state(path)
                _check_resume(path, state, digest=digest, target=target, force=force)
                handle = _append_to(_open_existing(path), state, path)
            else:
                if os.path.lexists(path):
                    _check_replace(path, force=force, repeats=repeats or (lambda _: False))
                handle = _open_fresh(path)
        except BaseException:
            os.close(lock_fd)
            raise
        journal = cls(path, handle, state, redact, lock_fd)
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
    def reopen(cls, path: str) -> Journal:
        """Open an existing journal, locked, to append settlements (``igflow journal settle``)."""
        lock_fd = _locked(path)
        try:
            state = read_state(path)
            handle = _append_to(_open_existing(path), state, path)
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, handle, state, lambda text: text, lock_fd)

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
        baseline: int | None = None,
        seen: list[str] | None = None,
    ) -> str:
        """Record that a write is about to be sent; returns its serial for the outcome.

        ``supersedes``: the serial of an earlier in-doubt attempt this one resends (one record,
        so a crash cannot leave the old attempt settled and the new one unrecorded).
        ``baseline``, ``seen``: how many entries its reconcile read matched before the request's
        first write, and their ids.
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
        if baseline is not None:
            record["baseline"] = baseline
        if seen is not None:
            record["seen"] = seen
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
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the lock
                self._lock_fd = None

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


def _check_replace(path: str, *, force: bool, repeats: Callable[[str], bool]) -> None:
    """A fresh run may replace an old journal only if nothing in it is in doubt, and only if its
    last run finished or applied nothing that sending again would repeat (``repeats``: an
    endpoint that is not idempotent)."""
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
    # Journals before RunStatus wrote "ok" for a run that passed.
    ended_well = earlier.last_status in (RunStatus.PASSED.value, _OLD_PASSED)
    stopped = not earlier.finished or not ended_well
    repeated = {e: n for e, n in earlier.applied_endpoints.items() if repeats(e)}
    if stopped and repeated:
        done = ", ".join(f"{n} {endpoint}" for endpoint, n in sorted(repeated.items()))
        raise SafetyError(
            f"the last run of this playbook stopped before its end after applying {done} "
            f"(journal {path}); a fresh run would send them again. Continue it with --resume, "
            "or start over on purpose: igflow journal discard"
        )


def lock_journal(path: str) -> int:
    """Lock the journal at ``path`` for this process (``igflow journal discard``); its fd."""
    return _locked(path)


def lock_path(path: str) -> str:
    """The lock file of the journal at ``path``: ``.<name>.lock`` beside it (it is left there)."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.lock")


def _locked(path: str) -> int:
    """The fd of the journal's lock file, exclusively locked (flock) for this process.

    One lock per journal path (a copy of a journal under another name is another journal).

    Raises:
        SafetyError: Another igflow run holds it: two runs on one journal would interleave
            their records and send the same writes twice.
        UsageError: It cannot be created.
    """
    lock = lock_path(path)
    try:
        os.makedirs(os.path.dirname(lock), exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise UsageError(f"cannot lock the journal {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SafetyError(
            f"the journal {path} is in use by another igflow run; wait for it to end (two "
            "runs on one journal could send the same writes twice)"
        ) from None
    return fd


def _open_existing(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise UsageError(f"cannot open the journal {path}: {exc.strerror or exc}") from None


def _open_fresh(path: str) -> IO[str]:
    # Written to a temporary file and renamed, so a crash never leaves half an old journal
    # and half a new one; O_NOFOLLOW refuses a symlink planted at the temporary name (the
    # caller holds the journal's lock file).
    try:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        fd = os.open(temporary, flags, 0o600)
        try:
            os.replace(temporary, path)
        except OSError:
            os.close(fd)
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write the journal {path}: {exc.strerror or exc}") from None
    return os.fdopen(fd, "a", encoding="utf-8")


def _append_to(fd: int, state: JournalState, path: str) -> IO[str]:
    """Append through ``fd``, after cutting off a torn last line (the caller holds the lock)."""
    try:
        if os.fstat(fd).st_size != state.valid_bytes:
            os.ftruncate(fd, state.valid_bytes)
            os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        raise UsageError(f"cannot write the journal {path}: {exc.strerror or exc}") from None
    return os.fdopen(fd, "a", encoding="utf-8")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

"""What a resume journal says: its records read back into a :class:`JournalState`.

The record vocabulary (intent, applied, not-applied, in-doubt, settled) and the reading of a
journal file, torn last line and older record names included. Writing is :mod:`igflow.journal`.
"""

from __future__ import annotations

import json
import os
import stat
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from igflow.errors import UsageError
from igflow.journal_records import (
    _OLD_NAMES,
    APPLIED,
    IN_DOUBT,
    INTENT,
    NOT_APPLIED,
    SETTLED,
    Baseline,
    WriteKey,
    baseline_of,
    request_fingerprint,
)

__all__ = [
    "APPLIED",
    "INTENT",
    "IN_DOUBT",
    "JournalState",
    "NOT_APPLIED",
    "SETTLED",
    "WriteKey",
    "parse_state",
    "read_state",
    "request_fingerprint",
]

# The most a journal file may be (its records are one line per write): far beyond any real run,
# and a bound on what `read_state` holds in memory.
MAX_JOURNAL_BYTES = 512 * 1024 * 1024


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
    # Endpoints of the writes known applied, counted (a fresh run must not redo them blindly).
    applied_endpoints: Counter[str] = field(default_factory=Counter)
    # Per key, how many matching entries existed before its first write (igflow.safety: only
    # entries beyond these and the key's applied writes can be an in-doubt write of it).
    baselines: dict[str, Baseline] = field(default_factory=dict)  # by request fingerprint
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
    state = parse_state(text, path)
    # Counted in the file's bytes (the text may stand for a cut character with one).
    cut = data.rfind(b"\n") + 1
    state.valid_bytes = cut
    state.torn_tail = len(data) - cut if data[cut:].strip() else 0
    return state


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
            baseline = baseline_of(record)
            if baseline is not None:
                state.baselines.setdefault(key.fingerprint, baseline)
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
                if intent is not None:
                    state.applied_endpoints[str(intent.get("endpoint"))] += 1
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
        # Settled as applied is applied: a fresh run must not send it again blindly either.
        state.applied_endpoints[str(intent.get("endpoint"))] += 1
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

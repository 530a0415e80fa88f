"""The resume journal's vocabulary: record types and how a write is named (its key).

Light on purpose (no dataclass, no I/O): the write gate needs these for every run that may
write, a journal or not, while reading and writing journals (:mod:`igflow.journal_state`,
:mod:`igflow.journal`) is imported only when there is one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "APPLIED",
    "Baseline",
    "baseline_of",
    "INTENT",
    "IN_DOUBT",
    "NOT_APPLIED",
    "SETTLED",
    "WriteKey",
    "default_journal_path",
    "request_fingerprint",
]

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


class Baseline(NamedTuple):
    """What a reconcile read matched before a request's first write: how many entries, and
    their ids (None in journals written before ids were recorded)."""

    matched: int
    ids: frozenset[str] | None


def baseline_of(intent: Mapping[str, Any]) -> Baseline | None:
    """The baseline an intent record holds, if any."""
    count = intent.get("baseline")
    if not isinstance(count, int) or count < 0:
        return None
    seen = intent.get("seen")
    ids = frozenset(str(i) for i in seen) if isinstance(seen, list) else None
    return Baseline(count, ids if ids is not None or count == 0 else None)


class WriteKey(NamedTuple):
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


def default_journal_path(playbook_path: str, cwd: str | None = None) -> str:
    """``.igflow/journals/<stem>-<hash of the playbook's absolute path>.jsonl`` under ``cwd``.

    In the working directory (playbooks may live where igflow cannot write), one file per
    playbook, so two playbooks with the same name in different folders never share a journal.
    """
    absolute = os.path.abspath(playbook_path)
    stem = os.path.splitext(os.path.basename(absolute))[0] or "playbook"
    tag = hashlib.sha256(absolute.encode("utf-8")).hexdigest()[:8]
    return os.path.join(cwd or os.getcwd(), ".igflow", "journals", f"{stem}-{tag}.jsonl")

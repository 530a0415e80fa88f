"""Property tests of the write protocol and its journal (issue 11).

A fake API keeps the state a real one would (comments per media, likes), and a list of fates
drawn by Hypothesis decides what happens to each write request as it arrives: answered, lost
after commit (a 5xx or a dropped connection when the write did happen), lost before commit,
refused with a typed 4xx, or the process killed before or after the server applied it. Reads
that settle doubts can fail too. After a killed run, the journal may end with a record cut at
any byte (a crash mid-write). The playbook is then resumed, with more fates, until it ends.

What must hold whatever the draw:

- every comment the loop asks for exists exactly as many times as it is asked for (a media
  listed twice gets two), and every like asked to go is gone;
- the journal, read back, says nothing is in doubt, and records exactly as many applied
  comment posts per media as the server holds (every settled outcome is the server's truth);
- a resume never needs more than a bounded number of runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runner_fakes import AUTH, FakeClient, run

from igflow.errors import APIError, APINotFoundError, ConnectionDropped, IgflowError
from igflow.journal import Journal, playbook_digest, read_state
from igflow.registry import Endpoint, load_registry
from igflow.safety import WriteGate

ME = "3657782666"
MEDIA = [f"m{n}" for n in range(5)]
IDS = [*MEDIA, "m1"]  # m1 twice: the same post sent twice on purpose is two comments
PLAYBOOK = (
    "vars:\n  ids: "
    + json.dumps(IDS)
    + "\nsteps:\n"
    + AUTH
    + """\
  - id: post
    foreach: "{{ ids }}"
    max_writes: 50
    on_error: continue
    call: comments.create
    with: {media_id: "{{ item }}", text: "thanks!"}
    extract: {comment_id: $.data.id}
  - id: unlike
    foreach: "{{ ids }}"
    max_writes: 50
    on_error: continue
    call: likes.delete
    with: {media_id: "{{ item }}"}
"""
)
# What happens to a write request (reads are answered, unless a read fate says otherwise).
FATES = (
    "ok",
    "lost-after-commit",  # applied; the answer is a 5xx / a dropped connection
    "lost-before-commit",  # not applied; a 5xx
    "refused",  # a typed 4xx: not applied
    "kill-before-send",  # the process dies before the request reaches the server
    "kill-after-commit",  # the process dies after the server applied it
    "read-fails",  # applied and answered; the next settling read fails
)
MAX_RUNS = 40


class Killed(KeyboardInterrupt):
    """The process dying (the runner stops as on Ctrl-C; nothing after it is journaled)."""


class Server:
    def __init__(self, fates: list[str]) -> None:
        self.fates = list(fates)
        self.comments: dict[str, list[dict[str, Any]]] = {m: [] for m in MEDIA}
        self.liked: set[str] = set(MEDIA)
        self.next_id = 0
        self.fail_reads = 0
        self.killed = False

    def __call__(self, endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "users.self":
            return {"meta": {"code": 200}, "data": {"id": ME}}
        media = str(params.get("media_id"))
        if endpoint.id == "comments.list":
            if self.fail_reads:
                self.fail_reads -= 1
                return ConnectionDropped("the read dropped")
            return {"meta": {"code": 200}, "data": list(self.comments[media])}
        fate = self.fates.pop(0) if self.fates else "ok"
        if fate == "kill-before-send":
            self.killed = True
            raise Killed
        if fate in ("lost-before-commit", "refused"):
            if fate == "refused":
                return APINotFoundError("no such media", status=400, error_type="APINotFoundError")
            return APIError("Oops, an error occurred.", status=500, error_type="APIError")
        data = self._apply(endpoint, media, params)
        if fate == "kill-after-commit":
            self.killed = True
            raise Killed
        if fate == "lost-after-commit":
            return ConnectionDropped("the connection dropped after the write")
        if fate == "read-fails":
            self.fail_reads = 1
        return {"meta": {"code": 200}, "data": data}

    def _apply(self, endpoint: Endpoint, media: str, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "comments.create":
            self.next_id += 1
            entry = {"id": f"c{self.next_id}", "text": params["text"], "from": {"id": ME}}
            self.comments[media].append(entry)
            return entry
        self.liked.discard(media)
        return None


def torn(record: dict[str, Any], cut: int) -> str:
    line = json.dumps(record) + "\n"
    return line[: max(1, min(cut, len(line) - 1))]  # never the whole line, never nothing


@settings(
    max_examples=int(os.environ.get("IGFLOW_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fates=st.lists(st.sampled_from(FATES), max_size=40),
    cuts=st.lists(st.one_of(st.none(), st.integers(1, 200)), max_size=MAX_RUNS),
)
def test_every_settled_outcome_is_what_the_server_says(
    tmp_path: Path, fates: list[str], cuts: list[int | None]
) -> None:
    path = tmp_path / "journal.jsonl"
    if path.exists():
        path.unlink()
    server = Server(fates)
    registry = load_registry()
    digest = playbook_digest(PLAYBOOK, {})
    runs = 0
    while True:
        runs += 1
        assert runs <= MAX_RUNS, "a resume that never ends"
        server.killed = False
        journal = Journal.start(
            str(path), playbook="play.yml", digest=digest, resume=runs > 1, target="http://x"
        )
        result, _ = run(
            PLAYBOOK, FakeClient(server), gate=WriteGate(journal=journal, registry=registry)
        )
        if not server.killed:
            journal.finish("ok" if result.ok else "failed")
        journal.close()
        if server.killed:
            cut = cuts[runs - 1] if runs - 1 < len(cuts) else None
            if cut is not None:  # the crash came while the next record was being written
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(torn({"type": "applied", "key": ["post", "x" * 32]}, cut))
            continue
        error = result.error
        if error is not None:
            # Writes in doubt (7), or not sent for a failing read (4), end a run that is resumed;
            # nothing else may.
            assert isinstance(error, IgflowError) and error.exit_code in (4, 7), error
            continue
        # Items that failed without being refused (a read before a post failed: not sent) are
        # sent by a later run; a typed 4xx refusal is final, and reported.
        unsent = [
            item
            for record in result.records
            for item in record.items or ()
            if item.status.failed and not isinstance(item.error, APINotFoundError)
        ]
        if not unsent:
            break
    state = read_state(str(path))
    assert state.in_doubt_count == 0, state.doubts()
    refused = [f for f in fates if f == "refused"]
    per_media = {media: len(entries) for media, entries in server.comments.items()}
    # Never more than asked; and only a refused post (a typed 4xx, reported) may be missing.
    wanted = {media: IDS.count(media) for media in MEDIA}
    assert all(per_media[media] <= wanted[media] for media in MEDIA), per_media
    missing = sum(wanted[media] - per_media[media] for media in MEDIA)
    assert missing <= len(refused), (per_media, fates)
    if not refused:
        assert server.liked == set(), server.liked
    # The journal's applied posts are the server's comments, media by media.
    applied = {
        key.fingerprint: len(values) for key, values in state.done.items() if key.step == "post"
    }
    assert sum(applied.values()) == sum(per_media.values())

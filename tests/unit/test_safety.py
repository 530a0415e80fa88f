"""The write gate and the resume journal, driven through the runner with a fake API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from runner_fakes import AUTH, Events, FakeClient, FakeConnection, compile_text, run

import igflow.errors as errors_module
from igflow.errors import (
    APIError,
    ConnectError,
    ConnectionDropped,
    SafetyError,
    UsageError,
    WriteInDoubt,
)
from igflow.journal import Journal, WriteKey, playbook_digest, read_state, request_fingerprint
from igflow.registry import Endpoint, load_registry
from igflow.runner import Runner
from igflow.safety import WriteGate

ME = "3657782666"
IDS = json.dumps([f"m{n}" for n in range(6)])
UNLIKE = (
    "vars:\n  ids: "
    + IDS
    + "\nsteps:\n"
    + AUTH
    + """\
  - id: unlike
    foreach: "{{ ids }}"
    max_writes: 10
    call: likes.delete
    with: {media_id: "{{ item }}"}
"""
)
COMMENT = (
    "vars:\n  ids: "
    + IDS
    + "\nsteps:\n"
    + AUTH
    + """\
  - id: post
    foreach: "{{ ids }}"
    max_writes: 10
    call: comments.create
    with: {media_id: "{{ item }}", text: "nice one"}
    extract: {comment_id: $.data.id}
"""
)


class Api:
    """A tiny stateful API: likes and comments, with failures on chosen media."""

    def __init__(self) -> None:
        self.unliked: list[str] = []
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.drop_after_applying: set[str] = set()
        self.refuse_connection: set[str] = set()
        self.author = ME  # who the next comment is posted as

    def __call__(self, endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "users.self":
            return {"meta": {"code": 200}, "data": {"id": ME, "username": "grantwinney"}}
        media_id = str(params.get("media_id"))
        if media_id in self.refuse_connection:
            return ConnectError("connection refused")
        if endpoint.id == "likes.delete":
            self.unliked.append(media_id)
        elif endpoint.id == "comments.create":
            entry = {
                "id": f"c-{media_id}-{len(self.comments.get(media_id, []))}",
                "text": params["text"],
                "from": {"username": "grantwinney", "id": self.author},
            }
            self.comments.setdefault(media_id, []).append(entry)
        elif endpoint.id == "comments.list":
            return {"data": self.comments.get(media_id, [])}
        if media_id in self.drop_after_applying:
            return ConnectionDropped("the connection dropped after the request was sent")
        return {"meta": {"code": 200}, "data": None if endpoint.id == "likes.delete" else entry}


def journal_for(tmp_path: Path, body: str, *, resume: bool = False, force: bool = False) -> Journal:
    return Journal.start(
        str(tmp_path / "journal.jsonl"),
        playbook="play.yml",
        digest=playbook_digest(body, {}),
        resume=resume,
        force=force,
    )


def gate(journal: Journal | None = None, **options: Any) -> WriteGate:
    return WriteGate(journal=journal, registry=load_registry(), **options)


def test_dry_run_sends_no_write_but_counts_and_shows_each() -> None:
    api = Api()
    result, _ = run(UNLIKE, FakeClient(api), gate=gate(dry_run=True))
    assert result.ok, result.error
    assert api.unliked == []
    assert result.dry_run and result.writes == {"likes.delete": 6}
    items = result.records[1].items or []
    assert [item.status for item in items] == ["dry-run"] * 6
    assert items[0].message == "would send DELETE likes.delete media_id=m0"


def test_the_run_wide_cap_stops_before_the_write_that_would_exceed_it() -> None:
    api = Api()
    result, _ = run(
        UNLIKE.replace("max_writes: 10", "on_error: continue\n    max_writes: 10"),
        FakeClient(api),
        gate=gate(max_writes=4),
    )
    assert isinstance(result.error, SafetyError)  # on_error: continue does not swallow it
    assert api.unliked == ["m0", "m1", "m2", "m3"]
    assert "--max-writes 4" in result.error.message


def test_a_step_cap_can_come_from_a_variable() -> None:
    api = Api()
    body = UNLIKE.replace("max_writes: 10", 'max_writes: "{{ cap }}"').replace(
        "vars:\n", "vars:\n  cap: '2'\n"
    )
    result, _ = run(body, FakeClient(api), gate=gate())
    assert isinstance(result.error, SafetyError)
    assert api.unliked == ["m0", "m1"]
    assert "max_writes (2)" in result.error.message


def test_a_dry_run_reports_the_cap_it_would_hit() -> None:
    result, _ = run(
        UNLIKE.replace("max_writes: 10", "max_writes: 3"),
        FakeClient(Api()),
        gate=gate(dry_run=True),
    )
    assert isinstance(result.error, SafetyError) and "already planned" in result.error.message


@pytest.mark.parametrize("answer", [True, False])
def test_confirm_asks_once_per_step_with_the_item_count(answer: bool) -> None:
    asked: list[tuple[str, int]] = []

    def confirm(step: Any, writes: int) -> bool:
        asked.append((step.label, writes))
        return answer

    api = Api()
    body = UNLIKE.replace("max_writes: 10", "max_writes: 10\n    confirm: true")
    result, _ = run(body, FakeClient(api), gate=gate(confirm=confirm))
    assert asked == [("call likes.delete", 6)]
    if answer:
        assert result.ok and len(api.unliked) == 6
    else:
        assert isinstance(result.error, SafetyError) and api.unliked == []


def test_the_journal_records_intent_before_and_outcome_after(tmp_path: Path) -> None:
    api = Api()
    journal = journal_for(tmp_path, COMMENT)
    result, _ = run(COMMENT, FakeClient(api), gate=gate(journal))
    journal.finish("ok")
    journal.close()
    assert result.ok, result.error
    records = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    kinds = [r["type"] for r in records]
    assert kinds == ["run"] + ["intent", "applied"] * 6 + ["end"]
    assert records[1]["params"] == {"media_id": "m0", "text": "nice one"}
    assert records[2]["extracted"] == {"comment_id": "c-m0-0"}
    state = read_state(str(tmp_path / "journal.jsonl"))
    assert state.finished and state.done_count == 6 and state.in_doubt_count == 0


def test_resume_skips_done_writes_restores_extractions_and_resends_idempotent_doubts(
    tmp_path: Path,
) -> None:
    api = Api()
    api.drop_after_applying = {"m3"}  # applied, but the answer was lost: in doubt
    journal = journal_for(tmp_path, UNLIKE)
    first, _ = run(UNLIKE, FakeClient(api), gate=gate(journal))
    journal.close()
    assert isinstance(first.error, WriteInDoubt)
    assert isinstance(first.error.cause, ConnectionDropped)
    assert first.records[1].items is not None
    assert first.records[1].items[3].status == "in-doubt"
    assert api.unliked == ["m0", "m1", "m2", "m3"]
    state = read_state(str(tmp_path / "journal.jsonl"))
    assert state.done_count == 3 and state.in_doubt_count == 1 and not state.finished

    api.drop_after_applying = set()
    journal = journal_for(tmp_path, UNLIKE, resume=True)
    resumed, _ = run(UNLIKE, FakeClient(api), gate=gate(journal))
    journal.close()
    assert resumed.ok, resumed.error
    # m0-m2 not sent again; m3 resent because unliking is idempotent; m4, m5 new.
    assert api.unliked == ["m0", "m1", "m2", "m3", "m3", "m4", "m5"]
    statuses = [item.status for item in resumed.records[1].items or []]
    assert statuses == ["done-earlier"] * 3 + ["ok"] * 3
    assert resumed.writes_done_earlier == 3
    assert resumed.reconciled == ["resent: likes.delete is idempotent"]


def test_a_comment_whose_answer_was_lost_is_found_at_once_and_not_posted_twice(
    tmp_path: Path,
) -> None:
    api = Api()
    api.drop_after_applying = {"m2"}
    journal = journal_for(tmp_path, COMMENT)
    result, _ = run(COMMENT, FakeClient(api), gate=gate(journal))
    journal.close()
    assert result.ok, result.error
    assert {media: len(c) for media, c in api.comments.items()} == {f"m{n}": 1 for n in range(6)}
    assert result.records[1].extracted["comment_id"][2] == "c-m2-0"
    assert result.reconciled == ["found by comments.list: comments.create had been applied"]
    state = read_state(str(tmp_path / "journal.jsonl"))
    assert state.in_doubt_count == 0 and state.done_count == 6


def test_an_in_doubt_comment_the_read_could_not_settle_is_found_by_the_resume(
    tmp_path: Path,
) -> None:
    api = Api()
    api.drop_after_applying = {"m2"}
    reads_fail = True
    original = api.__call__

    def respond(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        # The read before the post (its baseline) works; the one after the lost answer fails.
        if endpoint.id == "comments.list" and reads_fail and api.comments.get("m2"):
            return ConnectionDropped("the read dropped too")
        return original(endpoint, params)

    journal = journal_for(tmp_path, COMMENT)
    first, _ = run(COMMENT, FakeClient(respond), gate=gate(journal))
    journal.close()
    assert isinstance(first.error, WriteInDoubt) and first.error.exit_code == 7
    assert len(api.comments["m2"]) == 1
    assert read_state(str(tmp_path / "journal.jsonl")).in_doubt_count == 1

    api.drop_after_applying = set()
    reads_fail = False
    journal = journal_for(tmp_path, COMMENT, resume=True)
    resumed, _ = run(COMMENT, FakeClient(respond), gate=gate(journal))
    journal.close()
    assert resumed.ok, resumed.error
    assert {media: len(c) for media, c in api.comments.items()} == {f"m{n}": 1 for n in range(6)}
    assert resumed.records[1].extracted["comment_id"][2] == "c-m2-0"
    assert resumed.reconciled == ["found by comments.list: comments.create had been applied"]
    assert read_state(str(tmp_path / "journal.jsonl")).in_doubt_count == 0


class V1Pages(Mapping[str, Any]):
    """v1's ``pagination.next_url`` pages of a media's comments, newest first, two a page."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def page(self, media_id: str, start: int) -> Any:
        newest_first = list(reversed(self.api.comments.get(media_id, [])))
        body: dict[str, Any] = {"meta": {"code": 200}, "data": newest_first[start : start + 2]}
        if start + 2 < len(newest_first):
            body["pagination"] = {"next_url": f"/v1/media/{media_id}/comments?cursor={start + 2}"}
        return body

    def __getitem__(self, url: str) -> Any:
        media_id = url.split("/")[3]
        return self.page(media_id, int(url.rsplit("=", 1)[1]))

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_v1_a_lost_comment_past_the_first_page_is_found_by_following_next_url(
    tmp_path: Path,
) -> None:
    # The reconcile read follows the profile's next-page link (v1: pagination.next_url) too:
    # others commented after the lost post, which is on page 3 of the newest-first comments.
    api = Api()
    api.drop_after_applying = {"m2"}
    pages = V1Pages(api)
    original = api.__call__

    def respond(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        answer = original(endpoint, params)
        if endpoint.id == "comments.list":
            return pages.page(str(params["media_id"]), 0)
        if endpoint.id == "comments.create" and params["media_id"] == "m2":
            for n in range(4):
                others = {"id": f"o{n}", "text": "wow", "from": {"id": "42"}}
                api.comments["m2"].append(others)
        return answer

    journal = journal_for(tmp_path, COMMENT)
    result, _ = run(COMMENT, FakeClient(respond, pages=pages), gate=gate(journal))
    journal.close()
    assert result.ok, result.error
    assert [c["text"] for c in api.comments["m2"]].count("nice one") == 1
    assert result.records[1].extracted["comment_id"][2] == "c-m2-0"


def test_someone_elses_comment_with_the_same_text_is_not_taken_for_ours(tmp_path: Path) -> None:
    """Finding 2: the reconcile read matched the text only, so a lost post was never sent."""
    api = Api()
    api.author = "999"  # someone else posts "nice one" on m0 first
    api.comments["m0"] = []
    original = api.__call__
    original(load_registry().endpoints["comments.create"], {"media_id": "m0", "text": "nice one"})
    api.author = ME
    journal = journal_for(tmp_path, COMMENT)
    # Our own post of m0 was in doubt before it reached the API (a crash after the intent).
    params = {"media_id": "m0", "text": "nice one"}
    journal.intent(
        WriteKey("post", request_fingerprint("POST", "comments.create", params)),
        endpoint="comments.create",
        method="POST",
        params=params,
        item=0,
        account=ME,
    )
    journal.close()
    journal = journal_for(tmp_path, COMMENT, resume=True)
    resumed, _ = run(COMMENT, FakeClient(api), gate=gate(journal))
    journal.close()
    assert resumed.ok, resumed.error
    authors = [c["from"]["id"] for c in api.comments["m0"]]
    assert authors == ["999", ME]  # ours was posted, once
    assert resumed.reconciled == ["absent from comments.list: comments.create sent again"]


def test_an_in_doubt_comment_missing_from_the_read_is_posted_once(tmp_path: Path) -> None:
    api = Api()
    journal = journal_for(tmp_path, COMMENT)
    # Simulate a crash between the intent and the request: the journal has an intent only.
    params = {"media_id": "m0", "text": "nice one"}
    journal.intent(
        WriteKey("post", request_fingerprint("POST", "comments.create", params)),
        endpoint="comments.create",
        method="POST",
        params=params,
        item=0,
    )
    journal.close()
    journal = journal_for(tmp_path, COMMENT, resume=True)
    resumed, _ = run(COMMENT, FakeClient(api), gate=gate(journal))
    journal.close()
    assert resumed.ok, resumed.error
    assert len(api.comments["m0"]) == 1
    assert resumed.reconciled == ["absent from comments.list: comments.create sent again"]


def test_a_refused_connection_is_recorded_as_not_sent(tmp_path: Path) -> None:
    api = Api()
    api.refuse_connection = {"m1"}
    journal = journal_for(tmp_path, UNLIKE)
    result, _ = run(UNLIKE, FakeClient(api), gate=gate(journal))
    journal.close()
    assert isinstance(result.error, ConnectError)
    state = read_state(str(tmp_path / "journal.jsonl"))
    assert state.in_doubt_count == 0 and state.done_count == 1


def test_resume_refuses_a_changed_playbook_unless_forced(tmp_path: Path) -> None:
    journal_for(tmp_path, UNLIKE).close()
    with pytest.raises(SafetyError, match="changed since the journal"):
        journal_for(tmp_path, UNLIKE + "  - log: more\n", resume=True)
    journal_for(tmp_path, UNLIKE + "  - log: more\n", resume=True, force=True).close()


def test_resume_without_a_journal_or_with_garbage_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to resume"):
        journal_for(tmp_path, UNLIKE, resume=True)
    (tmp_path / "journal.jsonl").write_text("hello\nworld\n")
    with pytest.raises(UsageError, match="not an igflow journal"):
        journal_for(tmp_path, UNLIKE, resume=True)


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    journal = journal_for(tmp_path, UNLIKE)
    journal.close()
    with open(tmp_path / "journal.jsonl", "a") as handle:
        handle.write('{"type": "intent", "key": ["a", "b"], "ser')
    state = read_state(str(tmp_path / "journal.jsonl"))
    assert state.runs == 1 and state.in_doubt_count == 0


def test_a_dry_run_reports_but_survives_checks_of_writes_it_did_not_send() -> None:
    body = UNLIKE + "  - assert: ids | length == 0  # true only if the unlikes had been sent\n"
    result, _ = run(body, FakeClient(Api()), gate=gate(dry_run=True))
    assert result.ok, result.error
    last = result.records[-1]
    assert last.status == "error-ignored"
    assert last.error is not None and "dry run: the writes not sent" in last.error.message
    # Without --dry-run the same failure halts the run.
    result, _ = run(body, FakeClient(Api()), gate=gate())
    assert result.error is not None and "assertion failed" in result.error.message


def test_a_torn_tail_is_cut_off_before_a_resume_appends(tmp_path: Path) -> None:
    """Finding 6: a torn last line, then an interrupted resume, left an unreadable journal."""
    api = Api()
    api.drop_after_applying = {"m3"}
    journal = journal_for(tmp_path, UNLIKE)
    run(UNLIKE, FakeClient(api), gate=gate(journal))
    journal.close()
    path = tmp_path / "journal.jsonl"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"type": "applied", "key": ["unlike", "ab')  # the crash came mid-write
    assert read_state(str(path)).torn_tail > 0
    # The resume appends, and is interrupted before it records its end.
    journal = journal_for(tmp_path, UNLIKE, resume=True)
    journal.intent(
        WriteKey("unlike", "f" * 32),
        endpoint="likes.delete",
        method="DELETE",
        params={"media_id": "m9"},
        item=9,
    )
    journal.close()
    state = read_state(str(path))  # readable: the torn line was cut off, not appended onto
    assert state.torn_tail == 0 and state.runs == 2 and state.in_doubt_count == 2
    assert all(
        line.startswith("{") and line.endswith("}") for line in path.read_text().splitlines()
    )


def test_caps_count_the_writes_of_earlier_runs(tmp_path: Path) -> None:
    """Finding 3: a cap of 5 allowed 5 more writes on every resume."""
    ids = [f"m{n}" for n in range(9)]
    body = UNLIKE.replace(IDS, json.dumps(ids)).replace("max_writes: 10", "max_writes: 5")
    api = Api()
    api.drop_after_applying = {"m2"}  # in doubt: counted, since it may have been applied
    journal = journal_for(tmp_path, body)
    first, _ = run(body, FakeClient(api), gate=gate(journal))
    journal.close()
    assert isinstance(first.error, WriteInDoubt) and api.unliked == ["m0", "m1", "m2"]
    api.drop_after_applying = set()
    journal = journal_for(tmp_path, body, resume=True)
    resumed, _ = run(body, FakeClient(api), gate=gate(journal))
    journal.close()
    assert isinstance(resumed.error, SafetyError) and resumed.error.cap_reached
    assert "earlier runs of this journal included" in resumed.error.message
    # m2 resent (idempotent, taking no new slot), then m3 and m4: five distinct writes in all.
    assert api.unliked == ["m0", "m1", "m2", "m2", "m3", "m4"]
    assert read_state(str(tmp_path / "journal.jsonl")).sent_total == 5


def test_a_resume_as_another_account_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    api = Api()
    api.drop_after_applying = {"m1"}
    journal = journal_for(tmp_path, UNLIKE)
    run(UNLIKE, FakeClient(api), gate=gate(journal))
    journal.close()
    sent = list(api.unliked)

    def someone_else(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "users.self":
            return {"meta": {"code": 200}, "data": {"id": "42"}}
        return api(endpoint, params)

    journal = journal_for(tmp_path, UNLIKE, resume=True)
    resumed, _ = run(UNLIKE, FakeClient(someone_else), gate=gate(journal))
    journal.close()
    assert isinstance(resumed.error, SafetyError)
    assert "sent as account 3657782666, but this run writes as 42" in resumed.error.message
    assert api.unliked == sent


def test_a_5xx_after_a_comment_committed_is_in_doubt_not_failed(tmp_path: Path) -> None:
    """Finding 1: a 5xx after the post committed was journaled as failed; --resume reposted it."""
    api = Api()

    def server_error_after_commit(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        answer = api(endpoint, params)
        if endpoint.id == "comments.create" and params["media_id"] == "m1":
            return APIError("Oops, an error occurred.", status=500, error_type="APIError")
        return answer

    journal = journal_for(tmp_path, COMMENT)
    result, _ = run(COMMENT, FakeClient(server_error_after_commit), gate=gate(journal))
    journal.close()
    assert result.ok, result.error  # a read found the post: applied, not failed
    records = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert "failed" not in {r["type"] for r in records}
    assert [r["type"] for r in records if r.get("status") == 500] == ["in-doubt"]
    journal = journal_for(tmp_path, COMMENT, resume=True)
    run(COMMENT, FakeClient(api), gate=gate(journal))
    journal.close()
    assert {media: len(c) for media, c in api.comments.items()} == {f"m{n}": 1 for n in range(6)}


def test_an_older_comment_with_the_same_text_is_not_taken_for_a_lost_post(tmp_path: Path) -> None:
    """Hostile test F1: an earlier "nice one" by the same author passed for a post that a 500
    had refused, so the post was lost and the run said ok."""
    api = Api()
    create = load_registry().endpoints["comments.create"]
    api(create, {"media_id": "m0", "text": "nice one"})  # yesterday's run posted it
    api.comments["m0"][0]["id"] = "yesterday"

    refused: list[str] = []

    def refused_by_a_500_before_commit(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        first_post_on_m0 = endpoint.id == "comments.create" and params["media_id"] == "m0"
        if first_post_on_m0 and not refused:
            refused.append("m0")
            return APIError("Oops, an error occurred.", status=500, error_type="APIError")
        return api(endpoint, params)

    journal = journal_for(tmp_path, COMMENT)
    first, _ = run(COMMENT, FakeClient(refused_by_a_500_before_commit), gate=gate(journal))
    journal.close()
    assert isinstance(first.error, WriteInDoubt), first.error  # not "found"
    assert [c["id"] for c in api.comments["m0"]] == ["yesterday"]
    journal = journal_for(tmp_path, COMMENT, resume=True)
    resumed, _ = run(COMMENT, FakeClient(api), gate=gate(journal))
    journal.close()
    assert resumed.ok, resumed.error
    assert len(api.comments["m0"]) == 2  # yesterday's, and today's, posted once
    assert resumed.reconciled == ["absent from comments.list: comments.create sent again"]


def test_a_post_is_not_sent_when_the_read_that_would_check_it_fails() -> None:
    api = Api()

    def reads_fail(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "comments.list":
            return ConnectionDropped("the read dropped")
        return api(endpoint, params)

    result, _ = run(COMMENT, FakeClient(reads_fail), gate=gate())
    assert isinstance(result.error, ConnectionDropped)
    assert "comments.create not sent: the read of comments.list" in result.error.message
    assert api.comments == {}


def test_two_runs_on_one_journal_at_once_are_refused(tmp_path: Path) -> None:
    """Hostile test F3: two resumes on one journal posted every comment twice and interleaved
    their records."""
    first = journal_for(tmp_path, UNLIKE)
    try:
        with pytest.raises(SafetyError, match="in use by another igflow run"):
            journal_for(tmp_path, UNLIKE, resume=True)
        with pytest.raises(SafetyError, match="in use by another igflow run"):
            journal_for(tmp_path, UNLIKE)
    finally:
        first.close()
    journal_for(tmp_path, UNLIKE, resume=True).close()  # free again once the first one ends


def test_on_error_continue_does_not_hide_a_write_the_network_kept_from_being_sent() -> None:
    body = COMMENT.replace("    extract: {comment_id: $.data.id}\n", "    on_error: continue\n")
    api = Api()
    api.refuse_connection = {"m3"}
    result, _ = run(body, FakeClient(api), gate=gate())
    assert isinstance(result.error, errors_module.TransportError)
    assert result.error.exit_code == 4
    assert "1 write was not sent because of failures on the way" in result.error.message
    assert sorted(api.comments) == ["m0", "m1", "m2", "m4", "m5"]  # the others went on


TWO_STEPS = (
    "steps:\n"
    + AUTH
    + """\
  - id: first
    call: comments.create
    with: {media_id: m0, text: "same words"}
  - id: second
    call: comments.create
    with: {media_id: m0, text: "same words"}
"""
)


def test_two_steps_posting_the_same_text_are_two_comments_under_faults(tmp_path: Path) -> None:
    """Hostile round 2, finding 1: the second step's refused post was 'found' (the first
    step's comment) and lost, and the run said ok."""
    api = Api()
    posts: list[str] = []

    def second_post_refused_by_a_500(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "comments.create":
            posts.append("post")
            if len(posts) == 2:
                return APIError("Oops, an error occurred.", status=500, error_type="APIError")
        return api(endpoint, params)

    journal = journal_for(tmp_path, TWO_STEPS)
    first, _ = run(TWO_STEPS, FakeClient(second_post_refused_by_a_500), gate=gate(journal))
    journal.close()
    assert isinstance(first.error, WriteInDoubt), first.error
    journal = journal_for(tmp_path, TWO_STEPS, resume=True)
    resumed, _ = run(TWO_STEPS, FakeClient(api), gate=gate(journal))
    journal.close()
    assert resumed.ok, resumed.error
    assert len(api.comments["m0"]) == 2


def test_an_older_comment_deleted_before_the_resume_does_not_cause_a_second_post(
    tmp_path: Path,
) -> None:
    """Hostile round 2, finding 2: the baseline was a count, so deleting an older same-text
    comment between the crash and the resume made the applied post look absent."""
    api = Api()
    create = load_registry().endpoints["comments.create"]
    api(create, {"media_id": "m0", "text": "nice one"})
    api.comments["m0"][0]["id"] = "older"
    api.drop_after_applying = {"m0"}
    reads = {"fail": False}

    def settle_read_fails(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "comments.list" and reads["fail"]:
            return ConnectionDropped("the read dropped")
        if endpoint.id == "comments.create":
            reads["fail"] = True  # the baseline read came before; the settling read fails
        return api(endpoint, params)

    body = COMMENT.replace(IDS, json.dumps(["m0"]))
    journal = journal_for(tmp_path, body)
    first, _ = run(body, FakeClient(settle_read_fails), gate=gate(journal))
    journal.close()
    assert isinstance(first.error, WriteInDoubt)
    api.comments["m0"] = [c for c in api.comments["m0"] if c["id"] != "older"]  # deleted
    api.drop_after_applying = set()
    journal = journal_for(tmp_path, body, resume=True)
    resumed, _ = run(body, FakeClient(api), gate=gate(journal))
    journal.close()
    assert resumed.ok, resumed.error
    assert len(api.comments["m0"]) == 1  # ours, once
    assert resumed.reconciled == ["found by comments.list: comments.create had been applied"]


def test_a_fresh_run_is_refused_after_a_stopped_run_whose_posts_were_settled_applied(
    tmp_path: Path,
) -> None:
    """Hostile round 2, finding 3: writes settled as applied were not counted as applied."""
    journal = journal_for(tmp_path, COMMENT)
    params = {"media_id": "m0", "text": "nice one"}
    serial = journal.intent(
        WriteKey("post", request_fingerprint("POST", "comments.create", params)),
        endpoint="comments.create",
        method="POST",
        params=params,
        item=0,
    )
    journal.settle(serial, "applied", "settled by hand")
    journal.close()  # no end record: the run stopped
    with pytest.raises(SafetyError, match="stopped before its end after applying 1 comments"):
        Journal.start(
            str(tmp_path / "journal.jsonl"),
            playbook="play.yml",
            digest=playbook_digest(COMMENT, {}),
            resume=False,
            repeats=lambda endpoint: endpoint == "comments.create",
        )


def test_two_fresh_runs_on_a_journal_path_that_does_not_exist_yet_cannot_both_go(
    tmp_path: Path,
) -> None:
    """Hostile round 2, finding 4: both runs locked their own new file and both went on."""
    path = tmp_path / "new" / "journal.jsonl"
    first = Journal.start(str(path), playbook="p", digest="d", resume=False)
    try:
        with pytest.raises(SafetyError, match="in use by another igflow run"):
            Journal.start(str(path), playbook="p", digest="d", resume=False)
    finally:
        first.close()


def test_without_a_journal_a_write_in_doubt_is_not_said_to_be_settled_by_a_resume() -> None:
    """The built-in sandbox keeps no journal: 'igflow run --resume settles them' was a lie."""
    api = Api()
    api.drop_after_applying = {"m1"}

    def settle_read_fails(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "comments.list" and api.comments.get("m1"):
            return ConnectionDropped("the read dropped")
        return api(endpoint, params)

    result, _ = run(COMMENT, FakeClient(settle_read_fails), gate=gate())
    assert isinstance(result.error, WriteInDoubt) and not result.journaled
    assert "check the account by hand" in result.error.message
    assert "--resume" not in result.error.message


def interrupting(api: Api, on: str) -> Any:
    """The API, with Ctrl-C landing while the write to media ``on`` is out (after applying)."""

    def respond(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        answer = api(endpoint, params)
        if endpoint.mutates and params.get("media_id") == on:
            raise KeyboardInterrupt
        return answer

    return respond


def test_ctrl_c_during_a_loops_write_leaves_that_item_in_doubt(tmp_path: Path) -> None:
    api = Api()
    journal = journal_for(tmp_path, UNLIKE)
    result, events = run(UNLIKE, FakeClient(interrupting(api, "m2")), gate=gate(journal))
    journal.close()
    assert result.interrupted
    assert api.unliked == ["m0", "m1", "m2"]  # the server applied the third
    assert "item 2 in-doubt 3/6" in events.lines  # reported, not left out
    assert len(result.in_doubt) == 1 and "interrupted (Ctrl-C)" in result.in_doubt[0]
    assert result.settle_advice.startswith("igflow run --resume settles them")
    state = read_state(str(tmp_path / "journal.jsonl"))
    assert state.in_doubt_count == 1 and state.done_count == 2


def test_ctrl_c_during_a_single_write_makes_its_step_in_doubt(tmp_path: Path) -> None:
    body = "steps:\n" + AUTH + "  - id: one\n    call: likes.delete\n    with: {media_id: m4}\n"
    api = Api()
    journal = journal_for(tmp_path, body)
    result, events = run(body, FakeClient(interrupting(api, "m4")), gate=gate(journal))
    journal.close()
    assert result.interrupted
    assert [record.status for record in result.records] == ["ok", "in-doubt"]
    assert "end 1 in-doubt" in events.lines
    assert isinstance(result.records[1].error, WriteInDoubt)
    assert read_state(str(tmp_path / "journal.jsonl")).in_doubt_count == 1


def test_ctrl_c_during_concurrent_writes_reports_every_finished_item(tmp_path: Path) -> None:
    # Ctrl-C reaches the main thread (here: while it reports the first item); the workers'
    # writes go on to their answers, and every one that finished is reported.
    body = UNLIKE.replace("max_writes: 10", "max_writes: 10\n    concurrency: 3")
    api = Api()

    class Interrupting:
        def __init__(self) -> None:
            self.inner = Events()
            self.fired = False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def item_finished(self, step: Any, item: Any, done: int, total: int) -> None:
            if not self.fired:
                self.fired = True
                raise KeyboardInterrupt
            self.inner.item_finished(step, item, done, total)

    reporter = Interrupting()
    journal = journal_for(tmp_path, body)
    result = Runner(
        compile_text(body), FakeConnection(FakeClient(api)), reporter, gate=gate(journal)
    ).run("x")
    journal.close()
    assert result.interrupted
    reported = [line for line in reporter.inner.lines if line.startswith("item ")]
    # Every write the API applied is reported (the report the interrupt cut short is made
    # again).
    assert len(reported) == len(api.unliked) and all(" ok " in line for line in reported)
    assert read_state(str(tmp_path / "journal.jsonl")).done_count == len(api.unliked)


def test_the_settle_advice_names_the_writes_only_a_person_can_settle() -> None:
    from igflow.results import SETTLE_BY_HAND, SETTLE_BY_RESUME, settle_advice

    assert settle_advice(journaled=False, in_doubt=2, by_hand=1) == SETTLE_BY_HAND
    assert settle_advice(journaled=True, in_doubt=2, by_hand=0) == SETTLE_BY_RESUME
    alone = settle_advice(journaled=True, in_doubt=1, by_hand=1)
    assert "igflow journal settle" in alone and "--resume" not in alone
    mixed = settle_advice(journaled=True, in_doubt=3, by_hand=1)
    assert mixed.startswith("igflow run --resume settles 2 of them; for the other 1, no read")
    assert "igflow journal settle" in mixed


def test_ctrl_c_during_the_read_before_a_write_counts_nothing_as_sent(tmp_path: Path) -> None:
    # The account read (with a journal) comes before the intent: Ctrl-C there sends nothing,
    # so the report must not count a write as sent (nor the caps a slot as taken).
    api = Api()

    def respond(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "users.self":
            raise KeyboardInterrupt
        return api(endpoint, params)

    journal = journal_for(tmp_path, UNLIKE)
    result, _ = run(UNLIKE, FakeClient(respond), gate=gate(journal))
    journal.close()
    assert result.interrupted
    assert api.unliked == []
    assert not any(result.writes.values()), result.writes
    assert read_state(str(tmp_path / "journal.jsonl")).in_doubt_count == 0

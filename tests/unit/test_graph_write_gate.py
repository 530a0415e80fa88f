"""The one write gate with the Graph profile's reconcile entries (a fake API, no HTTP): a reply
whose answer was lost is found by a read of the replies, by text and author, not resent; a
publish whose answer was lost is found by its container's status_code PUBLISHED."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner_fakes import FakeClient, FakeConnection, compile_text, run

from igflow.errors import ConnectionDropped, SafetyError
from igflow.journal import Journal, playbook_digest, read_state
from igflow.redact import Redactor
from igflow.registry import Endpoint, load_registry
from igflow.reporters.console import ConsoleOptions, ConsoleReporter
from igflow.runner import Runner
from igflow.safety import WriteGate

ME = "17841400000000101"
AUTH = "  - authorize: {user: mira.makes, scopes: [instagram_business_basic, instagram_business_manage_comments, instagram_business_content_publish]}\n"  # noqa: E501
REPLY = (
    "api: instagram.graph\nsteps:\n"
    + AUTH
    + """\
  - call: comments.reply
    with: {comment_id: "c1", message: "Thank you!"}
    extract: {reply_id: {path: $.id, default: null}}
"""
)
PUBLISH = (
    "api: instagram.graph\nsteps:\n"
    + AUTH
    + """\
  - call: media.publish
    with: {user_id: "1784", creation_id: "k9"}
    extract: {media_id: {path: $.id, default: null}}
"""
)


class Api:
    """Replies and a container; the write's answer is lost after it was applied."""

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = [
            # Same text, someone else: must not pass for ours.
            {"id": "r0", "text": "Thank you!", "from": {"id": "999", "username": "other"}}
        ]
        self.published = False
        self.reads: list[tuple[str, dict[str, Any]]] = []
        self.writes: list[str] = []

    def __call__(self, endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "me":
            return {"user_id": ME, "username": "mira.makes"}
        if not endpoint.mutates:
            self.reads.append((endpoint.id, dict(params)))
        if endpoint.id == "comments.replies":
            return {"data": list(self.replies)}
        if endpoint.id == "containers.get":
            return {"id": "k9", "status_code": "PUBLISHED" if self.published else "FINISHED"}
        self.writes.append(endpoint.id)
        if endpoint.id == "comments.reply":
            self.replies.insert(0, {"id": "r1", "text": params["message"], "from": {"id": ME}})
        elif endpoint.id == "media.publish":
            self.published = True
        return ConnectionDropped("the connection dropped after the request was sent")


def gate(journal: Journal | None = None) -> WriteGate:
    return WriteGate(journal=journal, registry=load_registry("instagram.graph"))


def test_a_lost_reply_is_found_by_text_and_author() -> None:
    api = Api()
    result, _ = run(REPLY, FakeClient(api), gate=gate())
    assert result.ok, result.error
    assert api.writes == ["comments.reply"]  # sent once, never again
    record = result.records[1]
    assert record.message == "applied (the answer was lost; a read found it)"
    # Graph answers the object itself: the found reply is the write's answer, `$.id` works.
    assert record.extracted == {"reply_id": "r1"}
    # The reconcile read asked for the fields the match needs, with the registry's params.
    read = [params for endpoint_id, params in api.reads if endpoint_id == "comments.replies"]
    assert read and all(p["fields"] == "id,text,username,from{id,username}" for p in read)


def test_a_lost_publish_is_found_by_its_container() -> None:
    api = Api()
    result, _ = run(PUBLISH, FakeClient(api), gate=gate())
    assert result.ok, result.error
    assert api.writes == ["media.publish"]
    assert ("containers.get", {"fields": "id,status_code", "container_id": "k9"}) in api.reads
    # The container is not the publish's answer: the media id is unknown, the default applies.
    assert result.records[1].extracted == {"media_id": None}


def test_a_publish_not_found_stays_in_doubt() -> None:
    api = Api()

    def lose_before_applying(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "media.publish":
            api.writes.append(endpoint.id)
            return ConnectionDropped("dropped")  # never applied: the container stays FINISHED
        return api(endpoint, params)

    result, _ = run(PUBLISH, FakeClient(lose_before_applying), gate=gate())
    assert result.error is not None and type(result.error).__name__ == "WriteInDoubt"
    assert api.writes == ["media.publish"]  # not resent blindly


class Pages(Mapping[str, Any]):
    """The fake client's next-page lookup, computed from the API's state when followed."""

    def __init__(self, api: PagedApi) -> None:
        self.api = api

    def __getitem__(self, url: str) -> Any:
        return self.api.page(int(url.rsplit(":", 1)[1]))

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


class PagedApi(Api):
    """Replies newest first, 50 a page, with ``paging.next`` links (as Graph pages them)."""

    def __init__(self, *, others_after: int = 0, endless: bool = False) -> None:
        super().__init__()
        self.others_after = others_after  # replies by others that land right after ours
        self.endless = endless  # every page links to another: the read never ends
        self.apply = True  # False: the reply is lost before the server applies it

    def page(self, start: int) -> Any:
        body: dict[str, Any] = {"data": self.replies[start : start + 50]}
        if self.endless or start + 50 < len(self.replies):
            body["paging"] = {"next": f"page:{start + 50}"}
        self.reads.append(("comments.replies", {"start": start}))
        return body

    def __call__(self, endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "comments.replies":
            return self.page(0)
        if endpoint.id == "comments.reply":
            self.writes.append(endpoint.id)
            if self.apply:
                self.replies.insert(0, {"id": "r1", "text": params["message"], "from": {"id": ME}})
            for n in range(self.others_after):
                self.replies.insert(0, {"id": f"o{n}", "text": "me too", "from": {"id": "999"}})
            return ConnectionDropped("the connection dropped after the request was sent")
        return super().__call__(endpoint, params)


def paged_client(api: PagedApi) -> FakeClient:
    return FakeClient(api, pages=Pages(api))


def test_a_lost_reply_past_the_first_page_is_found_by_walking_the_pages() -> None:
    # Fifty replies by others came after ours: it is on page 2 of the newest-first replies.
    api = PagedApi(others_after=50)
    result, _ = run(REPLY, paged_client(api), gate=gate())
    assert result.ok, result.error
    assert api.writes == ["comments.reply"]
    assert result.records[1].extracted == {"reply_id": "r1"}
    assert ("comments.replies", {"start": 50}) in api.reads


def test_the_baseline_holds_matching_entries_past_the_first_page(tmp_path: Path) -> None:
    # An old "Thank you!" of ours on page 2 existed before the write: it is in the baseline,
    # so it can never pass for this write (here lost before it was applied).
    api = PagedApi()
    for n in range(60):
        mine = n == 55
        api.replies.append(
            {
                "id": f"old{n}",
                "text": "Thank you!" if mine else f"reply {n}",
                "from": {"id": ME if mine else "999"},
            }
        )
    api.apply = False
    journal = Journal.start(
        str(tmp_path / "j.jsonl"), playbook="p.yml", digest=playbook_digest(REPLY, {}), resume=False
    )
    result, _ = run(REPLY, paged_client(api), gate=gate(journal))
    journal.close()
    assert type(result.error).__name__ == "WriteInDoubt"  # absent is no proof in the same run
    intents = [
        json.loads(line)
        for line in (tmp_path / "j.jsonl").read_text().splitlines()
        if '"intent"' in line
    ]
    assert len(intents) == 1 and "old55" in intents[0]["seen"]


def test_a_read_that_does_not_end_cannot_tell_and_the_write_is_not_sent() -> None:
    # The baseline read never comes to its end: no check possible later, so nothing is sent.
    api = PagedApi(endless=True)
    result, _ = run(REPLY, paged_client(api), gate=gate())
    assert isinstance(result.error, SafetyError)
    assert "more than 20 pages" in result.error.message
    assert "not sent" in result.error.message
    assert api.writes == []


def test_a_resume_whose_read_does_not_end_leaves_the_write_in_doubt(tmp_path: Path) -> None:
    # An earlier run's reply is in doubt; the replies now page past the cap: the resume
    # cannot tell, so it neither sends it again nor calls it absent.
    path = str(tmp_path / "j.jsonl")
    first = PagedApi()
    first.apply = False
    journal = Journal.start(path, playbook="p.yml", digest=playbook_digest(REPLY, {}), resume=False)
    result, _ = run(REPLY, paged_client(first), gate=gate(journal))
    journal.close()
    assert type(result.error).__name__ == "WriteInDoubt"
    api = PagedApi(endless=True)
    journal = Journal.start(path, playbook="p.yml", digest=playbook_digest(REPLY, {}), resume=True)
    result, _ = run(REPLY, paged_client(api), gate=gate(journal))
    journal.close()
    assert api.writes == []  # never sent a second time
    assert type(result.error).__name__ == "WriteInDoubt"
    assert read_state(path).in_doubt_count == 1


CONTAINER = (
    "api: instagram.graph\nsteps:\n"
    + AUTH
    + """\
  - id: make
    call: containers.create
    with: {user_id: "1784", image_url: "https://example.com/a.jpg"}
"""
)


def container_api(writes: list[str]) -> Any:
    def respond(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        if endpoint.id == "me":
            return {"user_id": ME, "username": "mira.makes"}
        writes.append(endpoint.id)
        return ConnectionDropped("the connection dropped after the request was sent")

    return respond


def test_a_write_no_read_can_check_is_to_settle_by_hand_in_the_summary_and_the_error(
    tmp_path: Path,
) -> None:
    # containers.create is not idempotent and has no reconcile read: no resume can settle it.
    # The console's summary and the run's error say the same: by hand, igflow journal settle.
    path = str(tmp_path / "j.jsonl")
    writes: list[str] = []
    for resume in (False, True):
        journal = Journal.start(
            path, playbook="p.yml", digest=playbook_digest(CONTAINER, {}), resume=resume
        )
        out = io.StringIO()
        console = ConsoleReporter(out, Redactor(), ConsoleOptions())
        result = Runner(
            compile_text(CONTAINER), FakeConnection(FakeClient(container_api(writes))), console,
            gate=gate(journal),
        ).run("x")  # fmt: skip
        journal.close()
        assert type(result.error).__name__ == "WriteInDoubt"
        assert "igflow journal settle" in result.error.message, result.error.message
        assert "a resume settles it" not in result.error.message
        summary = next(line for line in out.getvalue().splitlines() if "in doubt: " in line)
        assert "igflow journal settle" in summary and "--resume settles" not in summary
    assert writes == ["containers.create"]  # never resent
    assert read_state(path).in_doubt_count == 1


def test_with_on_error_continue_the_runs_error_also_says_by_hand(tmp_path: Path) -> None:
    body = CONTAINER + "    on_error: continue\n"
    journal = Journal.start(
        str(tmp_path / "j.jsonl"), playbook="p.yml", digest=playbook_digest(body, {}), resume=False
    )
    result, _ = run(body, FakeClient(container_api([])), gate=gate(journal))
    journal.close()
    assert type(result.error).__name__ == "WriteInDoubt"
    assert "1 write is in doubt" in result.error.message
    assert "igflow journal settle" in result.error.message
    assert "--resume" not in result.error.message

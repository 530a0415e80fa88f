"""The one write gate with the Graph profile's reconcile entries (a fake API, no HTTP): a reply
whose answer was lost is found by a read of the replies, by text and author, not resent; a
publish whose answer was lost is found by its container's status_code PUBLISHED."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner_fakes import FakeClient, run

from igflow.errors import ConnectionDropped
from igflow.registry import Endpoint, load_registry
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


def gate() -> WriteGate:
    return WriteGate(registry=load_registry("instagram.graph"))


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

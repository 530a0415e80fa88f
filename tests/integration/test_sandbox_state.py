"""State over loopback HTTP: a request that fails changes nothing, and a ``--db`` state file
keeps every write across restarts (rate-limit counters do not: they live in memory).

"Nothing changed" is checked on the SQLite file itself: a full dump of every table before and
after the failing request, read through a second, read-only connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from test_sandbox_support import code_flow_token, implicit_token

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

GRANT = "3657782666"
MAYA = "4021937711"
ROSA = "4523871145"
MEDIA = "1667121369441597934_3657782666"  # grantwinney's seed photo
MAYA_MEDIA_SQL = "SELECT pk || '_' || owner FROM media WHERE owner = ? ORDER BY pk LIMIT 1"
ALL_SCOPES = "public_content follower_list comments relationships likes"


def dump(db_file: str) -> list[str]:
    """Every table's rows, as SQL, through a read-only connection (WAL lets it read alongside)."""
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def one(db_file: str, sql: str, *args: object) -> object:
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        row = conn.execute(sql, args).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


@dataclass
class World:
    url: str
    db: str
    grant: str  # grantwinney, every scope
    maya: str  # maya.bakes, comments + likes only (no public_content)
    basic: str  # dev_dan, basic only
    signed: str  # grantwinney on the signed client (code flow)
    running: RunningSandbox


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db_file = str(tmp_path_factory.mktemp("state") / "state.db")
    with start_sandbox(SandboxConfig(db=db_file)) as running:
        url = running.url
        yield World(
            url=url,
            db=db_file,
            grant=implicit_token(url, ALL_SCOPES),
            maya=implicit_token(url, "comments likes", username="maya.bakes"),
            basic=implicit_token(url, username="dev_dan"),
            signed=code_flow_token(url, "signed", "likes"),
            running=running,
        )


@pytest.fixture(autouse=True)
def _clean_slate(world: World) -> Iterator[None]:
    requests.post(world.url + "/_sandbox/reset-rate-limits", timeout=10)
    yield
    requests.post(world.url + "/_sandbox/faults", json={}, timeout=10)


def _comment_by(world: World, author: str) -> str:
    """The path of a comment on grantwinney's media by ``author`` (pixel_pete's spam)."""
    value = one(
        world.db,
        "SELECT m.pk || '_' || m.owner || '/comments/' || c.id FROM comments c "
        "JOIN media m ON m.pk = c.media_pk WHERE m.owner = ? AND c.author = ? LIMIT 1",
        GRANT,
        author,
    )
    assert value is not None
    return f"/v1/media/{value}"


def _post(world: World, path: str, **form: str) -> requests.Response:
    return requests.post(world.url + path, data=form, timeout=10)


def _comment(world: World, token: str, text: str, media: str = MEDIA) -> requests.Response:
    return _post(world, f"/v1/media/{media}/comments", access_token=token, text=text)


Failing = Callable[[World], requests.Response]
# name → (request, HTTP status, error_type). Each would write if it succeeded.
FAILURES: dict[str, tuple[Failing, int, str]] = {
    "bad token": (
        # The last hex digit changed: a well-formed token nobody was issued.
        lambda w: _comment(w, w.grant[:-1] + ("1" if w.grant.endswith("0") else "0"), "Hello"),
        400,
        "OAuthAccessTokenException",
    ),
    "empty token": (lambda w: _comment(w, "", "Hello"), 400, "OAuthParameterException"),
    "missing write scope": (
        lambda w: _post(w, f"/v1/media/{MEDIA}/likes", access_token=w.basic),
        400,
        "OAuthPermissionsException",
    ),
    "missing public_content on others' media": (
        lambda w: _comment(w, w.maya, "Lovely"),
        400,
        "OAuthPermissionsException",
    ),
    "unsigned write for a signed client": (
        lambda w: _post(w, f"/v1/media/{MEDIA}/likes", access_token=w.signed),
        403,
        "OAuthForbiddenException",
    ),
    "wrong sig": (
        lambda w: _post(w, f"/v1/media/{MEDIA}/likes", access_token=w.signed, sig="0" * 64),
        403,
        "OAuthForbiddenException",
    ),
    "unknown media": (
        lambda w: _post(w, "/v1/media/1_1/likes", access_token=w.grant),
        400,
        "APINotFoundError",
    ),
    "private media": (
        lambda w: _post(
            w,
            f"/v1/media/{one(w.db, MAYA_MEDIA_SQL, ROSA)}/likes",
            access_token=w.grant,
        ),
        400,
        "APINotAllowedError",
    ),
    "invalid relationship action": (
        lambda w: _post(w, f"/v1/users/{MAYA}/relationship", access_token=w.grant, action="poke"),
        400,
        "APIInvalidParametersError",
    ),
    "relationship with oneself": (
        lambda w: _post(
            w, f"/v1/users/{GRANT}/relationship", access_token=w.grant, action="unfollow"
        ),
        400,
        "APIInvalidParametersError",
    ),
    "missing comment text": (lambda w: _comment(w, w.grant, ""), 400, "APIInvalidParametersError"),
    "comment over 300 characters": (
        lambda w: _comment(w, w.grant, "a" * 301),
        400,
        "APIInvalidParametersError",
    ),
    "comment with five hashtags": (
        lambda w: _comment(w, w.grant, "#a #b #c #d #e"),
        400,
        "APIInvalidParametersError",
    ),
    "comment with two URLs": (
        lambda w: _comment(w, w.grant, "see http://a.example and https://b.example"),
        400,
        "APIInvalidParametersError",
    ),
    "comment in capitals": (
        lambda w: _comment(w, w.grant, "GREAT PHOTO"),
        400,
        "APIInvalidParametersError",
    ),
    "deleting someone else's comment": (
        # maya.bakes neither owns the media nor wrote pixel_pete's comment.
        lambda w: requests.delete(
            w.url + _comment_by(w, "4466120390"),
            params={"access_token": w.maya},
            timeout=10,
        ),
        400,
        "APINotAllowedError",
    ),
    "subscription with a bad callback": (
        lambda w: _post(
            w,
            "/v1/subscriptions",
            client_id="4c56a5eb5799895875d6739ca91b9cdb",
            client_secret="bec93e71d6402ee63744c82307ecbf32",
            object="user",
            aspect="media",
            callback_url="mailto:someone@example.com",
        ),
        400,
        "APISubscriptionError",
    ),
    "subscription whose callback is unreachable": (
        lambda w: _post(
            w,
            "/v1/subscriptions",
            client_id="4c56a5eb5799895875d6739ca91b9cdb",
            client_secret="bec93e71d6402ee63744c82307ecbf32",
            object="user",
            aspect="media",
            callback_url="http://127.0.0.1:9/unreachable",
        ),
        400,
        "APISubscriptionError",
    ),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_a_failed_request_changes_nothing(world: World, name: str) -> None:
    send, status, error_type = FAILURES[name]
    before = dump(world.db)
    response = send(world)
    assert response.status_code == status, response.text
    assert response.json()["meta"]["error_type"] == error_type
    assert dump(world.db) == before


def test_the_snapshot_does_see_writes(world: World) -> None:
    """The control: the same kind of request, valid, does change the dump."""
    before = dump(world.db)
    assert _comment(world, world.grant, "Those peas!").status_code == 200
    assert dump(world.db) != before


def test_rate_limited_writes_change_nothing(world: World) -> None:
    """Use up grantwinney's 30/h likes bucket (§8.1); further likes and unlikes change nothing."""
    with requests.Session() as session:
        for _ in range(30):
            # Liking is idempotent, but every call counts against the bucket.
            liked = session.post(
                f"{world.url}/v1/media/{MEDIA}/likes", data={"access_token": world.grant}
            )
            assert liked.status_code == 200, liked.text
        before = dump(world.db)
        maya_media = one(world.db, MAYA_MEDIA_SQL, MAYA)
        refused = [
            session.post(
                f"{world.url}/v1/media/{maya_media}/likes", data={"access_token": world.grant}
            ),
            # Unliking shares the likes bucket.
            session.delete(
                f"{world.url}/v1/media/{MEDIA}/likes", params={"access_token": world.grant}
            ),
        ]
    for response in refused:
        assert response.status_code == 429
        assert response.json()["meta"]["error_type"] == "OAuthRateLimitException"
    assert dump(world.db) == before


@pytest.mark.parametrize("phase", ["before"])
def test_a_fault_before_commit_changes_nothing(world: World, phase: str) -> None:
    assert (
        requests.post(
            world.url + "/_sandbox/faults", json={"fail_nth": 1, "phase": phase}
        ).status_code
        == 200
    )
    before = dump(world.db)
    failed = _comment(world, world.grant, "This one is lost")
    assert failed.status_code == 500 and failed.headers["X-Sandbox-Fault"] == "error"
    assert failed.json()["meta"] == {
        "code": 500,
        "error_type": "APIError",
        "error_message": "Oops, an error occurred.",
    }
    assert dump(world.db) == before


def test_a_retired_write_changes_nothing(tmp_path: Path) -> None:
    db_file = str(tmp_path / "retired.db")
    with start_sandbox(SandboxConfig(db=db_file, era="2018-04-04")) as running:
        token = implicit_token(running.url, ALL_SCOPES)
        before = dump(db_file)
        for response in (
            requests.post(f"{running.url}/v1/media/{MEDIA}/likes", data={"access_token": token}),
            requests.post(
                f"{running.url}/v1/users/{MAYA}/relationship",
                data={"access_token": token, "action": "unfollow"},
            ),
        ):
            assert response.json()["meta"]["error_message"] == "This endpoint has been retired"
        assert dump(db_file) == before


# ---- --db persistence ---------------------------------------------------------------------------
def test_state_survives_a_restart_and_rate_limits_do_not(tmp_path: Path) -> None:
    db_file = str(tmp_path / "persist.db")
    maya_media = ""
    with start_sandbox(SandboxConfig(db=db_file)) as first:
        url = first.url
        token = implicit_token(url, ALL_SCOPES)
        maya_media = str(one(db_file, MAYA_MEDIA_SQL, MAYA))
        assert (
            requests.post(
                f"{url}/v1/media/{MEDIA}/comments", data={"access_token": token, "text": "Kept"}
            ).status_code
            == 200
        )
        assert (
            requests.post(
                f"{url}/v1/media/{maya_media}/likes", data={"access_token": token}
            ).status_code
            == 200
        )
        unfollowed = requests.post(
            f"{url}/v1/users/{MAYA}/relationship",
            data={"access_token": token, "action": "unfollow"},
        )
        assert unfollowed.json()["data"] == {"outgoing_status": "none"}
        added = requests.post(url + "/_sandbox/clients", json={"name": "persisted"})
        assert added.status_code == 201
        for _ in range(5):
            last = requests.get(f"{url}/v1/users/self", params={"access_token": token})
        assert last.headers["X-Ratelimit-Remaining"] == str(500 - 5 - 3)
        snapshot = dump(db_file)

    # Same file, new process state: an era or dataset option would not replace existing state.
    with start_sandbox(SandboxConfig(db=db_file, generate={"users": 5})) as second:
        url = second.url
        assert dump(db_file) == snapshot
        # The token issued before the restart still works ...
        me = requests.get(f"{url}/v1/users/self", params={"access_token": token})
        assert me.status_code == 200 and me.json()["data"]["id"] == GRANT
        # ... with a full budget again: the counters lived in memory (docs/sandbox.md).
        assert me.headers["X-Ratelimit-Remaining"] == "499"
        comments = requests.get(
            f"{url}/v1/media/{MEDIA}/comments", params={"access_token": token}
        ).json()["data"]
        assert [c["text"] for c in comments].count("Kept") == 1
        liked = requests.get(f"{url}/v1/media/{maya_media}", params={"access_token": token}).json()[
            "data"
        ]
        assert liked["user_has_liked"] is True
        relationship = requests.get(
            f"{url}/v1/users/{MAYA}/relationship", params={"access_token": token}
        ).json()["data"]
        assert relationship["outgoing_status"] == "none"
        names = [c["name"] for c in requests.get(url + "/_sandbox/clients").json()]
        assert "persisted" in names and len(names) == 4
        # No generated users appeared: the existing file was used as it is.
        assert len(requests.get(url + "/_sandbox/info").json()["users"]) == 14

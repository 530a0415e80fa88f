"""The six Graph housekeeping playbooks: `check`, a dry run that changes nothing, then the real
run, against a served Graph sandbox; the end state is read back through the API with plain
requests (graph_sandbox_support), and no token shows in any URL igflow sent or any artefact."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from graph_sandbox_support import (
    MIRA,
    MIRA_ID,
    NORTHWIND,
    NORTHWIND_ID,
    PLAYBOOKS,
    GraphSandbox,
    Run,
    run_igflow,
    serve,
)

SPAM_ON_RECENT = {"17800000000010003", "17800000000010004", "17800000000010009"}
OLD_POST = "17900000000001004"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GraphSandbox]:
    yield from serve(tmp_path, request_log=str(tmp_path / "requests.jsonl"))


def no_token_leaked(sandbox: GraphSandbox, *runs: Run) -> None:
    """No URL igflow sent carries a token (or an access_token at all), and no artefact shows
    one of the tokens the requests presented."""
    tokens = sandbox.recorder.bearer_tokens()
    assert tokens, "no request carried a Bearer token"
    for seen in sandbox.recorder.seen:
        url = seen.path + "?" + seen.query
        assert "access_token" not in seen.query, url
        assert not any(token in url for token in tokens), url
    for run in runs:
        for text in run.texts():
            assert not any(token in text for token in tokens)


def ok(run: Run) -> Run:
    assert run.code == 0, run.out + run.err
    return run


@pytest.mark.parametrize("name", sorted(p.name for p in PLAYBOOKS.glob("*.yml")))
def test_each_playbook_passes_check(name: str) -> None:
    run = run_igflow(["check", str(PLAYBOOKS / name)])
    assert run.code == 0, run.err
    assert "ok (" in run.out


def test_there_are_the_six_playbooks() -> None:
    assert {p.stem for p in PLAYBOOKS.glob("*.yml")} == {
        "hide_spam_comments",
        "reply_unanswered",
        "export_media_insights",
        "comments_off_old",
        "publish_photo",
        "token_age",
    }


def test_hide_spam_comments(sandbox: GraphSandbox) -> None:
    before = sandbox.all_comments(MIRA, MIRA_ID)
    assert set(before) >= SPAM_ON_RECENT and not any(c["hidden"] for c in before.values())
    dry = ok(sandbox.run("hide_spam_comments.yml", "--dry-run"))
    assert sandbox.all_comments(MIRA, MIRA_ID) == before
    real = ok(sandbox.run("hide_spam_comments.yml"))
    after = sandbox.all_comments(MIRA, MIRA_ID)
    hidden = {cid for cid, c in after.items() if c["hidden"]}
    assert hidden == SPAM_ON_RECENT
    assert set(after) == set(before)  # hidden, not deleted
    # Spam on the old post (outside the 7 days) and the allowlisted author are left alone.
    assert all(not c["hidden"] for c in after.values() if c["username"] in ("kiln_kate", MIRA))
    no_token_leaked(sandbox, dry, real)


def test_hide_spam_comments_can_delete_instead(sandbox: GraphSandbox) -> None:
    before = sandbox.all_comments(MIRA, MIRA_ID)
    ok(sandbox.run("hide_spam_comments.yml", "--var", "delete:=true"))
    after = sandbox.all_comments(MIRA, MIRA_ID)
    assert set(before) - set(after) == SPAM_ON_RECENT
    assert not any(c["hidden"] for c in after.values())


def _mine(comment: dict[str, object]) -> list[dict[str, str]]:
    replies = comment.get("replies")
    data = replies.get("data", []) if isinstance(replies, dict) else []
    return [r for r in data if r["username"] == MIRA]


def test_reply_unanswered_replies_once(sandbox: GraphSandbox) -> None:
    before = sandbox.all_comments(MIRA, MIRA_ID)
    dry = ok(sandbox.run("reply_unanswered.yml", "--dry-run"))
    assert sandbox.all_comments(MIRA, MIRA_ID) == before
    real = ok(sandbox.run("reply_unanswered.yml"))
    after = sandbox.all_comments(MIRA, MIRA_ID)
    # What should have been answered, computed from the state before: top-level comments by
    # others, with no reply of mine, not spam (the playbook's skip patterns).
    spammy = ("spam.example", "dm for promo", "cheap followers", "http")
    expected = {
        cid
        for cid, c in before.items()
        if c["username"] != MIRA
        and not _mine(c)
        and not any(word in c["text"].lower() for word in spammy)
    }
    assert expected  # the dataset has some
    for cid, comment in after.items():
        new = len(_mine(comment)) - len(_mine(before[cid]))
        assert new == (1 if cid in expected else 0), cid
        if cid in expected:
            assert _mine(comment)[-1]["text"] == (
                f"Thank you for the comment, @{comment['username']}!"
            )
    again = ok(sandbox.run("reply_unanswered.yml"))
    assert sandbox.all_comments(MIRA, MIRA_ID) == after  # once: nothing new the second time
    no_token_leaked(sandbox, dry, real, again)


def test_export_media_insights(sandbox: GraphSandbox) -> None:
    out = sandbox.tmp / "out" / "exports"
    dry = ok(sandbox.run("export_media_insights.yml", "--dry-run"))  # reads only: it writes too
    real = ok(sandbox.run("export_media_insights.yml"))
    media = sandbox.all_pages(
        NORTHWIND, f"{NORTHWIND_ID}/media", fields="id,media_type,like_count,caption", limit=50
    )
    with open(out / "northwind.coffee-insights.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = (out / "northwind.coffee-insights.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == [m["id"] for m in media] == [r["id"] for r in records]
    for m, row, record in zip(media, rows, records, strict=True):
        insights = sandbox.get(NORTHWIND, f"{m['id']}/insights", metric="reach,views,saved")
        values = {i["name"]: i["values"][0]["value"] for i in insights["data"]}
        assert record["reach"] == values["reach"] and int(row["reach"]) == values["reach"]
        assert record["views"] == values["views"] and record["saved"] == values["saved"]
        assert record["like_count"] == m["like_count"] and row["media_type"] == m["media_type"]
        assert record["caption"] == m.get("caption")
    no_token_leaked(sandbox, dry, real)


def _comment_enabled(sandbox: GraphSandbox) -> dict[str, bool]:
    media = sandbox.all_pages(MIRA, f"{MIRA_ID}/media", fields="id,is_comment_enabled", limit=50)
    return {m["id"]: m["is_comment_enabled"] for m in media}


def test_comments_off_old(sandbox: GraphSandbox) -> None:
    before = _comment_enabled(sandbox)
    assert before[OLD_POST] is True and all(before.values())
    dry = ok(sandbox.run("comments_off_old.yml", "--dry-run"))
    assert _comment_enabled(sandbox) == before
    real = ok(sandbox.run("comments_off_old.yml"))
    assert _comment_enabled(sandbox) == {**before, OLD_POST: False}
    ok(sandbox.run("comments_off_old.yml", "--var", "enable:=true"))
    assert _comment_enabled(sandbox) == before
    no_token_leaked(sandbox, dry, real)


def test_publish_photo(sandbox: GraphSandbox) -> None:
    before = sandbox.media_ids(NORTHWIND, NORTHWIND_ID)
    dry = ok(sandbox.run("publish_photo.yml", "--dry-run"))
    assert sandbox.media_ids(NORTHWIND, NORTHWIND_ID) == before
    real = ok(sandbox.run("publish_photo.yml", "--report", f"json:{sandbox.tmp / 'pub.json'}"))
    after = sandbox.media_ids(NORTHWIND, NORTHWIND_ID)
    new = [m for m in after if m not in before]
    assert len(new) == 1 and after[0] == new[0]  # one post, the newest
    post = sandbox.get(NORTHWIND, new[0], fields="id,caption,media_type,comments_count")
    assert post["caption"] == "Ethiopia Guji, now on filter too. #coffee #specialtycoffee"
    assert post["media_type"] == "IMAGE"
    comments = sandbox.comments(NORTHWIND, new[0])
    assert [(c["username"], c["text"]) for c in comments] == [
        (NORTHWIND, "Tasting notes: jasmine, apricot, black tea.")
    ]
    report = json.loads((sandbox.tmp / "pub.json").read_text())
    usage = report["api_usage"]  # the latest usage headers, as the run last saw them
    assert set(usage["app"]) >= {"call_count", "total_time", "total_cputime"}
    assert NORTHWIND_ID in usage["business"] and usage["highest"] >= 0
    assert "API usage: app" in real.out
    container = report["outputs"]["container"]
    status = sandbox.get(NORTHWIND, container, fields="status_code")
    assert status["status_code"] == "PUBLISHED"
    limit = sandbox.get(NORTHWIND, f"{NORTHWIND_ID}/content_publishing_limit")
    assert limit["data"][0]["quota_usage"] == 1
    no_token_leaked(sandbox, dry, real)


def test_token_age_on_the_built_in_sandbox() -> None:
    run = run_igflow(["run", str(PLAYBOOKS / "token_age.yml")])
    assert run.code == 0, run.out + run.err
    assert "days_left = 60.0" in run.out and "refreshable = false" in run.out


def test_token_age_refreshes_an_old_enough_token(tmp_path: Path) -> None:
    for sandbox in serve(tmp_path, clock="fake", request_log=str(tmp_path / "requests.jsonl")):
        token = sandbox.token(MIRA)
        clock = requests.post(
            f"{sandbox.url}/_sandbox/clock", json={"advance": 25 * 3600}, timeout=10
        )
        assert clock.status_code == 200
        env = {"IG_TOKEN": token}
        run = sandbox.run(
            "token_age.yml",
            "--var",
            "obtained_at:=1000000",
            "--var",
            f"checked_at:={1000000 + 25 * 3600}",
            "--var",
            "refresh:=true",
            environ=env,
        )
        assert run.code == 0, run.out + run.err
        refreshes = [s for s in sandbox.recorder.seen if s.path == "/refresh_access_token"]
        assert len(refreshes) == 1 and refreshes[0].authorization == f"Bearer {token}"
        # The refresh went through: the sandbox's answer says 60 days, and the old token still
        # reads the account (a refresh does not revoke it).
        assert "refreshed_for_days = 60.0" in run.out
        assert sandbox.get(MIRA, "me", fields="username")["username"] == MIRA
        assert "days_left = 59.0" in run.out
        no_token_leaked(sandbox, run)


@pytest.mark.parametrize(
    "name",
    [
        "hide_spam_comments.yml",
        "reply_unanswered.yml",
        "export_media_insights.yml",
        "comments_off_old.yml",
        "token_age.yml",
    ],
)
def test_each_runs_against_the_built_in_sandbox(name: str, tmp_path: Path) -> None:
    """The default target: a fresh built-in Graph sandbox per run (publish_photo, which waits
    for its container, runs against a served one above)."""
    for extra in (["--dry-run"], []):
        argv = ["run", str(PLAYBOOKS / name), "--out-dir", str(tmp_path), *extra]
        run = run_igflow(argv)
        assert run.code == 0, run.out + run.err
        assert "(sandbox)" in run.out


def test_publish_photo_finds_its_post_when_the_publish_answer_is_lost(tmp_path: Path) -> None:
    """The tester's case: the 12th request, the publish that succeeds (after four "not ready"
    answers, 1+2+4+5 s apart, past the container's 10 s of processing), is applied and its answer
    lost. The reconcile by the container cannot give the media id; the playbook finds the post
    by reading the newest media and still posts the first comment on it."""
    for sandbox in serve(tmp_path, request_log=str(tmp_path / "requests.jsonl")):
        before = sandbox.media_ids(NORTHWIND, NORTHWIND_ID)
        faults = {"drop_nth": 12, "phase": "after"}
        assert requests.post(f"{sandbox.url}/_sandbox/faults", json=faults, timeout=10).ok
        real = ok(sandbox.run("publish_photo.yml"))
        # The case under test happened (else the timing moved and this test says so).
        assert "settled: found by containers.get: media.publish had been applied" in real.out
        assert "SKIP" not in real.out and "media = null" not in real.out
        new = [m for m in sandbox.media_ids(NORTHWIND, NORTHWIND_ID) if m not in before]
        assert len(new) == 1  # published once, never sent again
        assert f'media = "{new[0]}"' in real.out
        comments = sandbox.comments(NORTHWIND, new[0])
        assert [(c["username"], c["text"]) for c in comments] == [
            (NORTHWIND, "Tasting notes: jasmine, apricot, black tea.")
        ]
        no_token_leaked(sandbox, real)


def test_now_is_the_fake_clocks_time_on_a_served_sandbox(tmp_path: Path) -> None:
    """`igflow sandbox serve --api graph --clock fake`: hide_spam_comments' `since: now() - 7
    days` is computed from the sandbox's clock (read once per run), not the wall clock, which
    found no media at all. Moved 30 days on, the same run finds none: the time is the target's."""
    for sandbox in serve(tmp_path, clock="fake", request_log=str(tmp_path / "requests.jsonl")):
        real = ok(sandbox.run("hide_spam_comments.yml"))
        after = sandbox.all_comments(MIRA, MIRA_ID)
        assert {cid for cid, c in after.items() if c["hidden"]} == SPAM_ON_RECENT
        assert len([s for s in sandbox.recorder.seen if s.path == "/_sandbox/clock"]) == 1
        moved = requests.post(
            f"{sandbox.url}/_sandbox/clock", json={"advance": 30 * 86400}, timeout=10
        )
        assert moved.status_code == 200
        later = ok(sandbox.run("hide_spam_comments.yml", "--var", "delete:=true"))
        assert "media = 0" in later.out
        assert sandbox.all_comments(MIRA, MIRA_ID) == after  # nothing deleted
        no_token_leaked(sandbox, real, later)


def test_now_stays_the_wall_clock_on_a_real_clock_and_remote_targets(
    tmp_path: Path, requests_mock: Any
) -> None:
    from igflow.target_clock import sandbox_clock

    requests_mock.get("https://graph.instagram.com/_sandbox/clock", json={"kind": "fake", "now": 1})
    assert sandbox_clock("https://graph.instagram.com") is None  # never asked: not loopback
    assert requests_mock.call_count == 0
    requests_mock.real_http = True
    for sandbox in serve(tmp_path):
        assert sandbox_clock(sandbox.url) is None  # a real clock
    for sandbox in serve(tmp_path, clock="fake"):
        assert (
            sandbox_clock(sandbox.url)
            == requests.get(f"{sandbox.url}/_sandbox/clock", timeout=10).json()["now"]
        )


class _SomeoneElsePostedMeanwhile:
    """WSGI middleware on the real Graph sandbox: the answer to the playbook's "newest media"
    read (`limit=1`) shows another caption, as if another post had been published between the
    lost publish and the read."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not (environ["PATH_INFO"].endswith("/media") and "limit=1" in environ["QUERY_STRING"]):
            return self.app(environ, start_response)
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = json.loads(b"".join(self.app(environ, keep)))
        body["data"][0]["caption"] = "Someone else's post"
        data = json.dumps(body).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(data)))])
        return [data]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def test_publish_photo_fails_loudly_when_the_newest_post_is_not_its_own(tmp_path: Path) -> None:
    from graph_sandbox_support import GraphSandbox, Recorder

    from igflow.sandbox.config import SandboxConfig
    from igflow.sandbox.graph.app import create_graph_app
    from igflow.sandbox.server import start_sandbox

    app = Recorder(_SomeoneElsePostedMeanwhile(create_graph_app(SandboxConfig(api="graph"))))
    with start_sandbox(app=app) as running:  # type: ignore[arg-type]
        sandbox = GraphSandbox(running, app, tmp_path)
        before = sandbox.media_ids(NORTHWIND, NORTHWIND_ID)
        faults = {"drop_nth": 12, "phase": "after"}
        assert requests.post(f"{sandbox.url}/_sandbox/faults", json=faults, timeout=10).ok
        run = sandbox.run("publish_photo.yml")
        assert "settled: found by containers.get: media.publish had been applied" in run.out
        assert run.code == 1, run.out + run.err
        assert "FAIL   7/10  Find the new post" in run.out
        new = [m for m in sandbox.media_ids(NORTHWIND, NORTHWIND_ID) if m not in before]
        assert len(new) == 1 and sandbox.comments(NORTHWIND, new[0]) == []  # nothing guessed

"""The housekeeping playbooks against a served sandbox with a generated dataset (issue 4).

Each test serves a fresh sandbox whose lists span several pages, works out from its SQLite state
what the playbook must change (see housekeeping_support), runs the real CLI, and then checks the
state it left: exactly the right rows gone or added, everything else untouched, and each write
sent once (the sandbox's request log).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from housekeeping_support import (
    GRANT,
    ME,
    PAGE,
    PLAYBOOKS,
    Comment,
    Sandbox,
    generated_sandbox,
    outputs,
    pages,
    path_media_pk,
)

# What the tests call spam: the playbook's default patterns, passed explicitly.
SPAM_PATTERNS = [
    "follow4follow",
    "like4like",
    r"\bf4f\b",
    r"\bl4l\b",
    "follow me",
    "check my (page|profile)",
    "https?://",
    r"www\.",
    r"bit\.ly",
]
TAG = "plants"
TAG_SCAN = 200  # how many of the tag's most recent media like_tag_media.yml looks at


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    # Whatever a run leaves in its working directory (a resume journal) stays in this test's.
    monkeypatch.chdir(tmp_path)
    with generated_sandbox(tmp_path) as running:
        yield running


def vars_file(tmp_path: Path, **values: object) -> str:
    path = tmp_path / "vars.yml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return str(path)


def test_unlike_all_removes_every_like_of_mine_and_nothing_else(sandbox: Sandbox) -> None:
    before = sandbox.likes()
    mine = {pk for pk, user in before if user == GRANT}
    assert len(mine) > 8 * PAGE  # hundreds, over many pages

    code, out, err = sandbox.run("unlike_all.yml", "--var", f"me={ME}")

    assert code == 0, out + err
    after = sandbox.likes()
    assert {pk for pk, user in after if user == GRANT} == set()
    assert after == {(pk, user) for pk, user in before if user != GRANT}
    # Every page was read before the first unlike, and each like was removed exactly once.
    sent = [e for e in sandbox.endpoints() if e in ("users.media_liked", "likes.delete")]
    assert sent == ["users.media_liked"] * pages(len(mine)) + ["likes.delete"] * len(mine)
    unlikes = sandbox.requests("likes.delete")
    assert sorted(path_media_pk(r["path"]) for r in unlikes) == sorted(mine)
    assert {r["status"] for r in unlikes} == {200}
    assert outputs(out) == {
        "liked": len(mine),
        "pages": pages(len(mine)),
        "unliked": len(mine),
        "failed": 0,
    }


def test_unlike_all_goes_on_past_a_failed_unlike(sandbox: Sandbox) -> None:
    """One unlike answered 500 does not stop the others, and the outputs account for it.

    The fault strikes the Nth /v1 request (the liked pages come first). Whether igflow resends
    it (unlikes are idempotent, so a retry policy may) or reports it as failed and goes on
    (`on_error: continue`), the state must match the outputs exactly: every other like is gone.
    """
    mine = sandbox.liked_by_me()
    fifth_unlike = pages(len(mine)) + 5
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"fail_nth": fifth_unlike}, timeout=10)

    code, out, err = sandbox.run("unlike_all.yml")

    assert code == 0, out + err
    unlikes = sandbox.requests("likes.delete")
    (struck,) = [r for r in unlikes if r["fault"] == "error"]
    left = sandbox.liked_by_me()
    result = outputs(out)
    assert left <= {path_media_pk(struck["path"])}
    assert result == {
        "liked": len(mine),
        "pages": pages(len(mine)),
        "unliked": len(mine) - len(left),
        "failed": len(left),
    }
    # Every item was sent once, apart from the struck request (resent or not).
    resent_or_rest = [path_media_pk(r["path"]) for r in unlikes if r is not struck]
    assert sorted(resent_or_rest) == sorted(mine - left)


def test_unlike_all_stops_at_its_write_cap(sandbox: Sandbox) -> None:
    """max_writes: past the cap the run is refused (exit 6); the cap's worth of unlikes went."""
    mine = sandbox.liked_by_me()
    code, out, err = sandbox.run("unlike_all.yml", "--var", "max_writes=100")
    assert code == 6, out + err
    assert "max_writes" in err
    assert len(sandbox.requests("likes.delete")) == 100
    assert len(mine - sandbox.liked_by_me()) == 100
    assert sandbox.liked_by_me() < mine


SPAM = re.compile("|".join(SPAM_PATTERNS), re.IGNORECASE)


def is_spam(comment: Comment) -> bool:
    return bool(SPAM.search(comment.text))


def spam_to_delete(sandbox: Sandbox) -> tuple[set[int], list[Comment]]:
    """The ids of others' spam comments on my 50 most recent media, and all comments on those."""
    recent = {m["pk"] for m in sandbox.my_media()[:50]}
    on_recent = [c for c in sandbox.comments().values() if c.media_pk in recent]
    return {c.id for c in on_recent if c.author != GRANT and is_spam(c)}, on_recent


def test_prune_spam_deletes_only_others_spam_on_my_last_50_media(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    before = sandbox.comments()
    expected, on_recent = spam_to_delete(sandbox)
    # The dataset has every case the playbook must tell apart.
    assert len(expected) >= 20
    assert any(c.author == GRANT and is_spam(c) for c in on_recent)  # my own, kept
    assert any(c.author != GRANT and not is_spam(c) for c in on_recent)  # not spam, kept
    older = [c for c in before.values() if c not in on_recent]
    assert any(c.author != GRANT and is_spam(c) for c in older)  # spam on older media, kept

    code, out, err = sandbox.run(
        "prune_spam_comments.yml", "--vars-file", vars_file(tmp_path, spam_patterns=SPAM_PATTERNS)
    )

    assert code == 0, out + err
    after = sandbox.comments()
    assert set(before) - set(after) == expected
    assert after == {cid: c for cid, c in before.items() if cid not in expected}
    deletes = sandbox.requests("comments.delete")
    assert sorted(int(r["path"].rsplit("/", 1)[1]) for r in deletes) == sorted(expected)
    assert len(sandbox.requests("users.media_recent_self")) == 2  # 50 media: two pages of 25
    assert outputs(out) == {
        "media": 50,
        "comments": len(on_recent),
        "spam": len(expected),
        "deleted": len(expected),
    }


def test_prune_spam_dry_run_shows_exactly_what_it_would_delete(sandbox: Sandbox) -> None:
    before = sandbox.comments()
    playbook = yaml.safe_load((PLAYBOOKS / "prune_spam_comments.yml").read_text(encoding="utf-8"))
    assert playbook["vars"]["spam_patterns"] == SPAM_PATTERNS  # run with its defaults
    expected, _ = spam_to_delete(sandbox)

    code, out, err = sandbox.run("prune_spam_comments.yml", "--dry-run")

    assert code == 0, out + err
    assert sandbox.comments() == before
    assert sandbox.requests("comments.delete") == []
    shown = re.findall(r"would send DELETE comments\.delete .*comment_id=(\d+)", out)
    assert sorted(map(int, shown)) == sorted(expected)


def test_unfollow_non_followers_spares_followers_and_the_allow_list(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    names = sandbox.usernames()
    before = sandbox.follows()
    following = {
        followee for follower, followee, s in before if follower == GRANT and s == "follows"
    }
    followers = {
        follower for follower, followee, s in before if followee == GRANT and s == "follows"
    }
    non_followers = sorted(following - followers, key=names.__getitem__)
    assert len(following) > 3 * PAGE and len(followers) > PAGE
    # Keep three who do not follow back, one who does, and one name that is not followed at all.
    keep = [names[u] for u in non_followers[:3]] + [names[sorted(followers)[0]], "nobody_here"]
    expected = set(non_followers[3:])
    assert len(expected) > 2 * PAGE

    code, out, err = sandbox.run(
        "unfollow_non_followers.yml", "--vars-file", vars_file(tmp_path, keep=keep)
    )

    assert code == 0, out + err
    after = sandbox.follows()
    assert after == before - {(GRANT, u, "follows") for u in expected}
    sent = sandbox.requests("relationships.update")
    assert sorted(r["path"].split("/")[3] for r in sent) == sorted(expected)
    assert {r["form"]["action"] for r in sent} == {"unfollow"}
    result = outputs(out)
    assert sorted(result.pop("kept")) == sorted(keep[:3])
    assert result == {
        "following": len(following),
        "followers": len(followers),
        "unfollowed": len(expected),
        "not_following_back": len(non_followers),
    }


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_media_writes_one_row_per_media(sandbox: Sandbox, tmp_path: Path, fmt: str) -> None:
    media = sandbox.my_media()
    assert len(media) > 3 * PAGE
    assert any(m["caption"] is None for m in media)  # null in JSON, empty in CSV
    expected = [
        {
            "id": f"{m['pk']}_{m['owner']}",
            "shortcode": m["shortcode"],
            "caption": m["caption"],
            "likes": m["likes"],
            "comments": m["comments"],
            "created_time": _iso(m["created_time"]),
        }
        for m in media
    ]
    path = tmp_path / "exports" / f"media.{fmt}"

    code, out, err = sandbox.run(  # format: from .ext
        "export_media.yml", "--out-dir", str(tmp_path), "--var", f"path=exports/media.{fmt}"
    )

    assert code == 0, out + err
    text = path.read_text(encoding="utf-8")
    if fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
        assert rows == expected
    else:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == list(expected[0])
            rows = list(reader)

        # A shortcode can start with "-": the CSV neutralises it as a spreadsheet formula.
        def cell(v: object) -> str:
            text = "" if v is None else str(v)
            return "'" + text if text.startswith("-") else text

        assert any(m["shortcode"].startswith("-") for m in expected)
        as_text = [{k: cell(v) for k, v in row.items()} for row in expected]
        assert rows == as_text
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left
    assert outputs(out) == {
        "exported": len(media),
        "pages": pages(len(media)),
        "path": f"exports/media.{fmt}",
    }


def test_like_tag_media_likes_at_most_n_new_ones(sandbox: Sandbox) -> None:
    n = 25
    tagged = sandbox.rows(
        "SELECT m.pk, m.owner FROM media_tags t JOIN media m ON m.pk = t.media_pk "
        "JOIN users u ON u.id = m.owner WHERE t.tag = ? AND (u.is_private = 0 OR m.owner = ? "
        "OR EXISTS (SELECT 1 FROM follows f WHERE f.follower = ? AND f.followee = m.owner "
        "AND f.status = 'follows')) ORDER BY m.created_time DESC, m.pk DESC LIMIT ?",
        TAG,
        GRANT,
        GRANT,
        TAG_SCAN,
    )
    before = sandbox.likes()
    liked = sandbox.liked_by_me()
    eligible = [pk for pk, owner in tagged if pk not in liked and owner != GRANT]
    expected = set(eligible[:n])
    last = max(i for i, (pk, _) in enumerate(tagged) if pk in expected)
    skipped = [pk for pk, _ in tagged[:last] if pk in liked]
    assert len(expected) == n and last >= PAGE and len(skipped) >= 10  # pages, and skips

    code, out, err = sandbox.run(
        "like_tag_media.yml", "--var", f"tag={TAG}", "--var", f"n={n}", "--var", f"scan={TAG_SCAN}"
    )

    assert code == 0, out + err
    assert sandbox.likes() == before | {(pk, GRANT) for pk in expected}
    # Not one like request went to media already liked (the sandbox would have ignored it).
    sent = [path_media_pk(r["path"]) for r in sandbox.requests("likes.create")]
    assert sorted(sent) == sorted(expected)
    result = outputs(out)
    assert result["liked"] == n
    assert result["looked_at"] == len(tagged)
    assert result["already_liked"] == sum(1 for pk, _ in tagged if pk in liked)

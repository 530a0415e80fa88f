"""The content store: loading, OAuth helpers, computed counts, visibility."""

from __future__ import annotations

from sandbox_helpers import GRANT, viewer

from igflow.sandbox.contract import Viewer
from igflow.sandbox.store import Store


def test_authenticate_and_lookup(store: Store) -> None:
    assert store.authenticate("grantwinney", "snappeas2017") == GRANT
    assert store.authenticate("GrantWinney", "snappeas2017") == GRANT
    assert store.authenticate("grantwinney", "wrong") is None
    assert store.authenticate("nobody", "snappeas2017") is None
    assert store.user_by_username("grantwinney")["id"] == GRANT
    assert store.user_by_id(GRANT)["username"] == "grantwinney"
    assert store.user_by_id("1") is None


def test_user_json_is_the_token_exchange_user(store: Store) -> None:
    assert store.user_json(GRANT) == {
        "id": GRANT,
        "username": "grantwinney",
        "profile_picture": "https://instagram.fymy1-2.fna.fbcdn.net/t51.2885-19/"
        "11906329_960233084022564_1448528159_a.jpg",
        "full_name": "Grant",
        "bio": "",
        "website": "https://grantwinney.com/",
        "is_business": False,
    }


def test_list_users_has_ten_sandbox_users_and_live_only_ones(store: Store) -> None:
    users = store.list_users()
    assert users[0] == {
        "id": GRANT,
        "username": "grantwinney",
        "full_name": "Grant",
        "private": False,
        "password": "snappeas2017",
    }
    assert len(users) == 14
    assert [u["username"] for u in users if u["private"]] == ["rosa.quiet"]
    assert all(u["password"] for u in users)


def test_counts_are_computed_from_state(store: Store) -> None:
    counts = store.full_user(GRANT)["counts"]
    assert counts == {"media": 7, "follows": 10, "followed_by": 5}
    store.set_follow(GRANT, "4523871145", "follows")
    assert store.full_user(GRANT)["counts"]["follows"] == 11
    store.set_follow(GRANT, "4523871145", "requested")  # a pending request is not a follow
    assert store.full_user(GRANT)["counts"]["follows"] == 10


def test_visibility_accepts_usernames_or_ids(store: Store) -> None:
    by_name = store.visibility(viewer())
    by_id = store.visibility(
        Viewer(GRANT, "c", frozenset(), "sandbox", frozenset({GRANT, "4021937711"}))
    )
    assert len(by_name.user_ids or ()) == 10
    assert by_id.user_ids == frozenset({GRANT, "4021937711"})
    assert store.visibility(viewer(live=True)).user_ids is None


def test_load_replaces_content(store: Store) -> None:
    from igflow.sandbox.dataset import read_dataset

    store.like(1667121369441597934, "4021937711")
    store.load(read_dataset(None))
    assert len(store.likers(store.visibility(None), 1667121369441597934)) == 1

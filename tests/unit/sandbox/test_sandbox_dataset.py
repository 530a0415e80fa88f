"""Dataset files and the generator."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from igflow.sandbox import ids
from igflow.sandbox.dataset import generate_dataset, read_dataset
from igflow.sandbox.db import Database
from igflow.sandbox.store import Store


def test_default_dataset_has_the_clients_section() -> None:
    clients = {c["name"]: c for c in read_dataset(None)["clients"]}
    assert set(clients) == {"default", "live", "signed"}
    assert clients["default"]["mode"] == "sandbox" and clients["live"]["mode"] == "live"
    assert len(clients["default"]["sandbox_users"]) == 10
    assert clients["signed"]["signed"] is True and clients["signed"]["implicit"] is False
    for client in clients.values():
        assert len(client["client_id"]) == 32 and len(client["client_secret"]) == 32
        assert client["redirect_uris"] == ["http://localhost"]


def test_read_dataset_returns_a_fresh_copy() -> None:
    first = read_dataset(None)
    first["users"].clear()
    assert read_dataset(None)["users"]


def test_shortcodes_and_pks_follow_instagram_formats() -> None:
    assert ids.shortcode_from_pk(1667121369441597934) == "Bcizg1_B3nu"
    assert ids.pk_from_shortcode("Bcizg1_B3nu") == 1667121369441597934
    assert (1667121369441597934 >> 23) + ids.ID_EPOCH_MS == 1512956375767


def test_invalid_files_report_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "users:\n  - {id: abc, username: x}\n  - {id: '2', username: X}\n"
        "media:\n  - {owner: nobody, created_time: soon, type: reel, id: 1_2}\n"
        "follows: {x: [ghost]}\nextra: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as info:
        read_dataset(str(bad))
    text = str(info.value)
    assert str(bad) in text
    for fragment in (
        "users[0]: 'id' must be a decimal",
        "duplicate username X",
        "media[0].owner: unknown user 'nobody'",
        "'created_time' must be an integer",
        "'type' must be one of",
        "'id' must be a quoted string",
        "follows.x: unknown user 'ghost'",
        "extra: unknown section",
    ):
        assert fragment in text


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        read_dataset(str(tmp_path / "missing.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        read_dataset(str(broken))


def test_generator_is_deterministic_and_sized() -> None:
    one = generate_dataset(50, 300, seed=7)
    assert one == generate_dataset(50, 300, seed=7)
    assert one != generate_dataset(50, 300, seed=8)
    assert len(one["users"]) == 50 and len(one["media"]) == 300
    assert one["clients"] == read_dataset(None)["clients"]
    assert "Bcizg1_B3nu" in {m.get("shortcode") for m in one["media"]}


def test_generated_20k_media_load_in_seconds() -> None:
    started = time.monotonic()
    data = generate_dataset(1000, 20_000)
    store = Store(Database(":memory:"))
    store.create_schema()
    store.load(data)
    assert time.monotonic() - started < 10
    grant = store.full_user("3657782666")
    assert grant["counts"]["follows"] >= 600
    vis = store.visibility(None)
    liked, _ = store.liked_page(vis, "3657782666", 1000, None)
    assert len(liked) > 300

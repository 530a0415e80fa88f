"""``igflow run --sandbox-data FILE``, the playbook's ``sandbox_data``, and dry runs that never
widen a grant (a permissions walkthrough rehearsed, then run for real on one served sandbox)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cli_helpers import run_cli

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
SEED = str(ROOT / "playbooks" / "seed_walkthrough.yml")
DATASET = """\
format: 1
users:
  - {id: "1001", username: ada, password: lovelace}
media:
  - {owner: ada, created_time: 1512956375, caption: "First post #hello"}
"""
ADA = """\
igflow: 1
steps:
  - authorize: {scopes: [basic], user: ada}
  - call: users.self
    extract: {name: $.data.username}
    assert: [name == "ada"]
  - call: users.media_recent_self
    extract: {captions: "$.data[*].caption.text"}
    assert: ['captions == ["First post #hello"]']
"""


@pytest.fixture
def fixture_dir(tmp_path: Path) -> Path:
    (tmp_path / "data.yaml").write_text(DATASET)
    (tmp_path / "ada.yml").write_text(ADA)
    return tmp_path


def test_sandbox_data_on_the_command_line(fixture_dir: Path) -> None:
    playbook = str(fixture_dir / "ada.yml")
    code, out, err = run_cli("run", playbook, "--sandbox-data", str(fixture_dir / "data.yaml"))
    assert code == 0 and "ok: 3 passed" in out, out + err
    # Without it, the default dataset: there is no ada.
    code, out, err = run_cli("run", playbook)
    assert code != 0 and "no demo password is known for sandbox user 'ada'" in out + err


def test_a_playbook_carries_its_fixture_and_the_option_overrides_it(fixture_dir: Path) -> None:
    (fixture_dir / "fixtures").mkdir()
    (fixture_dir / "fixtures" / "ada.yaml").write_text(DATASET)
    playbook = fixture_dir / "carried.yml"
    playbook.write_text("sandbox_data: fixtures/ada.yaml\n" + ADA)
    code, out, err = run_cli("run", str(playbook))  # relative to the playbook, not the cwd
    assert code == 0 and "ok: 3 passed" in out, out + err
    other = fixture_dir / "other.yaml"
    other.write_text(DATASET.replace("First post", "Second post"))
    code, out, err = run_cli("run", str(playbook), "--sandbox-data", str(other))
    assert code == 1 and "assertion failed" in err, out + err
    code, out, err = run_cli("check", str(playbook))
    assert code == 0, out + err


def test_each_run_starts_from_the_dataset_afresh(fixture_dir: Path) -> None:
    playbook = fixture_dir / "like.yml"
    playbook.write_text(
        textwrap.dedent(
            """\
            igflow: 1
            steps:
              - authorize: {scopes: [basic, likes], user: ada}
              - call: users.media_recent_self
                extract: {media_id: "$.data[0].id"}
              - call: likes.create
                with: {media_id: "{{ media_id }}"}
              - call: media.get
                with: {media_id: "{{ media_id }}"}
                extract: {likes: $.data.likes.count}
                assert: [likes == 1]
            """
        )
    )
    for _ in range(2):  # the second run sees no like of the first
        code, out, err = run_cli(
            "run", str(playbook), "--sandbox-data", str(fixture_dir / "data.yaml")
        )
        assert code == 0, out + err


def test_bad_sandbox_data_is_one_clear_usage_error(fixture_dir: Path, tmp_path: Path) -> None:
    playbook = str(fixture_dir / "ada.yml")
    code, _, err = run_cli("run", playbook, "--sandbox-data", str(tmp_path / "missing.yaml"))
    assert code == 2 and err.strip().endswith(
        "--sandbox-data: no such dataset file: " + str(tmp_path / "missing.yaml")
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: 1\nusers: [{username: 3}]\n")
    code, _, err = run_cli("run", playbook, "--sandbox-data", str(bad))
    assert code == 2 and "invalid sandbox dataset" in err and "Traceback" not in err
    code, _, err = run_cli(
        "run", playbook, "--sandbox-data", str(bad), "--target", "http://127.0.0.1:9"
    )
    assert code == 2 and "--sandbox-data loads the built-in sandbox" in err
    carried = tmp_path / "carried.yml"
    carried.write_text("sandbox_data: nowhere.yaml\n" + ADA)
    code, _, err = run_cli("run", str(carried))
    assert code == 2 and "sandbox_data: no such dataset file" in err
    carried.write_text("sandbox_data: 3\n" + ADA)
    code, out, err = run_cli("check", str(carried))
    assert code == 2 and "sandbox_data" in out + err


# ---- dry runs and grants --------------------------------------------------------------------
@pytest.fixture
def served() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig()) as running:
        yield running


def _scopes(url: str, user: str = "grantwinney") -> list[list[str]]:
    grants = requests.get(url + "/_sandbox/grants", params={"user": user}, timeout=5).json()
    return [grant["scopes"] for grant in grants]


def test_a_dry_run_of_the_seed_then_the_real_run_on_one_served_sandbox(
    served: RunningSandbox,
) -> None:
    code, out, err = run_cli("run", SEED, "--target", served.url, "--dry-run")
    assert code == 0, out + err
    # The rehearsal asked for what the reads need (media of others needs public_content),
    # never for likes: the real run still meets the permissions error it expects.
    assert _scopes(served.url) == [["basic", "public_content"]]
    code, out, err = run_cli("run", SEED, "--target", served.url)
    assert code == 0 and "ok: 8 passed, 1 expected error" in out, out + err
    assert _scopes(served.url) == [
        ["basic", "comments", "follower_list", "likes", "public_content", "relationships"]
    ]


PERMISSIONS = """\
igflow: 1
name: A permissions walkthrough
steps:
  - authorize: {scopes: [basic], user: grantwinney}
  - call: media.shortcode
    with: {shortcode: Bcizg1_B3nu}
    extract: {media_id: $.data.id}
  - name: Unliking without the likes scope is refused
    call: likes.delete
    with: {media_id: "{{ media_id }}"}
    expect_error: OAuthPermissionsException
  - authorize: {scopes: [basic, public_content, likes], user: grantwinney}
  - call: likes.delete
    with: {media_id: "{{ media_id }}"}
  - call: likes.create
    with: {media_id: "{{ media_id }}"}
"""


def test_a_permissions_walkthrough_rehearsed_run_and_run_again_after_a_revoke(
    served: RunningSandbox, tmp_path: Path
) -> None:
    playbook = tmp_path / "permissions.yml"
    playbook.write_text(PERMISSIONS)
    code, out, err = run_cli("run", str(playbook), "--target", served.url, "--dry-run")
    assert code == 0, out + err
    assert "likes" not in _scopes(served.url)[0]
    code, out, err = run_cli("run", str(playbook), "--target", served.url)
    assert code == 0 and "1 expected error" in out, out + err
    # Run again as it is: the grant now holds likes, so the expected error does not come.
    code, out, err = run_cli("run", str(playbook), "--target", served.url)
    assert code == 1 and "expected OAuthPermissionsException, but likes.delete succeeded" in err
    # Revoking the grant makes the walkthrough repeatable.
    code, out, err = run_cli(
        "sandbox",
        "grants",
        "revoke",
        "--url",
        served.url,
        "--user",
        "grantwinney",
        "--client",
        "default",
    )
    assert code == 0, err
    code, out, err = run_cli("run", str(playbook), "--target", served.url)
    assert code == 0 and "1 expected error" in out, out + err

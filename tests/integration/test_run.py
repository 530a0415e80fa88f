"""`igflow run` end to end: the real CLI against the real sandbox over loopback HTTP."""

from __future__ import annotations

import re
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
SEED = str(ROOT / "playbooks" / "seed_walkthrough.yml")
V1_TOKEN = re.compile(r"\d+\.[0-9a-f]{7}\.[0-9a-f]{32}")


def write_playbook(tmp_path: Path, body: str, name: str = "play.yml") -> str:
    path = tmp_path / name
    path.write_text("igflow: 1\n" + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def test_seed_walkthrough_runs_green() -> None:
    code, out, err = run_cli("run", SEED)
    assert code == 0, out + err
    assert re.search(r"XERR\s+6/9\s+Unliking without the likes scope is refused", out)
    assert "(expected OAuthPermissionsException)" in out
    assert "Someone liked my photo! Oh. It's me. (grantwinney)" in out
    assert out.rstrip().splitlines()[-1].startswith("ok: 8 passed, 1 expected error")


def test_each_run_gets_a_fresh_sandbox() -> None:
    # The walkthrough unlikes the photo; a second run must see the like again.
    assert run_cli("run", SEED)[0] == 0
    assert run_cli("run", SEED)[0] == 0


def test_verbose_shows_exchanges_with_tokens_redacted() -> None:
    code, out, err = run_cli("run", SEED, "-v")
    assert code == 0, err
    assert "> GET http://127.0.0.1:" in out
    assert "access_token=***" in out
    assert not V1_TOKEN.search(out + err)


def test_quiet_prints_only_the_summary() -> None:
    code, out, _ = run_cli("run", SEED, "-q")
    assert code == 0
    assert out.strip().splitlines() == [out.strip().splitlines()[-1]]
    assert out.startswith("ok: ")


def test_colour_only_when_asked_and_never_with_no_color() -> None:
    _, plain, _ = run_cli("run", SEED)
    assert "\033[" not in plain
    _, coloured, _ = run_cli("run", SEED, "--color", "always")
    assert "\033[32" in coloured


def test_assertion_failure_shows_expression_location_and_values(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: media.shortcode
            with: {shortcode: Bcizg1_B3nu}
            extract:
              likes: $.data.likes.count
            assert:
              - likes == 2
        """,
    )
    code, out, err = run_cli("run", path)
    assert code == 1
    assert f"{path}:9:" in err
    assert "assertion failed: likes == 2" in err
    assert "likes = 1" in err
    assert "FAIL" in out


def test_api_error_halts_with_its_type_and_line(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: media.shortcode
            with: {shortcode: NoSuchCode}
          - log: never reached
        """,
    )
    code, out, err = run_cli("run", path)
    assert code == 3
    assert f"{path}:4:" in err
    assert "APINotFoundError: invalid media id" in err
    assert "1 not run" in out


def test_expected_error_that_does_not_happen_fails(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: users.self
            expect_error: NotFoundError
        """,
    )
    code, _, err = run_cli("run", path)
    assert code == 1
    assert "expected NotFoundError, but users.self succeeded" in err


def test_wrong_password_is_an_authentication_error(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney, password: wrong-password}
        """,
    )
    code, _, err = run_cli("run", path)
    assert code == 5
    assert "wrong-password" not in err
    assert "Traceback" not in err


def test_unreachable_target_is_a_transport_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write_playbook(
        tmp_path,
        """\
        env: [IG_TOKEN]
        steps:
          - authorize: {scopes: [basic], token: "{{ env.IG_TOKEN }}"}
          - call: users.self
        """,
    )
    code, _, err = run_cli(
        "run",
        path,
        "--target",
        f"http://127.0.0.1:{port}",
        environ={"IG_TOKEN": "123.abcdef0.0123456789abcdef0123456789abcdef"},
    )
    assert code == 4
    assert "0123456789abcdef0123456789abcdef" not in err
    assert "Traceback" not in err


def test_set_when_log_and_steps_namespace(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars:
          wanted: 1
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - id: media
            call: media.shortcode
            with: {shortcode: Bcizg1_B3nu}
            extract:
              likes: $.data.likes.count
          - set:
              doubled: likes * 2
              status: steps.media.status
          - log: "likes={{ likes }} doubled={{ doubled }} status={{ status }}"
          - name: Skipped when the count matches
            when: likes != wanted
            log: not printed
          - assert:
              - doubled == 2
              - steps.media.response.data.user.username == "grantwinney"
        """,
    )
    code, out, err = run_cli("run", path)
    assert code == 0, out + err
    assert "likes=1 doubled=2 status=ok" in out
    assert "SKIP" in out and "not printed" not in out


def test_on_error_continue_reports_and_goes_on(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: media.shortcode
            with: {shortcode: NoSuchCode}
            on_error: continue
          - log: still running
        """,
    )
    code, out, _ = run_cli("run", path)
    assert code == 0
    assert "IGNR" in out and "APINotFoundError" in out
    assert "still running" in out


def test_secrets_are_redacted_in_logs(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars:
          api_key: s3cr3t-value-123
        secrets: [api_key]
        steps:
          - log: "the key is {{ api_key }}"
        """,
    )
    code, out, _ = run_cli("run", path)
    assert code == 0
    assert "s3cr3t-value-123" not in out
    assert "the key is ***" in out


def test_var_overrides_playbook_vars(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        env: [{name: WHO, public: true}]
        vars:
          greeting: hello
        steps:
          - log: "{{ greeting }} {{ env.WHO }}"
        """,
    )
    code, out, _ = run_cli("run", path, "--var", "greeting=bonjour", environ={"WHO": "world"})
    assert code == 0
    assert "bonjour world" in out


@pytest.fixture
def served_sandbox() -> Iterator[str]:
    from igflow.sandbox.config import SandboxConfig
    from igflow.sandbox.server import start_sandbox

    with start_sandbox(SandboxConfig()) as running:
        yield running.url


def test_run_against_a_served_sandbox_keeps_state(served_sandbox: str) -> None:
    code, out, err = run_cli("run", SEED, "--target", served_sandbox)
    assert code == 0, out + err
    # The first run removed the like; the same sandbox now reports 0 likes, so the
    # walkthrough's `likes == 1` assertion fails on a second run against it.
    code, _, err = run_cli("run", SEED, "--target", served_sandbox)
    assert code == 1
    assert "likes = 0" in err


def test_traceback_only_when_asked(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney}
          - call: media.get
            with: {media_id: "0_0"}
        """,
    )
    code, _, err = run_cli("run", path)
    assert code == 3 and "Traceback" not in err
    code, _, err = run_cli("run", path, "--traceback")
    assert code == 3
    assert "Traceback (most recent call last)" in err
    assert "APINotFoundError" in err
    assert not V1_TOKEN.search(err)


@pytest.mark.parametrize("path", sorted((ROOT / "playbooks").glob("*.yml")), ids=lambda p: p.name)
def test_every_example_playbook_runs_green_against_the_sandbox(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Exports (export_media.yml) go where the playbook says, relative to the working directory.
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("run", str(path))
    assert code == 0, out + err
    assert out.rstrip().splitlines()[-1].startswith("ok: ")

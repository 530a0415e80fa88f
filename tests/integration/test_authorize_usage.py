"""`authorize` as new users write it (issue 12): `client` is a template like `user`, and an
unknown sandbox user gets a did-you-mean."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cli_helpers import run_cli


def write_playbook(tmp_path: Path, body: str) -> str:
    path = tmp_path / "play.yml"
    path.write_text("igflow: 1\n" + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def test_client_is_a_template_rendered_at_run_time(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars: {app: signed}
        steps:
          - authorize: {scopes: [basic], user: grantwinney, client: "{{ app }}"}
          - call: users.self
        """,
    )
    code, out, err = run_cli("run", path, "-v")
    assert code == 0, out + err
    assert "(client signed)" in out
    assert "sig=" in out  # the signed client's calls carry a signature


def test_check_reads_the_names_in_client(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        steps:
          - authorize: {scopes: [basic], user: grantwinney, client: "{{ nowhere }}"}
          - authorize: {scopes: [basic], user: grantwinney, client: "{{ 1 + }}"}
        """,
    )
    code, _, err = run_cli("check", path)
    assert code == 2
    assert "play.yml:3:" in err and "'nowhere' is not defined" in err
    assert "play.yml:4:" in err and "invalid template" in err


def test_a_client_that_renders_to_no_known_client_names_the_known_ones(tmp_path: Path) -> None:
    path = write_playbook(
        tmp_path,
        """\
        vars: {app: nosuch}
        steps:
          - authorize: {scopes: [basic], user: grantwinney, client: "{{ app }}"}
        """,
    )
    code, out, err = run_cli("run", path)
    assert code == 5, out + err
    assert "no client named 'nosuch'" in out + err and "signed" in out + err


def test_an_unknown_sandbox_user_gets_a_did_you_mean(tmp_path: Path) -> None:
    path = write_playbook(tmp_path, "steps:\n  - authorize: {scopes: [basic], user: grantwiney}\n")
    code, out, err = run_cli("run", path)
    assert code == 5, out + err
    assert "sandbox user 'grantwiney'" in out + err
    assert "did you mean 'grantwinney'?" in out + err

"""Conventions a new user expects: check DIR, -V, FORCE_COLOR / TERM=dumb, IGFLOW_* overrides,
and did-you-mean for Jinja filters and tests (issue 12's, checked here too)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

from igflow import __version__
from igflow.environment import Environment
from igflow.testing.served import serve_sandbox

ROOT = Path(__file__).resolve().parents[2]

GOOD = "igflow: 1\nsteps:\n  - log: hello\n"
SEED = """\
igflow: 1
name: env overrides
steps:
  - authorize: {scopes: [basic], user: grantwinney}
  - call: media.shortcode
    with: {shortcode: "{{ shortcode }}"}
  - log: "code {{ shortcode }}"
"""


def test_check_dir_finds_playbooks_recursively(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "one.igflow.yml").write_text(GOOD)
    (tmp_path / "a" / "two.yml").write_text("# a comment first\n" + GOOD)
    (tmp_path / "a" / "b" / "broken.yaml").write_text("igflow: 1\nsteps:\n  - call: likes.delte\n")
    (tmp_path / "a" / "vars.yml").write_text("shortcode: x\n")  # not a playbook
    (tmp_path / ".hidden" / "three.igflow.yml").write_text(GOOD)
    code, out, err = run_cli("check", str(tmp_path))
    assert code == 2
    # A directory's own files first, then its subdirectories, each in name order.
    assert out.splitlines() == [
        f"{tmp_path}/one.igflow.yml: ok (1 step)",
        f"{tmp_path}/a/two.yml: ok (1 step)",
    ]
    assert f"{tmp_path}/a/b/broken.yaml:3:11: unknown endpoint 'likes.delte'" in err
    assert "vars.yml" not in out + err and "three" not in out + err


def test_check_an_empty_dir_says_so(tmp_path: Path) -> None:
    (tmp_path / "notes.yml").write_text("a: 1\n")
    code, out, err = run_cli("check", str(tmp_path))
    assert code == 2 and out == ""
    assert err == (
        f"igflow: error: {tmp_path}: no playbooks in this directory (*.igflow.yml, or YAML "
        "files that start with `igflow: 1`)\n"
    )


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flags(flag: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "igflow", flag], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout) == (0, f"igflow {__version__}\n")
    assert run_cli(flag)[:2] == (0, f"igflow {__version__}\n")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("environ", "tty", "color", "live"),
    [
        ({}, False, False, False),
        ({}, True, True, True),
        ({"FORCE_COLOR": "1"}, False, True, False),
        ({"FORCE_COLOR": ""}, False, False, False),  # set but empty: not forced
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False, True),  # NO_COLOR wins
        ({"TERM": "dumb"}, True, False, False),
        ({"TERM": "dumb", "FORCE_COLOR": "1"}, True, True, False),
    ],
)
def test_color_and_live_progress(
    environ: dict[str, str], tty: bool, color: bool, live: bool
) -> None:
    stream = _Tty() if tty else io.StringIO()
    env = Environment(stdout=stream, environ=environ)
    assert env.color(stream) is color
    assert env.live(stream) is live
    assert env.color(stream, "never") is False and env.color(stream, "always") is True


def test_force_color_colours_a_piped_run(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yml"
    playbook.write_text(GOOD)
    assert "\033[" not in run_cli("run", str(playbook))[1]
    assert "\033[" in run_cli("run", str(playbook), environ={"FORCE_COLOR": "1"})[1]


def test_igflow_target_var_and_secret_from_the_environment(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yml"
    playbook.write_text(SEED)
    with serve_sandbox() as sandbox:
        environ = {"IGFLOW_TARGET": sandbox.url, "IGFLOW_SECRET_shortcode": "Bcizg1_B3nu"}
        code, out, err = run_cli("run", str(playbook), environ=environ)
        assert (code, err) == (0, "")
        assert [r["endpoint"] for r in sandbox.requests()][-1] == "media.shortcode"
        assert "Bcizg1_B3nu" not in out  # a secret from IGFLOW_SECRET_ is redacted
        # --target and --var win over the environment.
        code, out, _ = run_cli(
            "run",
            str(playbook),
            "--target",
            "sandbox",
            "--var",
            "shortcode=Bcizg1_B3nu",
            environ={"IGFLOW_TARGET": "http://127.0.0.1:9", "IGFLOW_VAR_shortcode": "nope"},
        )
        assert code == 0 and "code Bcizg1_B3nu" in out
    code, _, err = run_cli("check", str(playbook), environ={"IGFLOW_VAR_shortcode": "x"})
    assert code == 0, err  # check knows the name is defined


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"IGFLOW_VAR_1x": "a"}, "IGFLOW_VAR_1x: '1x' is not a variable name"),
        ({"IGFLOW_VAR_env": "a"}, "IGFLOW_VAR_env: 'env' is a reserved name"),
        (
            {"IGFLOW_VAR_x": "a", "IGFLOW_SECRET_x": "b"},
            "IGFLOW_VAR_x and IGFLOW_SECRET_x are both set",
        ),
    ],
)
def test_bad_environment_overrides(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    playbook = tmp_path / "p.yml"
    playbook.write_text(GOOD)
    code, _, err = run_cli("run", str(playbook), environ=environ)
    assert code == 2 and message in err and "Traceback" not in err


def test_did_you_mean_for_jinja_filters_and_tests(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "igflow: 1\nvars:\n  xs: [1, 2]\nsteps:\n"
        "  - log: \"{{ xs | joni(',') }}\"\n  - assert: xs is itterable\n"
    )
    code, _, err = run_cli("check", str(playbook))
    assert code == 2
    assert "unknown filter 'joni'; did you mean 'join'?" in err
    assert "unknown test 'itterable'; did you mean 'iterable'?" in err

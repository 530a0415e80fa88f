"""`env` through the real CLI: declared names only, secrets from the environment never shown.

`igflow check` refuses an undeclared `env.NAME` and `env` as a whole before anything runs; a
declared variable that is not set ends the run with one message; and a secret read from the
environment is redacted in every artefact of a run against a served sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import start_sandbox

SECRET = "n0te-8f2c41d7e9b3a6f0-from-env"
PUBLIC = "public-label-42"
# Set in the environment but not declared: must never be read, let alone shown.
UNDECLARED = "undeclared-9a7b5c3d1e"
ENVIRON = {"IG_NOTE": SECRET, "IG_LABEL": PUBLIC, "HOME": UNDECLARED}


def write(tmp_path: Path, text: str, name: str = "play.yml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_reports_an_undeclared_variable_with_position_and_hint(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'igflow: 1\nenv: [IG_NOTE]\nsteps:\n  - log: "home is {{ env.HOME }}"\n',
    )
    code, out, err = run_cli("check", path, environ=ENVIRON)
    assert code == 2
    assert out == ""
    assert err.splitlines()[0] == (
        f"{path}:4:22: environment variable HOME is not declared (declare it: env: [HOME])"
    )
    assert err.splitlines()[-1] == f"igflow: {path}: 1 problem found"


def test_check_refuses_env_as_a_whole(tmp_path: Path) -> None:
    path = write(tmp_path, 'igflow: 1\nsteps:\n  - log: "{{ env }}"\n')
    code, _, err = run_cli("check", path, environ=ENVIRON)
    assert code == 2
    assert err.startswith(f"{path}:3:14: `env` cannot be used as a whole")
    assert UNDECLARED not in err


def test_run_of_an_undeclared_variable_stops_before_any_step(tmp_path: Path) -> None:
    path = write(tmp_path, 'igflow: 1\nsteps:\n  - log: "{{ env.HOME }}"\n')
    code, out, err = run_cli("run", path, environ=ENVIRON)
    assert code == 2
    assert "declare it: env: [HOME]" in err
    assert UNDECLARED not in out + err
    assert "Traceback" not in err


def test_a_declared_variable_that_is_not_set_ends_with_one_message(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "igflow: 1\nenv: [IG_TOKEN]\ntarget: https://api.instagram.com\nsteps:\n"
        '  - authorize: {scopes: [basic], token: "{{ env.IG_TOKEN }}"}\n'
        "  - call: users.self\n",
    )
    code, _, err = run_cli("run", path, environ={})
    assert code == 2
    assert err.count("environment variable IG_TOKEN is not set") == 1
    assert "Traceback" not in err


@pytest.fixture
def served() -> Iterator[str]:
    with start_sandbox(SandboxConfig(rate_limits="off")) as running:
        yield running.url


PLAYBOOK = """\
igflow: 1
name: env secrets stay secret
env: [IG_NOTE, {name: IG_LABEL, public: true}]
vars:
  note: "{{ env.IG_NOTE }}"
steps:
  - authorize: {user: grantwinney, scopes: [basic, public_content, comments]}
  - call: users.media_recent_self
    with: {count: 1}
    extract: {media_id: "$.data[0].id"}
  - log: "label {{ env.IG_LABEL }}, note {{ env.IG_NOTE }}"
  - call: tags.search
    with: {q: "{{ env.IG_NOTE }}"}
  - call: comments.create
    with: {media_id: "{{ media_id }}", text: "{{ note }}"}
  - write: {path: "EXPORT", value: "{{ {'note': note, 'label': env.IG_LABEL} }}", format: json}
  - set: {when_noted: "env.IG_NOTE | from_epoch"}
    on_error: continue
  - assert: env.IG_NOTE == "something else"
"""


def test_a_secret_from_the_environment_appears_in_no_artefact(served: str, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    path = write(tmp_path, PLAYBOOK.replace("EXPORT", export.name))  # under the playbook's dir
    artefacts = {
        "json report": tmp_path / "report.json",
        "junit report": tmp_path / "report.xml",
        "journal": tmp_path / "journal.jsonl",
        "export": export,
    }
    code, out, err = run_cli(
        "run",
        path,
        "--target",
        served,
        "-v",
        "--report",
        f"json:{artefacts['json report']}",
        "--report",
        f"junit:{artefacts['junit report']}",
        "--journal",
        str(artefacts["journal"]),
        environ=ENVIRON,
    )
    assert code == 1, out + err  # the final assertion fails, on purpose
    texts = {"stdout": out, "stderr": err}
    for name, artefact in artefacts.items():
        assert artefact.exists(), f"no {name} was written"
        texts[name] = artefact.read_text(encoding="utf-8")
    for name, text in texts.items():
        assert SECRET not in text, f"the secret appears in the {name}"
        assert UNDECLARED not in text, f"an undeclared variable appears in the {name}"
    # The secret really went through every path: masked where it was, the public value shown.
    assert f"label {PUBLIC}, note ***" in out
    assert "from_epoch: '***' is not an epoch timestamp" in out + err
    assert "assertion failed: env.IG_NOTE" in err
    assert json.loads(texts["export"]) == {"note": "***", "label": PUBLIC}
    report = json.loads(texts["json report"])
    assert PUBLIC in texts["json report"] and report

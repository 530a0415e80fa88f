"""A playbook's own ``sandbox_data`` is checked (exists, a regular file) at its file:line:col and
confined to the playbook's directory tree; ``--sandbox-data FILE`` from the user may be anywhere.

Before this, `check` said ok for a missing dataset or a directory, and a playbook could make the
run read (and the sandbox quote, in its validation messages) ../../etc/passwd, an absolute path
or a link leading out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import run_cli

DATASET = """\
format: 1
users:
  - {id: "1001", username: ada, password: lovelace}
"""
# What a stranger's file outside the tree would show if it were read: the sandbox quotes a
# dataset's bad values in its messages.
OUTSIDE = "format: 1\nusers:\n  - {username: 3, full_name: TOP-SECRET-VALUE}\n"
PLAY = "igflow: 1\nsandbox_data: {value}\nsteps:\n  - authorize: {{scopes: [basic], user: ada}}\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "outside.yaml").write_text(OUTSIDE)
    (tmp_path / "pb" / "fx").mkdir(parents=True)
    (tmp_path / "pb" / "fx" / "data.yaml").write_text(DATASET)
    os.symlink("data.yaml", tmp_path / "pb" / "fx" / "in.yaml")
    os.symlink("../../outside.yaml", tmp_path / "pb" / "fx" / "out.yaml")
    os.mkfifo(tmp_path / "pb" / "fx" / "fifo.yaml")
    return tmp_path


def play(tree: Path, value: str) -> str:
    path = tree / "pb" / "play.yml"
    path.write_text(PLAY.format(value=value))
    return str(path)


@pytest.mark.parametrize("value", ["fx/data.yaml", "fx/in.yaml", "fx/../fx/data.yaml"])
def test_a_dataset_in_the_tree_checks_and_runs(tree: Path, value: str) -> None:
    path = play(tree, value)
    assert run_cli("check", path)[0] == 0
    code, out, err = run_cli("run", path)
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nowhere.yaml", "sandbox_data: no such dataset file: {pb}/nowhere.yaml"),
        ("fx", "sandbox_data: {pb}/fx is a directory, not a dataset file"),
        ("fx/fifo.yaml", "sandbox_data: {pb}/fx/fifo.yaml is a FIFO (named pipe), not a dataset"),
        (
            "../outside.yaml",
            "sandbox_data: '../outside.yaml' leads outside the playbook's directory",
        ),
        (
            "{tree}/outside.yaml",
            "sandbox_data: '{tree}/outside.yaml' is an absolute path: sandbox_data is relative "
            "to the playbook's directory",
        ),
        (
            "fx/out.yaml",
            "sandbox_data: 'fx/out.yaml' leads outside the playbook's directory "
            "through a symbolic link",
        ),
    ],
)
@pytest.mark.parametrize("command", ["check", "run"])
def test_a_bad_dataset_is_refused_at_its_line(
    tree: Path, value: str, message: str, command: str
) -> None:
    path = play(tree, value.format(tree=tree))
    code, out, err = run_cli(command, path)
    assert code == 2
    assert f"{path}:2:15: " + message.format(pb=tree / "pb", tree=tree) in err, err
    assert "TOP-SECRET-VALUE" not in out + err and "Traceback" not in err


def test_the_command_line_dataset_may_be_anywhere_but_must_be_a_file(tree: Path) -> None:
    path = play(tree, "fx/data.yaml")
    code, out, err = run_cli("run", path, "--sandbox-data", str(tree / "pb" / "fx" / "data.yaml"))
    assert code == 0, out + err
    # Outside the tree is fine when the user names it; the sandbox reads it (and says what is
    # wrong with it, quoting it: the user's own file).
    code, _, err = run_cli("run", path, "--sandbox-data", str(tree / "outside.yaml"))
    assert code == 2 and "invalid sandbox dataset" in err
    code, _, err = run_cli("run", path, "--sandbox-data", str(tree / "pb" / "fx" / "fifo.yaml"))
    assert code == 2
    assert err.strip().endswith("is a FIFO (named pipe), not a dataset file"), err

"""Malformed datasets, as a hostile tester wrote them: one usage error (exit 2) naming the file
and each problem's path in it, never an internal error (exit 70) or a raw Python message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
V1_PLAYBOOK = """\
igflow: 1
steps:
  - authorize: {scopes: [basic], user: ada}
  - call: users.self
"""
GRAPH_PLAYBOOK = """\
igflow: 1
api: instagram.graph
steps:
  - authorize: {user: mira.makes, scopes: [instagram_business_basic]}
  - call: me
"""
GRAPH_DATA = """\
accounts:
  - {{id: "17841400000000001", username: mira.makes, password: pw, account_type: Business}}
media:
  - {{id: "17900000000000001", owner: mira.makes, media_type: IMAGE, age_hours: {age}}}
"""


def _igflow(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "igflow", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _assert_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    for bad in ("Traceback", "internal error", "Error binding", "IntegrityError", "convert"):
        assert bad not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("user", "words"),
    [
        ("full_name: {first: Ada}", "users[0].full_name: must be text, not a mapping"),
        ("private: maybe", "users[0].private: must be true or false, not 'maybe'"),
        ("bio: [a, b]", "users[0].bio: must be text, not a list"),
    ],
)
def test_a_v1_dataset_with_a_mistyped_field(tmp_path: Path, user: str, words: str) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(f'format: 1\nusers:\n  - {{id: "1001", username: ada, {user}}}\n')
    playbook = tmp_path / "ada.yml"
    playbook.write_text(V1_PLAYBOOK)
    result = _igflow("run", str(playbook), "--sandbox-data", str(data))
    _assert_usage_error(result, str(data), words)


def test_v1_numbers_are_finite_and_bounded(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(
        'format: 1\nusers:\n  - {id: "1001", username: ada}\n'
        'locations:\n  - {id: "1", name: x, latitude: .nan, longitude: 500}\n'
        "media:\n  - {owner: ada, created_time: 100000000000000000000000}\n"
    )
    result = _igflow("sandbox", "serve", "--port", "0", "--data", str(data))
    _assert_usage_error(
        result,
        "locations[0].latitude: must be a finite number, not nan",
        "locations[0].longitude: must be between -180 and 180, not 500",
        "media[0].created_time: must be between 0 and",
    )


@pytest.mark.parametrize(
    ("age", "words"),
    [
        (".nan", "media[0].age_hours: must be a finite number, not nan"),
        (".inf", "media[0].age_hours: must be a finite number, not inf"),
        ("old", "media[0].age_hours: must be a number, not 'old'"),
        ("-5", "media[0].age_hours: must be between 0 and"),
    ],
)
def test_a_graph_dataset_with_a_bad_age(tmp_path: Path, age: str, words: str) -> None:
    data = tmp_path / "graph.yaml"
    data.write_text(GRAPH_DATA.format(age=age))
    playbook = tmp_path / "mira.yml"
    playbook.write_text(GRAPH_PLAYBOOK)
    served = _igflow("sandbox", "serve", "--api", "graph", "--port", "0", "--data", str(data))
    _assert_usage_error(served, str(data), words)
    run = _igflow("run", str(playbook), "--sandbox-data", str(data))
    _assert_usage_error(run, str(data), words)


def test_a_v1_dataset_given_to_the_graph_sandbox_is_named_as_such(tmp_path: Path) -> None:
    v1 = str(ROOT / "igflow" / "sandbox" / "data" / "default.yaml")
    result = _igflow("sandbox", "serve", "--api", "graph", "--port", "0", "--data", v1)
    _assert_usage_error(result, "this is a v1 sandbox dataset (it has users:, not accounts:)")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_graph_dataset_given_to_the_v1_sandbox_is_named_as_such(tmp_path: Path) -> None:
    graph = str(ROOT / "igflow" / "sandbox" / "data" / "graph_default.yaml")
    result = _igflow("sandbox", "serve", "--port", "0", "--data", graph)
    _assert_usage_error(result, "this is a Graph sandbox dataset (it has accounts:, not users:)")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_each_problem_has_its_line_and_column(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(
        'format: 1\nusers:\n  - id: "1001"\n    username: ada\n    full_name:\n'
        "      first: Ada\nmedia:\n  - {owner: ada, created_time: 1, likes: [bob]}\n"
    )
    result = _igflow("sandbox", "serve", "--port", "0", "--data", str(data))
    _assert_usage_error(result)
    assert result.stderr.splitlines()[1:] == [
        "  6:7: users[0].full_name: must be text, not a mapping",
        "  8:42: media[0].likes: unknown user 'bob' (refer to users by username)",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ("run", "{playbook}", "--sandbox-data", "{data}"),
        ("sandbox", "serve", "--port", "0", "--data", "{data}"),
        ("sandbox", "serve", "--api", "graph", "--port", "0", "--data", "{data}"),
    ],
    ids=["run", "serve", "serve-graph"],
)
def test_a_deeply_nested_dataset_is_a_usage_error(tmp_path: Path, argv: tuple[str, ...]) -> None:
    # pure-Python YAML composing (and the checkers) recursed once a level: a RecursionError
    data = tmp_path / "deep.yml"
    data.write_text("users: " + "[" * 600 + "]" * 600 + "\n")
    playbook = tmp_path / "ada.yml"
    playbook.write_text(V1_PLAYBOOK)
    result = _igflow(*(a.format(playbook=playbook, data=data) for a in argv))
    _assert_usage_error(result, f"{data}:1:", "nests deeper than 64 levels")
    assert "RecursionError" not in result.stderr


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            "accounts:\n"
            '  - {id: "17841400000000101", username: a, password: p, account_type: Business}\n'
            '  - {id: "17841400000000101", username: b, password: p, account_type: Business}\n',
            "3:10: accounts[1].id: duplicate account id '17841400000000101'",
        ),
        (
            'accounts:\n  - {id: "1", username: a, password: p, account_type: Business}\n'
            '  - {id: "2", username: a, password: p, account_type: Business}\n',
            "accounts[1].username: duplicate username 'a'",
        ),
        (
            'accounts:\n  - {id: "1", username: a, password: p, account_type: Business}\n'
            "media:\n"
            '  - {id: "9", owner: a, media_type: IMAGE}\n'
            '  - {id: "8", owner: a, media_type: CAROUSEL_ALBUM, children: [{id: "9"}]}\n',
            "media[1].children[0].id: duplicate media id '9'",
        ),
        (
            'accounts:\n  - {id: "1", username: a, password: p, account_type: Business}\n'
            'media:\n  - {id: "9", owner: a, media_type: IMAGE}\n'
            'comments:\n  - {id: "5", media: "9", by: x, text: hi}\n'
            '  - {id: "5", media: "9", by: y, text: ho}\n',
            "comments[1].id: duplicate comment id '5'",
        ),
        (
            'accounts:\n  - {id: "1", username: a, password: p, account_type: Business}\n'
            'apps:\n  - {client_id: "7", client_secret: s, name: one}\n'
            '  - {client_id: "7", client_secret: t, name: two}\n',
            "apps[1].client_id: duplicate client_id '7'",
        ),
        (
            'accounts:\n  - {id: "1", username: a, password: p, account_type: Business}\n'
            'apps:\n  - {client_id: "7", client_secret: s, name: "bad\\x07name"}\n',
            "apps[0].name: a client name must not contain control characters",
        ),
    ],
    ids=["account-id", "username", "media-id", "comment-id", "client-id", "app-name"],
)
def test_a_graph_dataset_with_a_duplicate_or_bad_key(tmp_path: Path, data: str, words: str) -> None:
    # each was an IntegrityError (exit 70) when loaded, or (a control character) accepted
    path = tmp_path / "graph.yml"
    path.write_text(data)
    result = _igflow("sandbox", "serve", "--api", "graph", "--port", "0", "--data", str(path))
    _assert_usage_error(result, str(path), words)


def _special(tmp_path: Path, kind: str) -> str:
    if kind == "device":
        return "/dev/zero"
    if kind == "fifo":
        fifo = tmp_path / "data.fifo"
        os.mkfifo(fifo)
        return str(fifo)
    return str(tmp_path)


@pytest.mark.parametrize("api", ["v1", "graph"])
@pytest.mark.parametrize(
    ("kind", "words"),
    [("device", "a character device"), ("fifo", "a FIFO"), ("dir", "a directory")],
)
def test_serve_names_the_kind_of_a_dataset_that_is_not_a_file(
    tmp_path: Path, api: str, kind: str, words: str
) -> None:
    # was "no such dataset file", while `run --sandbox-data` named the kind
    path = _special(tmp_path, kind)
    result = _igflow("sandbox", "serve", "--api", api, "--port", "0", "--data", path)
    _assert_usage_error(result, f"--data: {path} is {words}", "not a dataset file")
    assert "no such" not in result.stderr


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_reading_a_dataset_that_is_not_a_file_never_reads_it(tmp_path: Path, kind: str) -> None:
    from igflow.sandbox import dataset
    from igflow.sandbox.graph import dataset as graph_dataset

    path = _special(tmp_path, kind)
    for reader in (dataset.read_dataset, graph_dataset.read_dataset):
        with pytest.raises(ValueError, match="not a regular file"):
            reader(path)  # a FIFO without a writer would hang open(); /dev/zero never end

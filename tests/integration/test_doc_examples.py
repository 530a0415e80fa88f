"""The examples the docs mark with ``<!-- example: NAME -->`` run, and say what the docs say.

Each marked block is the fenced block right after the marker; ``<!-- example-output: NAME -->``
marks the output the docs show for it, compared with a real run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "language.md", ROOT / "docs" / "sandbox-data.md"]
_MARKED = re.compile(r"<!-- (example|example-output): ([\w-]+) -->\n```[\w]*\n(.*?)```", re.S)


def blocks() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for doc in DOCS:
        for kind, name, body in _MARKED.findall(doc.read_text(encoding="utf-8")):
            assert (kind, name) not in found, f"{name} is marked twice"
            found[kind, name] = body
    return found


BLOCKS = blocks()


def example(tmp_path: Path, name: str, filename: str) -> Path:
    path = tmp_path / filename
    path.write_text(BLOCKS["example", name], encoding="utf-8")
    return path


def test_every_marked_example_is_tested_here() -> None:
    tested = {"assertion-demo", "tally", "snapshot-diff", "dataset-clients"}
    assert {name for kind, name in BLOCKS if kind == "example"} == tested


def test_the_assertion_sample_is_the_real_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example(tmp_path, "assertion-demo", "demo.yml")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("run", "demo.yml", "--color", "never")
    assert code == 1
    assert err == BLOCKS["example-output", "assertion-demo"]


def test_the_tally_idiom_counts_per_key(tmp_path: Path) -> None:
    path = example(tmp_path, "tally", "tally.yml")
    code, out, err = run_cli("run", str(path), "--color", "never")
    assert code == 0, out + err
    line = next(line for line in out.splitlines() if "comments per commenter: " in line)
    tally = json.loads(line.split("comments per commenter: ", 1)[1])
    assert tally["pixel_pete"] == 3 and sum(tally.values()) == 8


def test_the_snapshot_diff_idiom_reads_the_last_run_back(tmp_path: Path) -> None:
    path = example(tmp_path, "snapshot-diff", "followers.yml")
    code, out, err = run_cli("run", str(path), "--color", "never")
    assert code == 0, out + err
    assert "since the last run: 0 unfollowed me [], 0 new" in out
    snapshots = tmp_path / "snapshots"
    written = json.loads((snapshots / "followers.next.json").read_text())
    assert "maya.bakes" in written["previous"]
    # Between runs: the rename the docs show; here also someone who has since unfollowed.
    written["previous"].append("old_friend")
    (snapshots / "followers.json").write_text(json.dumps(written))
    (snapshots / "followers.next.json").unlink()
    code, out, err = run_cli(
        "run", str(path), "--vars-file", str(snapshots / "followers.json"), "--color", "never"
    )
    assert code == 0, out + err
    assert "since the last run: 1 unfollowed me ['old_friend'], 0 new" in out


def test_the_dataset_clients_example_serves_its_client(tmp_path: Path) -> None:
    from igflow.sandbox.config import SandboxConfig
    from igflow.sandbox.server import start_sandbox

    data = example(tmp_path, "dataset-clients", "data.yaml")
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "igflow: 1\nsteps:\n"
        "  - authorize: {scopes: [basic], user: ada, client: myapp}\n"
        "  - call: users.media_recent_self\n"
        "    extract: {captions: '$.data[*].caption.text'}\n"
        "    assert: [\"captions == ['First post #hello']\"]\n",
        encoding="utf-8",
    )
    with start_sandbox(SandboxConfig(data=str(data))) as running:
        code, out, err = run_cli("run", str(playbook), "--target", running.url)
    assert code == 0, out + err
    assert "(client myapp)" in out


def test_a_dataset_without_clients_gets_the_default_three(tmp_path: Path) -> None:
    import requests

    from igflow.sandbox.config import SandboxConfig
    from igflow.sandbox.server import start_sandbox

    text = BLOCKS["example", "dataset-clients"]
    data = tmp_path / "data.yaml"
    data.write_text(text[text.index("users:") :], encoding="utf-8")
    with start_sandbox(SandboxConfig(data=str(data))) as running:
        info = requests.get(running.url + "/_sandbox/info", timeout=10).json()
    clients = {client["name"]: client for client in info["clients"]}
    assert sorted(clients) == ["default", "live", "signed"]


def test_every_endpoint_the_docs_call_exists() -> None:
    """Issue 12: the pagination example called `users.self.media.liked` (the id is
    `users.media_liked`)."""
    from igflow.registry import load_registry

    endpoints = load_registry().endpoints
    called = {
        name
        for doc in [*DOCS, ROOT / "README.md", ROOT / "docs" / "safety.md"]
        if doc.exists()
        for name in re.findall(r"call: ([a-z][\w.]*)", doc.read_text(encoding="utf-8"))
    }
    assert called and sorted(called - set(endpoints)) == []

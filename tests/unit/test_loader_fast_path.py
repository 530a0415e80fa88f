"""libyaml's composer (the fast path) and the Python composer give the same document.

The fast path must be invisible: same data, same positions, same duplicate-key issues, and for
anything it cannot vouch for (errors, alias bombs, self-references, deep nesting) the Python
composer's own messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import igflow.playbook.loader as loader
from igflow.errors import PlaybookSyntaxError

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*ROOT.glob("playbooks/*.yml"), *ROOT.glob("tests/playbooks/**/*.yml")],
    key=str,
)

pytestmark = pytest.mark.skipif(
    loader._LIBYAML_LOADER is None, reason="PyYAML was built without libyaml"
)


def load(text: str, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(loader, "_LIBYAML_LOADER", None)
        try:
            doc = loader.load_playbook_text(text, "p.yml")
        except PlaybookSyntaxError as exc:
            return ("error", str(exc))
    return (doc.data, doc.locations, doc.key_locations, doc.block_scalars, doc.issues)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_loads_the_same_both_ways(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8 (the decoder's case, before any composer)")
    assert load(text, fast=True, monkeypatch=monkeypatch) == load(
        text, fast=False, monkeypatch=monkeypatch
    )


def bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def cases() -> Iterator[str]:
    yield bomb(12)  # expands far past MAX_ALIAS_NODES
    yield "".join(f"k{n}: [a, b, {n}]\n" for n in range(3000)) + bomb(12)  # after many nodes
    yield "a: &x [1, *x]\n"  # refers to itself
    yield "a: " + "[" * 150 + "]" * 150 + "\n"  # too deep
    yield "a: b: c\n"  # a syntax error
    yield "a: !!python/object:os.system x\n"  # an unsafe tag
    yield "k: 1\nk: 2\n"  # a duplicate key (an issue, not an error)
    yield "base: &b {x: 1}\nuse: {<<: *b, y: 2}\n"  # merge keys


@pytest.mark.parametrize("text", list(cases()))
def test_hard_cases_fall_back_or_agree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(text, fast=True, monkeypatch=monkeypatch) == load(
        text, fast=False, monkeypatch=monkeypatch
    )

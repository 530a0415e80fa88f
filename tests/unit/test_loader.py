"""The playbook loader: plain data, positions for every node, and safe failure modes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from igflow.errors import PlaybookSyntaxError, SourceLocation, UsageError
from igflow.playbook.loader import MAX_ALIAS_NODES, load_playbook_file, load_playbook_text


def loc(line: int, col: int) -> SourceLocation:
    return SourceLocation("p.yml", line, col)


def syntax_error(text: str) -> PlaybookSyntaxError:
    with pytest.raises(PlaybookSyntaxError) as caught:
        load_playbook_text(text, "p.yml")
    return caught.value


def test_data_is_plain_and_every_node_has_a_position() -> None:
    doc = load_playbook_text(
        "igflow: 1\nsteps:\n  - call: users.self\n    with: {count: 5}\n", "p.yml"
    )
    assert doc.data == {"igflow": 1, "steps": [{"call": "users.self", "with": {"count": 5}}]}
    assert type(doc.data) is dict and type(doc.data["steps"]) is list
    assert doc.locations[()] == loc(1, 1)
    assert doc.locations[("igflow",)] == loc(1, 9)
    assert doc.locations[("steps", 0)] == loc(3, 5)
    assert doc.locations[("steps", 0, "call")] == loc(3, 11)
    assert doc.locations[("steps", 0, "with", "count")] == loc(4, 19)
    assert doc.key_locations[("steps", 0, "with")] == loc(4, 5)
    assert doc.lines[2] == "  - call: users.self"


def test_location_falls_back_to_the_nearest_ancestor() -> None:
    doc = load_playbook_text("a:\n  b: 1\n", "p.yml")
    assert doc.location(("a", "b", "missing", 3)) == loc(2, 6)
    assert doc.key_location(("a", "b")) == loc(2, 3)


def test_keys_are_their_source_text_and_timestamps_stay_strings() -> None:
    doc = load_playbook_text("1: one\ntrue: yes\nwhen: 2018-04-04\n", "p.yml")
    assert doc.data == {"1": "one", "true": True, "when": "2018-04-04"}


def test_block_scalars_are_marked() -> None:
    doc = load_playbook_text("log: |\n  a\n  b\nx: plain\n", "p.yml")
    assert ("log",) in doc.block_scalars
    assert ("x",) not in doc.block_scalars


def test_merge_keys_explicit_keys_win() -> None:
    doc = load_playbook_text("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", "p.yml")
    assert doc.data["m"] == {"y": 3, "x": 1}
    assert doc.locations[("m", "y")] == loc(4, 6)
    assert doc.locations[("m", "x")] == loc(1, 14)  # merged values point at their source
    assert doc.issues == []


def test_duplicate_keys_are_reported_not_silently_dropped() -> None:
    doc = load_playbook_text("a: 1\nb: 2\na: 3\n", "p.yml")
    assert doc.data == {"a": 1, "b": 2}
    assert [str(i) for i in doc.issues] == [
        "p.yml:3:1: duplicate key 'a': it is already set at line 1"
    ]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("", (1, 1), "playbook is empty"),
        ("# just a comment\n", (1, 1), "playbook is empty"),
        ("---\n", (1, 1), "playbook is empty"),
        ("a: b: c\n", (1, 5), "mapping values are not allowed here"),
        ("a:\n\tb: 1\n", (2, 1), "tab character in indentation; YAML indents with spaces only"),
        (
            "a: !!python/object/apply:os.system [ls]\n",
            (1, 4),
            "the tag !!python/object/apply:os.system is not allowed: playbooks are data, not code",
        ),
        (
            "a: !!python/name:os.system\n",
            (1, 4),
            "the tag !!python/name:os.system is not allowed: playbooks are data, not code",
        ),
        (
            "a: !custom x\n",
            (1, 4),
            "unknown YAML tag '!custom'; playbooks use plain YAML without tags",
        ),
        ("a: &a [*a]\n", (1, 8), "alias *a refers to a node that contains it"),
        ("a: *nope\n", (1, 4), "found undefined alias 'nope'"),
        (
            "a: 1\n---\nb: 2\n",
            (2, 1),
            "a playbook is one YAML document, but a second one starts here ('---')",
        ),
        (
            "a: {{ x }}\n",
            (1, 5),
            'a value starting with "{{" must be quoted, e.g. "{{ media_id }}"',
        ),
        ("a: \x07\n", (1, 4), "control character #x0007 is not allowed in YAML"),
        (
            "a:\n  b: 1\n c: 2\n",
            (3, 2),
            "bad indentation: this line does not line up with the block it belongs to",
        ),
        ("? [a, b]\n: 1\n", (1, 3), "a mapping key must be a plain value, not a list or mapping"),
    ],
)
def test_syntax_errors_have_a_position_and_a_clear_message(
    text: str, where: tuple[int, int], message: str
) -> None:
    error = syntax_error(text)
    assert (error.location.line, error.location.col) == where  # type: ignore[union-attr]
    assert error.message == message
    assert error.lines == text.splitlines()  # type: ignore[attr-defined]


def billion_laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly_before_expansion() -> None:
    started = time.perf_counter()
    error = syntax_error(billion_laughs(30))  # 9**30 nodes if expanded
    assert time.perf_counter() - started < 1.0
    assert error.message.startswith(
        f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes beyond the ones written"
    )


def test_moderate_alias_use_is_fine() -> None:
    doc = load_playbook_text(billion_laughs(4), "p.yml")  # 9**4 = 6561 strings
    assert len(doc.data["a3"]) == 9


def test_a_huge_document_without_aliases_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from igflow.playbook import loader

    monkeypatch.setattr(loader, "MAX_NODES", 1000)  # the same rule, without parsing 500k nodes
    text = "a: [" + ", ".join("1" for _ in range(1001)) + "]\n"
    error = syntax_error(text)
    assert error.message == (
        "playbook is too large: more than 1,000 YAML nodes (the limit is "
        "igflow.playbook.loader.MAX_NODES); split it into several playbooks"
    )
    # Both composers stop at the same node: the 1,001st written, in document order.
    monkeypatch.setattr(loader, "_LIBYAML_LOADER", None)
    assert str(syntax_error(text)) == str(error)


def test_file_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such playbook file"):
        load_playbook_file(str(tmp_path / "missing.yml"))
    with pytest.raises(UsageError, match="is a directory"):
        load_playbook_file(str(tmp_path))


def test_binary_and_non_utf8_files(tmp_path: Path) -> None:
    binary = tmp_path / "b.yml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(PlaybookSyntaxError, match="binary file") as caught:
        load_playbook_file(str(binary))
    assert str(caught.value.location) == f"{binary}:1:1"
    latin1 = tmp_path / "l.yml"
    latin1.write_bytes("a: 1\nb: café\n".encode("latin-1"))
    with pytest.raises(PlaybookSyntaxError, match="not valid UTF-8") as caught:
        load_playbook_file(str(latin1))
    assert str(caught.value.location) == f"{latin1}:2:7"


def test_bom_and_utf16_files_are_read(tmp_path: Path) -> None:
    bom = tmp_path / "bom.yml"
    bom.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_playbook_file(str(bom)).data == {"a": 1}
    utf16 = tmp_path / "u16.yml"
    utf16.write_bytes("a: é\n".encode("utf-16"))
    assert load_playbook_file(str(utf16)).data == {"a": "é"}


def test_deep_nesting_is_refused_before_recursion_limits() -> None:
    from igflow.playbook.loader import MAX_DEPTH

    error = syntax_error("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert error.message == f"YAML nesting is deeper than {MAX_DEPTH} levels"
    assert load_playbook_text("a: " + "[" * 50 + "]" * 50 + "\n", "p.yml").data["a"] is not None

"""Quoting the user's source for error messages."""

from __future__ import annotations

from pathlib import Path

from igflow.errors import SourceLocation
from igflow.source import quote_source, read_source_lines


def test_quote_shows_the_line_and_a_caret_under_the_column() -> None:
    lines = ["igflow: 1", "steps:", "\t- log: hi"]
    assert quote_source(SourceLocation("p.yml", 3, 4), lines) == "     - log: hi\n       ^"


def test_no_quote_outside_the_file_or_on_a_blank_line() -> None:
    assert quote_source(SourceLocation("p.yml", 9, 1), ["a"]) is None
    assert quote_source(SourceLocation("p.yml", 1, 1), ["   "]) is None
    assert quote_source(SourceLocation("p.yml", 1, 1), None) is None


def test_reading_replaces_invalid_utf8_and_refuses_binary(tmp_path: Path) -> None:
    text = tmp_path / "latin1.yml"
    text.write_bytes(b"log: caf\xe9\n")
    assert read_source_lines(str(text)) == ["log: caf\ufffd"]
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\x89PNG\r\n\x00\x00")
    assert read_source_lines(str(binary)) == []
    assert read_source_lines(str(tmp_path / "missing.yml")) == []

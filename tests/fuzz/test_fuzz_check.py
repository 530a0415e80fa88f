"""Fuzz `igflow check`: whatever the file holds, it exits 0 or 2 with well-formed messages.

Inputs come from ``playbook_strategies``: plausible playbooks built from the real registry with
random contents, merge-key documents, character-level mutations of both, and raw bytes. The
invariants (``fuzz_support.assert_check_report``): exit 0 or 2, never a crash or a traceback,
stderr non-empty exactly when the playbook is invalid, and every issue line is
``FILE:LINE:COL: message`` with LINE inside the file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fuzz_support import assert_check_report, fuzz_settings, known_crash, run_cli
from hypothesis import given
from playbook_strategies import RAW_BYTES, playbook_texts


def check_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "fuzz.yml")
        Path(path).write_bytes(raw)
        code, out, err = run_cli(["check", path])

        def rerun() -> str:
            return run_cli(["--traceback", "check", path])[2]

        if known_crash(code, rerun):
            return
        lines = raw.decode("utf-8", "replace").splitlines()
        assert_check_report(path, len(lines), code, out, err, rerun)


@fuzz_settings(ci_examples=300)
@given(text=playbook_texts())
def test_check_any_playbook_text(text: str) -> None:
    check_bytes(text.encode("utf-8"))


@fuzz_settings(ci_examples=150)
@given(raw=RAW_BYTES)
def test_check_any_bytes(raw: bytes) -> None:
    check_bytes(raw)

#!/usr/bin/env python
"""Regenerate the shell completion scripts shipped in igflow/completions/ (with shtab).

    python scripts/gen_completions.py          # rewrite them
    python scripts/gen_completions.py --check  # exit 1 if one is out of step with the parser

`igflow completion SHELL` prints the shipped file, so completion costs igflow nothing at
start-up and shtab is needed only here (it is in the test extra; tests/unit/test_completions.py
regenerates and compares).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from igflow.completion_scripts import SHELLS, completion_script  # noqa: E402


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for shell in SHELLS:
        path = ROOT / "igflow" / "completions" / f"igflow.{shell}"
        wanted = completion_script(shell)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == wanted:
            continue
        if check:
            stale.append(str(path))
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"rewrote {path}")
    if stale:
        print(
            f"out of step with the parser: {', '.join(stale)}; run {sys.argv[0]}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

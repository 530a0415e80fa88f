"""What a loop keeps per item (issue 12): a 100,000-item loop once peaked at 203 MB (1.7 KB an
item). Per item the run keeps its record (status, timings, what it extracted) and the
``steps.<id>.results`` entry reads that record instead of copying it."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from cli_helpers import run_cli

PLAYBOOK = """\
igflow: 1
steps:
  - id: each
    foreach: "{{{{ range({n}) | list }}}}"
    as: i
    set: {{double: "i * 2"}}
outputs:
  total: steps.each.results | length
"""


def _peak(tmp_path: Path, items: int) -> int:
    path = tmp_path / f"loop{items}.yml"
    path.write_text(PLAYBOOK.format(n=items), encoding="utf-8")
    tracemalloc.start()
    try:
        code, out, err = run_cli("run", "-q", str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0, err
    assert f"total = {items}" in out
    return peak


def test_a_loop_keeps_a_few_hundred_bytes_per_item(tmp_path: Path) -> None:
    _peak(tmp_path, 10)  # imports and caches out of the way
    small, large = _peak(tmp_path, 2_000), _peak(tmp_path, 22_000)
    per_item = (large - small) / 20_000
    # Measured (tracemalloc, Python 3.11): about 340 bytes (the record, its extracted value, the
    # loop's lists); 500 when each results entry was a dict of its own.
    assert per_item < 420, f"{per_item:.0f} bytes per loop item"

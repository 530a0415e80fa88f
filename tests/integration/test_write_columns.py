"""A CSV `write` with `columns` warns on the step's console line (issue 12, item 5)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cli_helpers import run_cli


def test_a_csv_write_says_which_columns_rows_lack_or_nest(tmp_path: Path) -> None:
    path = tmp_path / "play.yml"
    path.write_text(
        "igflow: 1\n"
        + textwrap.dedent(
            """\
            vars:
              media: [{id: "1", likes: {count: 3}}, {id: "2", likes: {count: 0}}]
            steps:
              - write: {path: out.csv, value: "{{ media }}", columns: [id, likes, like]}
            """
        ),
        encoding="utf-8",
    )
    code, out, err = run_cli("run", str(path))
    assert code == 0, out + err
    line = next(line for line in out.splitlines() if "wrote 2 rows to out.csv" in line)
    assert "warning: column 'likes' holds a list or mapping in 2 of 2 rows" in line
    assert "warning: no row has the column 'like'" in line
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "id,likes,like"

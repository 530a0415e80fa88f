"""Memory: paginating 20,000 items from a separately served sandbox, extracting their ids.

A served sandbox (``igflow sandbox serve --generate users=15,media=20300 --rate-limits off``)
gives one generated user, user00000, more than 20,000 media. The playbook pages through all of
``/v1/users/6000000000/media/recent`` (33 per page, the API's maximum) with ``paginate: true``
and one extraction, ``$.data[*].id``. igflow applies the path page by page and keeps only the
matches, so its memory should hold the ids, not the pages (about 26 MB of JSON in all).

Peak memory is the igflow process's maximum resident set size, read by GNU time
(``/usr/bin/time -v``, Debian's package ``time``). For scale, the same figure for
``igflow check`` of the same playbook (igflow loaded, nothing sent) is reported beside it.
Budget (the housekeeping issue): under 150 MB.

    python bench/paginate_memory.py [--json FILE]
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

from _common import arguments, finish, free_port, igflow_exe, need, row, run_checked, server, table

BUDGET_MB = 150.0
MIN_ITEMS = 20_000
USER_ID = "6000000000"  # user00000, the one generated user, owns the generated media

PLAYBOOK = f"""\
igflow: 1
name: Page through 20,000 media
steps:
  - authorize: {{scopes: [basic, public_content], user: grantwinney, client: live}}
  - id: media
    call: users.media_recent
    with: {{user_id: "{USER_ID}", count: 33}}
    paginate: true
    extract:
      ids: $.data[*].id
    assert:
      - ids | length >= {MIN_ITEMS}
outputs:
  items: ids | length
"""


def peak_mb(gnu_time: str, argv: list[str]) -> float:
    """Run ``argv`` under ``/usr/bin/time -v``; its maximum resident set size in MB."""
    done = run_checked([gnu_time, "-v", *argv])
    kbytes = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if kbytes is None:
        raise RuntimeError(f"no peak memory in GNU time's output:\n{done.stderr[-1000:]}")
    return int(kbytes.group(1)) / 1024


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    gnu_time, igflow = need("/usr/bin/time", "time"), igflow_exe()
    port = free_port()
    serve = [igflow, "sandbox", "serve", "--port", str(port), "--rate-limits", "off"]
    serve += ["--generate", "users=15,media=20300"]
    with tempfile.TemporaryDirectory(prefix="igflow-bench-memory-") as tmp_name:
        tmp = Path(tmp_name)
        playbook, report = tmp / "pages.yml", tmp / "report.json"
        playbook.write_text(PLAYBOOK)
        idle = peak_mb(gnu_time, [igflow, "check", str(playbook)])
        with server(serve, port, log=tmp / "sandbox.log"):
            started = time.perf_counter()
            run = [igflow, "run", str(playbook), "--target", f"http://127.0.0.1:{port}", "-q"]
            peak = peak_mb(gnu_time, [*run, "--report", f"json:{report}"])
            wall = time.perf_counter() - started
        result = json.loads(report.read_text())
    items = int(result["outputs"]["items"])
    pages = next(step["pages"] for step in result["steps"] if step["id"] == "media")
    details = table(
        ("command", "peak RSS"),
        [
            ("igflow check (loaded, nothing sent)", f"{idle:.1f} MB"),
            ("igflow run", f"{peak:.1f} MB"),
        ],
    )
    details += f"\n{items} ids from {pages} pages in {wall:.1f} s\n"
    figures = f"peak {peak:.1f} MB for {items} ids, {pages} pages (check alone: {idle:.1f} MB)"
    met = peak < BUDGET_MB and items >= MIN_ITEMS
    finish(args, [row("4. memory (paginate 20k)", figures, f"< {BUDGET_MB:.0f} MB", met)], details)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Concurrency: unliking 200 media with ``concurrency: 1`` and with ``concurrency: 8``.

A served sandbox (``igflow sandbox serve``) with 50 ms of injected latency on every /v1 request
(``--latency 50``: the server sleeps before handling, concurrent requests sleep side by side),
rate limits off, and a generated dataset in which grantwinney likes 500 media. The playbook
authorizes through the live client (no sandbox-mode visibility cap), pages through his liked
media to collect 200 ids, then unlikes them in a ``foreach``. Each concurrency gets a fresh
sandbox (in-memory state), so both unlike the same 200 media.

The figure is the unlike step's own time, from igflow's JSON report (the paging before it is the
same for both); the whole runs' walls are reported beside it. Budget (the housekeeping issue):
with concurrency 8 it takes at most a quarter of the time it takes with concurrency 1.

    python bench/concurrency.py [--items 200] [--latency 50] [--json FILE]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import arguments, finish, free_port, igflow_exe, row, run_checked, server, table

BUDGET = 0.25
WIDE = 8

PLAYBOOK = """\
igflow: 1
name: Unlike {items} media, concurrency {concurrency}
steps:
  - authorize:
      scopes: [basic, public_content, likes]
      user: grantwinney
      client: live
  - id: liked
    call: users.media_liked
    with: {{count: 33}}
    paginate: {{max_items: {items}}}
    extract:
      liked_ids: $.data[*].id
    assert:
      - liked_ids | length == {items}
  - id: unlike
    name: Unlike them
    foreach: "{{{{ liked_ids }}}}"
    as: media_id
    concurrency: {concurrency}
    max_writes: {items}
    call: likes.delete
    with: {{media_id: "{{{{ media_id }}}}"}}
"""


def unlike(igflow: str, tmp: Path, concurrency: int, items: int, latency: int) -> dict[str, Any]:
    """One run on a fresh sandbox; the unlike step's time, the wall, and the items' statuses."""
    port = free_port()
    playbook = tmp / f"unlike-{concurrency}.yml"
    playbook.write_text(PLAYBOOK.format(items=items, concurrency=concurrency))
    report = tmp / f"unlike-{concurrency}.json"
    serve = [igflow, "sandbox", "serve", "--port", str(port), "--rate-limits", "off"]
    serve += ["--latency", str(latency), "--generate", "users=50,media=1000"]
    with server(serve, port, log=tmp / f"sandbox-{concurrency}.log"):
        started = time.perf_counter()
        run_checked(
            [igflow, "run", str(playbook), "--target", f"http://127.0.0.1:{port}", "-q"]
            + ["--report", f"json:{report}"]
        )
        wall = time.perf_counter() - started
    steps = {step["id"]: step for step in json.loads(report.read_text())["steps"] if step["id"]}
    step = steps["unlike"]
    statuses = [item["status"] for item in step["items"] or ()]
    if len(statuses) != items or set(statuses) != {"ok"}:
        raise RuntimeError(f"concurrency {concurrency}: items {statuses!r}")
    return {"step": float(step["elapsed"]), "wall": wall}


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200, help="media to unlike (default 200)")
    parser.add_argument("--latency", type=int, default=50, help="injected latency in ms")
    args = parser.parse_args()
    igflow = igflow_exe()
    with tempfile.TemporaryDirectory(prefix="igflow-bench-concurrency-") as tmp:
        one = unlike(igflow, Path(tmp), 1, args.items, args.latency)
        wide = unlike(igflow, Path(tmp), WIDE, args.items, args.latency)
    ratio = wide["step"] / one["step"]
    details = table(
        ("concurrency", "unlike step", "per item", "whole run"),
        [
            (
                str(c),
                f"{t['step']:.2f} s",
                f"{t['step'] / args.items * 1000:.1f} ms",
                f"{t['wall']:.2f} s",
            )
            for c, t in ((1, one), (WIDE, wide))
        ],
    )
    details += f"\n{args.items} unlikes, {args.latency} ms injected latency per request\n"
    figures = (
        f"c={WIDE} {wide['step']:.2f} s / c=1 {one['step']:.2f} s = {ratio:.2f} "
        f"({args.items} unlikes, {args.latency} ms latency)"
    )
    met = ratio <= BUDGET
    finish(args, [row("4. concurrency (unlike)", figures, f"<= {BUDGET}", met)], details)
    return 0


if __name__ == "__main__":
    sys.exit(main())

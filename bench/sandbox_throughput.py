"""Sandbox throughput: simple GETs per second against ``igflow sandbox serve --rate-limits off``.

The load comes from wrk (Debian's package), a separate process: ``wrk -t2 -c8 -d10s`` on
``/v1/users/self`` with a real token obtained through the sandbox's OAuth flow
(``igflow sandbox token``). Every answer must be a 200, or the figure does not count. wrk and the
server share the machine, so on 2 cores the figure is what the server gets while a client works as
hard as it can beside it. Budget: 500 requests/s.

    python bench/sandbox_throughput.py [--duration 10] [--json FILE]
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from _common import arguments, finish, free_port, igflow_exe, need, row, run_checked, server

BUDGET = 500.0
PATH = "/v1/users/self"


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    args = parser.parse_args()
    wrk, igflow = need("wrk", "wrk"), igflow_exe()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [igflow, "sandbox", "serve", "--port", str(port), "--rate-limits", "off"]
    with (
        tempfile.TemporaryDirectory(prefix="igflow-bench-sandbox-") as tmp,
        server(serve, port, log=Path(tmp) / "sandbox.log"),
    ):
        token = run_checked(
            [igflow, "sandbox", "token", "--url", url, "--user", "grantwinney"]
        ).stdout.strip()
        target = f"{url}{PATH}?access_token={token}"
        load = [wrk, "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
        output = run_checked([*load, target]).stdout.replace(token, "***")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = re.search(r"Latency\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    failed = bad is not None or errors is not None
    figures = f"{rate:.0f} req/s (GET {PATH}, wrk -t2 -c{args.connections}, avg {latency})"
    if failed:
        figures += ", with errors (see details)"
    met = rate >= BUDGET and not failed
    rows = [row("3. sandbox throughput", figures, f">= {BUDGET:.0f} req/s", met)]
    finish(args, rows, output.strip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

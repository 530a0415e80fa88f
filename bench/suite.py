"""Run every benchmark script, keep their detailed output in a log, print one table.

``bench/run`` calls this with the interpreter of the benchmark environment (where the checkout is
installed); it also works on its own with any interpreter that has igflow installed beside it.

    python bench/suite.py [--only NAME ...] [--log FILE] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BENCH_DIR, Row, result_table, row

# (script, arguments for a normal run, arguments for --quick)
BENCHMARKS: tuple[tuple[str, list[str], list[str]], ...] = (
    ("overhead.py", [], ["--runs", "3"]),
    ("startup.py", [], ["--runs", "10"]),
    ("sandbox_throughput.py", [], ["--duration", "3"]),
    ("concurrency.py", [], []),
    ("paginate_memory.py", [], []),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="e.g. --only startup overhead")
    parser.add_argument("--log", metavar="FILE", help="where the details go (default: a temp file)")
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter loads")
    args = parser.parse_args()
    log_path = Path(args.log or tempfile.mkstemp(prefix="igflow-bench-", suffix=".log")[1])
    rows: list[Row] = []
    started = time.monotonic()
    with log_path.open("w") as log, tempfile.TemporaryDirectory(prefix="igflow-bench-") as tmp:
        log.write(f"interpreter: {sys.executable}\n\n")
        for script, normal, quick in BENCHMARKS:
            name = script.removesuffix(".py")
            if args.only and not any(name.startswith(wanted) for wanted in args.only):
                continue
            out = Path(tmp) / f"{name}.json"
            argv = [sys.executable, str(BENCH_DIR / script), "--json", str(out)]
            argv += quick if args.quick else normal
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            begun = time.monotonic()
            done = subprocess.run(argv, capture_output=True, text=True)
            took = time.monotonic() - begun
            log.write(f"==== {name} ({took:.0f} s, exit {done.returncode})\n")
            log.write(done.stdout + done.stderr + "\n")
            log.flush()
            if done.returncode == 0 and out.exists():
                rows.extend(json.loads(out.read_text()))
            else:
                last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                rows.append(row(name, f"FAILED: {last[0][:90]}", "", False))
    total = time.monotonic() - started
    print(result_table(rows))
    print(f"\n{len(rows)} figures in {total:.0f} s; details: {log_path}")
    return 0 if all(r["met"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

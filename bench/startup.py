"""Startup: `igflow --help` and `igflow check` (the seed walkthrough) vs `python -c pass`.

Timed with hyperfine (``-N``: no shell in between) on the full paths of the interpreter and of the
console script beside it: going through a pyenv shim or ``/usr/bin/env`` would add tens of
milliseconds to every start and hide what igflow itself costs. Budget: ``igflow --help`` at most
1.5x ``python -c pass`` (``check`` is reported, with no budget: it reads the registry, compiles
the playbook and checks its schema, which is work, not startup).

    python bench/startup.py [--runs 40] [--json FILE]
"""

from __future__ import annotations

import sys

from _common import REPO_DIR, arguments, finish, hyperfine, igflow_exe, ms, python_exe, row, table

BUDGET = 1.5


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="timed runs of each command")
    args = parser.parse_args()
    python, igflow = python_exe(), igflow_exe()
    seed = REPO_DIR / "playbooks" / "seed_walkthrough.yml"
    names = ["python -c pass", "python: import argparse", "igflow --help", "igflow check seed"]
    commands = [
        [python, "-c", "pass"],
        [python, "-c", "import argparse"],  # the floor of any argparse CLI
        [igflow, "--help"],
        [igflow, "check", str(seed)],
    ]
    timings = hyperfine(commands, runs=args.runs, warmup=5, names=names)
    base, argparse_t, help_t, check_t = timings
    ratio = help_t["median"] / base["median"]
    details = table(
        ("command", "median", "mean ± sd", "min", "vs python"),
        [
            (
                name,
                ms(t["median"]),
                f"{ms(t['mean'])} ± {ms(t['stddev'])}",
                ms(t["min"]),
                f"{t['median'] / base['median']:.2f}x",
            )
            for name, t in zip(names, timings, strict=True)
        ],
    )
    rows = [
        row(
            "2. startup: igflow --help",
            f"{ms(help_t['median'])} / python -c pass {ms(base['median'])} = {ratio:.2f}x",
            f"<= {BUDGET}x",
            ratio <= BUDGET,
        ),
        row(
            "2. startup: import argparse",
            f"{ms(argparse_t['median'])} ({argparse_t['median'] / base['median']:.2f}x python)",
            "(reference)",
            None,
        ),
        row(
            "2. startup: igflow check seed",
            f"{ms(check_t['median'])} ({check_t['median'] / base['median']:.2f}x python)",
            "(reported)",
            None,
        ),
    ]
    finish(args, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the benchmarks share: the interpreter and igflow under test, servers, hyperfine, tables.

Every benchmark script prints its own small table and, with ``--json FILE``, also writes its rows
there so ``bench/run`` can print one table for all of them. A row is a dict with ``benchmark``,
``figures`` (text), ``budget`` (text) and ``met`` (True, False, or None when not measured).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

Row = dict[str, Any]


# ---- what is measured --------------------------------------------------------------------------
def python_exe() -> str:
    """The interpreter running this script, by its full path.

    Not resolved through symlinks: in a virtual environment ``bin/python`` is a symlink whose
    target would lose the environment. It is never a pyenv shim either (a shim is a shell script
    that execs the interpreter, adding ~50 ms to every start), because ``sys.executable`` is the
    interpreter itself.
    """
    return sys.executable


def igflow_exe() -> str:
    """The ``igflow`` console script installed beside this interpreter."""
    beside = Path(sys.executable).parent / "igflow"
    if beside.is_file():
        return str(beside)
    found = shutil.which("igflow")
    if found is None:
        sys.exit("bench: no igflow console script (pip install the checkout first)")
    return str(Path(found).resolve())


# ---- processes and ports -----------------------------------------------------------------------
def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Wait until something accepts connections on ``port``; fail if ``proc`` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


@contextlib.contextmanager
def server(argv: Sequence[str], port: int, *, log: Path | None = None) -> Iterator[int]:
    """Run a server process until the block ends (also on errors and Ctrl-C); yield its pid."""
    out = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for_port(port, proc)
        yield proc.pid
    finally:
        stop(proc)
        if log is not None:
            out.close()  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a process we started (its own process group), politely, then firmly."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def need(tool: str, package: str) -> str:
    """The full path of a tool ``bench/run`` installs, or a clear exit."""
    found = shutil.which(tool)
    if found is None and Path("/usr/sbin", tool).exists():  # sbin is not on every user's PATH
        found = f"/usr/sbin/{tool}"
    if found is None:
        sys.exit(f"bench: {tool} is missing (apt-get install {package}, or use bench/run)")
    return found


def run_checked(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command once and fail loudly, with its output, if it does not succeed."""
    done = subprocess.run(list(argv), capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {done.returncode}:\n{done.stdout[-2000:]}"
            f"{done.stderr[-2000:]}"
        )
    return done


# ---- timing ------------------------------------------------------------------------------------
def hyperfine(
    commands: Sequence[Sequence[str]], *, runs: int, warmup: int, names: Sequence[str]
) -> list[dict[str, float]]:
    """Time whole commands with hyperfine (no shell, ``-N``); seconds per command.

    Returns, per command, ``median``, ``mean``, ``min`` and ``stddev``. hyperfine splits each
    command with POSIX shell-word rules (without starting a shell), hence ``shlex.join``.
    """
    exe = need("hyperfine", "hyperfine")
    with tempfile.TemporaryDirectory(prefix="igflow-bench-") as tmp:
        export = Path(tmp) / "hyperfine.json"
        argv = [exe, "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs)]
        argv += ["--export-json", str(export)]
        for name, command in zip(names, commands, strict=True):
            argv += ["-n", name, shlex.join(command)]
        run_checked(argv)
        results = json.loads(export.read_text())["results"]
    return [
        {key: float(result[key]) for key in ("median", "mean", "min", "stddev")}
        for result in results
    ]


def alternate(
    commands: Sequence[Sequence[str]], *, runs: int, warmup: int
) -> list[dict[str, float]]:
    """Time whole commands by turns: each round runs every command once, in a rotating order.

    On a shared machine the load comes and goes; hyperfine runs all of one command's runs before
    the next command's, so a busy minute lands on one side of a comparison. Taking turns spreads
    it over all of them. Wall time by ``time.perf_counter`` around ``subprocess.run``, output
    discarded (as hyperfine does). Returns, per command, ``median``, ``mean``, ``min`` and
    ``stddev`` in seconds.
    """
    walls: list[list[float]] = [[] for _ in commands]
    for round_ in range(warmup + runs):
        order = list(range(len(commands)))
        shift = round_ % len(order)
        for index in order[shift:] + order[:shift]:
            started = time.perf_counter()
            subprocess.run(list(commands[index]), stdout=subprocess.DEVNULL, check=True)
            if round_ >= warmup:
                walls[index].append(time.perf_counter() - started)
    return [
        {
            "median": statistics.median(w),
            "mean": statistics.fmean(w),
            "min": min(w),
            "stddev": statistics.stdev(w) if len(w) > 1 else 0.0,
        }
        for w in walls
    ]


# ---- reporting ---------------------------------------------------------------------------------
def row(benchmark: str, figures: str, budget: str, met: bool | None) -> Row:
    return {"benchmark": benchmark, "figures": figures, "budget": budget, "met": met}


def met_text(met: bool | None) -> str:
    return "n/a" if met is None else "yes" if met else "NO"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in (headers, ["-" * w for w in widths], *rows)
    ]
    return "\n".join(lines)


def result_table(rows: Sequence[Row]) -> str:
    return table(
        ("benchmark", "figures", "budget", "met"),
        [(r["benchmark"], r["figures"], r["budget"], met_text(r["met"])) for r in rows],
    )


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", metavar="FILE", help="also write the result rows to FILE")
    return parser


def finish(args: argparse.Namespace, rows: Sequence[Row], details: str = "") -> None:
    """Print the script's own table (and details), and write the rows for bench/run."""
    if details:
        print(details)
    print(result_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(list(rows)))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"

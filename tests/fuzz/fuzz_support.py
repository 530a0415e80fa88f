"""Shared pieces of the fuzz suite: Hypothesis settings, running the CLI, the output invariants.

CI runs a fixed, derandomized number of examples per test (fast, never flaky). To search longer
and with fresh randomness, set ``IGFLOW_FUZZ_EXAMPLES``::

    IGFLOW_FUZZ_EXAMPLES=3000 pytest tests/fuzz -q

A failure prints the smallest input Hypothesis found; turn it into a deterministic regression
test in ``test_fuzz_regressions.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from unittest import mock

from hypothesis import HealthCheck, Phase, event, settings

import igflow.client
from igflow.cli import Environment, main
from igflow.errors import ExitCode

# When libcst is installed, Hypothesis imports it to write a patch for each failure, and that
# import warns (mypy_extensions' deprecated TypedDict): under filterwarnings=error pytest then
# reports an INTERNALERROR instead of the failure. Import it once, quietly, up front.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

EXAMPLES_ENV = "IGFLOW_FUZZ_EXAMPLES"

# Every code the README documents, except INTERNAL: 70 means igflow crashed, and a crash is the
# thing the fuzz suite is looking for.
DOCUMENTED = frozenset(int(code) for code in ExitCode if code != ExitCode.INTERNAL)


def fuzz_settings(ci_examples: int) -> settings:
    """Settings for one fuzz test: ``ci_examples`` derandomized examples, or the env override."""
    override = os.environ.get(EXAMPLES_ENV, "").strip()
    return settings(
        max_examples=int(override) if override else ci_examples,
        deadline=None,
        # In CI the same examples every run (no flaky failures); a local long run explores.
        derandomize=not override,
        database=None,
        print_blob=True,
        # No `explain` phase: it costs time on every failure, and under pytest's
        # filterwarnings=error a deprecation warning it triggers hides the failure itself.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


class Clock:
    """Stands in for sleeping: records how long igflow would have waited."""

    def __init__(self) -> None:
        self.slept = 0.0
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"asked to sleep {seconds} s"
        with self._lock:
            self.slept += seconds


@contextlib.contextmanager
def simulated_sleep() -> Iterator[Clock]:
    """Retries and rate-limit waits (``igflow.client._sleep``) only add up their seconds."""
    clock = Clock()
    if hasattr(igflow.client, "_sleep"):
        with mock.patch.object(igflow.client, "_sleep", clock.sleep):
            yield clock
    else:
        yield clock


def run_cli(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """The real CLI in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Environment(stdout=out, stderr=err, environ=dict(environ or {})))
    return code, out.getvalue(), err.getvalue()


@dataclass(frozen=True)
class KnownCrash:
    """A crash the fuzz suite found in a module its authors have yet to fix.

    It is recognized by where it happens (the innermost igflow frame of the traceback) and the
    exception's type, and pinned down by a strict-xfail test in ``test_fuzz_regressions.py``:
    when the fix lands that test passes, fails as XPASS, and the entry here goes.
    """

    module: str  # e.g. "igflow/auth.py"
    exceptions: frozenset[str]
    regression: str


KNOWN_CRASHES: tuple[KnownCrash, ...] = ()

_FRAME = re.compile(r'File "[^"]*?[/\\](igflow[/\\][^"]+\.py)", line \d+, in ')
_CRASH = re.compile(r"internal error \(this is a bug in igflow, please report it\): (\w+)")


def crash_site(err: str) -> tuple[str, str] | None:
    """(module, exception type) of an internal error printed with ``--traceback``."""
    crash = _CRASH.search(err)
    frames = _FRAME.findall(err)
    if crash is None or not frames:
        return None
    return frames[-1].replace("\\", "/"), crash.group(1)


def known_crash(code: int, rerun: Callable[[], str]) -> KnownCrash | None:
    """The known crash behind an exit 70, found by running again with ``--traceback``."""
    if code != ExitCode.INTERNAL:
        return None
    site = crash_site(rerun())
    for known in KNOWN_CRASHES:
        if site is not None and site[0] == known.module and site[1] in known.exceptions:
            event(f"known crash: {known.regression}")
            return known
    return None


def assert_no_crash(code: int, out: str, err: str, rerun: Callable[[], str] | None = None) -> None:
    """No internal error, no traceback, and an exit code the README documents.

    ``rerun`` runs the same thing again with ``--traceback`` and returns its stderr: it shows
    where a crash happened, in the failure message.
    """
    if code == ExitCode.INTERNAL and rerun is not None:
        err = f"{err}\n--- again with --traceback:\n{rerun()}"
    assert code != ExitCode.INTERNAL, f"igflow crashed (exit 70):\n{err}"
    assert code in DOCUMENTED, f"undocumented exit code {code}:\n{err}"
    for stream in (out, err):
        assert "Traceback (most recent call last)" not in stream, stream
        assert "internal error" not in stream, stream


_SUMMARY = re.compile(r"igflow: (?P<file>.+): \d+ problems? found\Z")


def assert_check_report(
    path: str,
    lines: int,
    code: int,
    out: str,
    err: str,
    rerun: Callable[[], str] | None = None,
) -> None:
    """The shape of `igflow check PATH` output for a file that exists.

    Every issue is ``PATH:LINE:COL: message`` (LINE within the file, COL >= 1), optionally
    followed by the quoted source line and a caret (indented); an invalid playbook ends with
    the summary line and exits 2; a valid one exits 0 with at most warnings on stderr.
    """
    assert_no_crash(code, out, err, rerun)
    assert code in (ExitCode.OK, ExitCode.USAGE), f"check exited {code}:\n{err}"
    issue = re.compile(re.escape(path) + r":(?P<line>\d+):(?P<col>\d+): (?P<message>.*)\Z")
    # Lines as a terminal or grep sees them: a message may carry a user's "\r" or "\u2028".
    rows = err.removesuffix("\n").split("\n") if err else []
    if code == ExitCode.OK:
        assert out.startswith(f"{path}: ok ("), out
    else:
        assert err, "exit 2 but nothing on stderr"
        assert not out, out
        summary = _SUMMARY.match(rows[-1])
        assert summary is not None and summary["file"] == path, rows[-1]
        rows = rows[:-1]
        assert rows, "an invalid playbook with no issue line"
    saw_error = False
    for row in rows:
        if row.startswith("    "):  # the quoted source line and its caret
            continue
        found = issue.match(row)
        assert found is not None, f"not a 'file:line:col: message' line: {row!r}\n{err}"
        assert 1 <= int(found["line"]) <= max(lines, 1) + 1, row
        assert int(found["col"]) >= 1, row
        if not found["message"].startswith("warning: "):
            saw_error = True
    assert saw_error == (code != ExitCode.OK), err

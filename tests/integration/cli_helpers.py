"""Run the real CLI in-process with injected streams and environment."""

from __future__ import annotations

import io
import tempfile

from igflow.cli import Environment, main

# Runs that write to a served sandbox keep a resume journal, by default under the working
# directory (the repository, in tests): give each run its own unless the test names one.
_JOURNALS = tempfile.mkdtemp(prefix="igflow-test-journals-")


def run_cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Return (exit code, stdout, stderr). The environment is empty unless given."""
    if argv[:1] == ("run",) and "--journal" not in argv and "--resume" not in argv:
        journal = tempfile.mktemp(suffix=".jsonl", dir=_JOURNALS)
        argv = (*argv, "--journal", journal)
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ=environ if environ is not None else {})
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()

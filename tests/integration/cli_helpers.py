"""Run the real CLI in-process with injected streams and environment."""

from __future__ import annotations

import io

from igflow.cli import Environment, main


def run_cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Return (exit code, stdout, stderr). The environment is empty unless given."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ=environ if environ is not None else {})
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()

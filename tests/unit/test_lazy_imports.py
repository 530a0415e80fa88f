"""`igflow --help` stays fast: building the parser imports none of the heavy dependencies.

Each case runs in a fresh interpreter, so modules that earlier tests imported into this
process cannot hide (or fake) an import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("requests", "jinja2", "jsonpath_ng", "jsonschema", "yaml", "werkzeug")

_PROBE = """
import io, json, sys
from igflow.cli import Environment, main

out, err = io.StringIO(), io.StringIO()
status = main(json.loads(sys.argv[1]), Environment(stdout=out, stderr=err, environ={}))
heavy = json.loads(sys.argv[2])
loaded = sorted(
    name for name in sys.modules
    if any(name == root or name.startswith(root + ".") for root in heavy)
)
print(json.dumps({"status": status, "stdout": out.getvalue(), "loaded": loaded}))
"""


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["run", "--help"], ["check", "--help"], ["sandbox", "--help"]],
    ids=" ".join,
)
def test_help_imports_no_heavy_dependency(argv: list[str]) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["status"] == 0
    assert result["stdout"].strip()  # the help (or version) really was printed
    assert result["loaded"] == []

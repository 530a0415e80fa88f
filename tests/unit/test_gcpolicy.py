"""The cyclic collector is off while `igflow` starts up and on (with the startup's objects frozen)
while a run or a served sandbox does its work; a collector igflow did not turn off is left alone.

Probed in child processes, so this test process's own collector is never touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_RUN_PROBE = """
import gc, json, sys
import igflow.runner

seen = {}
real_run = igflow.runner.Runner.run

def run(self, *args, **kwargs):
    seen["enabled_during_run"] = gc.isenabled()
    seen["frozen_during_run"] = gc.get_freeze_count()
    return real_run(self, *args, **kwargs)

igflow.runner.Runner.run = run
sys.argv = ["igflow", "run", "-q", sys.argv[1]]
import igflow.launch
seen["enabled_before"] = gc.isenabled()
seen["code"] = igflow.launch.main()
seen["enabled_after"] = gc.isenabled()
sys.stderr.write(json.dumps(seen))
"""

_LIBRARY_PROBE = """
import gc, json, sys
from igflow import gcpolicy
seen = []
for host_setting in (True, False):  # a host process may have turned its collector off itself
    gc.enable() if host_setting else gc.disable()
    gcpolicy.settled()
    gcpolicy.restore()
    seen.append([gc.isenabled(), gc.get_freeze_count()])
sys.stderr.write(json.dumps(seen))
"""

PLAYBOOK = """\
igflow: 1
name: gc probe
steps:
  - authorize: {scopes: [basic], user: grantwinney}
  - call: users.self
    extract: {me: $.data.username}
"""


def _probe(code: str, *args: str) -> Any:
    completed = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    return json.loads(completed.stderr.strip().splitlines()[-1])


def test_a_run_collects_during_the_run_with_the_startup_objects_frozen(tmp_path: Path) -> None:
    playbook = tmp_path / "probe.yml"
    playbook.write_text(PLAYBOOK)
    seen = _probe(_RUN_PROBE, str(playbook))
    assert seen["code"] == 0
    assert seen["enabled_before"] is True
    assert seen["enabled_during_run"] is True
    assert isinstance(seen["frozen_during_run"], int) and seen["frozen_during_run"] > 10_000
    assert seen["enabled_after"] is True


def test_a_collector_igflow_did_not_turn_off_is_left_as_it_is() -> None:
    assert _probe(_LIBRARY_PROBE) == [[True, 0], [False, 0]]

"""When the cyclic garbage collector runs.

`igflow.launch` turns the collector off while the command starts up: importing the libraries and
loading and compiling a playbook make hundreds of thousands of objects that live as long as the
process (modules, functions, compiled steps), and almost no cyclic garbage. With the collector on,
every few hundred allocations it scans the young ones and, now and then, everything: about 35 ms
of the start of a 400-step playbook (bench/README.md).

:func:`settled` ends that phase once the long-lived objects are made: it moves them out of the
collector's sight for good (`gc.freeze`, the use its documentation gives) and turns the collector
back on, so the objects a long run makes and drops are collected as usual. A process that never
turned the collector off (tests calling `igflow.cli.main`, a library user) is left as it is.
"""

from __future__ import annotations

import gc


def settled() -> None:
    """The command's long-lived objects are made: collect as usual from here on."""
    if gc.isenabled():
        return
    gc.freeze()
    gc.enable()

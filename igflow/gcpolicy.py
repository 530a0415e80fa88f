"""When the cyclic garbage collector runs.

The ``igflow`` command turns the collector off while it starts up: importing the libraries and
loading and compiling a playbook make hundreds of thousands of objects that live as long as the
process (modules, functions, compiled steps), and almost no cyclic garbage. With the collector on,
every few hundred allocations it scans the young ones and, now and then, everything: about 35 ms
of the start of a 400-step playbook (bench/README.md).

:func:`settled` ends that phase once the long-lived objects are made: it moves them out of the
collector's sight for good (``gc.freeze``, the use its documentation gives) and turns the
collector back on, so the objects a long run makes and drops are collected as usual. Only a
collector that :func:`defer` turned off is touched: a process that calls ``igflow.cli.main``
itself (the tests, a library user) keeps its own setting, whatever it is.
"""

from __future__ import annotations

import gc

_deferred = False


def defer() -> None:
    """Turn the collector off for the start of the command (if it is on)."""
    global _deferred
    if gc.isenabled():
        gc.disable()
        _deferred = True


def settled() -> None:
    """The command's long-lived objects are made: collect as usual from here on."""
    global _deferred
    if _deferred:
        _deferred = False
        gc.freeze()
        gc.enable()


def restore() -> None:
    """The command is over: the collector is as it was before :func:`defer`."""
    global _deferred
    if _deferred:
        _deferred = False
        gc.enable()

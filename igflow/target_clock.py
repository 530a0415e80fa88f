"""Whose time ``now()`` is: the target's, when the target is an igflow sandbox on a fake clock.

``igflow sandbox serve --clock fake`` starts its clock in 2017 and moves it only when told to
(``POST /_sandbox/clock``), so a playbook's ``since: now() - 7 * 86400`` computed from the wall
clock would find none of the sandbox's media. When a playbook uses ``now()`` and the target is
on this machine (a loopback address: a real API never is), the run asks the target's
``GET /_sandbox/clock`` once, before the first step; a fake clock's time is then what ``now()``
gives for the whole run (it does not move by itself either). Anything else (a real clock, a
404, no whole answer within 2 s, a broken answer, an answer that is not the sandbox's) leaves
``now()`` on the wall clock. Nothing is asked of a remote target: a real API is never sent
this request.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

__all__ = ["sandbox_clock", "uses_now"]

_TIMEOUT = 2.0  # seconds: a sandbox on this machine answers in milliseconds
_MAX_BODY = 4096  # {"kind": "fake", "now": ...} is a few dozen bytes


def uses_now(lines: list[str]) -> bool:
    """Whether a playbook's text calls ``now()`` anywhere (a comment too: one request more)."""
    return any("now(" in line for line in lines)


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sandbox_clock(origin: str) -> float | None:
    """The time of the igflow sandbox at ``origin`` if it runs on a fake clock, else None."""
    if not _loopback(urlsplit(origin).hostname):
        return None
    import time

    import requests

    deadline = time.monotonic() + _TIMEOUT
    body = b""
    try:
        with requests.get(
            origin.rstrip("/") + "/_sandbox/clock",
            timeout=_TIMEOUT,
            allow_redirects=False,
            stream=True,
        ) as answer:
            if answer.status_code != 200:
                return None
            # A total deadline, not only one per read: a server that trickles its answer a
            # byte at a time must not hold the run.
            for chunk in answer.iter_content(1):  # one byte: each read returns at once
                body += chunk
                if len(body) > _MAX_BODY or time.monotonic() > deadline:
                    return None
    except Exception:  # noqa: BLE001 - any failure (a broken or odd answer) means the wall clock
        return None
    if len(body) > _MAX_BODY:
        return None
    try:
        clock = json.loads(body)
    except ValueError:
        return None
    if not isinstance(clock, dict) or clock.get("kind") != "fake":
        return None
    now = clock.get("now")
    if isinstance(now, bool) or not isinstance(now, int | float) or not 0 <= now < 2**40:
        return None
    return float(now)

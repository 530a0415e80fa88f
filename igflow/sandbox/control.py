"""The clock and fault control views of ``/_sandbox/``, shared by the v1 and Graph sandboxes."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from igflow.sandbox import envelope
from igflow.sandbox.clock import Clock, FakeClock
from igflow.sandbox.faults import FaultInjector, FaultSpec, FaultSpecError


def _error(status: int, message: str) -> Response:
    return envelope.json_response({"error": message}, status=status)


def clock_view(clock: Clock, request: Request) -> Response:
    """``GET|POST /_sandbox/clock``: read the clock, or ``{"advance": s}`` / ``{"set": epoch}``."""
    if request.method == "POST":
        if not isinstance(clock, FakeClock):
            return _error(
                409, "the sandbox runs on real time; start it with --clock fake to move the clock"
            )
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not ({"advance", "set"} & set(body)):
            return _error(400, 'send {"advance": seconds} or {"set": epoch}')
        try:
            if "set" in body:
                clock.set(float(body["set"]))
            if "advance" in body:
                clock.advance(float(body["advance"]))
        except (TypeError, ValueError):
            return _error(400, "clock values must be numbers")
    return envelope.json_response(
        {"kind": "fake" if clock.controllable else "real", "now": clock.now()}
    )


def faults_view(faults: FaultInjector, request: Request) -> Response:
    """``GET|POST /_sandbox/faults``: read or replace the fault spec (``{}`` clears it)."""
    if request.method == "POST":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "send a JSON object of fault settings ({} clears every fault)")
        try:
            faults.set(FaultSpec.from_dict(body))
        except FaultSpecError as exc:
            return _error(400, str(exc))
    return envelope.json_response(faults.spec.to_dict())

"""igflow's own control endpoints under ``/_sandbox/`` (not part of the Instagram API).

They let a runner or a test discover the demo clients and users, register clients, move the fake
clock, change faults and reset rate limits while a sandbox runs. The sandbox only ever listens
on loopback, so they need no authentication. ``/_sandbox/info`` prints client secrets and demo
passwords: that is the one documented exception to redaction (the data is demo data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from igflow.sandbox import control, envelope
from igflow.sandbox.clients import Client, ClientSpecError, OAuthState, UserStore, user_resolver
from igflow.sandbox.clock import Clock
from igflow.sandbox.faults import FaultInjector
from igflow.sandbox.ratelimit import RateLimiter


def _error(status: int, message: str) -> Response:
    return envelope.json_response({"error": message}, status=status)


def user_summary(user: dict[str, Any]) -> dict[str, Any]:
    """A user as the admin listing shows it, password included (demo data)."""
    return {
        "id": str(user.get("id", "")),
        "username": user.get("username", ""),
        "full_name": user.get("full_name", ""),
        "private": bool(user.get("private", user.get("is_private", False))),
        "password": user.get("password", ""),
    }


@dataclass
class AdminViews:
    """The handlers of ``/_sandbox/*``; each takes the request and returns a JSON response."""

    state: OAuthState
    store: UserStore
    clock: Clock
    faults: FaultInjector
    limiter: RateLimiter
    era: str

    def routes(self) -> dict[str, tuple[tuple[str, ...], Callable[[Request], Response]]]:
        """Path (without trailing slash) → (methods, view)."""
        return {
            "/_sandbox/info": (("GET",), self.info),
            "/_sandbox/clients": (("GET", "POST"), self.clients),
            "/_sandbox/clock": (("GET", "POST"), self.clock_view),
            "/_sandbox/faults": (("GET", "POST"), self.faults_view),
            "/_sandbox/reset-rate-limits": (("POST",), self.reset_rate_limits),
        }

    def info(self, request: Request) -> Response:
        return envelope.json_response(
            {
                "sandbox": True,
                "api": "instagram.v1",
                "era": self.era,
                "clock": {
                    "kind": "fake" if self.clock.controllable else "real",
                    "now": self.clock.now(),
                },
                "clients": [client.public() for client in self.state.clients()],
                "users": [user_summary(user) for user in self.store.list_users()],
            }
        )

    def clients(self, request: Request) -> Response:
        if request.method == "GET":
            return envelope.json_response([client.public() for client in self.state.clients()])
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(
                400,
                "send a JSON object: {name, redirect_uris, implicit, signed, mode, sandbox_users}",
            )
        try:
            client = add_client_from_json(self.state, self.store, body)
        except ClientSpecError as exc:
            return _error(400, str(exc))
        return envelope.json_response(
            {**client.public(), "sandbox_users": list(client.sandbox_users)}, status=201
        )

    def clock_view(self, request: Request) -> Response:
        return control.clock_view(self.clock, request)

    def faults_view(self, request: Request) -> Response:
        return control.faults_view(self.faults, request)

    def reset_rate_limits(self, request: Request) -> Response:
        self.limiter.reset()
        return envelope.json_response({"reset": True})


def add_client_from_json(state: OAuthState, store: UserStore, body: dict[str, Any]) -> Client:
    """Register a client described as JSON (the admin endpoint, ``clients add --db``)."""
    known = {"name", "redirect_uris", "implicit", "signed", "mode", "sandbox_users"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ClientSpecError(f"unknown client field(s): {', '.join(unknown)}")
    name = body.get("name") or f"client-{len(state.clients()) + 1}"
    uris = body.get("redirect_uris", ["http://localhost"])
    if isinstance(uris, str):
        uris = [uris]
    mode = body.get("mode", "sandbox")
    resolve = user_resolver(store)
    wanted = body.get("sandbox_users")
    if wanted is None:
        # Like a new app whose owner invited the default client's testers.
        default = state.client_by_name("default")
        users = list(default.sandbox_users) if default else []
    else:
        if not isinstance(wanted, list):
            raise ClientSpecError("sandbox_users must be a list of usernames")
        users = []
        for name_or_id in wanted:
            user_id = resolve(str(name_or_id))
            if user_id is None:
                raise ClientSpecError(f"unknown sandbox user '{name_or_id}'")
            users.append(user_id)
    for flag in ("implicit", "signed"):
        if flag in body and not isinstance(body[flag], bool):
            raise ClientSpecError(f"{flag} must be true or false")
    return state.add_client(
        name=str(name),
        redirect_uris=list(uris) if isinstance(uris, list) else [],
        implicit=body.get("implicit", True),
        signed=body.get("signed", False),
        mode=str(mode),
        sandbox_users=users,
    )

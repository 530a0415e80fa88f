"""igflow's own control endpoints under ``/_sandbox/`` (not part of the Instagram API).

They let a runner or a test discover the demo clients and users, register, change and remove
clients, list and revoke grants, reset the whole state, move the fake clock, change faults and
reset rate limits while a sandbox runs (docs/sandbox.md lists them). The sandbox only ever listens
on loopback, so they need no authentication. ``/_sandbox/info`` prints client secrets and demo
passwords: that is the one documented exception to redaction (the data is demo data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from igflow.sandbox import control, envelope
from igflow.sandbox.clients import (
    Client,
    ClientSpecError,
    Grant,
    OAuthState,
    UserStore,
    user_resolver,
)
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
    # Puts the state back to the dataset (the app's; a no-op stand-in for bare AdminViews).
    reset_state: Callable[[], None] = field(default=lambda: None)

    def routes(self) -> dict[str, tuple[tuple[str, ...], Callable[..., Response]]]:
        """Path (a werkzeug rule, without trailing slash) → (methods, view)."""
        return {
            "/_sandbox/info": (("GET",), self.info),
            "/_sandbox/clients": (("GET", "POST"), self.clients),
            "/_sandbox/clients/<name>": (("GET", "PATCH", "DELETE"), self.one_client),
            "/_sandbox/grants": (("GET", "DELETE"), self.grants),
            "/_sandbox/reset": (("POST",), self.reset),
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
            return envelope.json_response([client_json(c) for c in self.state.clients()])
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
        return envelope.json_response(client_json(client), status=201)

    def one_client(self, request: Request, name: str) -> Response:
        """GET shows a client (by name or id), PATCH changes its settings, DELETE removes it."""
        client = find_client(self.state, name)
        if client is None:
            return _error(404, unknown_client_message(self.state, name))
        if request.method == "DELETE":
            self.state.remove_client(client.client_id)
            return envelope.json_response({"removed": client.name, "client_id": client.client_id})
        if request.method == "PATCH":
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return _error(
                    400,
                    "send a JSON object: {redirect_uris, implicit, signed, mode, sandbox_users}",
                )
            try:
                client = update_client_from_json(self.state, self.store, client, body)
            except ClientSpecError as exc:
                return _error(400, str(exc))
        return envelope.json_response(client_json(client))

    def grants(self, request: Request) -> Response:
        """GET lists grants (``?user=`` narrows); DELETE ``?user=U&client=C`` revokes one."""
        resolve = user_resolver(self.store)
        user = request.args.get("user")
        user_id = None
        if user is not None:
            user_id = resolve(user)
            if user_id is None:
                return _error(404, f"no sandbox user '{user}'")
        if request.method == "GET":
            return envelope.json_response(
                [grant_json(self.state, self.store, g) for g in self.state.grants(user_id)]
            )
        name = request.args.get("client")
        if user_id is None or not name:
            return _error(400, "say whose grant to revoke: DELETE /_sandbox/grants?user=U&client=C")
        client = find_client(self.state, name)
        if client is None:
            return _error(404, unknown_client_message(self.state, name))
        grant = self.state.revoke(user_id, client.client_id)
        if grant is None:
            return _error(404, f"'{user}' has not authorized '{client.name}'")
        return envelope.json_response({"revoked": grant_json(self.state, self.store, grant)})

    def reset(self, request: Request) -> Response:
        self.reset_state()
        return envelope.json_response({"reset": True})

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
    wanted = body.get("sandbox_users")
    if wanted is None:
        # Like a new app whose owner invited the default client's testers.
        default = state.client_by_name("default")
        users = list(default.sandbox_users) if default else []
    else:
        users = _user_ids(store, wanted)
    _check_flags(body)
    return state.add_client(
        name=str(name),
        redirect_uris=list(uris) if isinstance(uris, list) else [],
        # Off unless asked for, as on the real site (reference §5.3; docs/sandbox.md).
        implicit=body.get("implicit", False),
        signed=body.get("signed", False),
        mode=str(mode),
        sandbox_users=users,
    )


def update_client_from_json(
    state: OAuthState, store: UserStore, client: Client, body: dict[str, Any]
) -> Client:
    """Apply a JSON change to a client (the admin endpoint, ``clients update --db``)."""
    known = {"redirect_uris", "implicit", "signed", "mode", "sandbox_users"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ClientSpecError(f"unknown client field(s): {', '.join(unknown)}")
    _check_flags(body)
    uris = body.get("redirect_uris")
    if isinstance(uris, str):
        uris = [uris]
    if uris is not None and not isinstance(uris, list):
        raise ClientSpecError("redirect_uris must be a list of URLs")
    mode = body.get("mode")
    wanted = body.get("sandbox_users")
    return state.update_client(
        client.client_id,
        redirect_uris=uris,
        implicit=body.get("implicit"),
        signed=body.get("signed"),
        mode=None if mode is None else str(mode),
        sandbox_users=None if wanted is None else _user_ids(store, wanted),
    )


def _check_flags(body: dict[str, Any]) -> None:
    for flag in ("implicit", "signed"):
        if flag in body and not isinstance(body[flag], bool):
            raise ClientSpecError(f"{flag} must be true or false")


def _user_ids(store: UserStore, wanted: object) -> list[str]:
    if not isinstance(wanted, list):
        raise ClientSpecError("sandbox_users must be a list of usernames")
    resolve = user_resolver(store)
    users = []
    for name_or_id in wanted:
        user_id = resolve(str(name_or_id))
        if user_id is None:
            raise ClientSpecError(f"unknown sandbox user '{name_or_id}'")
        users.append(user_id)
    return users


def find_client(state: OAuthState, name_or_id: str) -> Client | None:
    """A client by name, else by client id."""
    return state.client_by_name(name_or_id) or state.client(name_or_id)


def unknown_client_message(state: OAuthState, name: str) -> str:
    known = ", ".join(client.name for client in state.clients()) or "none"
    return f"no client named '{name}' (known: {known})"


def client_json(client: Client) -> dict[str, Any]:
    return {**client.public(), "sandbox_users": list(client.sandbox_users)}


def grant_json(state: OAuthState, store: UserStore, grant: Grant) -> dict[str, Any]:
    """A grant as the admin API shows it (its token included: demo data, as /info's secrets)."""
    user = store.user_by_id(grant.user_id) or {}
    client = state.client(grant.client_id)
    return {
        "user": user.get("username", grant.user_id),
        "user_id": grant.user_id,
        "client": client.name if client else grant.client_id,
        "client_id": grant.client_id,
        "scopes": sorted(grant.scopes),
        "token": grant.token,
    }

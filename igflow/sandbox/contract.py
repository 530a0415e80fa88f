"""The contract between the sandbox's WSGI app (pipeline) and its endpoint handlers.

The app (``app.py``) routes a request by the registry, then checks, in reference §14 order:
auth → token → signed request → rate limit → retired endpoint → the endpoint's base scope.
It then calls ``HANDLERS[endpoint.id](ctx)``. Handlers check the rest: ownership-dependent scope
(``ctx.require_scope``), visibility/existence, privacy, then params; they raise ``SandboxApiError``
for any API error and return a ``HandlerResult``. The app wraps results and errors in the
envelopes, adds rate-limit headers and JSONP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from igflow.registry import Endpoint
    from igflow.sandbox.db import Database

ERAS = ("2016", "2018-04-04", "2018-12-11", "2020-06-29")


def era_reached(current: str, retired_in: str | None) -> bool:
    """True when the sandbox's era is at or after ``retired_in`` (ISO dates compare as strings)."""
    return retired_in is not None and current != "2016" and current >= retired_in


class SandboxApiError(Exception):
    """An API error the sandbox answers with, in the ``meta`` envelope."""

    def __init__(self, code: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.error_type = error_type
        self.message = message


def permissions_message(scope: str) -> str:
    """The OAuthPermissionsException text.

    Seed wording for likes: '... to be granted this permissions.'
    """
    return (
        f"This request requires scope={scope}, but this access token is not authorized with this "
        f"scope. The user must re-authorize your application with scope={scope} to be granted "
        f"this permissions."
    )


@dataclass(frozen=True)
class Viewer:
    """Who is calling: the token's user and client."""

    user_id: str
    client_id: str
    scopes: frozenset[str]
    client_mode: str  # "sandbox" | "live"
    # Sandbox-mode clients see only their sandbox users (and each one's 20 most recent media).
    # None for live clients: everything is visible.
    sandbox_users: frozenset[str] | None = None


@dataclass
class RequestContext:
    endpoint: Endpoint
    path_params: Mapping[str, str]
    params: Mapping[str, str]  # query + form, without access_token, sig, callback
    viewer: Viewer | None  # None for client-credential and unauthenticated endpoints
    client_id: str | None  # client of the token, or of the client credentials
    era: str
    db: Database
    now: float  # the sandbox clock, epoch seconds
    next_url: Callable[[Mapping[str, str]], str]  # the caller's URL with these params replaced

    def require_scope(self, scope: str) -> None:
        """Raise OAuthPermissionsException unless the token was granted ``scope``."""
        if self.viewer is not None and scope not in self.viewer.scopes:
            raise SandboxApiError(400, "OAuthPermissionsException", permissions_message(scope))

    def is_own(self, owner_id: str) -> bool:
        return self.viewer is not None and owner_id == self.viewer.user_id

    def check_owner_rules(self, owner_id: str) -> None:
        """For endpoints whose rules depend on ownership: retirement for others' data, then scope.

        Call this as soon as the owner of the addressed resource is known.
        """
        if self.is_own(owner_id):
            return
        if era_reached(self.era, self.endpoint.retired_for_others):
            raise SandboxApiError(400, "APINotAllowedError", "This endpoint has been retired")
        if self.endpoint.scope_if_not_owner:
            self.require_scope(self.endpoint.scope_if_not_owner)


@dataclass
class HandlerResult:
    data: Any
    pagination: dict[str, Any] | None = None  # None: no pagination key; {} on the last page
    status: int = 200
    # top-level body keys (oEmbed returns a bare object)
    extra: dict[str, Any] = field(default_factory=dict)
    bare: bool = False  # True: the body is `data` itself, no envelope (oEmbed)


Handler = Callable[[RequestContext], HandlerResult]

# Marks a handler that must not run inside the request's transaction (see ``own_transaction``).
OWN_TRANSACTION_ATTR = "_sandbox_own_transaction"


def own_transaction(handler: Handler) -> Handler:
    """Run this handler outside the app's per-request transaction.

    For handlers that do slow outside I/O before writing (the subscription challenge GET): the
    transaction holds the database lock, so every other request, including one the callback
    itself makes to the sandbox, would wait for that I/O. Such a handler opens its own
    transaction around its writes, so a failure before them still changes nothing.
    """
    setattr(handler, OWN_TRANSACTION_ATTR, True)
    return handler

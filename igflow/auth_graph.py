"""The `authorize` step for instagram.graph: Instagram Login, as a person would go through it.

Against a Graph sandbox (graph-api.md §2.1, the contract in docs/graph.md):

1. ``GET /oauth/authorize?client_id&redirect_uri&response_type=code&scope=a,b&state`` and the
   login and consent pages (the same page shapes the v1 sandbox serves, driven by
   :func:`igflow.auth.drive_login_pages`), to ``redirect_uri?code=...&state=...#_``; the
   ``state`` must come back unchanged and the ``#_`` is not part of the code.
2. ``POST /oauth/access_token`` (form: client_id, client_secret, grant_type, redirect_uri,
   code) -> ``{"data": [{"access_token", "user_id", "permissions"}]}`` (a flat body is read
   too, as third-party clients report seeing both). Its errors have the OAuth shape
   ``{"error_type", "code", "error_message"}``.
3. The short-lived token (1 h) is exchanged for a long-lived one (60 days) with the registry's
   ``auth.exchange_token``, sent by the ApiClient like any call: the token in the
   Authorization header, a Graph error typed like any other.

With ``token:`` the token is used as it is (no exchange): :class:`igflow.target.TargetSession`
handles that before this module is reached.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from igflow.auth import _oauth_error, _send, drive_login_pages
from igflow.bounded import DEFAULT_MAX_RESPONSE_BYTES
from igflow.errors import OAuthError

if TYPE_CHECKING:
    import requests

    from igflow.client import ApiClient

__all__ = ["authorize_graph_sandbox", "code_from_redirect", "short_lived_token"]

EXCHANGE_ENDPOINT = "auth.exchange_token"


def code_from_redirect(location: str, state: str) -> str:
    """The code of an Instagram Login redirect (``?code=...&state=...#_``).

    Raises:
        OAuthError: The user (or the sandbox) refused, the state does not match, or there is
            no code.
    """
    query = parse_qs(urlsplit(location).query)
    if "error" in query:
        reason = query.get("error_description", query.get("error_reason", query["error"]))[0]
        raise OAuthError(f"authorization refused: {reason}", error_type=query["error"][0])
    if query.get("state", [""])[0] != state:
        raise OAuthError("the authorize redirect's state does not match the request's")
    codes = query.get("code")
    if not codes or not codes[0]:
        raise OAuthError("the authorize redirect carried no code")
    # The fragment `#_` is already left out by urlsplit; a code pasted with it is cleaned too.
    return codes[0].removesuffix("#_")


def short_lived_token(body: Any) -> tuple[str, str | None] | None:
    """(access_token, user_id) from the code exchange's answer, in either shape; None if not."""
    entry = body
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        entry = body["data"][0]
    if isinstance(entry, dict) and isinstance(entry.get("access_token"), str):
        user_id = entry.get("user_id")
        return entry["access_token"], None if user_id is None else str(user_id)
    return None


def authorize_graph_sandbox(
    session: requests.Session,
    origin: str,
    *,
    api: ApiClient,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    username: str,
    password: str,
    scopes: Sequence[str],
    timeout: float = 10.0,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> str:
    """Log in to a Graph sandbox as ``username``, grant ``scopes``; return a long-lived token.

    Raises:
        OAuthError: A page, the code exchange or the user refused (a personal account's login
            is refused as the real one is), with the sandbox's message.
        ApiError: The long-lived exchange answered a Graph error (typed).
        TransportError: The sandbox could not be reached.
    """
    state = secrets.token_urlsafe(16)
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ",".join(scopes),
            "state": state,
        }
    )
    location = drive_login_pages(
        session,
        f"{origin}/oauth/authorize?{query}",
        origin=origin,
        redirect_uri=redirect_uri,
        username=username,
        password=password,
        timeout=timeout,
        max_response_bytes=max_response_bytes,
    )
    code = code_from_redirect(location, state)
    api.redactor.add(code)
    response = _send(
        session,
        "POST",
        f"{origin}/oauth/access_token",
        data={
            "client_id": client_id,
            "client_secret": client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            "code": code,
        },
        timeout=timeout,
        where=f"the sandbox at {origin}",
        max_bytes=max_response_bytes,
    )
    try:
        body: Any = response.json()
    except (ValueError, RecursionError):
        body = None
    found = short_lived_token(body) if response.status_code == 200 else None
    if found is None:
        raise _oauth_error(response)
    short, _user_id = found
    api.redactor.add(short)
    exchange = api.registry.get(EXCHANGE_ENDPOINT)
    answer = api.call(
        exchange,
        {"grant_type": "ig_exchange_token", "client_secret": client_secret},
        token=short,
    ).body
    long_lived = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(long_lived, str) or not long_lived:
        raise OAuthError("the long-lived token exchange answered no access_token")
    api.redactor.add(long_lived)
    return long_lived

"""The long-lived token exchange and the refresh (§2.1 steps 3 and 4), on the sandbox clock."""

from __future__ import annotations

import hmac
from typing import Any

from igflow.sandbox.graph.context import Ctx
from igflow.sandbox.graph.errors import GraphError


def exchange(ctx: Ctx) -> Any:
    """``GET /access_token?grant_type=ig_exchange_token&client_secret=`` → a 60-day token."""
    assert ctx.token is not None and ctx.app is not None
    grant = ctx.param("grant_type", required=True)
    if grant != "ig_exchange_token":
        raise GraphError("bad_grant_type", grant_type=grant)
    secret = ctx.param("client_secret", required=True) or ""
    if not hmac.compare_digest(secret.encode(), ctx.app.secret.encode()):
        raise GraphError("token_bad_secret")
    if ctx.token.kind != "short":
        raise GraphError("token_exchange_not_short")
    return _issue(ctx)


def refresh(ctx: Ctx) -> Any:
    """``GET /refresh_access_token?grant_type=ig_refresh_token``: only once 24 h old (§2.1)."""
    assert ctx.token is not None
    grant = ctx.param("grant_type", required=True)
    if grant != "ig_refresh_token":
        raise GraphError("bad_grant_type", grant_type=grant)
    if ctx.token.kind != "long":
        raise GraphError("token_exchange_not_short")
    if ctx.now - ctx.token.issued < ctx.rules.number("tokens", "refresh_after_seconds"):
        raise GraphError("token_refresh_too_early")
    if "instagram_business_basic" not in ctx.token.scopes:
        raise GraphError("permission_read")
    return _issue(ctx)


def _issue(ctx: Ctx) -> Any:
    assert ctx.token is not None
    lifetime = ctx.rules.number("tokens", "long_seconds")
    token = ctx.store.issue_token(
        "long", ctx.token.user_id, ctx.token.client_id, ctx.token.scopes, ctx.now, lifetime
    )
    ctx.extra["issued"] = token.token
    return {"access_token": token.token, "token_type": "bearer", "expires_in": int(lifetime)}

"""Realtime subscriptions (client credentials): create with a challenge, list, delete.

Create first makes the synchronous challenge GET the real API made (reference §11.2) and only
stores the subscription when the callback echoes ``hub.challenge`` exactly.
"""

from __future__ import annotations

import secrets
from typing import Any

import requests

from igflow.sandbox import ids
from igflow.sandbox.contract import (
    HandlerResult,
    RequestContext,
    SandboxApiError,
    own_transaction,
)
from igflow.sandbox.handlers._common import float_param, int_param, store_of

OBJECTS = ("user", "tag", "location", "geography")
CHALLENGE_TIMEOUT = (3.0, 5.0)  # connect, read: a hung callback must not hold the request long
GEOGRAPHY_RADIUS = 1000  # metres, when the client gives none; the real maximum is unknown
GEOGRAPHY_MAX_RADIUS = 5000
CALLBACK_FORMAT = 'Invalid format for "callback_url". URL must start with "http://" or "https://"'
# Only the first sentence is on record; the rest is the sandbox's.
CHALLENGE_FAILED = (
    "Challenge verification failed. The callback must answer the GET with the hub.challenge "
    "value as the whole body."
)


def subscription_error(message: str) -> SandboxApiError:
    return SandboxApiError(400, "APISubscriptionError", message)


def _client(ctx: RequestContext) -> str:
    if not ctx.client_id:
        raise subscription_error('Invalid "client_id" and/or "client_secret."')
    return ctx.client_id


def _fields(ctx: RequestContext) -> dict[str, Any]:
    """Check the form fields in the order a client would fix them: object, aspect, callback."""
    obj = ctx.params.get("object", "")
    if obj not in OBJECTS:
        raise subscription_error(f"Invalid object '{obj}'. Must be one of: {', '.join(OBJECTS)}.")
    if ctx.params.get("aspect") != "media":
        raise subscription_error('Invalid aspect. The only aspect is "media".')
    callback = ctx.params.get("callback_url", "")
    if not callback.lower().startswith(("http://", "https://")):
        raise subscription_error(CALLBACK_FORMAT)
    fields: dict[str, Any] = {
        "object": obj,
        "aspect": "media",
        "callback_url": callback,
        "verify_token": ctx.params.get("verify_token"),
    }
    if obj in ("tag", "location"):
        object_id = ctx.params.get("object_id", "")
        if not object_id:
            raise subscription_error(f"Missing object_id for a {obj} subscription.")
        fields["object_id"] = object_id.lower() if obj == "tag" else object_id
    if obj == "geography":
        lat = float_param(ctx, "lat", low=-90, high=90)
        lng = float_param(ctx, "lng", low=-180, high=180)
        if lat is None or lng is None:
            raise subscription_error("Missing lat and lng for a geography subscription.")
        radius = int_param(ctx, "radius") or GEOGRAPHY_RADIUS
        fields.update(lat=lat, lng=lng, radius=max(1, min(radius, GEOGRAPHY_MAX_RADIUS)))
    return fields


def verify_callback(callback_url: str, verify_token: str | None) -> None:
    """The hub challenge: GET the callback, expect the challenge back verbatim."""
    challenge = secrets.token_hex(16)
    params = {"hub.mode": "subscribe", "hub.challenge": challenge}
    if verify_token is not None:
        params["hub.verify_token"] = verify_token
    try:
        response = requests.get(
            callback_url, params=params, timeout=CHALLENGE_TIMEOUT, allow_redirects=False
        )
    except requests.RequestException:
        raise subscription_error(f"Unable to reach callback URL {callback_url}") from None
    if response.status_code != 200 or response.text != challenge:
        raise subscription_error(CHALLENGE_FAILED)


@own_transaction
def create(ctx: RequestContext) -> HandlerResult:
    client_id = _client(ctx)
    fields = _fields(ctx)
    # The challenge runs before the write and outside any transaction: the database lock is not
    # held while the callback answers, so it may call the sandbox itself.
    verify_callback(fields["callback_url"], fields["verify_token"])
    with ctx.db.transaction():
        created = store_of(ctx).add_subscription(client_id, fields)
    return HandlerResult(data=created)


def list_(ctx: RequestContext) -> HandlerResult:
    return HandlerResult(data=store_of(ctx).subscriptions(_client(ctx)))


def delete(ctx: RequestContext) -> HandlerResult:
    """By ``id``, or by ``object`` (all or one kind, optionally with ``object_id``)."""
    client_id = _client(ctx)
    sub_id = ctx.params.get("id") or None
    obj = ctx.params.get("object") or None
    if sub_id is None and obj is None:
        raise subscription_error("Missing id or object parameter.")
    if obj is not None and obj not in ("all", *OBJECTS):
        raise subscription_error(f"Invalid object '{obj}'. Must be all, {', '.join(OBJECTS)}.")
    if sub_id is not None and ids.parse_decimal(sub_id) is None:
        raise subscription_error("Invalid id.")
    with ctx.db.transaction():
        store_of(ctx).delete_subscriptions(
            client_id, sub_id=sub_id, obj=obj, object_id=ctx.params.get("object_id") or None
        )
    return HandlerResult(data=None)


HANDLERS = {
    "subscriptions.create": create,
    "subscriptions.list": list_,
    "subscriptions.delete": delete,
}

"""Endpoint handlers of the sandbox, one module per family, keyed by registry endpoint id.

Each handler takes a ``RequestContext`` and returns a ``HandlerResult`` or raises
``SandboxApiError`` (see ``igflow.sandbox.contract`` for what the app checks before).
"""

from __future__ import annotations

from igflow.sandbox.contract import Handler
from igflow.sandbox.handlers import (
    comments,
    geographies,
    likes,
    locations,
    media,
    oembed,
    relationships,
    subscriptions,
    tags,
    users,
)

HANDLERS: dict[str, Handler] = {
    **users.HANDLERS,
    **relationships.HANDLERS,
    **media.HANDLERS,
    **comments.HANDLERS,
    **likes.HANDLERS,
    **tags.HANDLERS,
    **locations.HANDLERS,
    **geographies.HANDLERS,
    **subscriptions.HANDLERS,
    **oembed.HANDLERS,
}

__all__ = ["HANDLERS"]

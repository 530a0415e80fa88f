"""Which endpoint a Graph request is: (node type, edge, method) → endpoint id and handler.

The ids are those of the registry profile ``instagram.graph`` (the graph-contract of issue 14):
the request log records them and the conformance suite is keyed by them. Facebook-Login-only
endpoints are listed so they answer as the real host does for an Instagram Login token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from igflow.sandbox.graph import handlers as h
from igflow.sandbox.graph import insights, publishing
from igflow.sandbox.graph.context import Ctx

BASIC = "instagram_business_basic"
COMMENTS = "instagram_business_manage_comments"
PUBLISH = "instagram_business_content_publish"
INSIGHTS = "instagram_business_manage_insights"


@dataclass(frozen=True)
class Route:
    endpoint: str
    permission: str | None
    handler: Callable[[Ctx, dict[str, Any]], Any] | None  # None: Facebook Login only


ROUTES: dict[tuple[str, str, str], Route] = {
    ("IGUser", "", "GET"): Route("users.get", BASIC, h.node_get("IGUser")),
    ("IGUser", "media", "GET"): Route("users.media", BASIC, h.edge_get("IGUser", "media")),
    ("IGUser", "stories", "GET"): Route("users.stories", BASIC, h.edge_get("IGUser", "stories")),
    ("IGUser", "insights", "GET"): Route("users.insights", INSIGHTS, insights.user_insights),
    ("IGUser", "content_publishing_limit", "GET"): Route(
        "users.publishing_limit", PUBLISH, publishing.publishing_limit
    ),
    ("IGUser", "mentions", "POST"): Route("users.mention_reply", COMMENTS, h.mention_reply),
    ("IGUser", "subscribed_apps", "GET"): Route("users.subscribed_apps", BASIC, h.subscribed_apps),
    ("IGUser", "subscribed_apps", "POST"): Route("users.subscribe_app", BASIC, h.subscribe_app),
    ("IGUser", "subscribed_apps", "DELETE"): Route(
        "users.unsubscribe_app", BASIC, h.unsubscribe_app
    ),
    ("IGUser", "media", "POST"): Route("containers.create", PUBLISH, publishing.create_container),
    ("IGUser", "media_publish", "POST"): Route("media.publish", PUBLISH, publishing.publish),
    ("IGUser", "likes", "POST"): Route("users.like", None, None),
    ("IGMedia", "", "GET"): Route("media.get", BASIC, h.node_get("IGMedia")),
    ("IGMedia", "", "POST"): Route("media.set_comment_enabled", COMMENTS, h.set_comment_enabled),
    ("IGMedia", "", "DELETE"): Route("media.delete", None, None),
    ("IGMedia", "children", "GET"): Route(
        "media.children", BASIC, h.edge_get("IGMedia", "children")
    ),
    ("IGMedia", "insights", "GET"): Route("media.insights", INSIGHTS, insights.media_insights),
    ("IGMedia", "comments", "GET"): Route(
        "media.comments", BASIC, h.edge_get("IGMedia", "comments")
    ),
    ("IGMedia", "comments", "POST"): Route("media.comment", COMMENTS, h.media_comment),
    ("IGComment", "", "GET"): Route("comments.get", BASIC, h.node_get("IGComment")),
    ("IGComment", "", "POST"): Route("comments.hide", COMMENTS, h.comment_post),
    ("IGComment", "", "DELETE"): Route("comments.delete", COMMENTS, h.comment_delete),
    ("IGComment", "replies", "GET"): Route(
        "comments.replies", BASIC, h.edge_get("IGComment", "replies")
    ),
    ("IGComment", "replies", "POST"): Route("comments.reply", COMMENTS, h.comment_replies_post),
    ("IGContainer", "", "GET"): Route("containers.get", PUBLISH, publishing.container_get),
}

# Paths that are not a node: the hashtag search (Facebook Login only) and the token calls.
HASHTAG_SEARCH = Route("hashtags.search", None, None)
HASHTAG_EDGES = {
    "recent_media": Route("hashtags.recent_media", None, None),
    "top_media": Route("hashtags.top_media", None, None),
}
BUSINESS_DISCOVERY = "users.business_discovery"
TOKEN_ENDPOINTS = {
    "access_token": "auth.exchange_token",
    "refresh_access_token": "auth.refresh_token",
}

# Every endpoint id the sandbox answers (the conformance suite compares its cases with it).
ENDPOINT_IDS = sorted(
    {route.endpoint for route in ROUTES.values()}
    | {HASHTAG_SEARCH.endpoint, BUSINESS_DISCOVERY, "me"}
    | {route.endpoint for route in HASHTAG_EDGES.values()}
    | set(TOKEN_ENDPOINTS.values())
)

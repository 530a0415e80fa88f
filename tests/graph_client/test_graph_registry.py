"""The instagram.graph registry: valid data, the contract's endpoint ids, versions, FB marks."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from igflow.errors import UsageError
from igflow.registry import PROFILES, load_registry
from igflow.resources import package_data

ROOT = Path(__file__).resolve().parents[2]

# The endpoint table of the Graph contract (docs/graph.md "Endpoints"): id -> method, path,
# mutates, idempotent. The conformance suite of the sandbox is keyed by the same ids.
CONTRACT = {
    "me": ("GET", "/me", False, True),
    "users.get": ("GET", "/{user_id}", False, True),
    "users.media": ("GET", "/{user_id}/media", False, True),
    "users.stories": ("GET", "/{user_id}/stories", False, True),
    "users.insights": ("GET", "/{user_id}/insights", False, True),
    "users.publishing_limit": ("GET", "/{user_id}/content_publishing_limit", False, True),
    "users.mention_reply": ("POST", "/{user_id}/mentions", True, False),
    "users.subscribed_apps": ("GET", "/{user_id}/subscribed_apps", False, True),
    "users.subscribe_app": ("POST", "/{user_id}/subscribed_apps", True, True),
    "users.unsubscribe_app": ("DELETE", "/{user_id}/subscribed_apps", True, True),
    "media.get": ("GET", "/{media_id}", False, True),
    "media.children": ("GET", "/{media_id}/children", False, True),
    "media.insights": ("GET", "/{media_id}/insights", False, True),
    "media.comments": ("GET", "/{media_id}/comments", False, True),
    "media.comment": ("POST", "/{media_id}/comments", True, False),
    "media.set_comment_enabled": ("POST", "/{media_id}", True, True),
    "comments.get": ("GET", "/{comment_id}", False, True),
    "comments.replies": ("GET", "/{comment_id}/replies", False, True),
    "comments.reply": ("POST", "/{comment_id}/replies", True, False),
    "comments.hide": ("POST", "/{comment_id}", True, True),
    "comments.delete": ("DELETE", "/{comment_id}", True, True),
    "containers.create": ("POST", "/{user_id}/media", True, False),
    "containers.get": ("GET", "/{container_id}", False, True),
    "media.publish": ("POST", "/{user_id}/media_publish", True, False),
    "auth.exchange_token": ("GET", "/access_token", False, True),
    "auth.refresh_token": ("GET", "/refresh_access_token", False, True),
    "hashtags.search": ("GET", "/ig_hashtag_search", False, True),
    "hashtags.recent_media": ("GET", "/{hashtag_id}/recent_media", False, True),
    "hashtags.top_media": ("GET", "/{hashtag_id}/top_media", False, True),
    "users.business_discovery": ("GET", "/{user_id}", False, True),
    "users.like": ("POST", "/{user_id}/likes", True, True),
    "media.delete": ("DELETE", "/{media_id}", True, True),
}
FACEBOOK_ONLY = {
    "hashtags.search",
    "hashtags.recent_media",
    "hashtags.top_media",
    "users.business_discovery",
    "users.like",
    "media.delete",
}


def test_the_profile_is_valid_against_the_registry_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "registry.schema.json").read_text())
    with open(package_data("registry", PROFILES["instagram.graph"]), encoding="utf-8") as fh:
        jsonschema.validate(yaml.safe_load(fh), schema)


def test_the_endpoints_are_exactly_the_contracts() -> None:
    registry = load_registry("instagram.graph")
    assert set(registry.endpoints) == set(CONTRACT)
    for endpoint_id, (method, path, mutates, idempotent) in CONTRACT.items():
        endpoint = registry.get(endpoint_id)
        assert (endpoint.method, endpoint.path) == (method, path), endpoint_id
        assert (endpoint.mutates, endpoint.idempotent) == (mutates, idempotent), endpoint_id


def test_every_instagram_login_endpoint_names_its_permission() -> None:
    registry = load_registry("instagram.graph")
    for endpoint in registry.endpoints.values():
        if endpoint.id.startswith("auth."):
            assert endpoint.scope is None and endpoint.prefix == ""
        elif endpoint.id in FACEBOOK_ONLY:
            assert endpoint.login == "facebook" and endpoint.permission
        else:
            assert endpoint.scope in registry.scopes, endpoint.id
            assert endpoint.scope.startswith("instagram_business_")
            assert endpoint.prefix == "/v25.0"


def test_non_idempotent_writes_can_be_reconciled_or_are_said_not_to_be() -> None:
    registry = load_registry("instagram.graph")
    reconciled = {e.id for e in registry.endpoints.values() if e.reconcile is not None}
    assert reconciled == {"media.comment", "comments.reply", "media.publish"}
    publish = registry.get("media.publish").reconcile
    assert publish is not None
    assert publish.call == "containers.get" and publish.equals == {"status_code": "PUBLISHED"}
    comment = registry.get("media.comment").reconcile
    assert comment is not None and comment.author == "from.id"
    assert comment.match == {"text": "message"}


def test_the_version_is_pinned_and_can_be_chosen() -> None:
    assert load_registry("instagram.graph").get("me").prefix == "/v25.0"
    older = load_registry("instagram.graph", "v24.0")
    assert older.get("me").prefix == "/v24.0" and older.version == "v24.0"
    assert older.get("auth.refresh_token").prefix == ""  # unversioned paths stay so


@pytest.mark.parametrize("bad", ["25.0", "v25", "latest", "v25.0/../x"])
def test_a_version_that_is_not_one_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="looks like v25.0"):
        load_registry("instagram.graph", bad)


def test_v1_has_no_versions_to_choose() -> None:
    with pytest.raises(UsageError, match="no API versions"):
        load_registry("instagram.v1", "v25.0")


def test_request_mechanics_are_profile_data() -> None:
    graph, v1 = load_registry("instagram.graph"), load_registry("instagram.v1")
    assert (graph.token_placement, v1.token_placement) == ("bearer", "param")
    assert (graph.error_style, v1.error_style) == ("graph", "v1-meta")
    assert (graph.usage_headers, v1.usage_headers) == ("graph-usage", "x-ratelimit")
    assert graph.next_url_path == "paging.next"
    assert (graph.sign_scheme, graph.sign_param) == ("appsecret-proof", "appsecret_proof")
    assert graph.get("users.media").params["fields"].type == "list"

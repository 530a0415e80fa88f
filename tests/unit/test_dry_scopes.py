"""The scopes a dry run's authorize steps ask for: the reads', never the writes'."""

from __future__ import annotations

from runner_fakes import compile_text

from igflow.dry_scopes import capped, read_scopes


def test_read_scopes_come_from_the_reads_and_include_basic() -> None:
    playbook = compile_text(
        """
        steps:
          - authorize:
              scopes: [basic, public_content, follower_list, likes, comments]
              user: me
          - call: media.shortcode          # basic, or public_content for others' media
            with: {shortcode: abc}
          - call: relationships.follows    # follower_list
          - call: likes.create             # a write: its likes (and public_content) do not count
            with: {media_id: "1_2"}
          - call: comments.delete
            with: {media_id: "1_2", comment_id: "3"}
        """
    )
    assert read_scopes(playbook) == {"basic", "public_content", "follower_list"}


def test_a_playbook_without_reads_needs_only_basic() -> None:
    playbook = compile_text(
        """
        steps:
          - authorize: {scopes: [basic, likes], user: me}
          - call: likes.create
            with: {media_id: "1_2"}
        """
    )
    assert read_scopes(playbook) == {"basic"}


def test_capped_keeps_the_order_drops_the_rest_and_never_asks_for_nothing() -> None:
    allowed = frozenset({"basic", "public_content"})
    assert capped(["public_content", "likes", "basic", "basic"], allowed) == (
        "public_content",
        "basic",
    )
    assert capped(["likes", "comments"], allowed) == ("basic",)
    assert capped([], allowed) == ("basic",)


def test_a_graph_dry_run_asks_for_the_reads_permissions_and_the_base_one() -> None:
    from igflow.registry import load_registry

    registry = load_registry("instagram.graph")
    assert registry.base_scope == "instagram_business_basic"
    playbook = compile_text(
        """
        api: instagram.graph
        steps:
          - authorize:
              scopes: [instagram_business_basic, instagram_business_manage_comments]
              user: mira.makes
          - call: me
          - call: comments.hide
            with: {comment_id: "1", hide: true}
        """
    )
    allowed = read_scopes(playbook, registry.base_scope)
    assert allowed == {"instagram_business_basic"}
    assert capped(["instagram_business_manage_comments"], allowed, registry.base_scope) == (
        "instagram_business_basic",
    )

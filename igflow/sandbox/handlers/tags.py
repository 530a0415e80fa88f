"""/tags: a tag's media count, its recent media (tag-id paging) and tag search."""

from __future__ import annotations

from igflow.sandbox.contract import HandlerResult, RequestContext
from igflow.sandbox.handlers._common import (
    count_param,
    media_cursor_param,
    reduced_results,
    required,
    store_of,
    visibility,
)

# Verbatim from a 2014 response (reference §2.3).
DEPRECATION_WARNING = (
    "next_max_id and min_id are deprecated for this endpoint; use min_tag_id and max_tag_id instead"
)


def _name(ctx: RequestContext) -> str:
    return ctx.path_params["tag_name"].lower()


def get(ctx: RequestContext) -> HandlerResult:
    """Every tag name exists; one nobody used has media_count 0."""
    name = _name(ctx)
    return HandlerResult(
        data={"media_count": store_of(ctx).tag_media_count(visibility(ctx), name), "name": name}
    )


def media_recent(ctx: RequestContext) -> HandlerResult:
    """Tag ids are the media pks (decimal strings), so they order like the media."""
    name = _name(ctx)
    count = count_param(ctx)
    before = media_cursor_param(ctx, "max_tag_id")
    after = media_cursor_param(ctx, "min_tag_id")
    store, vis = store_of(ctx), visibility(ctx)
    rows, more = store.media_page(
        vis,
        "m.pk IN (SELECT media_pk FROM media_tags WHERE tag = ?)",
        [name],
        count,
        before=before,
        after=after,
    )
    pagination: dict[str, str] = {}
    if more and rows:
        next_max, newest = str(rows[-1]["pk"]), str(rows[0]["pk"])
        pagination = {
            "next_max_tag_id": next_max,
            "deprecation_warning": DEPRECATION_WARNING,
            "next_max_id": next_max,
            "next_min_id": newest,
            "min_tag_id": newest,
            "next_url": ctx.next_url({"max_tag_id": next_max}),
        }
    return HandlerResult(
        data=store.media_json(rows, vis, reduced=reduced_results(ctx)), pagination=pagination
    )


def search(ctx: RequestContext) -> HandlerResult:
    # The API wants q without '#'; a leading '#' is forgiven rather than matching nothing.
    prefix = required(ctx, "q").lstrip("#")
    count = count_param(ctx)
    return HandlerResult(data=store_of(ctx).search_tags(visibility(ctx), prefix, count))


HANDLERS = {
    "tags.get": get,
    "tags.media_recent": media_recent,
    "tags.search": search,
}

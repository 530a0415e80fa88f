"""/media: one media by id or shortcode, geo search, and the (legacy) popular list."""

from __future__ import annotations

from igflow.sandbox.contract import HandlerResult, RequestContext
from igflow.sandbox.handlers._common import (
    count_param,
    distance_param,
    int_param,
    invalid_params,
    lat_lng,
    media_not_found,
    owner_of,
    require_can_view,
    resolve_media,
    store_of,
    visibility,
)

# Reference §4.3 (2015 docs): distance default 1000 m, at most 5000 m.
SEARCH_DISTANCE = 1000.0
SEARCH_MAX_DISTANCE = 5000.0


def _one(ctx: RequestContext, **key: str) -> HandlerResult:
    row = resolve_media(ctx, **key)
    require_can_view(ctx, owner_of(row))
    store = store_of(ctx)
    return HandlerResult(data=store.media_json([row], visibility(ctx))[0])


def get(ctx: RequestContext) -> HandlerResult:
    return _one(ctx, media_id=ctx.path_params["media_id"])


def shortcode(ctx: RequestContext) -> HandlerResult:
    return _one(ctx, shortcode=ctx.path_params["shortcode"])


def search(ctx: RequestContext) -> HandlerResult:
    """Media near a point, newest first, each with its ``distance`` in metres.

    min/max_timestamp filter only when given: the old 5-day default window would hide every
    media of a fixed dataset.
    """
    point = lat_lng(ctx)
    if point is None:
        raise invalid_params("Missing required parameters 'lat' and 'lng'.")
    distance = distance_param(ctx, SEARCH_DISTANCE, SEARCH_MAX_DISTANCE)
    min_time, max_time = int_param(ctx, "min_timestamp"), int_param(ctx, "max_timestamp")
    count = count_param(ctx)
    store, vis = store_of(ctx), visibility(ctx)
    rows = store.media_near(vis, point[0], point[1], distance, count, min_time, max_time)
    return HandlerResult(data=store.media_json(rows, vis))


def popular(ctx: RequestContext) -> HandlerResult:
    # Reference §4.3: apps created after 2015-11-17 got this, "popular" read as a media id.
    raise media_not_found()


HANDLERS = {
    "media.get": get,
    "media.shortcode": shortcode,
    "media.search": search,
    "media.popular": popular,
}

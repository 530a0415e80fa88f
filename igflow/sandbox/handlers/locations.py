"""/locations: one location, its recent media, and search by point or external place id."""

from __future__ import annotations

from typing import Any

from igflow.sandbox import ids
from igflow.sandbox.contract import HandlerResult, RequestContext, SandboxApiError
from igflow.sandbox.handlers._common import (
    count_param,
    distance_param,
    int_param,
    invalid_params,
    lat_lng,
    media_cursor_param,
    next_page,
    reduced_results,
    store_of,
    visibility,
)
from igflow.sandbox.views import location as location_json

# 2016+ docs (reference §4.7, [SWIFT]): default 500 m, at most 750 m.
SEARCH_DISTANCE = 500.0
SEARCH_MAX_DISTANCE = 750.0
EXTERNAL_IDS = ("foursquare_v2_id", "foursquare_id", "facebook_places_id")


def _location(ctx: RequestContext) -> dict[str, Any]:
    location_id = ids.parse_decimal(ctx.path_params["location_id"])
    row = store_of(ctx).location_row(location_id) if location_id is not None else None
    if row is None:
        # Chosen: the sources give no message for an unknown location.
        raise SandboxApiError(400, "APINotFoundError", "invalid location id")
    return row


def get(ctx: RequestContext) -> HandlerResult:
    return HandlerResult(data=location_json(_location(ctx)))


def media_recent(ctx: RequestContext) -> HandlerResult:
    location = _location(ctx)
    count = count_param(ctx)
    before = media_cursor_param(ctx, "max_id")
    after = media_cursor_param(ctx, "min_id")
    min_time, max_time = int_param(ctx, "min_timestamp"), int_param(ctx, "max_timestamp")
    store, vis = store_of(ctx), visibility(ctx)
    rows, more = store.media_page(
        vis,
        "m.location_id = ?",
        [location["id"]],
        count,
        before=before,
        after=after,
        min_time=min_time,
        max_time=max_time,
    )
    last = f"{rows[-1]['pk']}_{rows[-1]['owner']}" if more and rows else None
    return HandlerResult(
        data=store.media_json(rows, vis, reduced=reduced_results(ctx)),
        pagination=next_page(ctx, "max_id", last, next_max_id=last or ""),
    )


def search(ctx: RequestContext) -> HandlerResult:
    store = store_of(ctx)
    point = lat_lng(ctx)
    distance = distance_param(ctx, SEARCH_DISTANCE, SEARCH_MAX_DISTANCE)
    count = count_param(ctx)
    if point is not None:
        return HandlerResult(data=store.locations_near(point[0], point[1], distance, count))
    for column in EXTERNAL_IDS:
        value = ctx.params.get(column)
        if value:
            return HandlerResult(data=store.locations_by_external_id(column, value)[:count])
    raise invalid_params(
        "Missing required parameters: lat and lng, or foursquare_v2_id, foursquare_id or "
        "facebook_places_id."
    )


HANDLERS = {
    "locations.get": get,
    "locations.media_recent": media_recent,
    "locations.search": search,
}

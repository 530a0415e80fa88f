"""What every handler family shares: error constructors, the §14 check steps, params, paging.

The app has already checked auth, token, signature, rate limit, retirement and the base scope.
Handlers then run, in this order: ownership rules (``ctx.check_owner_rules``) as soon as the
owner is known, existence/visibility, privacy, then params. The helpers below each do one step
so a handler reads as that sequence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from igflow.sandbox import ids
from igflow.sandbox.contract import RequestContext, SandboxApiError, era_reached
from igflow.sandbox.store import Store
from igflow.sandbox.visibility import Visibility

DEFAULT_COUNT = 20
# The real API silently capped media pages at 33; the sandbox applies that cap to every list.
MAX_COUNT = 33
# From this era on, hashtag and location results lose names, pictures and counts (reference §12).
REDUCED_RESULTS_ERA = "2018-04-04"
# Apps created after this date (every sandbox client) cannot use ``legacy_only`` endpoints.
LEGACY_CUTOFF = "2015-11-17"


# ---- errors (exact strings from reference §7 where known) --------------------------------
def user_not_found() -> SandboxApiError:
    return SandboxApiError(400, "APINotFoundError", "this user does not exist")


def media_not_found() -> SandboxApiError:
    return SandboxApiError(400, "APINotFoundError", "invalid media id")


def not_allowed(message: str = "you cannot view this resource") -> SandboxApiError:
    return SandboxApiError(400, "APINotAllowedError", message)


def invalid_params(message: str) -> SandboxApiError:
    return SandboxApiError(400, "APIInvalidParametersError", message)


def legacy_unavailable() -> SandboxApiError:
    """Chosen (not found in the sources): what a post-2015-11-17 app gets from legacy endpoints."""
    return not_allowed("This endpoint is not available to clients created after 2015-11-17")


# ---- context shortcuts --------------------------------------------------------------------
def store_of(ctx: RequestContext) -> Store:
    return Store(ctx.db)


def viewer_id(ctx: RequestContext) -> str:
    if ctx.viewer is None:  # the registry gives every user endpoint token auth
        raise SandboxApiError(400, "OAuthParameterException", "Missing access_token URL parameter.")
    return ctx.viewer.user_id


def visibility(ctx: RequestContext) -> Visibility:
    return store_of(ctx).visibility(ctx.viewer)


def legacy_available(ctx: RequestContext) -> bool:
    """Only an era before the 2015 platform update would serve legacy endpoints (none yet)."""
    return ctx.era < LEGACY_CUTOFF


def reduced_results(ctx: RequestContext) -> bool:
    return era_reached(ctx.era, REDUCED_RESULTS_ERA)


# ---- §14 steps ----------------------------------------------------------------------------
def resolve_user(ctx: RequestContext, raw_id: str) -> dict[str, Any]:
    """The addressed user ('self' allowed): owner rules, then existence and sandbox visibility."""
    user_id = viewer_id(ctx) if raw_id == "self" else raw_id
    ctx.check_owner_rules(user_id)
    store = store_of(ctx)
    user = store.user_by_id(user_id) if ids.is_decimal(user_id) else None
    if user is None or not store.visibility(ctx.viewer).user_visible(user["id"]):
        raise user_not_found()
    return user


def resolve_media(
    ctx: RequestContext, *, media_id: str | None = None, shortcode: str | None = None
) -> dict[str, Any]:
    """The addressed media row: owner rules, then existence within the caller's visible set."""
    store = store_of(ctx)
    if media_id is not None:
        parsed = ids.parse_media_id(media_id)
        pk = parsed[0] if parsed else ids.parse_decimal(media_id)
        row = store.media_row(pk=pk, viewer_id=_viewer_or_none(ctx)) if pk else None
        if row is not None and parsed and parsed[1] != row["owner"]:
            row = None  # a real pk with someone else's user id is not a media id
    else:
        row = store.media_row(shortcode=shortcode, viewer_id=_viewer_or_none(ctx))
    if row is None:
        raise media_not_found()
    ctx.check_owner_rules(row["owner"])
    if not store.media_exists_for(store.visibility(ctx.viewer), row["pk"]):
        raise media_not_found()
    return row


def require_can_view(ctx: RequestContext, owner: Mapping[str, Any]) -> None:
    """Privacy: a private account's content needs an accepted follow (or being that account)."""
    if not store_of(ctx).can_see_content(_viewer_or_none(ctx), owner):
        raise not_allowed()


def owner_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The owner columns of a media row, shaped like a user row for ``require_can_view``."""
    return {"id": row["owner"], "is_private": row["is_private"]}


def _viewer_or_none(ctx: RequestContext) -> str | None:
    return ctx.viewer.user_id if ctx.viewer else None


# ---- params -------------------------------------------------------------------------------
def required(ctx: RequestContext, name: str) -> str:
    value = ctx.params.get(name)
    if value is None or value == "":
        raise invalid_params(f"Missing required parameter '{name}'.")
    return value


def count_param(ctx: RequestContext, default: int = DEFAULT_COUNT, cap: int = MAX_COUNT) -> int:
    raw = ctx.params.get("count")
    if raw is None or raw == "":
        return default
    try:
        count = int(raw)
    except ValueError:
        raise invalid_params("Count must be an integer.") from None
    if count <= 0:
        raise invalid_params("Count must be larger than zero.")
    return min(count, cap)


def int_param(ctx: RequestContext, name: str) -> int | None:
    raw = ctx.params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid_params(f"Invalid {name}: must be an integer.") from None
    # Timestamps and the like are compared in SQLite, whose integers are 64-bit.
    if not -ids.MAX_ID <= value <= ids.MAX_ID:
        raise invalid_params(f"Invalid {name}: out of range.")
    return value


def float_param(
    ctx: RequestContext, name: str, *, low: float | None = None, high: float | None = None
) -> float | None:
    raw = ctx.params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise invalid_params(f"Invalid {name}: must be a number.") from None
    if value != value or (low is not None and value < low) or (high is not None and value > high):
        raise invalid_params(f"Invalid {name}: out of range.")
    return value


def lat_lng(ctx: RequestContext) -> tuple[float, float] | None:
    """Both coordinates, or None when neither is given (one alone is an error)."""
    lat = float_param(ctx, "lat", low=-90, high=90)
    lng = float_param(ctx, "lng", low=-180, high=180)
    if lat is None and lng is None:
        return None
    if lat is None or lng is None:
        raise invalid_params("lat and lng must be given together.")
    return lat, lng


def distance_param(ctx: RequestContext, default: float, cap: float) -> float:
    """Metres; values above the documented maximum are capped rather than refused."""
    value = float_param(ctx, "distance")
    if value is None:
        return default
    if value <= 0:
        raise invalid_params("Distance must be larger than zero.")
    return min(value, cap)


def media_cursor_param(ctx: RequestContext, name: str) -> tuple[int, int] | None:
    raw = ctx.params.get(name)
    if raw is None or raw == "":
        return None
    cursor = store_of(ctx).media_cursor(raw)
    if cursor is None:
        raise invalid_params(f"Invalid {name}.")
    return cursor


def decimal_param(ctx: RequestContext, name: str) -> int | None:
    raw = ctx.params.get(name)
    if raw is None or raw == "":
        return None
    value = ids.parse_decimal(raw)
    if value is None:
        raise invalid_params(f"Invalid {name}.")
    return value


# ---- paging -------------------------------------------------------------------------------
def next_page(
    ctx: RequestContext, cursor_param: str, value: str | None, **extra: str
) -> dict[str, Any]:
    """The pagination object: {} on the last page, else next_url plus the cursor keys."""
    if value is None:
        return {}
    return {"next_url": ctx.next_url({cursor_param: value}), **extra}

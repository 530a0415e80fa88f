"""/oembed: the embed document of a permalink, as a bare object (no meta envelope).

The later-era field set (reference §13). Errors are bare too: a permalink the sandbox does not
know, or a private account's media, answers 404 with
``{"code": 404, "error_type": "APINotFoundError", "error_message": "No media found for URL <url>"}``
(the real body is not on record).
"""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

from igflow.sandbox.contract import HandlerResult, RequestContext
from igflow.sandbox.handlers._common import store_of
from igflow.sandbox.views import derived_images

PERMALINK = re.compile(
    r"^https?://(?:www\.)?(?:instagram\.com|instagr\.am)/p/([A-Za-z0-9_-]+)/?(?:[?#].*)?$"
)
DEFAULT_WIDTH = 658
MIN_WIDTH = 320
EMBED_SCRIPT = '<script async defer src="//www.instagram.com/embed.js"></script>'
TRUE = ("1", "true", "yes")


def _bare_error(status: int, error_type: str, message: str) -> HandlerResult:
    return HandlerResult(
        data={"code": status, "error_type": error_type, "error_message": message},
        status=status,
        bare=True,
    )


def _width(raw: str | None) -> int:
    try:
        width = int(raw) if raw else DEFAULT_WIDTH
    except ValueError:
        width = DEFAULT_WIDTH
    return max(MIN_WIDTH, min(width, DEFAULT_WIDTH))


def _html(row: dict[str, Any], width: int, *, captioned: bool, script: bool) -> str:
    link = f"https://www.instagram.com/p/{row['shortcode']}/"
    when = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(row["created_time"]))
    shown = time.strftime("%b %d, %Y", time.gmtime(row["created_time"]))
    who = html.escape(
        f"{row['full_name']} (@{row['username']})" if row["full_name"] else f"@{row['username']}"
    )
    caption = ""
    if captioned and row["caption_text"]:
        caption = f'<p><a href="{link}" target="_blank">{html.escape(row["caption_text"])}</a></p>'
    body = (
        f'<blockquote class="instagram-media"{" data-instgrm-captioned" if captioned else ""} '
        f'data-instgrm-permalink="{link}" data-instgrm-version="8" style="max-width:{width}px; '
        f'min-width:326px; width:calc(100% - 2px);"><div>{caption}<p>A post shared by '
        f'<a href="https://www.instagram.com/{row["username"]}/" target="_blank">{who}</a> on '
        f'<time datetime="{when}">{shown}</time></p></div></blockquote>'
    )
    return body + ("\n" + EMBED_SCRIPT if script else "")


def get(ctx: RequestContext) -> HandlerResult:
    url = ctx.params.get("url", "")
    if not url:
        return _bare_error(400, "APIInvalidParametersError", "Missing required parameter 'url'.")
    match = PERMALINK.match(url)
    row = store_of(ctx).media_row(shortcode=match.group(1)) if match else None
    if row is None or row["is_private"]:
        return _bare_error(404, "APINotFoundError", f"No media found for URL {url}")
    width = _width(ctx.params.get("maxwidth"))
    images = json.loads(row["images"]) if row["images"] else derived_images(row["shortcode"])
    thumb = images["standard_resolution"]
    return HandlerResult(
        bare=True,
        data={
            "version": "1.0",
            "title": row["caption_text"] or "",
            "author_name": row["username"],
            "author_url": f"https://www.instagram.com/{row['username']}",
            "author_id": int(row["owner"]),
            "media_id": f"{row['pk']}_{row['owner']}",
            "provider_name": "Instagram",
            "provider_url": "https://www.instagram.com",
            "type": "rich",
            "width": width,
            "height": None,  # always null in the later era
            "html": _html(
                row,
                width,
                captioned=ctx.params.get("hidecaption", "").lower() not in TRUE,
                script=ctx.params.get("omitscript", "").lower() not in TRUE,
            ),
            "thumbnail_url": thumb["url"],
            "thumbnail_width": thumb["width"],
            "thumbnail_height": thumb["height"],
        },
    )


HANDLERS = {"oembed.get": get}

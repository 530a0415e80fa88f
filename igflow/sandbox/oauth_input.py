"""What the OAuth, login and consent pages accept as input, and where a login may lead.

Every parameter (query and form, names and values) must be valid percent-encoded UTF-8 with no
control character, and no longer than the limits below. Anything else is answered with one
400 that names the parameter, before a view sees it, so bad input can never reach a header (a
CRLF in ``next`` once made a 500) or a page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, unquote_to_bytes, urlsplit

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from igflow.errors import printable
from igflow.sandbox import bodylimit

MAX_VALUE_CHARS = 4096  # one parameter's value; the longest legitimate one is `next` (~300)
MAX_PARAMS = 100
# C0 and C1 controls and DEL; a tab counts (browsers drop it from URLs: "/\t/evil" → "//evil").
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_FORM_TYPES = ("", "application/x-www-form-urlencoded")


class BadInput(ValueError):
    """One clear reason why a request's parameters are refused."""


def _name(raw: str) -> str:
    return printable(raw[:40]) + ("…" if len(raw) > 40 else "")


def _check_encoded(data: str, where: str) -> None:
    """Every ``name=value`` pair of a query string or urlencoded body decodes cleanly."""
    for pair in data.split("&"):
        if not pair:
            continue
        name = unquote(pair.partition("=")[0].replace("+", " "), errors="replace")
        if _BAD_PERCENT.search(pair):
            raise BadInput(f"Invalid parameter '{_name(name)}' in the {where}: bad %-encoding")
        try:
            unquote_to_bytes(pair.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(
                f"Invalid parameter '{_name(name)}' in the {where}: not UTF-8 once decoded"
            ) from None


def _check_items(items: Iterable[tuple[str, str]], where: str) -> None:
    for count, (name, value) in enumerate(items, start=1):
        if count > MAX_PARAMS:
            raise BadInput(f"Too many parameters in the {where} (the limit is {MAX_PARAMS})")
        for text, what in ((name, "name"), (value, "value")):
            if _CONTROL.search(text):
                raise BadInput(
                    f"Invalid parameter '{_name(name)}' in the {where}: its {what} contains "
                    "a control character (CR, LF, tab, ...)"
                )
        if len(value) > MAX_VALUE_CHARS or len(name) > MAX_VALUE_CHARS:
            raise BadInput(
                f"Invalid parameter '{_name(name)}' in the {where}: longer than "
                f"{MAX_VALUE_CHARS} characters"
            )


def check_request(request: Request) -> None:
    """Raise :class:`BadInput` unless every query and form parameter is acceptable.

    The body is read (cached) here, so a view reading ``request.form`` or ``get_data`` later
    sees the same data.
    """
    _check_encoded(_raw_query(request), "query")
    _check_items(request.args.items(multi=True), "query")
    if request.method != "POST":
        return
    bodylimit.bound(request)  # a declared length over it was refused (413) before the view
    try:
        body = request.get_data(cache=True)
        if request.mimetype in _FORM_TYPES:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadInput("The form body is not UTF-8") from None
            _check_encoded(text, "form")
            # An untyped body is read as a form too (the token exchange does, for
            # python-instagram), so its fields are checked as such.
            _check_items(parse_qsl(text, keep_blank_values=True), "form")
        else:
            _check_items(request.form.items(multi=True), "form")
    except RequestEntityTooLarge:
        raise BadInput(bodylimit.TOO_LARGE) from None


def _raw_query(request: Request) -> str:
    # WSGI hands the query over as latin-1 decoded bytes; raw non-ASCII must be UTF-8 too.
    raw = str(request.environ.get("QUERY_STRING", ""))
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise BadInput("The query string is not UTF-8") from None


def safe_next(target: str) -> str | None:
    """``target`` when it is a path on this sandbox, else None (the caller's safe default).

    Only printable ASCII, a single leading "/", no backslash, no scheme or host, and the
    decoded path must not turn into "//host" or hide a control character either.
    """
    if not target or len(target) > MAX_VALUE_CHARS:
        return None
    if not all("!" <= char <= "~" for char in target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    if path.startswith("//") or "\\" in path or _CONTROL.search(path):
        return None
    return target

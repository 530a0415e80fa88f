"""Hypothesis strategies for what a misbehaving API origin can answer.

An *answer* is either a response (status, headers, body bytes) or an exception that
``requests`` could raise instead of returning one. Bodies range from well-formed v1 envelopes with
wrong types, missing fields, random error envelopes and hostile pagination links to truncated or
non-UTF-8 JSON, deeply nested JSON, huge numbers and plain HTML.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3.exceptions
from hypothesis import strategies as st

from igflow.errors import API_ERROR_TYPES

ORIGIN = "http://fuzz.invalid"
# Long and distinctive, so any part of it showing up in output is a leak, not a coincidence.
TOKEN = "tokFUZZ-4021937711-c0ffee5eed-SECRET-9b8a7f6e5d4c3b2a1908"


@dataclass(frozen=True)
class Reply:
    """One HTTP response the mocked origin sends."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Failure:
    """An exception raised instead of a response; ``make`` gets the request's URL."""

    name: str
    make: Callable[[str], BaseException]

    def __repr__(self) -> str:
        return f"Failure({self.name})"


Answer = Reply | Failure

# --- JSON values ---------------------------------------------------------------------------------

TEXT = st.text(max_size=16)
SECRETIVE_TEXT = st.sampled_from(
    [
        TOKEN,
        f"access_token={TOKEN}",
        f"Bearer {TOKEN}",
        f"the token {TOKEN} is invalid",
        f"{ORIGIN}/v1/users/self?access_token={TOKEN}&x=1",
        # Where a message that quotes the value cuts it (at 37, 60 or 80 characters).
        "x" * 30 + " " + TOKEN,
        "padding " * 6 + TOKEN,
        "x" * 70 + " " + TOKEN,
    ]
)
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "\x00",
        "\x1b[31mred\x1b[0m",
        "\r\nX-Injected: 1",
        "\u202e",
        "\ud800",  # a lone surrogate: JSON can carry one ("\\ud800")
        "💥",
        "x" * 100_000,
        "{{ 7 * 7 }}",
        "{% for x in y %}",
        "%s%s%n",
        "$.data",
        "None",
        "NaN",
        "1667121369441597934_3657782666",
        "1498337451",
        "-1",
        "9" * 30,
    ]
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(),  # NaN and infinities are written as JSON's NaN / Infinity extensions
    TEXT,
    ODD_TEXT,
    SECRETIVE_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(TEXT, ODD_TEXT), inner, max_size=4)
    ),
    max_leaves=10,
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually ``value``, sometimes any JSON value instead (wrong type, null, ...)."""
    return st.one_of(value, value, value, JSON_VALUES)


IDS = st.one_of(
    st.sampled_from(["1667121369441597934_3657782666", "1_2", "3657782666", "0", ""]),
    st.integers().map(str),
    TEXT,
    SECRETIVE_TEXT,
)
MEDIA = st.fixed_dictionaries(
    {},
    optional={
        "id": _maybe(IDS),
        "type": _maybe(st.sampled_from(["image", "video", "carousel"])),
        "likes": _maybe(
            st.fixed_dictionaries({}, optional={"count": _maybe(st.integers(-5, 10**6))})
        ),
        "comments": _maybe(st.fixed_dictionaries({}, optional={"count": JSON_SCALARS})),
        "caption": _maybe(
            st.one_of(st.none(), st.fixed_dictionaries({}, optional={"text": JSON_SCALARS}))
        ),
        "user": _maybe(
            st.fixed_dictionaries({}, optional={"id": _maybe(IDS), "username": _maybe(TEXT)})
        ),
        "created_time": _maybe(st.integers(-(10**20), 10**20).map(str)),
        "user_has_liked": JSON_SCALARS,
        "link": _maybe(TEXT),
        "tags": _maybe(st.lists(TEXT, max_size=3)),
    },
)
USER = st.fixed_dictionaries(
    {},
    optional={
        "id": _maybe(IDS),
        "username": _maybe(st.one_of(TEXT, SECRETIVE_TEXT)),
        "full_name": JSON_SCALARS,
        "counts": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "media": JSON_SCALARS,
                    "follows": JSON_SCALARS,
                    "followed_by": JSON_SCALARS,
                },
            )
        ),
    },
)
DATA = st.one_of(
    MEDIA,
    USER,
    st.lists(st.one_of(MEDIA, MEDIA, USER, JSON_VALUES), max_size=6),
    JSON_VALUES,
)

NEXT_URLS = st.one_of(
    # Same origin: absolute, relative, with the token repeated (as v1 did) or without it.
    st.tuples(
        st.sampled_from(
            [
                "/v1/users/self/media/liked",
                "/v1/users/self/media/recent",
                "/v1/users/self/follows",
                "/v1/nowhere",
                "/",
                "",
            ]
        ),
        st.sampled_from(["", f"access_token={TOKEN}&", "sig=deadbeef&", "access_token=&"]),
        st.sampled_from(["max_like_id", "max_id", "cursor", "count"]),
        st.one_of(st.integers(0, 3).map(str), TEXT),
        st.sampled_from([ORIGIN, "", "http://FUZZ.invalid:80", "http://fuzz.invalid."]),
    ).map(lambda t: f"{t[4]}{t[0]}?{t[1]}{t[2]}={t[3]}"),
    # Elsewhere: the token must never be sent there.
    st.sampled_from(
        [
            f"http://evil.invalid/v1/users/self/media/liked?access_token={TOKEN}",
            "https://fuzz.invalid/v1/users/self/media/liked?cursor=1",
            "http://fuzz.invalid:8080/v1/users/self/media/liked?cursor=1",
            "//evil.invalid/v1/users/self/media/liked",
            "http://fuzz.invalid@evil.invalid/v1/x",
            "http://evil.invalid\\@fuzz.invalid/v1/x",
            "javascript:alert(1)",
            "ftp://fuzz.invalid/x",
            "http://[::1",
            "http://fuzz.invalid:99999/x",
            "http:///x",
            "\x00",
            "http://fuzz.invalid/" + "a" * 70_000,
        ]
    ),
    TEXT,
)
PAGINATION = st.fixed_dictionaries(
    {},
    optional={
        "next_url": _maybe(NEXT_URLS),
        "next_max_id": JSON_SCALARS,
        "next_max_like_id": JSON_SCALARS,
        "next_cursor": JSON_SCALARS,
    },
)
ERROR_TYPES = st.one_of(
    st.sampled_from(sorted(API_ERROR_TYPES)),
    st.sampled_from(
        [
            "OAuthException",
            "APIMethodNotAllowedError",
            "OAuthRateLimitException",
            "APINotAllowedError",
            "",
            "Exception",
            "IgflowError",
            "__class__",
        ]
    ),
    TEXT,
    JSON_VALUES,
)
ERROR_MESSAGES = st.one_of(
    st.sampled_from(
        [
            "This endpoint has been retired",
            "invalid media id",
            "The access_token provided is invalid.",
        ]
    ),
    TEXT,
    ODD_TEXT,
    SECRETIVE_TEXT,
    JSON_VALUES,
)
META = st.fixed_dictionaries(
    {},
    optional={
        "code": _maybe(st.sampled_from([200, 400, 404, 420, 429, 500, "200", "429"])),
        "error_type": ERROR_TYPES,
        "error_message": ERROR_MESSAGES,
    },
)
ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "meta": _maybe(META),
        "data": DATA,
        "pagination": _maybe(PAGINATION),
        "error_type": ERROR_TYPES,  # the bare (OAuth / edge) error shape
        "error_message": ERROR_MESSAGES,
        "code": JSON_SCALARS,
    },
)
# Mostly-successful envelopes, so runs get past the first call and into extract/assert/loops.
GOOD_ENVELOPES = st.fixed_dictionaries(
    {
        "meta": st.just({"code": 200}),
        "data": DATA,
    },
    optional={"pagination": PAGINATION},
)


def _json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def _truncate(raw: bytes) -> st.SearchStrategy[bytes]:
    return st.integers(0, max(len(raw) - 1, 0)).map(lambda n: raw[:n])


BODIES = st.one_of(
    GOOD_ENVELOPES.map(_json),
    GOOD_ENVELOPES.map(_json),
    ENVELOPES.map(_json),
    JSON_VALUES.map(_json),
    ENVELOPES.map(_json).flatmap(_truncate),
    st.integers(1, 200_000).flatmap(
        lambda n: st.sampled_from(
            [
                b"[" * n + b"]" * n,
                b'{"a":' * n + b"1" + b"}" * n,
                b'{"meta": {"code": 200}, "data": ' + b"[" * n + b"]" * n + b"}",
                b"1" * n,
                b'{"meta": {"code": 200}, "data": {"id": ' + b"9" * n + b"}}",
            ]
        )
    ),
    st.sampled_from(
        [
            b"",
            b" \n",
            b"null",
            b"NaN",
            b"1e999",
            b'"just a string"',
            b"\xef\xbb\xbf" + b'{"meta": {"code": 200}, "data": {}}',
            '{"meta": {"code": 200}, "data": {"id": "é"}}'.encode("utf-16"),
            b'{"meta": {"code": 200}, "data": {"id": "\xff\xfe"}}',
            b"<html><body>502 Bad Gateway</body></html>",
            b'/**/ cb({"meta": {"code": 200}})',
            b'{"meta": {"code": 200}, "data": {}, "meta": {"error_type": "APIError"}}',
            b'{"meta": {"code": 200}, "data": "' + b"x" * 1_000_000 + b'"}',
            ('{"meta": {"code": 400}, "error_message": "' + TOKEN + '"}').encode(),
            b'{"code": 429, "error_message": "The maximum number of requests per hour has '
            b'been exceeded."}',
        ]
    ),
    st.binary(max_size=64),
)
STATUSES = st.one_of(
    st.sampled_from(
        [200] * 8 + [201, 204, 301, 302, 400, 401, 403, 404, 405, 420, 429, 500, 502, 503]
    ),
    st.integers(100, 999),
)
HEADER_VALUES = st.one_of(
    st.sampled_from(
        ["5000", "4999", "1", "0", "-1", "abc", "", " 7 ", "1e3", "9" * 30, "\xb2", "4.5"]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=8),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json; charset=utf-8",
        "application/json",
        "text/html",
        "text/javascript",
        "application/octet-stream",
        "application/json; charset=latin-1",
        "",
        "garbage/;;;",
    ]
)


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    headers: dict[str, str] = {}
    content_type = draw(st.one_of(st.none(), CONTENT_TYPES))
    if content_type is not None:
        headers["Content-Type"] = content_type
    for name in ("X-Ratelimit-Limit", "X-Ratelimit-Remaining"):
        if draw(st.booleans()):
            headers[name] = draw(HEADER_VALUES)
    status = draw(STATUSES)
    if 300 <= status < 400 and draw(st.booleans()):
        headers["Location"] = draw(NEXT_URLS)
    return Reply(status, as_received(headers), draw(BODIES))


def as_received(headers: dict[str, str]) -> dict[str, str]:
    """Header values as http.client hands them over: each byte as one latin-1 character.

    Characters up to U+00FF stand for the bytes themselves (``"\\x80"`` is a lone 0x80, not
    UTF-8); others are sent as their UTF-8 bytes.
    """
    return {k: "".join(map(_as_bytes, v)) for k, v in headers.items()}


def _as_bytes(char: str) -> str:
    if ord(char) < 256:
        return char
    return char.encode("utf-8", "surrogatepass").decode("latin-1")


def _failures() -> list[Failure]:
    def connection_error(url: str) -> BaseException:
        return requests.exceptions.ConnectionError(
            f"HTTPConnectionPool(host='fuzz.invalid', port=80): Max retries exceeded with url: "
            f"{url} (Caused by NewConnectionError('Failed to establish a new connection'))"
        )

    def protocol_error(url: str) -> BaseException:
        cause = urllib3.exceptions.ProtocolError(
            "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
        )
        return requests.exceptions.ConnectionError(cause)

    def read_timeout(url: str) -> BaseException:
        cause = urllib3.exceptions.ReadTimeoutError(None, url, "Read timed out. (read timeout=30)")
        return requests.exceptions.ReadTimeout(cause)

    return [
        Failure("ConnectionError", connection_error),
        Failure("ProtocolError", protocol_error),
        Failure("ReadTimeout", read_timeout),
        Failure(
            "ConnectTimeout", lambda url: requests.exceptions.ConnectTimeout(f"timed out: {url}")
        ),
        Failure("ChunkedEncodingError", lambda url: requests.exceptions.ChunkedEncodingError(url)),
        Failure("ContentDecodingError", lambda url: requests.exceptions.ContentDecodingError(url)),
        Failure("SSLError", lambda url: requests.exceptions.SSLError(f"bad handshake: {url}")),
        Failure("TooManyRedirects", lambda url: requests.exceptions.TooManyRedirects(url)),
        Failure("InvalidURL", lambda url: requests.exceptions.InvalidURL(f"Invalid URL {url!r}")),
        Failure("InvalidHeader", lambda url: requests.exceptions.InvalidHeader(url)),
        Failure("RetryError", lambda url: requests.exceptions.RetryError(url)),
        Failure("IncompleteRead", lambda url: http.client.IncompleteRead(b"partial", 10)),
        Failure("RemoteDisconnected", lambda url: http.client.RemoteDisconnected(url)),
        Failure("urllib3 ProtocolError", lambda url: urllib3.exceptions.ProtocolError(url)),
        Failure("ConnectionResetError", lambda url: ConnectionResetError(104, url)),
        Failure("TimeoutError", lambda url: TimeoutError(url)),
        Failure("OSError", lambda url: OSError(24, "Too many open files", url)),
    ]


FAILURES = st.sampled_from(_failures())
# What requests documents it raises (RequestException); the others leak from below it, rarely.
REQUESTS_FAILURES = st.sampled_from(
    [f for f in _failures() if isinstance(f.make(ORIGIN), requests.RequestException)]
)
ANSWERS: st.SearchStrategy[Answer] = st.one_of(replies(), replies(), replies(), FAILURES)


# --- a target that claims to be an igflow sandbox: /_sandbox/info and the OAuth pages ----------

PASSWORD = "pwFUZZ-demo-password-7d3e1f"
CLIENT_SECRET = "csFUZZ-client-secret-5a9c0e2b"
REDIRECT = "http://localhost/cb"

CLIENTS = st.fixed_dictionaries(
    {},
    optional={
        "name": _maybe(st.sampled_from(["default", "live", "signed"])),
        "client_id": _maybe(st.sampled_from(["0b9e96a58dda43b99efc5b60b168c4e5", ""])),
        "client_secret": _maybe(st.just(CLIENT_SECRET)),
        "redirect_uris": _maybe(st.lists(st.sampled_from([REDIRECT, "", "not a url"]), max_size=2)),
        "implicit": JSON_SCALARS,
        "signed": JSON_SCALARS,
        "mode": JSON_SCALARS,
    },
)
USERS = st.fixed_dictionaries(
    {},
    optional={"username": _maybe(st.just("grantwinney")), "password": _maybe(st.just(PASSWORD))},
)
INFO_BODIES = st.fixed_dictionaries(
    {"sandbox": _maybe(st.just(True))},
    optional={
        "clients": _maybe(st.lists(_maybe(CLIENTS), max_size=3)),
        "users": _maybe(st.lists(_maybe(USERS), max_size=3)),
        "era": JSON_SCALARS,
    },
).map(_json)
FORM_ACTIONS = st.sampled_from(
    ["/oauth/authorize/", "", "http://evil.invalid/steal", "//evil.invalid/x", "javascript:x"]
)
FORMS = st.tuples(
    FORM_ACTIONS,
    st.sampled_from(["post", "get", "", "PUT"]),
    st.lists(
        st.sampled_from(
            [
                '<input name="username">',
                '<input type="password" name="password">',
                '<input type="hidden" name="csrf" value="x">',
                '<input name="allow" type="submit" value="Authorize">',
                '<button name="allow" value="yes">Allow</button>',
                '<button name="deny">Deny</button>',
                "<input>",
                '<input name="">',
            ]
        ),
        max_size=4,
    ),
).map(
    lambda t: (
        f'<html><form action="{t[0]}" method="{t[1]}">{"".join(t[2])}</form></html>'
    ).encode()
)
OAUTH_LOCATIONS = st.one_of(
    st.sampled_from(
        [
            f"{REDIRECT}#access_token={TOKEN}",
            f"{REDIRECT}?code=abc",
            f"{REDIRECT}?error=access_denied&error_description=no",
            f"{REDIRECT}?error=",
            f"{REDIRECT}#access_token=",
            REDIRECT,
            "/oauth/authorize/?step=2",
            "http://evil.invalid/login",
            "\x80",
        ]
    ),
    NEXT_URLS,
)


@st.composite
def oauth_replies(draw: st.DrawFn) -> Reply:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, draw(FORMS))
    if kind == 1:
        headers = {"Location": draw(OAUTH_LOCATIONS)} if draw(st.integers(0, 5)) else {}
        return Reply(draw(st.sampled_from([301, 302, 303, 307])), as_received(headers))
    if kind == 2:
        token_body = st.fixed_dictionaries(
            {}, optional={"access_token": _maybe(st.just(TOKEN)), "user": JSON_VALUES}
        )
        return Reply(200, {"Content-Type": "application/json"}, draw(token_body.map(_json)))
    return draw(replies())


INFO_ANSWERS: st.SearchStrategy[Answer] = st.one_of(
    st.builds(Reply, st.just(200), st.just({"Content-Type": "application/json"}), INFO_BODIES),
    st.builds(Reply, st.just(200), st.just({"Content-Type": "application/json"}), INFO_BODIES),
    replies(),
    REQUESTS_FAILURES,
)
OAUTH_ANSWERS: st.SearchStrategy[Answer] = st.one_of(
    oauth_replies(), oauth_replies(), REQUESTS_FAILURES
)

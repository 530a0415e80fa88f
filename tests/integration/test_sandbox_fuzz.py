"""Malformed requests never get a 500 or a traceback: each gets the envelope the API would send.

A table of named malformed requests with their exact answers, then a bounded, derandomized
Hypothesis search that builds requests from the registry's path templates with junk segment
values, junk parameters, odd tokens, bodies and methods. One sandbox, ``rate_limits="off"`` so
the search never runs into 429s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sandbox_support import implicit_token

from igflow.registry import load_registry
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import start_sandbox

JSON = "application/json; charset=utf-8"
MEDIA = "1667121369441597934_3657782666"
REGISTRY = load_registry()
ENDPOINTS = sorted(REGISTRY.endpoints.values(), key=lambda e: e.id)
ALL_SCOPES = "public_content follower_list comments relationships likes"


class _Collect(logging.Handler):
    """Keeps every record the sandbox logs: a handler failure is logged with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Target:
    url: str
    token: str
    errors: _Collect


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    errors = _Collect()
    logger = logging.getLogger("igflow.sandbox")
    logger.addHandler(errors)
    try:
        with start_sandbox(SandboxConfig(rate_limits="off")) as running:
            yield Target(running.url, implicit_token(running.url, ALL_SCOPES), errors)
    finally:
        logger.removeHandler(errors)


def assert_enveloped(response: requests.Response, path: str) -> Any:
    """The invariants of every answer: no 5xx, JSON errors whose code is the HTTP status,
    rate-limit headers on /v1. Returns the parsed body."""
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text
    if path.startswith("/v1"):
        assert {"X-Ratelimit-Limit", "X-Ratelimit-Remaining"} <= set(response.headers)
    if response.headers.get("Content-Type", "").startswith("text/javascript"):
        assert response.status_code == 200 and response.text.startswith("/**/ ")
        return None
    assert response.headers["Content-Type"] == JSON
    body = response.json()
    if response.status_code >= 400:
        # /v1 errors are in meta; oEmbed's own errors are bare (docs/sandbox-data.md).
        error = body["meta"] if "meta" in body or path.startswith("/v1") else body
        assert error["code"] == response.status_code
        assert isinstance(error["error_type"], str) and error["error_type"]
        assert isinstance(error["error_message"], str) and error["error_message"]
    return body


# ---- named malformed requests -------------------------------------------------------------------
INVALID = "APIInvalidParametersError"


@dataclass(frozen=True)
class Malformed:
    method: str
    path: str  # may carry a raw (already encoded) query
    status: int
    error: tuple[str, str] | None  # (error_type, error_message); None: only the invariants
    token: bool = True  # add the valid token to the query
    data: bytes | None = None
    content_type: str | None = None


def _count(value: str, status: int = 400, message: str | None = None) -> Malformed:
    return Malformed(
        "GET",
        f"/v1/users/self/media/recent?count={value}",
        status,
        (INVALID, message) if message else None,
    )


MALFORMED: dict[str, Malformed] = {
    "count=0": _count("0", message="Count must be larger than zero."),
    "negative count": _count("-5", message="Count must be larger than zero."),
    "count=abc": _count("abc", message="Count must be an integer."),
    "count=1e3": _count("1e3", message="Count must be an integer."),
    "huge count is capped": _count("9" * 40, status=200),
    "5000-digit count": _count("9" * 5000, message="Count must be an integer."),
    "duplicated count: the first wins": _count("2&count=0", status=200),
    "unicode digit id": Malformed(
        "GET", "/v1/media/%C2%B2_3657782666", 400, ("APINotFoundError", "invalid media id")
    ),
    "30-digit media id": Malformed(
        "GET", f"/v1/media/{'9' * 30}_3657782666", 400, ("APINotFoundError", "invalid media id")
    ),
    "negative user id": Malformed(
        "GET", "/v1/users/-1", 400, ("APINotFoundError", "this user does not exist")
    ),
    "percent-encoded junk user id": Malformed(
        "GET", "/v1/users/%00%FF..%25", 400, ("APINotFoundError", "this user does not exist")
    ),
    # An encoded slash is a slash once decoded: another path, which no endpoint has.
    "encoded slash in a segment": Malformed(
        "GET", "/v1/media/1%2F2", 404, ("APINotFoundError", "this endpoint does not exist")
    ),
    "20-digit location id": Malformed(
        "GET", f"/v1/locations/{'9' * 20}", 400, ("APINotFoundError", "invalid location id")
    ),
    "unicode tag": Malformed("GET", "/v1/tags/%E2%80%AE%F0%9F%8C%B1", 200, None),
    "junk cursor": Malformed(
        "GET", "/v1/users/self/follows?cursor=%E2%98%83", 400, (INVALID, "Invalid cursor.")
    ),
    "cursor past 64 bits": Malformed(
        "GET",
        f"/v1/users/self/media/liked?max_like_id={'9' * 20}",
        400,
        (INVALID, "Invalid max_like_id."),
    ),
    "timestamp past 64 bits": Malformed(
        "GET",
        f"/v1/locations/2/media/recent?min_timestamp={'9' * 25}",
        400,
        (INVALID, "Invalid min_timestamp: out of range."),
    ),
    "lat out of range": Malformed(
        "GET", "/v1/media/search?lat=91&lng=0", 400, (INVALID, "Invalid lat: out of range.")
    ),
    "lat=nan": Malformed(
        "GET", "/v1/media/search?lat=nan&lng=0", 400, (INVALID, "Invalid lat: out of range.")
    ),
    "missing q": Malformed(
        "GET", "/v1/users/search", 400, (INVALID, "Missing required parameter 'q'.")
    ),
    "missing action": Malformed(
        "POST",
        "/v1/users/4021937711/relationship",
        400,
        (INVALID, "Missing required parameter 'action'."),
    ),
    "JSON body instead of a form": Malformed(
        "POST",
        "/v1/users/4021937711/relationship",
        400,
        (INVALID, "Missing required parameter 'action'."),
        data=b'{"action": "follow"}',
        content_type="application/json",
    ),
    "binary body": Malformed(
        "POST",
        f"/v1/media/{MEDIA}/comments",
        400,
        (INVALID, "Missing required parameter 'text'."),
        data=bytes(range(256)),
        content_type="application/octet-stream",
    ),
    "junk form body": Malformed(
        "POST",
        f"/v1/media/{MEDIA}/comments",
        400,
        (INVALID, "Missing required parameter 'text'."),
        data=b"%%%&&&===%ZZ",
        content_type="application/x-www-form-urlencoded",
    ),
    "multipart without boundary": Malformed(
        "POST",
        f"/v1/media/{MEDIA}/comments",
        400,
        (INVALID, "Missing required parameter 'text'."),
        data=b"--x\r\n\r\n",
        content_type="multipart/form-data",
    ),
    "wrong method": Malformed(
        "PUT",
        "/v1/users/self",
        405,
        ("APIMethodNotAllowedError", "This endpoint does not support the PUT method"),
    ),
    "unknown path": Malformed(
        "GET",
        "/v1/users/self/everything",
        404,
        ("APINotFoundError", "this endpoint does not exist"),
    ),
    "bare /v1": Malformed("GET", "/v1", 404, ("APINotFoundError", "this endpoint does not exist")),
    "empty token": Malformed(
        "GET",
        "/v1/users/self?access_token=",
        400,
        ("OAuthParameterException", "Missing client_id or access_token URL parameter."),
        token=False,
    ),
    "token with odd characters": Malformed(
        "GET",
        "/v1/users/self?access_token=%00%27%22%3B--%E2%80%8B",
        400,
        ("OAuthAccessTokenException", "The access_token provided is invalid."),
        token=False,
    ),
    "token with a newline": Malformed(
        "GET",
        "/v1/users/self?access_token=1.abcdef0.%0A",
        400,
        ("OAuthAccessTokenException", "The access_token provided is invalid."),
        token=False,
    ),
    "callback that is not an identifier": Malformed(
        "GET",
        "/v1/users/self?callback=alert(document.cookie)",
        400,
        (INVALID, "Invalid callback: expected a JavaScript identifier"),
    ),
    "callback with a line separator": Malformed(
        "GET",
        "/v1/users/self?callback=cb%E2%80%A8",
        400,
        (INVALID, "Invalid callback: expected a JavaScript identifier"),
    ),
    "10 KB query": Malformed("GET", "/v1/users/self?junk=" + "x" * 10_000, 200, None),
    "70 KB URL": Malformed(
        "GET", "/v1/users/self?junk=" + "x" * 70_000, 414, (INVALID, "Request-URI Too Long")
    ),
    "oEmbed without url": Malformed(
        "GET",
        "/oembed?maxwidth=abc",
        400,
        (INVALID, "Missing required parameter 'url'."),
        token=False,
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_requests_get_the_api_envelope(target: Target, name: str) -> None:
    case = MALFORMED[name]
    url = target.url + case.path
    if case.token:
        url += ("&" if "?" in url else "?") + "access_token=" + target.token
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    response = requests.request(case.method, url, data=case.data, headers=headers, timeout=10)
    body = assert_enveloped(response, case.path)
    assert response.status_code == case.status, response.text[:300]
    if case.error is not None:
        error = body.get("meta", body)
        assert (error["error_type"], error["error_message"]) == case.error
    assert not target.errors.records


def test_too_many_headers_get_the_envelope(target: Target) -> None:
    # Python's HTTP server refuses more than 100 header lines (431) before the app sees them.
    headers = {f"X-Junk-{n}": "1" for n in range(120)}
    response = requests.get(
        target.url + "/v1/users/self", params={"access_token": target.token}, headers=headers
    )
    assert response.status_code == 431
    assert response.headers["Content-Type"] == JSON
    assert response.json()["meta"]["code"] == 431
    assert "X-Ratelimit-Limit" in response.headers


# ---- the property: any request built from a registry template -----------------------------------
SEGMENTS = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=24),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(
        [
            "self",
            MEDIA,
            "3657782666",
            "1_1",
            "0",
            "²",
            "٣",
            "Bcizg1_B3nu",
            "garden",
            "514276",
            "..",
            ".json",
            "%",
            "a/b",
            "\u202e",
            "\x00",
            " ",
            "9" * 19,
            "9" * 40,
        ]
    ),
)
PARAM_NAMES = st.one_of(
    st.sampled_from(
        sorted({name for e in ENDPOINTS for name in e.params})
        + ["callback", "sig", "client_id", "client_secret", "access_token", "cursor"]
    ),
    st.text(max_size=8),
)
PARAM_VALUES = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "abc",
            "1e309",
            "nan",
            "inf",
            "-inf",
            "JSON_CALLBACK",
            "a.b.c",
            "alert(1)",
            "follow",
            "http://",
            "https://www.instagram.com/p/Bcizg1_B3nu/",
            "9" * 4400,
        ]
    ),
)
METHODS = st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"])
SUFFIXES = st.sampled_from(["", "/", ".json", ".json/"])
BODIES = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.dictionaries(st.text(max_size=8), st.text(max_size=16), max_size=3).map(
        lambda d: json.dumps(d).encode()
    ),
)


@st.composite
def api_requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], bytes | None, str]:
    endpoint = draw(st.sampled_from(ENDPOINTS))
    path = endpoint.path
    for name in endpoint.path_params:
        value = draw(SEGMENTS)
        path = path.replace("{" + name + "}", quote(value, safe=""))
    path = endpoint.prefix + path + draw(SUFFIXES)
    # Mostly the endpoint's own method, so requests get past routing into the handlers.
    method = draw(st.one_of(st.just(endpoint.method), METHODS))
    params = draw(st.lists(st.tuples(PARAM_NAMES, PARAM_VALUES), max_size=6))
    token = draw(st.one_of(st.just("VALID"), st.just(""), st.text(max_size=12)))
    body = draw(BODIES) if method in ("POST", "PUT", "PATCH") else None
    content_type = draw(
        st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "application/json",
                "multipart/form-data",
                "text/plain; charset=latin-1",
                "",
            ]
        )
    )
    return method, path, [("access_token", token), *params], body, content_type


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(request=api_requests())
def test_no_request_gets_a_500(
    target: Target, request: tuple[str, str, list[tuple[str, str]], bytes | None, str]
) -> None:
    method, path, params, body, content_type = request
    query = "&".join(
        f"{quote(key, safe='')}={quote(target.token if value == 'VALID' else value, safe='')}"
        for key, value in params
    )
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.request(
        method, f"{target.url}{path}?{query}", data=body, headers=headers, timeout=10
    )
    if method != "HEAD":
        assert_enveloped(response, path)
    else:
        assert response.status_code < 500
    assert not target.errors.records, target.errors.records[0].getMessage()

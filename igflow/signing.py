"""Signed requests of the Instagram API v1 (reference legacy-v1-api.md §9).

Pure functions with no I/O: the client uses :func:`sign` to add ``sig``, and the sandbox uses
:func:`signature_matches` to verify what clients send, so both sides share one definition.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

SIG_PARAM = "sig"
_JSON_SUFFIX = ".json"


def _hmac_sha256_hex(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def base_string(endpoint_path: str, params: Mapping[str, str]) -> str:
    """The text that ``sig`` signs: the endpoint, then ``|key=value`` for each param by key.

    Args:
        endpoint_path: The request path after the ``/v1`` prefix, starting with ``/``.
        params: Every parameter sent (query for GET/DELETE, form for POST); ``sig`` is skipped.

    Returns:
        The base string, with raw (not URL-encoded) values.
    """
    # Sorting str keys orders by code point, which matches the byte order of UTF-8 keys.
    pairs = "".join(f"|{key}={params[key]}" for key in sorted(params) if key != SIG_PARAM)
    return endpoint_path + pairs


def sign(endpoint_path: str, params: Mapping[str, str], client_secret: str) -> str:
    """Compute the v1 ``sig`` parameter.

    Args:
        endpoint_path: The request path after the ``/v1`` prefix, e.g. ``/users/self``.
        params: All request parameters (any ``sig`` among them is ignored).
        client_secret: The client's secret, the HMAC key.

    Returns:
        Lowercase hex HMAC-SHA256 of the base string.
    """
    return _hmac_sha256_hex(client_secret, base_string(endpoint_path, params))


def _endpoint_variants(endpoint_path: str) -> list[str]:
    """The path as clients may have signed it: with/without ``.json`` and a trailing slash."""
    bare = endpoint_path
    if bare.endswith("/") and len(bare) > 1:
        bare = bare.rstrip("/") or "/"
    if bare.endswith(_JSON_SUFFIX):
        bare = bare[: -len(_JSON_SUFFIX)]
    variants: list[str] = []
    for candidate in (bare, bare + "/", bare + _JSON_SUFFIX, bare + _JSON_SUFFIX + "/"):
        if candidate not in variants:
            variants.append(candidate)
    return variants


def signature_matches(
    endpoint_path: str,
    params: Mapping[str, str],
    client_secret: str,
    candidates: Iterable[str],
) -> bool:
    """Whether any provided ``sig`` is valid for this request.

    Tolerates the official clients' quirks (§9.1): the endpoint may have been signed with or
    without a ``.json`` suffix and with or without a trailing slash, and [PY] could send two
    ``sig`` values, so any candidate matching any variant is accepted.

    Args:
        endpoint_path: The request path after the ``/v1`` prefix, as received.
        params: The request's parameters (``sig`` is ignored if present).
        client_secret: The client's secret.
        candidates: Every ``sig`` value the request carried.

    Returns:
        True when at least one candidate matches.
    """
    wanted = [sign(variant, params, client_secret) for variant in _endpoint_variants(endpoint_path)]
    matched = False
    for candidate in candidates:
        given = candidate.strip().lower().encode("utf-8", "replace")
        for expected in wanted:
            # No early exit inside the comparison loop: keep timing independent of which matched.
            matched |= hmac.compare_digest(given, expected.encode("ascii"))
    return matched


def insta_forwarded_for(ips: str, client_secret: str) -> str:
    """The ``X-Insta-Forwarded-For`` header value of the 2014-2015 signed-header scheme (§9.2).

    Args:
        ips: Comma-separated client IPs, e.g. ``127.0.0.1``.
        client_secret: The client's secret.

    Returns:
        ``<ips>|<hex HMAC-SHA256(client_secret, ips)>``.
    """
    return f"{ips}|{_hmac_sha256_hex(client_secret, ips)}"


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """Graph's ``appsecret_proof``: hex HMAC-SHA256 of the token, keyed by the app secret.

    (graph-api.md §2.4; the sandbox checks it with the same function.)
    """
    return _hmac_sha256_hex(app_secret, access_token)

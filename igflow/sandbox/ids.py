"""Identifier formats of the v1 API, so sandbox data looks and behaves like the real thing.

Two facts checked against the seed (media 1667121369441597934_3657782666, shortcode Bcizg1_B3nu,
created 1512956375): a shortcode is the media pk written in URL-safe base64 digits, and the pk's
high bits are milliseconds since Instagram's epoch (shifted left by 23). Deriving both from the
creation time keeps generated ids time-ordered, as real ones were.
"""

from __future__ import annotations

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
# Milliseconds at Instagram's id epoch (2011-08-24); (pk >> 23) + this = creation time in ms.
ID_EPOCH_MS = 1314220021721
# Comment and caption ids of the 2017 era were 17-digit decimals (e.g. 17899911943100617).
COMMENT_ID_BASE = 17850000000000000
# The largest SQLite INTEGER (signed 64 bits): no stored id, pk or sequence number exceeds it.
MAX_ID = 2**63 - 1


def shortcode_from_pk(pk: int) -> str:
    """The permalink shortcode of a media pk (base64 digits, most significant first)."""
    if pk <= 0:
        raise ValueError(f"media pk must be positive, got {pk}")
    digits = []
    while pk:
        pk, rem = divmod(pk, 64)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


def pk_from_shortcode(shortcode: str) -> int | None:
    """The media pk a shortcode encodes, or None when it is not a shortcode."""
    if not shortcode or len(shortcode) > 12:
        return None
    pk = 0
    for char in shortcode:
        if char not in _INDEX:
            return None
        pk = pk * 64 + _INDEX[char]
    return pk or None


def pk_for(created_time: int, shard: int, sequence: int) -> int:
    """A media pk as Instagram built them: time in the high bits, shard and sequence below."""
    millis = max(created_time * 1000 - ID_EPOCH_MS, 0)
    return (millis << 23) | ((shard % 8192) << 10) | (sequence % 1024)


def media_id(pk: int, owner_id: str) -> str:
    """The API's media id, ``<pk>_<owner id>``."""
    return f"{pk}_{owner_id}"


def parse_media_id(value: str) -> tuple[int, str] | None:
    """Split ``<pk>_<owner>`` into (pk, owner id); None when malformed."""
    pk_text, sep, owner = value.partition("_")
    pk = parse_decimal(pk_text)
    if not sep or pk is None or not is_decimal(owner):
        return None
    return pk, owner


def parse_decimal(value: str) -> int | None:
    """A non-negative decimal id (user, comment, location, cursor), or None when malformed."""
    if not is_decimal(value):
        return None
    number = int(value)
    # Ids live in SQLite INTEGER columns: a larger number names nothing (and cannot be bound).
    return number if number <= MAX_ID else None


def is_decimal(value: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts '²' or '٣', which ``int`` may refuse."""
    return bool(value) and len(value) <= 19 and value.isascii() and value.isdigit()

"""The one place that hides secrets from anything a person or a file will see.

v1 sends ``access_token`` in URLs, and requests puts full URLs into its exception texts, so
redaction cannot rely on callers remembering which strings are secret. Two layers:

1. Known values: tokens, client secrets and the playbook's declared ``secrets`` are registered
   with :meth:`Redactor.add` and replaced wherever they appear (as they are, and
   percent-encoded), inside other text too; one shorter than MIN_SECRET_LENGTH not at all. A
   value a template transformed (``| upper``,
   a slice, reversed) is new text, not known here: docs/safety.md says what that means.
2. Shapes, regardless of known values: the values of secret-named query/form parameters
   (``access_token``, ``client_secret``, ``sig``, OAuth ``code``, ``password`` and any
   ``*_token``/``*_secret`` name, also when percent-encoded inside another URL), the same names
   as JSON keys with string values, ``Authorization: Bearer ...`` credentials, and anything
   shaped like a v1 access token.

The shape patterns are compiled once at import; the known-values pattern is rebuilt only when a
new secret is added, never per call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary text ("1", "abc") everywhere
# Every known value of that length or more is masked wherever it appears, inside other words
# too: a short password may mangle a path in a message (/tmp/***dir), which is the lesser harm.
# Masking short values only as whole words was tried and leaked them: after a percent-escape
# (`pin%3Ds3cr3t`: the `D` of `%3D` touches the value), a JSON escape or an ANSI sequence.

# Parameter names whose value is secret. `code` is handled separately: as a bare word it is too
# common ("error code=400"), so it only counts right after a URL's `?`, `&` or `#`.
_SECRET_NAME = r"(?:[\w.-]*?(?:token|secret|password|passwd)|sig|appsecret_proof)"
# A name starts at a non-name character, or right after an encoded ?, & or # (nested URLs).
_NAME_START = r"(?:(?<![\w.-])|(?<=%3f)|(?<=%26)|(?<=%23))"
_URL_DELIM = r"(?:(?<=[?&#])|(?<=%3f)|(?<=%26)|(?<=%23)|^)"

_PARAM_RE = re.compile(
    rf"(?P<name>{_NAME_START}{_SECRET_NAME}|{_URL_DELIM}code)"
    # Plain `=`: the value runs to the next separator. An encoded `%3D` means the pair sits inside
    # another (encoded) URL, where the value ends at an encoded `&` (`%26`).
    r"(?:(?P<eq>=)(?P<plain>[^&\s#'\"<>;]*)|(?P<enc>%3d)(?P<encoded>(?:(?!%26)[^&\s#'\"<>;])*))",
    re.IGNORECASE | re.MULTILINE,
)
# JSON (or Python repr) string values under secret keys, e.g. {"access_token": "..."}.
_KEY_VALUE_RE = re.compile(
    rf"(?P<q>[\"'])(?P<key>{_SECRET_NAME}|code)(?P=q)(?P<sep>\s*:\s*)"
    r"(?P<vq>[\"'])(?P<value>(?:\\.|(?!(?P=vq)).)*)(?P=vq)",
    re.IGNORECASE,
)
_BEARER_RE = re.compile(r"\b(?P<scheme>Bearer|OAuth)(?P<sp>\s+)[\w.~+/=-]+", re.IGNORECASE)
# v1 tokens: <user id>.<first 7 hex of client_id>.<32 hex>; the 2015 docs also show the form
# without the user id (fb2e77d.47a0479900504cb3ab4a1f626d174d2d).
_V1_TOKEN_RE = re.compile(r"\b(?:\d+\.)?[0-9a-f]{7}\.[0-9a-f]{32}\b", re.IGNORECASE)

# Mapping keys whose values are replaced wholesale (compared lowercased, `-` read as `_`).
_SECRET_KEYS = frozenset(
    {
        "access_token",
        "client_secret",
        "sig",
        "appsecret_proof",
        "password",
        "token",
        "secret",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
    }
)
_SECRET_KEY_SUFFIXES = ("_token", "_secret", "password")


def _mask_param(match: re.Match[str]) -> str:
    if match.group("eq") is not None:
        value = match.group("plain")
        sep = match.group("eq")
    else:
        value = match.group("encoded")
        sep = match.group("enc")
    if not value or value == MASK:
        return match.group(0)
    return f"{match.group('name')}{sep}{MASK}"


def _mask_key_value(match: re.Match[str]) -> str:
    if not match.group("value"):
        return match.group(0)
    q, vq = match.group("q"), match.group("vq")
    return f"{q}{match.group('key')}{q}{match.group('sep')}{vq}{MASK}{vq}"


def redact_shapes(text: str) -> str:
    """Redact secret-shaped parts of ``text`` without any known values.

    Args:
        text: Any text: a URL, a form body, an exception message, a JSON body.

    Returns:
        The text with secret parameter values, bearer credentials and v1-shaped tokens masked.
    """
    text = _PARAM_RE.sub(_mask_param, text)
    text = _KEY_VALUE_RE.sub(_mask_key_value, text)
    text = _BEARER_RE.sub(lambda m: f"{m.group('scheme')}{m.group('sp')}{MASK}", text)
    return _V1_TOKEN_RE.sub(MASK, text)


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``access_token``, ``X-Client-Secret``, ...)."""
    norm = key.lower().replace("-", "_")
    return norm in _SECRET_KEYS or norm.endswith(_SECRET_KEY_SUFFIXES)


def _alternative(value: str) -> str:
    """The pattern for one known value: the value itself, wherever it appears."""
    return re.escape(value)


class Redactor:
    """Known secret values plus the shape rules; safe to share between threads.

    Writers take a lock; readers use an immutable snapshot (a compiled pattern) that ``add``
    swaps in atomically, so ``redact`` never locks.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self.add_all(secrets)

    def add(self, value: str | None) -> None:
        """Register a secret value; empty, None and very short values are ignored.

        Args:
            value: A token, client secret or user-declared secret.
        """
        self.add_all((value,))

    def add_all(self, values: Iterable[str | None]) -> None:
        """Register several secret values at once (one pattern rebuild).

        Args:
            values: Secret values; None, non-strings and short values are skipped.
        """
        fresh = set()
        for value in values:
            if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
                continue
            # Secrets also travel percent-encoded in URLs and form bodies.
            fresh.update({value, quote(value, safe=""), quote_plus(value, safe="")})
        with self._lock:
            merged = self._values | fresh
            if merged == self._values:
                return
            # Longest first, so a secret that contains another is masked as a whole.
            alternatives = sorted(merged, key=len, reverse=True)
            self._pattern = re.compile("|".join(_alternative(v) for v in alternatives))
            self._values = merged

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        """Mask every known secret and every secret-shaped value in ``text``.

        Args:
            text: Any text that may reach a console, a report, an error or a recording.

        Returns:
            The redacted text (``***`` in place of each secret).
        """
        pattern = self._pattern  # one read: a consistent snapshot even while another thread adds
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return redact_shapes(text)

    def redact_mapping(self, obj: Any) -> Any:
        """Return a redacted copy of a JSON-like structure.

        Values under secret-named keys become ``***``; every other string (keys included) goes
        through :meth:`redact`. Lists and tuples are walked; other values are returned as is.

        Args:
            obj: A dict, list, tuple, string or scalar.

        Returns:
            A new structure; ``obj`` is not modified.
        """
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, Mapping):
            return {self._redact_key(k): self._redact_item(k, v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.redact_mapping(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self.redact_mapping(item) for item in obj)
        return obj

    def _redact_key(self, key: Any) -> Any:
        return self.redact(key) if isinstance(key, str) else key

    def _redact_item(self, key: Any, value: Any) -> Any:
        if value is None or not isinstance(key, str):
            return self.redact_mapping(value)
        if is_secret_key(key):
            return MASK
        # `code` is the API's numeric status in envelopes; only a string code is an OAuth code.
        if key.lower() == "code" and isinstance(value, str):
            return MASK
        return self.redact_mapping(value)


# A run of the characters tokens and secrets are made of.
_WORD_END = re.compile(r"[\w.~+/=-]+\Z")
_WORD_START = re.compile(r"[\w.~+/=-]")


def cut_before_redacting(text: str, limit: int) -> str:
    """``text[:limit]``, without the token-like word the cut may go through.

    Messages that shorten a value are redacted after they are cut, and a redactor recognizes a
    secret only whole: half of one left at the end would be shown. So a word of letters and
    digits that the cut goes through is left out entirely.
    """
    head = text[:limit]
    if _WORD_START.match(text, limit):
        word = _WORD_END.search(head)
        if word is not None and _token_like(word.group()):
            head = head[: word.start()]
    return head


def _token_like(word: str) -> bool:
    return any(c.isdigit() for c in word) and any(c.isalpha() for c in word)

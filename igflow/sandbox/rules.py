"""Instagram's comment rules (in force from 2014-07-19, reference §4.4).

The limits are documented; the error a violation produced was not found in the sources, so the
sandbox answers APIInvalidParametersError with one of the messages below (docs/sandbox-data.md
lists them as inferred).
"""

from __future__ import annotations

import re

MAX_LENGTH = 300
MAX_HASHTAGS = 4
MAX_URLS = 1
ALL_CAPS_MIN_LETTERS = 5

_HASHTAG = re.compile(r"#\w+", re.UNICODE)
# Schemes, www. hosts and bare domains with a common top-level domain all count as links.
_URL = re.compile(
    r"(?:https?://\S+|www\.\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|io|ly|me|co|info|biz|example)"
    r"\b(?:/\S*)?)",
    re.IGNORECASE,
)


def comment_problem(text: str) -> str | None:
    """Why a comment text is refused, or None when it may be posted."""
    if not text.strip():
        return "Comment text must not be empty."
    if len(text) > MAX_LENGTH:
        return f"Comments may be at most {MAX_LENGTH} characters."
    if len(_HASHTAG.findall(text)) > MAX_HASHTAGS:
        return f"Comments may contain at most {MAX_HASHTAGS} hashtags."
    if len(_URL.findall(text)) > MAX_URLS:
        return f"Comments may contain at most {MAX_URLS} URL."
    cased = [c for c in text if c.lower() != c.upper()]
    # A short shout ("OK", "WOW") is not the spam the rule targets; five letters and up are.
    if len(cased) >= ALL_CAPS_MIN_LETTERS and all(c.isupper() for c in cased):
        return "Comments may not consist of all capital letters."
    return None

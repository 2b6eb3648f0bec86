"""Links we put in front of people (calendar URL, mail links): http(s) only."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# C0/C1 controls, zero-width and bidirectional marks: nothing a real link contains,
# everything a spoofed one might.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s")  # what str.isspace() calls whitespace (CPython's \s in a str pattern is the same test)


def safe_url(url: object) -> str:
    """``url`` when it is an absolute http(s) URL with a host and no whitespace or
    control characters, else ``""``."""
    text = "" if url is None else str(url).strip()
    if not text or _SPACE.search(text) or _CONTROL.search(text):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return text

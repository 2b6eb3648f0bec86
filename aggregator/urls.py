"""URLs from untrusted pages, read without raising.

``urllib.parse`` raises ``ValueError`` for some strings a page may hold (an
unbalanced IPv6 bracket: ``http://[bad``, ``//a]b``); an extractor must not
fail a whole page for one such link. These helpers give ``""`` instead.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit


def join(base: str, href: str) -> str:
    """``href`` resolved against ``base`` (``href`` itself without a base); "" when it cannot be read."""
    try:
        url = urljoin(base, href) if base else href
        urlsplit(url)  # what callers do next; it raises where urljoin may not
    except ValueError:
        return ""
    return url


def http_url(base: str, href: str) -> str:
    """``href`` resolved against ``base`` when that is an http(s) URL with a host, else ""."""
    url = join(base, (href or "").strip())
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return ""
    return url if ok else ""


def host_of(url: str) -> str:
    """The lower-case host name of ``url``, "" when it has none or cannot be read."""
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""

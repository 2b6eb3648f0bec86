"""Bodies a misbehaving site sends: error pages, redesigns, re-encodings, compression bombs.

Used by ``tests/support/sites_server.py``; each function promises bytes that
look like what a real site sends in that situation, nothing more.
"""

from __future__ import annotations

import functools
import zlib

# A CMS's maintenance page, served with 200 where a calendar or feed was expected.
ERROR_PAGE = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Wartungsarbeiten</title></head>
<body><h1>Wir sind gleich wieder da</h1>
<p>Diese Seite wird gerade gewartet. Bitte versuchen Sie es später erneut.</p>
<p>Fehler 503 &ndash; Service vorübergehend nicht verfügbar</p></body></html>
""".encode()

_REDESIGN_ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Neuer Webauftritt//DE\r\n"
    b"X-WR-CALNAME:Termine\r\nEND:VCALENDAR\r\n"
)
_REDESIGN_RSS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Neuigkeiten</title>'
    b"<link>https://example.org/</link><description>Unser neuer Webauftritt</description></channel></rss>\n"
)
_REDESIGN_ATOM = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>Neuigkeiten</title>'
    b"<id>urn:x-redesign</id><updated>2025-09-01T00:00:00Z</updated></feed>\n"
)
_REDESIGN_JSON = b'{"events": [], "rest_url": "", "total": 0, "total_pages": 0}'
_REDESIGN_HTML = b"""<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Veranstaltungen</title></head>
<body><div class="app-root" data-page="events"><noscript>Bitte aktivieren Sie JavaScript,
um unsere Veranstaltungen zu sehen.</noscript></div></body></html>
"""


def redesigned(content_type: str) -> bytes:
    """A valid document of the same kind as ``content_type`` that lists no events
    (an empty calendar, a feed without items, an API page without events, a
    JavaScript-only page): what a site sends after a redesign broke our reading."""
    ct = content_type.lower()
    if "calendar" in ct:
        return _REDESIGN_ICS
    if "atom" in ct:
        return _REDESIGN_ATOM
    if "rss" in ct or "xml" in ct:
        return _REDESIGN_RSS
    if "json" in ct:
        return _REDESIGN_JSON
    return _REDESIGN_HTML


def recoded(body: bytes, encoding: str, bom: bool) -> bytes:
    """``body`` (UTF-8) in ``encoding`` (unencodable characters as ``?``), with a BOM
    of that encoding in front when ``bom``; the server keeps declaring UTF-8."""
    text = body.decode("utf-8", errors="replace")
    out = text.encode(encoding, errors="replace")
    if encoding.replace("-", "").lower() in ("utf16", "utf32"):
        return out  # Python writes their BOM itself
    if bom:
        boms = {"utf8": b"\xef\xbb\xbf", "utf8sig": b""}
        out = boms.get(encoding.replace("-", "").replace("_", "").lower(), b"\xef\xbb\xbf") + out
    return out


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed (about 1/1000 of the size): a compression bomb."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts, left = [], size
    while left > 0:
        n = min(left, len(chunk))
        parts.append(comp.compress(chunk[:n]))
        left -= n
    parts.append(comp.flush())
    return b"".join(parts)

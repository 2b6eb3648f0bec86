"""Is a body complete, or was it cut off on the way?

HTTP cannot always tell: a response without Content-Length that ends when the
server closes the connection looks whole to the client however early it stops.
The document can tell: a calendar ends with ``END:VCALENDAR``, a feed with the
end tag of its root element, an HTML page with ``</html>``. Extractors read what
they can of a cut-off body (``sources check`` shows it), but a partial read must
never replace the events of a complete one: that would mark the rest as gone.

``cut_off(kind, body)`` returns why ``body`` looks cut off, or None. It only
judges bodies that started as that kind of document; what is not one at all is
the extractor's ``ExtractError``.
"""

from __future__ import annotations

import re

TAIL = 65536  # end tags are looked for this far from the end (trailing scripts, comments)

_BEGIN_VCALENDAR = re.compile(rb"^[ \t]*BEGIN[ \t]*:[ \t]*VCALENDAR[ \t]*\r?$", re.I | re.M)
_END_VCALENDAR = re.compile(rb"^[ \t]*END[ \t]*:[ \t]*VCALENDAR[ \t]*\r?$", re.I | re.M)
_FEED_ROOT = re.compile(rb"<((?:[\w.-]+:)?(?:rss|feed|RDF))[\s>]", re.I)
_HTML_OPEN = re.compile(rb"<html[\s>]", re.I)
_HTML_CLOSE = re.compile(rb"</html\s*>", re.I)


def cut_off(kind: str, body: bytes) -> str | None:
    """Why ``body`` of a source of ``kind`` looks cut off, or None (complete, or not judged)."""
    if not body or b"\x00" in body[:4096]:  # empty, binary or UTF-16/32: left to the extractor
        return None
    if kind == "ics":
        return _ics(body)
    if kind == "feed":
        return _feed(body)
    if kind in ("html", "jsonld"):
        return _html(body)
    return None


def _ics(body: bytes) -> str | None:
    """The last calendar must be closed; what follows its END:VCALENDAR (a PHP warning) does not matter."""
    begins = [m.start() for m in _BEGIN_VCALENDAR.finditer(body)]
    if not begins:  # a bare VEVENT fragment: the extractor's business
        return None
    if _END_VCALENDAR.search(body, begins[-1]):
        return None
    return "the calendar ends without END:VCALENDAR (cut off in transfer?)"


def _feed(body: bytes) -> str | None:
    root = _FEED_ROOT.search(body[:TAIL])
    if root is None:
        return None
    name = root.group(1)
    if re.search(rb"</" + re.escape(name) + rb"\s*>", body[-TAIL:], re.I):
        return None
    return f"the feed ends without </{name.decode('ascii', 'replace')}> (cut off in transfer?)"


def _html(body: bytes) -> str | None:
    if not _HTML_OPEN.search(body[:TAIL]) or _HTML_CLOSE.search(body[-TAIL:]):
        return None
    return "the page ends without </html> (cut off in transfer?)"

"""Bounds for markup: count elements cheaply before anything builds a tree.

BeautifulSoup and lxml need some hundred bytes to a few KB per element; a
10 MB page of ``<i>`` tags would cost gigabytes. ``refuse_huge_html`` counts
start tags with C-level ``count`` passes (no tree, no list of matches) and
refuses a page over the cap; ``strip_if_huge`` does the same for a fragment
(an event's description), where the text is still wanted.

``soup`` parses with BeautifulSoup's ``html.parser`` and survives what that
parser rejects outright.
"""

from __future__ import annotations

import html
import re
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.exceptions import ParserRejectedMarkup

from aggregator.extract import DEFAULT_MAX_HTML_NODES, LimitExceeded

_ANY_TAG_TEXT = re.compile(r"<[^>]*>?")
# "<!" that opens no comment: a declaration or marked section ("<!DOCTYPE", "<![CDATA[",
# "<![if"), where html.parser rejects the whole page for one it does not know
_DECLARATION_BYTES = re.compile(rb"<!(?!--)")
_DECLARATION_TEXT = re.compile(r"<!(?!--)")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Of a fragment too big for a tree, this much is read: more than any field keeps
# (descriptions 10,000 characters, a detail page's text 200,000).
MAX_FRAGMENT_TEXT = 200_000


def count_elements(markup: bytes | str, limit: int | None = None) -> int:
    """The number of start tags in ``markup`` (an upper bound of the elements a parser builds,
    give or take the html/head/body it adds). With ``limit``, any count above it may be
    returned as soon as it is certain (a quick ``"<"`` count that is not over the limit
    settles it)."""
    if limit is not None:
        quick = markup.count(b"<" if isinstance(markup, bytes) else "<")
        if quick <= limit:
            return quick
    # One lower-case copy and a C-level count per letter: no list of matches (a regex's
    # findall or subn would hold one object per tag, far more than the page itself).
    if isinstance(markup, bytes):
        low = markup.lower()
        prefixes = [b"<"] + ([b"<\x00"] if b"\x00" in low else [])  # UTF-16 text: "<\x00d\x00"
        return sum(low.count(p + c.encode()) for p in prefixes for c in _LETTERS)
    low = markup.lower()
    return sum(low.count("<" + c) for c in _LETTERS)


def refuse_huge_html(markup: bytes | str, limit: int = DEFAULT_MAX_HTML_NODES) -> None:
    """Raise ``LimitExceeded`` when ``markup`` has more than ``limit`` elements; else nothing."""
    count = count_elements(markup, limit)
    if count > limit:
        raise LimitExceeded(f"page has {count} HTML elements, more than max_html_nodes ({limit}); not read")


def strip_if_huge(fragment: str, limit: int = DEFAULT_MAX_HTML_NODES) -> str | None:
    """For a fragment with more than ``limit`` elements: the text of its first
    ``MAX_FRAGMENT_TEXT`` characters with the tags cut out by a regex (no tree built);
    else None, and the caller parses it properly."""
    if count_elements(fragment, limit) <= limit:
        return None
    return strip_tags(fragment)


def strip_tags(fragment: str) -> str:
    """The text of the first ``MAX_FRAGMENT_TEXT`` characters of ``fragment``, its tags cut
    out by a regex and its entities decoded: for markup no tree should be built of."""
    return html.unescape(_ANY_TAG_TEXT.sub(" ", fragment[:MAX_FRAGMENT_TEXT]))


def soup(markup: bytes | str) -> BeautifulSoup:
    """``markup`` parsed by BeautifulSoup's ``html.parser``. Markup it rejects (an odd
    declaration or marked section such as ``<![[[DOCTYPE``: its ``_markupbase`` raises)
    is parsed again with every ``<!`` that opens no comment escaped as text, since
    declarations hold no content; ``ParserRejectedMarkup`` only when that fails too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        try:
            return BeautifulSoup(markup, "html.parser")
        except ParserRejectedMarkup:
            if isinstance(markup, bytes):
                return BeautifulSoup(_DECLARATION_BYTES.sub(b"&lt;!", markup), "html.parser")
            return BeautifulSoup(_DECLARATION_TEXT.sub("&lt;!", markup), "html.parser")

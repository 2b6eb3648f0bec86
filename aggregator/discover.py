"""What a page offers: find the calendar, feed, API or markup an event page exposes.

``candidates_in(body, url)`` lists what the body itself is or links to, without
fetching: an iCalendar file, an RSS/Atom feed, a The-Events-Calendar API
response, or an HTML page with ``<link rel="alternate">`` calendars and feeds,
``.ics`` / ``webcal:`` / ``?ical=1`` links, the WordPress REST root (which
implies the Tribe API) and schema.org events in its markup.

``discover(...)`` then probes each candidate once (fetch + extract) and ranks
them: those with events first, then by how much a kind tells us
(``PREFERENCE``). ``netzwerktimer sources discover`` prints the result;
``kind = "auto"`` uses the best one at refresh time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from bs4 import BeautifulSoup
from bs4.exceptions import ParserRejectedMarkup

from aggregator.extract import DEFAULT_MAX_HTML_NODES, ExtractContext, ExtractError, extract
from aggregator.extract.markup import count_elements, soup
from aggregator.fetch import Fetcher, FetchResult
from aggregator.urls import http_url, join

# Richest first: the Tribe API has venues, categories and status; ICS has exact
# times and recurrence; JSON-LD is structured but often partial; feeds are
# usually news with dates only in prose.
PREFERENCE = ("tribe", "ics", "jsonld", "feed")
MAX_PROBES = 8
TRIBE_ROUTE = "tribe/events/v1/events"

_ICS_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar")
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
_EVENT_MARKUP = re.compile(rb'(?i)"@type"\s*:\s*(?:\[[^\]]*)?"\w*Event"|itemtype="https?://schema\.org/\w*Event"|class="[^"]*\bh-event\b')


@dataclass
class Candidate:
    """One way to read events from a site."""

    kind: str
    url: str
    how: str  # where we found it, for people
    events: int | None = None  # set by probing
    error: str | None = None

    def rank(self) -> tuple:
        return (not self.events, PREFERENCE.index(self.kind), self.url)


def sniff(body: bytes) -> str:
    """What the body itself is: "ics", "feed", "json" or "html"."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"begin:vcalendar"):
        return "ics"
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith(b"<?xml") or head.startswith((b"<rss", b"<feed", b"<rdf:rdf")):
        if re.search(rb"<(rss|feed|rdf:rdf)[\s>]", head):
            return "feed"
    return "html"


def candidates_in(body: bytes, url: str, *, max_nodes: int = DEFAULT_MAX_HTML_NODES) -> list[Candidate]:
    """Every candidate the body is or links to, deduplicated, without fetching anything.
    A page of more than ``max_nodes`` elements is not parsed for links (only its markup is sniffed)."""
    found: dict[tuple[str, str], Candidate] = {}

    def add(kind: str, href: str, how: str) -> None:
        target = _absolute(href, url)
        if target:
            found.setdefault((kind, target), Candidate(kind, target, how))

    own = sniff(body)
    if own == "ics":
        add("ics", url, "the URL itself is an iCalendar file")
    elif own == "feed":
        add("feed", url, "the URL itself is an RSS/Atom feed")
    elif own == "json":
        if b'"events"' in body[:200_000]:
            add("tribe", url, "the URL itself answers like The Events Calendar's REST API")
    else:
        # a page too big to parse is not searched for links; its markup is still sniffed below
        if count_elements(body[:5_000_000], max_nodes) <= max_nodes:
            try:
                _add_links(soup(body[:5_000_000]), add)
            except ParserRejectedMarkup:
                pass  # no links to be had from it; its markup is still sniffed below
        if _EVENT_MARKUP.search(body[:5_000_000]):
            add("jsonld", url, "schema.org events in the page's markup")
    return list(found.values())


def _add_links(soup: BeautifulSoup, add) -> None:
    """``add`` every calendar, feed or API the page's ``<link>`` and ``<a>`` elements point to."""
    for link in soup.find_all("link", href=True):
        rel = " ".join(link.get("rel") or []).lower()
        kind_type = (link.get("type") or "").lower()
        if "alternate" in rel and kind_type in _ICS_TYPES:
            add("ics", link["href"], '<link rel="alternate" type="text/calendar">')
        elif "alternate" in rel and kind_type in _FEED_TYPES and "comments" not in link["href"].lower():
            add("feed", link["href"], f'<link rel="alternate" type="{kind_type}">')
        elif rel == "https://api.w.org/":
            add("tribe", join(link["href"].rstrip("/") + "/", TRIBE_ROUTE), "WordPress REST API (The Events Calendar, if installed)")
    for a in soup.find_all("a", href=True):
        href = a["href"].strip()
        low = href.lower()
        if low.startswith("webcal://"):
            add("ics", "https://" + href[len("webcal://") :], "webcal: link")
        elif urlsplit(low).path.endswith(".ics") or re.search(r"[?&](ical|ics)=1\b", low):
            add("ics", href, "link to an iCalendar file")


async def discover(first: FetchResult, fetcher: Fetcher, ctx: ExtractContext, *, max_bytes: int | None = None) -> list[Candidate]:
    """Candidates of the fetched page, each probed once (each probe at most ``max_bytes``), best first."""
    candidates = candidates_in(first.body or b"", first.url or ctx.url, max_nodes=ctx.max_html_nodes)
    for cand in candidates[:MAX_PROBES]:
        if cand.url == (first.url or ctx.url):
            body = first.body or b""
        else:
            probe = await fetcher.fetch(cand.url, None, max_bytes=max_bytes)
            if probe.outcome != "fetched":
                cand.error = probe.error or probe.outcome
                continue
            body = probe.body or b""
        try:
            cand.events = len(extract(cand.kind, body, replace(ctx, url=cand.url)).events)
        except ExtractError as exc:
            cand.error = str(exc)
    return sorted(candidates, key=Candidate.rank)


def best(candidates: list[Candidate]) -> Candidate | None:
    """The first candidate that yielded events, or None."""
    return next((c for c in candidates if c.events), None)


def source_block(cand: Candidate, source_id: str, network: str = "NETWORK") -> str:
    """A ready ``[[sources]]`` block for sources.toml."""
    return "\n".join(
        [
            "[[sources]]",
            f"id = {_toml(source_id)}",
            f"network = {_toml(network)}  # the [networks.<id>] this site belongs to",
            f"kind = {_toml(cand.kind)}",
            f"url = {_toml(cand.url)}",
            f"note = {_toml(f'found by discover: {cand.how}; {cand.events} events')}",
        ]
    )


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def suggested_id(url: str, kind: str) -> str:
    host = (urlsplit(url).hostname or "site").lower().removeprefix("www.")
    stem = re.sub(r"[^a-z0-9]+", "-", host.rsplit(".", 1)[0]).strip("-") or "site"
    return f"{stem}-{kind}"


def _absolute(href: str, base: str) -> str | None:
    target = http_url(base, href)
    if not target:
        return None
    return urlunsplit(urlsplit(target)._replace(fragment=""))

"""What a page offers: find the calendar, feed, API or markup an event page exposes.

``candidates_in(body, url)`` lists what the body itself is or links to, without
fetching: an iCalendar file, an RSS/Atom feed, a The-Events-Calendar API
response, or an HTML page with ``<link rel="alternate">`` calendars and feeds,
``.ics`` / ``webcal:`` / ``?ical=1`` links, the WordPress REST root (which
implies the Tribe API) and schema.org events in its markup.

The page's own markup is read with the jsonld extractor on the body already in
memory (no fetch, bounded by ``max_html_nodes``), so it is always considered.

``discover(...)`` then probes the other candidates (at most ``MAX_PROBES``
fetches; each read with its pagination, as a source would be) and ranks them:
those with events first, an ``<a>`` link to a one-event calendar (a per-event
"iCal export") after every other candidate with events, then by how many
events each gives, ties by how much a kind tells us (``PREFERENCE``).
``netzwerktimer sources discover`` prints the result; ``kind = "auto"`` uses
the best one at refresh time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bs4 import BeautifulSoup
from bs4.exceptions import ParserRejectedMarkup

from aggregator.extract import ExtractContext, ExtractError, Extraction, extract
from aggregator.extract.markup import count_elements, soup
from aggregator.fetch import Fetcher, FetchResult
from aggregator.urls import http_url, join

# Richest first: the Tribe API has venues, categories and status; ICS has exact
# times and recurrence; JSON-LD is structured but often partial; feeds are
# usually news with dates only in prose.
PREFERENCE = ("tribe", "ics", "jsonld", "feed")
# Fetches one discovery may spend on candidates (the page's own markup needs none).
MAX_PROBES = 8
TRIBE_ROUTE = "tribe/events/v1/events"
OWN_MARKUP = "events in the page's own markup (schema.org or h-event)"
ICS_LINK = "link to an iCalendar file"

_ICS_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar")
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")


@dataclass
class Candidate:
    """One way to read events from a site."""

    kind: str
    url: str
    how: str  # where we found it, for people
    events: int | None = None  # set by probing: events of all its pages
    error: str | None = None  # why probing it failed
    skipped: str | None = None  # why it was not probed
    # What probing read (all list pages), so that kind auto need not fetch it again.
    extraction: Extraction | None = field(default=None, repr=False, compare=False)

    @property
    def per_event(self) -> bool:
        """An ``<a>`` link to a calendar of one event: most likely one event's "iCal export"
        (WordPress, TYPO3), which stays one event while the page lists more."""
        return self.how == ICS_LINK and self.events == 1

    def rank(self) -> tuple:
        """Sort key, best first: has events, is not a per-event export, most events, richest kind."""
        return (not self.events, self.per_event, -(self.events or 0), PREFERENCE.index(self.kind), self.url)

    def outcome(self) -> str:
        """What probing found, for people: "3 events", "error: …" or why it was not probed."""
        if self.events is not None:
            return f"{self.events} events"
        return self.skipped or f"error: {self.error}"


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


def candidates_in(body: bytes, ctx: ExtractContext) -> list[Candidate]:
    """Every candidate the body (fetched from ``ctx.url``) is or links to, deduplicated,
    without fetching anything. An HTML page's own schema.org events are read here with the
    jsonld extractor (bounded by ``ctx.max_html_nodes``), so that candidate comes already
    probed; a page of more than ``ctx.max_html_nodes`` elements is not parsed for links."""
    url = ctx.url
    found: dict[tuple[str, str], Candidate] = {}

    def add(kind: str, href: str, how: str) -> Candidate | None:
        target = _absolute(href, url)
        if target:
            return found.setdefault((kind, target), Candidate(kind, target, how))
        return None

    own = sniff(body)
    if own == "ics":
        add("ics", url, "the URL itself is an iCalendar file")
    elif own == "feed":
        add("feed", url, "the URL itself is an RSS/Atom feed")
    elif own == "json":
        if b'"events"' in body[:200_000]:
            add("tribe", url, "the URL itself answers like The Events Calendar's REST API")
    else:
        # a page too big to parse is not searched for links; reading its markup below says why
        if count_elements(body[:5_000_000], ctx.max_html_nodes) <= ctx.max_html_nodes:
            try:
                _add_links(soup(body[:5_000_000]), add)
            except ParserRejectedMarkup:
                pass  # no links to be had from it; its markup is still read below
        _add_own_markup(body, ctx, add)
    return list(found.values())


def _add_own_markup(body: bytes, ctx: ExtractContext, add) -> None:
    """``add`` the page itself as a jsonld candidate when the jsonld extractor (the one a
    source of kind jsonld would use) finds events in it, or cannot read it (the error says
    why, e.g. a cap): what counts as event markup is the extractor's to say, not a pattern's."""
    try:
        result = extract("jsonld", body, ctx)
    except ExtractError as exc:
        cand = add("jsonld", ctx.url, OWN_MARKUP)
        if cand is not None:
            cand.error = str(exc)
        return
    if result.events:
        cand = add("jsonld", ctx.url, OWN_MARKUP)
        if cand is not None:
            cand.events, cand.extraction = len(result.events), result


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
            add("tribe", tribe_api(link["href"]), "WordPress REST API (The Events Calendar, if installed)")
    for a in soup.find_all("a", href=True):
        href = a["href"].strip()
        low = href.lower()
        if low.startswith("webcal://"):
            add("ics", "https://" + href[len("webcal://") :], "webcal: link")
        elif urlsplit(low).path.endswith(".ics") or re.search(r"[?&](ical|ics)=1\b", low):
            add("ics", href, ICS_LINK)


def tribe_api(rest_root: str) -> str:
    """The Events Calendar's event list under a WordPress REST root (``<link rel="https://api.w.org/">``).
    With pretty permalinks the root is a path (``/wp-json/``) and the route is appended to it;
    with plain permalinks it is ``/?rest_route=/`` and the route belongs in that parameter."""
    parts = urlsplit(rest_root)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == "rest_route" for name, _ in query):
        query = [(name, value.rstrip("/") + "/" + TRIBE_ROUTE if name == "rest_route" else value) for name, value in query]
        return urlunsplit(parts._replace(query=urlencode(query, safe="/")))
    return join(rest_root.rstrip("/") + "/", TRIBE_ROUTE)


async def discover(first: FetchResult, fetcher: Fetcher, ctx: ExtractContext, *, max_bytes: int | None = None,
                   max_pages: int = 1, allow_hosts: Iterable[str] = (), home: str | None = None) -> list[Candidate]:
    """Candidates of the fetched page, best first (``Candidate.rank``). Each is read as a source
    of its kind would be: its list pages followed up to ``max_pages`` (on the hosts ``crawl``
    allows), each page at most ``max_bytes``, detail pages not read. At most ``MAX_PROBES``
    candidates are fetched, links to whole calendars, feeds and APIs before ``<a>`` links to
    ``.ics`` files; the others say they were not probed. The page's own markup is always read."""
    from aggregator.crawl import PageState, crawl  # crawl's kind auto calls discover: imported when needed

    page_url = first.url or ctx.url
    candidates = candidates_in(first.body or b"", replace(ctx, url=page_url))
    # per-event exports come in dozens; they must not use up the probes of the page's calendars
    to_probe = sorted((c for c in candidates if c.events is None and c.error is None), key=lambda c: c.how == ICS_LINK)
    fetches = 0
    for cand in to_probe:
        if cand.url == page_url:
            page = first
        elif fetches >= MAX_PROBES:
            cand.skipped = f"not probed: limit of {MAX_PROBES} probes"
            continue
        else:
            fetches += 1
            page = await fetcher.fetch(cand.url, None, max_bytes=max_bytes)
            if page.outcome != "fetched":
                cand.error = page.error or page.outcome
                continue
        try:
            result = await crawl(cand.kind, page, replace(ctx, url=page.url or cand.url), fetcher, max_pages=max_pages,
                                 allow_hosts=allow_hosts, max_bytes=max_bytes, home=home, details=False)
        except ExtractError as exc:
            cand.error = str(exc)
            continue
        if result.incomplete:  # part of it could not be read: its count says nothing, and reading it would lose events
            cand.error = f"incomplete: {result.incomplete}"
            continue
        if page is not first:  # the calendar or feed behind the page: a later refresh checks it too
            result.pages_read.insert(0, PageState.of(cand.url, page))
        cand.events, cand.extraction = len(result.events), result
    return sorted(candidates, key=Candidate.rank)


def best(candidates: list[Candidate]) -> Candidate | None:
    """The first candidate that yielded events, or None."""
    return next((c for c in candidates if c.events), None)


def choice_of(cand: Candidate) -> str:
    """How kind ``auto`` remembers a choice between refreshes: its kind and URL."""
    return f"{cand.kind} {cand.url}"


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

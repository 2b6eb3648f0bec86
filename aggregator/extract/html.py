"""Event list pages → raw events, read with the CSS selectors of ``[sources.html]``.

``ctx.options`` is the source's ``[sources.html]`` table (see ``HtmlOptions``):

- ``item``: every element it matches is one event (at most ``MAX_ITEMS`` a page);
- ``title``, ``date`` (required), ``time``, ``link``, ``location``, ``description``
  (optional): selectors inside the item. The date text is German
  ("Mi, 05.03.2025 | 09:30 – 16:00 Uhr", "16.–25.09.2020") and read with
  ``find_dates``; the ``time`` text, when given, is appended to it. Text marked
  as a publication date (``itemprop="datePublished"``, ``<time pubdate>``,
  WordPress ``.published``) is not an event date, nor is a dateline
  ("Erfurt, 14. Januar 2016"); a date with a bare clock time ("14.10.2025 18:00")
  is the event's start here (``date_field``). A ``<time datetime>`` is used when its text gives
  no date. An item without an event date is skipped and named in the warnings;
- year-less dates ("05.03.", "12. Juni") take their year from the nearest
  section heading above the item that names one ("Veranstaltungen 2025"),
  else from ``ctx.now`` (and a written weekday); a weekday that does not fit
  its date is named in the warnings;
- ``link``: the element's href (or its first ``<a href>``), absolute; without
  the selector, the first link of the title, else of the item;
- ``next_page``: the href of the element it matches → ``Extraction.next_pages``
  (absolute; the crawler decides whether to follow it);
- ``detail = true``: each event with a link is named in ``Extraction.details``;
  ``enrich`` then fills what the list lacked from the detail page: the page's
  JSON-LD/microdata Event (``aggregator.extract.jsonld``, when present), the
  time of day, the description (main content) and the location ("Ort: …");
- ``parser``: instead of selectors, ``aggregator/extract/sites/<parser>.py``
  reads the page (its ``extract``, and its ``enrich`` if it has one). Such
  modules use the helpers here: ``parse_html``, ``element_text``,
  ``section_years``, ``read_when``, ``build_event``, ``absolute_url``, ``finish``.

A selector that matches nothing gives zero events and a warning, not an error
(the pipeline's 'suspicious' check decides what that means); an invalid
selector, a body that is not HTML, or markup nested beyond what can be read
raise ``ExtractError``.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import replace
from datetime import date, datetime, timedelta

import soupsieve
from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from bs4.element import CData, Declaration, Doctype, ProcessingInstruction
from bs4.exceptions import ParserRejectedMarkup
from dateutil.parser import isoparse

from aggregator.extract import DEFAULT_MAX_HTML_NODES, ExtractContext, ExtractError, Extraction, guarded
from aggregator.extract.charset import decode_markup
from aggregator.extract.markup import refuse_huge_html
from aggregator.extract.markup import soup as markup_soup
from aggregator.german_dates import CANCEL_TITLE_RE, POSTPONE_TITLE_RE
from aggregator.german_dates import DateMatch, find_dates, year_from_heading
from aggregator.model import RawEvent
from aggregator.urls import http_url

try:  # written alongside this module; its step is skipped while it does not exist
    from aggregator.extract import jsonld as _jsonld
except ImportError:  # pragma: no cover - depends on the tree
    _jsonld = None

# Bounds: a page is one list, not a database dump; a field is a field, not a book.
MAX_ITEMS = 500
MAX_TITLE = 300
MAX_LOCATION = 300
MAX_DATE_TEXT = 500
MAX_DESCRIPTION = 5000
MAX_PAGE_TEXT = 200_000  # text read from a detail page
# Items skipped for want of an event date are named one by one up to this many.
MAX_ITEM_WARNINGS = 20
# A date further ahead than this is a typo or a misread number, not an event.
MAX_FUTURE = timedelta(days=5 * 366)

SELECTOR_KEYS = ("item", "title", "date", "time", "link", "location", "description", "next_page")
PARSER_RE = re.compile(r"^[a-z][a-z0-9_]*$")

BLOCK_TAGS = frozenset(
    "p div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 tr table thead tbody tfoot caption section article "
    "header footer main aside nav blockquote pre address figure figcaption form fieldset legend hr".split()
)
CELL_TAGS = frozenset(("td", "th"))
SKIP_TAGS = frozenset(("script", "style", "noscript", "template", "svg", "head", "title", "iframe", "object"))
HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
PUBLICATION_PROPS = frozenset(("datepublished", "datemodified", "datecreated", "uploaddate"))
PUBLICATION_CLASSES = frozenset(("published", "updated", "entry-date", "post-date", "pubdate"))
YEAR_RE = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
EMPTY_LIST_RE = re.compile(
    r"(?i)\b(?:keine|zur\s+zeit\s+keine|derzeit\s+keine|aktuell\s+keine)\s+"
    r"(?:aktuellen\s+|weiteren\s+|kommenden\s+)?(?:Termine|Veranstaltungen|Events?|Einträge|Nachrichten|News|Workshops)\b"
    r"|\bno\s+(?:upcoming\s+)?events\b"
)
LOCATION_LABEL_RE = re.compile(
    # A label is a whole word followed by ":" / "?" / a table bar, or alone on its line (the place
    # then stands on the next): "Workshop" is no "Wo", "Ortsbegehung" no "Ort".
    r"(?im)^[ \t|]*(?:Ort|Veranstaltungsort|Tagungsort|Wo|Location|Venue|Adresse|Anschrift)\b[ \t]*(?:\?:|[:?|]|(?=$))"
    r"[ \t|]*(?P<value>[^\n]*)$"
)
TIME_LABEL_RE = re.compile(r"(?im)^[ \t|]*(?:Uhrzeit|Zeit|Beginn|Wann)[ \t]*[:?][ \t|]*(?P<value>[^\n]*\d[^\n]*)$")
MAIN_SELECTORS = (
    "[itemprop=articleBody]",
    ".news-single .article",
    ".mod_eventreader",
    ".event.layout_full",
    "main",
    "[role=main]",
    "article",
    "#content",
    "#main",
    ".content",
)
DROP_IN_MAIN = ("nav", "header", "footer", "aside", "form", "script", "style", "noscript", "template", "button")


# --------------------------------------------------------------------------- entry points


@guarded("html")
def extract(body: bytes, ctx: ExtractContext) -> Extraction:
    """Read one event list page as ``ctx.options`` say; raise ExtractError (only) when it cannot be read."""
    parser = ctx.options.get("parser")
    if parser:
        return _site_module(parser).extract(body, ctx)
    return _extract(body, ctx)


def enrich(event: RawEvent, body: bytes, ctx: ExtractContext) -> tuple[RawEvent, list[str]]:
    """Fill what the list page lacked from the event's detail page; never raises."""
    label = _label(event.title)
    try:
        parser = ctx.options.get("parser")
        if parser:
            module = _site_module(parser)
            if hasattr(module, "enrich"):
                return module.enrich(event, body, ctx)
        return enrich_from_page(event, body, ctx)
    except RecursionError:
        return event, [f"detail page of {label}: markup nested too deeply; not used"]
    except ExtractError as exc:
        return event, [f"detail page of {label}: {exc}; not used"]
    except Exception as exc:  # one broken detail page must not cost the event
        return event, [f"detail page of {label}: {type(exc).__name__}: {exc}; not used"]


def _site_module(name: object):
    if not isinstance(name, str) or not PARSER_RE.match(name):
        raise ExtractError(f"html: parser {name!r} is not a module name (lower case letters, digits, _)")
    try:
        return importlib.import_module(f"aggregator.extract.sites.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"aggregator.extract.sites.{name}", "aggregator.extract.sites"):
            raise ExtractError(f"html: parser {name!r}: there is no aggregator/extract/sites/{name}.py") from None
        raise


# --------------------------------------------------------------------------- the selector extractor


def _extract(body: bytes, ctx: ExtractContext) -> Extraction:
    opts = ctx.options
    selectors = compile_selectors(opts)
    for key in ("item", "title", "date"):
        if key not in selectors:
            raise ExtractError(f"html: [sources.html] needs {key!r} (or parser = \"<module>\")")
    soup = parse_html(body, max_nodes=ctx.max_html_nodes)
    base = page_base(soup, ctx.url)
    out = Extraction()

    items = selectors["item"].select(soup, limit=MAX_ITEMS + 1)
    if len(items) > MAX_ITEMS:
        items = items[:MAX_ITEMS]
        out.warnings.append(f"selector item={opts['item']!r} matched more than {MAX_ITEMS} elements; read the first {MAX_ITEMS}")
    if not items:
        out.warnings.append(_nothing_matched(soup, opts["item"]))

    years: dict[int, int] | None = None  # item element id → year of its section heading (computed when needed)
    skipped: list[str] = []
    reference = ctx.now.astimezone(ctx.timezone).date()
    for n, item in enumerate(items, 1):
        title_el = selectors["title"].select_one(item)
        title = element_text(title_el, one_line=True, limit=MAX_TITLE) if title_el is not None else ""
        label = _label(title) if title else f"#{n}"
        date_els = selectors["date"].select(item, limit=20)
        if not title:
            out.warnings.append(f"item {label}: selector title={opts['title']!r} found no text; skipped")
            continue
        date_text = " ".join(t for t in (element_text(el, one_line=True, limit=MAX_DATE_TEXT, skip_publication=True) for el in date_els) if t)
        if "time" in selectors:
            time_el = selectors["time"].select_one(item)
            time_text = element_text(time_el, one_line=True, limit=MAX_DATE_TEXT) if time_el is not None else ""
            if time_text:
                date_text = f"{date_text}, {time_text}" if date_text else time_text

        year = None
        match = read_when(date_text, reference)
        if match is not None and match.year_inferred:
            if years is None:
                years = section_years(soup, items)
            year = years.get(id(item))
            if year is not None:
                match = read_when(date_text, reference, year=year)
        when = _when_of(match) if match is not None else _iso_when(date_els, ctx)
        if when is None:
            if date_els and not date_text and any(_has_publication_date(el) for el in date_els):
                out.warnings.append(f"item {label}: its date is a publication date, not an event date; skipped")
            elif not date_els:
                skipped.append(f"{label} (selector date={opts['date']!r} matched nothing)")
            else:
                skipped.append(f"{label} (no event date in {date_text[:80]!r})")
            continue
        start, end = when
        if _too_far(start, reference):
            out.warnings.append(f"item {label}: date {date_text[:80]!r} lies implausibly far ahead; skipped")
            continue
        if match is not None and match.year_inferred and year is None:
            first_year = start.year
            out.warnings.append(f"item {label}: {date_text[:40]!r} gives no year; assumed {first_year}")
        if match is not None:
            out.warnings.extend(f"item {label}: {w}" for w in match.warnings)

        url = _item_link(item, title_el, selectors.get("link"), base)
        location = _field(item, selectors.get("location"), MAX_LOCATION, one_line=True)
        description = _field(item, selectors.get("description"), MAX_DESCRIPTION)
        out.events.append(
            build_event(title, start, end, url=url, location=location, description=description, match=match)
        )

    _skipped_warnings(out, skipped)
    finish(out)
    if "next_page" in selectors:
        out.next_pages.extend(next_page_urls(soup, selectors["next_page"], base, ctx.url))
    if opts.get("detail"):
        out.details.extend((i, ev.url) for i, ev in enumerate(out.events) if ev.url)
    return out


def compile_selectors(opts) -> dict[str, soupsieve.SoupSieve]:
    """The selector options compiled; an invalid one is an ExtractError naming key and selector."""
    compiled = {}
    for key in SELECTOR_KEYS:
        value = opts.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ExtractError(f"html: selector {key}={value!r} is not a string")
        try:
            compiled[key] = soupsieve.compile(value)
        except (soupsieve.SelectorSyntaxError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExtractError(f"html: invalid CSS selector {key}={value!r}: {first}") from None
    return compiled


def _nothing_matched(soup: BeautifulSoup, item_selector: str) -> str:
    text = element_text(soup.body or soup, limit=20_000)
    if not text.strip():
        return f"selector item={item_selector!r} matched nothing, and the page has no text at all"
    says_empty = EMPTY_LIST_RE.search(text)
    if says_empty:
        return f"selector item={item_selector!r} matched nothing; the page says {says_empty.group(0)!r}"
    return f"selector item={item_selector!r} matched nothing — has the site changed?"


def _skipped_warnings(out: Extraction, skipped: list[str]) -> None:
    for what in skipped[:MAX_ITEM_WARNINGS]:
        out.warnings.append(f"item {what}: skipped")
    if len(skipped) > MAX_ITEM_WARNINGS:
        out.warnings.append(f"… and {len(skipped) - MAX_ITEM_WARNINGS} more items without an event date skipped")


def _field(item: Tag, selector: soupsieve.SoupSieve | None, limit: int, one_line: bool = False) -> str:
    if selector is None:
        return ""
    el = selector.select_one(item)
    return element_text(el, one_line=one_line, limit=limit) if el is not None else ""


def _item_link(item: Tag, title_el: Tag | None, selector: soupsieve.SoupSieve | None, base: str) -> str:
    if selector is not None:
        el = selector.select_one(item)
        return href_of(el, base) if el is not None else ""
    for scope in (title_el, item):
        if scope is not None:
            url = href_of(scope, base)
            if url:
                return url
    return ""


def next_page_urls(soup: BeautifulSoup, selector: soupsieve.SoupSieve, base: str, page_url: str) -> list[str]:
    """The absolute URL the ``next_page`` element links to (none when it is this page itself)."""
    el = selector.select_one(soup)
    url = href_of(el, base) if el is not None else ""
    if not url or url.split("#", 1)[0] == (page_url or "").split("#", 1)[0]:
        return []
    return [url]


# --------------------------------------------------------------------------- helpers (also for sites/ modules)


def parse_html(body: bytes, *, max_nodes: int = DEFAULT_MAX_HTML_NODES) -> BeautifulSoup:
    """Parse an HTML page (text from ``charset.decode_markup``); ExtractError when it is not HTML,
    ``LimitExceeded`` (before any tree is built) when it has more than ``max_nodes`` elements."""
    if not body or not body.strip():
        raise ExtractError("not an HTML page: empty body")
    head = body[:4096]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractError("not an HTML page: binary data")
    lead = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lead.startswith(b"%pdf"):
        raise ExtractError("not an HTML page: a PDF document")
    if lead.startswith((b"{", b"[")):
        raise ExtractError("not an HTML page: JSON (try kind \"tribe\" or \"jsonld\")")
    if lead.startswith(b"begin:vcalendar"):
        raise ExtractError("not an HTML page: an iCalendar file (use kind \"ics\")")
    if re.match(rb"(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:rdf)\b", lead, re.S):
        raise ExtractError("not an HTML page: an RSS/Atom feed (use kind \"feed\")")
    if not re.search(rb"<(?:[a-zA-Z][a-zA-Z0-9]*[\s/>]|!doctype)", body[:65536], re.I):
        raise ExtractError("not an HTML page: no markup found")
    refuse_huge_html(body, max_nodes)
    try:
        soup = markup_soup(decode_markup(body))
    except ParserRejectedMarkup as exc:
        raise ExtractError(f"not an HTML page the parser can read: {exc}") from exc
    if soup.find(True) is None:
        raise ExtractError("not an HTML page: no elements")
    return soup


def page_base(soup: BeautifulSoup, url: str) -> str:
    """The base for relative links: ``<base href>`` (TYPO3's config.baseURL) resolved against the page URL."""
    base_tag = soup.find("base", href=True)
    if base_tag is not None:
        href = str(base_tag.get("href") or "").strip()
        resolved = http_url(url or "", href) if href else ""
        if resolved:
            return resolved
    return url or ""


def absolute_url(href: str, base: str) -> str:
    """``href`` resolved against ``base``; "" for anchors, javascript:, mailto: and the like."""
    href = (href or "").strip()
    if not href or href.startswith("#"):
        return ""
    return http_url(base, href)


def href_of(el: Tag, base: str) -> str:
    """The absolute URL of ``el`` (an ``<a href>``) or of its first link."""
    if el.name == "a" and el.get("href"):
        url = absolute_url(str(el.get("href")), base)
        if url:
            return url
    for a in el.find_all("a", href=True, limit=10):
        url = absolute_url(str(a.get("href")), base)
        if url:
            return url
    return ""


def element_text(el: Tag | None, *, one_line: bool = False, limit: int = MAX_DESCRIPTION, skip_publication: bool = False) -> str:
    """The visible text of ``el``: a line per block, table cells split by " | ", at most ``limit`` characters.

    Iterative (no recursion, whatever the nesting); ``skip_publication`` leaves
    out text marked as a publication date (``itemprop="datePublished"`` …).
    """
    if el is None:
        return ""
    parts: list[str] = []
    size = 0
    last_block = last_cell = None
    for node in el.descendants:
        if isinstance(node, Tag):
            if node.name == "br":
                parts.append("\n")
            continue
        if isinstance(node, (Comment, CData, Declaration, Doctype, ProcessingInstruction)) or not isinstance(node, NavigableString):
            continue
        block = cell = None
        hidden = False
        parent = node.parent
        while parent is not None:
            name = parent.name
            if name in SKIP_TAGS or (skip_publication and is_publication_marker(parent)):
                hidden = True
                break
            if parent is el:
                break
            if block is None and name in BLOCK_TAGS:
                block = parent
            if cell is None and name in CELL_TAGS:
                cell = parent
            parent = parent.parent
        if hidden:
            continue
        text = str(node)
        if block is not last_block:
            parts.append("\n")
        elif cell is not last_cell and cell is not None:
            parts.append(" | ")
        last_block, last_cell = block, cell
        parts.append(text)
        size += len(text)
        if size > limit * 2 + 1000:
            break
    text = "".join(parts).replace("\xa0", " ").replace("\u200b", "")
    if one_line:
        text = " ".join(text.split())
    else:
        text = re.sub(r"[ \t\r\f\v]+", " ", text)
        text = re.sub(r" *\n\s*", "\n", text).strip()
    return truncate(text, limit)


def truncate(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def is_publication_marker(tag: Tag) -> bool:
    """Markup that says "this is when it was posted": schema.org datePublished, <time pubdate>, WordPress classes."""
    prop = tag.get("itemprop")
    if isinstance(prop, str) and prop.strip().lower() in PUBLICATION_PROPS:
        return True
    if tag.name == "time" and tag.has_attr("pubdate"):
        return True
    classes = tag.get("class") or ()
    return any(c.lower() in PUBLICATION_CLASSES for c in classes)


def _has_publication_date(el: Tag) -> bool:
    if is_publication_marker(el):
        return True
    return any(is_publication_marker(t) for t in el.find_all(True, limit=50))


def section_years(soup: BeautifulSoup, elements: list[Tag]) -> dict[int, int]:
    """For each element, the year named by the nearest section heading above it (h1–h6, caption, legend).

    Headings nest by level: an "h3 März" under an "h2 Veranstaltungen 2025" is in
    2025; a new h2 without a year ends that section. One pass over the page.
    """
    wanted = {id(e) for e in elements}
    found: dict[int, int] = {}
    stack: dict[int, int | None] = {}  # heading level → year it names (or None)
    current: int | None = None
    for node in soup.descendants:
        if not isinstance(node, Tag):
            continue
        if id(node) in wanted and current is not None:
            found[id(node)] = current
        level = _heading_level(node)
        if level is None or _inside(node, wanted):
            continue  # an item's own heading ("Jahrestagung 2024") is its title, not a section
        stack = {lv: y for lv, y in stack.items() if lv < level}
        stack[level] = heading_year(element_text(node, one_line=True, limit=200))
        current = next((stack[lv] for lv in sorted(stack, reverse=True) if stack[lv] is not None), None)
    return found


def heading_year(text: str) -> int | None:
    """The year a heading element names: "Veranstaltungen 2025", "Vorschau 2026", also "Workshops 2025"."""
    year = year_from_heading(text)
    if year is not None:
        return year
    years = YEAR_RE.findall(text)
    if len(text) <= 80 and len(years) == 1 and not find_dates(text):
        return int(years[0])
    return None


def _inside(tag: Tag, ids: set[int]) -> bool:
    parent = tag.parent
    while parent is not None:
        if id(parent) in ids:
            return True
        parent = parent.parent
    return False


def _heading_level(tag: Tag) -> int | None:
    if tag.name in HEADING_TAGS:
        return int(tag.name[1])
    if tag.name in ("caption", "legend"):
        return 7
    return None


def read_when(text: str, reference: date, *, year: int | None = None) -> DateMatch | None:
    """The first event date of ``text``, a field that holds an event's date (German).

    Year-less dates are in ``year`` when given, else near ``reference``. Being the
    date field, "14.10.2025 18:00" is the event's start here, not a posting timestamp.
    """
    if not text:
        return None
    matches = find_dates(text, reference=reference, year_hint=year, date_field=True)
    return matches[0] if matches else None


def _when_of(match: DateMatch) -> tuple[date | datetime, date | datetime]:
    start, end = match.start, match.end
    if end is None and not isinstance(start, datetime):
        end = start + timedelta(days=1)  # one all-day event: the exclusive end, as the ICS extractor gives it
    return start, end


def _iso_when(els: list[Tag], ctx: ExtractContext) -> tuple[date | datetime, date | datetime | None] | None:
    """A ``<time datetime="…">`` that is not a publication date, when the text gave no date."""
    for el in els:
        times = [el] if el.name == "time" else el.find_all("time", limit=5)
        for t in times:
            value = str(t.get("datetime") or "").strip()
            if not value or _marked_published(t, el):
                continue
            try:
                if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    day = isoparse(value).date()
                    return day, day + timedelta(days=1)
                parsed = isoparse(value)
            except (ValueError, OverflowError):
                continue
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(ctx.timezone)
            return parsed, None
    return None


def _marked_published(tag: Tag, top: Tag) -> bool:
    node = tag
    while node is not None:
        if is_publication_marker(node):
            return True
        if node is top:
            return False
        node = node.parent
    return False


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _too_far(start: date | datetime, reference: date) -> bool:
    return _day(start) > reference + MAX_FUTURE


def build_event(
    title: str,
    start: date | datetime,
    end: date | datetime | None,
    *,
    url: str = "",
    location: str = "",
    description: str = "",
    match: DateMatch | None = None,
) -> RawEvent:
    """A RawEvent with status from the date's and the title's status words; uid = url (``finish`` makes it unique)."""
    status = "confirmed"
    if (match is not None and match.cancelled) or CANCEL_TITLE_RE.search(title):
        status = "cancelled"
    elif (match is not None and match.postponed) or POSTPONE_TITLE_RE.search(title):
        status = "tentative"
    if end is None and not isinstance(start, datetime):
        end = start + timedelta(days=1)
    uid = url or "sha256:" + hashlib.sha256(f"{title}\x1f{start.isoformat()}".encode("utf-8", "replace")).hexdigest()[:32]
    return RawEvent(
        source_uid=uid,
        title=truncate(title, MAX_TITLE),
        start=start,
        end=end,
        description=truncate(description, MAX_DESCRIPTION),
        location=truncate(location, MAX_LOCATION),
        url=url,
        status=status,
    )


def finish(out: Extraction) -> None:
    """Make source UIDs unique: a link shared by several dates becomes ``url#start``, then ``#n``."""
    seen: set[str] = set()
    for ev in out.events:
        uid = ev.source_uid
        if uid in seen:
            uid = f"{ev.source_uid}#{ev.start.isoformat()}"
            n = 1
            while uid in seen:
                n += 1
                uid = f"{ev.source_uid}#{ev.start.isoformat()}#{n}"
        seen.add(uid)
        ev.source_uid = uid


def _label(title: str) -> str:
    title = " ".join((title or "").split()) or "(untitled)"
    if len(title) > 80:
        title = title[:77] + "…"
    return repr(title)


# --------------------------------------------------------------------------- detail pages


def main_text(soup: BeautifulSoup, limit: int = MAX_PAGE_TEXT) -> str:
    """The page's main content as text (navigation, header, footer and forms left out)."""
    main = None
    for css in MAIN_SELECTORS:
        main = soup.select_one(css)
        if main is not None and element_text(main, limit=200).strip():
            break
        main = None
    main = main or soup.body or soup
    for tag in main.find_all(DROP_IN_MAIN):
        if tag is not main:
            tag.extract()
    return element_text(main, limit=limit)


def enrich_from_page(event: RawEvent, body: bytes, ctx: ExtractContext) -> tuple[RawEvent, list[str]]:
    """The generic detail-page step: JSON-LD/microdata first, then the page's German text."""
    notes: list[str] = []
    if _jsonld is not None and hasattr(_jsonld, "enrich") and has_structured_event(body):
        try:
            event, more = _jsonld.enrich(event, body, ctx)
            notes.extend(more)
        except Exception as exc:  # the jsonld step is a bonus; the text step still runs
            notes.append(f"detail page of {_label(event.title)}: structured data unreadable ({type(exc).__name__}); used the text")
    soup = parse_html(body, max_nodes=ctx.max_html_nodes)
    text = main_text(soup)

    changes: dict = {}
    when = _detail_when(event, text)
    if when is not None:
        changes["start"], changes["end"] = when
    if not event.location:
        location = find_location(text)
        if location:
            changes["location"] = location
    if not event.description:
        description = truncate(_without_title(text, event.title), MAX_DESCRIPTION)
        if description:
            changes["description"] = description
    if not event.title:
        h1 = soup.find("h1")
        if h1 is not None:
            changes["title"] = element_text(h1, one_line=True, limit=MAX_TITLE)
    return (replace(event, **changes) if changes else event), notes


STRUCTURED_EVENT_RE = re.compile(
    rb"(?i)application/ld\+json|itemtype\s*=\s*[\"']?https?://schema\.org/\w*Event|class\s*=\s*[\"'][^\"']*\bh-event\b"
)


def has_structured_event(body: bytes) -> bool:
    """Does the page carry JSON-LD, schema.org Event microdata or an h-event at all (worth the jsonld step)?"""
    return STRUCTURED_EVENT_RE.search(body) is not None


def _detail_when(event: RawEvent, text: str) -> tuple[datetime, datetime | None] | None:
    """The time of day from the detail text, when the list gave only the day.

    A one-day event takes the first time the page gives for that day; a
    multi-day event only a range with times over the same days (one day's time
    in "Auftakt: 13.10., 10 Uhr" is not the whole week's). A known start time
    gains a missing end time.
    """
    if isinstance(event.start, datetime):
        if event.end is not None:
            return None
        for m in find_dates(text, reference=event.start.date()):
            if m.start == event.start and isinstance(m.end, datetime):
                return m.start, m.end
        return None
    day = event.start
    last = event.end - timedelta(days=1) if isinstance(event.end, date) else day
    for m in find_dates(text, reference=day):
        if not isinstance(m.start, datetime) or m.start.date() != day:
            continue
        if last == day:
            return m.start, m.end
        if isinstance(m.end, datetime) and m.end.date() == last:
            return m.start, m.end
    if last != day:
        return None
    # "Datum: 05.03.2025" … "Uhrzeit: 09:30 – 16:00 Uhr" further down: the label's time, on the event's day
    label = TIME_LABEL_RE.search(text)
    if label and not find_dates(label.group("value"), reference=day):
        composed = find_dates(f"{day:%d.%m.%Y}, {label.group('value')}", reference=day)
        if composed and isinstance(composed[0].start, datetime):
            return composed[0].start, composed[0].end
    return None


def find_location(text: str) -> str:
    """The place after an "Ort:" / "Veranstaltungsort:" / "Wo?" label (same line, or the next when alone)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = LOCATION_LABEL_RE.match(line)
        if not m:
            continue
        value = m.group("value").strip(" |\t")
        if not value and i + 1 < len(lines):
            value = lines[i + 1].strip(" |\t")
        value = " ".join(value.replace(" | ", ", ").split())
        if value and not LOCATION_LABEL_RE.match(value):
            return truncate(value, MAX_LOCATION)
    return ""


def _without_title(text: str, title: str) -> str:
    """The detail text without the heading that repeats the event's title."""
    lines = text.split("\n")
    if lines and title and " ".join(lines[0].split()) == " ".join(title.split()):
        lines = lines[1:]
    return "\n".join(lines).strip()

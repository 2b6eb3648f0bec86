"""RSS 0.9x/1.0/2.0 and Atom feeds → raw events (via feedparser).

Where an item's event date comes from, in this order:

1. event metadata: the RSS event module (``ev:startdate``/``ev:enddate``/
   ``ev:location``, http://purl.org/rss/1.0/modules/event/) or xCal elements
   (``xcal:dtstart``/``xcal:dtend``/``xcal:location``, urn:ietf:params:xml:ns:xcal)
   with ISO-8601 values (basic or extended); a value with an offset stays aware,
   one without is floating (naive), a date alone is all-day. ``ev:enddate`` names
   the last day (inclusive), ``xcal:dtend`` the day after (exclusive, as iCalendar);
2. a German date in the item's title (``find_dates``), else in its content or
   summary (HTML stripped). Year-less dates take their year from the item's
   publication date, else from ``ctx.now``.

An item's publication date (pubDate, dc:date, published, updated) says when it
was posted and is never taken for the event date: an item without an event date
is skipped and named in the warnings.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import feedparser
from bs4.exceptions import ParserRejectedMarkup
from dateutil.parser import isoparse

from aggregator.extract import ExtractContext, ExtractError, Extraction, guarded
from aggregator.extract.markup import soup as markup_soup
from aggregator.extract.markup import strip_if_huge, strip_tags
from aggregator.german_dates import CANCEL_TITLE_RE, POSTPONE_TITLE_RE, DateMatch, find_dates
from aggregator.model import RawEvent
from aggregator.urls import join

EV_NS = "http://purl.org/rss/1.0/modules/event/"
XCAL_NS = "urn:ietf:params:xml:ns:xcal"

# Items skipped for want of an event date are named one by one up to this many.
MAX_ITEM_WARNINGS = 20
# A date found in text further ahead than this is a licence expiry, a
# typo or a misread number, not an event of a business network.
MAX_FUTURE = timedelta(days=5 * 366)

_SEPARATORS = " \t\r\n|:–—-,;/"
_BLOCK_TAGS = ["p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section", "article", "dd", "dt", "blockquote", "pre"]
_ISO_DATE_RE = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")


@guarded("feed")
def extract(body: bytes, ctx: ExtractContext) -> Extraction:
    """Read an RSS/Atom feed; raise ExtractError (only) when the body is not one."""
    return _extract(body, ctx)


def _extract(body: bytes, ctx: ExtractContext) -> Extraction:
    if not body or not body.strip():
        raise ExtractError("not an RSS/Atom feed: empty body")
    body, bad_encoding = _readable_declaration(body)
    body = _sane_charrefs(body)
    # A BytesIO, never the bytes themselves: feedparser would open a body that
    # happens to name a local file. No response headers either: without a
    # Content-Type feedparser trusts the XML declaration/BOM, as it should here.
    # Hostile XML stays inert (tests/test_hostile_input.py): feedparser drops the
    # DTD, keeping only entities whose value is plain text (so no billion laughs),
    # and parses with external entities off (so no XXE, no DTD fetched).
    try:
        parsed = feedparser.parse(io.BytesIO(body))
    except Exception as exc:  # feedparser's own bugs on broken feeds (int(None) for an empty <width>, chr() in UTF-16)
        raise ExtractError(f"not readable as an RSS/Atom feed (feedparser failed: {type(exc).__name__}: {exc})") from exc
    version = parsed.get("version") or ""
    # An empty <item/> nested inside an item (FeedBurner's PCMag feeds) is an
    # entry of its own for feedparser, with no field at all: no item of the feed.
    entries = [entry for entry in parsed.get("entries") or [] if entry]
    problem = _bozo_reason(parsed)
    if not version:
        if problem:
            reason = problem
        else:
            reason = "no <rss>, <rdf:RDF> or <feed> root element"
        if _looks_like_html(body):
            reason = "an HTML page, " + reason
        raise ExtractError(f"not an RSS/Atom feed: {reason}")

    out = Extraction()
    if bad_encoding is not None:
        out.warnings.append(f"feed declares the encoding {bad_encoding!r}, which is no encoding name; read as UTF-8")
    if problem:
        out.warnings.append(
            f"feed is not well-formed ({problem}); used the {len(entries)} item(s) that could be read"
        )
    if not entries:
        out.warnings.append(f"feed ({version}) has no items")
        return out

    prefixes = _prefixes(parsed.get("namespaces") or {})
    skipped: list[str] = []
    seen_uids: dict[str, int] = {}
    for entry in entries:
        try:
            event, notes = _entry_event(entry, ctx, prefixes)
        except Exception as exc:  # one broken item must not cost the others
            out.warnings.append(f"item {_label(entry)}: skipped, {type(exc).__name__}: {exc}")
            continue
        out.warnings.extend(notes)
        if event is None:
            skipped.append(_label(entry))
            continue
        if event is False:  # skipped, and the reason is already in the notes
            continue
        n = seen_uids.get(event.source_uid, 0) + 1
        seen_uids[event.source_uid] = n
        if n > 1:
            out.warnings.append(f"item {_label(entry)}: id {event.source_uid!r} repeats; kept as #{n}")
            event.source_uid = f"{event.source_uid}#{n}"
        out.events.append(event)

    for label in skipped[:MAX_ITEM_WARNINGS]:
        out.warnings.append(f"item {label}: no event date found (its publication date is not one); skipped")
    if len(skipped) > MAX_ITEM_WARNINGS:
        out.warnings.append(f"… and {len(skipped) - MAX_ITEM_WARNINGS} more items without an event date skipped")
    return out


# --------------------------------------------------------------------------- feed-level helpers

_XML_ENCODING = re.compile(rb"""\A(\xef\xbb\xbf)?(\s*<\?xml[^>]{0,200}?\bencoding\s*=\s*)(["'])([^"']{0,100})\3""")
_ENCODING_NAME = re.compile(rb"\A[A-Za-z][A-Za-z0-9._:-]*\Z")


_CHARREF = re.compile(rb"&#([xX][0-9a-fA-F]+|[0-9]+)")


def _sane_charrefs(body: bytes) -> bytes:
    """``body`` with numeric character references that name no character (beyond U+10FFFF,
    a surrogate, thousands of digits) made U+FFFD: feedparser's loose parser calls ``chr``
    on them and fails the whole feed. (ASCII-compatible encodings; in UTF-16 they stay.)"""

    def fix(m: re.Match) -> bytes:
        ref = m.group(1)
        if len(ref) > 12:
            return b"&#xFFFD"
        value = int(ref[1:], 16) if ref[:1] in b"xX" else int(ref)
        return b"&#xFFFD" if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF else m.group(0)

    return _CHARREF.sub(fix, body) if b"&#" in body else body


def _readable_declaration(body: bytes) -> tuple[bytes, str | None]:
    """``body`` with an XML declaration's encoding that is no encoding name at all (a NUL
    byte in it makes feedparser's ``bytes.decode`` raise ValueError) replaced by UTF-8,
    and that name; else ``body`` unchanged and None."""
    m = _XML_ENCODING.match(body)
    if m is None or _ENCODING_NAME.match(m.group(4)):
        return body, None
    fixed = body[: m.start(4)] + b"utf-8" + body[m.end(4) :]
    return fixed, m.group(4).decode("latin-1")



def _bozo_reason(parsed) -> str:
    if not parsed.get("bozo"):
        return ""
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "bozo"
    text = str(exc).strip() or type(exc).__name__
    line = getattr(exc, "getLineNumber", None)
    if callable(line):
        try:
            text = f"{text} at line {line()}"
        except Exception:
            pass
    return text


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<head>" in head


def _prefixes(namespaces: dict) -> dict[str, list[str]]:
    """feedparser's key prefixes for the event namespaces ("ev_", "xcal_", or the document's own)."""
    found = {"ev": ["ev_"], "xcal": ["xcal_"]}
    for prefix, uri in namespaces.items():
        if not prefix:
            continue
        uri = (uri or "").strip()
        for name, ns in (("ev", EV_NS), ("xcal", XCAL_NS)):
            if uri.rstrip("/") == ns.rstrip("/"):
                key = prefix.lower() + "_"
                if key not in found[name]:
                    found[name].append(key)
    return found


def _label(entry) -> str:
    title = _text(entry.get("title")) or _text(entry.get("id")) or _text(entry.get("link")) or "(untitled)"
    title = " ".join(title.split())
    if len(title) > 80:
        title = title[:77] + "…"
    return f"{title!r}"


def _text(value) -> str:
    return value if isinstance(value, str) else ""


# --------------------------------------------------------------------------- one item


def _entry_event(entry, ctx: ExtractContext, prefixes: dict[str, list[str]]) -> tuple[RawEvent | None | bool, list[str]]:
    """(event, notes); event None: no event date, False: skipped for a reason given in notes."""
    notes: list[str] = []
    title = " ".join(_text(entry.get("title")).split())
    description = _description(entry)
    location = ""
    status = "confirmed"

    when = _metadata_when(entry, prefixes, notes, _label(entry))
    if when is not None:
        start, end, location = when
        start, end = _in_source_zone(start, ctx), _in_source_zone(end, ctx)
        event_title = title
    else:
        reference = _reference(entry, ctx)
        match, from_title = _text_when(title, description, reference)
        if match is None:
            return None, notes
        first_day = match.start.date() if isinstance(match.start, datetime) else match.start
        if first_day > ctx.now.astimezone(ctx.timezone).date() + MAX_FUTURE:
            notes.append(f"item {_label(entry)}: date {match.text!r} lies implausibly far ahead; skipped")
            return False, notes
        start, end = match.start, match.end
        if match.year_inferred:
            notes.append(f"item {_label(entry)}: {match.text.strip()!r} gives no year; assumed {first_day.year}")
        notes.extend(f"item {_label(entry)}: {w}" for w in match.warnings)
        event_title = _strip_date(title, match) if from_title else title
        if match.cancelled:
            status = "cancelled"
        elif match.postponed:
            status = "tentative"

    if end is None and not isinstance(start, datetime):
        end = start + timedelta(days=1)  # one all-day event: the exclusive end, as the ICS extractor gives it

    if CANCEL_TITLE_RE.search(title):
        status = "cancelled"
    elif status == "confirmed" and POSTPONE_TITLE_RE.search(title):
        status = "tentative"

    link = _text(entry.get("link")).strip()
    if link and ctx.url:
        link = join(ctx.url, link)
    uid = _text(entry.get("id")).strip() or link
    if not uid:
        uid = "sha256:" + hashlib.sha256(title.encode("utf-8", "replace")).hexdigest()[:32]

    categories: list[str] = []
    for tag in entry.get("tags") or []:
        term = " ".join(_text(tag.get("term")).split())
        if term and term not in categories:
            categories.append(term)

    event = RawEvent(
        source_uid=uid,
        title=event_title or title or "(ohne Titel)",
        start=start,
        end=end,
        description=description,
        location=location,
        url=link,
        status=status,
        categories=tuple(categories),
    )
    return event, notes


def _description(entry) -> str:
    for content in entry.get("content") or []:
        value = _text(content.get("value")).strip()
        if value:
            return value
    return _text(entry.get("summary")).strip()


def _reference(entry, ctx: ExtractContext) -> date:
    """The day the item was posted (only to give year-less dates a year), else today."""
    for key in ("published_parsed", "updated_parsed"):
        value = dict.get(entry, key)  # plain dict lookup: no feedparser fallback mapping (and its warning)
        if value:
            try:
                posted = datetime(*value[:6], tzinfo=timezone.utc)
                return posted.astimezone(ctx.timezone).date()
            except (TypeError, ValueError, OverflowError):
                continue
    return ctx.now.astimezone(ctx.timezone).date()


def _text_when(title: str, description: str, reference: date) -> tuple[DateMatch | None, bool]:
    """The first date of the title, else of the text; (match, came from the title).

    A title date without a time takes the time the text gives for the same day
    ("Workshop am 14.10.2025" + "… am 14.10.2025 von 9 bis 16 Uhr").
    """
    in_title = find_dates(title, reference=reference)
    in_text = find_dates(html_to_text(description), reference=reference) if description else []
    if in_title:
        first = in_title[0]
        if not isinstance(first.start, datetime) and first.end is None:
            for other in in_text:
                if isinstance(other.start, datetime) and other.start.date() == first.start:
                    return replace(first, start=other.start, end=other.end), True
        return first, True
    if in_text:
        return in_text[0], False
    return None, False


def _strip_date(title: str, match: DateMatch) -> str:
    """Drop the date the event's date came from when it leads or ends the title.

    "14.10.2025 | 18:00 | Workshop X" → "Workshop X";
    "Kunststofftag | Messe Erfurt | 29.-30.06.2016" → "Kunststofftag | Messe Erfurt";
    "Workshop Wasserstoff am 14. Oktober 2025, 9:00 – 16:00 Uhr" → "Workshop Wasserstoff".
    """
    a, b = match.span
    if not title[:a].strip(_SEPARATORS):
        rest = title[b:].lstrip(_SEPARATORS).strip()
        return rest or title
    if not title[b:].strip(_SEPARATORS + "().!"):
        head = re.sub(r"(?i)(?:\s+(?:am|vom|ab|bis|zum))+\s*$", "", title[:a].rstrip(" ,(\t"))
        head = head.rstrip(_SEPARATORS + "(").strip()
        return head or title
    return title


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, one line per block element, table cells split by " | "."""
    if "<" not in html and "&" not in html:
        return html
    stripped = strip_if_huge(html)  # a fragment of too many tags is not worth a tree (memory)
    if stripped is not None:
        return " ".join(stripped.split())
    try:
        soup = markup_soup(html)
    except ParserRejectedMarkup:  # then no tree: the tags cut out
        return " ".join(strip_tags(html).split())
    for bad in soup(["script", "style"]):
        bad.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for cell in soup.find_all(["td", "th"]):
        cell.insert_before(" | ")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    text = soup.get_text("")
    text = text.replace("\xa0", " ")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" *\n[\s]*", "\n", text)
    return text.strip()


# --------------------------------------------------------------------------- event metadata


def _meta(entry, prefixes: list[str], name: str) -> str:
    for prefix in prefixes:
        value = entry.get(prefix + name)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""


def _metadata_when(entry, prefixes, notes: list[str], label: str):
    """(start, end, location) from ev:/xcal: elements, or None when the item has none usable."""
    for kind, start_key, end_key, end_inclusive in (("ev", "startdate", "enddate", True), ("xcal", "dtstart", "dtend", False)):
        raw_start = _meta(entry, prefixes[kind], start_key)
        if not raw_start:
            continue
        start = _iso(raw_start)
        if start is None:
            notes.append(f"item {label}: {kind}:{start_key} {raw_start!r} is not an ISO-8601 date; looked in the text instead")
            continue
        raw_end = _meta(entry, prefixes[kind], end_key)
        end = _iso(raw_end) if raw_end else None
        if raw_end and end is None:
            notes.append(f"item {label}: {kind}:{end_key} {raw_end!r} is not an ISO-8601 date; ignored")
        end = _fit_end(start, end, end_inclusive, notes, label, f"{kind}:{end_key}")
        location = _meta(entry, prefixes[kind], "location")
        return start, end, location
    return None


def _in_source_zone(value, ctx: ExtractContext):
    """A fixed offset that is the source zone's offset at that instant becomes that zone (Europe/Berlin)."""
    if isinstance(value, datetime) and value.tzinfo is not None and value.tzinfo is not timezone.utc:
        local = value.astimezone(ctx.timezone)
        if local.utcoffset() == value.utcoffset():
            return local
    return value


def _iso(value: str) -> date | datetime | None:
    value = value.strip()
    try:
        if _ISO_DATE_RE.match(value):
            return isoparse(value).date()
        parsed = isoparse(value)
    except (ValueError, OverflowError, TypeError):
        return None
    offset = parsed.utcoffset()
    if offset is not None:  # dateutil's tzoffset/tzutc → the standard library's fixed zones
        parsed = parsed.replace(tzinfo=timezone.utc if not offset else timezone(offset))
    return parsed


def _fit_end(start, end, inclusive: bool, notes: list[str], label: str, name: str):
    if end is None:
        return None
    if isinstance(start, datetime) != isinstance(end, datetime):
        if isinstance(start, datetime) or not inclusive:
            notes.append(f"item {label}: {name} mixes a date and a date-time with the start; ignored")
            return None
        end = end.date()  # "2025-12-01" … "2025-12-03T18:00": the last day counts
    if isinstance(start, datetime) and (start.tzinfo is None) != (end.tzinfo is None):
        notes.append(f"item {label}: {name} mixes floating and zoned time with the start; ignored")
        return None
    if not isinstance(start, datetime):
        if inclusive:
            end = end + timedelta(days=1)
        if end <= start + timedelta(days=1):
            return None  # a single all-day event
    if end < start:
        notes.append(f"item {label}: {name} lies before the start; ignored")
        return None
    return end

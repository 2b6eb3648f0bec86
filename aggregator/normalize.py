"""Raw events → normalized events: aware times, clean text, canonical URLs.

``normalize(raw, ...)`` promises an ``Event`` whose start is a ``date`` (all
day) or an aware datetime in an IANA zone or UTC, whose end is of the same
kind and not before the start, whose text holds no markup, and whose URL is
an absolute http(s) URL or empty. It raises ``NormalizeError`` (and nothing
else) for an event that cannot be made valid, among them events dated outside
the years ``MIN_YEAR`` to ``MAX_YEAR``. The status follows the cancel and
postpone words of the title (``status_with_title_markers``) for every kind.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from bs4.exceptions import ParserRejectedMarkup

from aggregator.extract.markup import soup as markup_soup
from aggregator.extract.markup import strip_if_huge, strip_tags
from aggregator.german_dates import CANCEL_TITLE_RE, POSTPONE_TITLE_RE
from aggregator.model import STATUSES, Event, RawEvent, When
from aggregator.urls import join

UNTITLED = "(ohne Titel)"
# Dates outside these years are typos or hostile; near the edges of what Python
# represents (years 1 and 9999) a zone conversion or one more day overflows.
MIN_YEAR, MAX_YEAR = 1900, 2200
MAX_TITLE = 300
MAX_TEXT = 10_000

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|pk_\w+|mtm_\w+|fbclid|gclid|msclkid|mc_cid|mc_eid|_hsenc|_hsmi)$", re.I)
_LOOKS_LIKE_HTML = re.compile(r"<[a-zA-Z/!][^>]*>|&[#a-zA-Z0-9]+;")
_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "section", "article")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+")  # names (IDN as Unicode), IPv4, IPv6 (urlsplit drops its brackets)
_UNSAFE_IN_PATH = re.compile(r'[ "<>\\^`{|}]')


class NormalizeError(ValueError):
    """A raw event that cannot become a valid event (the message says why)."""


def normalize(raw: RawEvent, *, source_id: str, network_id: str, zone: ZoneInfo, base_url: str) -> Event:
    """Make one raw event publishable; see the module docstring for what is promised."""
    for value in (raw.start, raw.end, raw.recurrence_id):
        if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
            raise NormalizeError(f"event {raw.source_uid!r}: date {value.isoformat()} lies outside the years {MIN_YEAR}–{MAX_YEAR}")
    start = _aware(raw.start, zone)
    if start is None:
        raise NormalizeError(f"event {raw.source_uid!r} has no start")
    tzid = _tzid(start)
    end = _end(start, _aware(raw.end, zone), tzid)
    title = clean_text(raw.title, single_line=True)[:MAX_TITLE] or UNTITLED
    status = status_with_title_markers(raw.status if raw.status in STATUSES else "confirmed", title)
    return Event(
        source_id=source_id,
        network_id=network_id,
        source_uid=raw.source_uid,
        recurrence_id=_recurrence_id(raw.recurrence_id, zone, tzid),
        title=title,
        description=clean_text(raw.description)[:MAX_TEXT],
        location=clean_text(raw.location, single_line=True)[:MAX_TITLE],
        url=canonical_url(raw.url, base_url),
        start=start,
        end=end,
        tzid=tzid,
        status=status,
        categories=tuple(dict.fromkeys(c for c in (clean_text(c, single_line=True) for c in raw.categories) if c)),
        rrule=raw.rrule or None,
        rdates=tuple(_like(d, start, zone, tzid) for d in raw.rdates if MIN_YEAR <= d.year <= MAX_YEAR),
        exdates=tuple(_like(d, start, zone, tzid) for d in raw.exdates if MIN_YEAR <= d.year <= MAX_YEAR),
    )


def status_with_title_markers(status: str, title: str) -> str:
    """``status`` corrected by the status words in ``title``: a cancel word ("Abgesagt: …",
    "… – entfällt", "(findet nicht statt)") makes it cancelled, a postpone word
    ("verschoben") makes a confirmed event tentative.

    Applied here, where every kind of source passes, because sites mark a cancellation in
    the title far more often than in a status field, and an ICS or JSON-LD event whose
    title says "ABGESAGT" must not be published as confirmed."""
    if status != "cancelled" and _marks(CANCEL_TITLE_RE, title):
        return "cancelled"
    if status == "confirmed" and _marks(POSTPONE_TITLE_RE, title):
        return "tentative"
    return status


def _marks(words: re.Pattern, title: str) -> bool:
    """Does a status word of ``words`` mark ``title``? A German one anywhere ("Stammtisch
    entfällt"); an English one ("cancelled", "postponed") only where a marker stands: first,
    in brackets, or last after a dash or colon, for "one is cancelled" names a series of
    which one date is cancelled, and is no marker."""
    for m in words.finditer(title):
        word = m.group()
        if not word.lower().startswith(("cancel", "postpone")):
            return True
        before, after = title[: m.start()], title[m.end():]
        if not before.strip(" [(*!") or (before.rstrip().endswith(("(", "[")) and after.lstrip().startswith((")", "]"))):
            return True
        if not after.strip(" .!)]") and before.rstrip().endswith(("-", "–", "—", ":", "|", "(", "[")):
            return True
    return False


def clean_text(value: str | None, *, single_line: bool = False) -> str:
    """Markup and entities removed, whitespace tidied, control characters dropped."""
    if not value:
        return ""
    text = str(value)
    if _LOOKS_LIKE_HTML.search(text):
        text = _markup_to_text(text)
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    if single_line:
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return out.strip()


def _markup_to_text(text: str) -> str:
    """The text of an HTML fragment, a line break around each block. Without a tree when
    it has too many tags (memory) or the parser rejects it: then the tags are cut out."""
    stripped = strip_if_huge(text)
    if stripped is not None:
        return stripped
    try:
        soup = markup_soup(text)
    except ParserRejectedMarkup:
        return strip_tags(text)
    for tag in soup(["script", "style"]):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    return html.unescape(soup.get_text())


def canonical_url(url: str | None, base_url: str = "") -> str:
    """An absolute http(s) URL without fragment, default port and tracking parameters, or ""."""
    if not url:
        return ""
    url = url.strip()
    absolute = join(base_url, url)
    if not absolute:
        return ""
    parts = urlsplit(absolute)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname.lower()
    if not _HOST.fullmatch(host):
        return ""  # quotes, angle brackets and the like: no real host name, maybe an attribute break-out
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return ""
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)])
    # Characters a URL never carries raw (RFC 3986) are percent-encoded, as a browser would,
    # so a link cannot bring quotes or angle brackets into a page, a mail or a feed.
    path = _UNSAFE_IN_PATH.sub(lambda m: f"%{ord(m.group()):02X}", parts.path or "/")
    return urlunsplit((scheme, host, path, query, ""))


def _aware(value: When | None, zone: ZoneInfo) -> When | None:
    """Dates stay dates; floating datetimes get the source's zone; foreign tzinfos become UTC."""
    if value is None or not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    if isinstance(value.tzinfo, ZoneInfo) or value.tzinfo is timezone.utc:
        return value
    return value.astimezone(timezone.utc)


def _tzid(start: When) -> str:
    if not isinstance(start, datetime):
        return ""
    tz = start.tzinfo
    if tz is timezone.utc or (isinstance(tz, ZoneInfo) and tz.key in ("UTC", "Etc/UTC", "GMT", "Etc/GMT")):
        return "UTC"
    return tz.key  # type: ignore[union-attr]


def _in_zone(value: datetime, tzid: str) -> datetime:
    return value.astimezone(timezone.utc if tzid == "UTC" else ZoneInfo(tzid))


def _end(start: When, end: When | None, tzid: str) -> When | None:
    if isinstance(start, datetime):
        if end is None:
            return None
        if not isinstance(end, datetime):  # a date end to a timed start: until that day's start
            end = datetime.combine(end, datetime.min.time(), start.tzinfo)
        end = _in_zone(end, tzid)
        return end if end >= start else start
    if isinstance(end, datetime):
        end = end.date()
    if end is None or end <= start:
        return start + timedelta(days=1)
    return end


def _like(value: When, start: When, zone: ZoneInfo, tzid: str) -> When:
    """A recurrence date of the same kind as the start (date or datetime in the event's zone)."""
    if isinstance(start, datetime):
        if not isinstance(value, datetime):
            value = datetime.combine(value, start.timetz().replace(tzinfo=None))
        return _in_zone(_aware(value, zone), tzid)  # type: ignore[arg-type]
    return value.date() if isinstance(value, datetime) else value


def _recurrence_id(value: When | None, zone: ZoneInfo, tzid: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _aware(value, zone)
        if tzid:
            value = _in_zone(value, tzid)  # type: ignore[arg-type]
        return value.isoformat()
    return date.isoformat(value)

"""The Events Calendar (WordPress plugin) REST API → raw events.

Reads one page of ``/wp-json/tribe/events/v1/events``: a JSON object with an
``events`` list, ``total``/``total_pages`` and, while more pages follow,
``next_rest_url`` (absolute; resolved against ``ctx.url`` should a site send a
relative one). That URL becomes ``Extraction.next_pages``; the crawler fetches it.

Per event:

- ``source_uid`` is ``"tribe:<id>"``, the WordPress post id. The store keys
  events by (source, uid), so the host is not repeated here and a site reached
  under a second domain keeps its ids;
- ``title`` and category names are HTML-decoded (WordPress sends ``&#8211;``,
  ``&#038;``, ``&#8222;…&#8220;``, ``&amp;``), tags stripped;
  ``description`` (else ``excerpt``) stays HTML for normalize to clean;
- ``organizer``: the names of the ``organizer`` list end the description as a
  paragraph "Veranstalter: …" (unless it names them already), as the jsonld
  extractor does with schema.org's ``organizer``, so both kinds of one site agree;
- times: ``utc_start_date``/``utc_end_date`` (UTC, "YYYY-MM-DD HH:MM:SS") are
  the truth, shown in the event's ``timezone`` when that is an IANA name, else
  in the source's zone (``ctx.timezone``). The local ``start_date``/``end_date``
  are read in the event's zone (or the "UTC+1" style offset TEC allows) and
  only compared: a mismatch is a warning, not a correction. Without UTC fields
  the local ones are used;
- ``all_day``: dates from the local fields; TEC's end is "23:59:59" of the last
  day, so the exclusive end is the day after it (an end at 00:00:00 on a later
  day is taken as already exclusive);
- ``location``: venue name, address, "zip city"; no venue but ``is_virtual``
  (Events Virtual / Pro) gives "Online";
- ``status``: TEC keeps cancelled / postponed in the ``_tribe_events_status``
  post meta ("canceled", "postponed", "" or "scheduled"), which its REST API
  does not send by itself; a site (or an add-on) that exposes it does so as
  ``event_status`` (also read: ``tribe_events_status``, ``_tribe_events_status``,
  or an object with a ``value``). "canceled" → cancelled, "postponed" →
  tentative. Failing that, the words German sites put in titles ("Abgesagt:",
  "verschoben") decide, as in the feed extractor.

``ExtractError`` (and only that) when the body is not such a response: not
JSON, an HTML page, a WordPress REST error object (``{"code": "rest_no_route",
…}``: the plugin or its API is missing), or JSON without an ``events`` list.
A response with an empty ``events`` list is a site with no upcoming events:
zero events, no error.
"""

from __future__ import annotations

import html
import json
import re
import zoneinfo
from datetime import date, datetime, timedelta, timezone, tzinfo

from aggregator.extract import ExtractContext, ExtractError, Extraction, guarded
from aggregator.german_dates import CANCEL_TITLE_RE, POSTPONE_TITLE_RE
from aggregator.model import RawEvent
from aggregator.urls import http_url, join

# Entries skipped for a broken record are named one by one up to this many.
MAX_ITEM_WARNINGS = 20
# WordPress's own REST error codes that mean "there is nothing at this route".
_NO_ROUTE = {"rest_no_route", "rest_not_found"}
# TEC < 6 answered an empty first page with this error (404) instead of "events": [].
_EMPTY_ARCHIVE = "event-archive-page-not-found"
_STATUS_KEYS = ("event_status", "tribe_events_status", "_tribe_events_status")
_CANCELLED = {"canceled", "cancelled"}
_POSTPONED = {"postponed"}
_SCHEDULED = {"", "scheduled", "moved-online", "moved_online", "movedonline", "rescheduled"}
_UTC_OFFSET_RE = re.compile(r"^UTC\s*([+-])\s*(\d{1,2})(?:(?:[:.,])(\d{1,2}))?$", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]*>")


@guarded("tribe")
def extract(body: bytes, ctx: ExtractContext) -> Extraction:
    """Read one page of The Events Calendar's REST events list; ExtractError (only) if it is none."""
    return _extract(body, ctx)


def _extract(body: bytes, ctx: ExtractContext) -> Extraction:
    out = Extraction()
    data = _load_json(body, out.warnings)

    if isinstance(data, dict) and "events" not in data and "code" in data:
        code = str(data.get("code") or "")
        message = _plain(data.get("message"))
        if code == _EMPTY_ARCHIVE:
            out.warnings.append(f"The Events Calendar answered {code!r} ({message}): no events")
            return out
        hint = " (is The Events Calendar installed and its REST API enabled?)" if code in _NO_ROUTE else ""
        status = data.get("data", {}).get("status") if isinstance(data.get("data"), dict) else None
        where = f", HTTP {status}" if status else ""
        raise ExtractError(f"not a The Events Calendar events response: WordPress REST error {code!r}{where}: {message}{hint}")
    if isinstance(data, list):
        raise ExtractError("not a The Events Calendar events response: a JSON list, not an object with \"events\" "
                           "(a WordPress /wp/v2/ route?)")
    if not isinstance(data, dict):
        raise ExtractError(f"not a The Events Calendar events response: JSON {type(data).__name__}, not an object")
    items = data.get("events")
    if not isinstance(items, list):
        keys = ", ".join(sorted(map(str, data))[:8]) or "none"
        raise ExtractError(f"not a The Events Calendar events response: no \"events\" list (keys: {keys})")

    skipped = 0
    seen: dict[str, int] = {}
    for n, item in enumerate(items, 1):
        try:
            event = _event(item, ctx, out.warnings)
        except Exception as exc:  # one broken record must not cost the others
            event = None
            out.warnings.append(f"event #{n} {_label(item)}: skipped, {type(exc).__name__}: {exc}")
        if event is None:
            skipped += 1
            continue
        count = seen.get(event.source_uid, 0) + 1
        seen[event.source_uid] = count
        if count > 1:
            out.warnings.append(f"event {_label(item)}: id {event.source_uid!r} repeats on this page; kept as #{count}")
            event.source_uid = f"{event.source_uid}#{count}"
        out.events.append(event)
    if len(out.warnings) > MAX_ITEM_WARNINGS:
        extra = len(out.warnings) - MAX_ITEM_WARNINGS
        out.warnings[MAX_ITEM_WARNINGS:] = [f"… and {extra} more warnings"]

    nxt = data.get("next_rest_url")
    if isinstance(nxt, str) and nxt.strip():
        url = http_url(ctx.url, nxt.strip())
        if not url:
            out.warnings.append(f"next_rest_url {nxt!r} is not an http(s) URL; not followed")
        elif url != ctx.url:
            out.next_pages.append(url)
    return out


# --------------------------------------------------------------------------- reading the body


def _load_json(body: bytes, warnings: list[str]):
    if not body or not body.strip():
        raise ExtractError("not a The Events Calendar events response: empty body")
    text = body.decode("utf-8-sig", errors="replace")
    try:
        return json.loads(text)
    except ValueError as exc:
        first_error = exc
    # PHP notices or a stray BOM/whitespace printed by a plugin before the JSON are common
    # on WordPress sites; the JSON itself is intact after them.
    start = text.find('{"events"')
    if start > 0:
        try:
            data, _end = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            pass
        else:
            warnings.append(f"{start} characters before the JSON (PHP notices?) ignored")
            return data
    head = text[:2048].lstrip().lower()
    if head.startswith(("<!doctype html", "<html")) or "<html" in head or "<head" in head or "<body" in head:
        title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text[:20000])
        named = f" ({_plain(title.group(1))[:80]!r})" if title else ""
        raise ExtractError(f"not a The Events Calendar events response: an HTML page{named}, not JSON")
    raise ExtractError(f"not a The Events Calendar events response: not JSON ({first_error})")


# --------------------------------------------------------------------------- one event


def _event(item, ctx: ExtractContext, warnings: list[str]) -> RawEvent | None:
    if not isinstance(item, dict):
        warnings.append(f"event entry {_label(item)} is not an object; skipped")
        return None
    label = _label(item)
    ident = item.get("id")
    if isinstance(ident, bool) or not isinstance(ident, (int, str)) or not str(ident).strip():
        ident = item.get("global_id") or item.get("url")
        if not isinstance(ident, str) or not ident.strip():
            warnings.append(f"event {label}: no id; skipped")
            return None
    uid = f"tribe:{str(ident).strip()}"
    title = _plain(item.get("title"))

    display, local = _zones(item.get("timezone"), ctx, warnings, label)
    when = _when(item, display, local, warnings, label)
    if when is None:
        return None
    start, end = when

    url = item.get("url") if isinstance(item.get("url"), str) else ""
    if url and ctx.url:
        url = join(ctx.url, url.strip())

    description = item.get("description") if isinstance(item.get("description"), str) else ""
    if not description.strip():
        description = item.get("excerpt") if isinstance(item.get("excerpt"), str) else ""
    description = _with_organizer(description.strip(), _organizers(item.get("organizer")))

    return RawEvent(
        source_uid=uid,
        title=title,
        start=start,
        end=end,
        description=description,
        location=_location(item),
        url=url.strip(),
        status=_status(item, title, warnings, label),
        categories=_categories(item.get("categories")),
    )


def _when(item: dict, display: tzinfo, local: tzinfo, warnings: list[str], label: str):
    utc_start = _parse(item.get("utc_start_date"))
    utc_end = _parse(item.get("utc_end_date"))
    loc_start = _parse(item.get("start_date"))
    loc_end = _parse(item.get("end_date"))

    if _truthy(item.get("all_day")):
        first = loc_start.date() if loc_start else _instant(utc_start, display).date() if utc_start else None
        if first is None:
            warnings.append(f"event {label}: no start date; skipped")
            return None
        if loc_end:
            last = loc_end.date()
            if loc_end.time() == datetime.min.time() and last > first:
                last -= timedelta(days=1)  # already an exclusive end
        elif utc_end:
            last = _instant(utc_end, display).date()
        else:
            last = first
        if last < first:
            warnings.append(f"event {label}: all-day end {last} before its start {first}; taken as one day")
            last = first
        return first, last + timedelta(days=1)

    start = _pick(utc_start, loc_start, display, local, warnings, label, "start")
    if start is None:
        warnings.append(f"event {label}: no start date; skipped")
        return None
    end = _pick(utc_end, loc_end, display, local, warnings, label, "end")
    if end is not None and end < start:
        warnings.append(f"event {label}: end {end.isoformat()} before start {start.isoformat()}; end dropped")
        end = None
    return start, end


def _pick(utc: datetime | None, loc: datetime | None, display: tzinfo, local: tzinfo,
          warnings: list[str], label: str, which: str) -> datetime | None:
    """The UTC field in the display zone, checked against the local field; else the local one."""
    if utc is not None:
        value = _instant(utc, display)
        if loc is not None and not _same_instant(loc, local, value):
            warnings.append(
                f"event {label}: utc_{which}_date {utc:%Y-%m-%d %H:%M:%S} is {value:%Y-%m-%d %H:%M} "
                f"{_zone_name(display)}, but {which}_date says {loc:%Y-%m-%d %H:%M:%S}; used the UTC time"
            )
        return value
    if loc is not None:
        return loc.replace(tzinfo=local).astimezone(display)
    return None


def _instant(utc: datetime, zone: tzinfo) -> datetime:
    return utc.replace(tzinfo=timezone.utc).astimezone(zone)


def _same_instant(naive_local: datetime, zone: tzinfo, value: datetime) -> bool:
    # Either reading of a wall time that occurs twice (the autumn clock change) will do.
    return any(naive_local.replace(tzinfo=zone, fold=fold) == value for fold in (0, 1))


def _zones(name, ctx: ExtractContext, warnings: list[str], label: str) -> tuple[tzinfo, tzinfo]:
    """(zone to show times in, zone the local fields are written in)."""
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        return ctx.timezone, ctx.timezone
    m = _UTC_OFFSET_RE.match(name)
    if m:  # TEC's manual offsets ("UTC+1", "UTC+5.5", "UTC-3:30") are no IANA zone
        sign = -1 if m.group(1) == "-" else 1
        hours = int(m.group(2))
        frac = m.group(3) or "0"
        minutes = int(frac) if ":" in name else round(float("0." + frac) * 60)
        offset = timezone(sign * timedelta(hours=hours, minutes=minutes))
        return ctx.timezone, offset
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        warnings.append(f"event {label}: unknown timezone {name!r}; read as {_zone_name(ctx.timezone)}")
        return ctx.timezone, ctx.timezone
    return zone, zone


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def _parse(value) -> datetime | None:
    """TEC's "YYYY-MM-DD HH:MM:SS" (or ISO 8601) as a naive datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip() or value.startswith("0000-00-00"):
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "yes", "true", "on")
    return bool(value)


# --------------------------------------------------------------------------- fields


def _plain(value) -> str:
    """HTML-ish text → one clean line: tags stripped, entities decoded, whitespace collapsed."""
    if not isinstance(value, str):
        return ""
    return " ".join(html.unescape(_TAG_RE.sub(" ", value)).split())


def _label(item) -> str:
    if not isinstance(item, dict):
        return repr(item)[:40]
    title = _plain(item.get("title")) or "(untitled)"
    if len(title) > 60:
        title = title[:57] + "…"
    ident = item.get("id")
    return f"{ident} {title!r}" if ident not in (None, "") else repr(title)


def _location(item: dict) -> str:
    venues = item.get("venue")
    if isinstance(venues, dict):
        venues = [venues]
    places = [_venue(v) for v in venues if isinstance(v, dict)] if isinstance(venues, list) else []
    places = [p for p in places if p]
    if places:
        return "; ".join(dict.fromkeys(places))
    if _truthy(item.get("is_virtual")):
        return "Online"
    return ""


def _venue(venue: dict) -> str:
    name = _plain(venue.get("venue"))
    address = _plain(venue.get("address"))
    place = " ".join(p for p in (_plain(venue.get("zip")), _plain(venue.get("city"))) if p)
    parts: list[str] = []
    for part in (name, address, place):
        if part and part not in parts:
            parts.append(part)
    return ", ".join(parts)


def _organizers(value) -> str:
    """The organizers' names, comma-separated in the order given (TEC sends a list, or one object)."""
    if isinstance(value, dict):
        value = [value]
    names: list[str] = []
    for org in value if isinstance(value, list) else []:
        name = _plain(org.get("organizer")) if isinstance(org, dict) else ""
        if name and name not in names:
            names.append(name)
    return ", ".join(names)


def _with_organizer(description: str, organizer: str) -> str:
    """``description`` (HTML) with a last paragraph "Veranstalter: …", as the jsonld extractor adds.

    Left out when the description already names the organizer, so a site that writes
    "Veranstalter: ELMUG eG" into its text does not say it twice. The name is escaped:
    the description is HTML, which normalize turns into text.
    """
    if not organizer or organizer.casefold() in _plain(description).casefold():
        return description
    line = f"<p>Veranstalter: {html.escape(organizer, quote=False)}</p>"
    return f"{description}\n{line}" if description else line


def _categories(value) -> tuple[str, ...]:
    names: list[str] = []
    for cat in value if isinstance(value, list) else []:
        name = _plain(cat.get("name")) if isinstance(cat, dict) else _plain(cat)
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _status(item: dict, title: str, warnings: list[str], label: str) -> str:
    for key in _STATUS_KEYS:
        raw = item.get(key)
        if isinstance(raw, dict):
            raw = raw.get("value") or raw.get("status") or raw.get("slug")
        if raw is None or raw is False:
            continue
        value = str(raw).strip().lower()
        if value in _CANCELLED:
            return "cancelled"
        if value in _POSTPONED:
            return "tentative"
        if value not in _SCHEDULED:
            warnings.append(f"event {label}: unknown {key} {raw!r}; taken as scheduled")
        break
    if CANCEL_TITLE_RE.search(title):
        return "cancelled"
    if POSTPONE_TITLE_RE.search(title):
        return "tentative"
    return "confirmed"

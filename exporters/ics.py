"""The merged ICS feed that subscribers add to Outlook, Thunderbird and Google.

``render_calendar`` turns stored events into one VCALENDAR (RFC 5545 with the
RFC 7986 calendar properties). The output is a pure function of its input:
the same events give the same bytes, whatever their order, so an unchanged
feed keeps its ETag and ``write_atomic`` leaves the file alone.

Times keep their zone: an event stored with ``tzid`` "Europe/Berlin" is
written as ``DTSTART;TZID=Europe/Berlin:<local time>`` and the calendar
carries one VTIMEZONE per zone in use, generated from zoneinfo (history as
RDATEs, the rule still in force as a yearly RRULE, as tzurl.org and Outlook
write them). "UTC" becomes the ``Z`` form, all-day events ``VALUE=DATE``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone as dt_timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, vDuration, vRecur, vText
from icalendar import Event as VEvent

import aggregator
from aggregator.config import Network
from aggregator.model import Event, StoredEvent, When
from exporters import vevent_lines
from exporters.links import safe_url
from exporters.vtimezone import FIRST_YEAR, LAST_YEAR, vtimezone

log = logging.getLogger(__name__)

PRODID = f"-//Netzwerktimer//Netzwerktimer {aggregator.__version__}//DE"
UID_DOMAIN = "netzwerktimer"

_STATUS = {"confirmed": "CONFIRMED", "tentative": "TENTATIVE", "cancelled": "CANCELLED"}
_UTC = dt_timezone.utc
# C0 controls except TAB and LF, DEL, and the C1 controls: no client wants them
# and some parsers stumble over them even when escaped.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def public_uid(source_id: str, source_uid: str) -> str:
    """The UID subscribers see for (source, source UID): stable, opaque, global.

    A hash rather than the source's own UID: sources reuse UIDs across
    calendars, put mail addresses or internal ids into them, or change their
    shape; none of that should reach a subscriber or collide in the merge.
    """
    digest = hashlib.sha1(f"{source_id}\0{source_uid}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{digest}@{UID_DOMAIN}"


# Part of every rendered VEVENT's key: bump it when ``_vevent``'s output changes,
# so that VEVENTs kept from an earlier version are rendered anew.
VEVENT_FORMAT = "1"
_END = b"END:VCALENDAR\r\n"


@dataclass
class RenderedVevents:
    """VEVENT bytes by a key over everything they are made of, kept by the caller
    between renders: an event that did not change is not serialised again
    (icalendar's serialiser is most of the cost of a calendar)."""

    known: dict[str, bytes] = field(default_factory=dict)
    added: dict[str, bytes] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def get(self, key: str, make: Callable[[], bytes]) -> bytes:
        self.used.add(key)
        data = self.known.get(key)
        if data is None:
            data = self.known[key] = self.added[key] = make()
        return data

    def unused(self) -> set[str]:
        """Known keys this render did not use: entries that left the calendar or changed."""
        return set(self.known) - self.used


def render_calendar(events: Iterable[StoredEvent], **options) -> bytes:
    """One VCALENDAR with every event, as bytes (UTF-8, CRLF, folded lines):
    ``render_calendar_parts`` (same keyword options) joined."""
    return b"".join(render_calendar_parts(events, **options))


def render_calendar_parts(
    events: Iterable[StoredEvent],
    *,
    networks: Mapping[str, Network],
    name: str,
    refresh: timedelta,
    timezone: str = "Europe/Berlin",
    rendered: RenderedVevents | None = None,
) -> list[bytes]:
    """One VCALENDAR with every event, as the list of its parts in order (the head with
    the VTIMEZONEs, one part per VEVENT, the end); joined, they are the calendar's bytes
    (UTF-8, CRLF, folded lines). A caller writing a file writes the parts one after the
    other instead of joining them: at country scale the calendar is hundreds of megabytes.

    ``networks`` names the networks (label in CATEGORIES and DESCRIPTION);
    ``name`` is the calendar's display name, ``refresh`` how often clients
    should poll. ``timezone`` is the zone for times that arrive without a
    usable one (naive datetimes, an unknown or empty tzid on a timed event)
    and the zone all-day events are ordered in. ``rendered`` (optional)
    supplies VEVENTs rendered before and collects the new ones; the bytes are
    the same with or without it.
    """
    default_zone = _zone(timezone) or ZoneInfo("Europe/Berlin")
    prepared = _unique(p for stored in events if (p := _prepare(stored, default_zone)) is not None)
    prepared.sort(key=lambda p: p.sort_key)

    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", "PUBLISH")
    cal.add("NAME", vText(_one_line(name)))
    cal.add("X-WR-CALNAME", vText(_one_line(name)))
    if refresh.total_seconds() > 0:
        cal.add("REFRESH-INTERVAL", vDuration(refresh), parameters={"VALUE": "DURATION"})
        cal.add("X-PUBLISHED-TTL", vDuration(refresh))

    # VTIMEZONEs first (before the events that use them), in a fixed order.
    used: dict[str, list[datetime]] = {}
    for p in prepared:
        for value in p.zoned_values:
            used.setdefault(value.tzinfo.key, []).append(value)  # type: ignore[union-attr]
    for tzid in sorted(used):
        years = [v.year for v in used[tzid]]
        # From a year before the first use to two years after the last, kept
        # within reason: a typo such as year 2205 must not cost a long scan.
        last_year = min(max(years) + 3, LAST_YEAR)
        first_year = min(max(min(years) - 1, FIRST_YEAR), last_year - 3)
        cal.add_component(vtimezone(tzid, first_year, last_year))

    head = cal.to_ical()
    assert head.endswith(_END)
    rendered = rendered if rendered is not None else RenderedVevents()
    body = [rendered.get(_vevent_key(p, networks, default_zone), lambda p=p: _vevent_bytes(p, networks)) for p in prepared]
    # A component's bytes are its lines followed by its subcomponents' bytes, so
    # VEVENTs serialised one by one join to exactly what add_component would give.
    body.insert(0, head[: -len(_END)])
    body.append(_END)
    return body


def appearance_digest(event: Event, network_ids: Iterable[str], networks: Mapping[str, Network]) -> str:
    """A digest of everything the VEVENT of ``event`` listed by ``network_ids`` shows apart
    from its UID and the publication state (SEQUENCE, CREATED, LAST-MODIFIED, DTSTAMP):
    the event's content and the labels its networks are shown by (CATEGORIES and
    DESCRIPTION; a renamed network changes them). Equal digest, equal lines. The calendar's
    ``timezone`` is left out: a stored event carries its own zone, or dates (normalize),
    so that zone changes no line of a VEVENT, only the order of all-day events."""
    ids = tuple(network_ids) or (event.network_id,)
    parts = [event.content_hash(), "\x1f".join(ids), "\x1f".join(_labels(ids, networks))]
    return hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _labels(network_ids: Iterable[str], networks: Mapping[str, Network]) -> list[str]:
    """How each network is named to subscribers: its label, or its id when not configured."""
    return [networks[n].label if n in networks else n for n in network_ids]


def _vevent_key(p: _Prepared, networks: Mapping[str, Network], default_zone: ZoneInfo) -> str:
    """Everything ``_vevent`` reads, hashed: same key, same bytes."""
    s = p.stored
    labels = _labels(s.networks or (s.event.network_id,), networks)
    parts = [VEVENT_FORMAT, p.uid, s.event.recurrence_id, str(s.sequence), _utc(s.last_modified).isoformat(),
             _utc(s.first_seen).isoformat(), s.event.content_hash(), "\x1f".join(labels), default_zone.key]
    return hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


# --- one event ---------------------------------------------------------------


@dataclass
class _Prepared:
    stored: StoredEvent
    uid: str
    zone: tzinfo | None  # None: all-day; UTC; or a ZoneInfo with a key
    start: When
    end: When | None
    recurrence_id: When | None
    rdates: list[When]
    exdates: list[When]
    rrule: vRecur | None
    sort_key: tuple

    @property
    def zoned_values(self) -> list[datetime]:
        """Every datetime written with a TZID parameter."""
        values = [self.start, self.end, self.recurrence_id, *self.rdates, *self.exdates]
        return [
            v
            for v in values
            if isinstance(v, datetime) and isinstance(v.tzinfo, ZoneInfo) and v.tzinfo.key != "UTC"
        ]


def _prepare(stored: StoredEvent, default_zone: ZoneInfo) -> _Prepared | None:
    ev = stored.event
    uid = stored.uid or public_uid(ev.source_id, ev.source_uid)
    rid_text = ev.recurrence_id.strip()
    try:
        rid_value = _parse_iso(rid_text) if rid_text else None
    except ValueError:
        # Without its RECURRENCE-ID an override would clash with its master.
        log.warning("event %s (%s): unreadable recurrence id %r; left out", uid, ev.source_uid, rid_text)
        return None
    if isinstance(ev.start, datetime):
        zone = _event_zone(ev, default_zone)
        start: When = _as_zoned(ev.start, zone)
        end = _as_zoned(ev.end, zone, wall=start) if ev.end is not None else None
        if end is not None and end < start:
            log.warning("event %s (%s) ends before it starts; written without end", uid, ev.source_uid)
            end = None
        instant = start.astimezone(_UTC)
    else:
        zone = None
        start = ev.start
        end = _as_date(ev.end, default_zone) if ev.end is not None else None
        if end is not None and end <= start:
            end = None  # DTEND of an all-day event must be a later day
        instant = datetime.combine(start, time(), default_zone).astimezone(_UTC)

    recurrence_id = _value(rid_value, zone, start, default_zone) if rid_value is not None else None
    rdates = sorted({_value(v, zone, start, default_zone) for v in ev.rdates}, key=_order)
    exdates = sorted({_value(v, zone, start, default_zone) for v in ev.exdates}, key=_order)
    rrule = _rrule(ev.rrule, start, zone, uid) if ev.rrule and not rid_text else None
    sort_key = (instant, uid, rid_text, -stored.sequence, ev.content_hash(), stored.last_modified.isoformat())
    return _Prepared(stored, uid, zone, start, end, recurrence_id, rdates, exdates, rrule, sort_key)


def _unique(prepared: Iterable[_Prepared]) -> list[_Prepared]:
    """One VEVENT per (UID, RECURRENCE-ID): clients keep only one of a pair anyway."""
    best: dict[tuple, _Prepared] = {}
    for p in prepared:
        key = (p.uid, _order(p.recurrence_id) if p.recurrence_id is not None else None)
        other = best.get(key)
        if other is None:
            best[key] = p
            continue
        log.warning("two events share UID %s and recurrence id %r; keeping the newer",
                    p.uid, p.stored.event.recurrence_id)
        if _rank(p) > _rank(other):
            best[key] = p
    return list(best.values())


def _rank(p: _Prepared) -> tuple:
    s = p.stored
    return (s.sequence, _utc(s.last_modified), s.event.content_hash(), _utc(s.first_seen))


def _properties(p: _Prepared, networks: Mapping[str, Network]) -> list[tuple[str, object]]:
    """The VEVENT's properties as (name, value) in the form icalendar's ``add`` takes."""
    ev = p.stored.event
    labels = _labels(p.stored.networks or (ev.network_id,), networks)
    url = safe_url(ev.url)
    stamp = _utc(p.stored.last_modified)
    props: list[tuple[str, object]] = [
        ("UID", p.uid),
        ("DTSTAMP", stamp),
        ("LAST-MODIFIED", stamp),
        ("CREATED", _utc(p.stored.first_seen)),
        ("SEQUENCE", max(0, int(p.stored.sequence))),
        ("DTSTART", p.start),
    ]
    if p.end is not None:
        props.append(("DTEND", p.end))
    if p.recurrence_id is not None:
        props.append(("RECURRENCE-ID", p.recurrence_id))
    if p.rrule is not None:
        props.append(("RRULE", p.rrule))
    if p.rdates:
        props.append(("RDATE", p.rdates))
    if p.exdates:
        props.append(("EXDATE", p.exdates))
    props.append(("SUMMARY", vText(_one_line(ev.title) or "(ohne Titel)")))
    location = _one_line(ev.location)
    if location:
        props.append(("LOCATION", vText(location)))
    if url:
        props.append(("URL", url))
    props.append(("DESCRIPTION", vText(_description(ev, labels, url))))
    categories = _categories(labels, ev.categories)
    if categories:
        props.append(("CATEGORIES", categories))
    props.append(("STATUS", _STATUS.get(ev.status.lower(), "CONFIRMED")))
    props.append(("TRANSP", "OPAQUE"))
    return props


def _vevent(p: _Prepared, networks: Mapping[str, Network]) -> VEvent:
    """The VEVENT as an icalendar component (the reference ``_vevent_bytes`` is compared with)."""
    out = VEvent()
    for name, value in _properties(p, networks):
        out.add(name, value)
    return out


def _vevent_bytes(p: _Prepared, networks: Mapping[str, Network]) -> bytes:
    """The VEVENT's bytes: written directly (``exporters.vevent_lines``) for an event without
    recurrence rules, through icalendar otherwise; the same bytes either way."""
    if p.rrule is not None or p.rdates or p.exdates or not all(map(vevent_lines.writable_zone, (p.start, p.end, p.recurrence_id))):
        return _vevent(p, networks).to_ical()
    return vevent_lines.vevent({name: _line(name, value) for name, value in _properties(p, networks)})


def _line(name: str, value: object) -> str:
    if isinstance(value, (date, datetime)):
        return vevent_lines.when(name, value)
    if isinstance(value, int):
        return f"{name}:{value}"
    if isinstance(value, list):  # CATEGORIES
        return name + ":" + ",".join(vevent_lines.escape_text(v) for v in value)
    if name == "URL":  # a URI, not TEXT: not escaped
        return f"{name}:{value}"
    return f"{name}:{vevent_lines.escape_text(str(value))}"


def _description(ev: Event, labels: list[str], url: str) -> str:
    names = ", ".join(_one_line(label) for label in labels)
    lines = [f"Netzwerke: {names}" if len(labels) > 1 else f"Netzwerk: {names}"]
    if url:
        lines.append(f"Quelle: {url}")
    text = _text(ev.description).strip("\n")
    footer = "\n".join(lines)
    return f"{text}\n\n{footer}" if text.strip() else footer


def _categories(labels: list[str], own: Iterable[str]) -> list[str]:
    result: list[str] = []
    for item in (*labels, *own):
        item = _one_line(item)
        if item and item not in result:
            result.append(item)
    return result


# --- text and URLs -----------------------------------------------------------


def _text(value: str) -> str:
    """Plain text as iCalendar TEXT can hold it: LF line breaks, no control characters.

    icalendar escapes what is left (``\\n``, ``\\,``, ``\\;``, ``\\\\``), so no
    value can end its line and start a property or component of its own.
    """
    value = (value or "").encode("utf-8", "replace").decode("utf-8")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return _CONTROL.sub("", value)


def _one_line(value: str) -> str:
    return " ".join(_text(value).split())


# --- times -------------------------------------------------------------------


def _zone(tzid: str) -> ZoneInfo | None:
    if not tzid:
        return None
    try:
        return ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _event_zone(ev: Event, default_zone: ZoneInfo) -> tzinfo:
    tzid = (ev.tzid or "").strip()
    if tzid.upper() in ("UTC", "Z", "ETC/UTC", "GMT", "ETC/GMT"):
        return _UTC
    zone = _zone(tzid)
    if zone is None:
        log.warning("event %s/%s: no usable tzid %r, using %s", ev.source_id, ev.source_uid, tzid, default_zone.key)
        return default_zone
    return zone


def _as_zoned(value: When, zone: tzinfo, wall: datetime | None = None) -> datetime:
    """A datetime in ``zone``; naive means local time there, a bare date that day at ``wall``'s time."""
    if not isinstance(value, datetime):
        clock = wall.timetz().replace(tzinfo=None) if wall is not None else time()
        value = datetime.combine(value, clock)
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


def _as_date(value: When, zone: tzinfo) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(zone)
        return value.date()
    return value


def _value(value: When, zone: tzinfo | None, start: When, default_zone: ZoneInfo) -> When:
    """RDATE/EXDATE/RECURRENCE-ID value in the same form as DTSTART."""
    if zone is None:
        return _as_date(value, default_zone)
    return _as_zoned(value, zone, wall=start if isinstance(start, datetime) else None)


def _parse_iso(text: str) -> When:
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _order(value: When) -> tuple:
    if isinstance(value, datetime):
        return (value.astimezone(_UTC).replace(tzinfo=None),)
    return (datetime.combine(value, time()),)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC)


def _rrule(text: str, start: When, zone: tzinfo | None, uid: str) -> vRecur | None:
    """The event's RRULE, with UNTIL in the form RFC 5545 demands for this DTSTART."""
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    try:
        rule = vRecur.from_ical(text)
    except (ValueError, TypeError) as exc:
        log.warning("event %s: unusable RRULE %r (%s); written without it", uid, text, exc)
        return None
    if not rule.get("FREQ"):
        log.warning("event %s: RRULE %r has no FREQ; written without it", uid, text)
        return None
    until = rule.get("UNTIL")
    if until:
        value = until[0] if isinstance(until, list) else until
        if zone is None:
            rule["UNTIL"] = [_as_date(value, _UTC)]
        else:
            if not isinstance(value, datetime):
                value = datetime.combine(value, time(23, 59, 59))
            if value.tzinfo is None:
                value = value.replace(tzinfo=zone)
            rule["UNTIL"] = [value.astimezone(_UTC)]
    return rule


__all__ = ["PRODID", "public_uid", "render_calendar", "render_calendar_parts"]

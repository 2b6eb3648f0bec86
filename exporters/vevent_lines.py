"""One VEVENT's bytes without icalendar's component machinery, byte for byte what
``icalendar.Event.to_ical()`` writes for the same properties (icalendar 7: canonical
property order, TEXT escaping, folding at 75 octets without splitting an escape).

Serialising through icalendar costs more than everything else of a first publication
put together (a ``Component`` per event, a type lookup and a ``Contentline`` per
property, folding character by character); these few property shapes are all the
merged calendar writes for an event without recurrence rules, so they are written
here. ``exporters.ics`` uses icalendar for everything else (RRULE, RDATE, EXDATE,
the calendar's head and VTIMEZONEs), and ``tests/test_vevent_lines.py`` compares the
two on every event shape the calendar writes.
"""

from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from zoneinfo import ZoneInfo

_FOLD_AT = 74  # icalendar starts a new line when a character would make the line 75 octets or more


def escape_text(text: str) -> str:
    """iCalendar TEXT escaping, in icalendar's order (``\\N`` read as a line break first)."""
    return (
        text.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> bytes:
    """``line`` as UTF-8, folded as icalendar folds: each line the longest run of whole
    characters under 75 octets, except that a backslash or caret ending a line moves
    to the next one (an escape is never split)."""
    data = line.encode("utf-8")
    if len(data) <= _FOLD_AT:
        return data
    parts = []
    start, n = 0, len(data)
    while n - start > _FOLD_AT:
        cut = start + _FOLD_AT
        while data[cut] & 0xC0 == 0x80:  # inside a multi-byte character: it goes to the next line
            cut -= 1
        if data[cut - 1] in b"\\^" and cut - 1 > start:
            cut -= 1
        parts.append(data[start:cut])
        start = cut
    parts.append(data[start:])
    return b"\r\n ".join(parts)


def when(name: str, value: date | datetime) -> str:
    """A DATE / DATE-TIME property as icalendar writes it: ``Z`` for UTC, TZID for a zone."""
    if isinstance(value, datetime):
        stamp = f"{value.year:04d}{value.month:02d}{value.day:02d}T{value.hour:02d}{value.minute:02d}{value.second:02d}"
        zone = value.tzinfo
        if zone is None:
            return f"{name}:{stamp}"
        if _is_utc(zone, value):
            return f"{name}:{stamp}Z"
        return f"{name};TZID={zone.key}:{stamp}"  # type: ignore[union-attr]  # only ZoneInfo reaches here
    return f"{name};VALUE=DATE:{value.year:04d}{value.month:02d}{value.day:02d}"


def _is_utc(zone: tzinfo, value: datetime) -> bool:
    return zone is timezone.utc or (isinstance(zone, ZoneInfo) and zone.key == "UTC")


def writable_zone(value: date | datetime | None) -> bool:
    """Whether ``when`` writes this value as icalendar would (no other tzinfo than UTC or a ZoneInfo)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        return True
    return value.tzinfo is timezone.utc or isinstance(value.tzinfo, ZoneInfo)


def vevent(props: dict[str, str]) -> bytes:
    """BEGIN:VEVENT … END:VEVENT from already formatted ``NAME[;PARAMS]:VALUE`` lines keyed by
    property name, in icalendar's order: its canonical ones first, then the rest by name."""
    names = [n for n in _CANONICAL if n in props] + sorted(n for n in props if n not in _CANONICAL)
    return b"BEGIN:VEVENT\r\n" + b"".join(fold(props[n]) + b"\r\n" for n in names) + b"END:VEVENT\r\n"


_CANONICAL = ("SUMMARY", "DTSTART", "DTEND", "DURATION", "DTSTAMP", "UID", "RECURRENCE-ID", "SEQUENCE", "RRULE", "RDATE", "EXDATE")

"""The two shapes an event takes on its way through the pipeline.

``RawEvent`` is what an extractor yields: the event as its source states it.
``Event`` is what ``normalize`` makes of it and what the store keeps: aware
datetimes (or dates for all-day events), clean text, a canonical URL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime

STATUSES = ("confirmed", "tentative", "cancelled")

When = datetime | date


@dataclass(slots=True)
class RawEvent:
    """One event as an extractor found it.

    ``start``/``end`` are a ``date`` for all-day events, an aware ``datetime``
    when the source names a zone, or a naive ``datetime`` for floating local
    time (normalize applies the source's timezone). ``end`` is exclusive; for
    all-day events it is the day after the last day, as in iCalendar.
    ``description`` may still hold HTML; ``url`` may be relative.
    """

    source_uid: str
    title: str
    start: When
    end: When | None = None
    description: str = ""
    location: str = ""
    url: str = ""
    status: str = "confirmed"
    categories: tuple[str, ...] = ()
    # Recurrence, kept as the source states it (see exporters/ics.py).
    rrule: str | None = None
    rdates: tuple[When, ...] = ()
    exdates: tuple[When, ...] = ()
    recurrence_id: When | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A normalized event, keyed by (source_id, source_uid, recurrence_id).

    ``tzid`` is the IANA zone the event's local times are shown in ("UTC" for
    UTC times, "" for all-day events). ``recurrence_id`` is "" for a plain
    event or a series master, else the ISO form of the replaced occurrence.
    """

    source_id: str
    network_id: str
    source_uid: str
    title: str
    start: When
    end: When | None
    tzid: str
    recurrence_id: str = ""
    description: str = ""
    location: str = ""
    url: str = ""
    status: str = "confirmed"
    categories: tuple[str, ...] = ()
    rrule: str | None = None
    rdates: tuple[When, ...] = ()
    exdates: tuple[When, ...] = ()

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    # content_hash, computed once: publishing asks for it several times per event.
    _content_hash: str | None = field(default=None, init=False, repr=False, compare=False)

    def content_hash(self) -> str:
        """A digest of everything a subscriber can see; equal content, equal hash."""
        if self._content_hash is None:
            object.__setattr__(self, "_content_hash", self._digest())
        return self._content_hash

    def _digest(self) -> str:
        payload = {
            "title": self.title,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "tzid": self.tzid,
            "description": self.description,
            "location": self.location,
            "url": self.url,
            "status": self.status,
            "categories": list(self.categories),
            "rrule": self.rrule,
            "rdates": [_iso(d) for d in self.rdates],
            "exdates": [_iso(d) for d in self.exdates],
            "network": self.network_id,
        }
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()


def _iso(value: When | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the store keeps it, with what subscribers' clients need to track changes."""

    event: Event
    first_seen: datetime  # aware UTC: CREATED
    last_modified: datetime  # aware UTC: LAST-MODIFIED and DTSTAMP, moves only when content changes
    sequence: int  # SEQUENCE, goes up when content changes
    uid: str = ""  # the public UID (merged events); empty: derived from source and source UID
    networks: tuple[str, ...] = ()  # every network listing it (merged events); empty: the event's own

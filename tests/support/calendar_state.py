"""What a published calendar shows, in a form runs can compare round after round."""

from __future__ import annotations

from dataclasses import dataclass

import icalendar


@dataclass(frozen=True)
class Entry:
    """One VEVENT as subscribers see it."""

    summary: str
    status: str  # CONFIRMED (also when not given), TENTATIVE or CANCELLED
    categories: tuple[str, ...]


def entries(ics: bytes) -> dict[tuple[str, str], Entry]:
    """(UID, RECURRENCE-ID or "") → Entry of every VEVENT; raises ValueError when ``ics``
    is not one complete calendar."""
    if not ics.rstrip().endswith(b"END:VCALENDAR"):
        raise ValueError("the calendar does not end with END:VCALENDAR")
    cal = icalendar.Calendar.from_ical(ics)
    out = {}
    for ev in cal.walk("VEVENT"):
        rid = ev.get("RECURRENCE-ID")
        key = (str(ev["UID"]), rid.to_ical().decode() if rid is not None else "")
        cats = ev.get("CATEGORIES")
        names = tuple(sorted(str(c) for c in cats.cats)) if cats is not None and hasattr(cats, "cats") else ()
        out[key] = Entry(str(ev.get("SUMMARY", "")), str(ev.get("STATUS", "CONFIRMED")).upper(), names)
    return out


def lost(before: dict[tuple[str, str], Entry], after: dict[tuple[str, str], Entry]) -> dict[tuple[str, str], str]:
    """The entries of ``before`` that subscribers no longer see as they were: missing, or
    now cancelled where they were not (key → "missing" or "cancelled")."""
    out = {}
    for key, entry in before.items():
        now = after.get(key)
        if now is None:
            out[key] = "missing"
        elif now.status == "CANCELLED" and entry.status != "CANCELLED":
            out[key] = "cancelled"
    return out

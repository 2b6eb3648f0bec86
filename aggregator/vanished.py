"""What a series that vanished from every source looks like to subscribers.

A single event that vanishes is either still ahead (published as cancelled for the
grace period, then dropped) or over (kept as history). A series can be both: its
past occurrences took place, its upcoming ones will not. ``fate`` tells which of
the three a vanished series is, and ``ended_series`` publishes an ongoing one:

- its past occurrences stay exactly as they were (same times, same overrides);
- its master's rule is bounded (``UNTIL``; RDATEs beyond are dropped), so no
  occurrence after the vanishing remains confirmed in any client;
- during the grace period the upcoming occurrences up to the horizon stay in the
  series and each is a RECURRENCE-ID override with STATUS:CANCELLED (clients
  strike them through, as they do for a cancelled single event); afterwards the
  rule ends before the first of them and their overrides are gone.

An occurrence counts as upcoming when it had not ended when the series vanished,
the rule ``merge`` applies to single events.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo

from aggregator.model import Event, When
from aggregator.normalize import MAX_YEAR
from aggregator.recurrence import Occurrence, occurrences


class Fate(Enum):
    HISTORY = "history"  # every occurrence was over when it vanished: kept as it was
    CANCELLED = "cancelled"  # none had taken place: the whole series is cancelled
    ENDED = "ended"  # some took place, some lay ahead: ``ended_series``


def fate(series: Event, overrides: list[Event], vanished: datetime, horizon: timedelta, *, limit: int, zone: ZoneInfo) -> Fate:
    """Which of the three a series that vanished at ``vanished`` is (see the module doc);
    occurrences are looked for up to ``horizon`` after ``vanished``."""
    if not upcoming(series, overrides, vanished, horizon, limit=limit, zone=zone):
        return Fate.HISTORY
    first = occurrences(series, overrides, _instant(series.start, zone) - timedelta(days=1), vanished, limit=1, zone=zone)
    if first and _instant(first[0].end, zone) <= vanished:
        return Fate.ENDED
    return Fate.CANCELLED


def upcoming(series: Event, overrides: list[Event], vanished: datetime, horizon: timedelta, *, limit: int,
             zone: ZoneInfo) -> list[Occurrence]:
    """The occurrences that had not ended at ``vanished``, up to ``horizon`` after it (at most ``limit``)."""
    found = occurrences(series, overrides, vanished, vanished + horizon, limit=limit, zone=zone)
    return [o for o in found if _instant(o.end, zone) > vanished]


def ended_series(master: Event, overrides: list[Event], vanished: datetime, horizon: timedelta, *, in_grace: bool,
                 limit: int, zone: ZoneInfo) -> list[Event]:
    """The published events of an ongoing series that vanished: the bounded master first,
    then its overrides (see the module doc for what ``in_grace`` changes)."""
    ahead = upcoming(master, overrides, vanished, horizon, limit=limit, zone=zone)
    if not ahead:
        return [master, *overrides]
    ahead_ids = {o.recurrence_id for o in ahead}
    kept = [o for o in overrides if o.recurrence_id not in ahead_ids and not _after(o, ahead[0], zone)]
    # A moved occurrence counts by its original date too: the rule gives that date.
    dates = [_sort_key(v) for o in ahead for v in (o.start, _original_start(o))]
    if not in_grace:  # the rule ends before the first of them
        return [_bounded(master, _just_before(_like(min(dates), master, zone)), zone), *kept]
    cancelled = [_cancelled_override(master, o) for o in ahead]
    return [_bounded(master, _like(max(dates), master, zone), zone), *kept, *cancelled]


def _like(instant: datetime, master: Event, zone: ZoneInfo) -> When:
    """``instant`` as a value of the master's kind (a date for an all-day series)."""
    return instant.astimezone(zone) if isinstance(master.start, datetime) else instant.date()


def _cancelled_override(master: Event, occ: Occurrence) -> Event:
    if occ.event.recurrence_id:  # the source's own override of this date: its fields, cancelled
        return replace(occ.event, status="cancelled")
    return replace(master, start=occ.start, end=occ.end if master.end is not None else None, rrule=None, rdates=(),
                   exdates=(), recurrence_id=occ.recurrence_id, status="cancelled")


def _original_start(occ: Occurrence) -> When:
    """The date the rule gave this occurrence (its RECURRENCE-ID), else its start."""
    if not occ.recurrence_id:
        return occ.start
    try:
        return datetime.fromisoformat(occ.recurrence_id) if "T" in occ.recurrence_id else date.fromisoformat(occ.recurrence_id)
    except ValueError:
        return occ.start


def _after(override: Event, first_ahead: Occurrence, zone: ZoneInfo) -> bool:
    """Is this override (of a date the window did not reach) later than the first upcoming occurrence?"""
    return _instant(override.start, zone) >= _instant(first_ahead.start, zone)


def _bounded(master: Event, last: When, zone: ZoneInfo) -> Event:
    """``master`` with no occurrence after ``last`` (its rule ends there, later RDATEs dropped).
    A rule that ends by then anyway is kept as it is: an UNTIL written over its COUNT or
    UNTIL could only add occurrences."""
    rdates = tuple(d for d in master.rdates if _sort_key(d) <= _sort_key(last))
    if not master.rrule or not _rule_goes_past(master, last, zone):
        return replace(master, rdates=rdates)
    parts = [p for p in master.rrule.removeprefix("RRULE:").split(";") if p and p.split("=", 1)[0].upper() not in ("UNTIL", "COUNT")]
    return replace(master, rrule=";".join([*parts, f"UNTIL={_until(last)}"]), rdates=rdates)


def _rule_goes_past(master: Event, last: When, zone: ZoneInfo) -> bool:
    """Does ``master``'s own rule (not its RDATEs or overrides) give an occurrence after ``last``?"""
    after = _instant(last, zone) + (timedelta(seconds=1) if isinstance(last, datetime) else timedelta(days=1))
    rule_only = replace(master, rdates=(), exdates=())
    # The window also holds occurrences that began earlier and still last: a few more than one are asked for.
    found = occurrences(rule_only, [], after, datetime(MAX_YEAR, 1, 1, tzinfo=timezone.utc), limit=10, zone=zone)
    return any(_instant(o.start, zone) >= after for o in found)


def _until(last: When) -> str:
    if isinstance(last, datetime):
        return last.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return last.strftime("%Y%m%d")


def _just_before(start: When) -> When:
    """The last instant (or day, for all-day series) before ``start``."""
    if isinstance(start, datetime):
        return start - timedelta(seconds=1)
    return start - timedelta(days=1)


def _sort_key(value: When) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return datetime.combine(value, time(0), timezone.utc)


def _instant(value: When, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value
    assert isinstance(value, date)
    return datetime.combine(value, time(0), zone)

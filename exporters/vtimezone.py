"""VTIMEZONE components generated from zoneinfo, as calendar clients expect them.

``vtimezone(tzid, first_year, last_year)`` describes one IANA zone for a window
of years: transitions inside it come from zoneinfo; the yearly rule still in
force at the end becomes an open RRULE (as tzurl.org and Outlook write it), so a
series running past the window keeps the right offsets; everything older is
listed as RDATEs. icalendar's own generator is not used: it iterates zones in
an unstable order, starts summer time at 03:00 local and writes no rule.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur


@dataclass(frozen=True)
class _Observance:
    standard: bool
    offset_from: timedelta
    offset_to: timedelta
    name: str
    start: datetime  # local wall time in offset_from, naive
    rdates: tuple[datetime, ...] = ()
    rrule: tuple[int, str] | None = None  # (month, BYDAY such as "-1SU")


_DAY = timedelta(days=1)
FIRST_YEAR, LAST_YEAR = 1900, 2100
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for ``tzid`` valid from Jan 1 of ``first_year`` to Jan 1 of ``last_year``.

    Transitions come from zoneinfo. A yearly rule that holds until the end of
    the window becomes an RRULE without end (so a series running past the
    window still gets the right offsets); everything else is listed as RDATEs.
    """
    tz = Timezone()
    tz.add("TZID", tzid)
    for obs in _observances(tzid, first_year, last_year):
        sub = TimezoneStandard() if obs.standard else TimezoneDaylight()
        sub.add("DTSTART", obs.start)
        sub.add("TZOFFSETFROM", obs.offset_from)
        sub.add("TZOFFSETTO", obs.offset_to)
        sub.add("TZNAME", obs.name)
        if obs.rrule is not None:
            sub.add("RRULE", vRecur({"FREQ": "YEARLY", "BYMONTH": obs.rrule[0], "BYDAY": obs.rrule[1]}))
        if obs.rdates:
            sub.add("RDATE", list(obs.rdates))
        tz.add_component(sub)
    return tz


@lru_cache(maxsize=64)
def _observances(tzid: str, first_year: int, last_year: int) -> tuple[_Observance, ...]:
    zone = ZoneInfo(tzid)
    begin = datetime(first_year, 1, 1, tzinfo=timezone.utc)
    finish = datetime(last_year, 1, 1, tzinfo=timezone.utc)

    def state(at: datetime) -> tuple[timedelta, str, bool]:
        local = at.astimezone(zone)
        return local.utcoffset(), local.tzname() or "", local.dst() == timedelta(0)  # type: ignore[return-value]

    # (utc instant, state before, state after) for every change in the window.
    changes: list[tuple[datetime, tuple, tuple]] = []
    at, current = begin, state(begin)
    while at < finish:
        nxt = min(at + _DAY, finish)
        after = state(nxt)
        if after != current:
            lo, hi = at, nxt  # state(lo) == current, state(hi) != current
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid <= lo:
                    break
                if state(mid) == current:
                    lo = mid
                else:
                    hi = mid
            new = state(hi)
            changes.append((hi, current, new))
            current = new
            at = hi
            continue
        at = nxt

    # The state at the start of the window, then one group per kind of change.
    first_offset, first_name, first_std = state(begin)
    initial = _Observance(
        standard=first_std,
        offset_from=first_offset,
        offset_to=first_offset,
        name=first_name,
        start=(begin + first_offset).replace(tzinfo=None),
    )
    groups: dict[tuple, list[datetime]] = {}
    for instant, before, after in changes:
        key = (after[2], before[0], after[0], after[1])
        groups.setdefault(key, []).append((instant + before[0]).replace(tzinfo=None))

    result = [initial]
    for (standard, offset_from, offset_to, name), onsets in groups.items():
        run = _trailing_rule(onsets, last_year - 1)
        if run is not None:
            count, rule = run
            history, ruled = onsets[:-count], onsets[-count:]
            result.append(_Observance(standard, offset_from, offset_to, name, ruled[0], rrule=rule))
        else:
            history = onsets
        if history:
            result.append(_Observance(standard, offset_from, offset_to, name, history[0], tuple(history[1:])))
    result.sort(key=lambda o: (o.start, o.standard, o.name))
    return tuple(result)


def _trailing_rule(onsets: list[datetime], final_year: int) -> tuple[int, tuple[int, str]] | None:
    """(how many of the last onsets, (month, BYDAY)) if they follow one yearly rule up to ``final_year``.

    A rule counts only if it is still in force at the end of the window and
    held for at least three years in a row: one change per year, same month,
    weekday and local time, on the same n-th or on the last such weekday.
    """
    if not onsets or onsets[-1].year != final_year:
        return None
    last = onsets[-1]
    all_last = all_nth = True
    count = 0
    for i in range(len(onsets) - 1, -1, -1):
        t = onsets[i]
        if t.year != last.year - count or t.month != last.month or t.weekday() != last.weekday():
            break
        if t.time() != last.time():
            break
        days_in_month = _calendar.monthrange(t.year, t.month)[1]
        is_last = t.day + 7 > days_in_month
        same_nth = (t.day - 1) // 7 == (last.day - 1) // 7
        if not ((all_last and is_last) or (all_nth and same_nth)):
            break
        all_last = all_last and is_last
        all_nth = all_nth and same_nth
        count += 1
    if count < 3:
        return None
    weekday = _WEEKDAYS[last.weekday()]
    nth = "-1" if all_last else str((last.day - 1) // 7 + 1)
    return count, (last.month, f"{nth}{weekday}")

"""Clock times next to a date: "um 16.30 Uhr", "von 9:00 bis 17:30 Uhr", "| 18:00", "from 9:00 to 19:00".

``find_time(text, pos, limit)`` returns the first time or time range that
starts within ``reach`` characters after ``pos`` (and ends before ``limit``).
A bare number counts as a time only with "Uhr" or with a colon ("18:00"), so
"19 Teilnehmer" and "Pfarrstr. 1" are never times; "16.30" needs "Uhr".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

_T1 = r"(?P<h1>[01]?\d|2[0-4])(?:(?P<s1>[:.])(?P<mi1>[0-5]\d))?"
_T2 = r"(?P<h2>[01]?\d|2[0-4])(?:(?P<s2>[:.])(?P<mi2>[0-5]\d))?"
_APPROX = r"(?:(?:etwa|ca\.|circa|gegen)\s+)?"
TIME_RANGE_RE = re.compile(
    rf"(?<![\d.:])(?:\b(?:in\s+der\s+Zeit\s+)?(?:von|zwischen|ab|from|between)\s+)?{_APPROX}{_T1}\s*(?:Uhr\s*)?"
    rf"(?:[-–—]|bis|und|to|and)\s*{_APPROX}{_T2}(?![\d])(?:\s*(?P<uhr>Uhr))?"
)
TIME_SINGLE_RE = re.compile(
    rf"(?<![\d.:])(?:\b(?:um|ab|gegen|circa|ca\.|Beginn:?|at)\s+)?{_APPROX}{_T1}(?![\d])(?:\s*(?P<uhr>Uhr))?"
)
# How far after a date its time may start ("am 21. November 2012, in der Zeit von 18 – 21 Uhr").
TIME_REACH = 45


@dataclass(frozen=True)
class ClockTime:
    """A time or time range found in a text."""

    start: time
    end: time | None
    end_next_day: bool  # "von 22 bis 2 Uhr", "bis 24 Uhr"
    span: tuple[int, int]
    adjacent_bare: bool  # "13.09.2017 13:18": HH:MM right after the date, no "Uhr", no separator
    odd_minutes: bool  # minutes not on a 5-minute step: a timestamp, not an event time


def _clock(h: str, mi: str | None) -> tuple[int, int] | None:
    hour, minute = int(h), int(mi or 0)
    if hour > 24 or (hour == 24 and minute):
        return None
    return hour, minute


def find_time(text: str, pos: int, limit: int, reach: int = TIME_REACH) -> ClockTime | None:
    """The first time (range preferred at the same place) in ``text[pos:limit]`` starting within ``reach``."""
    window = text[pos:limit]
    best: tuple[int, int, re.Match, bool] | None = None
    for is_range, pattern in ((True, TIME_RANGE_RE), (False, TIME_SINGLE_RE)):
        for m in pattern.finditer(window):
            if m.start() > reach:
                break
            g = m.groupdict()
            colon = g.get("s1") == ":" and (not is_range or g.get("s2") == ":")
            if not (g["uhr"] or colon):
                continue
            if best is None or (m.start(), -len(m.group())) < (best[0], best[1]):
                best = (m.start(), -len(m.group()), m, is_range)
            break
    if best is None:
        return None
    _, _, m, is_range = best
    g = m.groupdict()
    c1 = _clock(g["h1"], g["mi1"])
    if c1 is None or c1[0] == 24:
        return None
    c2 = _clock(g["h2"], g["mi2"]) if is_range else None
    if is_range and c2 is None:
        return None
    end, next_day = None, False
    if c2 is not None:
        if c2[0] == 24:
            end, next_day = time(0, 0), True
        else:
            end = time(*c2)
            next_day = end <= time(*c1)
    minutes = [c1[1]] + ([c2[1]] if c2 else [])
    adjacent = bool(re.fullmatch(r"[ \t]+", window[: m.start()])) and m.group()[0].isdigit() and not g["uhr"] and not is_range
    return ClockTime(
        start=time(*c1),
        end=end,
        end_next_day=next_day,
        span=(pos + m.start(), pos + m.end()),
        adjacent_bare=adjacent,
        odd_minutes=any(x % 5 for x in minutes),
    )

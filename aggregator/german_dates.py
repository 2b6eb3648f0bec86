"""Find event dates in German text: "14.10.2025 | 18:00", "am 3. und 4. Juni 2014", …

``find_dates(text, reference=...)`` returns every event-like date of a text in
order of appearance. It is rule based, not a general NLP parser: each shape
of networks.md §2 is one pattern here and one row in tests/test_german_dates.py.

How a match is built:

1. *Date candidates* come from the patterns in ``_DATE_PATTERNS`` (ranges
   first, then single numeric and single long dates). Overlaps are resolved
   leftmost-longest.
2. A weekday prefix directly before the date ("Mi, ", "am Donnerstag, den ")
   is added to the match's span.
3. The text after the date, up to the next date or the end of the sentence,
   is searched for a time or time range ("um 16.30 Uhr", "von 9:00 bis
   17:30 Uhr", "| 18:00") and for status words ("findet nicht statt",
   "verschoben"); the text just before it for a leading status word
   ("ABGESAGT: …").
4. Dates that are not events are dropped: publication datelines and
   timestamps (``is_dateline``), deadlines ("Noch bis zum 25. Oktober"),
   and dates a sentence says were the old plan ("nicht wie geplant am 2. April").

Dates without a year get one only from ``reference`` (the nearest occurrence
not more than ``PAST_TOLERANCE`` before it); without a reference they are
dropped, never invented. Results are naive (local time of the source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from collections.abc import Callable, Iterator

__all__ = ["DateMatch", "find_dates", "is_dateline", "PAST_TOLERANCE"]

# How far in the past a year-less date may lie, relative to the reference,
# before we take it for next year's occurrence (a listing seen in November
# that shows "15. Januar" means next January).
PAST_TOLERANCE = timedelta(days=62)


@dataclass(frozen=True)
class DateMatch:
    start: date | datetime
    end: date | datetime | None
    text: str
    span: tuple[int, int]
    year_inferred: bool = False
    cancelled: bool = False
    postponed: bool = False


# --------------------------------------------------------------------------- vocabulary

MONTHS = {
    "januar": 1, "jänner": 1, "jan": 1,
    "februar": 2, "feb": 2, "febr": 2,
    "märz": 3, "maerz": 3, "marz": 3, "mär": 3, "mrz": 3,
    "april": 4, "apr": 4,
    "mai": 5,
    "juni": 6, "jun": 6,
    "juli": 7, "jul": 7,
    "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "okt": 10,
    "november": 11, "nov": 11,
    "dezember": 12, "dez": 12,
}
# Longest first so "Juni" wins over "Jun"; an abbreviation may carry a dot,
# a name must not run on into a longer word ("Maier").
_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_LETTER = "A-Za-zÄÖÜäöüß"


def _month(name: str) -> str:
    return rf"(?P<{name}>(?i:{_MONTH_ALT}))(?:\.|(?![{_LETTER}]))"


_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MON = r"(?:0?[1-9]|1[0-2])"
_NB = rf"(?<![\d{_LETTER}])(?<!\d\.)"  # not inside a longer number or word ("1.000", "v3.8.11")


def _numeric(s: str) -> str:
    """D.M.YYYY, D.M.YY or D.M. (groups d/m/y/yy + suffix)."""
    return (
        rf"(?P<d{s}>{_DAY})\.\s?(?P<m{s}>{_MON})\."
        rf"(?:\s?(?P<y{s}>(?:19|20)\d\d)(?!\d)|(?P<yy{s}>\d\d)(?!\d))?(?![\d])(?!\.\d)"
    )


def _long(s: str) -> str:
    """D. Monat [YYYY] (groups ld/mn/ly + suffix)."""
    return rf"(?P<ld{s}>{_DAY})\.\s*{_month('mn' + s)}(?:\s*(?P<ly{s}>(?:19|20)\d\d)(?!\d))?"


# The first part of a range may be as short as "16." (month and year come from the second).
_RANGE_FIRST = (
    rf"(?P<d1>{_DAY})\.(?:\s?(?P<m1>{_MON})\.(?:\s?(?P<y1>(?:19|20)\d\d)|(?P<yy1>\d\d))?(?!\d)"
    rf"|\s*{_month('mn1')}(?:\s*(?P<ly1>(?:19|20)\d\d))?)?"
)
_RANGE_SEP = r"(?P<sep>\s*[-–—/]\s*|\s+bis\s+(?:zum\s+|einschließlich\s+)?|\s+und\s+(?:dem\s+)?)"
_RANGE_SECOND = rf"(?:{_numeric('2')}|{_long('2')})"

RANGE_RE = re.compile(rf"{_NB}{_RANGE_FIRST}{_RANGE_SEP}{_RANGE_SECOND}")
NUMERIC_RE = re.compile(rf"{_NB}{_numeric('')}")
LONG_RE = re.compile(rf"{_NB}{_long('')}(?!\d)")

_WEEKDAY = (
    r"(?:(?:Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonnabend|Sonntag)"
    r"(?:vormittag|nachmittag|mittag|abend|morgen)?|Mo|Di|Mi|Do|Fr|Sa|So)"
)
WEEKDAY_PREFIX_RE = re.compile(rf"\b{_WEEKDAY}\.?\s*,?\s*(?:(?:den|dem)\s+)?$")

# --------------------------------------------------------------------------- times

_T1 = r"(?P<h1>[01]?\d|2[0-4])(?:(?P<s1>[:.])(?P<mi1>[0-5]\d))?"
_T2 = r"(?P<h2>[01]?\d|2[0-4])(?:(?P<s2>[:.])(?P<mi2>[0-5]\d))?"
_APPROX = r"(?:(?:etwa|ca\.|circa|gegen)\s+)?"
TIME_RANGE_RE = re.compile(
    rf"(?<![\d.:])(?:\b(?:in\s+der\s+Zeit\s+)?(?:von|zwischen|ab)\s+)?{_APPROX}{_T1}\s*(?:Uhr\s*)?"
    rf"(?:[-–—]|bis|und)\s*{_APPROX}{_T2}(?![\d])(?:\s*(?P<uhr>Uhr))?"
)
TIME_SINGLE_RE = re.compile(
    rf"(?<![\d.:])(?:\b(?:um|ab|gegen|circa|ca\.|Beginn:?)\s+)?{_APPROX}{_T1}(?![\d])(?:\s*(?P<uhr>Uhr))?"
)
# How far after a date its time may start ("am 21. November 2012, in der Zeit von 18 – 21 Uhr").
TIME_REACH = 45
# How far after a date its status words and time are looked for at most.
WINDOW = 200

# --------------------------------------------------------------------------- status and non-events

CANCEL_RE = re.compile(
    r"(?i)(?:findet\s+nicht\s+statt|finden\s+nicht\s+statt|abgesagt|entfällt|entfallen|fällt\s+aus|"
    r"fallen\s+aus|ausfallen|ausgefallen|storniert|cancel+ed)"
)
CANCEL_BEFORE_RE = re.compile(r"(?i)(?:abgesagt|entfällt|fällt aus|storniert|cancel+ed)\s*[:!|–—-]?\s*$")
POSTPONE_RE = re.compile(r"(?i)(?:verschoben|postponed|neuer\s+termin\s+folgt)")
# The old date in "welche für den 2. April … geplant war" / "nicht wie geplant am 2. April".
SUPERSEDED_AFTER_RE = re.compile(r"(?i)^[^.;]{0,60}?\bgeplant\s+war")
SUPERSEDED_BEFORE_RE = re.compile(r"(?i)(?:nicht\s+(?:wie\s+(?:ursprünglich\s+)?geplant\s+)?(?:am|für\s+den)|statt\s+am|ursprünglich\s+(?:am|für\s+den))\s*$")
DEADLINE_RE = re.compile(
    r"(?i)(?:\bbis\s+(?:zum\s+|spätestens\s+|einschließlich\s+)?|Anmeldeschluss\s*:?\s*(?:ist\s+)?(?:der\s+)?|"
    r"Einsendeschluss\s*:?\s*|Bewerbungsschluss\s*:?\s*|Frist\s*:\s*)$"
)
# "Erfurt, 14. Januar 2016." / "ERFURT / ESSEN, 12.03.2020." / "Jena  | 09. Oktober 2024":
# a place alone at the start of a line, then the date.
_PLACE = rf"[A-ZÄÖÜ][{_LETTER}\-]+(?:\s*/\s*[A-ZÄÖÜ][{_LETTER}\-]+)*"
PLACE_DATELINE_RE = re.compile(rf"[ \t]*{_PLACE}[ \t]*(?:,|\|)[ \t]*")
# "Version 3.8.11", "Release 2.1.20": software versions, not dates.
VERSION_RE = re.compile(r"(?i)\b(?:version|release|ver\.|v|build|update|firmware)\s*$")
# "3.8.11" alone is a version; "am 3.4.14" is a date (2-digit year, unpadded day or month).
_UNPADDED_SHORT_RE = re.compile(r"\d{1,2}\.\d{1,2}\.\d\d")
INTRO_RE = re.compile(r"(?i)\b(?:am|vom|ab|bis|den|dem|datum|termin)\s*:?\s*$")


def _looks_like_version(s: str) -> bool:
    if not _UNPADDED_SHORT_RE.fullmatch(s):
        return False
    day, month, _ = s.split(".")
    return len(day) == 1 or len(month) == 1


LABEL_DATELINE_RE = re.compile(
    r"(?i)\b(?:Aktuelles|Meldung|News|Neuigkeiten|Pressemitteilung|Pressemeldung|Allgemeines|"
    r"veröffentlicht(?:\s+am)?|Stand|aktualisiert(?:\s+am)?|erstellt(?:\s+am)?|zuletzt\s+geändert(?:\s+am)?|"
    r"Version\s+vom|Posted\s+on|Datum\s+der\s+Veröffentlichung)\s*[:|–—-]?\s*$"
)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Day:
    """A calendar day as written; year may be None."""

    day: int
    month: int
    year: int | None


def _year(four: str | None, two: str | None) -> int | None:
    if four:
        return int(four)
    if two:
        return 2000 + int(two)
    return None


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _infer_year(day: int, month: int, reference: date) -> date | None:
    """The nearest occurrence of day.month not more than PAST_TOLERANCE before reference."""
    for y in range(reference.year - 1, reference.year + 5):
        d = _safe_date(y, month, day)
        if d is not None and d >= reference - PAST_TOLERANCE:
            return d
    return None


@dataclass
class _Candidate:
    start: int
    end: int
    first: _Day
    last: _Day | None  # inclusive last day of a range
    kind: str  # "single", "range", "pair" (non-consecutive "3. und 10. Juni": two days)


def _from_range(m: re.Match) -> _Candidate | None:
    g = m.groupdict()
    if g["d2"]:
        last = _Day(int(g["d2"]), int(g["m2"]), _year(g["y2"], g["yy2"]))
    else:
        last = _Day(int(g["ld2"]), MONTHS[g["mn2"].lower()], _year(g["ly2"], None))
    d1 = int(g["d1"])
    if g["m1"]:
        first = _Day(d1, int(g["m1"]), _year(g["y1"], g["yy1"]) or last.year)
    elif g["mn1"]:
        first = _Day(d1, MONTHS[g["mn1"].lower()], _year(g["ly1"], None) or last.year)
    else:
        month = last.month
        if d1 > last.day:  # "30.–02.10." runs over a month end
            month = 12 if month == 1 else month - 1
        first = _Day(d1, month, last.year)
    if first.year is not None and last.year is not None and first.year == last.year and (first.month, first.day) > (last.month, last.day):
        if not (g["y1"] or g["yy1"] or g["ly1"]):  # "27.12. – 03.01.2026": the year was borrowed
            first = _Day(first.day, first.month, first.year - 1)
    sep = g["sep"].strip()
    kind = "range"
    if sep == "und" or sep.startswith("und "):
        before = m.string[max(0, m.start() - 20) : m.start()]
        zwischen = re.search(r"(?i)\bzwischen\s+(?:dem\s+)?$", before)
        consecutive = (first.month, first.day + 1) == (last.month, last.day)
        if not zwischen and not consecutive:
            kind = "pair"
    return _Candidate(m.start(), m.end(), first, last, kind)


def _from_numeric(m: re.Match) -> _Candidate:
    g = m.groupdict()
    return _Candidate(m.start(), m.end(), _Day(int(g["d"]), int(g["m"]), _year(g["y"], g["yy"])), None, "single")


def _from_long(m: re.Match) -> _Candidate:
    g = m.groupdict()
    return _Candidate(m.start(), m.end(), _Day(int(g["ld"]), MONTHS[g["mn"].lower()], _year(g["ly"], None)), None, "single")


# Date patterns, most specific first; a later issue adds rows here (e.g. English dates).
_DATE_PATTERNS: list[tuple[re.Pattern, Callable[[re.Match], _Candidate | None]]] = [
    (RANGE_RE, _from_range),
    (NUMERIC_RE, _from_numeric),
    (LONG_RE, _from_long),
]


def _candidates(text: str) -> list[_Candidate]:
    found: list[tuple[int, int, int, _Candidate]] = []
    for prio, (pattern, build) in enumerate(_DATE_PATTERNS):
        for m in pattern.finditer(text):
            cand = build(m)
            if cand is not None:
                found.append((cand.start, -(cand.end - cand.start), prio, cand))
    found.sort(key=lambda t: t[:3])
    chosen: list[_Candidate] = []
    for _, _, _, cand in found:
        if chosen and cand.start < chosen[-1].end:
            continue
        chosen.append(cand)
    return chosen


_ABBREVIATIONS = {"ca", "nr", "str", "bzw", "etc", "dr", "prof", "st", "z", "b", "vgl", "inkl", "ggf", "u", "a", "evtl"}
_ABBREVIATIONS |= {k for k in MONTHS if len(k) <= 4}


def _sentence_end(text: str, pos: int, limit: int) -> int:
    """Index of the first sentence end in text[pos:limit] (or limit)."""
    for m in re.finditer(r"[.!?](?=\s+[A-ZÄÖÜ])|\n[ \t]*\n", text[pos:limit]):
        if m.group().startswith("\n"):
            return pos + m.start()
        i = pos + m.start()
        word = re.search(rf"([{_LETTER}\d]+)$", text[max(0, i - 12) : i])
        if word and (word.group(1).lower() in _ABBREVIATIONS or word.group(1).isdigit()):
            continue
        return i
    return limit


def _sentence_start(text: str, pos: int, floor: int) -> int:
    lo = floor
    for m in re.finditer(r"[.!?]\s+(?=[A-ZÄÖÜ])|\n[ \t]*\n", text[floor:pos]):
        i = floor + m.start()
        word = re.search(rf"([{_LETTER}\d]+)$", text[max(0, i - 12) : i])
        if m.group()[0] == "." and word and (word.group(1).lower() in _ABBREVIATIONS or word.group(1).isdigit()):
            continue
        lo = floor + m.end()
    return lo


@dataclass
class _Time:
    start: time
    end: time | None
    end_next_day: bool
    span: tuple[int, int]
    adjacent_bare: bool  # "13.09.2017 13:18": HH:MM right after the date, no "Uhr", no separator
    odd_minutes: bool  # minutes not on a 5-minute step: a timestamp, not an event time


def _clock(h: str, mi: str | None) -> tuple[int, int] | None:
    hour, minute = int(h), int(mi or 0)
    if hour > 24 or (hour == 24 and minute):
        return None
    return hour, minute


def _find_time(text: str, pos: int, limit: int) -> _Time | None:
    window = text[pos:limit]
    best: tuple[int, int, re.Match, bool] | None = None
    for is_range, pattern in ((True, TIME_RANGE_RE), (False, TIME_SINGLE_RE)):
        for m in pattern.finditer(window):
            if m.start() > TIME_REACH:
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
    adjacent = bool(re.fullmatch(r"[ \t]+", window[: m.start()])) and not g["uhr"] and not is_range
    return _Time(
        start=time(*c1),
        end=end,
        end_next_day=next_day,
        span=(pos + m.start(), pos + m.end()),
        adjacent_bare=adjacent,
        odd_minutes=any(x % 5 for x in minutes),
    )


def is_dateline(text: str, span: tuple[int, int], time_info: _Time | None = None) -> bool:
    """Is the date at ``span`` of ``text`` a publication dateline or timestamp, not an event?

    "Erfurt, 14. Januar 2016." / "Jena | 09. Oktober 2024" (a lone place at the start of a
    line), "Meldung 19.09.2023" / "Version vom 25. Juni 2014" (a label), "13.09.2017 13:18"
    (a bare clock time right after the date), "26. Januar 2024, 09:28 Uhr" (an odd minute).
    """
    start, end = span
    line_prefix = text[text.rfind("\n", 0, start) + 1 : start]
    if PLACE_DATELINE_RE.fullmatch(line_prefix):
        return True
    before = text[max(0, start - 60) : start]
    if LABEL_DATELINE_RE.search(before):
        return True
    if time_info is None:
        time_info = _find_time(text, end, min(len(text), end + 60))
    if time_info is not None and (time_info.adjacent_bare or time_info.odd_minutes):
        return True
    return False


# --------------------------------------------------------------------------- main entry


def find_dates(text: str, *, reference: date | None = None) -> list[DateMatch]:
    """All event-like dates in ``text``, in order of appearance (see module docstring)."""
    if not text:
        return []
    if isinstance(reference, datetime):
        reference = reference.date()
    cands = _candidates(text)
    out: list[DateMatch] = []
    for i, cand in enumerate(cands):
        next_start = cands[i + 1].start if i + 1 < len(cands) else len(text)
        prev_end = cands[i - 1].end if i > 0 else 0
        out.extend(_build(text, cand, prev_end, next_start, reference))
    return out


def _resolve(day: _Day, reference: date | None) -> tuple[date | None, bool]:
    if day.year is not None:
        return _safe_date(day.year, day.month, day.day), False
    if reference is None:
        return None, False
    return _infer_year(day.day, day.month, reference), True


def _build(text: str, cand: _Candidate, prev_end: int, next_start: int, reference: date | None) -> Iterator[DateMatch]:
    # Days
    first, inferred = _resolve(cand.first, reference)
    if first is None:
        return
    last = None
    if cand.last is not None:
        if cand.last.year is None and cand.first.year is None and inferred:
            # "Vom 27. September bis 4. Oktober": the last day follows the first
            last = _safe_date(first.year, cand.last.month, cand.last.day)
            if last is not None and last < first:
                last = _safe_date(first.year + 1, cand.last.month, cand.last.day)
        else:
            last, _ = _resolve(cand.last, reference)
        if last is None or last < first:
            return
        if cand.first.year is None and cand.last.year is not None:
            inferred = False

    # Span: weekday prefix before, time after
    start = cand.start
    wd = WEEKDAY_PREFIX_RE.search(text[max(prev_end, start - 40) : start])
    if wd:
        start = start - (len(text[max(prev_end, cand.start - 40) : cand.start]) - wd.start())
    sentence_end = _sentence_end(text, cand.end, min(next_start, cand.end + WINDOW))
    t = _find_time(text, cand.end, sentence_end)
    end = t.span[1] if t else cand.end

    # Non-events
    if is_dateline(text, (start, cand.end), t):
        return
    sent_start = _sentence_start(text, start, max(prev_end, start - WINDOW))
    before = text[max(sent_start, start - 40) : start]
    if DEADLINE_RE.search(before) and cand.kind == "single":
        return
    if VERSION_RE.search(text[max(0, cand.start - 12) : cand.start]) and text[cand.start : cand.end][-1:].isdigit():
        return
    if _looks_like_version(text[cand.start : cand.end]) and not (wd or INTRO_RE.search(text[max(0, cand.start - 12) : cand.start])):
        return
    after = text[end:sentence_end]
    if SUPERSEDED_BEFORE_RE.search(before) or SUPERSEDED_AFTER_RE.search(after):
        return

    cancelled = bool(CANCEL_RE.search(after) or CANCEL_BEFORE_RE.search(before))
    postponed = bool(POSTPONE_RE.search(after) or POSTPONE_RE.search(before[-25:]))

    def make(s: date | datetime, e: date | datetime | None, a: int, b: int) -> DateMatch:
        return DateMatch(s, e, text[a:b], (a, b), inferred, cancelled, postponed)

    if cand.kind == "pair":
        # "am 3. und 10. Juni": two separate days, each all-day or with the shared time
        mid = re.search(r"\s+und\s+(?:dem\s+)?", text[cand.start : cand.end])
        assert mid is not None
        for day, a, b in ((first, start, cand.start + mid.start()), (last, cand.start + mid.end(), end)):
            s, e = _apply_time(day, None, t)
            yield make(s, e, a, b)
        return
    s, e = _apply_time(first, last, t)
    yield make(s, e, start, end)


def _apply_time(first: date, last: date | None, t: _Time | None) -> tuple[date | datetime, date | datetime | None]:
    if t is None:
        if last is None or last == first:
            return first, None
        return first, last + timedelta(days=1)
    start = datetime.combine(first, t.start)
    if t.end is None:
        return start, None
    end_day = last or first
    if t.end_next_day:
        end_day = end_day + timedelta(days=1)
    return start, datetime.combine(end_day, t.end)

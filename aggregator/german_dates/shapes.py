"""Date shapes: the written forms of a day or a range of days, found as candidates.

``find_candidates(text)`` returns every place in ``text`` that is written like a
date ("14.10.2025", "3. und 4. Juni 2014", "17th November 2020", "morgen"), left
to right and without overlaps (leftmost-longest). A candidate is only what is
written: it is not yet an event (datelines, deadlines, status words and times
are decided in ``finder``), and its year may be missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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
# English month names of bilingual sites ("17th November 2020", "November 17, 2020").
ENGLISH_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6,
    "july": 7, "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}

LETTER = "A-Za-zÄÖÜäöüß"


def month_number(name: str) -> int:
    """1–12 for a German or English month name or abbreviation (any case)."""
    key = name.lower().rstrip(".")
    return MONTHS.get(key) or ENGLISH_MONTHS[key]


def _alternation(words) -> str:
    # Longest first so "Juni" wins over "Jun".
    return "|".join(sorted(set(words), key=len, reverse=True))


def _month(name: str, words=MONTHS) -> str:
    # An abbreviation may carry a dot; a name must not run on into a longer word ("Maier").
    return rf"(?P<{name}>(?i:{_alternation(words)}))(?:\.|(?![{LETTER}]))"


_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MON = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d\d"
_NB = rf"(?<![\d{LETTER}])(?<!\d\.)"  # not inside a longer number or word ("1.000", "v3.8.11")

WEEKDAY = (
    r"(?:(?:Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonnabend|Sonntag)"
    r"(?:vormittag|nachmittag|mittag|abend|morgen)?|Mo|Di|Mi|Do|Fr|Sa|So"
    r"|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
)
# "Mi, " / "am Donnerstag, den " / "on Tuesday, " directly before a date (group "weekday": the word).
WEEKDAY_PREFIX_RE = re.compile(rf"\b(?P<weekday>{WEEKDAY})\.?\s*,?\s*(?:(?:den|dem|the)\s+)?$")
# The first two letters of a German or English weekday → its number (0 = Monday, as date.weekday()).
_WEEKDAY_NUMBERS = {"mo": 0, "di": 1, "tu": 1, "mi": 2, "we": 2, "do": 3, "th": 3, "fr": 4, "sa": 5, "so": 6, "su": 6}
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def weekday_number(word: str) -> int:
    """0 (Monday) – 6 (Sunday) for a weekday word of ``WEEKDAY``: "Mi", "Donnerstagvormittag", "Sonnabend", "Tuesday"."""
    word = word.lower()
    if word.startswith("sonnabend"):
        return 5
    return _WEEKDAY_NUMBERS[word[:2]]


def _numeric(s: str) -> str:
    """D.M.YYYY, D.M.YY or D.M. (groups d/m/y/yy + suffix)."""
    return (
        rf"(?P<d{s}>{_DAY})\.\s?(?P<m{s}>{_MON})\."
        rf"(?:\s?(?P<y{s}>{_YEAR})(?!\d)|(?P<yy{s}>\d\d)(?!\d))?(?![\d])(?!\.\d)"
    )


def _long(s: str) -> str:
    """D. Monat [YYYY] (groups ld/mn/ly + suffix)."""
    return rf"(?P<ld{s}>{_DAY})\.\s*{_month('mn' + s)}(?:\s*(?P<ly{s}>{_YEAR})(?!\d))?"


# The first part of a range may be as short as "16." (month and year come from the second).
_RANGE_FIRST = (
    rf"(?P<d1>{_DAY})\.(?:\s?(?P<m1>{_MON})\.(?:\s?(?P<y1>{_YEAR})|(?P<yy1>\d\d))?(?!\d)"
    rf"|\s*{_month('mn1')}(?:\s*(?P<ly1>{_YEAR}))?)?"
)
_RANGE_SEP = r"(?P<sep>\s*[-–—/]\s*|\s+bis\s+(?:zum\s+|einschließlich\s+)?|\s+und\s+(?:dem\s+)?)"
_RANGE_SECOND = rf"(?:{_numeric('2')}|{_long('2')})"

RANGE_RE = re.compile(rf"{_NB}{_RANGE_FIRST}{_RANGE_SEP}{_RANGE_SECOND}")
NUMERIC_RE = re.compile(rf"{_NB}{_numeric('')}")
LONG_RE = re.compile(rf"{_NB}{_long('')}(?!\d)")
# "17th November 2020", "Tuesday, 17 November 2020" (no dot: English; see _from_english)
ENGLISH_DAY_FIRST_RE = re.compile(
    rf"{_NB}(?P<d>{_DAY})(?P<ord>st|nd|rd|th)?\s+(?:of\s+)?{_month('mn', ENGLISH_MONTHS)}(?:\s*,?\s*(?P<y>{_YEAR})(?!\d))?"
)
# "Tuesday, November 17, 2020" / "November 17th 2020"
ENGLISH_MONTH_FIRST_RE = re.compile(
    rf"(?<![{LETTER}]){_month('mn', ENGLISH_MONTHS)}\s+(?P<d>{_DAY})(?:st|nd|rd|th)?\s*,?\s+(?P<y>{_YEAR})(?!\d)"
)
_ENGLISH_WEEKDAY_BEFORE_RE = re.compile(r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+(?:the\s+)?$")
# "morgen ab 9 Uhr": a day relative to the reference (kept only with a time, see finder).
RELATIVE_DAYS = {"gestern": -1, "heute": 0, "morgen": 1, "übermorgen": 2}
RELATIVE_RE = re.compile(rf"(?<![{LETTER}])(?P<rel>(?i:übermorgen|morgen|heute|gestern))(?![{LETTER}])")
# "am Morgen", "jeden Morgen", "bis morgen", "von heute": not a day of an event.
_NOT_RELATIVE_BEFORE_RE = re.compile(r"(?i)\b(?:am|jeden|guten|bis|von|seit|ab|der|die|das|des|den|dem)\s*$")

# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Day:
    """A calendar day as written; year may be None."""

    day: int
    month: int
    year: int | None


@dataclass(frozen=True)
class Candidate:
    """A written date at ``text[start:end]``.

    kind: "single"; "range" (first..last inclusive); "pair" ("3. und 10. Juni":
    two separate days); "relative" (``offset`` days from the reference, first is None).
    """

    start: int
    end: int
    first: Day | None
    last: Day | None = None
    kind: str = "single"
    offset: int = 0


def _year(four: str | None, two: str | None) -> int | None:
    if four:
        return int(four)
    if two:
        return 2000 + int(two)
    return None


def _from_range(m: re.Match) -> Candidate | None:
    g = m.groupdict()
    if g["d2"]:
        last = Day(int(g["d2"]), int(g["m2"]), _year(g["y2"], g["yy2"]))
    else:
        last = Day(int(g["ld2"]), month_number(g["mn2"]), _year(g["ly2"], None))
    d1 = int(g["d1"])
    if g["m1"]:
        first = Day(d1, int(g["m1"]), _year(g["y1"], g["yy1"]) or last.year)
    elif g["mn1"]:
        first = Day(d1, month_number(g["mn1"]), _year(g["ly1"], None) or last.year)
    else:
        month = last.month
        if d1 > last.day:  # "30.–02.10." runs over a month end
            month = 12 if month == 1 else month - 1
        first = Day(d1, month, last.year)
    if first.year is not None and last.year is not None and first.year == last.year and (first.month, first.day) > (last.month, last.day):
        if not (g["y1"] or g["yy1"] or g["ly1"]):  # "27.12. – 03.01.2026": the year was borrowed
            first = Day(first.day, first.month, first.year - 1)
    sep = g["sep"].strip()
    kind = "range"
    if sep == "und" or sep.startswith("und "):
        before = m.string[max(0, m.start() - 20) : m.start()]
        zwischen = re.search(r"(?i)\bzwischen\s+(?:dem\s+)?$", before)
        consecutive = (first.month, first.day + 1) == (last.month, last.day)
        if not zwischen and not consecutive:
            kind = "pair"
    return Candidate(m.start(), m.end(), first, last, kind)


def _from_numeric(m: re.Match) -> Candidate:
    g = m.groupdict()
    return Candidate(m.start(), m.end(), Day(int(g["d"]), int(g["m"]), _year(g["y"], g["yy"])))


def _from_long(m: re.Match) -> Candidate:
    g = m.groupdict()
    return Candidate(m.start(), m.end(), Day(int(g["ld"]), month_number(g["mn"]), _year(g["ly"], None)))


def _from_english(m: re.Match) -> Candidate | None:
    # English prose mentions past dates all the time ("the September 11, 2001, attacks", "On 20 and
    # 21 January 2018, hundreds of groups …"); an event date of a bilingual site has an ordinal
    # ("17th November 2020") or a weekday ("Tuesday, 17 November 2020").
    g = m.groupdict()
    weekday = _ENGLISH_WEEKDAY_BEFORE_RE.search(m.string[max(0, m.start() - 14) : m.start()])
    if not (g.get("ord") or weekday) or not (g["y"] or g.get("ord")):
        return None
    return Candidate(m.start(), m.end(), Day(int(g["d"]), month_number(g["mn"]), _year(g["y"], None)))


def _from_relative(m: re.Match) -> Candidate | None:
    if _NOT_RELATIVE_BEFORE_RE.search(m.string[max(0, m.start() - 10) : m.start()]):
        return None
    return Candidate(m.start(), m.end(), None, None, "relative", RELATIVE_DAYS[m.group("rel").lower()])


# Date patterns, most specific first (the priority breaks ties between equally long matches).
DATE_PATTERNS: list[tuple[re.Pattern, Callable[[re.Match], Candidate | None]]] = [
    (RANGE_RE, _from_range),
    (NUMERIC_RE, _from_numeric),
    (LONG_RE, _from_long),
    (ENGLISH_DAY_FIRST_RE, _from_english),
    (ENGLISH_MONTH_FIRST_RE, _from_english),
    (RELATIVE_RE, _from_relative),
]


def find_candidates(text: str) -> list[Candidate]:
    """Every written date of ``text``, left to right, overlaps resolved leftmost-longest."""
    found: list[tuple[int, int, int, Candidate]] = []
    for prio, (pattern, build) in enumerate(DATE_PATTERNS):
        for m in pattern.finditer(text):
            cand = build(m)
            if cand is not None:
                found.append((cand.start, -(cand.end - cand.start), prio, cand))
    found.sort(key=lambda t: t[:3])
    chosen: list[Candidate] = []
    for _, _, _, cand in found:
        if chosen and cand.start < chosen[-1].end:
            continue
        chosen.append(cand)
    return chosen


def has_date(text: str) -> bool:
    """Does ``text`` contain a day written as a date (not just a year or a month)?"""
    return any(c.kind != "relative" for c in find_candidates(text))

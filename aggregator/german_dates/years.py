"""Years for dates written without one ("am 27. Juni", "8. Juli: Mitgliederversammlung").

Order of precedence (see ``finder``): a year heading earlier in the same text
("Veranstaltungen 2023 des ITnet Thüringen e. V.", a chronicle's "2020" line),
then the caller's ``year_hint`` (a heading the caller found, e.g. in HTML),
then inference from the reference date (``infer_year``, which follows a written
weekday within ``WEEKDAY_REACH``). Without any of them
a year-less date is dropped, never invented.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from .shapes import has_date

# How far in the past a year-less date may lie, relative to the reference,
# before we take it for next year's occurrence (a listing seen in November
# that shows "15. Januar" means next January).
PAST_TOLERANCE = timedelta(days=62)
# A written weekday may move a year-less date to another year, but only to an occurrence
# at most this far from the reference: "Samstag, 21. Okt." seen in November 2025 falls
# on no Saturday nearby (2023 and 2028 are), and a guess years away is worse than the
# nearest occurrence with a warning.
WEEKDAY_REACH = timedelta(days=366)

_YEAR_RE = re.compile(r"(?<![\d.,])(?:19|20)\d\d(?![\d.,]\d)")
# Words that make a short line a section heading for the dates below it.
_HEADING_WORD_RE = re.compile(
    r"(?i)\b(?:Veranstaltungen|Veranstaltungskalender|Veranstaltungs(?:plan|programm|übersicht)|Termine|Terminkalender|"
    r"Termin(?:übersicht|vorschau|plan)|Jahresprogramm|Jahresplanung|Jahresübersicht|Programm|Chronik|Rückblick|"
    r"Vorschau|Kalender|Events?|Jahr)\b"
)
# "2020", "## 2020", "2020:", "Im Jahr 2020", "– 2020 –": the year alone is the heading.
_BARE_YEAR_RE = re.compile(r"[\s#*|:–—\-]*(?:(?:im\s+)?Jahr\s+)?(?:19|20)\d\d[\s#*|:–—\-]*", re.I)
# A year after these is a period or a deadline, not a section ("bis Sommer 2023", "seit 2019").
_NOT_SECTION_RE = re.compile(r"(?i)\b(?:bis|seit|ab|vor|nach|Mitte|Ende|Anfang|Sommer|Winter|Herbst|Frühjahr|Frühling|Quartal|Stand)\b")
HEADING_MAX_LEN = 80


def year_from_heading(text: str) -> int | None:
    """The year of a section heading, or None if ``text`` is not one.

    "Veranstaltungen 2023 des ITnet Thüringen e. V." → 2023; "2020" → 2020;
    "Termine 2024:" → 2024. None for anything longer than a heading line, with
    two years ("2023/2024"), with a day ("Erfurt, 14. Januar 2016"), or with a
    period word before the year ("Bis Sommer 2023", "Mitte September 2022").
    """
    line = " ".join(text.split())
    if not line or len(line) > HEADING_MAX_LEN:
        return None
    years = _YEAR_RE.findall(line)
    if len(years) != 1 or has_date(line):
        return None
    if _BARE_YEAR_RE.fullmatch(line):
        return int(years[0])
    head = line[: line.index(years[0])]
    if _NOT_SECTION_RE.search(head) or not _HEADING_WORD_RE.search(line):
        return None
    return int(years[0])


def heading_years(text: str) -> list[tuple[int, int]]:
    """(offset where the heading's line ends, year) for each year-heading line of ``text``, in order."""
    out: list[tuple[int, int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        if "\n" in text and len(line.strip()) <= HEADING_MAX_LEN:
            year = year_from_heading(line)
            if year is not None:
                out.append((pos + len(line), year))
        pos += len(line)
    return out


def year_at(headings: list[tuple[int, int]], pos: int) -> int | None:
    """The year of the last heading that ends before ``pos``."""
    year = None
    for end, y in headings:
        if end > pos:
            break
        year = y
    return year


def infer_year(day: int, month: int, reference: date, weekday: int | None = None) -> date | None:
    """The nearest occurrence of day.month not more than PAST_TOLERANCE before ``reference``.

    With the written ``weekday`` (0 = Monday) that this occurrence does not fall
    on: the occurrence within ``WEEKDAY_REACH`` of ``reference`` either way that
    does ("Donnerstag, 4. September" seen on 10 Nov 2025 → 2025, though more than
    PAST_TOLERANCE ago). There is at most one (the weekday of a day moves by one or
    two a year); without one, the nearest occurrence stays (the caller warns).
    """
    nearest = None
    for y in range(reference.year - 1, reference.year + 5):
        try:
            d = date(y, month, day)
        except ValueError:
            continue
        if d >= reference - PAST_TOLERANCE:
            nearest = d
            break
    if weekday is None or nearest is None or nearest.weekday() == weekday:
        return nearest
    for y in range(reference.year - 1, reference.year + 2):
        try:
            d = date(y, month, day)
        except ValueError:
            continue
        if abs(d - reference) <= WEEKDAY_REACH and d.weekday() == weekday:
            return d
    return nearest

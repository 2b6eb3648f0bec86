"""``find_dates``: written dates (``shapes``) + times (``times``) + context (``markers``, ``years``) → ``DateMatch``es."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from . import markers
from .match import DateMatch
from .sentences import sentence_end, sentence_start
from .shapes import WEEKDAY_NAMES, WEEKDAY_PREFIX_RE, Candidate, Day, find_candidates, weekday_number
from .times import ClockTime, find_time
from .years import heading_years, infer_year, year_at

# How far after a date its status words and time are looked for at most.
WINDOW = 200
# "startet am 16. September 2020 … bis zum 25. September 2020": how far apart the two halves may be.
LINK_REACH = 400
# A relative day ("morgen") counts only with a time right after it ("morgen ab 9 Uhr").
RELATIVE_TIME_REACH = 3
# Years a date may have, and a reference or year hint must have to be used: beyond
# them a date is a misread number, and near year 1 or 9999 one more day overflows.
MIN_YEAR, MAX_YEAR = 1000, 9000

_START_WORD_RE = re.compile(
    r"(?i)\b(?:startet|starten|startete|starteten|gestartet|beginnt|beginnen|begann|begannen|begonnen|"
    r"eröffnet|eröffnen|Auftakt\w*|Start)\b"
)
# "05.03.2025 09:30 - 06.03.2025 16:00", "4. November @ 9:00 - 5. November @ 16:00": how far after
# each date its time may start, and what may stand between the first time and the second date.
TIMED_RANGE_TIME_REACH = 6
_TIMED_RANGE_SEP_RE = re.compile(r"[ \t]*,?[ \t]*(?:[-–—]|bis(?:[ \t]+zum)?)[ \t]*", re.I)
_END_LINK_RE = re.compile(
    r"(?i)(?:\bbis\s+(?:zum\s+|einschließlich\s+)?|\bend(?:et|en|ete)\s+(?:am\s+)?|\b(?:dauert|läuft)\s+(?:noch\s+)?bis\s+(?:zum\s+)?)$"
)


def find_dates(
    text: str, *, reference: date | None = None, year_hint: int | None = None, date_field: bool = False
) -> list[DateMatch]:
    """All event-like dates in ``text``, in order of appearance.

    ``reference`` (the day the text was published or seen) gives year-less
    dates a year – the nearest occurrence not more than ``PAST_TOLERANCE``
    before it – and relative days ("morgen ab 9 Uhr") their day.
    ``year_hint`` (a year from the section heading the text sits under, see
    ``year_from_heading``) is the year of year-less dates and wins over the
    reference; a year heading line inside ``text`` wins over both for the
    dates below it. Dates that stay without a year are dropped, and so are dates
    outside the years ``MIN_YEAR``–``MAX_YEAR`` (a reference or hint outside them
    counts as none). ``date_field``: the whole text is a field that holds the
    event's date (an HTML list's date element), so "05.03.2025 18:00" there is the
    event's start; in free text that form is a posting timestamp unless a weekday
    or an event label ("Termin:", "Wann?") stands before it. Never raises.
    """
    if not text:
        return []
    if isinstance(reference, datetime):
        reference = reference.date()
    if reference is not None and not MIN_YEAR <= reference.year <= MAX_YEAR:
        reference = None  # nonsense (a feed item "published" in year 1): as if there were none
    if year_hint is not None and not MIN_YEAR <= year_hint <= MAX_YEAR:
        year_hint = None
    cands = find_candidates(text)
    headings = heading_years(text)
    out: list[DateMatch] = []
    prev_end = 0
    i = 0
    while i < len(cands):
        cand = cands[i]
        clock: ClockTime | None = None
        if i + 1 < len(cands):
            timed = _link_timed_range(text, cand, cands[i + 1])
            linked = timed[0] if timed else _link_split_range(text, cand, cands[i + 1])
            if linked is not None:
                cand, clock = linked, (timed[1] if timed else None)
                i += 1
        next_start = cands[i + 1].start if i + 1 < len(cands) else len(text)
        year = year_at(headings, cand.start) or year_hint
        out.extend(_build(text, cand, prev_end, next_start, reference, year, date_field, clock))
        prev_end = cand.end
        i += 1
    return out


def _link_timed_range(text: str, a: Candidate, b: Candidate) -> tuple[Candidate, ClockTime] | None:
    """One range from "A time – B time" (each date with its own time), else None.

    "05.03.2025 09:30 - 06.03.2025 16:00", "05.03.2025, 9:30 Uhr bis 06.03.2025, 16 Uhr",
    "4. November @ 9:00 - 5. November @ 16:00" (The Events Calendar's list): the
    start is A at its time, the end B at its time. The clock time spans both
    times; it is never a bare timestamp (a dateline has no end).
    """
    if a.kind != "single" or b.kind != "single":
        return None
    t1 = find_time(text, a.end, b.start, reach=TIMED_RANGE_TIME_REACH)
    if t1 is None or t1.end is not None:
        return None
    gap = WEEKDAY_PREFIX_RE.sub("", text[t1.span[1] : b.start])
    if not _TIMED_RANGE_SEP_RE.fullmatch(gap):
        return None
    limit = sentence_end(text, b.end, min(len(text), b.end + WINDOW))
    t2 = find_time(text, b.end, limit, reach=TIMED_RANGE_TIME_REACH)
    if t2 is None or t2.end is not None:
        return None
    # "Anmeldung vom 01.03.2025 09:00 bis 05.03.2025 18:00": a registration period, not an event
    if markers.REGISTRATION_RE.search(text[sentence_start(text, a.start, max(0, a.start - WINDOW)) : limit]):
        return None
    first, last = a.first, b.first
    assert first is not None and last is not None
    if first.year is None and last.year is not None:
        # "30.12. 18:00 – 02.01.2026 10:00": the first day borrows the year, over New Year one less
        before = (first.month, first.day) > (last.month, last.day)
        first = Day(first.day, first.month, last.year - before)
    elif last.year is None and first.year is not None:
        after = (last.month, last.day) < (first.month, first.day)
        last = Day(last.day, last.month, first.year + after)
    # The end must follow the start (both year-less: within the year, as in _link_split_range)
    if (last.year or 0, last.month, last.day, t2.start) <= (first.year or 0, first.month, first.day, t1.start):
        return None
    clock = ClockTime(
        start=t1.start,
        end=t2.start,
        end_next_day=False,
        span=(t1.span[0], t2.span[1]),
        adjacent_bare=False,
        odd_minutes=t1.odd_minutes or t2.odd_minutes,
    )
    return Candidate(a.start, b.end, first, last, "range"), clock


def _link_split_range(text: str, a: Candidate, b: Candidate) -> Candidate | None:
    """One range from "startet am A … bis zum B" (A's sentence has a start word, B follows "bis"), else None."""
    if a.kind != "single" or b.kind != "single" or b.start - a.end > LINK_REACH:
        return None
    lead = WEEKDAY_PREFIX_RE.sub("", text[max(a.end, b.start - 40) : b.start])
    if not _END_LINK_RE.search(lead):
        return None
    a_from = sentence_start(text, a.start, max(0, a.start - WINDOW))
    if not _START_WORD_RE.search(text[a_from : sentence_end(text, a.end, min(b.start, a.end + WINDOW))]):
        return None
    # "Die Anmeldung startet am 1. Mai und läuft bis zum 31. Mai": a registration period, not an event
    if markers.REGISTRATION_RE.search(text[a_from : sentence_end(text, b.end, min(len(text), b.end + WINDOW))]):
        return None
    first, last = a.first, b.first
    assert first is not None and last is not None
    ya = first.year if first.year is not None else last.year
    yb = last.year if last.year is not None else first.year
    if (yb, last.month, last.day) <= (ya, first.month, first.day) if ya is not None else (last.month, last.day) <= (first.month, first.day):
        return None
    if first.year is None and last.year is not None:
        first = Day(first.day, first.month, last.year)
    return Candidate(a.start, b.end, first, last, "range")


def _safe_date(y: int, m: int, d: int) -> date | None:
    if not MIN_YEAR <= y <= MAX_YEAR:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _resolve(day: Day, reference: date | None, year: int | None, weekday: int | None = None) -> tuple[date | None, bool]:
    """The day as a date, and whether its year was not written (heading/hint/reference).

    Only a year inferred from the reference follows the written ``weekday``; a
    written year or a heading's is decided (a weekday that does not fit it is warned about).
    """
    if day.year is not None:
        return _safe_date(day.year, day.month, day.day), False
    if year is not None:
        return _safe_date(year, day.month, day.day), True
    if reference is None:
        return None, False
    return infer_year(day.day, day.month, reference, weekday), True


def _days(
    cand: Candidate, reference: date | None, year: int | None, weekday: int | None = None
) -> tuple[date | None, date | None, bool]:
    """(first day, last day or None, year inferred) of a written date; first None if it is no valid date.

    ``weekday`` is the written weekday of the first day (0 = Monday), if any.
    """
    assert cand.first is not None
    first, inferred = _resolve(cand.first, reference, year, weekday)
    if first is None or cand.last is None:
        return first, None, inferred
    if cand.last.year is None and cand.first.year is None:
        # "Vom 27. September bis 4. Oktober": the last day follows the first
        last = _safe_date(first.year, cand.last.month, cand.last.day)
        if last is not None and last < first:
            last = _safe_date(first.year + 1, cand.last.month, cand.last.day)
    else:
        last, _ = _resolve(cand.last, reference, year)
    if last is None or last < first:
        return None, None, inferred
    return first, last, inferred


def _header_time(text: str, start: int, end: int) -> ClockTime | None:
    """A day header alone on its line takes the first time of the next non-empty line.

    "15.10.2024" / "Triptis, Pfarrstr. 1 …, 19 - 20.30 Uhr" (a calendar's day block).
    """
    if not markers.date_alone_on_line(text, start, end):
        return None
    m = re.compile(r"[^\n]*\n(?:[ \t]*\n)*([^\n]+)").match(text, end)
    if m is None:
        return None
    a, b = m.span(1)
    return find_time(text, a, b, reach=b - a)


def _build(
    text: str,
    cand: Candidate,
    prev_end: int,
    next_start: int,
    reference: date | None,
    year: int | None,
    date_field: bool,
    clock: ClockTime | None = None,
) -> Iterator[DateMatch]:
    """The DateMatches of one candidate (none for a non-event); ``clock`` is its time when already known."""
    if cand.kind == "relative":
        yield from _build_relative(text, cand, reference)
        return
    # Span: weekday prefix before, time after
    start = cand.start
    lead = text[max(prev_end, start - 40) : start]
    wd = WEEKDAY_PREFIX_RE.search(lead)
    if wd:
        start -= len(lead) - wd.start()
    weekday = weekday_number(wd.group("weekday")) if wd else None

    first, last, inferred = _days(cand, reference, year, weekday)
    if first is None:
        return
    warnings: tuple[str, ...] = ()
    if weekday is not None and first.weekday() != weekday:
        # Written dates win over written weekdays (a weekday is the likelier typo, and an
        # old page's weekday must not move its year); the operator hears of it
        warnings = (f"{wd.group('weekday')!r} does not fit {first:%d.%m.%Y}, a {WEEKDAY_NAMES[first.weekday()]}; kept the date",)
    elif weekday is not None and inferred and cand.first.year is None and year is None and reference is not None:
        nearest = infer_year(cand.first.day, cand.first.month, reference)
        if nearest is not None and nearest != first:
            # the weekday moved a year-less date off its nearest occurrence: a stale page, or a typo
            warnings = (f"{wd.group('weekday')!r} fits {first:%d.%m.%Y}, not {nearest:%d.%m.%Y}; took {first.year}",)
    sent_end = sentence_end(text, cand.end, min(next_start, cand.end + WINDOW))
    t = clock or find_time(text, cand.end, sent_end) or _header_time(text, start, cand.end)
    end = t.span[1] if t else cand.end

    # Non-events
    line_prefix = text[text.rfind("\n", 0, start) + 1 : start]
    declared = date_field or bool(wd) or bool(markers.EVENT_LABEL_RE.search(line_prefix))
    if markers.is_dateline(text, (start, cand.end), t, declared=declared):
        return
    sent_start = sentence_start(text, start, max(prev_end, start - WINDOW))
    before = text[max(sent_start, start - 40) : start]
    if markers.DEADLINE_RE.search(before) and cand.kind == "single":
        return
    written = text[cand.start : cand.end]
    if markers.VERSION_RE.search(text[max(0, cand.start - 12) : cand.start]) and written[-1:].isdigit():
        return
    if markers.looks_like_version(written) and not (wd or markers.INTRO_RE.search(text[max(0, cand.start - 12) : cand.start])):
        return
    after = text[end:sent_end]
    if markers.SUPERSEDED_BEFORE_RE.search(before) or markers.SUPERSEDED_AFTER_RE.search(after):
        return
    if inferred and markers.RECURRENCE_RE.search(before):
        return

    cancelled = bool(markers.CANCEL_RE.search(after) or markers.CANCEL_BEFORE_RE.search(before))
    postponed = bool(
        markers.POSTPONE_RE.search(after)
        or markers.POSTPONE_RE.search(before[-25:])
        or markers.NEW_DATE_CONTEXT_RE.search(text[sent_start:start] + " " + after)
    )

    def make(s: date | datetime, e: date | datetime | None, a: int, b: int) -> DateMatch:
        return DateMatch(s, e, text[a:b], (a, b), inferred, cancelled, postponed, warnings=warnings)

    if cand.kind == "pair":
        # "am 3. und 10. Juni": two separate days, each all-day or with the shared time
        mid = re.search(r"\s+und\s+(?:dem\s+)?", text[cand.start : cand.end])
        assert mid is not None and last is not None
        for day, a, b in ((first, start, cand.start + mid.start()), (last, cand.start + mid.end(), end)):
            s, e = _apply_time(day, None, t)
            yield make(s, e, a, b)
        return
    s, e = _apply_time(first, last, t)
    yield make(s, e, start, end)


def _build_relative(text: str, cand: Candidate, reference: date | None) -> Iterator[DateMatch]:
    """ "morgen ab 9 Uhr" → the day after ``reference`` at 9:00; nothing without a reference or a time."""
    if reference is None:
        return
    t = find_time(text, cand.end, min(len(text), cand.end + 60), reach=RELATIVE_TIME_REACH)
    if t is None:
        return
    day = reference + timedelta(days=cand.offset)
    s, e = _apply_time(day, None, t)
    after = text[t.span[1] : sentence_end(text, t.span[1], min(len(text), t.span[1] + WINDOW))]
    cancelled = bool(markers.CANCEL_RE.search(after))
    postponed = bool(markers.POSTPONE_RE.search(after))
    yield DateMatch(s, e, text[cand.start : t.span[1]], (cand.start, t.span[1]), False, cancelled, postponed, relative=True)


def _apply_time(first: date, last: date | None, t: ClockTime | None) -> tuple[date | datetime, date | datetime | None]:
    """Start and end of a day or days with an optional time (all-day ranges get an exclusive end day)."""
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

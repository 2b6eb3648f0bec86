"""The result type of ``find_dates``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class DateMatch:
    """One event date found in a text.

    ``start``/``end`` are naive (local time of the source). A day without a
    time is a ``date``; a multi-day range of days has an exclusive ``end``
    (the day after the last day, as in iCalendar); a single day has
    ``end=None``. With a time both are ``datetime`` (``end`` None when only a
    start time is given). ``text`` is ``text[span[0]:span[1]]`` of the input:
    the date with its weekday prefix and its time.

    Flags: ``year_inferred`` – the year was not written next to the date (it
    came from a heading in the text, ``year_hint`` or the reference date);
    ``cancelled`` / ``postponed`` – a status word next to it ("findet nicht
    statt", "verschoben", or the new date of a "statt am …"-sentence);
    ``relative`` – the day was given relative to the reference ("morgen").

    ``warnings``: doubts worth telling the operator, the date kept all the same
    (a written weekday that does not fit the date).
    """

    start: date | datetime
    end: date | datetime | None
    text: str
    span: tuple[int, int]
    year_inferred: bool = False
    cancelled: bool = False
    postponed: bool = False
    relative: bool = False
    warnings: tuple[str, ...] = ()

"""Find event dates in German text: "14.10.2025 | 18:00", "am 3. und 4. Juni 2014", …

``find_dates(text, reference=..., year_hint=...)`` returns every event-like date
of a text in order of appearance as ``DateMatch``es. It is rule based, not a
general NLP parser: each shape of networks.md §2 is one pattern here and one
row in tests/test_german_dates.py.

How a match is built (modules in reading order):

1. ``shapes`` – *date candidates*: ranges ("16.–25.09.2020", "3. und 4. Juni"),
   numeric and long single dates, English dates of bilingual sites ("17th
   November 2020"), relative days ("morgen"). Overlaps are resolved
   leftmost-longest.
2. ``finder`` – a weekday prefix ("Mi, ", "am Donnerstag, den ") joins the
   match; a range split over sentences ("startet am 16. September … bis zum
   25. September") becomes one range, and so do two dates each with its time
   ("05.03.2025 09:30 - 06.03.2025 16:00", "4. November @ 9:00 - 5. November @ 16:00").
3. ``times`` – the text after the date, up to the next date or the end of the
   sentence, gives a time or time range ("um 16.30 Uhr", "von 9:00 bis 17:30
   Uhr", "| 18:00"); a day header alone on its line takes the time of the next
   line.
4. ``markers`` – status words ("findet nicht statt", "verschoben", the new date
   of "… nicht wie geplant am 2. April") and non-events: datelines and
   timestamps (``is_dateline``; "05.03.2025 18:00" is an event's start only
   after a weekday or a label like "Termin:", or with ``date_field``),
   deadlines, superseded dates, year-less recurrences, version numbers.
5. ``years`` – the year of a year-less date: a heading line in the text, then
   ``year_hint``, then the ``reference`` date (where a written weekday picks the
   occurrence within a year that falls on it); else the date is dropped. A
   weekday that does not fit the date is a warning (``DateMatch.warnings``).

Results are naive (local time of the source).
"""

from .finder import find_dates
from .markers import CANCEL_TITLE_RE, POSTPONE_TITLE_RE, is_dateline
from .match import DateMatch
from .years import PAST_TOLERANCE, year_from_heading

__all__ = ["CANCEL_TITLE_RE", "POSTPONE_TITLE_RE", "DateMatch", "find_dates", "is_dateline", "year_from_heading", "PAST_TOLERANCE"]

"""A series that vanished: what is history, what is cancelled (aggregator.vanished)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from aggregator.model import Event
from aggregator.recurrence import occurrences
from aggregator.vanished import Fate, ended_series, fate

BERLIN = ZoneInfo("Europe/Berlin")
YEAR = timedelta(days=365)
VANISHED = datetime(2025, 9, 1, 6, tzinfo=timezone.utc)


def series(start, end, **kw) -> Event:
    return Event("s", "n", "uid", "Stammtisch", start, end, "Europe/Berlin" if isinstance(start, datetime) else "", **kw)


def dates(events: list[Event]) -> list[tuple[str, str]]:
    master, overrides = events[0], events[1:]
    found = occurrences(master, overrides, datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc), zone=BERLIN)
    return [(str(o.start)[:10], o.event.status) for o in found]


def test_a_series_is_history_cancelled_or_ended_by_its_occurrences_around_the_vanishing():
    monthly = dict(rrule="FREQ=MONTHLY;COUNT=3")
    assert fate(series(datetime(2025, 1, 29, 18, tzinfo=BERLIN), None, **monthly), [], VANISHED, YEAR, limit=100, zone=BERLIN) is Fate.HISTORY
    assert fate(series(datetime(2025, 10, 1, 18, tzinfo=BERLIN), None, **monthly), [], VANISHED, YEAR, limit=100, zone=BERLIN) is Fate.CANCELLED
    assert fate(series(datetime(2025, 8, 1, 18, tzinfo=BERLIN), None, **monthly), [], VANISHED, YEAR, limit=100, zone=BERLIN) is Fate.ENDED


def test_an_ended_all_day_series_keeps_its_past_days_and_cancels_the_rest_in_the_grace_period():
    master = series(date(2025, 7, 15), date(2025, 7, 16), rrule="FREQ=MONTHLY")
    in_grace = ended_series(master, [], VANISHED, timedelta(days=100), in_grace=True, limit=100, zone=BERLIN)
    assert dates(in_grace) == [("2025-07-15", "confirmed"), ("2025-08-15", "confirmed"), ("2025-09-15", "cancelled"),
                               ("2025-10-15", "cancelled"), ("2025-11-15", "cancelled")]
    after = ended_series(master, [], VANISHED, timedelta(days=100), in_grace=False, limit=100, zone=BERLIN)
    assert dates(after) == [("2025-07-15", "confirmed"), ("2025-08-15", "confirmed")]


def test_a_rule_that_ends_earlier_by_count_is_not_stretched_by_the_bound():
    """An RDATE after the vanishing makes the series ended, but its COUNT ends before that."""
    master = series(datetime(2025, 6, 4, 18, tzinfo=BERLIN), None, rrule="FREQ=WEEKLY;COUNT=2",
                    rdates=(datetime(2025, 9, 10, 18, tzinfo=BERLIN),))
    after = ended_series(master, [], VANISHED, YEAR, in_grace=False, limit=100, zone=BERLIN)
    assert after[0].rrule == "FREQ=WEEKLY;COUNT=2" and after[0].rdates == ()
    assert dates(after) == [("2025-06-04", "confirmed"), ("2025-06-11", "confirmed")]

"""aggregator.recurrence: series → occurrences in a window.

Unit tests first (one behaviour each), then the corpus: every calendar of
../shared/corpus/ics through our pipeline (extract → normalize → expand),
counted against ical.js (via ../shared/tools/ics-check) or, where the peer
project states a count (corpus/expectations.md §2), against that count.
"""

from __future__ import annotations

import dataclasses

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import icalendar
import pytest

from aggregator.config import Network
from aggregator.extract import ExtractContext, ExtractError
from aggregator.extract.ics import extract
from aggregator.model import Event, StoredEvent
from aggregator.normalize import NormalizeError, normalize
from aggregator.recurrence import DEFAULT_LIMIT, Occurrence, expand, occurrences, over_limit
from exporters.ics import render_calendar
from tests.support.shared import CORPUS, ICS_CHECK, corpus_files, ics_check, require

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def event(start, end=None, **kw) -> Event:
    tzid = "" if not isinstance(start, datetime) else getattr(start.tzinfo, "key", "UTC")
    base = dict(source_id="s", network_id="n", source_uid="uid-1", title="Stammtisch", start=start, end=end, tzid=tzid)
    base.update(kw)
    return Event(**base)


def starts(result) -> list:
    return [o.start for o in result]


# ---------------------------------------------------------------- unit tests


def test_weekly_series_across_the_dst_switch_keeps_1900_local_time():
    master = event(berlin(2025, 3, 19, 19), berlin(2025, 3, 19, 21), rrule="FREQ=WEEKLY;COUNT=3")
    result = occurrences(master, [], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert starts(result) == [berlin(2025, 3, 19, 19), berlin(2025, 3, 26, 19), berlin(2025, 4, 2, 19)]
    assert [o.start.utcoffset() for o in result] == [timedelta(hours=1), timedelta(hours=1), timedelta(hours=2)]
    assert all(o.end - o.start == timedelta(hours=2) for o in result)
    assert [o.recurrence_id for o in result] == [
        "2025-03-19T19:00:00+01:00", "2025-03-26T19:00:00+01:00", "2025-04-02T19:00:00+02:00"]
    assert all(o.event is master for o in result) and result.warnings == []


def test_exdate_removes_an_occurrence():
    master = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20), rrule="FREQ=WEEKLY;COUNT=4",
                   exdates=(berlin(2025, 5, 12, 18),))
    result = occurrences(master, [], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert starts(result) == [berlin(2025, 5, 5, 18), berlin(2025, 5, 19, 18), berlin(2025, 5, 26, 18)]


def test_rdate_adds_an_occurrence_and_is_the_only_recurrence_needed():
    master = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20), rdates=(berlin(2025, 6, 2, 17),))
    result = occurrences(master, [], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert starts(result) == [berlin(2025, 5, 5, 18), berlin(2025, 6, 2, 17)]
    assert result[1].end == berlin(2025, 6, 2, 19)  # the master's duration


def test_an_override_moves_one_occurrence_and_changes_its_title():
    master = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20), rrule="FREQ=WEEKLY;COUNT=3")
    moved = event(berlin(2025, 5, 13, 9), berlin(2025, 5, 13, 12), title="Stammtisch (Sonderausgabe)",
                  recurrence_id="2025-05-12T18:00:00+02:00")
    result = occurrences(master, [moved], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert starts(result) == [berlin(2025, 5, 5, 18), berlin(2025, 5, 13, 9), berlin(2025, 5, 19, 18)]
    assert result[1].event is moved and result[1].event.title == "Stammtisch (Sonderausgabe)"
    assert result[1].end == berlin(2025, 5, 13, 12)
    assert result[1].recurrence_id == "2025-05-12T18:00:00+02:00"
    assert result[0].event is master and result[2].event is master


def test_an_override_in_another_zone_still_replaces_its_occurrence():
    master = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20), rrule="FREQ=WEEKLY;COUNT=2")
    moved = event(datetime(2025, 5, 12, 17, tzinfo=UTC), datetime(2025, 5, 12, 18, tzinfo=UTC),
                  recurrence_id="2025-05-12T16:00:00+00:00", title="früher")
    result = occurrences(master, [moved], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert [o.event.title for o in result] == ["Stammtisch", "früher"]


def test_a_cancelled_override_is_returned_cancelled():
    master = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20), rrule="FREQ=WEEKLY;COUNT=3")
    cancelled = event(berlin(2025, 5, 12, 18), berlin(2025, 5, 12, 20), status="cancelled",
                      recurrence_id="2025-05-12T18:00:00+02:00")
    result = occurrences(master, [cancelled], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert len(result) == 3
    assert [o.cancelled for o in result] == [False, True, False]
    assert result[1].event.status == "cancelled"


def test_all_day_series_keeps_dates():
    master = event(date(2025, 12, 24), date(2025, 12, 27), rrule="FREQ=YEARLY;COUNT=3")
    result = occurrences(master, [], berlin(2025, 1, 1), berlin(2030, 1, 1))
    assert starts(result) == [date(2025, 12, 24), date(2026, 12, 24), date(2027, 12, 24)]
    assert [o.end for o in result] == [date(2025, 12, 27), date(2026, 12, 27), date(2027, 12, 27)]
    assert all(o.all_day for o in result)
    assert [o.recurrence_id for o in result] == ["2025-12-24", "2026-12-24", "2027-12-24"]


def test_all_day_override_with_a_date_recurrence_id():
    master = event(date(2025, 1, 6), date(2025, 1, 7), rrule="FREQ=WEEKLY;COUNT=3")
    moved = event(date(2025, 1, 14), date(2025, 1, 15), recurrence_id="2025-01-13", title="Dienstag")
    result = occurrences(master, [moved], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert starts(result) == [date(2025, 1, 6), date(2025, 1, 14), date(2025, 1, 20)]


def test_all_day_occurrences_are_berlin_days():
    master = event(date(2025, 6, 2), date(2025, 6, 3))
    # 2025-06-01 22:00 UTC is midnight in Berlin: the day starts there
    assert len(occurrences(master, [], datetime(2025, 6, 1, 21, 59, tzinfo=UTC), datetime(2025, 6, 1, 22, 0, 1, tzinfo=UTC))) == 1
    assert len(occurrences(master, [], datetime(2025, 6, 1, 21, 0, tzinfo=UTC), datetime(2025, 6, 1, 22, 0, tzinfo=UTC))) == 0


def test_window_is_half_open_and_counts_overlap_not_start():
    master = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20), rrule="FREQ=DAILY;COUNT=3")
    # starts at the window's end: out
    assert starts(occurrences(master, [], berlin(2025, 5, 1), berlin(2025, 5, 5, 18))) == []
    # ends at the window's start: out
    assert starts(occurrences(master, [], berlin(2025, 5, 5, 20), berlin(2025, 5, 6, 18))) == []
    # began before the window but still runs: in
    assert starts(occurrences(master, [], berlin(2025, 5, 6, 19), berlin(2025, 5, 6, 19, 30))) == [berlin(2025, 5, 6, 18)]
    # an empty window holds nothing
    assert starts(occurrences(master, [], berlin(2025, 5, 6, 19), berlin(2025, 5, 6, 19))) == []


def test_a_moment_counts_where_it_starts():
    moment = event(berlin(2025, 5, 5, 8), None)
    assert len(occurrences(moment, [], berlin(2025, 5, 5, 8), berlin(2025, 5, 5, 9))) == 1
    assert len(occurrences(moment, [], berlin(2025, 5, 5, 7), berlin(2025, 5, 5, 8))) == 0
    [occ] = occurrences(moment, [], berlin(2025, 5, 5), berlin(2025, 5, 6))
    assert occ.end == occ.start and occ.event.end is None


def test_plain_event_yields_itself_when_it_overlaps():
    plain = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20))
    [occ] = occurrences(plain, [], berlin(2025, 5, 5), berlin(2025, 5, 6))
    assert occ == Occurrence(plain.start, plain.end, plain, "")
    assert occurrences(plain, [], berlin(2025, 5, 6), berlin(2025, 5, 7)) == []


def test_count_and_until():
    counted = event(berlin(2025, 1, 1, 10), berlin(2025, 1, 1, 11), rrule="FREQ=MONTHLY;COUNT=5")
    assert len(occurrences(counted, [], berlin(2020, 1, 1), berlin(2030, 1, 1))) == 5
    until = event(berlin(2025, 1, 1, 10), berlin(2025, 1, 1, 11), rrule="FREQ=MONTHLY;UNTIL=20250401T090000Z")
    assert starts(occurrences(until, [], berlin(2020, 1, 1), berlin(2030, 1, 1)))[-1] == berlin(2025, 4, 1, 10)
    # a date UNTIL on a timed series includes that day
    day_until = event(berlin(2025, 1, 1, 10), berlin(2025, 1, 1, 11), rrule="FREQ=MONTHLY;UNTIL=20250401")
    assert len(occurrences(day_until, [], berlin(2020, 1, 1), berlin(2030, 1, 1))) == 4


def test_endless_series_is_bounded_by_the_window():
    master = event(berlin(2020, 1, 6, 18), berlin(2020, 1, 6, 19), rrule="FREQ=WEEKLY")
    result = occurrences(master, [], berlin(2025, 1, 1), berlin(2025, 2, 1))
    assert len(result) == 4 and result.warnings == []


def test_limit_caps_the_count_with_a_warning():
    master = event(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC), rrule="FREQ=SECONDLY")
    result = occurrences(master, [], datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), limit=500)
    assert len(result) == 500
    assert result[0].start == datetime(2025, 1, 1, tzinfo=UTC)  # the first ones, in order
    assert result[-1].start == datetime(2025, 1, 1, 0, 8, 19, tzinfo=UTC)
    assert len(result.warnings) == 1 and "more than 500" in result.warnings[0]


def test_the_default_limit_stops_a_dense_rule_quickly():
    master = event(datetime(2025, 1, 1, tzinfo=UTC), None, rrule="FREQ=MINUTELY")
    result = occurrences(master, [], datetime(2025, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC))
    assert len(result) == DEFAULT_LIMIT and result.warnings and result.capped


@pytest.mark.parametrize(
    "rule",
    ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "FREQ=MINUTELY;COUNT=900", "FREQ=MONTHLY;BYDAY=1MO"],
)
def test_over_limit_passes_ordinary_series_without_a_warning(rule):
    master = event(berlin(2025, 1, 6, 18), berlin(2025, 1, 6, 19), rrule=rule)
    found = over_limit(master, [], berlin(2025, 1, 1), berlin(2026, 1, 1), limit=1000)
    assert not found.capped and found.warnings == []


@pytest.mark.parametrize("rule", ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "FREQ=MINUTELY;COUNT=900"])
def test_over_limit_judges_simple_rules_by_arithmetic_without_expanding(rule, monkeypatch):
    import aggregator.recurrence as recurrence

    monkeypatch.setattr(recurrence, "occurrences", lambda *a, **k: pytest.fail("expanded"))
    master = event(berlin(2025, 1, 6, 18), None, rrule=rule)
    assert not over_limit(master, [], berlin(2025, 1, 1), berlin(2026, 1, 1), limit=1000).capped


@pytest.mark.parametrize("rule", ["FREQ=HOURLY", "FREQ=DAILY;BYHOUR=8,9,10,11", "FREQ=SECONDLY", "FREQ=MINUTELY;COUNT=100000000"])
def test_over_limit_names_dense_series(rule):
    master = event(berlin(2025, 1, 6, 18), None, rrule=rule)
    found = over_limit(master, [], berlin(2025, 1, 1), berlin(2026, 1, 1), limit=1000)
    assert found.capped and "more than 1000" in found.warnings[0]


def test_a_rule_too_dense_to_walk_to_the_window_is_not_expanded_with_a_warning():
    master = event(datetime(1970, 1, 1, tzinfo=UTC), None, rrule="FREQ=SECONDLY")
    # dateutil would walk 1.7 billion seconds before reaching 2025
    result = occurrences(master, [], datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert starts(result) == []  # the first occurrence (1970) is outside
    assert "too dense" in result.warnings[0]
    # from its start it is only a matter of the limit
    result = occurrences(master, [], datetime(1969, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), limit=3)
    assert len(result) == 3 and "more than 3" in result.warnings[0]


@pytest.mark.parametrize("rule", ["FREQ=FORTNIGHTLY", "BYDAY=MO", "FREQ=WEEKLY;BYDAY=XX", "FREQ=DAILY;UNTIL=gestern", "Quatsch"])
def test_a_broken_rrule_yields_one_occurrence_and_a_warning(rule):
    master = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20), rrule=rule)
    result = occurrences(master, [], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert starts(result) == [berlin(2025, 5, 5, 18)]
    assert result[0].event is master
    assert len(result.warnings) == 1 and "s/uid-1" in result.warnings[0]


def test_a_naive_window_is_a_programming_error():
    with pytest.raises(ValueError):
        occurrences(event(berlin(2025, 5, 5, 18)), [], datetime(2025, 1, 1), berlin(2026, 1, 1))


def test_expand_groups_series_and_keeps_orphans_as_plain_events():
    master = event(berlin(2025, 5, 5, 18), berlin(2025, 5, 5, 20), rrule="FREQ=WEEKLY;COUNT=3")
    moved = event(berlin(2025, 5, 13, 9), berlin(2025, 5, 13, 10), recurrence_id="2025-05-12T18:00:00+02:00")
    other_source = event(berlin(2025, 5, 12, 18), berlin(2025, 5, 12, 20), source_id="t",
                         recurrence_id="2025-05-12T18:00:00+02:00", title="Waise")
    plain = event(berlin(2025, 5, 6, 9), berlin(2025, 5, 6, 10), source_uid="uid-2", title="Einzeltermin")
    bad = event(berlin(2025, 5, 7, 9), None, source_uid="uid-3", rrule="FREQ=NEVER")
    result = expand([other_source, plain, moved, master, bad], berlin(2025, 1, 1), berlin(2026, 1, 1))
    assert [(o.start, o.event.title) for o in result] == [
        (berlin(2025, 5, 5, 18), "Stammtisch"),
        (berlin(2025, 5, 6, 9), "Einzeltermin"),
        (berlin(2025, 5, 7, 9), "Stammtisch"),
        (berlin(2025, 5, 12, 18), "Waise"),
        (berlin(2025, 5, 13, 9), "Stammtisch"),
        (berlin(2025, 5, 19, 18), "Stammtisch"),
    ]
    assert result[3].event is other_source and result[3].recurrence_id == "2025-05-12T18:00:00+02:00"
    assert result[4].event is moved
    assert len(result.warnings) == 1 and "s/uid-3" in result.warnings[0]


# ---------------------------------------------------------------- the corpus

CTX = ExtractContext(url="", timezone=BERLIN, now=datetime(2025, 9, 1, tzinfo=UTC))


@cache
def pipeline(name: str) -> tuple[Event, ...]:
    """Our pipeline on one corpus file: extract, then normalize each raw event."""
    path = CORPUS / "ics" / name
    try:
        extraction = extract(path.read_bytes(), CTX)
    except ExtractError:
        return ()
    events = []
    for raw in extraction.events:
        try:
            events.append(normalize(raw, source_id="corpus", network_id="n", zone=BERLIN, base_url=""))
        except NormalizeError:
            pass
    return tuple(events)


def window_years(events) -> tuple[int, int]:
    """The comparison window of a file: from the first year an event (or an RDATE) starts to two years after the last.

    Nothing starts before the window, so counting by overlap (ours) and by
    start (ical.js) cannot differ at its beginning; endless series are cut
    at its end. Files without events get a wide window.
    """
    if not events:
        return 1900, 2100
    years = [d.year for e in events for d in (e.start, *e.rdates)]
    return min(years), max(years) + 2


def corpus_occurrences(name: str, start: datetime, end: datetime):
    return expand(pipeline(name), start, end)


def in_window(name: str, y0: int, y1: int):
    return corpus_occurrences(name, berlin(y0, 1, 1), berlin(y1, 1, 1))


class Known(NamedTuple):
    ours: int  # our count in the file's window (pinned: a change shows up here)
    other: int  # what the oracle says (ical.js, or the peer's count where expectations.md gives one)
    why: str


# Files where our count differs from the oracle for a reason we accept. Each
# entry pins both numbers, so a stale entry (the difference went away or
# changed) fails the test. Reasons checked by reading the file and both
# clients' occurrence lists.
KNOWN_DIFFERENCES: dict[str, Known] = {
    # --- DTSTART not on its own rule: RFC 5545 counts DTSTART as the first
    # instance, recurring-ical-events adds it, ical.js leaves it out
    "calagator__ical_google.ics": Known(698, 697, "Dorkbot PDX: DTSTART Wed 2008-01-16, RRULE BYDAY=TH; recurring-ical-events: 698 like us"),
    "ical4j__friday13-NOT.ics": Known(70, 69, "DTSTART Tue 1997-09-02, RRULE BYDAY=FR; recurring-ical-events: 70 like us"),
    "ical4j__korganizer_sample.ics": Known(26, 24, "both series start off their BYDAY=2TH / 1SA (COUNT=12 each, +DTSTART); recurring-ical-events: 26 like us"),
    # --- ical.js reads a TZID without VTIMEZONE as floating time, so UTC
    # EXDATEs miss its occurrences; we resolve the IANA zone and they match
    "ical4j__EXDATE-IN-UTC.ics": Known(85, 87, "America/Chicago without VTIMEZONE; 2 UTC EXDATEs apply (recurring-ical-events: 85 like us)"),
    "khal__event_invalid_exdate.ics": Known(3, 4, "America/New_York without VTIMEZONE; EXDATE 20111126T205000Z = 15:50 EST removes 11-26 (recurring-ical-events: 3 like us)"),
    # --- RECURRENCE-ID components: ics-check counts only masters at their
    # original times; we keep overrides that match no occurrence (as the
    # library does) and instances without master (as single events)
    "khal__cal_lots_of_timezones.ics": Known(12, 11, "override RECURRENCE-ID 2014-07-07 07:00 matches no occurrence: kept (recurring-ical-events: 12 like us)"),
    "recurring-ical-events__issue_173_only_modifications_error.ics": Known(1054, 1046, "8 instances without master kept as single events (the peer expects one of them on 2024-01-08; recurring-ical-events: 1054 like us)"),
    "icalendar__issue_156_RDATE_with_PERIOD_TZID_khal.ics": Known(19, 0, "the file's only VEVENT is a RECURRENCE-ID;RANGE=THISANDFUTURE instance "
                                                                  "without master whose RDATE lists 19 weekly 1-hour periods 03-27…07-31 "
                                                                  "(Exchange's way of stating the remaining dates): RFC 5545 puts RDATEs in the "
                                                                  "recurrence set, so 19; ics-check's ical.js counts no RECURRENCE-ID component "
                                                                  "(0), recurring-ical-events expands no RDATE of an instance (1)"),
    # --- ical.js's iterator over several RRULEs drops a date
    "icaljs__multiple_rrules.ics": Known(36, 35, "Mondays from 03-26 and every Sunday, both UNTIL=20120730T065959Z "
                                         "(Sun 07-29 23:59:59 PDT): 18 + 18; ical.js lists the Sundays 04-01…07-22 and "
                                         "misses Sun 07-29 11:00 PDT; recurring-ical-events gives 36, and so does ical.js "
                                         "on our published form (the second rule as a series of its own)"),
    # --- what our extractor does on purpose (see aggregator/extract/ics.py)
    "recurring-ical-events__bad_rrule_missing_until_event.ics": Known(1, 75, "RRULE:FREQ=WEEKLY;UNTL=20191023;…: UNTL is no "
                                                                    "recur-rule-part of RFC 5545 §3.3.10, so the rule is invalid; the "
                                                                    "author meant an end in 2019-10, ical.js ignores the part and invents "
                                                                    "an endless series (75 in the window), recurring-ical-events raises "
                                                                    "or skips the series (0) and loses the date DTSTART does state: we "
                                                                    "keep DTSTART alone and warn"),
    "recurring-ical-events__issue_163_deleted_modification.ics": Known(24, 49, "two masters share UID 111 (SEQUENCE 1 and 2, the same "
                                                                     "3-weekly rule from 2024-07-29; SEQUENCE 2 adds EXDATE 08-19): "
                                                                     "RFC 5546 §2.1.5 makes the higher SEQUENCE the current version, "
                                                                     "so 25 dates - 08-19 = 24, as recurring-ical-events counts (and "
                                                                     "its test: none on 08-19); ical.js counts both masters (25 + 24)"),
    "recurring-ical-events__issue_75_range_parameter.ics": Known(194, 193, "UNTIL=20250920 (a DATE) on a timed series: RFC 5545 §3.3.10 "
                                                                  "bounds 'in an inclusive manner', so the date 2025-09-20 12:00 "
                                                                  "(moved to 09-21 14:22 by THISANDFUTURE) is inside; ical.js and "
                                                                  "recurring-ical-events (193) both read the DATE as 00:00 and drop it"),
    "icalendar__broken_ical.ics": Known(0, 1, "DTSTART;;VALUE=DATE-TIME:…: an empty parameter breaks RFC 5545's "
                                                      "contentline grammar (§3.1: param = param-name \"=\" param-value), "
                                                      "so the event has no valid DTSTART and is skipped with a warning; "
                                                      "icalendar's own test expects exactly this error, recurring-ical-events "
                                                      "fails on the file, ical.js guesses past the broken parameter"),
    # --- ical.js's own behaviour
    "recurring-ical-events__issue_113_period_in_rdate.ics": Known(9, 8, "ical.js ends COUNT=9 one early (lets RDATE/EXDATE use up COUNT); RFC and library: 9 - 1 EXDATE + 1 RDATE"),
    "icalendar__issue_722_missing_timezones.ics": Known(2, 1, "DTSTART 2014-08-29 08:00 New York + RDATE PERIOD 2024-09-13 12:00 Berlin/PT2H: "
                                                        "RFC 5545 counts DTSTART as the first instance; ical.js's iterator yields the RDATE "
                                                        "only (listed: 2024-09-13T06:00 New York; the same on our published form); "
                                                        "recurring-ical-events cannot read the file (KeyError on a VEVENT without DTSTART)"),
    # --- peer counts (expectations.md §2) we do not reach
    "recurring-ical-events__issue_97_simple_todo.ics": Known(0, 7, "the file has VTODOs only, which the peer counts on request "
                                                           "(its test includes VTODO); a to-do is no event for a calendar of "
                                                           "meetings, and ical.js counts 0 like us"),
}
# ical.js does not finish on this file (DURATION:P999999999999999999W; node
# still busy after minutes), so it is not sent to ics-check at all.
ICALJS_HANGS = {"icalendar__invalid_duration.ics"}

# expectations.md §2: the peer's count of all occurrences of a file, which
# takes the place of ical.js's count (all fall inside the file's window).
PEER_COUNTS = {
    "recurring-ical-events__each_week_but_one_deleted.ics": 7,
    "recurring-ical-events__issue_20_exdate_ignored.ics": 7,
    "recurring-ical-events__issue_148_ignored_exdate.ics": 2,
    "recurring-ical-events__issue_117_until_before_dtstart.ics": 0,
    "recurring-ical-events__issue_128_only_first_event.ics": 7,
    "recurring-ical-events__issue_97_simple_todo.ics": 7,
    "x-wr-timezone__rdate-hackerpublicradio.in.ics": 12,
    "icaljs__google_birthday.ics": 3,
    "recurring-ical-events__multiple_rrule.ics": 22,
}


def icaljs_rejects(result: dict) -> bool:
    """ical.js threw (or saw no VCALENDAR): its count is not a statement about the file."""
    js = result["icaljs"]
    return not js["parsed"] or any(e.startswith(("ical.js:", "top-level component is")) for e in js["errors"])


def _ics_check_window(files: list[Path], y0: int, y1: int) -> list[dict]:
    tool = require(ICS_CHECK, "ics-check")
    env = dict(os.environ, ICS_CHECK_FROM=f"{y0:04d}-01-01", ICS_CHECK_TO=f"{y1:04d}-01-01")
    # the tool runs `python3` once per file: our interpreter starts faster than a shim
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run([str(tool), *map(str, files)], capture_output=True, text=True, timeout=600, env=env)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(results) != len(files):
        raise AssertionError(f"ics-check gave no verdict (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return results


def _tool_version() -> str:
    """Changes when ics-check or its checkers change: cached verdicts then expire."""
    digest = hashlib.sha256()
    for path in sorted([ICS_CHECK, *(ICS_CHECK.parent / "ics-check.d").glob("*")]):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def corpus(request) -> dict[str, tuple[tuple[int, int], int, dict | None]]:
    """name → (window years, our count, ics-check result or None).

    ics-check starts node (and python) per file, about 0.3 s each; its
    verdicts are kept in pytest's cache, keyed by the file's content, the
    window and the tool's version, so only a changed file is checked again.
    """
    require(ICS_CHECK, "ics-check")
    files = [p for p in corpus_files("ics") if p.suffix == ".ics"]
    if not files:
        require(CORPUS / "ics", "the ICS corpus")
    cache_key = "netzwerktimer/recurrence-ics-check"
    store = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    cached: dict[str, dict] = store.get(cache_key, {}) if store is not None else {}
    version = _tool_version()
    ours: dict[str, tuple[tuple[int, int], int]] = {}
    keys: dict[str, str] = {}
    batches: dict[tuple[int, int], list[Path]] = {}
    for path in files:
        years = window_years(pipeline(path.name))
        ours[path.name] = (years, len(in_window(path.name, *years)))  # must not crash
        if path.name in ICALJS_HANGS:
            continue
        keys[path.name] = f"{hashlib.sha256(path.read_bytes()).hexdigest()}:{years[0]}:{years[1]}:{version}"
        if keys[path.name] not in cached:
            batches.setdefault(years, []).append(path)
    # batches of at most 12 files, 4 at a time
    jobs = [(years, chunk[i:i + 12]) for years, chunk in batches.items() for i in range(0, len(chunk), 12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for results in pool.map(lambda job: _ics_check_window(job[1], *job[0]), jobs):
            for r in results:
                cached[keys[Path(r["file"]).name]] = r
    if store is not None:
        store.set(cache_key, {k: cached[k] for k in keys.values() if k in cached})
    return {name: (years, count, cached.get(keys.get(name, ""))) for name, (years, count) in ours.items()}


@pytest.mark.shared
def test_corpus_counts_match_icaljs_or_the_peer(corpus):
    compared = rejected = occurrences_compared = 0
    problems = []
    for name, (years, ours, result) in sorted(corpus.items()):
        oracle = PEER_COUNTS.get(name)
        if oracle is None and result is not None:
            if icaljs_rejects(result):
                rejected += 1
                continue
            oracle = result["icaljs"]["occurrences"]
        known = KNOWN_DIFFERENCES.get(name)
        if known is not None:
            if (ours, oracle) != (known.ours, known.other):
                problems.append(f"{name}: known difference changed: ours {ours}, oracle {oracle}, pinned {known[:2]}")
            continue
        if oracle is None:
            continue
        compared += 1
        occurrences_compared += ours
        if ours != oracle:
            problems.append(f"{name} {years}: ours {ours}, {'peer' if name in PEER_COUNTS else 'ical.js'} {oracle}")
    assert not problems, "\n".join(problems)
    unused = set(KNOWN_DIFFERENCES) - set(corpus)
    assert not unused, f"KNOWN_DIFFERENCES names files not in the corpus: {unused}"
    # enough left to mean something: of 197 files ical.js rejects 56 (it threw or
    # found no VCALENDAR), 16 differ for the reasons above (19 before the fixes of 2026-11), 121 files with 4665
    # occurrences agree (2025-11)
    assert compared >= 110 and occurrences_compared >= 4000, (compared, occurrences_compared, rejected)


@pytest.mark.shared
def test_invalid_duration_expands_without_ical_js(corpus):
    assert corpus["icalendar__invalid_duration.ics"][1] == 1


@pytest.mark.shared
def test_merged_export_of_the_whole_corpus_passes_ics_check(tmp_path, monkeypatch):
    files = [p for p in corpus_files("ics") if p.suffix == ".ics"]
    if not files:
        require(CORPUS / "ics", "the ICS corpus")
    stamp = datetime(2025, 9, 1, tzinfo=UTC)
    stored = [
        StoredEvent(event=dataclasses.replace(ev, source_id=path.stem), first_seen=stamp, last_modified=stamp, sequence=0)
        for path in files
        for ev in pipeline(path.name)
    ]
    assert len(stored) > 1000
    body = render_calendar(stored, networks={"n": Network(name="Korpus")}, name="Korpus", refresh=timedelta(hours=6))
    out = tmp_path / "corpus-merged.ics"
    out.write_bytes(body)
    # counting the first 1000 of each of ~2000 series costs ical.js 20 s; a
    # window keeps the count (not the checks) short
    monkeypatch.setenv("ICS_CHECK_FROM", "2024-01-01")
    monkeypatch.setenv("ICS_CHECK_TO", "2027-01-01")
    [result] = ics_check(out)
    assert result["icaljs"]["errors"] == [] and result["libical"]["n_errors"] == 0, json.dumps(result)[:3000]
    assert result["ok"]


def _published(events) -> icalendar.Calendar:
    stamp = datetime(2025, 9, 1, tzinfo=UTC)
    stored = [StoredEvent(event=ev, first_seen=stamp, last_modified=stamp, sequence=0) for ev in events]
    body = render_calendar(stored, networks={"n": Network(name="Korpus")}, name="Korpus", refresh=timedelta(hours=6))
    return icalendar.Calendar.from_ical(body)


@pytest.mark.shared
def test_mergecal_one_event_is_published_with_exactly_its_berlin_vtimezone():
    cal = _published(corpus_ready("python-mergecal__one_event.ics"))
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert [str(e["SUMMARY"]) for e in cal.walk("VEVENT")] == ["Event 1"]


@pytest.mark.shared
def test_mergecal_four_week_pair_merges_into_the_series_and_its_moved_instance():
    # mergecal: 2 VEVENTs, one with RRULE, one with RECURRENCE-ID, different summaries (the
    # instance has the higher SEQUENCE in the file; the published SEQUENCE is our own count)
    body = b"".join(require(CORPUS / "ics" / f"python-mergecal__{n}.ics", n).read_bytes()
                    for n in ("four_week_recurring", "four_week_recurring_with_recurrence_id"))
    events = [normalize(raw, source_id="s", network_id="n", zone=BERLIN, base_url="") for raw in extract(body, CTX).events]
    vevents = _published(events).walk("VEVENT")
    assert len(vevents) == 2
    [series] = [v for v in vevents if "RRULE" in v]
    [moved] = [v for v in vevents if "RECURRENCE-ID" in v]
    assert str(series["SUMMARY"]) != str(moved["SUMMARY"]) and series["UID"] == moved["UID"]
    assert str(moved["SUMMARY"]) == "my test event (modified one)"


# ---------------------------------------------------------------- expectations.md §2 (recurring-ical-events)


def corpus_ready(name: str) -> tuple[Event, ...]:
    require(CORPUS / "ics" / name, name)
    return pipeline(name)


def between(name: str, start: datetime, end: datetime) -> list[Occurrence]:
    corpus_ready(name)
    return list(corpus_occurrences(name, start, end))


def on_day(name: str, day: date, zone: ZoneInfo = BERLIN) -> list[Occurrence]:
    start = datetime.combine(day, datetime.min.time(), zone)
    return between(name, start, start + timedelta(days=1))


RIE = "recurring-ical-events__"


@pytest.mark.shared
def test_peer_three_events():
    name = RIE + "three_events.ics"
    assert len(between(name, berlin(2000, 1, 1), berlin(2100, 1, 1))) == 3
    assert len(between(name, berlin(2000, 1, 1), berlin(2001, 1, 1))) == 0
    for day, count in ((3, 0), (5, 1), (8, 2)):
        assert len(between(name, berlin(2019, 1, 1), berlin(2019, 3, day))) == count
    for day, count in ((3, 3), (5, 2), (8, 1)):
        assert len(between(name, berlin(2019, 3, day), berlin(2020, 1, 1))) == count


@pytest.mark.shared
def test_peer_each_week_but_one_deleted_and_exdates_ignored():
    assert len(in_window(RIE + "each_week_but_one_deleted.ics", *window_years(corpus_ready(RIE + "each_week_but_one_deleted.ics")))) == 7
    name = RIE + "issue_20_exdate_ignored.ics"
    days = [o.start.date() if isinstance(o.start, datetime) else o.start for o in in_window(name, *window_years(corpus_ready(name)))]
    assert days == [date(2019, 10, 29), date(2019, 11, 12), date(2019, 12, 10), date(2020, 1, 7),
                    date(2020, 1, 14), date(2020, 1, 21), date(2020, 1, 28)]


@pytest.mark.shared
def test_peer_rdate_falls_on_rrule_until():
    assert len(on_day(RIE + "rdate_falls_on_rrule_until.ics", date(2020, 2, 4))) == 1


@pytest.mark.shared
def test_peer_hackerpublicradio_rdates_in_london_time():
    name = "x-wr-timezone__rdate-hackerpublicradio.in.ics"
    result = between(name, berlin(2013, 1, 1), berlin(2015, 1, 1))
    assert len(result) == 12
    assert [o.start.date() for o in result] == [
        date(2013, 8, 3), date(2013, 8, 31), date(2013, 10, 5), date(2013, 11, 2), date(2013, 11, 30), date(2014, 1, 4),
        date(2014, 2, 1), date(2014, 3, 1), date(2014, 4, 5), date(2014, 5, 3), date(2014, 5, 31), date(2014, 7, 5)]
    first = result[0]
    assert first.start == datetime(2013, 8, 3, 19, tzinfo=UTC) and first.end == datetime(2013, 8, 3, 21, tzinfo=UTC)


@pytest.mark.shared
def test_peer_x_wr_timezone_single_events_in_new_york():
    ny = ZoneInfo("America/New_York")
    name = "x-wr-timezone__single-events-DTSTART-DTEND.in.ics"
    for hour in (12, 21):
        for minute, count in ((-1, 0), (0, 1), (59, 1), (60, 0)):
            at = datetime(2021, 12, 22, hour, 0, tzinfo=ny) + timedelta(minutes=minute)
            assert len(between(name, at, at + timedelta(seconds=1))) == count, (hour, minute)


@pytest.mark.shared
def test_peer_issue_148_edited_and_exdate():
    name = RIE + "issue_148_ignored_exdate.ics"
    assert len(in_window(name, *window_years(corpus_ready(name)))) == 2
    assert on_day(name, date(2024, 7, 15)) == []
    for day in (date(2024, 7, 1), date(2024, 7, 29)):
        assert [o.event.title for o in on_day(name, day)] == ["test123 - edited"]


@pytest.mark.shared
def test_peer_until_before_dtstart_and_negative_count():
    assert between(RIE + "issue_117_until_before_dtstart.ics", berlin(1900, 1, 1), berlin(2100, 1, 1)) == []
    assert len(between(RIE + "issue_128_only_first_event.ics", berlin(1900, 1, 1), berlin(2100, 1, 1))) == 7


@pytest.mark.shared
def test_peer_issue_48_dst_chicago():
    chicago = ZoneInfo("America/Chicago")
    assert len(between(RIE + "issue_48_dst.ics", datetime(2020, 12, 11, 10, tzinfo=chicago), datetime(2020, 12, 11, 15, tzinfo=chicago))) == 3


@pytest.mark.shared
def test_peer_daylight_saving_time_1900_on_both_sides():
    name = RIE + "daylight_saving_time.ics"
    [march] = on_day(name, date(2019, 3, 20))
    [april] = on_day(name, date(2019, 4, 24))
    assert march.start == berlin(2019, 3, 20, 19) and march.start.utcoffset() == timedelta(hours=1)
    assert april.start == berlin(2019, 4, 24, 19) and april.start.utcoffset() == timedelta(hours=2)


@pytest.mark.shared
def test_peer_issue_62_moved_events_in_august_2023():
    result = between(RIE + "issue_62_moved_event_2.ics", berlin(2023, 8, 1), berlin(2023, 9, 1))
    got = sorted((o.start if isinstance(o.start, date) and not isinstance(o.start, datetime) else o.start.date(), o.event.title) for o in result)
    assert got == [(date(2023, 8, 8), "Datetime"), (date(2023, 8, 10), "All Day"), (date(2023, 8, 14), "Datetime"),
                   (date(2023, 8, 16), "All Day"), (date(2023, 8, 22), "Datetime"), (date(2023, 8, 24), "All Day")]


@pytest.mark.shared
def test_peer_multiple_rrule_expands_both_rules():
    # the peer expands both RRULEs: 22 in 2023, among them 02-09, 02-13, 02-16, 03-13
    result = between(RIE + "multiple_rrule.ics", berlin(2023, 1, 1), berlin(2024, 1, 1))
    days = {o.start.date() for o in result}
    assert len(result) == 22
    assert {date(2023, 2, 9), date(2023, 2, 13), date(2023, 2, 16), date(2023, 3, 13)} <= days


def test_a_second_rrule_sharing_dates_with_the_first_gives_each_date_once():
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:zwei-regeln\r\nSUMMARY:Stammtisch\r\n"
        b"DTSTART;TZID=Europe/Berlin:20250106T180000\r\nDTEND;TZID=Europe/Berlin:20250106T200000\r\n"
        b"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=6\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    events = [normalize(raw, source_id="s", network_id="n", zone=BERLIN, base_url="") for raw in extract(body, CTX).events]
    result = expand(events, berlin(2025, 1, 1), berlin(2026, 1, 1))
    # Mondays 01-06 … 02-10, and the Thursdays of every other week (01-09, 01-23, 02-06)
    assert [o.start.date() for o in result] == [
        date(2025, 1, 6), date(2025, 1, 9), date(2025, 1, 13), date(2025, 1, 20), date(2025, 1, 23),
        date(2025, 1, 27), date(2025, 2, 3), date(2025, 2, 6), date(2025, 2, 10)]
    assert all(o.end - o.start == timedelta(hours=2) for o in result)


@pytest.mark.shared
def test_peer_issue_86_x_wr_timezone_without_tzid():
    name = RIE + "issue_86_x_wr_timezone_without_time_zone_in_dt.ics"
    first = in_window(name, *window_years(corpus_ready(name)))[0]
    assert first.start == berlin(2021, 9, 16, 21) and first.start.tzname() == "CEST"


@pytest.mark.shared
def test_peer_issue_61_all_day_event_at_a_moment():
    at = berlin(2021, 12, 15, 17, 41)
    [occ] = between(RIE + "issue_61_time_zone_error.ics", at, at + timedelta(seconds=1))
    assert occ.all_day


@pytest.mark.shared
def test_peer_issue_28_utc_until():
    name = RIE + "issue_28_rrule_with_UTC_endinginZ.ics"
    assert len(between(name, berlin(2020, 5, 25), berlin(2020, 9, 5))) == 15
    assert len(between(name, berlin(2020, 9, 3), berlin(2020, 9, 5))) == 1


@pytest.mark.shared
def test_peer_duplicates_and_day_events():
    name = RIE + "issue_44_double_event.ics"
    assert [o.event.title for o in on_day(name, date(2020, 8, 14))] == ["test2"]
    assert on_day(name, date(2020, 8, 13)) == [] and on_day(name, date(2020, 8, 15)) == []
    assert len(on_day(RIE + "issue_15_duplicated_events.ics", date(2013, 8, 3))) == 3
    assert len(between(RIE + "issue_164_duplicated_event.ics", berlin(2024, 8, 1), berlin(2024, 9, 1))) == 2


@pytest.mark.shared
def test_peer_issue_107_last_event_kept():
    result = between(RIE + "issue_107_omitting_last_event.ics", berlin(2023, 1, 30), berlin(2023, 1, 30) + timedelta(days=365))
    days = {o.start.date() for o in result}
    assert {date(2023, 6, 1), date(2023, 6, 8)} <= days


@pytest.mark.shared
def test_peer_swapped_start_and_end():
    [occ] = between(RIE + "end_before_start_event.ics", berlin(2019, 1, 1), berlin(2020, 1, 1))
    assert (occ.start, occ.end) == (berlin(2019, 3, 4, 8), berlin(2019, 3, 4, 8, 30))


@pytest.mark.shared
def test_peer_cancel_status():
    name = RIE + "issue_18_cancel_status.ics"
    assert [o.event.status for o in on_day(name, date(2020, 1, 28))] == ["confirmed"]
    assert [o.event.status for o in on_day(name, date(2020, 1, 29))] == ["cancelled"]
    assert [o.event.status for o in on_day(name, date(2020, 1, 30))] == ["confirmed"]


@pytest.mark.shared
def test_peer_zero_size_event():
    name = RIE + "zero_size_event.ics"
    assert len(on_day(name, date(2019, 3, 4))) == 1
    assert on_day(name, date(2019, 3, 3)) == [] and on_day(name, date(2019, 3, 5)) == []
    for hour, count in ((7, 0), (8, 1), (9, 0)):
        assert len(between(name, berlin(2019, 3, 4, hour), berlin(2019, 3, 4, hour + 1))) == count
    # the peer's between(08:00, 08:00) finds it; our window is half-open, so an empty window holds nothing
    assert between(name, berlin(2019, 3, 4, 8), berlin(2019, 3, 4, 8)) == []
    assert between(name, berlin(2019, 3, 4, 7), berlin(2019, 3, 4, 8)) == []


@pytest.mark.shared
def test_peer_duration():
    name = RIE + "duration.ics"
    for day, count in ((9, 0), (10, 1), (11, 1), (12, 1), (14, 0), (19, 0), (20, 1), (21, 0)):
        assert len(on_day(name, date(2018, 1, day))) == count, day
    for hour, count in ((9, 0), (10, 1), (11, 1), (12, 1), (14, 0)):
        assert len(between(name, berlin(2018, 1, 15, hour), berlin(2018, 1, 15, hour + 1))) == count, hour


@pytest.mark.shared
def test_peer_period_rdate_keeps_the_period_end():
    vancouver = ZoneInfo("America/Vancouver")
    [occ] = on_day(RIE + "issue_113_period_in_rdate.ics", date(2023, 12, 13), vancouver)
    # the peer: DTSTART 12:00, DTEND 15:00 from the PERIOD (the series lasts 2 hours)
    assert occ.start == datetime(2023, 12, 13, 12, tzinfo=vancouver)
    assert occ.end == datetime(2023, 12, 13, 15, tzinfo=vancouver)
    assert occ.event.title == "Test RDATE"


@pytest.mark.shared
def test_peer_issue_151_one_event():
    name = RIE + "issue_151_macos_linux_difference.ics"
    start = datetime.fromtimestamp(1722564000, UTC)
    assert len(between(name, start, datetime.fromtimestamp(1722567600, UTC))) == 1
    assert len(on_day(name, date(2024, 8, 1), ZoneInfo("America/Los_Angeles"))) == 1  # 19:00 there


@pytest.mark.shared
def test_peer_deleted_modification_and_lone_modifications():
    assert on_day(RIE + "issue_163_deleted_modification.ics", date(2024, 8, 19)) == []
    uids = [o.event.source_uid for o in on_day(RIE + "issue_173_only_modifications_error.ics", date(2024, 1, 8))]
    # a lone instance keeps its UID, with its RECURRENCE-ID appended by the extractor
    assert any(u.startswith("_6krj2dhl74q34b9j60sj4b9k8h238b9p6gok2ba68gojgchl6cpj0h1o88_R20231009T130000@google.com") for u in uids)


@pytest.mark.shared
def test_peer_issue_223_thunderbird():
    name = RIE + "issue_223_thunderbird.ics"
    for day in (23, 24, 25):
        assert len(on_day(name, date(2025, 4, day))) == 1


@pytest.mark.shared
def test_peer_issue_253_stale_instance_of_a_cut_series_is_dropped():
    result = between(RIE + "issue_253_additional_recurrence_id.ics", berlin(2024, 7, 1), berlin(2024, 8, 1))
    # the peer: 2 (07-01, 07-15); the instance of 07-29 (SEQUENCE 1, with the old
    # RRULE) belongs to the series before it was cut at 07-20 (SEQUENCE 2)
    assert [o.start for o in result] == [date(2024, 7, 1), date(2024, 7, 15)]


@pytest.mark.shared
def test_peer_issue_36_recurrence_id_format():
    name = RIE + "issue_36_recurrence_ID_format.ics"
    for day, title in ((17, "Modified event"), (14, "Modified event 1"), (21, "Modified event 2")):
        matching = [o for o in on_day(name, date(2020, 9, day)) if o.event.title.startswith("Modified")]
        assert [o.event.title for o in matching] == [title], day


@pytest.mark.shared
def test_peer_issue_75_range_thisandfuture_moves_all_later_dates():
    name = RIE + "issue_75_range_parameter.ics"

    def titles(day):
        return [o.event.title for o in on_day(name, date(2024, 9, day), UTC)]

    # the peer: exactly one event on each of these days, with these titles
    assert titles(1) == titles(11) == ["ORIGINAL EVENT"]
    assert titles(13) == titles(14) == titles(15) == titles(17) == titles(19) == ["MODIFIED EVENT"]
    assert titles(22) == titles(24) == titles(26) == ["EDITED EVENT"]
    # and the times: -3 h and 7 hours long from 09-13, 14:22–16:13 from 09-22 (the 09-15 override keeps its own)
    [d17] = on_day(name, date(2024, 9, 17), UTC)
    assert (d17.start, d17.end) == (datetime(2024, 9, 17, 9, tzinfo=UTC), datetime(2024, 9, 17, 16, tzinfo=UTC))
    [d15] = on_day(name, date(2024, 9, 15), UTC)
    assert d15.start == datetime(2024, 9, 15, 17, tzinfo=UTC)
    [d26] = on_day(name, date(2024, 9, 26), UTC)
    assert (d26.start, d26.end) == (datetime(2024, 9, 26, 14, 22, tzinfo=UTC), datetime(2024, 9, 26, 16, 13, tzinfo=UTC))
    assert titles(21) == titles(23) == titles(25) == []


@pytest.mark.shared
def test_peer_vtodo_is_ignored():
    # the peer counts 7 VTODO occurrences; we read events only
    assert between(RIE + "issue_97_simple_todo.ics", berlin(1995, 1, 1), berlin(2002, 1, 1)) == []


@pytest.mark.shared
def test_peer_khal_expansions():
    assert [(o.start, o.end) for o in between("khal__event_dt_rrule_invalid_until.ics", berlin(2007, 1, 1), berlin(2009, 1, 1))] == [
        (date(2007, 12, 1), date(2007, 12, 2)), (date(2008, 1, 1), date(2008, 1, 2)), (date(2008, 2, 1), date(2008, 2, 2))]
    assert between("khal__event_dt_rrule_until_before_start.ics", berlin(1900, 1, 1), berlin(2100, 1, 1)) == []
    ny = ZoneInfo("America/New_York")
    first = between("khal__event_invalid_exdate.ics", berlin(2011, 1, 1), berlin(2013, 1, 1))[0]
    assert (first.start, first.end) == (datetime(2011, 11, 12, 15, 50, tzinfo=ny), datetime(2011, 11, 12, 17, tzinfo=ny))
    [cancelled] = [o for o in on_day("khal__event_rrule_recuid_cancelled.ics", date(2014, 7, 14)) if o.cancelled]
    assert (cancelled.start, cancelled.end) == (berlin(2014, 7, 14, 7), berlin(2014, 7, 14, 12))
    assert cancelled.event.title == "Arbeit"


@pytest.mark.shared
def test_peer_icaljs_and_ical4j_expansions():
    assert len(between("ical4j__friday13.ics", berlin(1997, 9, 2, 9), berlin(1997, 9, 9, 9))) == 0
    assert len(between("ical4j__friday13-NOT.ics", berlin(1997, 9, 2, 9), berlin(1997, 9, 2, 9) + timedelta(weeks=52))) > 0
    gmt = ZoneInfo("Etc/GMT")
    for day, count in ((date(2008, 10, 31), 1), (date(2008, 11, 7), 1), (date(2008, 11, 1), 0), (date(2008, 11, 8), 0)):
        assert (len(on_day("ical4j__2207678.ics", day, gmt)) > 0) == bool(count), day
    assert between("ical4j__Australian_TV_Melbourne.ics", berlin(2004, 4, 1), berlin(2004, 4, 15))
    # the peer: exactly 3 occurrences, 2012/13/14-12-10
    days = [o.start for o in between("icaljs__google_birthday.ics", berlin(2012, 1, 1), berlin(2016, 1, 1))]
    assert days == [date(2012, 12, 10), date(2013, 12, 10), date(2014, 12, 10)]

"""The ICS extractor: corpus robustness, the peers' expectations, and our own cases.

Corpus files are read from ../shared/corpus/ics (never copied here: some are
copyleft); without ../shared those tests skip, in CI they fail.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from aggregator.extract import ExtractContext, Extraction, ExtractError
from aggregator.extract.ical_zones import resolve_tzid
from aggregator.extract.ics import extract
from tests.support.shared import CORPUS, corpus_files, require

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc
CTX = ExtractContext(
    url="https://example.org/kalender.ics",
    timezone=BERLIN,
    now=datetime(2025, 3, 1, 12, 0, tzinfo=BERLIN),
)
ICS_FILES = corpus_files("ics")


def corpus(name: str) -> Extraction:
    path = require(CORPUS / "ics" / name, f"corpus file ics/{name}")
    return extract(path.read_bytes(), CTX)


def run(text: str) -> Extraction:
    return extract(text.encode("utf-8"), CTX)


def at(value: datetime, zone) -> datetime:
    """The same instant, seen in ``zone`` (for comparing instants and wall times)."""
    return value.astimezone(zone)


def by_uid(result: Extraction, uid: str):
    matches = [e for e in result.events if e.source_uid == uid]
    assert len(matches) == 1, [e.source_uid for e in result.events]
    return matches[0]


def assert_output_convention(result: Extraction) -> None:
    """Every value follows the RawEvent contract the normalizer relies on."""
    for ev in result.events:
        values = [ev.start, ev.end, ev.recurrence_id, *ev.rdates, *ev.exdates]
        for value in values:
            if isinstance(value, datetime) and value.tzinfo is not None:
                assert value.tzinfo is UTC or isinstance(value.tzinfo, ZoneInfo), (ev.source_uid, value)
        assert isinstance(ev.start, date)
        assert ev.source_uid
        assert ev.status in ("confirmed", "tentative", "cancelled")
        all_day = not isinstance(ev.start, datetime)
        if all_day:
            assert ev.end is not None and not isinstance(ev.end, datetime) and ev.end > ev.start
        elif ev.end is not None:
            assert isinstance(ev.end, datetime)
        if ev.rrule is not None:
            start = ev.start if isinstance(ev.start, datetime) else datetime.combine(ev.start, datetime.min.time())
            rrulestr(ev.rrule, dtstart=start)  # passes on only what dateutil reads
    assert all(isinstance(w, str) and w for w in result.warnings)


# ------------------------------------------------------------------ whole corpus


@pytest.mark.shared
@pytest.mark.parametrize("path", ICS_FILES, ids=[p.name for p in ICS_FILES])
def test_every_corpus_file_yields_events_or_a_clear_extract_error(path):
    try:
        result = extract(path.read_bytes(), CTX)
    except ExtractError as exc:
        assert str(exc).strip()
        return
    assert isinstance(result, Extraction)
    assert_output_convention(result)


@pytest.mark.shared
def test_corpus_is_present_in_ci():
    require(CORPUS / "ics", "ICS corpus")
    assert len(ICS_FILES) > 100


# ------------------------------------------------------------------ collective/icalendar expectations


@pytest.mark.shared
def test_unicode_fields_survive():
    ev = corpus("icalendar__event_with_unicode_fields.ics").events[0]
    assert ev.title == "Non-ASCII Test: ÄÖÜ äöü €"
    assert ev.description == "icalendar should be able to handle non-ascii: €äüöÄÜÖ."
    assert ev.location == "Tribstrül"


@pytest.mark.shared
def test_bare_vevent_with_non_ascii_summary_but_no_dtstart_is_skipped_with_a_warning():
    result = corpus("icalendar__issue_64_event_with_non_ascii_summary.ics")
    assert result.events == []
    assert any("åäö" in w and "DTSTART" in w for w in result.warnings)


@pytest.mark.shared
def test_non_ascii_tzid_gives_the_sao_paulo_instant():
    ev = corpus("icalendar__issue_237_fail_to_parse_timezone_with_non_ascii_tzid.ics").events[0]
    assert at(ev.start, ZoneInfo("America/Sao_Paulo")).replace(tzinfo=None) == datetime(2017, 5, 11, 13, 30)


@pytest.mark.shared
def test_globally_unique_tzids_map_to_iana_zones():
    result = corpus("icalendar__issue_313_globally_unique_tzid.ics")
    expected = {
        "libical-evolution@issue-313": ("Europe/Berlin", timedelta(hours=2)),
        "mozilla-lightning@issue-313": ("America/New_York", timedelta(hours=-4)),
        "multipart-olson@issue-313": ("America/Argentina/Buenos_Aires", timedelta(hours=-3)),
    }
    assert len(result.events) == 3
    for uid, (key, offset) in expected.items():
        ev = by_uid(result, uid)
        assert ev.start.tzinfo == ZoneInfo(key)
        assert ev.start.utcoffset() == offset


@pytest.mark.shared
def test_custom_utc_plus_11_zone_becomes_the_utc_instant():
    ev = corpus("icalendar__issue_218_bad_tzid.ics").events[0]
    plus11 = timezone(timedelta(hours=11))
    assert ev.start == datetime(2017, 2, 28, 23, 0, tzinfo=plus11)
    assert ev.end == datetime(2017, 2, 28, 23, 30, tzinfo=plus11)
    assert ev.start.tzinfo is UTC


@pytest.mark.shared
def test_timezoned_event_keeps_europe_vienna():
    ev = corpus("icalendar__timezoned.ics").events[0]
    assert ev.start == datetime(2012, 2, 13, 10, 0, tzinfo=ZoneInfo("Europe/Vienna"))
    assert ev.start.tzinfo == ZoneInfo("Europe/Vienna")


@pytest.mark.shared
def test_custom_named_new_york_zone_maps_to_iana():
    ev = corpus("icalendar__america_new_york.ics").events[0]
    assert ev.start.tzinfo == NEW_YORK


@pytest.mark.shared
def test_multiple_calendars_in_one_body_give_all_their_events():
    result = corpus("icalendar__multiple_calendar_components.ics")
    assert len(result.events) == 3
    assert {e.title for e in result.events} == {"Christmas Day", "Boxing Day", "Christmas again!"}


@pytest.mark.shared
@pytest.mark.parametrize(
    "name", ["icalendar__broken_dtstart.ics", "icalendar__issue_1081_invalid_start_valid_end.ics"]
)
def test_event_with_broken_dtstart_is_skipped_with_a_warning(name):
    result = corpus(name)
    assert result.events == []
    assert any("DTSTART" in w and "test-123" in w for w in result.warnings)


@pytest.mark.shared
def test_single_missing_event_is_found():
    assert len(corpus("icalendar__issue_165_missing_event.ics").events) == 1


@pytest.mark.shared
def test_categories_keep_escaped_commas():
    ev = corpus("icalendar__issue_127_categories_with_commas.ics").events[0]
    assert ev.categories == ("Meeting, John", "Work, Sarah", "Project")


@pytest.mark.shared
def test_dst_only_vtimezone_named_berlin_is_berlin():
    ev = corpus("ical4j__dst-only-vtimezone.ics").events[0]
    assert ev.start.tzinfo == BERLIN
    assert ev.start == datetime(2018, 4, 3, 7, 0, tzinfo=UTC)


@pytest.mark.shared
def test_invalid_rdate_is_a_warning_not_a_failure():
    result = corpus("icalendar__issue_464_invalid_rdate.ics")
    assert len(result.events) == 1
    assert any("RDATE" in w for w in result.warnings)


@pytest.mark.shared
@pytest.mark.parametrize(
    "name",
    [
        "icalendar__bom_calendar.ics",
        "icalendar__fuzz_testcase_0_char_in_component_name.ics",
        "icalendar__fuzz_testcase_vtimezone_lone_cr.ics",
        "icalendar__issue_104_broken_calendar.ics",
        "icalendar__parsing_error_in_UTC_offset.ics",
        "icalendar__big_bad_calendar.ics",
    ],
)
def test_odd_files_do_not_crash(name):
    try:
        corpus(name)
    except ExtractError as exc:
        assert str(exc)


@pytest.mark.shared
def test_bom_calendar_is_read_as_a_calendar():
    result = corpus("icalendar__bom_calendar.ics")  # a VCALENDAR without events
    assert result.events == []
    assert any("no VEVENT" in w for w in result.warnings)


# ------------------------------------------------------------------ x-wr-timezone / recurring-ical-events


@pytest.mark.shared
def test_x_wr_timezone_puts_utc_and_floating_times_in_new_york():
    result = corpus("x-wr-timezone__single-events-DTSTART-DTEND.in.ics")
    starts = sorted((e.start, e.end) for e in result.events)
    assert starts == [
        (datetime(2021, 12, 22, 12, 0, tzinfo=NEW_YORK), datetime(2021, 12, 22, 13, 0, tzinfo=NEW_YORK)),
        (datetime(2021, 12, 22, 21, 0, tzinfo=NEW_YORK), datetime(2021, 12, 22, 22, 0, tzinfo=NEW_YORK)),
    ]
    assert all(e.start.tzinfo == NEW_YORK for e in result.events)


@pytest.mark.shared
def test_x_wr_timezone_converts_rdates_with_the_dst_shift():
    result = corpus("x-wr-timezone__rdate-hackerpublicradio.in.ics")
    london = ZoneInfo("Europe/London")
    rdates = sorted(d for e in result.events for d in e.rdates)
    assert datetime(2013, 8, 31, 20, 0, tzinfo=london) in rdates
    assert datetime(2013, 11, 30, 19, 0, tzinfo=london) in rdates
    assert all(d.tzinfo == london for d in rdates)


@pytest.mark.shared
def test_x_wr_timezone_converts_recurrence_id():
    result = corpus("x-wr-timezone__moved-event-RECURRENCE-ID.in.ics")
    moved = [e for e in result.events if e.recurrence_id is not None]
    assert moved and moved[0].recurrence_id == datetime(2021, 12, 31, 21, 30, tzinfo=BERLIN)
    assert moved[0].recurrence_id.tzinfo == BERLIN


@pytest.mark.shared
def test_recurring_berlin_event_keeps_its_rrule_and_zone():
    result = corpus("recurring-ical-events__daylight_saving_time.ics")
    weekly_19h = [
        e for e in result.events
        if e.rrule and isinstance(e.start, datetime) and e.start.tzinfo == BERLIN and e.start.hour == 19
    ]
    assert weekly_19h, "a Berlin RRULE series at 19:00"
    # expanding the kept rule at wall time reproduces the peer's 19:00 on both sides of DST
    series = weekly_19h[0]
    rule = rrulestr(series.rrule, dtstart=series.start)
    march = rule.after(datetime(2019, 3, 19, 0, 0, tzinfo=BERLIN))
    april = rule.after(datetime(2019, 4, 23, 0, 0, tzinfo=BERLIN))
    assert march.hour == april.hour == 19


@pytest.mark.shared
def test_second_rrule_becomes_a_series_of_its_own_from_its_first_date():
    result = corpus("recurring-ical-events__multiple_rrule.ics")
    uid = "56cdc4dc-11b7-407c-86c6-9faedfc28afb"
    first, second = by_uid(result, uid), by_uid(result, uid + "#rrule2")
    assert first.rrule == "FREQ=WEEKLY;COUNT=20;BYDAY=TH"
    london = ZoneInfo("Europe/London")
    assert second.rrule == "FREQ=MONTHLY;COUNT=2;BYDAY=2MO"
    assert second.start == datetime(2023, 2, 13, 10, tzinfo=london) and second.end == datetime(2023, 2, 13, 12, tzinfo=london)
    assert second.title == first.title and second.rdates == ()


@pytest.mark.parametrize("second", ["FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30"])
def test_a_second_rrule_that_never_matches_is_ignored_without_walking_to_the_year_9999(second):
    started = time.perf_counter()
    result = run(wrap("UID:n\r\nSUMMARY:T\r\nDTSTART:20250106T170000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nRRULE:" + second))
    # dateutil alone needs 5 s and more to find that no 30 February comes
    assert time.perf_counter() - started < 2.5
    assert [e.source_uid for e in result.events] == ["n"]
    assert any("RRULE #2 adds no date of its own" in w for w in result.warnings)


def test_thisandfuture_on_a_rule_that_never_matches_is_read_as_one_instance():
    started = time.perf_counter()
    result = run(wrap(
        "UID:n\r\nSUMMARY:T\r\nDTSTART:20250106T170000Z\r\nRRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30\r\n"
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:n\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20300106T170000Z\r\n"
        "SUMMARY:T2\r\nDTSTART:20300106T180000Z"))
    assert time.perf_counter() - started < 2.5
    assert {e.source_uid for e in result.events} == {"n"}
    assert any("THISANDFUTURE" in w and "too rarely" in w for w in result.warnings)


def test_floating_start_with_a_zoned_end_does_not_cost_the_feed_its_second_rrule_or_range():
    # DTSTART floating, DTEND in Berlin: no length can be subtracted; the feed must still be read
    two_rules = run(wrap("UID:m", "SUMMARY:T", "DTSTART:20250106T170000", "DTEND;TZID=Europe/Berlin:20250106T180000",
                         "RRULE:FREQ=WEEKLY;COUNT=3", "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=3"))
    assert [e.source_uid for e in two_rules.events] == ["m", "m#rrule2"]
    ranged = run(wrap("UID:m\r\nSUMMARY:T\r\nDTSTART:20250106T170000\r\nRRULE:FREQ=DAILY;COUNT=9\r\nEND:VEVENT\r\n"
                      "BEGIN:VEVENT\r\nUID:m\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20250108T170000Z\r\nSUMMARY:X\r\n"
                      "DTSTART:20250108T190000"))
    assert len(ranged.events) == 2 and any("mix floating and zoned" in w for w in ranged.warnings)


def test_instance_of_a_second_rrule_date_moves_with_its_series():
    result = run(wrap(
        "UID:r\r\nSUMMARY:Treffen\r\nDTSTART:20250106T170000Z\r\nDTEND:20250106T180000Z\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3\r\nRRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=3\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:r\r\nRECURRENCE-ID:20250116T170000Z\r\nSUMMARY:Treffen (verlegt)\r\n"
        "DTSTART:20250117T170000Z\r\nDTEND:20250117T180000Z"))
    moved = [e for e in result.events if e.recurrence_id is not None]
    assert [(e.source_uid, e.title) for e in moved] == [("r#rrule2", "Treffen (verlegt)")]


@pytest.mark.shared
def test_end_before_start_is_swapped():
    result = corpus("recurring-ical-events__end_before_start_event.ics")
    ev = result.events[0]
    assert (ev.start, ev.end) == (
        datetime(2019, 3, 4, 8, 0, tzinfo=BERLIN),
        datetime(2019, 3, 4, 8, 30, tzinfo=BERLIN),
    )
    assert any("swapped" in w for w in result.warnings)


@pytest.mark.shared
def test_swapped_start_and_end_of_issue_132():
    ev = corpus("recurring-ical-events__issue_132_swapped_start_and_end.ics").events[0]
    assert (ev.start.hour, ev.start.minute, ev.end.hour, ev.end.minute) == (23, 30, 23, 45)


@pytest.mark.shared
def test_confluence_count_minus_one_is_dropped_not_passed_on():
    ev = corpus("recurring-ical-events__issue_128_only_first_event.ics").events[0]
    assert "COUNT" not in ev.rrule
    assert "UNTIL=20240331" in ev.rrule
    occurrences = list(rrulestr(ev.rrule, dtstart=datetime.combine(ev.start, datetime.min.time())))
    assert len(occurrences) == 7


@pytest.mark.shared
def test_rrule_with_a_misspelled_part_is_dropped_with_a_warning():
    result = corpus("recurring-ical-events__bad_rrule_missing_until_event.ics")
    assert result.events[0].rrule is None
    assert any("RRULE" in w for w in result.warnings)


@pytest.mark.shared
def test_until_of_the_wrong_type_is_repaired_for_all_day_series():
    ev = corpus("khal__event_dt_rrule_invalid_until.ics").events[0]
    assert ev.rrule == "FREQ=MONTHLY;UNTIL=20080202"
    days = [d.date() for d in rrulestr(ev.rrule, dtstart=datetime(2007, 12, 1))]
    assert days == [date(2007, 12, 1), date(2008, 1, 1), date(2008, 2, 1)]


@pytest.mark.shared
def test_instances_without_their_master_are_kept_as_single_events():
    result = corpus("recurring-ical-events__issue_173_only_modifications_error.ics")
    uid = "_6krj2dhl74q34b9j60sj4b9k8h238b9p6gok2ba68gojgchl6cpj0h1o88_R20231009T130000@google.com"
    mine = [e for e in result.events if e.source_uid.startswith(uid)]
    assert mine
    assert all(e.recurrence_id is None and e.source_uid.startswith(uid + "/") for e in mine)
    assert any(isinstance(e.start, datetime) and e.start.date() == date(2024, 1, 8) for e in mine)
    assert len({(e.source_uid, e.recurrence_id) for e in result.events}) == len(result.events)


@pytest.mark.shared
def test_cancelled_instance_is_its_own_event_with_the_master_uid():
    result = corpus("recurring-ical-events__issue_18_cancel_status.ics")
    master = [e for e in result.events if e.recurrence_id is None]
    instances = [e for e in result.events if e.recurrence_id is not None]
    assert len(master) == 1 and master[0].status == "confirmed" and master[0].rrule
    assert len(instances) == 1
    assert instances[0].source_uid == master[0].source_uid
    assert instances[0].status == "cancelled"
    assert instances[0].start.date() == date(2020, 1, 29)


@pytest.mark.shared
def test_cancelled_instance_from_khal():
    result = corpus("khal__event_rrule_recuid_cancelled.ics")
    cancelled = [e for e in result.events if e.status == "cancelled"]
    assert len(cancelled) == 1 and cancelled[0].recurrence_id is not None
    assert cancelled[0].start.date() == date(2014, 7, 14)


@pytest.mark.shared
def test_rdate_periods_and_exdates_are_kept_as_start_values():
    result = corpus("icaljs__recur_instances.ics")
    rdates = {d for e in result.events for d in e.rdates}
    exdates = {d for e in result.events for d in e.exdates}
    for expected in [datetime(2012, 11, 5, 18, 0), datetime(2012, 11, 10, 18, 0), datetime(2023, 11, 23, 9, 0)]:
        assert expected.replace(tzinfo=UTC) in rdates
    assert datetime(2012, 12, 4, 18, 0, tzinfo=UTC) in exdates
    assert datetime(2013, 4, 2, 17, 0, tzinfo=UTC) in exdates


def test_rdate_period_of_another_length_becomes_an_instance_with_that_end():
    result = run(wrap(
        "UID:p\r\nSUMMARY:Sprechstunde\r\nDTSTART:20250106T170000Z\r\nDTEND:20250106T180000Z\r\n"
        "RDATE;VALUE=PERIOD:20250110T090000Z/PT3H,20250117T090000Z/20250117T100000Z"))
    [master] = [e for e in result.events if e.recurrence_id is None]
    assert master.rdates == (datetime(2025, 1, 10, 9, tzinfo=UTC), datetime(2025, 1, 17, 9, tzinfo=UTC))
    # the 1-hour period is the series' own length: no instance needed
    [instance] = [e for e in result.events if e.recurrence_id is not None]
    assert instance.source_uid == "p" and instance.title == "Sprechstunde"
    assert instance.recurrence_id == instance.start == datetime(2025, 1, 10, 9, tzinfo=UTC)
    assert instance.end == datetime(2025, 1, 10, 12, tzinfo=UTC)
    assert result.warnings == []


def test_rdate_period_yields_to_the_files_own_instance_for_that_date():
    result = run(wrap(
        "UID:p\r\nSUMMARY:Sprechstunde\r\nDTSTART:20250106T170000Z\r\nDTEND:20250106T180000Z\r\n"
        "RDATE;VALUE=PERIOD:20250110T090000Z/PT3H\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:p\r\n"
        "RECURRENCE-ID:20250110T090000Z\r\nSUMMARY:Sprechstunde (kurz)\r\n"
        "DTSTART:20250110T100000Z\r\nDTEND:20250110T103000Z"))
    [instance] = [e for e in result.events if e.recurrence_id is not None]
    assert instance.title == "Sprechstunde (kurz)" and instance.end == datetime(2025, 1, 10, 10, 30, tzinfo=UTC)
    assert not any("duplicate" in w for w in result.warnings)


def test_thisandfuture_splits_a_counted_series_where_it_starts():
    result = run(wrap(
        "UID:t\r\nSUMMARY:Kurs\r\nDTSTART;TZID=Europe/Berlin:20250106T180000\r\n"
        "DTEND;TZID=Europe/Berlin:20250106T200000\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\n"
        "EXDATE;TZID=Europe/Berlin:20250203T180000\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:t\r\n"
        "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20250120T180000\r\nSUMMARY:Kurs (neuer Raum)\r\n"
        "DTSTART;TZID=Europe/Berlin:20250120T190000\r\nDTEND;TZID=Europe/Berlin:20250120T203000\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:t\r\nRECURRENCE-ID;TZID=Europe/Berlin:20250127T180000\r\nSUMMARY:Kurs (verlegt)\r\n"
        "DTSTART;TZID=Europe/Berlin:20250128T190000\r\nDTEND;TZID=Europe/Berlin:20250128T203000"))
    head = by_uid(result, "t")
    assert head.rrule == "FREQ=WEEKLY;COUNT=2" and head.exdates == () and head.title == "Kurs"
    tail = next(e for e in result.events if e.source_uid.startswith("t#from-") and e.recurrence_id is None)
    assert tail.title == "Kurs (neuer Raum)" and tail.rrule == "FREQ=WEEKLY;COUNT=4"
    assert tail.start == datetime(2025, 1, 20, 19, tzinfo=BERLIN) and tail.end == datetime(2025, 1, 20, 20, 30, tzinfo=BERLIN)
    assert tail.exdates == (datetime(2025, 2, 3, 19, tzinfo=BERLIN),)  # moved with its date
    # the instance of a later date belongs to the later part, its RECURRENCE-ID moved by the shift
    [moved] = [e for e in result.events if e.recurrence_id is not None]
    assert moved.source_uid == tail.source_uid and moved.recurrence_id == datetime(2025, 1, 27, 19, tzinfo=BERLIN)
    assert result.warnings == []


def test_thisandfuture_that_moves_the_day_of_a_byday_rule_stays_one_instance_with_a_warning():
    result = run(wrap(
        "UID:t\r\nSUMMARY:Kurs\r\nDTSTART:20250106T170000Z\r\nDTEND:20250106T180000Z\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:t\r\n"
        "RECURRENCE-ID;RANGE=THISANDFUTURE:20250120T170000Z\r\nSUMMARY:Kurs\r\n"
        "DTSTART:20250121T170000Z\r\nDTEND:20250121T180000Z"))
    assert {e.source_uid for e in result.events} == {"t"}
    [instance] = [e for e in result.events if e.recurrence_id is not None]
    assert instance.recurrence_id == datetime(2025, 1, 20, 17, tzinfo=UTC)
    assert any("THISANDFUTURE" in w and "BYDAY" in w for w in result.warnings)


def test_instance_of_an_older_version_of_a_series_cut_short_is_dropped_with_a_warning():
    series = ("UID:s\r\nSUMMARY:Kurs\r\nSEQUENCE:2\r\nDTSTART;VALUE=DATE:20240701\r\n"
              "RRULE:FREQ=WEEKLY;UNTIL=20240720;INTERVAL=2;BYDAY=MO\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n")
    old_copy = ("UID:s\r\nSUMMARY:Kurs\r\nSEQUENCE:{seq}\r\nRECURRENCE-ID;VALUE=DATE:{rid}\r\n"
                "DTSTART;VALUE=DATE:{rid}\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO")
    stale = run(wrap(series + old_copy.format(seq=1, rid="20240729")))
    assert [e.recurrence_id for e in stale.events] == [None]
    assert any("older version" in w for w in stale.warnings)
    # the same SEQUENCE, or a date the series still has: a real instance
    for seq, rid in ((2, "20240729"), (1, "20240715")):
        kept = run(wrap(series + old_copy.format(seq=seq, rid=rid)))
        assert len(kept.events) == 2, (seq, rid)


@pytest.mark.shared
def test_city_scrapers_outreach_meeting_and_html_uids_read_as_their_text():
    # the peer (frozen 2024-05-07): first item "Outreach Meeting", 2024-05-09 08:30–09:30
    # Chicago, first link https://clihtf.org/event/outreach-meeting-4/ ("Event Details";
    # its location is the spider's constant, the file has no LOCATION)
    result = corpus("city-scrapers__chi_low_income_housing_trust_fund.ics")
    chicago = ZoneInfo("America/Chicago")
    meeting = next(e for e in result.events if e.title == "Outreach Meeting")
    assert (meeting.start, meeting.end) == (datetime(2024, 5, 9, 8, 30, tzinfo=chicago), datetime(2024, 5, 9, 9, 30, tzinfo=chicago))
    assert meeting.url == "https://clihtf.org/event/outreach-meeting-4/"
    # UID:<span class="xQ8Cnt">gro&#x2e;fthilc&#64;0007425171-…</span>: the text, not the markup
    assert meeting.source_uid == "gro.fthilc@0007425171-0043425171-39200001"
    assert not any("<" in e.source_uid for e in result.events)
    assert len({e.source_uid for e in result.events}) == len(result.events) == 30
    assert any("UIDs are HTML markup" in w for w in result.warnings)


def test_a_uid_in_markup_keeps_its_identity_when_the_markup_changes():
    first = run(wrap('UID:<span class="a1">gro.x&#64;42</span>', "SUMMARY:T", "DTSTART:20250106T170000Z"))
    second = run(wrap('UID:<span class="zz9">gro.x&#64;42</span>', "SUMMARY:T", "DTSTART:20250106T170000Z"))
    assert first.events[0].source_uid == second.events[0].source_uid == "gro.x@42"


@pytest.mark.shared
def test_calagator_upcoming_every_event_has_a_venue():
    result = corpus("calagator__ical_upcoming_many.ics")
    assert result.events and all(e.location.strip() for e in result.events)


@pytest.mark.shared
def test_icaljs_forced_types_dtstart_is_a_date():
    [event] = corpus("icaljs__forced_types.ics").events
    assert type(event.start) is date


@pytest.mark.shared
def test_khal_invalid_tzoffset_still_gives_the_berlin_event_with_a_warning():
    # khal: warns "Invalid timezone offset encountered", shows 02.12. 08:00–09:30 "Some event"
    result = corpus("khal__invalid_tzoffset.ics")
    [event] = result.events
    assert event.title == "Some event"
    assert (event.start, event.end) == (datetime(2012, 12, 2, 8, tzinfo=BERLIN), datetime(2012, 12, 2, 9, 30, tzinfo=BERLIN))
    assert any("Offset must be less than 24 hours" in w for w in result.warnings)


@pytest.mark.shared
@pytest.mark.parametrize("name", ["ical4j__EXDATE.ics", "ical4j__tmeher.ics"])
def test_ical4j_tzids_resolve_to_known_zones(name):
    # ical4j: every TZID maps to zone rules the registry knows (tmeher), EXDATEs carry a TZID (EXDATE)
    result = corpus(name)
    values = [v for e in result.events for v in (e.start, e.end, *e.exdates) if isinstance(v, datetime)]
    assert values and all(v.tzinfo is not None for v in values)
    assert not any("unknown" in w.lower() or "floating" in w.lower() for w in result.warnings)
    [event] = result.events
    if name == "ical4j__EXDATE.ics":
        assert event.exdates and {getattr(v.tzinfo, "key", None) for v in event.exdates} == {"Australia/Brisbane"}
    else:  # TZID "Pacific Time (US & Canada), Tijuana": 22:30 on the wall there (PDT)
        assert event.start.astimezone(ZoneInfo("America/Tijuana")).replace(tzinfo=None) == datetime(2004, 10, 11, 22, 30)


@pytest.mark.shared
def test_icalendar_x_location_with_base64_parameters_reads_without_warnings():
    result = corpus("icalendar__x_location.ics")
    assert len(result.events) == 1 and result.warnings == []


@pytest.mark.shared
def test_google_birthday_gives_each_birthday_once():
    # ical.js's test: the primary event and its exceptions make exactly 2012-, 2013- and 2014-12-10.
    # The master (UID 2014_BIRTHDAY_…) states them as DTSTART and RDATE:20131210Z / 20121210Z;
    # the three instances (UID BIRTHDAY_…) repeat them without a series of their own.
    result = corpus("icaljs__google_birthday.ics")
    [master] = result.events
    assert master.start == date(2014, 12, 10) and set(master.rdates) == {date(2013, 12, 10), date(2012, 12, 10)}
    assert any("read RDATE '20131210Z' as dates" in w for w in result.warnings)
    assert not any("unreadable RDATE" in w for w in result.warnings)


def test_lone_instance_of_another_title_or_date_is_kept():
    body = wrap(
        "UID:a\r\nSUMMARY:Geburtstag\r\nDTSTART;VALUE=DATE:20141210\r\nRDATE;VALUE=DATE:20131210\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:b\r\nRECURRENCE-ID;VALUE=DATE:20131210\r\nSUMMARY:Geburtstag\r\nDTSTART;VALUE=DATE:20131210\r\n"
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:c\r\nRECURRENCE-ID;VALUE=DATE:20131210\r\nSUMMARY:Jubiläum\r\n"
        "DTSTART;VALUE=DATE:20131210\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:d\r\nRECURRENCE-ID;VALUE=DATE:20121210\r\n"
        "SUMMARY:Geburtstag\r\nDTSTART;VALUE=DATE:20121210")
    result = run(body)
    # b repeats a's RDATE under the same title: dropped; c (other title) and d (other date) stay
    assert sorted(e.source_uid.split("/")[0] for e in result.events) == ["a", "c", "d"]


@pytest.mark.shared
def test_exdates_on_different_lines_are_all_kept():
    ev = corpus("icalendar__event_with_recurrence_exdates_on_different_lines.ics").events[0]
    assert len(ev.exdates) > 1


@pytest.mark.shared
def test_duration_gives_the_end():
    ev = corpus("recurring-ical-events__duration.ics").events[0]
    assert ev.end is not None and ev.end > ev.start


# ------------------------------------------------------------------ khal, calagator, mergecal expectations


@pytest.mark.shared
def test_windows_zone_name_maps_to_iana():
    ev = corpus("khal__tz_windows_format.ics").events[0]
    assert ev.start.tzinfo == ZoneInfo("Pacific/Auckland")


@pytest.mark.shared
def test_unknown_tzid_without_vtimezone_is_floating_with_a_warning():
    result = corpus("khal__event_dt_local_missing_tz.ics")
    ev = result.events[0]
    # floating: normalize reads it in the source's zone (Europe/Berlin here)
    assert (ev.start, ev.end) == (datetime(2014, 4, 9, 9, 30), datetime(2014, 4, 9, 10, 30))
    assert any("FOO" in w for w in result.warnings)


@pytest.mark.shared
def test_gmt_tzid_is_utc():
    ev = corpus("calagator__ical_gmt.ics").events[0]
    assert (ev.start, ev.end) == (datetime(2020, 5, 7, 8, 0, tzinfo=UTC), datetime(2020, 5, 7, 9, 0, tzinfo=UTC))
    assert ev.start.tzinfo is UTC


@pytest.mark.shared
def test_z_times_are_utc():
    ev = corpus("calagator__ical_z.ics").events[0]
    assert (ev.start, ev.end) == (datetime(2010, 7, 1, 8, 0, tzinfo=UTC), datetime(2010, 7, 1, 9, 0, tzinfo=UTC))


@pytest.mark.shared
def test_three_calendars_sharing_one_uid_give_three_events():
    result = corpus("calagator__ical_multiple_calendars.ics")
    assert [e.title for e in result.events] == ["Coffee with Jason", "Coffee with Mike", "Coffee with Kim"]
    assert len({e.source_uid for e in result.events}) == 3


@pytest.mark.shared
def test_google_export():
    result = corpus("calagator__ical_google.ics")
    assert len(result.events) == 47
    first = result.events[0]
    assert first.title == "XPDX (eXtreme Programming) at CubeSpace"
    la = ZoneInfo("America/Los_Angeles")
    assert first.start == datetime(2007, 10, 24, 18, 30, tzinfo=la)
    assert first.end == datetime(2007, 10, 24, 19, 30, tzinfo=la)
    assert first.start.tzname() == "PDT"
    assert first.description == ""
    last = result.events[-1]
    assert last.title == "Adobe Developer User Group"
    assert last.description == "http://pdxria.com/"
    assert (at(last.start, la).hour, at(last.start, la).minute) == (17, 30)


@pytest.mark.shared
def test_end_from_duration():
    result = corpus("calagator__ical_basic_with_duration.ics")
    ev = result.events[0]
    assert ev.title == ""
    assert ev.start.replace(tzinfo=None) == datetime(2010, 4, 8, 0, 0)
    assert ev.end - ev.start == timedelta(hours=1)


@pytest.mark.shared
def test_apple_export():
    ev = corpus("calagator__ical_apple_v3.ics").events[0]
    assert ev.title == "Coffee with Jason"
    assert ev.end - ev.start == timedelta(hours=1)


@pytest.mark.shared
def test_eventful_export_keeps_order_and_titles():
    result = corpus("calagator__ical_eventful_many.ics")
    assert len(result.events) == 15
    assert result.events[0].title == "iMovie and iDVD Workshop"
    assert result.events[-1].title == "Wood Technology Clinic & Show"


@pytest.mark.shared
def test_events_without_uid_get_distinct_stable_uids():
    first = corpus("python-mergecal__no_uids_calendar.ics")
    again = corpus("python-mergecal__no_uids_calendar.ics")
    assert sorted(e.title for e in first.events) == ["Event with no UID 1", "Event with no UID 2", "Event with no UID 3"]
    assert [e.source_uid for e in first.events] == [e.source_uid for e in again.events]
    assert len({e.source_uid for e in first.events}) == 3


@pytest.mark.shared
def test_two_vcalendars_give_both_events():
    result = corpus("python-mergecal__two_vcalendars.ics")
    assert [e.title for e in result.events] == ["Event A", "Event B"]


@pytest.mark.shared
def test_recurrence_id_may_be_a_date():
    result = corpus("python-mergecal__calendar_with_date_recurrence_id.ics")
    assert any(e.recurrence_id is not None for e in result.events)


@pytest.mark.shared
def test_todos_are_ignored_with_a_warning():
    result = corpus("recurring-ical-events__issue_97_simple_todo.ics")
    assert result.events == []
    assert any("VTODO" in w for w in result.warnings)


# ------------------------------------------------------------------ our own cases


def wrap(*event_lines: str, extra: str = "") -> str:
    body = "\r\n".join(event_lines)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{extra}BEGIN:VEVENT\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


def test_html_error_page_raises_a_clear_extract_error():
    page = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not found</body></html>\n"
    with pytest.raises(ExtractError, match=r"not an iCalendar file: starts with '<!DOCTYPE html"):
        extract(page, CTX)


@pytest.mark.parametrize(
    "body", [b"", b"   \r\n  ", b"\x00\xff\xfe garbage", b"BEGIN:VTODO\r\nSUMMARY:x\r\nEND:VTODO\r\n", b"\xef\xbb\xbf"]
)
def test_empty_or_garbage_bodies_raise_extract_error(body):
    with pytest.raises(ExtractError) as info:
        extract(body, CTX)
    assert str(info.value)


def test_outlook_export_with_windows_zone_name():
    text = wrap(
        "UID:040000008200E00074C5B7101A82E008000000001",
        "SUMMARY:Netzwerktreffen",
        "DTSTART;TZID=W. Europe Standard Time:20250305T093000",
        "DTEND;TZID=W. Europe Standard Time:20250305T160000",
        extra=(
            "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n"
            "BEGIN:STANDARD\r\nDTSTART:16011028T030000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"
            "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
            "BEGIN:DAYLIGHT\r\nDTSTART:16010325T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
            "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
        ),
    )
    ev = run(text).events[0]
    assert ev.start == datetime(2025, 3, 5, 9, 30, tzinfo=BERLIN)
    assert ev.start.tzinfo == BERLIN and ev.end.tzinfo == BERLIN


def test_all_day_multi_day_event_keeps_dates_with_exclusive_end():
    result = run(wrap("UID:messe@x", "SUMMARY:Messe", "DTSTART;VALUE=DATE:20250916", "DTEND;VALUE=DATE:20250926"))
    ev = result.events[0]
    assert (ev.start, ev.end) == (date(2025, 9, 16), date(2025, 9, 26))
    assert not isinstance(ev.start, datetime)


def test_all_day_event_without_end_lasts_one_day_and_timed_event_has_no_end():
    result = run(
        wrap("UID:a@x", "DTSTART;VALUE=DATE:20250916", "END:VEVENT", "BEGIN:VEVENT", "UID:b@x", "DTSTART:20250916T100000")
    )
    a, b = result.events
    assert a.end == date(2025, 9, 17)
    assert b.start == datetime(2025, 9, 16, 10, 0) and b.end is None  # floating


def test_event_without_uid_gets_the_same_synthetic_uid_twice():
    text = wrap("SUMMARY:Stammtisch", "LOCATION:Jena", "DTSTART;TZID=Europe/Berlin:20250305T190000")
    one, two = run(text).events[0], run(text).events[0]
    assert one.source_uid == two.source_uid
    assert one.source_uid.startswith("nouid-")
    other = run(text.replace("Jena", "Erfurt")).events[0]
    assert other.source_uid != one.source_uid


def test_bare_vevent_fragment_is_wrapped():
    text = "BEGIN:VEVENT\nUID:frag@x\nSUMMARY:Fragment\nDTSTART:20250305T100000Z\nEND:VEVENT\n"
    result = run(text)
    assert [e.title for e in result.events] == ["Fragment"]
    assert result.events[0].start == datetime(2025, 3, 5, 10, 0, tzinfo=UTC)


def test_cp1252_bom_and_cr_line_endings_are_read():
    text = wrap("UID:u@x", "SUMMARY:Gründerstammtisch", "DTSTART:20250305T100000Z").replace("\r\n", "\r")
    result = extract(b"\xef\xbb\xbf" + text.encode("cp1252"), CTX)
    assert result.events[0].title == "Gründerstammtisch"


def test_truncated_download_keeps_complete_events():
    text = wrap("UID:u@x", "SUMMARY:Ganz", "DTSTART:20250305T100000Z")
    truncated = text.split("END:VCALENDAR")[0] + "BEGIN:VEVENT\r\nUID:v@x\r\nSUMMARY:Hal"
    result = run(truncated)
    assert [e.title for e in result.events] == ["Ganz"]
    assert any("truncated" in w for w in result.warnings)


def test_valid_calendar_without_events_gives_zero_events_and_a_warning():
    result = run("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
    assert result.events == []
    assert any("VTODO" in w for w in result.warnings) and any("no VEVENT" in w for w in result.warnings)


def test_duplicate_uid_keeps_the_higher_sequence():
    text = wrap(
        "UID:dup@x", "SEQUENCE:2", "SUMMARY:neu", "DTSTART:20250305T100000Z",
        "END:VEVENT", "BEGIN:VEVENT",
        "UID:dup@x", "SEQUENCE:1", "SUMMARY:alt", "DTSTART:20250305T100000Z",
    )
    result = run(text)
    assert [e.title for e in result.events] == ["neu"]
    assert any("duplicate" in w for w in result.warnings)


def test_duplicate_uid_with_equal_sequence_keeps_the_later_one():
    text = wrap(
        "UID:dup@x", "SUMMARY:erst", "DTSTART:20250305T100000Z",
        "END:VEVENT", "BEGIN:VEVENT",
        "UID:dup@x", "SUMMARY:dann", "DTSTART:20250305T100000Z",
    )
    assert [e.title for e in run(text).events] == ["dann"]


def test_fields_status_url_categories():
    text = wrap(
        "UID:f@x", "SUMMARY:Workshop", "DESCRIPTION:Zeile 1\\nZeile 2", "LOCATION:Weimar\\, Markt 1",
        "URL:https://example.org/e/1", "CATEGORIES:Digital,KI", "CATEGORIES:Netzwerk", "STATUS:TENTATIVE",
        "DTSTART;TZID=Europe/Berlin:20250305T093000", "DURATION:PT6H30M",
    )
    ev = run(text).events[0]
    assert ev.description == "Zeile 1\nZeile 2"
    assert ev.location == "Weimar, Markt 1"
    assert ev.url == "https://example.org/e/1"
    assert ev.categories == ("Digital", "KI", "Netzwerk")
    assert ev.status == "tentative"
    assert ev.end == datetime(2025, 3, 5, 16, 0, tzinfo=BERLIN)


def test_rrule_until_is_made_utc_for_zoned_start():
    text = wrap(
        "UID:r@x", "DTSTART;TZID=Europe/Berlin:20250303T100000", "RRULE:FREQ=WEEKLY;UNTIL=20250331;BYDAY=MO",
        "EXDATE;TZID=Europe/Berlin:20250310T100000", "RDATE;VALUE=DATE-TIME:20250402T100000Z",
    )
    ev = run(text).events[0]
    assert ev.rrule == "FREQ=WEEKLY;UNTIL=20250331T215959Z;BYDAY=MO"
    assert ev.exdates == (datetime(2025, 3, 10, 10, 0, tzinfo=BERLIN),)
    assert ev.rdates == (datetime(2025, 4, 2, 10, 0, tzinfo=UTC),)


def test_custom_prefixed_and_global_tzids_resolve():
    assert resolve_tzid("custom_America/New_York") == NEW_YORK
    assert resolve_tzid("/mozilla.org/20050126_1/America/New_York") == NEW_YORK
    assert resolve_tzid("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin") == BERLIN
    assert resolve_tzid("W. Europe Standard Time") == BERLIN
    assert resolve_tzid("GMT") is UTC and resolve_tzid("Z") is UTC
    assert resolve_tzid("UTC+11") is None
    assert resolve_tzid("Etc/GMT+1") == ZoneInfo("Etc/GMT+1")


def test_unknown_tzid_with_fixed_offset_name_and_no_vtimezone_is_an_instant():
    ev = run(wrap("UID:o@x", "DTSTART;TZID=\"(UTC+02:00) Kairo\":20250305T100000")).events[0]
    assert ev.start == datetime(2025, 3, 5, 8, 0, tzinfo=UTC)


def test_nothing_but_extract_error_escapes_for_mangled_input():
    base = wrap("UID:m@x", "SUMMARY:x", "DTSTART;TZID=Europe/Berlin:20250305T100000", "RRULE:FREQ=DAILY;COUNT=3")
    raw = base.encode()
    for cut in range(0, len(raw), 7):
        for mangled in (raw[:cut], raw[:cut] + b"\xff\x00" + raw[cut + 3 :], raw[cut:]):
            try:
                result = extract(mangled, CTX)
            except ExtractError:
                continue
            assert_output_convention(result)


def test_empty_rrule_means_no_recurrence_without_noise():
    result = run(wrap("UID:h@x", "DTSTART;VALUE=DATE:20250101", "RRULE:"))
    assert result.events[0].rrule is None
    assert result.warnings == []

"""Conflict rules: which occurrences of events of different networks collide, how they are scored,
and that the sweep finds exactly what comparing all pairs would."""

from __future__ import annotations

import itertools
import tempfile
import time as clock
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from aggregator.config import ConfigError, load_config
from aggregator.conflicts import (
    ConflictRules,
    city_of,
    conflicts_for,
    detect,
    find_conflicts,
    is_online,
    make_slot,
    score,
    slots,
)
from aggregator.model import Event, StoredEvent

# hypothesis keeps a cache folder; not in the working tree
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "netzwerktimer-hypothesis"))

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
T0 = datetime(2025, 1, 1, tzinfo=UTC)
RULES = ConflictRules()


def at(day: int, hour: int, minute: int = 0, month: int = 3, zone=BERLIN) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=zone)


def published(uid: str, network: str | tuple[str, ...], start, end=None, *, title=None, location="", status="confirmed", tzid="Europe/Berlin", **kw) -> StoredEvent:
    networks = (network,) if isinstance(network, str) else network
    event = Event(
        source_id=f"{networks[0]}-src",
        network_id=networks[0],
        source_uid=uid,
        title=title or uid,
        start=start,
        end=end,
        tzid="" if not isinstance(start, datetime) else tzid,
        location=location,
        status=status,
        **kw,
    )
    return StoredEvent(event=event, first_seen=T0, last_modified=T0, sequence=0, uid=uid, networks=networks)


def override(master: StoredEvent, original: datetime | date, start, end, *, status="confirmed", **kw) -> StoredEvent:
    from dataclasses import replace

    event = replace(master.event, recurrence_id=original.isoformat(), start=start, end=end, rrule=None, exdates=(), status=status, **kw)
    return StoredEvent(event=event, first_seen=T0, last_modified=T0, sequence=0, uid=master.uid, networks=master.networks)


WINDOW = (at(1, 0), at(1, 0, month=12))


def conflicts_of(*entries: StoredEvent, rules: ConflictRules = RULES, start=WINDOW[0], end=WINDOW[1]):
    return find_conflicts(slots(list(entries), start, end, zone=BERLIN, rules=rules), rules, zone=BERLIN)


def kinds(found) -> list[tuple[str, str, str]]:
    return [(c.kind, c.a.uid, c.b.uid) for c in found]


# ---------------------------------------------------------------- overlap edges


def test_events_of_two_networks_that_overlap_are_an_overlap_conflict_with_its_length():
    found = conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 11), at(5, 13)))
    assert kinds(found) == [("overlap", "a", "b")]
    assert found[0].overlap == timedelta(hours=1)


def test_one_minute_of_shared_time_is_an_overlap():
    found = conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 11, 59), at(5, 13)))
    assert kinds(found) == [("overlap", "a", "b")] and found[0].overlap == timedelta(minutes=1)


def test_touching_intervals_never_overlap_but_share_the_day():
    found = conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 12), at(5, 14)))
    assert kinds(found) == [("same_day", "a", "b")]
    assert found[0].overlap == timedelta(0)


def test_touching_intervals_are_no_conflict_when_only_overlaps_are_detected():
    rules = ConflictRules(kinds=("overlap",))
    assert conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 12), at(5, 14)), rules=rules) == []


def test_an_event_inside_another_overlaps_by_its_whole_length():
    found = conflicts_of(published("a", "theen", at(5, 9), at(5, 17)), published("b", "medways", at(5, 10), at(5, 11)))
    assert kinds(found) == [("overlap", "a", "b")] and found[0].overlap == timedelta(hours=1)


def test_events_on_different_days_do_not_conflict():
    assert conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(6, 10), at(6, 12))) == []


def test_a_timed_event_without_end_is_a_moment_inside_whatever_runs_then():
    inside = conflicts_of(published("a", "theen", at(5, 9), at(5, 17)), published("b", "medways", at(5, 10)))
    assert kinds(inside) == [("overlap", "a", "b")] and inside[0].overlap == timedelta(0)
    at_the_end = conflicts_of(published("a", "theen", at(5, 9), at(5, 17)), published("b", "medways", at(5, 17)))
    assert kinds(at_the_end) == [("same_day", "a", "b")]
    same_instant = conflicts_of(published("a", "theen", at(5, 10)), published("b", "medways", at(5, 10)))
    assert kinds(same_instant) == [("overlap", "a", "b")]


# ---------------------------------------------------------------- min_overlap


def test_an_overlap_shorter_than_min_overlap_is_only_same_day():
    rules = ConflictRules(min_overlap=timedelta(minutes=30))
    short = conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 11, 40), at(5, 13)), rules=rules)
    assert kinds(short) == [("same_day", "a", "b")]
    enough = conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 11, 30), at(5, 13)), rules=rules)
    assert kinds(enough) == [("overlap", "a", "b")] and enough[0].overlap == timedelta(minutes=30)


def test_min_overlap_applies_to_all_day_events_like_to_any_interval():
    rules = ConflictRules(min_overlap=timedelta(hours=2))
    found = conflicts_of(published("a", "theen", date(2025, 3, 5), date(2025, 3, 6)), published("b", "medways", at(5, 10), at(5, 11)), rules=rules)
    assert kinds(found) == [("same_day", "a", "b")]


# ---------------------------------------------------------------- all-day and multi-day


def test_an_all_day_event_overlaps_every_timed_event_of_its_day_by_the_timed_length():
    found = conflicts_of(published("a", "theen", date(2025, 3, 5), date(2025, 3, 6)), published("b", "medways", at(5, 10), at(5, 12)))
    assert kinds(found) == [("overlap", "a", "b")]
    assert found[0].overlap == timedelta(hours=2)
    assert found[0].a.all_day and found[0].a.start == at(5, 0) and found[0].a.end == at(6, 0)
    assert (found[0].a.day_start, found[0].a.day_end) == (date(2025, 3, 5), date(2025, 3, 6))


def test_an_all_day_event_does_not_touch_the_next_or_previous_day():
    day = published("a", "theen", date(2025, 3, 5), date(2025, 3, 6))
    assert conflicts_of(day, published("b", "medways", at(6, 0), at(6, 2))) == []
    assert conflicts_of(day, published("c", "medways", at(4, 22), at(5, 0))) == []  # ends at its midnight


def test_two_all_day_events_on_the_same_day_overlap_by_the_whole_day():
    found = conflicts_of(published("a", "theen", date(2025, 3, 5), None), published("b", "medways", date(2025, 3, 5), date(2025, 3, 6)))
    assert kinds(found) == [("overlap", "a", "b")] and found[0].overlap == timedelta(days=1)


def test_a_multi_day_event_conflicts_on_each_of_its_days():
    conference = published("conf", "theen", date(2025, 3, 5), date(2025, 3, 8))  # 5th to 7th, three days
    found = conflicts_of(
        conference,
        published("first", "medways", at(5, 9), at(5, 10)),
        published("last", "medways", at(7, 16), at(7, 18)),
        published("after", "medways", at(8, 9), at(8, 10)),
    )
    assert kinds(found) == [("overlap", "conf", "first"), ("overlap", "conf", "last")]


def test_a_timed_event_over_two_days_is_same_day_with_an_event_later_on_its_last_day():
    overnight = published("night", "theen", at(5, 18), at(6, 10))
    found = conflicts_of(overnight, published("morning", "medways", at(6, 9), at(6, 11)), published("noon", "medways", at(6, 12), at(6, 13)))
    assert kinds(found) == [("overlap", "night", "morning"), ("same_day", "night", "noon")]


def test_events_longer_than_ignore_longer_than_never_conflict():
    exhibition = published("expo", "theen", date(2025, 3, 3), date(2025, 3, 7))  # four days
    week = published("week", "medways", at(3, 9), at(7, 17))  # timed, four days
    workshop = published("ws", "thzm", at(5, 10), at(5, 12))
    assert conflicts_of(exhibition, week, workshop) == []
    assert [s.uid for s in slots([exhibition, week, workshop], at(1, 0), at(31, 0), zone=BERLIN, rules=RULES)] == ["ws"]
    longer_allowed = ConflictRules(ignore_longer_than=timedelta(days=7))
    assert kinds(conflicts_of(exhibition, workshop, rules=longer_allowed)) == [("overlap", "expo", "ws")]


def test_an_event_exactly_as_long_as_the_limit_still_conflicts():
    three_days = published("three", "theen", date(2025, 3, 5), date(2025, 3, 8))
    assert kinds(conflicts_of(three_days, published("ws", "medways", at(6, 10), at(6, 12)))) == [("overlap", "three", "ws")]


# ---------------------------------------------------------------- recurrence


def weekly(uid="series", network="theen", **kw) -> StoredEvent:
    # Tuesdays 10:00–12:00 from 4 March 2025
    return published(uid, network, at(4, 10), at(4, 12), rrule="FREQ=WEEKLY", **kw)


def test_a_weekly_series_collides_once_per_occurrence_inside_the_window():
    series = weekly()
    others = [published(f"b{d}", "medways", at(d, 11), at(d, 13)) for d in (4, 11, 18, 25)]
    found = conflicts_of(series, *others, start=at(1, 0), end=at(20, 0))  # window ends before the 25th
    assert kinds(found) == [("overlap", "series", "b4"), ("overlap", "series", "b11"), ("overlap", "series", "b18")]
    assert [c.a.recurrence_id[:10] for c in found] == ["2025-03-04", "2025-03-11", "2025-03-18"]
    assert len({c.id for c in found}) == 3


def test_a_series_against_a_series_collides_per_occurrence_within_the_horizon():
    rules = ConflictRules(horizon=timedelta(days=28))
    found = detect([weekly(), published("other", "medways", at(4, 11), at(4, 13), rrule="FREQ=WEEKLY")], at(3, 0), zone=BERLIN, rules=rules)
    assert [c.a.start for c in found] == [at(4, 10), at(11, 10), at(18, 10), at(25, 10)]
    assert all(c.kind == "overlap" for c in found)


def test_exdated_occurrences_do_not_collide():
    series = weekly(exdates=(at(11, 10),))
    found = conflicts_of(series, *[published(f"b{d}", "medways", at(d, 11), at(d, 13)) for d in (4, 11, 18)])
    assert kinds(found) == [("overlap", "series", "b4"), ("overlap", "series", "b18")]


def test_cancelled_and_moved_occurrences_count_as_they_are_now():
    series = weekly()
    moved = override(series, at(11, 10), at(11, 14), at(11, 16))
    cancelled = override(series, at(18, 10), at(18, 10), at(18, 12), status="cancelled")
    others = [published(f"b{d}", "medways", at(d, 11), at(d, 13)) for d in (4, 11, 18)]
    found = conflicts_of(series, moved, cancelled, *others, end=at(20, 0))
    assert kinds(found) == [("overlap", "series", "b4"), ("same_day", "b11", "series")]
    assert found[1].b.start == at(11, 14) and found[1].b.recurrence_id == moved.event.recurrence_id


def test_all_occurrences_of_one_series_never_conflict_with_each_other():
    daily = published("daily", "theen", at(4, 10), at(5, 11), rrule="FREQ=DAILY;COUNT=5")  # each 25 hours: they overlap
    assert conflicts_of(daily) == []


# ---------------------------------------------------------------- time zones and DST


def test_utc_and_berlin_times_compare_as_instants_on_the_day_the_clocks_go_back():
    # 26 October 2025: Berlin is UTC+1 from 03:00 (CEST → CET)
    berlin = published("berlin", "theen", at(26, 9, month=10), at(26, 11, month=10))  # 08:00–10:00 UTC
    utc = published("utc", "medways", at(26, 9, 30, month=10, zone=UTC), at(26, 10, 30, month=10, zone=UTC), tzid="UTC")
    found = conflicts_of(berlin, utc)
    assert kinds(found) == [("overlap", "berlin", "utc")] and found[0].overlap == timedelta(minutes=30)
    touching = published("utc2", "medways", at(26, 10, month=10, zone=UTC), at(26, 11, month=10, zone=UTC), tzid="UTC")
    assert kinds(conflicts_of(berlin, touching)) == [("same_day", "berlin", "utc2")]


def test_a_weekly_berlin_series_keeps_its_local_time_across_the_switch():
    series = published("series", "theen", at(19, 9, month=10), at(19, 10, month=10), rrule="FREQ=WEEKLY;COUNT=2")  # 07:00Z, then 08:00Z
    seven_utc = [published(f"utc{d}", "medways", at(d, 7, month=10, zone=UTC), at(d, 8, month=10, zone=UTC), tzid="UTC") for d in (19, 26)]
    found = conflicts_of(series, *seven_utc)
    assert kinds(found) == [("overlap", "series", "utc19"), ("same_day", "utc26", "series")]


def test_the_local_day_of_a_utc_event_decides_same_day():
    late_utc = published("late", "medways", at(25, 23, 30, month=10, zone=UTC), at(25, 23, 45, month=10, zone=UTC), tzid="UTC")  # 01:30 on the 26th in Berlin
    berlin = published("berlin", "theen", at(26, 15, month=10), at(26, 16, month=10))
    assert kinds(conflicts_of(late_utc, berlin)) == [("same_day", "late", "berlin")]
    assert conflicts_of(late_utc, published("day_before", "theen", at(25, 15, month=10), at(25, 16, month=10))) == []


def test_an_all_day_event_on_the_switch_day_is_25_hours_of_berlin_time():
    day = published("day", "theen", date(2025, 10, 26), date(2025, 10, 27))
    just_before_midnight = published("late", "medways", at(26, 22, 30, month=10, zone=UTC), at(26, 22, 50, month=10, zone=UTC), tzid="UTC")  # 23:30 CET
    found = conflicts_of(day, just_before_midnight)
    assert kinds(found) == [("overlap", "day", "late")]
    assert found[0].a.end.astimezone(UTC) - found[0].a.start.astimezone(UTC) == timedelta(hours=25)
    assert found[0].a.duration == timedelta(days=1)  # as days, for ignore_longer_than


# ---------------------------------------------------------------- who never conflicts


def test_events_of_the_same_network_never_conflict():
    assert conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "theen", at(5, 10), at(5, 12))) == []


def test_a_merged_event_never_conflicts_with_an_event_of_one_of_its_networks():
    merged = published("merged", ("theen", "medways"), at(5, 10), at(5, 12))
    assert conflicts_of(merged, published("m", "medways", at(5, 11), at(5, 13))) == []
    assert conflicts_of(merged, published("t", "theen", at(5, 11), at(5, 13))) == []
    assert kinds(conflicts_of(merged, published("z", "thzm", at(5, 11), at(5, 13)))) == [("overlap", "merged", "z")]


def test_an_event_without_merged_networks_uses_its_own_network():
    from dataclasses import replace

    a = replace(published("a", "theen", at(5, 10), at(5, 12)), networks=())
    b = replace(published("b", "theen", at(5, 10), at(5, 12)), networks=())
    assert conflicts_of(a, b) == []


def test_cancelled_events_do_not_conflict():
    cancelled = published("a", "theen", at(5, 10), at(5, 12), status="cancelled")
    assert conflicts_of(cancelled, published("b", "medways", at(5, 10), at(5, 12))) == []
    assert conflicts_of(weekly(status="cancelled"), published("b", "medways", at(4, 10), at(4, 12))) == []


def test_tentative_events_do_conflict():
    tentative = published("a", "theen", at(5, 10), at(5, 12), status="tentative")
    assert kinds(conflicts_of(tentative, published("b", "medways", at(5, 10), at(5, 12)))) == [("overlap", "a", "b")]


# ---------------------------------------------------------------- kinds


def test_a_pair_that_overlaps_is_reported_once_as_overlap_not_also_as_same_day():
    found = conflicts_of(published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 11), at(5, 13)))
    assert [c.kind for c in found] == ["overlap"]


def test_kinds_filter_what_is_reported_but_not_how_a_pair_is_classified():
    a, b, c = (published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 11), at(5, 13)), published("c", "thzm", at(5, 15), at(5, 16)))
    assert kinds(conflicts_of(a, b, c, rules=ConflictRules(kinds=("same_day",)))) == [("same_day", "a", "c"), ("same_day", "b", "c")]
    assert kinds(conflicts_of(a, b, c, rules=ConflictRules(kinds=("overlap",)))) == [("overlap", "a", "b")]
    assert conflicts_of(a, b, c, rules=ConflictRules(kinds=())) == []
    with pytest.raises(ValueError):
        ConflictRules(kinds=("clash",))


def test_a_multi_day_pair_sharing_two_days_is_one_same_day_conflict():
    a = published("a", "theen", at(5, 8), at(6, 9))
    b = published("b", "medways", at(5, 9, 0, zone=BERLIN) - timedelta(hours=2), at(5, 7, 30))  # 07:00–07:30 on the 5th
    c = published("c", "thzm", at(6, 10), at(6, 11))
    found = conflicts_of(a, b, c)
    assert kinds(found) == [("same_day", "b", "a"), ("same_day", "a", "c")]


# ---------------------------------------------------------------- identity and order


def test_the_same_collision_has_the_same_id_whatever_the_input_order():
    entries = [published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 11), at(5, 13)), published("c", "thzm", at(5, 9), at(5, 10, 30))]
    first = conflicts_of(*entries)
    again = conflicts_of(*reversed(entries))
    assert [c.id for c in first] == [c.id for c in again]
    assert [(c.a.uid, c.b.uid) for c in first] == [(c.a.uid, c.b.uid) for c in again]
    assert all(len(c.id) == 64 for c in first)


def test_a_moved_event_makes_a_different_conflict():
    a = published("a", "theen", at(5, 10), at(5, 12))
    before = conflicts_of(a, published("b", "medways", at(5, 11), at(5, 13)))
    after = conflicts_of(a, published("b", "medways", at(5, 11, 30), at(5, 13)))
    assert before[0].id != after[0].id


def test_conflicts_come_ordered_by_the_earlier_start():
    entries = [published(f"n{i}", f"net{i}", at(5 + i % 3, 10 + i % 4), at(5 + i % 3, 14)) for i in range(8)]
    found = conflicts_of(*entries)
    assert found == sorted(found, key=lambda c: (c.a.start, c.id))
    assert all((c.a.start, c.a.end) <= (c.b.start, c.b.end) for c in found)


def test_a_planned_slot_lists_what_it_would_collide_with():
    existing = slots([published("a", "theen", at(5, 10), at(5, 12)), published("b", "medways", at(5, 15), at(5, 16)), published("c", "thzm", at(6, 10), at(6, 12))],
                     at(1, 0), at(31, 0), zone=BERLIN, rules=RULES)
    planned = make_slot("new", at(5, 11), at(5, 13), ("thzm",), zone=BERLIN)
    found = conflicts_for(planned, existing, RULES, zone=BERLIN)
    assert [(c.kind, (c.b if c.a is planned else c.a).uid) for c in found] == [("overlap", "a"), ("same_day", "b")]


# ---------------------------------------------------------------- score


def scored(loc_a: str, loc_b: str, *, start_b=None, end_b=None) -> float:
    start_b, end_b = start_b or at(5, 10), end_b or at(5, 12)
    found = conflicts_of(published("a", "theen", at(5, 10), at(5, 12), location=loc_a), published("b", "medways", start_b, end_b, location=loc_b))
    assert len(found) == 1
    return found[0].score


def test_same_venue_scores_above_same_city_above_other_cities():
    venue = scored("Haus der Wirtschaft, Löberwallgraben 8, 99096 Erfurt", "haus der wirtschaft, Löberwallgraben 8, 99096 ERFURT")
    city = scored("Haus der Wirtschaft, Löberwallgraben 8, 99096 Erfurt", "Kaisersaal, Futterstraße 15, 99084 Erfurt")
    unknown = scored("Haus der Wirtschaft, Löberwallgraben 8, 99096 Erfurt", "")
    other = scored("Haus der Wirtschaft, Löberwallgraben 8, 99096 Erfurt", "Ernst-Abbe-Hochschule, Carl-Zeiss-Promenade 2, 07745 Jena")
    assert venue == 100.0
    assert venue > city > unknown > other > 0


def test_online_events_weigh_less_than_on_site_ones():
    on_site = scored("99096 Erfurt", "07745 Jena")
    one_online = scored("99096 Erfurt", "Online (Zoom)")
    both_online = scored("Webinar", "online")
    assert on_site > one_online > both_online > 0


def test_a_larger_share_of_the_shorter_event_overlapped_scores_higher():
    full = scored("99096 Erfurt", "99096 Erfurt", start_b=at(5, 10, 30), end_b=at(5, 11, 30))
    half = scored("99096 Erfurt", "99096 Erfurt", start_b=at(5, 11), end_b=at(5, 13))
    quarter = scored("99096 Erfurt", "99096 Erfurt", start_b=at(5, 11, 30), end_b=at(5, 13, 30))
    assert full > half > quarter


def test_every_overlap_outranks_every_same_day_pair():
    a, b = make_slot("a", at(5, 10), at(5, 11), ("x",), location="Webinar"), make_slot("b", at(5, 10, 59), at(5, 20), ("y",), location="Online")
    worst_overlap = score("overlap", a, b, timedelta(minutes=1))
    c, d = make_slot("c", at(5, 8), at(5, 9), ("x",), location="Kaisersaal, 99084 Erfurt"), make_slot("d", at(5, 10), at(5, 11), ("y",), location="Kaisersaal, 99084 Erfurt")
    best_same_day = score("same_day", c, d, timedelta(0))
    assert worst_overlap > best_same_day


# ---------------------------------------------------------------- places


@pytest.mark.parametrize(
    "location,city",
    [
        ("Haus der Wirtschaft, Löberwallgraben 8, 99096 Erfurt", "Erfurt"),
        ("Ernst-Abbe-Hochschule Jena, Carl-Zeiss-Promenade 2", "Jena"),
        ("07745 Jena-Lobeda", "Jena"),
        ("Weimarer Straße 3, Erfurt", "Erfurt"),
        ("TU Ilmenau, Ehrenbergstraße 29, 98693 Ilmenau, Deutschland", "Ilmenau"),
        ("Rathaus, 07743 Dornburg-Camburg", "Dornburg-Camburg"),
        ("Kurhaus Bad Langensalza", "Bad Langensalza"),
        ("Online", ""),
        ("", ""),
    ],
)
def test_the_city_is_read_from_the_postcode_or_a_known_name(location, city):
    assert city_of(location) == city


@pytest.mark.parametrize(
    "location,online",
    [("Online", True), ("Webinar", True), ("virtuell via MS Teams", True), ("Digital", True), ("Online-Seminar", True),
     ("Zentrum für Digitalisierung, 99084 Erfurt", False), ("99096 Erfurt", False), ("", False),
     # hybrid (kind jsonld's MixedEventAttendanceMode): on site as well, so not online
     ("Studio Weimar, Frauenplan 1, 99423 Weimar; online: https://meet.example/x", False),
     ("Haus der Wirtschaft, Erfurt; online", False),
     ("online; https://meet.example/x", True), ("Webinar | https://zoom.us/j/1", True)],
)
def test_online_is_read_from_the_location(location, online):
    assert is_online(location) is online


# ---------------------------------------------------------------- configuration


def test_the_conflicts_section_of_sources_toml_becomes_the_rules(tmp_path: Path):
    path = tmp_path / "sources.toml"
    path.write_text('[conflicts]\nkinds = ["overlap"]\nignore_longer_than = "2d"\nmin_overlap = "15m"\nhorizon = "12w"\ndigest_kinds = ["overlap", "same_day"]\n', encoding="utf-8")
    config = load_config(path)
    assert config.conflicts.rules() == ConflictRules(kinds=("overlap",), ignore_longer_than=timedelta(days=2), min_overlap=timedelta(minutes=15), horizon=timedelta(weeks=12))
    assert config.conflicts.digest_kinds == ["overlap", "same_day"]


def test_the_conflicts_defaults_are_the_rules_defaults(tmp_path: Path):
    path = tmp_path / "sources.toml"
    path.write_text('[conflicts]\nmin_overlap = "0"\n', encoding="utf-8")
    config = load_config(path)
    assert config.conflicts.rules() == ConflictRules()
    assert config.conflicts.digest_kinds == ["overlap"]


@pytest.mark.parametrize("line,key", [('kinds = ["clash"]', "conflicts.kinds"), ('min_overlap = "soon"', "conflicts.min_overlap"), ("colour = 1", "conflicts.colour")])
def test_a_wrong_conflicts_section_is_refused_with_the_key(tmp_path: Path, line, key):
    path = tmp_path / "sources.toml"
    path.write_text(f"[conflicts]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert key in str(info.value)


# ---------------------------------------------------------------- the sweep equals all pairs

NETWORKS = ("a", "b", "c", "d")
BASE = datetime(2025, 10, 24, tzinfo=BERLIN)  # the clocks go back on the 26th


def reference(items, rules: ConflictRules, zone) -> dict:
    """All pairs, straight from the rules: the sweep must find exactly this."""

    def days(s):
        if s.all_day:
            return {s.day_start + timedelta(days=k) for k in range((s.day_end - s.day_start).days)}
        first = s.start.astimezone(zone).date()
        end = s.end.astimezone(UTC)
        last = (end - timedelta(microseconds=1)).astimezone(zone).date() if end > s.start.astimezone(UTC) else first
        return {first + timedelta(days=k) for k in range((last - first).days + 1)}

    def intersect(x, y):
        xs, xe, ys, ye = (v.astimezone(UTC) for v in (x.start, x.end, y.start, y.end))
        if xe > xs and ye > ys:
            return xs < ye and ys < xe
        if xe == xs and ye == ys:
            return xs == ys
        (ms, _), (ss, se) = ((xs, xe), (ys, ye)) if xe == xs else ((ys, ye), (xs, xe))
        return ss <= ms < se

    out = {}
    for x, y in itertools.combinations(items, 2):
        if x.uid == y.uid or set(x.networks) & set(y.networks):
            continue
        # in UTC: datetimes of one zone subtract as wall-clock time
        xs, xe, ys, ye = (v.astimezone(UTC) for v in (x.start, x.end, y.start, y.end))
        overlap = max(timedelta(0), min(xe, ye) - max(xs, ys))
        if intersect(x, y) and overlap >= rules.min_overlap:
            kind = "overlap"
        elif days(x) & days(y):
            kind = "same_day"
        else:
            continue
        if kind in rules.kinds:
            out[(kind, frozenset([x.key, y.key]))] = overlap
    return out


@st.composite
def random_slot(draw, uid):
    networks = tuple(sorted(draw(st.sets(st.sampled_from(NETWORKS), min_size=1, max_size=2))))
    if draw(st.booleans()) and draw(st.booleans()):  # a quarter all-day
        first = BASE.date() + timedelta(days=draw(st.integers(0, 5)))
        return make_slot(uid, first, first + timedelta(days=draw(st.integers(1, 3))), networks, zone=BERLIN)
    start = BASE + timedelta(minutes=15 * draw(st.integers(0, 6 * 96)))
    length = draw(st.sampled_from([0, 15, 30, 60, 120, 240, 600, 1440, 2000]))
    zone = draw(st.sampled_from([BERLIN, UTC]))
    return make_slot(uid, start.astimezone(zone), start.astimezone(zone) + timedelta(minutes=length), networks, zone=BERLIN)


@st.composite
def slot_sets(draw):
    n = draw(st.integers(0, 40))
    uids = [f"e{draw(st.integers(0, max(0, n - 1)))}" for _ in range(n)]  # some share a uid (a series)
    items = {}
    for uid in uids:
        slot = draw(random_slot(uid))
        items.setdefault(slot.key, slot)  # one event has one occurrence per start
    return list(items.values())


@settings(max_examples=200, deadline=None, database=None)
@given(
    items=slot_sets(),
    min_overlap=st.sampled_from([timedelta(0), timedelta(minutes=30), timedelta(hours=2)]),
    kinds=st.sampled_from([("overlap", "same_day"), ("overlap",), ("same_day",)]),
    # 25: the capped search (never reached by these small sets, so it must list every pair);
    # None: the uncapped sweep of max_per_event = 0
    cap=st.sampled_from([25, None]),
)
def test_the_sweep_finds_exactly_the_conflicts_of_comparing_all_pairs(items, min_overlap, kinds, cap):
    rules = ConflictRules(kinds=kinds, min_overlap=min_overlap, max_per_event=cap)
    found = find_conflicts(items, rules, zone=BERLIN)
    got = {(c.kind, frozenset([c.a.key, c.b.key])): c.overlap for c in found}
    assert len(got) == len(found), "a pair reported twice"
    assert got == reference(items, rules, BERLIN)
    assert [(c.a.start, c.id) for c in found] == sorted((c.a.start, c.id) for c in found)
    assert all(0 < c.score <= 100 for c in found)


def test_the_sweep_handles_a_busy_half_year_quickly():
    # ~10 events a working day across 24 networks for 180 days: all pairs would be ~1.3e7 comparisons
    items = []
    for i in range(5200):
        day = BASE + timedelta(days=i // 10 * 7 // 5)
        start = day.replace(hour=8) + timedelta(minutes=37 * (i % 17))
        items.append(make_slot(f"e{i}", start, start + timedelta(hours=1 + i % 3), (f"n{i % 24}",), zone=BERLIN))
    began = clock.perf_counter()
    found = find_conflicts(items, ConflictRules(kinds=("overlap",)), zone=BERLIN)
    assert found
    assert clock.perf_counter() - began < 5


# ---------------------------------------------------------------- the cap: each event's top K


def top_k_reference(items, rules, k):
    """Every pair from the uncapped detection; a pair is kept when it is among the top k of either side,
    ranked by score (higher first), then by the rival's order (start, end, uid, recurrence id)."""
    from dataclasses import replace as _replace

    from aggregator.conflicts import _order

    every = find_conflicts(items, _replace(rules, max_per_event=None), zone=BERLIN)
    by_slot: dict = {}
    for c in every:
        by_slot.setdefault(c.a.key, []).append((-c.score, _order(c.b), c.id))
        by_slot.setdefault(c.b.key, []).append((-c.score, _order(c.a), c.id))
    kept = set()
    for ranked in by_slot.values():
        kept |= {cid for _, _, cid in sorted(ranked)[:k]}
    rivals = {key: len(v) for key, v in by_slot.items()}
    return {c.id for c in every if c.id in kept}, rivals, len(every)


@settings(max_examples=200, deadline=None, database=None)
@given(
    items=slot_sets(),
    k=st.integers(1, 6),
    min_overlap=st.sampled_from([timedelta(0), timedelta(minutes=30)]),
    kinds=st.sampled_from([("overlap", "same_day"), ("overlap",), ("same_day",)]),
    places=st.lists(st.sampled_from(["", "Online", "Haus der Wirtschaft, 99096 Erfurt", "Kaisersaal, 99084 Erfurt",
                                     "Volkshaus, 07743 Jena", "Saal 2", "Zoom"]), min_size=1, max_size=40),
)
def test_a_cap_keeps_the_top_k_of_either_side_and_counts_the_rest(items, k, min_overlap, kinds, places):
    from dataclasses import replace as _replace

    items = [_replace(s, location=places[n % len(places)], online=is_online(places[n % len(places)]),
                      city=city_of(places[n % len(places)])) for n, s in enumerate(items)]
    rules = ConflictRules(kinds=kinds, min_overlap=min_overlap, max_per_event=k)
    found = find_conflicts(items, rules, zone=BERLIN)
    want, rivals, total = top_k_reference(items, rules, k)
    assert {c.id for c in found} == want
    assert len({c.id for c in found}) == len(found)
    assert found.total == total
    listed: dict = {}
    for c in found:
        listed[c.a.key] = listed.get(c.a.key, 0) + 1
        listed[c.b.key] = listed.get(c.b.key, 0) + 1
    assert found.more == {key: n - listed.get(key, 0) for key, n in rivals.items() if n > listed.get(key, 0)}
    uncapped = {c.id: c for c in find_conflicts(items, _replace(rules, max_per_event=None), zone=BERLIN)}
    for c in found:  # the same kind, score and overlap as without the cap
        assert (c.kind, c.score, c.overlap) == (uncapped[c.id].kind, uncapped[c.id].score, uncapped[c.id].overlap)


def test_a_cap_that_is_not_reached_changes_nothing():
    items = [make_slot(f"e{i}", BASE + timedelta(hours=i % 5), BASE + timedelta(hours=i % 5 + 2), (f"n{i}",), zone=BERLIN)
             for i in range(12)]
    every = find_conflicts(items, ConflictRules(max_per_event=None), zone=BERLIN)
    capped = find_conflicts(items, ConflictRules(max_per_event=11), zone=BERLIN)
    assert [(c.id, c.score) for c in capped] == [(c.id, c.score) for c in every]
    assert capped.more == {} and capped.total == len(every) == 66


def test_a_crowded_day_lists_each_events_worst_rivals_and_counts_the_others():
    # 30 events of 30 networks at 10-12 in Erfurt; one of them shares its venue with e0
    place = "Haus der Wirtschaft, 99096 Erfurt"
    items = [make_slot(f"e{i:02d}", BASE.replace(hour=10), BASE.replace(hour=12), (f"n{i}",), zone=BERLIN,
                       location=place if i in (0, 29) else "Kaisersaal, 99084 Erfurt" if i % 2 else "Volkshaus, 07743 Jena")
             for i in range(30)]
    found = find_conflicts(items, ConflictRules(max_per_event=3), zone=BERLIN)
    of_e0 = sorted((c.score, c.b.uid if c.a.uid == "e00" else c.a.uid) for c in found if "e00" in (c.a.uid, c.b.uid))
    assert of_e0[-1] == (100.0, "e29")  # the same venue first
    assert len(of_e0) == 3
    assert found.total == 30 * 29 // 2
    assert found.more[items[0].key] == 29 - 3
    assert len(found) <= 30 * 3

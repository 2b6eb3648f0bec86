"""The direct VEVENT writer gives byte for byte what icalendar gives for the same
event: every property shape the merged calendar writes, text with every character
class icalendar treats specially, lines folded at every boundary."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.config import Network
from aggregator.model import Event, StoredEvent
from exporters import ics, vevent_lines

UTC = timezone.utc
ZONES = [ZoneInfo("Europe/Berlin"), ZoneInfo("America/Argentina/Buenos_Aires"), ZoneInfo("Etc/GMT+1"), UTC]
NETWORKS = {"ccit": Network(name="Cross-Cluster-Initiative Thüringen", short="CCIT"), "medways": Network(name="medways e.V.")}
DEFAULT = ZoneInfo("Europe/Berlin")

# Characters icalendar escapes or folds around, multi-byte ones of every length, and plain text.
SPECIAL = st.sampled_from(list("\\;,:^\"\n\r\t") + ["\\N", "\\n", "ä", "ß", "€", "𝄞", "😀", "\u0301", "\u2028", " "])
TEXT = st.lists(st.one_of(SPECIAL, st.text(min_size=1, max_size=12)), max_size=60).map("".join)


def both(stored: StoredEvent) -> tuple[bytes, bytes]:
    p = ics._prepare(stored, DEFAULT)
    assert p is not None
    return ics._vevent_bytes(p, NETWORKS), ics._vevent(p, NETWORKS).to_ical()


def stored(**kw) -> StoredEvent:
    event = Event(source_id=kw.pop("source_id", "s"), network_id=kw.pop("network_id", "ccit"), source_uid=kw.pop("source_uid", "u1"),
                  title=kw.pop("title", "Netzwerktreffen"), start=kw.pop("start", datetime(2026, 3, 5, 9, 30, tzinfo=DEFAULT)),
                  end=kw.pop("end", None), tzid=kw.pop("tzid", "Europe/Berlin"), **kw)
    return StoredEvent(event=event, first_seen=datetime(2026, 1, 2, 8, 0, tzinfo=UTC), last_modified=datetime(2026, 1, 3, 9, 30, 15, 123, tzinfo=UTC),
                       sequence=2, networks=("ccit", "medways", "unknown-net"))


@pytest.mark.parametrize("length", range(60, 160))
@pytest.mark.parametrize("filler", ["a", "ä", "€", "😀", "\\", "^", ",", "a\\", "ab^"])
def test_lines_fold_exactly_as_icalendar_folds_them_at_every_boundary(length, filler):
    text = (filler * length)[:length]
    fast, reference = both(stored(title=text, description=text, location=text[::-1]))
    assert fast == reference


@pytest.mark.parametrize("start,end,tzid", [
    (datetime(2026, 3, 5, 9, 30, tzinfo=ZoneInfo("Europe/Berlin")), datetime(2026, 3, 5, 12, tzinfo=ZoneInfo("Europe/Berlin")), "Europe/Berlin"),
    (datetime(2026, 3, 5, 9, 30, tzinfo=UTC), None, "UTC"),
    (datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 4, 0), "Europe/Berlin"),  # floating, into the DST gap
    (datetime(2026, 3, 5, 9, 30, tzinfo=UTC), datetime(2026, 3, 5, 11, tzinfo=UTC), "America/Argentina/Buenos_Aires"),
    (date(2026, 9, 16), date(2026, 9, 26), ""),
    (date(2026, 9, 16), None, ""),
    (datetime(2026, 3, 5, 9, 30, tzinfo=UTC), datetime(2026, 3, 5, 9, 0, tzinfo=UTC), "no/such-zone"),  # ends before it starts
])
def test_every_shape_of_time_is_written_as_icalendar_writes_it(start, end, tzid):
    fast, reference = both(stored(start=start, end=end, tzid=tzid))
    assert fast == reference


def test_an_override_and_a_cancelled_event_with_a_link_and_categories_are_written_as_icalendar_writes_them():
    fast, reference = both(stored(recurrence_id="2026-03-05T09:30:00+01:00", status="cancelled", url="https://example.org/a,b;c\\d?x=1&y=ä",
                                  categories=("Messe, Woche", "Energie;Wasserstoff", "CCIT")))
    assert fast == reference


def test_a_series_goes_through_icalendar():
    p = ics._prepare(stored(rrule="FREQ=WEEKLY;COUNT=3", exdates=(datetime(2026, 3, 12, 9, 30, tzinfo=DEFAULT),)), DEFAULT)
    assert ics._vevent_bytes(p, NETWORKS) == ics._vevent(p, NETWORKS).to_ical()
    assert b"RRULE:FREQ=WEEKLY;COUNT=3" in ics._vevent_bytes(p, NETWORKS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=TEXT, description=TEXT, location=TEXT, url=st.sampled_from(["", "https://example.org/x", "https://ex.org/ä?q=a,b;c", "javascript:alert(1)"]),
       categories=st.lists(TEXT, max_size=4).map(tuple), zone=st.sampled_from(ZONES), minutes=st.integers(0, 60 * 24 * 400),
       length=st.one_of(st.none(), st.integers(0, 60 * 24 * 3)), all_day=st.booleans(), status=st.sampled_from(["confirmed", "cancelled", "tentative", "odd"]),
       uid=TEXT)
def test_any_text_and_time_is_written_as_icalendar_writes_it(title, description, location, url, categories, zone, minutes, length, all_day, status, uid):
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    if all_day:
        begin, end, tzid = start.date(), (start.date() + timedelta(days=1 + (length or 0) // 1440)) if length is not None else None, ""
    else:
        begin, end = start.astimezone(zone), (start + timedelta(minutes=length)).astimezone(zone) if length is not None else None
        tzid = zone.key if isinstance(zone, ZoneInfo) else "UTC"
    fast, reference = both(stored(title=title, description=description, location=location, url=url, categories=categories,
                                  start=begin, end=end, tzid=tzid, status=status, source_uid=uid or "u"))
    assert fast == reference


def test_fold_never_leaves_a_line_of_75_octets_or_more():
    line = "DESCRIPTION:" + "ä€😀\\," * 200
    assert all(len(part) <= 74 for part in vevent_lines.fold(line).split(b"\r\n "))

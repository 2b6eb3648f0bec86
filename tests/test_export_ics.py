"""The ICS exporter: valid for Thunderbird (ical.js) and Evolution (libical), stable, injection-proof."""

from __future__ import annotations

import os
from dataclasses import replace
import random
import re
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

import aggregator
from aggregator.config import Network
from aggregator.model import Event, StoredEvent
from exporters.files import write_atomic
from exporters.ics import RenderedVevents, public_uid, render_calendar
from tests.support.shared import ics_check

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc

NETWORKS = {
    "ccit": Network(name="Cross-Cluster-Initiative Thüringen", short="CCIT"),
    "medways": Network(name="medways e.V."),
    "solar": Network(name="SolarInput e.V.", short="SolarInput"),
}

INJECTION = "Treffen\r\nBEGIN:VEVENT\r\nUID:evil; , \\ ende"


def stored(event: Event, *, seq: int = 0, modified: datetime | None = None) -> StoredEvent:
    return StoredEvent(
        event=event,
        first_seen=datetime(2025, 1, 2, 8, 0, tzinfo=UTC),
        last_modified=modified or datetime(2025, 1, 3, 9, 30, tzinfo=UTC),
        sequence=seq,
    )


def ev(source_uid: str, start, end=None, tzid="Europe/Berlin", network="ccit", **kw) -> Event:
    return Event(
        source_id=kw.pop("source_id", "ccit-ics"),
        network_id=network,
        source_uid=source_uid,
        title=kw.pop("title", f"Termin {source_uid}"),
        start=start,
        end=end,
        tzid=tzid,
        **kw,
    )


def sample() -> list[StoredEvent]:
    return [
        # Before and after the switch to summer time (30 March 2025) and back (26 October 2025).
        stored(ev("dst-before", datetime(2025, 3, 29, 10, tzinfo=BERLIN), datetime(2025, 3, 29, 12, tzinfo=BERLIN))),
        stored(ev("dst-after", datetime(2025, 3, 31, 10, tzinfo=BERLIN), datetime(2025, 3, 31, 12, tzinfo=BERLIN))),
        stored(ev("dst-night", datetime(2025, 10, 26, 1, 30, tzinfo=BERLIN), datetime(2025, 10, 26, 4, tzinfo=BERLIN))),
        stored(ev("utc", datetime(2025, 5, 6, 7, tzinfo=UTC), datetime(2025, 5, 6, 8, tzinfo=UTC), tzid="UTC",
                  network="medways")),
        stored(ev("nyc", datetime(2025, 6, 10, 9, tzinfo=NEW_YORK), datetime(2025, 6, 10, 17, tzinfo=NEW_YORK),
                  tzid="America/New_York", network="solar", location="New York, NY")),
        stored(ev("allday", date(2025, 9, 16), date(2025, 9, 26), tzid="", title="Cross-Cluster-Woche",
                  categories=("Messe", "Woche"))),
        stored(ev("series", datetime(2025, 3, 4, 18, tzinfo=BERLIN), datetime(2025, 3, 4, 19, 30, tzinfo=BERLIN),
                  title="Stammtisch", rrule="FREQ=WEEKLY;COUNT=12;BYDAY=TU",
                  exdates=(datetime(2025, 4, 15, 18, tzinfo=BERLIN),),
                  rdates=(datetime(2025, 4, 17, 18, tzinfo=BERLIN),)), seq=2),
        stored(ev("series", datetime(2025, 4, 23, 19, tzinfo=BERLIN), datetime(2025, 4, 23, 21, tzinfo=BERLIN),
                  title="Stammtisch (verlegt)", recurrence_id="2025-04-22T18:00:00+02:00"), seq=1),
        stored(ev("cancelled", datetime(2025, 7, 1, 14, tzinfo=BERLIN), datetime(2025, 7, 1, 15, tzinfo=BERLIN),
                  status="cancelled", title="Abgesagt: Sommerfest")),
        stored(ev("text", datetime(2025, 8, 20, 9, tzinfo=BERLIN), datetime(2025, 8, 20, 11, tzinfo=BERLIN),
                  title="Größe, Übung; Äpfel \\ Öl", location="Erfurt; Haus 3, Raum 2",
                  description="Zeile eins\nZeile zwei; mit, Zeichen\\\n\nÄußerst wichtig.",
                  url="https://example.org/termine?id=5&x=a,b;c", categories=("KI, Daten", "Förderung"),
                  network="medways")),
        stored(ev("inject", datetime(2025, 8, 21, 9, tzinfo=BERLIN), datetime(2025, 8, 21, 10, tzinfo=BERLIN),
                  title=INJECTION, location="Ort\nEND:VEVENT", url="javascript:alert(1)",
                  description="x\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR")),
        stored(ev("no-end", datetime(2025, 11, 5, 16, tzinfo=BERLIN), None, network="solar")),
    ]


def render(events) -> bytes:
    return render_calendar(events, networks=NETWORKS, name="Netzwerktimer – Test, Thüringen", refresh=timedelta(hours=6))


def parse(data: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(data)


def check(tmp_path: Path, data: bytes, name: str = "feed.ics") -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    [result] = ics_check(path)
    return result


def used_tzids(data: bytes) -> set[str]:
    cal = parse(data)
    tzids = set()
    for vevent in cal.walk("VEVENT"):
        for prop in ("DTSTART", "DTEND", "RDATE", "EXDATE", "RECURRENCE-ID"):
            values = vevent.get(prop)
            for value in values if isinstance(values, list) else [values]:
                if value is not None and "TZID" in value.params:
                    tzids.add(value.params["TZID"])
    return tzids


# --- validity ----------------------------------------------------------------


@pytest.mark.shared
def test_passes_both_clients(tmp_path):
    result = check(tmp_path, render(sample()))
    assert result["icaljs"]["parsed"] and result["icaljs"]["errors"] == [], result
    assert result["libical"]["parsed"] and result["libical"]["n_errors"] == 0, result
    assert result["ok"], result
    assert result["icaljs"]["vevents"] == len(sample())
    assert result["libical"]["vevents"] == len(sample())


@pytest.mark.shared
def test_empty_calendar_passes_both_clients(tmp_path):
    data = render([])
    result = check(tmp_path, data, "empty.ics")
    assert result["ok"], result
    cal = parse(data)
    assert cal.walk("VEVENT") == [] and cal.walk("VTIMEZONE") == []


def test_calendar_properties():
    data = render(sample())
    text = data.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    for line in [
        "VERSION:2.0",
        f"PRODID:-//Netzwerktimer//Netzwerktimer {aggregator.__version__}//DE",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Netzwerktimer – Test\\, Thüringen",
        "NAME:Netzwerktimer – Test\\, Thüringen",
        "REFRESH-INTERVAL;VALUE=DURATION:PT6H",
        "X-PUBLISHED-TTL:PT6H",
    ]:
        assert f"\r\n{line}\r\n" in text, line


def test_crlf_and_folding():
    data = render(sample())
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # folding never splits a character


# --- time zones --------------------------------------------------------------


def test_one_vtimezone_per_used_tzid():
    data = render(sample())
    zones = [tz["TZID"] for tz in parse(data).walk("VTIMEZONE")]
    assert sorted(zones) == sorted(set(zones)), "a VTIMEZONE appears twice"
    assert set(zones) == used_tzids(data) == {"Europe/Berlin", "America/New_York"}


def test_no_vtimezone_for_utc_or_all_day_only():
    events = [
        stored(ev("utc", datetime(2025, 5, 6, 7, tzinfo=UTC), None, tzid="UTC")),
        stored(ev("allday", date(2025, 9, 16), date(2025, 9, 17), tzid="")),
    ]
    data = render(events)
    assert parse(data).walk("VTIMEZONE") == []
    assert b"DTSTART:20250506T070000Z\r\n" in data
    assert b"DTSTART;VALUE=DATE:20250916\r\n" in data
    assert b"DTEND;VALUE=DATE:20250917\r\n" in data


def test_times_keep_their_zone_and_instant():
    data = render(sample())
    cal = parse(data)
    by_uid = {}
    for vevent in cal.walk("VEVENT"):
        by_uid.setdefault(str(vevent["UID"]), []).append(vevent)
    before = by_uid[public_uid("ccit-ics", "dst-before")][0]
    after = by_uid[public_uid("ccit-ics", "dst-after")][0]
    assert before["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert before["DTSTART"].dt == datetime(2025, 3, 29, 10, tzinfo=BERLIN)
    assert before["DTSTART"].dt.utcoffset() == timedelta(hours=1)
    assert after["DTSTART"].dt.utcoffset() == timedelta(hours=2)
    assert b"DTSTART;TZID=Europe/Berlin:20250329T100000\r\n" in data
    assert b"DTSTART;TZID=Europe/Berlin:20250331T100000\r\n" in data
    assert b"DTSTART;TZID=America/New_York:20250610T090000\r\n" in data
    assert b"DTEND;VALUE=DATE:20250926\r\n" in data


def test_vtimezone_offsets_match_zoneinfo(tmp_path):
    """The generated Europe/Berlin VTIMEZONE yields the same offsets as zoneinfo (ical.js reads it)."""
    data = render(sample())
    tz = next(t for t in parse(data).walk("VTIMEZONE") if t["TZID"] == "Europe/Berlin")
    text = tz.to_ical().decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in text
    # DAYLIGHT starts at 02:00 local standard time (the TZOFFSETFROM wall clock), as RFC 5545 wants.
    assert re.search(r"BEGIN:DAYLIGHT\r\nDTSTART:\d{4}03\d\dT020000\r\n", text), text
    zone = tz.to_tz()
    for when in [datetime(2025, 3, 30, 1, 59), datetime(2025, 3, 30, 3, 0), datetime(2030, 7, 1, 12),
                 datetime(2025, 10, 26, 3, 0), datetime(2040, 12, 24, 18)]:
        assert when.replace(tzinfo=zone).utcoffset() == when.replace(tzinfo=BERLIN).utcoffset(), when


def test_series_and_override():
    data = render(sample())
    cal = parse(data)
    uid = public_uid("ccit-ics", "series")
    series = [v for v in cal.walk("VEVENT") if str(v["UID"]) == uid]
    assert len(series) == 2
    master = next(v for v in series if "RECURRENCE-ID" not in v)
    override = next(v for v in series if "RECURRENCE-ID" in v)
    assert master["RRULE"]["FREQ"] == ["WEEKLY"]
    assert master["EXDATE"].dts[0].dt == datetime(2025, 4, 15, 18, tzinfo=BERLIN)
    assert master["RDATE"].dts[0].dt == datetime(2025, 4, 17, 18, tzinfo=BERLIN)
    assert master["EXDATE"].params["TZID"] == "Europe/Berlin"
    assert master["SEQUENCE"] == 2
    assert override["RECURRENCE-ID"].dt == datetime(2025, 4, 22, 18, tzinfo=BERLIN)
    assert override["RECURRENCE-ID"].params["TZID"] == "Europe/Berlin"
    assert "RRULE" not in override
    assert b"RECURRENCE-ID;TZID=Europe/Berlin:20250422T180000\r\n" in data


# --- stability ---------------------------------------------------------------


def test_byte_identical_and_order_independent():
    events = sample()
    first = render(events)
    assert render(events) == first
    shuffled = events[:]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert render(shuffled) == first
    assert render(reversed(events)) == first  # any iterable


def test_reused_vevents_give_the_same_bytes_as_rendering_afresh():
    events = sample()
    afresh = render(events)
    kept = RenderedVevents()
    render_calendar(events, networks=NETWORKS, name="Netzwerktimer – Test, Thüringen", refresh=timedelta(hours=6), rendered=kept)
    assert len(kept.added) == len(parse(afresh).walk("VEVENT"))
    again = RenderedVevents(known=dict(kept.known))
    reused = render_calendar(events, networks=NETWORKS, name="Netzwerktimer – Test, Thüringen", refresh=timedelta(hours=6), rendered=again)
    assert reused == afresh and again.added == {} and again.unused() == set()


def test_a_changed_event_or_renamed_network_is_rendered_anew_and_its_old_vevent_is_unused():
    events = sample()
    kept = RenderedVevents()
    render_calendar(events, networks=NETWORKS, name="x", refresh=timedelta(hours=6), rendered=kept)
    changed = [replace(events[0], event=replace(events[0].event, title="Neuer Titel"), sequence=events[0].sequence + 1), *events[1:]]
    again = RenderedVevents(known=dict(kept.known))
    data = render_calendar(changed, networks=NETWORKS, name="x", refresh=timedelta(hours=6), rendered=again)
    assert len(again.added) == 1 and len(again.unused()) == 1 and b"SUMMARY:Neuer Titel" in data
    renamed = {**NETWORKS, "ccit": NETWORKS["ccit"].model_copy(update={"short": "CCIT-neu"})}
    third = RenderedVevents(known=dict(kept.known))
    data = render_calendar(events, networks=renamed, name="x", refresh=timedelta(hours=6), rendered=third)
    assert third.added and b"CCIT-neu" in data
    assert data == render_calendar(events, networks=renamed, name="x", refresh=timedelta(hours=6))


def test_no_now_timestamps():
    data = render(sample())
    stamps = set(re.findall(rb"\r\n(?:DTSTAMP|LAST-MODIFIED):(\S+)\r\n", data))
    assert stamps == {b"20250103T093000Z"}
    assert set(re.findall(rb"\r\nCREATED:(\S+)\r\n", data)) == {b"20250102T080000Z"}


def test_events_sorted_by_start():
    cal = parse(render(sample()))
    starts = []
    for v in cal.walk("VEVENT"):
        dt = v["DTSTART"].dt
        if not isinstance(dt, datetime):
            dt = datetime.combine(dt, datetime.min.time(), BERLIN)
        starts.append(dt)
    assert starts == sorted(starts)


def test_public_uid():
    uid = public_uid("ccit-ics", "abc@example.org")
    assert uid == public_uid("ccit-ics", "abc@example.org")
    assert re.fullmatch(r"[0-9a-f]{40}@netzwerktimer", uid)
    assert "example" not in uid
    assert uid != public_uid("other", "abc@example.org")
    # The separator keeps ("a", "bc") and ("ab", "c") apart.
    assert public_uid("a", "bc") != public_uid("ab", "c")


def test_uids_stable_across_renders():
    uids = lambda data: [str(v["UID"]) for v in parse(data).walk("VEVENT")]  # noqa: E731
    first = uids(render(sample()))
    assert first == uids(render(sample()))
    assert set(first) == {public_uid(s.event.source_id, s.event.source_uid) for s in sample()}


# --- text --------------------------------------------------------------------


def test_injection_stays_inside_its_property():
    events = sample()
    data = render(events)
    cal = parse(data)
    vevents = cal.walk("VEVENT")
    assert len(vevents) == len(events)
    assert len(cal.walk("VCALENDAR")) == 1
    assert data.count(b"BEGIN:VEVENT\r\n") == len(events)
    assert data.count(b"\r\nEND:VCALENDAR\r\n") == 1
    inject = next(v for v in vevents if str(v["UID"]) == public_uid("ccit-ics", "inject"))
    summary = str(inject["SUMMARY"])
    assert "BEGIN:VEVENT" in summary and "UID:evil; , \\ ende" in summary
    assert "END:VEVENT" in str(inject["LOCATION"])
    assert "END:VCALENDAR" in str(inject["DESCRIPTION"])
    assert "URL" not in inject  # javascript: is not a link
    assert "Quelle" not in str(inject["DESCRIPTION"])


def test_title_with_crlf_cannot_add_an_event_to_the_ics():
    # Straight into the exporter, past normalize (which folds a title to one line already).
    description = 'Preis; 10,00 € \\ ermäßigt, "Tagesticket"\r\nZweite Zeile\nEND:VEVENT\rBEGIN:VEVENT\n'
    event = ev("crlf", datetime(2030, 3, 5, 10, tzinfo=BERLIN), datetime(2030, 3, 5, 12, tzinfo=BERLIN),
               title="Workshop\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:evil", description=description,
               location="Erfurt\r\nEND:VCALENDAR")
    (only,) = parse(render([stored(event)])).walk("VEVENT")
    assert str(only["SUMMARY"]) == "Workshop END:VEVENT BEGIN:VEVENT SUMMARY:evil"
    assert str(only["LOCATION"]) == "Erfurt END:VCALENDAR"
    assert str(only["DESCRIPTION"]) == 'Preis; 10,00 € \\ ermäßigt, "Tagesticket"\nZweite Zeile\nEND:VEVENT\nBEGIN:VEVENT\n\nNetzwerk: CCIT'


def test_text_fields():
    cal = parse(render(sample()))
    text = next(v for v in cal.walk("VEVENT") if str(v["UID"]) == public_uid("ccit-ics", "text"))
    assert str(text["SUMMARY"]) == "Größe, Übung; Äpfel \\ Öl"
    assert str(text["LOCATION"]) == "Erfurt; Haus 3, Raum 2"
    assert str(text["URL"]) == "https://example.org/termine?id=5&x=a,b;c"
    assert str(text["DESCRIPTION"]) == (
        "Zeile eins\nZeile zwei; mit, Zeichen\\\n\nÄußerst wichtig.\n\n"
        "Netzwerk: medways e.V.\nQuelle: https://example.org/termine?id=5&x=a,b;c"
    )
    assert list(text["CATEGORIES"].cats) == ["medways e.V.", "KI, Daten", "Förderung"]
    assert text["STATUS"] == "CONFIRMED" and text["TRANSP"] == "OPAQUE"


def test_network_label_status_and_missing_end():
    cal = parse(render(sample()))
    by_uid = {str(v["UID"]): v for v in cal.walk("VEVENT") if "RECURRENCE-ID" not in v}
    allday = by_uid[public_uid("ccit-ics", "allday")]
    assert list(allday["CATEGORIES"].cats) == ["CCIT", "Messe", "Woche"]
    assert str(allday["DESCRIPTION"]) == "Netzwerk: CCIT"
    assert by_uid[public_uid("ccit-ics", "cancelled")]["STATUS"] == "CANCELLED"
    no_end = by_uid[public_uid("ccit-ics", "no-end")]
    assert "DTEND" not in no_end and "DURATION" not in no_end
    assert list(no_end["CATEGORIES"].cats) == ["SolarInput"]


@pytest.mark.shared
def test_unknown_network_and_odd_values_still_valid(tmp_path):
    events = [
        stored(ev("x", datetime(2025, 5, 6, 7, tzinfo=BERLIN), datetime(2025, 5, 6, 6, tzinfo=BERLIN),
                  network="unbekannt", title="", rrule="RRULE:FREQ=DAILY;UNTIL=20250510")),
        stored(ev("y", date(2025, 5, 6), date(2025, 5, 6), tzid="", title="Null\x00Zeichen\x0b")),
        stored(ev("z", datetime(2025, 5, 6, 7), None, tzid="Mars/Olympus", rrule="kaputt")),
    ]
    data = render(events)
    result = check(tmp_path, data)
    assert result["ok"], result
    cal = parse(data)
    x = next(v for v in cal.walk("VEVENT") if str(v["UID"]) == public_uid("ccit-ics", "x"))
    assert "DTEND" not in x  # it ended before it started
    assert x["RRULE"]["UNTIL"][0] == datetime(2025, 5, 10, 21, 59, 59, tzinfo=ZoneInfo("UTC"))
    assert list(x["CATEGORIES"].cats) == ["unbekannt"]
    assert b"\x00" not in data and b"\x0b" not in data
    assert used_tzids(data) == {"Europe/Berlin"}


@pytest.mark.shared
def test_same_occurrence_twice_is_written_once(tmp_path):
    master = stored(ev("s", datetime(2025, 3, 4, 18, tzinfo=BERLIN), None, rrule="FREQ=WEEKLY;COUNT=5"))
    old = stored(ev("s", datetime(2025, 3, 11, 19, tzinfo=BERLIN), None, recurrence_id="2025-03-11T18:00:00+01:00",
                    title="alt"), seq=1)
    new = stored(ev("s", datetime(2025, 3, 11, 20, tzinfo=BERLIN), None, recurrence_id="2025-03-11T17:00:00+00:00",
                    title="neu"), seq=2)
    broken = stored(ev("s", datetime(2025, 3, 18, 20, tzinfo=BERLIN), None, recurrence_id="gestern"))
    for order in ([master, old, new, broken], [broken, new, old, master]):
        data = render(order)
        summaries = sorted(str(v["SUMMARY"]) for v in parse(data).walk("VEVENT"))
        assert summaries == ["Termin s", "neu"]
    assert check(tmp_path, data)["ok"]


def test_far_dates_do_not_break_the_timezone(tmp_path):
    events = [
        stored(ev("old", datetime(1, 1, 2, 12, tzinfo=BERLIN), None)),
        stored(ev("new", datetime(9999, 12, 30, 12, tzinfo=BERLIN), None)),
    ]
    data = render(events)
    assert [tz["TZID"] for tz in parse(data).walk("VTIMEZONE")] == ["Europe/Berlin"]


# --- write_atomic ------------------------------------------------------------


def test_write_atomic(tmp_path):
    path = tmp_path / "public" / "sub" / "feed.ics"
    data = render(sample())
    assert write_atomic(path, data) is True
    assert path.read_bytes() == data
    past = time.time() - 3600
    os.utime(path, (past, past))
    before = path.stat().st_mtime_ns
    assert write_atomic(path, data) is False
    assert path.stat().st_mtime_ns == before
    assert write_atomic(path, data + b"") is False
    assert write_atomic(path, render([])) is True
    assert path.read_bytes() == render([])
    assert path.stat().st_mtime_ns != before
    assert sorted(p.name for p in path.parent.iterdir()) == ["feed.ics"]  # no temp files left
    assert path.stat().st_mode & 0o044 == 0o044  # readable by the web server


def test_write_atomic_takes_the_calendar_in_parts_and_compares_them_without_joining(tmp_path):
    """``publish`` writes the calendar part by part (never joined in memory): the file is the
    parts joined, and the same bytes in other parts leave it untouched."""
    from exporters.ics import render_calendar_parts

    path = tmp_path / "feed.ics"
    parts = render_calendar_parts(sample(), networks=NETWORKS, name="Netzwerktimer – Test, Thüringen", refresh=timedelta(hours=6))
    assert len(parts) > 3
    assert write_atomic(path, parts) is True
    assert path.read_bytes() == b"".join(parts) == render(sample())
    before = path.stat().st_mtime_ns
    assert write_atomic(path, [b"".join(parts[:2]), *parts[2:]]) is False
    assert path.stat().st_mtime_ns == before
    changed = [*parts[:-2], parts[-2].replace(b"SUMMARY:", b"SUMMARY:X"), parts[-1]]
    assert write_atomic(path, changed) is True
    assert path.read_bytes() == b"".join(changed)
    assert write_atomic(path, parts[:-1]) is True  # a prefix of the file is a change too
    assert path.read_bytes() == b"".join(parts[:-1])


def test_a_temporary_file_left_by_a_killed_write_is_removed_by_a_later_one(tmp_path):
    # Found by the crash run: SIGKILL between creating the temporary file and renaming it.
    path = tmp_path / "feed.ics"
    stale, fresh, other = tmp_path / ".feed.ics.abc123.tmp", tmp_path / ".feed.ics.def456.tmp", tmp_path / ".other.ics.x.tmp"
    for p in (stale, fresh, other):
        p.write_bytes(b"BEGIN:VCALENDAR\r\n")
    past = time.time() - 3600
    os.utime(stale, (past, past))
    os.utime(other, (past, past))
    assert write_atomic(path, b"new") is True
    assert sorted(p.name for p in tmp_path.iterdir()) == [".feed.ics.def456.tmp", ".other.ics.x.tmp", "feed.ics"]


def test_write_atomic_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "feed.ics"
    path.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["feed.ics"]

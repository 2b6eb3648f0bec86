"""The fast ICS reader (``aggregator/extract/ics_lines.py``) gives exactly what icalendar gives.

Every ICS file we have — the corpus in ../shared/corpus/ics, the fixture sites' calendars,
the bench's synthetic calendars — is extracted twice: as the product does (fast reader
first, icalendar where it is unsure) and with icalendar alone. Events (tzinfo objects
included: they are compared by ``repr``), warnings and errors must be identical. The fuzz
targets in tests/test_fuzz_extractors.py compare the two paths the same way.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.extract import ExtractContext, ExtractError, ics_lines
from aggregator.extract.ics import _decode, _logical_lines, _structure, _Warnings, extract, extract_with_icalendar
from bench.synth import make_world
from bench.synth.render import render_site
from tests.support.shared import CORPUS, corpus_files, require

BERLIN = ZoneInfo("Europe/Berlin")
CTX = ExtractContext(url="https://example.org/kalender.ics", timezone=BERLIN, now=datetime(2026, 3, 2, 6, 0, tzinfo=BERLIN))
SITES = Path(__file__).parent / "fixtures" / "sites"
FIXTURES = sorted(p for p in SITES.glob("**/*") if p.is_file() and (p.suffix == ".ics" or p.name == "?ical=1"))


def outcome(fn, body: bytes, ctx: ExtractContext = CTX):
    """Everything an extraction says, in a form where any difference (even of a tzinfo) shows."""
    try:
        result = fn(body, ctx)
    except ExtractError as exc:
        return ("error", str(exc))
    return ("events", [repr(e) for e in result.events], result.warnings, result.incomplete)


def assert_same(body: bytes, ctx: ExtractContext = CTX) -> None:
    # icalendar's process-wide VTIMEZONE cache can make its first read of a body differ
    # from the next (tests/support/fuzz.py, ics_compared): compare equally informed reads.
    outcome(extract_with_icalendar, body, ctx)
    fast, slow = outcome(extract, body, ctx), outcome(extract_with_icalendar, body, ctx)
    assert fast == slow


def takes_fast_path(body: bytes) -> bool:
    try:
        lines = _structure(_logical_lines(_decode(body)), _Warnings())
    except ExtractError:
        return False
    return ics_lines.read(lines) is not None


def synthetic_calendars() -> list[tuple[str, bytes]]:
    world = make_world(40, 30, seed=3)
    listings = world.listings()
    out = []
    for i, site in enumerate(world.sites):
        if site.kind != "ics":
            continue
        for name, body in render_site(world, i, listings[i]).files.items():
            if b"BEGIN:VCALENDAR" in body[:200]:
                out.append((f"{site.id}/{name}", body))
    return out


SYNTHETIC = synthetic_calendars()


@pytest.mark.parametrize("path", corpus_files("ics"), ids=lambda p: p.name)
def test_corpus_file_reads_the_same(path: Path):
    assert_same(path.read_bytes())


def test_corpus_present_and_mostly_fast():
    files = corpus_files("ics")
    require(CORPUS / "ics", "the corpus folder ics/")
    fast = [p.name for p in files if takes_fast_path(p.read_bytes())]
    # the fast reader must carry real files, not only our own synthetic ones
    assert len(fast) >= len(files) // 4, (len(fast), len(files))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(SITES)))
def test_fixture_calendar_reads_the_same(path: Path):
    assert_same(path.read_bytes())


def test_synthetic_calendars_read_the_same_and_fast():
    assert len(SYNTHETIC) >= 5
    for name, body in SYNTHETIC:
        assert takes_fast_path(body), name
        assert_same(body)


CASES = {
    "escapes and params": (
        'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\\,b\r\nSUMMARY;LANGUAGE=de:Tag\\, Nacht\\; mehr\\nZeile\\\\n\r\n'
        'DESCRIPTION;ALTREP="cid:x@y":Text: mit Doppelpunkt\r\nLOCATION:Erfurt\r\nURL:https://x.example/a%3Ab?c=1\\;2\r\n'
        'DTSTART;TZID="Europe/Berlin":20260305T093000\r\nDTEND;TZID=W. Europe Standard Time:20260305T160000\r\n'
        "CATEGORIES:Eins,Zwei\\,Drei\r\nCATEGORIES:Vier\r\nSTATUS:CANCELLED\r\nSEQUENCE:3\r\nDTSTAMP:20260101T000000Z\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
    "google with X-WR-TIMEZONE": (
        "BEGIN:VCALENDAR\r\nX-WR-TIMEZONE:Europe/Berlin\r\nBEGIN:VEVENT\r\nUID:g1\r\nSUMMARY:UTC\r\n"
        "DTSTART:20260305T083000Z\r\nDTEND:20260305T150000Z\r\nRDATE:20260310T083000Z,20260311T083000\r\n"
        "EXDATE;VALUE=DATE:20260312\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:g2\r\nSUMMARY:floating\r\n"
        "DTSTART:20260305T083000\r\nDURATION:PT2H\r\nRRULE:FREQ=MONTHLY;BYDAY=1WE;COUNT=5\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:g2\r\nRECURRENCE-ID:20260401T083000\r\nSUMMARY:moved\r\n"
        "DTSTART;TZID=Europe/Berlin:20260402T083000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
    "X-WR-TIMEZONE after the events, UTC": (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260305T083000Z\r\nDTEND;VALUE=DATE:20260306\r\n"
        "END:VEVENT\r\nX-WR-TIMEZONE:UTC\r\nEND:VCALENDAR\r\n"
    ),
    "all-day, no UID, duration, Z and TZID=UTC": (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Ganztag\r\nDTSTART;VALUE=DATE:20260305\r\nDURATION:P2D\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nSUMMARY:Z\r\nDTSTART:20260305T083000Z\r\nDTEND;TZID=UTC:20260305T093000\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:dup\r\nSEQUENCE:1\r\nDTSTART:20260306\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:dup\r\nDTSTART:20260307\r\nDTEND:20260306\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
    "two calendars sharing a UID": (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:same\r\nSUMMARY:A\r\nDTSTART:20260305T083000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:same\r\nSUMMARY:B\r\nDTSTART:20260305T083000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
    "VTIMEZONE, unknown TZID (falls back)": (
        "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Eigene Zone\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
        "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nUID:t\r\nDTSTART;TZID=Eigene Zone:20260305T083000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
    "broken values (fall back)": (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20260305T083000\r\nDTSTAMP:gestern\r\nSEQUENCE:x\r\n"
        "RRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:c\r\nDTSTART:2026-03-05\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
    "no events": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_own_cases_read_the_same(text: str):
    assert_same(text.encode("utf-8"))


def test_own_cases_mostly_take_the_fast_path():
    fast = {name for name, text in CASES.items() if takes_fast_path(text.encode("utf-8"))}
    assert {"escapes and params", "google with X-WR-TIMEZONE", "all-day, no UID, duration, Z and TZID=UTC",
            "two calendars sharing a UID", "X-WR-TIMEZONE after the events, UTC", "no events"} <= fast
    assert "VTIMEZONE, unknown TZID (falls back)" not in fast
    assert "broken values (fall back)" not in fast


def test_a_diverging_fast_path_is_caught(monkeypatch):
    """The comparison is not vacuous: a fast reader that read floating times as UTC would fail it."""
    real = ics_lines._convert

    def wrong(pending, xwr):
        value = real(pending, xwr)
        return value.replace(tzinfo=ZoneInfo("UTC")) if pending[0] == "floating" else value

    monkeypatch.setattr(ics_lines, "_convert", wrong)
    with pytest.raises(AssertionError):
        assert_same(CASES["two calendars sharing a UID"].encode("utf-8"))

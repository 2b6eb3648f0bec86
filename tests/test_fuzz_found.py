"""What the fuzzer found: each bug as the smallest input that showed it, pinned by a test
named after it (tests/test_fuzz_extractors.py, tests/test_fuzz_german_dates.py)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from aggregator.extract import feed, html, ics, jsonld, tribe
from aggregator.german_dates import find_dates
from aggregator.model import Event, RawEvent
from aggregator.normalize import NormalizeError, canonical_url, normalize
from aggregator.recurrence import occurrences
from tests.support.fuzz import check_extractor, context

BERLIN = ZoneInfo("Europe/Berlin")
GOOD = b"BEGIN:VEVENT\r\nUID:good\r\nDTSTART:20250901T100000Z\r\nSUMMARY:Workshop\r\nEND:VEVENT\r\n"


def calendar(*vevents: bytes) -> bytes:
    return b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//fuzz//EN\r\n" + b"".join(vevents) + b"END:VCALENDAR\r\n"


# --- dates at the edge of what Python represents ------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [b"DTSTART:99991231T235959Z\r\nDURATION:PT1H\r\n", b"DTSTART:99991231\r\nDURATION:P2D\r\n"],
    ids=["timed", "all-day"],
)
def test_ics_an_event_whose_end_overflows_year_9999_is_skipped_and_the_rest_kept(lines):
    result = ics.extract(calendar(b"BEGIN:VEVENT\r\nUID:edge\r\n" + lines + b"SUMMARY:x\r\nEND:VEVENT\r\n", GOOD), context())
    assert [e.source_uid for e in result.events] == ["good"]
    assert any("beyond the calendar's range" in w for w in result.warnings)


@pytest.mark.parametrize(
    "start,end",
    [
        (datetime(2025, 9, 1, 10), datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)),  # zone conversion overflowed
        (date(1, 1, 1), date(2025, 9, 1)),  # the ICS exporter overflowed on it
        (datetime(1, 1, 1, tzinfo=BERLIN), None),
        (date(2025, 9, 1), date(9999, 12, 31)),
    ],
)
def test_normalize_refuses_dates_outside_the_plausible_years_instead_of_overflowing(start, end):
    raw = RawEvent("edge", "Workshop", start, end)
    with pytest.raises(NormalizeError, match="outside the years 1900–2200"):
        normalize(raw, source_id="s", network_id="n", zone=BERLIN, base_url="")


def test_normalize_drops_recurrence_dates_outside_the_plausible_years():
    raw = RawEvent("s", "Serie", datetime(2025, 9, 1, 10), rrule="FREQ=WEEKLY", rdates=(date(1, 1, 1),), exdates=(datetime(9999, 12, 31, 23),))
    ev = normalize(raw, source_id="s", network_id="n", zone=BERLIN, base_url="")
    assert ev.rdates == () and ev.exdates == ()


def test_ics_calendars_at_the_edges_pass_the_whole_property():
    body = calendar(b"BEGIN:VEVENT\r\nDTSTART:00010101\r\nDTEND:20250901T100000Z\r\nSUMMARY:\r\nEND:VEVENT\r\n",
                    b"BEGIN:VEVENT\r\nDTSTART:20250901T100000\r\nDTEND:99991231T235959Z\r\nSUMMARY:\r\nEND:VEVENT\r\n",
                    b"BEGIN:VEVENT\r\nDTSTART:20250901T100000Z\r\nDTEND;TZID=Europe/Berlin:00010101\r\nSUMMARY:\r\nEND:VEVENT\r\n", GOOD)
    assert check_extractor("found", ics.extract, body) is not None


# --- links that urllib cannot split ----------------------------------------------------------------

BAD_LINK = "http://[bad"


def test_html_a_next_page_link_with_an_unbalanced_ipv6_bracket_is_ignored():
    page = f'<html><body><a class="next" href="{BAD_LINK}">x</a></body></html>'.encode()
    result = html.extract(page, context(options={"item": ".ev", "title": "h3", "date": ".d", "next_page": "a.next"}))
    assert result.next_pages == []


def test_html_an_event_link_or_base_with_an_unbalanced_ipv6_bracket_is_no_link():
    page = (f'<html><head><base href="{BAD_LINK}"></head><body><div class="ev"><h3><a href="//a]b">Workshop</a></h3>'
            '<span class="d">14.10.2025</span></div></body></html>').encode()
    (event,) = html.extract(page, context(options={"item": ".ev", "title": "h3", "date": ".d"})).events
    assert event.url == ""


def test_feed_an_item_link_with_an_unbalanced_ipv6_bracket_is_no_link():
    rss = (f"<rss version='2.0'><channel><title>T</title><item><title>Workshop am 14.10.2025</title>"
           f"<link>{BAD_LINK}</link></item></channel></rss>").encode()
    result = check_extractor("found", feed.extract, rss)
    assert result is not None and [e.url for e in result.events] == [""]


def test_tribe_urls_with_an_unbalanced_ipv6_bracket_are_not_followed_or_kept():
    body = json.dumps({"events": [{"id": 1, "title": "W", "url": BAD_LINK, "start_date": "2025-10-14 10:00:00",
                                   "end_date": "2025-10-14 12:00:00", "timezone": "Europe/Berlin"}],
                       "next_rest_url": BAD_LINK}).encode()
    result = check_extractor("found", tribe.extract, body)
    assert result.next_pages == [] and any("not an http(s) URL" in w for w in result.warnings)


def test_jsonld_a_base_or_event_url_with_an_unbalanced_ipv6_bracket_is_kept_harmless():
    page = (f'<html><head><base href="{BAD_LINK}"><script type="application/ld+json">'
            '{"@type": "Event", "name": "W", "startDate": "2025-10-14T10:00", "url": "//a]b"}</script></head></html>').encode()
    assert check_extractor("found", jsonld.extract, page) is not None


def test_canonical_url_of_an_unbalanced_ipv6_bracket_is_empty():
    assert canonical_url(BAD_LINK) == "" and canonical_url("/x", BAD_LINK) == ""


# --- German dates with nonsense around them ----------------------------------------------------------


@pytest.mark.parametrize("reference", [date(1, 1, 1), date(9999, 12, 31)])
def test_german_dates_a_reference_at_the_edge_of_the_calendar_counts_as_none(reference):
    # infer_year subtracted its tolerance from year 1 and overflowed
    assert find_dates("gestern am 27.11. war es soweit; morgen ab 9 Uhr", reference=reference) == []


@pytest.mark.parametrize("hint", [0, -5, 10**30])
def test_german_dates_a_nonsense_year_hint_counts_as_none(hint):
    assert find_dates("am 27.11. um 10 Uhr", reference=date(2025, 11, 1), year_hint=hint)[0].start == datetime(2025, 11, 27, 10)


def test_normalize_still_takes_a_date_in_the_last_plausible_year():
    ev = normalize(RawEvent("ok", "x", datetime(2200, 12, 31, 23)), source_id="s", network_id="n", zone=BERLIN, base_url="")
    assert ev.start - datetime(2200, 12, 31, 23, tzinfo=BERLIN) == timedelta(0)


# --- rules that never match ---------------------------------------------------------------------------


class CountCalls:
    """A trace function counting Python calls (the recurrence budget passes them on to it)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, frame, event, arg):
        if event == "call":
            self.calls += 1
        return None


@pytest.mark.parametrize("rule", ["FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=HOURLY;BYMONTHDAY=31;BYMONTH=4", "FREQ=MINUTELY;BYMONTHDAY=30;BYMONTH=2"])
def test_recurrence_a_rule_that_never_matches_is_given_up_instead_of_walked_to_the_year_9999(rule):
    # found as a fuzz run that hung: dateutil walked each such rule day by day to 9999,
    # millions of calls (seconds) per series and window, for every publication
    master = Event(source_id="s", network_id="n", source_uid=f"never-{rule}", title="Nie", start=datetime(2025, 9, 1, 10, tzinfo=timezone.utc),
                   end=None, tzid="UTC", rrule=rule)
    counter = CountCalls()
    sys.settrace(counter)
    try:
        found = occurrences(master, [], datetime(2025, 8, 25, tzinfo=timezone.utc), datetime(2026, 9, 1, tzinfo=timezone.utc))
    finally:
        sys.settrace(None)
    assert counter.calls < 400_000  # the budget is 200,000 calls without an occurrence
    assert [o.start for o in found] == [master.start] and "matches too rarely" in found.warnings[0]
    assert sys.gettrace() is None  # the budget's tracer is gone again
    counter = CountCalls()
    sys.settrace(counter)
    try:
        again = occurrences(master, [], datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc))
    finally:
        sys.settrace(None)
    assert counter.calls < 1000 and "matches too rarely" in again.warnings[0]  # the verdict is remembered


def test_recurrence_rare_but_real_rules_are_still_expanded():
    master = Event(source_id="s", network_id="n", source_uid="leap", title="Schalttag", start=datetime(2024, 2, 29, 10, tzinfo=timezone.utc),
                   end=None, tzid="UTC", rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29")
    found = occurrences(master, [], datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2033, 1, 1, tzinfo=timezone.utc))
    assert [o.start.year for o in found] == [2028, 2032] and found.warnings == []


# --- feeds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [b"\x00TF-8", b"utf-8\x00", b"UTF 8"])
def test_feed_an_xml_declaration_whose_encoding_is_no_name_is_read_as_utf8(name):
    # feedparser's bytes.decode(name) raised "ValueError: embedded null character"
    rss = (b'<?xml version="1.0" encoding="' + name + b'"?><rss version="2.0"><channel><title>T</title>'
           b"<item><title>Workshop am 14.10.2025</title></item></channel></rss>")
    result = check_extractor("found", feed.extract, rss)
    assert [e.start for e in result.events] == [date(2025, 10, 14)]
    assert any("no encoding name" in w for w in result.warnings)


def test_recurrence_the_budget_never_fires_inside_a_generator_being_finalized(monkeypatch):
    # found as "Exception ignored in: <generator object rrulebase._iter_cached>" in a fuzz run:
    # the budget ran out while the garbage collector closed a dateutil generator, the
    # exception was only printed, and Python removed the budget's trace function with it
    from aggregator.recurrence import _CallBudget, _OverBudget

    ignored = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)

    def numbers():
        yield 1
        yield 2

    budget = _CallBudget(1_000)
    with pytest.raises(_OverBudget), budget.active():
        started = [numbers() for _ in range(3)]
        for g in started:
            next(g)
        budget.left = 0
        del started, g  # closing them enters their frames
        budget.check()
    assert ignored == [] and sys.gettrace() is None


@pytest.mark.parametrize("ref", [b"&#1114112;", b"&#xFFFFFFFF;", b"&#xD800;", b"&#" + b"9" * 5000 + b";"])
def test_feed_a_character_reference_that_names_no_character_is_replaced(ref):
    # feedparser's loose parser called chr() on it: ValueError, OverflowError or UnicodeEncodeError
    rss = (b"<rss version='2.0'><channel><title>T" + ref + b"</title><item><title>Workshop " + ref + b" am 14.10.2025</title>"
           b"</item></channel></rss>")
    result = check_extractor("found", feed.extract, rss)
    assert [e.title for e in result.events] == ["Workshop \ufffd"]
    page = b"<head>" + ref + b"<title>Document Moved</title></head><body><h1>Object Moved</h1></body>"
    assert check_extractor("found", feed.extract, page) is None  # not a feed: an ExtractError, nothing else


# --- markup html.parser rejects --------------------------------------------------------------------------

REJECTED = ["<![[[[[[[[[[DOCTYPE x>", "<![foo[ x ]]>", "<![ x]]>"]


@pytest.mark.parametrize("odd", REJECTED)
def test_html_a_declaration_html_parser_rejects_does_not_cost_the_page(odd):
    # bs4 raised ParserRejectedMarkup (html.parser's _markupbase: AssertionError) for the whole page
    page = f'<html><body>{odd}<div class="ev"><h3>Workshop</h3><span class="d">14.10.2025</span></div></body></html>'.encode()
    result = check_extractor("found", html.extract, page, context(options={"item": ".ev", "title": "h3", "date": ".d"}))
    assert [e.title for e in result.events] == ["Workshop"]


@pytest.mark.parametrize("odd", REJECTED)
def test_text_with_a_declaration_html_parser_rejects_is_still_cleaned(odd):
    from aggregator.extract.feed import html_to_text
    from aggregator.normalize import clean_text

    assert clean_text(f"<p>Workshop</p>{odd}").startswith("Workshop")
    assert html_to_text(f"<p>Workshop</p>{odd}").startswith("Workshop")


def test_ics_a_recurrence_id_in_year_1_east_of_utc_does_not_fail_the_calendar():
    # its key overflowed: astimezone(UTC) of 0001-01-01 00:00 Europe/Berlin
    body = calendar(GOOD, b"BEGIN:VEVENT\r\nUID:good\r\nDTSTART:20250901T100000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:00010101T000000\r\n"
                          b"SUMMARY:x\r\nEND:VEVENT\r\n")
    result = check_extractor("found", ics.extract, body)
    assert result is not None and "good" in {e.source_uid for e in result.events}


def test_jsonld_a_classic_microformat_class_with_a_control_character_is_left_out():
    odd = "\x01n org"
    # lxml refused to write the modernized class attribute: "All strings must be XML compatible"
    page = (f'<div class="vevent"><span class="summary">Ignite</span><abbr class="dtstart" title="20251018T180000">x</abbr>'
            f'<div class="location vcard"><span class="{odd}">Bagdad</span></div></div>').encode()
    result = check_extractor("found", jsonld.extract, page)
    assert [(e.title, e.start) for e in result.events] == [("Ignite", datetime(2025, 10, 18, 18))]


def test_feed_feedparser_failing_on_a_broken_feed_is_an_extract_error():
    # feedparser's strict parser called int(None) for an empty <width> inside a broken <image>
    # (a title left open); a TypeError escaped the extractor
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel>\n<title>/title>\n<url>http://x.example/i.gif</url>\n'
           b"<width></width>\n</image>\n<item><title>Workshop am 14.10.2025</title></item>\n</channel>\n</rss>\n")
    assert check_extractor("found", feed.extract, rss) is None

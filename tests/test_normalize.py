from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz

from aggregator.model import RawEvent
from aggregator.normalize import UNTITLED, NormalizeError, canonical_url, clean_text, normalize

BERLIN = ZoneInfo("Europe/Berlin")


def norm(raw: RawEvent, zone=BERLIN, base="https://www.theen-ev.de/de/termine.html"):
    return normalize(raw, source_id="s", network_id="theen", zone=zone, base_url=base)


def test_floating_time_gets_the_source_zone():
    e = norm(RawEvent("1", "x", datetime(2025, 10, 14, 9, 0), datetime(2025, 10, 14, 16, 0)))
    assert e.start == datetime(2025, 10, 14, 9, 0, tzinfo=BERLIN) and e.tzid == "Europe/Berlin"
    assert e.end == datetime(2025, 10, 14, 16, 0, tzinfo=BERLIN)


def test_source_timezone_option_changes_floating_times():
    e = norm(RawEvent("1", "x", datetime(2025, 10, 14, 9, 0)), zone=ZoneInfo("America/New_York"))
    assert e.tzid == "America/New_York"


def test_utc_stays_utc_and_foreign_tzinfo_becomes_utc():
    e = norm(RawEvent("1", "x", datetime(2025, 1, 1, 8, tzinfo=timezone.utc)))
    assert e.tzid == "UTC"
    odd = dateutil_tz.tzoffset("custom", 11 * 3600)
    e = norm(RawEvent("2", "x", datetime(2017, 2, 28, 23, 0, tzinfo=odd)))
    assert e.tzid == "UTC" and e.start == datetime(2017, 2, 28, 12, 0, tzinfo=timezone.utc)


def test_end_in_another_zone_is_shown_in_the_start_zone():
    e = norm(RawEvent("1", "x", datetime(2025, 1, 1, 8, tzinfo=BERLIN), datetime(2025, 1, 1, 9, tzinfo=timezone.utc)))
    assert e.end == datetime(2025, 1, 1, 10, tzinfo=BERLIN) and e.end.tzinfo is BERLIN


def test_all_day_event_without_end_lasts_one_day():
    e = norm(RawEvent("1", "x", date(2025, 9, 16)))
    assert e.all_day and e.end == date(2025, 9, 17) and e.tzid == ""


def test_all_day_end_not_after_start_is_repaired():
    assert norm(RawEvent("1", "x", date(2025, 9, 16), date(2025, 9, 16))).end == date(2025, 9, 17)


def test_timed_end_before_start_is_clamped_to_start():
    e = norm(RawEvent("1", "x", datetime(2025, 1, 1, 10), datetime(2025, 1, 1, 9)))
    assert e.end == e.start


def test_html_description_becomes_text_with_paragraphs():
    raw = RawEvent("1", "  <b>Workshop</b>\n Wasserstoff ", datetime(2025, 1, 1), description="<p>Erste&nbsp;Zeile</p><p>Zweite <script>x()</script>Zeile</p>")
    e = norm(raw)
    assert e.title == "Workshop Wasserstoff"
    assert e.description == "Erste Zeile\n\nZweite Zeile"


def test_text_that_only_looks_like_a_comparison_is_kept():
    assert clean_text("Teilnehmer < 20 und > 5") == "Teilnehmer < 20 und > 5"


def test_control_characters_are_dropped():
    assert clean_text("a\x00b\x1bc") == "abc"


def test_empty_title_gets_a_placeholder():
    assert norm(RawEvent("1", "  ", datetime(2025, 1, 1))).title == UNTITLED


@pytest.mark.parametrize(
    "url,expected",
    [
        ("/de/termine/workshop.html#anmeldung", "https://www.theen-ev.de/de/termine/workshop.html"),
        ("HTTPS://Example.ORG:443/a?utm_source=x&id=5&pk_campaign=rss", "https://example.org/a?id=5"),
        ("http://example.org:8080", "http://example.org:8080/"),
        ("javascript:alert(1)", ""),
        ('https://evil.example/"><script>alert(1)</script>', "https://evil.example/%22%3E%3Cscript%3Ealert(1)%3C/script%3E"),
        ("https://evil.example/a b/{x}", "https://evil.example/a%20b/%7Bx%7D"),
        ("https://evil.example/?q=<b>", "https://evil.example/?q=%3Cb%3E"),
        ('https://evil.example"><script>/', ""),
        ("https://www.veranstaltung-über.example/tagung-über", "https://www.veranstaltung-über.example/tagung-über"),
        ("http://[2001:db8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        ("mailto:info@example.org", ""),
        ("", ""),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url, "https://www.theen-ev.de/de/termine.html") == expected


def test_recurrence_dates_take_the_kind_of_the_start():
    raw = RawEvent(
        "1",
        "x",
        datetime(2025, 3, 3, 18, 0, tzinfo=BERLIN),
        rrule="FREQ=WEEKLY",
        exdates=(date(2025, 3, 10), datetime(2025, 3, 17, 17, 0, tzinfo=timezone.utc)),
        recurrence_id=datetime(2025, 3, 24, 17, 0, tzinfo=timezone.utc),
    )
    e = norm(raw)
    assert e.exdates == (datetime(2025, 3, 10, 18, 0, tzinfo=BERLIN), datetime(2025, 3, 17, 18, 0, tzinfo=BERLIN))
    assert e.recurrence_id == "2025-03-24T18:00:00+01:00"


def test_unknown_status_becomes_confirmed():
    assert norm(RawEvent("1", "x", datetime(2025, 1, 1), status="maybe")).status == "confirmed"


def test_event_without_start_is_refused():
    with pytest.raises(NormalizeError):
        norm(RawEvent("1", "x", None))  # type: ignore[arg-type]


def test_categories_are_cleaned_and_deduplicated():
    e = norm(RawEvent("1", "x", datetime(2025, 1, 1), categories=("Energie", " Energie ", "", "<i>KI</i>")))
    assert e.categories == ("Energie", "KI")

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz

from aggregator.extract import ExtractContext, extract
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


def _extracted_and_normalized(kind: str, body: bytes):
    """The events of ``body`` as extractor ``kind`` and then ``normalize`` make them."""
    ctx = ExtractContext(url="https://www.theen-ev.de/termine/", timezone=BERLIN, now=datetime(2025, 9, 1, tzinfo=timezone.utc))
    return [norm(raw) for raw in extract(kind, body, ctx).events]


def _ics(summary: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20250901T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:20251010T100000\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def _json_ld(name: str) -> bytes:
    return ('<html><head><script type="application/ld+json">{"@context": "https://schema.org", "@type": "Event", '
            f'"name": "{name}", "startDate": "2025-10-10T10:00"}}</script></head><body></body></html>').encode()


def _microdata(name: str) -> bytes:
    return ('<html><body><div itemscope itemtype="https://schema.org/Event">'
            f'<span itemprop="name">{name}</span><meta itemprop="startDate" content="2025-10-10T10:00"></div></body></html>').encode()


def _h_event(name: str) -> bytes:
    return ('<html><body><div class="h-event">'
            f'<span class="p-name">{name}</span><time class="dt-start" datetime="2025-10-10T10:00">10.10.</time></div></body></html>').encode()


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("ics", _ics("ABGESAGT: Exkursion Goldisthal")),
        ("ics", _ics("Workshop Photonik – entfällt")),
        ("jsonld", _json_ld("Abgesagt: Exkursion Goldisthal")),
        ("jsonld", _json_ld("Workshop Sensorik (findet nicht statt)")),
        ("jsonld", _microdata("Stammtisch fällt aus")),
        ("jsonld", _h_event("Storniert: Netzwerktreffen")),
    ],
)
def test_a_cancel_word_in_the_title_cancels_the_event_of_every_kind(kind, body):
    (event,) = _extracted_and_normalized(kind, body)
    assert event.status == "cancelled"


@pytest.mark.parametrize(
    ("kind", "body"),
    [("ics", _ics("Exkursion Goldisthal (verschoben)")), ("jsonld", _json_ld("Verschoben: Workshop Sensorik")),
     ("jsonld", _microdata("Stammtisch verschoben")), ("jsonld", _h_event("Netzwerktreffen (postponed)"))],
)
def test_a_postpone_word_in_the_title_makes_the_event_of_every_kind_tentative(kind, body):
    (event,) = _extracted_and_normalized(kind, body)
    assert event.status == "tentative"


def test_a_title_without_status_words_keeps_the_status_the_source_states():
    assert _extracted_and_normalized("ics", _ics("Exkursion Goldisthal"))[0].status == "confirmed"
    assert norm(RawEvent("1", "Stammtisch", datetime(2025, 10, 1, 18), status="tentative")).status == "tentative"
    # a cancellation stays one even when the title also says "verschoben"
    assert norm(RawEvent("1", "Verschoben: Stammtisch", datetime(2025, 10, 1, 18), status="cancelled")).status == "cancelled"
    # a cancel word wins over a postponement the source states
    assert norm(RawEvent("1", "Stammtisch entfällt", datetime(2025, 10, 1, 18), status="tentative")).status == "cancelled"


@pytest.mark.parametrize(
    ("title", "status"),
    [("Cancelled: Netzwerktreffen", "cancelled"), ("[CANCELED] Netzwerktreffen", "cancelled"), ("Netzwerktreffen (cancelled)", "cancelled"),
     ("Netzwerktreffen – cancelled", "cancelled"), ("Netzwerktreffen - postponed", "tentative"),
     ("one is cancelled", "confirmed"), ("Why meetings get postponed and what helps", "confirmed")],
)
def test_an_english_status_word_counts_only_where_a_marker_stands(title, status):
    assert norm(RawEvent("1", title, datetime(2025, 10, 1, 18))).status == status

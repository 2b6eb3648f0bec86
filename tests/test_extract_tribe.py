"""The tribe extractor (The Events Calendar REST API) on the wp-tec fixture site.

Unit tests read the fixture files directly (``{{BASE_URL}}`` replaced by the
site's own address) with a frozen ``now``; the last tests fetch them from the
real local server and follow ``next_rest_url`` as the crawler would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import Settings
from aggregator.extract import ExtractContext, Extraction, ExtractError
from aggregator.extract import extract as extract_kind
from aggregator.extract.tribe import extract
from aggregator.fetch import Fetcher
from aggregator.model import RawEvent

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
NOW = datetime(2025, 9, 1, 8, 0, tzinfo=BERLIN)
SITE = Path(__file__).parent / "fixtures" / "sites" / "wp-tec"
API_DIR = SITE / "wp-json" / "tribe" / "events" / "v1" / "events"
PAGE2_QUERY = "per_page=5&start_date=2025-08-31+00%3A00%3A00&end_date=2027-09-01+23%3A59%3A59&status=publish&page=2"
PAGE1_FILE = API_DIR / "index.json"
PAGE2_FILE = API_DIR / ("?" + PAGE2_QUERY)
LIST_FILE = SITE / "veranstaltungen" / "index.html"
ICS_FILE = SITE / "veranstaltungen" / "?ical=1"

BASE = "https://elmug.de"  # stands in for {{BASE_URL}} when the files are read without the server
HOME = BASE + "/wp-tec"
API_URL = HOME + "/wp-json/tribe/events/v1/events"
PAGE2_URL = HOME + "/wp-json/tribe/events/v1/events/?" + PAGE2_QUERY
CTX = ExtractContext(url=API_URL, timezone=BERLIN, now=NOW)
FAST = dict(timeout=2.0, backoff=0.05, retries=1, max_retry_after=5.0, per_host_concurrency=2, allow_private_networks=True)


def served(path: Path, base: str = BASE) -> bytes:
    return path.read_bytes().replace(b"{{BASE_URL}}", base.encode())


def page1() -> Extraction:
    return extract(served(PAGE1_FILE), CTX)


def page2() -> Extraction:
    return extract(served(PAGE2_FILE), replace_url(PAGE2_URL))


def replace_url(url: str, zone: ZoneInfo = BERLIN) -> ExtractContext:
    return ExtractContext(url=url, timezone=zone, now=NOW)


def by_uid(result: Extraction) -> dict[str, RawEvent]:
    return {e.source_uid: e for e in result.events}


def api(*events: dict, **extra) -> bytes:
    """A minimal TEC response around hand-made events."""
    return json.dumps({"events": list(events), "rest_url": API_URL + "/?page=1", "total": len(events),
                       "total_pages": 1, **extra}).encode()


def tec_event(**fields) -> dict:
    """One event as TEC sends it (only the fields the extractor reads), overridable."""
    event = {
        "id": 4711, "title": "Stammtisch", "description": "<p>Text</p>", "excerpt": "",
        "url": HOME + "/veranstaltung/stammtisch/", "all_day": False,
        "start_date": "2025-10-07 18:00:00", "end_date": "2025-10-07 20:00:00",
        "utc_start_date": "2025-10-07 16:00:00", "utc_end_date": "2025-10-07 18:00:00",
        "timezone": "Europe/Berlin", "timezone_abbr": "CEST", "categories": [], "venue": [], "organizer": [],
    }
    event.update(fields)
    return event


def one(**fields) -> tuple[RawEvent, list[str]]:
    result = extract(api(tec_event(**fields)), CTX)
    assert len(result.events) == 1, result.warnings
    return result.events[0], result.warnings


# --------------------------------------------------------------------------- the fixture, pinned


def test_page_one_yields_its_five_events_and_names_page_two():
    result = page1()

    assert [e.source_uid for e in result.events] == ["tribe:2841", "tribe:2848", "tribe:2857", "tribe:2863", "tribe:2870"]
    assert result.warnings == []
    assert result.next_pages == [PAGE2_URL]
    assert result.details == []


def test_page_two_yields_the_other_five_and_ends_the_chain():
    result = page2()

    assert [e.source_uid for e in result.events] == ["tribe:2874", "tribe:2881", "tribe:2895", "tribe:2902", "tribe:2910"]
    assert result.warnings == []
    assert result.next_pages == []


def test_an_event_with_a_venue_is_pinned_field_by_field():
    event = by_uid(page1())["tribe:2848"]

    assert event == RawEvent(
        source_uid="tribe:2848",
        title="9. Thüringer Maschinenbautag",
        start=datetime(2025, 9, 22, 9, 0, tzinfo=BERLIN),
        end=datetime(2025, 9, 22, 17, 0, tzinfo=BERLIN),
        description="<p>Am 22. September 2025 findet bereits zum neunten Mal der Thüringer Maschinenbautag im COMCENTER "
        "Erfurt statt. Die ELMUG eG ist mit einem Stand der Elektronik- und Sensorikbranche vertreten.</p>"
        "\n<p>Veranstalter: Thüringer Zentrum für Maschinenbau</p>",
        location="COMCENTER Brühl, Mainzerhofstraße 10, 99084 Erfurt",
        url=HOME + "/veranstaltung/9-thueringer-maschinenbautag/",
        status="confirmed",
        categories=("Partnerveranstaltung",),
    )


def test_times_come_from_utc_and_are_shown_in_the_events_zone():
    events = by_uid(page1())
    summer, winter = events["tribe:2848"], events["tribe:2870"]

    assert summer.start.tzinfo == BERLIN and winter.start.tzinfo == BERLIN
    assert summer.start.utcoffset() == timedelta(hours=2)  # CEST
    assert summer.start.astimezone(UTC) == datetime(2025, 9, 22, 7, 0, tzinfo=UTC)
    assert winter.start.utcoffset() == timedelta(hours=1)  # CET, after the clock change
    assert winter.start.astimezone(UTC) == datetime(2025, 11, 4, 8, 0, tzinfo=UTC)


def test_a_multi_day_event_keeps_its_span():
    event = by_uid(page1())["tribe:2870"]

    assert event.title == "ELMUG4FUTURE 2025 – Konferenz für Elektronik, Mess- und Sensortechnik"
    assert (event.start, event.end) == (datetime(2025, 11, 4, 9, 0, tzinfo=BERLIN), datetime(2025, 11, 5, 16, 0, tzinfo=BERLIN))
    assert event.location == "TU Ilmenau, Humboldtbau, Gustav-Kirchhoff-Straße 1, 98693 Ilmenau"


def test_all_day_events_are_dates_with_an_exclusive_end():
    events = by_uid(page2())
    fair, day = events["tribe:2895"], events["tribe:2910"]

    # TEC: start_date "2026-03-10 00:00:00", end_date "2026-03-12 23:59:59" (the last day)
    assert (fair.start, fair.end) == (date(2026, 3, 10), date(2026, 3, 13))
    assert not isinstance(fair.start, datetime) and not isinstance(fair.end, datetime)
    assert (day.start, day.end) == (date(2026, 5, 20), date(2026, 5, 21))


def test_cancelled_and_postponed_events():
    events = by_uid(page1()) | by_uid(page2())

    assert events["tribe:2874"].status == "cancelled"
    assert events["tribe:2874"].title == "Betriebsbesichtigung bei der Sensorwerk Gera GmbH"
    assert events["tribe:2902"].status == "tentative"
    assert {uid for uid, e in events.items() if e.status == "confirmed"} == set(events) - {"tribe:2874", "tribe:2902"}


def test_html_entities_in_titles_categories_are_decoded():
    events = by_uid(page1()) | by_uid(page2())

    assert events["tribe:2841"].title == "ELMUG-Stammtisch „Sensorik trifft KI“"  # &#8222;…&#8220;
    assert events["tribe:2863"].title == "Online-Seminar: Cybersicherheit & NIS2 für KMU"  # &#038;
    assert events["tribe:2895"].title == "embedded world 2026 – Thüringer Gemeinschaftsstand"  # &#8211;
    assert events["tribe:2881"].categories == ("Mitglieder & Gremien",)  # &amp;
    assert events["tribe:2857"].categories == ("Partnerveranstaltung", "Künstliche Intelligenz")
    assert not any("&#" in e.title or "&amp;" in e.title for e in events.values())


def test_the_online_event_has_no_location_and_descriptions_stay_html():
    events = by_uid(page1())

    assert events["tribe:2863"].location == ""
    assert events["tribe:2841"].description.startswith("<p>Beim Herbst-Stammtisch")
    assert "&#8211;" in events["tribe:2841"].description  # normalize decodes it with the rest of the HTML


def test_the_organizer_ends_the_description_as_the_jsonld_kind_of_the_same_site_says_it():
    """REST's organizer and the list page's JSON-LD organizer give the same text after normalize."""
    from aggregator.extract.jsonld import extract as extract_jsonld
    from aggregator.normalize import normalize

    rest = by_uid(page1()) | by_uid(page2())
    ld = {e.url: e for e in extract_jsonld(served(LIST_FILE), replace_url(HOME + "/veranstaltungen/")).events}

    def text(raw: RawEvent) -> str:
        return normalize(raw, source_id="s", network_id="n", zone=BERLIN, base_url=HOME).description

    def organizer_lines(raw: RawEvent) -> list[str]:
        return [line for line in text(raw).splitlines() if line.startswith("Veranstalter:")]

    assert text(rest["tribe:2848"]).endswith("\n\nVeranstalter: Thüringer Zentrum für Maschinenbau")
    assert organizer_lines(rest["tribe:2857"]) == ["Veranstalter: Thüringer ClusterManagement (ThCM)"]
    assert organizer_lines(rest["tribe:2895"]) == []  # its text says "Die ELMUG eG organisiert …"
    for event in rest.values():
        assert organizer_lines(event) == organizer_lines(ld[event.url]), event.source_uid


@pytest.mark.parametrize(
    "organizer, description, expected",
    [
        ([{"id": 1, "organizer": "A &amp; B"}, {"id": 2, "organizer": "C"}], "<p>Text</p>",
         "<p>Text</p>\n<p>Veranstalter: A &amp; B, C</p>"),
        ({"id": 1, "organizer": "ELMUG eG"}, "", "<p>Veranstalter: ELMUG eG</p>"),
        ([{"id": 1, "organizer": "ELMUG eG"}], "<p>Die ELMUG eG lädt ein.</p>", "<p>Die ELMUG eG lädt ein.</p>"),
        ([{"id": 1, "organizer": "<b>X</b> &lt;Y&gt;"}], "", "<p>Veranstalter: X &lt;Y&gt;</p>"),
        ([], "<p>Text</p>", "<p>Text</p>"),
        ([{"id": 1}, "junk", None], "<p>Text</p>", "<p>Text</p>"),
    ],
)
def test_organizers_become_a_last_paragraph_once(organizer, description, expected):
    event, warnings = one(organizer=organizer, description=description)

    assert event.description == expected
    assert warnings == []


def test_the_fixture_files_describe_the_same_events():
    """REST, list page JSON-LD and ?ical=1 are one site: other kinds' tests rely on that."""
    rest = json.loads(served(PAGE1_FILE))["events"] + json.loads(served(PAGE2_FILE))["events"]
    html = served(LIST_FILE).decode()
    ld = json.loads(re.search(r'<script type="application/ld\+json">\s*(.*?)\s*</script>', html, re.S).group(1))
    ics = served(ICS_FILE).decode()

    assert [e["url"] for e in rest] == [d["url"] for d in ld]
    assert [e["url"] for e in rest] == re.findall(r"^URL:(.*?)\r$", ics, re.M)
    assert [str(e["id"]) for e in rest] == re.findall(r"^UID:(\d+)-", ics, re.M)
    for e, d in zip(rest, ld):
        assert d["startDate"] == e["utc_start_date"].replace(" ", "T") + "+00:00"
        assert d["endDate"] == e["utc_end_date"].replace(" ", "T") + "+00:00"
        assert f'class="tribe-events-calendar-list__event tribe-common-g-row tribe-common-g-row--gutters post-{e["id"]} ' in html
    assert "X-WR-CALNAME:ELMUG eG" in ics and "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin" in ics
    assert "DTSTART;TZID=Europe/Berlin:20250922T090000" in ics
    assert "DTSTART;VALUE=DATE:20260310\r\nDTEND;VALUE=DATE:20260313" in ics
    assert [d["eventStatus"].rsplit("/", 1)[1] for d in ld].count("EventCancelled") == 1


def test_dispatch_by_kind_name():
    assert len(extract_kind("tribe", served(PAGE1_FILE), CTX).events) == 5


# --------------------------------------------------------------------------- times, zones, status


def test_utc_and_local_fields_that_disagree_warn_and_utc_wins():
    event, warnings = one(start_date="2025-10-07 19:00:00")  # an hour off its utc_start_date

    assert event.start == datetime(2025, 10, 7, 18, 0, tzinfo=BERLIN)
    assert len(warnings) == 1
    assert "utc_start_date 2025-10-07 16:00:00" in warnings[0] and "start_date says 2025-10-07 19:00:00" in warnings[0]


def test_without_utc_fields_the_local_ones_are_read_in_the_events_zone():
    event, warnings = one(utc_start_date=None, utc_end_date="", timezone="Europe/London",
                          start_date="2025-10-07 18:00:00", end_date="2025-10-07 20:00:00")

    assert event.start == datetime(2025, 10, 7, 18, 0, tzinfo=ZoneInfo("Europe/London"))
    assert event.end == datetime(2025, 10, 7, 20, 0, tzinfo=ZoneInfo("Europe/London"))
    assert warnings == []


def test_an_event_in_another_iana_zone_is_shown_in_it():
    event, warnings = one(timezone="Europe/London", start_date="2025-10-07 17:00:00", end_date="2025-10-07 19:00:00")

    assert event.start.tzinfo == ZoneInfo("Europe/London")
    assert event.start.astimezone(UTC) == datetime(2025, 10, 7, 16, 0, tzinfo=UTC)
    assert warnings == []


def test_a_utc_offset_timezone_reads_local_fields_at_that_offset_and_shows_the_source_zone():
    # TEC allows "UTC+1" when the site has no named zone; local 17:00 at +01:00 is 16:00 UTC.
    event, warnings = one(timezone="UTC+1", start_date="2025-10-07 17:00:00", end_date="2025-10-07 19:00:00")

    assert event.start == datetime(2025, 10, 7, 18, 0, tzinfo=BERLIN) and event.start.tzinfo == BERLIN
    assert warnings == []


def test_no_timezone_means_the_source_zone():
    event, warnings = one(timezone="", utc_start_date="", utc_end_date="")

    assert event.start == datetime(2025, 10, 7, 18, 0, tzinfo=BERLIN)
    assert warnings == []


def test_an_unknown_timezone_is_named_and_the_source_zone_used():
    event, warnings = one(timezone="Mitteleuropa/Erfurt")

    assert event.start == datetime(2025, 10, 7, 18, 0, tzinfo=BERLIN)
    assert warnings and "unknown timezone 'Mitteleuropa/Erfurt'" in warnings[0]


def test_the_repeated_hour_of_the_autumn_clock_change_is_no_disagreement():
    # 02:30 local on 26.10.2025 happens twice; the UTC field names the second one (01:30 UTC, CET).
    event, warnings = one(start_date="2025-10-26 02:30:00", end_date="2025-10-26 04:00:00",
                          utc_start_date="2025-10-26 01:30:00", utc_end_date="2025-10-26 03:00:00")

    assert event.start.astimezone(UTC) == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)
    assert warnings == []


def test_an_end_before_the_start_is_dropped_with_a_warning():
    event, warnings = one(end_date="2025-10-07 17:00:00", utc_end_date="2025-10-07 15:00:00")

    assert event.end is None
    assert any("end dropped" in w for w in warnings)


def test_an_all_day_end_at_midnight_is_taken_as_already_exclusive():
    event, _ = one(all_day=True, start_date="2025-10-07 00:00:00", end_date="2025-10-09 00:00:00",
                   utc_start_date="2025-10-06 22:00:00", utc_end_date="2025-10-08 22:00:00")

    assert (event.start, event.end) == (date(2025, 10, 7), date(2025, 10, 9))


def test_an_all_day_event_without_local_fields_takes_its_dates_from_utc_in_its_zone():
    event, _ = one(all_day="yes", start_date=None, end_date=None,
                   utc_start_date="2025-10-06 22:00:00", utc_end_date="2025-10-07 21:59:59")

    assert (event.start, event.end) == (date(2025, 10, 7), date(2025, 10, 8))


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"event_status": "canceled"}, "cancelled"),
        ({"event_status": "cancelled"}, "cancelled"),
        ({"_tribe_events_status": "canceled"}, "cancelled"),
        ({"tribe_events_status": "postponed"}, "tentative"),
        ({"event_status": {"value": "postponed", "label": "Verschoben"}}, "tentative"),
        ({"event_status": ""}, "confirmed"),
        ({"event_status": "scheduled"}, "confirmed"),
        ({"title": "ABGESAGT: Stammtisch"}, "cancelled"),
        ({"title": "Stammtisch (verschoben)"}, "tentative"),
        ({}, "confirmed"),
    ],
)
def test_status(fields, status):
    event, warnings = one(**fields)

    assert event.status == status
    assert warnings == []


def test_an_unknown_event_status_is_named_and_taken_as_scheduled():
    event, warnings = one(event_status="on-hold")

    assert event.status == "confirmed"
    assert warnings and "unknown event_status 'on-hold'" in warnings[0]


# --------------------------------------------------------------------------- places, ids, links


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"venue": {"venue": "Online"}}, "Online"),
        ({"venue": {"venue": "IHK Erfurt", "address": "Arnstädter Straße 34", "zip": "99096", "city": "Erfurt",
                    "country": "Deutschland"}}, "IHK Erfurt, Arnstädter Straße 34, 99096 Erfurt"),
        ({"venue": {"venue": "Stadthalle &#8222;Alte Post&#8220;", "city": "Gotha"}}, "Stadthalle „Alte Post“, Gotha"),
        ({"venue": [], "is_virtual": True}, "Online"),
        ({"venue": False}, ""),
    ],
)
def test_location(fields, location):
    event, _ = one(**fields)

    assert event.location == location


def test_a_relative_next_rest_url_is_resolved_against_the_page():
    result = extract(api(tec_event(), next_rest_url="/wp-tec/wp-json/tribe/events/v1/events/?page=2"), CTX)

    assert result.next_pages == [HOME + "/wp-json/tribe/events/v1/events/?page=2"]


def test_a_next_rest_url_back_to_the_same_page_is_not_followed():
    assert extract(api(tec_event(), next_rest_url=API_URL), CTX).next_pages == []


def test_a_next_rest_url_that_is_no_http_url_is_named_not_followed():
    result = extract(api(tec_event(), next_rest_url="javascript:alert(1)"), CTX)

    assert result.next_pages == []
    assert any("not an http(s) URL" in w for w in result.warnings)


def test_a_relative_event_url_is_made_absolute():
    event, _ = one(url="/wp-tec/veranstaltung/stammtisch/")

    assert event.url == HOME + "/veranstaltung/stammtisch/"


def test_the_excerpt_stands_in_for_an_empty_description():
    event, _ = one(description="", excerpt="<p>Kurz</p>")

    assert event.description == "<p>Kurz</p>"


def test_a_repeated_id_on_one_page_is_kept_apart():
    result = extract(api(tec_event(), tec_event(title="Noch einmal")), CTX)

    assert [e.source_uid for e in result.events] == ["tribe:4711", "tribe:4711#2"]
    assert any("repeats" in w for w in result.warnings)


def test_broken_entries_cost_only_themselves():
    body = api(
        "kein Objekt",
        tec_event(id=1, start_date=None, utc_start_date=None, end_date=None, utc_end_date=None),
        tec_event(id=2, start_date="Donnerstag", utc_start_date="bald"),
        tec_event(id=3, title=None),
        tec_event(id=4, categories=[{"name": "Workshop"}, "Messe", {"slug": "ohne-name"}, None]),
        {"title": "ohne id", "start_date": "2025-10-07 18:00:00"},
        tec_event(id=5),
    )
    result = extract(body, CTX)

    assert [e.source_uid for e in result.events] == ["tribe:3", "tribe:4", "tribe:5"]
    assert by_uid(result)["tribe:3"].title == ""
    assert by_uid(result)["tribe:4"].categories == ("Workshop", "Messe")
    assert len(result.warnings) == 4  # not an object, two without a start, one without an id


# --------------------------------------------------------------------------- bodies that are no events list


def test_an_empty_events_list_is_zero_events_and_no_error():
    body = b'{"events":[],"rest_url":"https:\\/\\/elmug.de\\/wp-json\\/tribe\\/events\\/v1\\/events\\/?page=1&per_page=5","total":0,"total_pages":0}'
    result = extract(body, CTX)

    assert result.events == [] and result.warnings == [] and result.next_pages == []


def test_old_tecs_empty_archive_error_is_zero_events():
    body = b'{"code":"event-archive-page-not-found","message":"The requested event archive page does not exist","data":{"status":404}}'
    result = extract(body, CTX)

    assert result.events == []
    assert result.warnings and "no events" in result.warnings[0]


def test_rest_no_route_says_the_plugin_is_missing():
    body = (b'{"code":"rest_no_route","message":"Es wurde keine Route gefunden, die mit der URL und der Request-Methode '
            b'identisch ist.","data":{"status":404}}')

    with pytest.raises(ExtractError, match=r"WordPress REST error 'rest_no_route', HTTP 404: Es wurde keine Route "
                                           r"gefunden.*is The Events Calendar installed"):
        extract(body, CTX)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"  \n", "empty body"),
        (b"<!DOCTYPE html>\n<html><head><title>Seite nicht gefunden &#8211; ELMUG eG</title></head><body>404</body></html>",
         r"an HTML page \('Seite nicht gefunden – ELMUG eG'\), not JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not JSON"),
        (b'{"events": [', "not JSON"),
        (b"[]", "a JSON list"),
        (b'[{"id": 1, "title": {"rendered": "Stammtisch"}}]', "a JSON list"),
        (b'"events"', "JSON str, not an object"),
        (b"null", "JSON NoneType, not an object"),
        (b'{"name": "ELMUG eG", "namespaces": ["wp/v2"]}', r'no "events" list \(keys: name, namespaces\)'),
        (b'{"events": {"2841": {}}}', r'no "events" list'),
        (b'{"code": "rest_forbidden", "message": "Sorry, you are not allowed to do that.", "data": {"status": 401}}',
         "rest_forbidden"),
    ],
)
def test_bodies_that_are_no_tec_response(body, reason):
    with pytest.raises(ExtractError, match=reason):
        extract(body, CTX)


def test_php_notices_before_the_json_are_skipped_with_a_warning():
    notice = b"<br />\n<b>Deprecated</b>:  Creation of dynamic property in <b>/var/www/html/wp-content/plugins/x.php</b> on line <b>12</b><br />\n"
    result = extract(notice + served(PAGE1_FILE), CTX)

    assert len(result.events) == 5
    assert result.warnings and "before the JSON" in result.warnings[0]


def test_a_byte_order_mark_is_no_problem():
    assert len(extract(b"\xef\xbb\xbf" + served(PAGE1_FILE), CTX).events) == 5


@pytest.mark.parametrize("junk", [None, 0, 1.5, True, "x", "0000-00-00 00:00:00", [], {}, [{}], {"venue": 1}])
def test_nothing_but_extract_error_escapes_odd_field_values(junk):
    template = json.loads(served(PAGE1_FILE))["events"][1]
    for key in template:
        event = dict(template, **{key: junk})
        try:
            result = extract(api(event), CTX)
        except ExtractError:
            continue
        assert isinstance(result, Extraction)
        for e in result.events:
            assert isinstance(e.title, str) and isinstance(e.location, str) and isinstance(e.categories, tuple)


# --------------------------------------------------------------------------- through the real local server


def fetch_chain(start_url: str, *, max_pages: int = 5):
    """Fetch a page, extract it, follow next_pages (what aggregator/crawl.py does, simplified)."""

    async def go():
        pages, events, warnings = [], [], []
        async with Fetcher(Settings(**FAST)) as fetcher:
            queue, seen = [start_url], set()
            while queue and len(pages) < max_pages:
                url = queue.pop(0)
                if url in seen:
                    continue
                seen.add(url)
                fetched = await fetcher.fetch(url, None)
                assert fetched.outcome == "fetched", (url, fetched.error)
                result = extract(fetched.body, ExtractContext(url=fetched.url, timezone=BERLIN, now=NOW))
                pages.append((fetched, result))
                events += result.events
                warnings += result.warnings
                queue += result.next_pages
        return pages, events, warnings

    return asyncio.run(go())


def test_both_api_pages_are_served_and_chain_through_next_rest_url(sites_server):
    start = sites_server.url("/wp-tec/wp-json/tribe/events/v1/events")
    pages, events, warnings = fetch_chain(start)

    assert len(pages) == 2 and warnings == []
    first, second = pages[0][0], pages[1][0]
    assert first.url == start
    assert second.url == sites_server.base_url + "/wp-tec/wp-json/tribe/events/v1/events/?" + PAGE2_QUERY
    assert pages[1][1].next_pages == []
    assert b"{{BASE_URL}}" not in first.body and b"{{BASE_URL}}" not in second.body
    assert len(events) == 10 and len({e.source_uid for e in events}) == 10
    assert all(e.url.startswith(sites_server.base_url + "/wp-tec/veranstaltung/") for e in events)
    assert by_uid(pages[1][1])["tribe:2874"].status == "cancelled"

    gets = [(r.path, r.query, r.status) for r in sites_server.requests if r.method == "GET" and r.path != "/robots.txt"]
    assert gets == [
        ("/wp-tec/wp-json/tribe/events/v1/events", "", 200),
        ("/wp-tec/wp-json/tribe/events/v1/events/", PAGE2_QUERY, 200),
    ]


def test_the_chain_stops_at_max_pages(sites_server):
    pages, events, _ = fetch_chain(sites_server.url("/wp-tec/wp-json/tribe/events/v1/events"), max_pages=1)

    assert len(pages) == 1 and len(events) == 5


def test_the_list_page_and_ical_export_are_served_with_the_servers_address(sites_server):
    async def go():
        async with Fetcher(Settings(**FAST)) as fetcher:
            return (await fetcher.fetch(sites_server.url("/wp-tec/veranstaltungen/"), None),
                    await fetcher.fetch(sites_server.url("/wp-tec/veranstaltungen/?ical=1"), None))

    listing, ics = asyncio.run(go())

    assert listing.outcome == ics.outcome == "fetched"
    assert listing.body.lstrip().startswith(b"<!DOCTYPE html>")
    assert f'<link rel="alternate" type="text/calendar" title="ELMUG eG &raquo; iCal Feed" href="{sites_server.base_url}/wp-tec/veranstaltungen/?ical=1" />'.encode() in listing.body
    assert ics.body.startswith(b"BEGIN:VCALENDAR\r\n")
    assert f"X-ORIGINAL-URL:{sites_server.base_url}/wp-tec\r\n".encode() in ics.body


def test_the_substituted_body_has_its_own_etag_and_is_answered_304(sites_server):
    url = sites_server.url("/wp-tec/wp-json/tribe/events/v1/events")

    async def go():
        async with Fetcher(Settings(**FAST)) as fetcher:
            first = await fetcher.fetch(url, None)
            second = await fetcher.fetch(url, first.cache_state())
            return first, second

    first, second = asyncio.run(go())

    assert first.outcome == "fetched" and first.body == served(PAGE1_FILE, sites_server.base_url)
    assert first.etag and first.etag != '"' + hashlib.sha256(PAGE1_FILE.read_bytes()).hexdigest()[:32] + '"'
    assert second.outcome == "not_modified"

"""The jsonld extractor: corpus robustness, the peers' expectations, our own pages, hostile input, enrich.

Corpus pages are read from ../shared/corpus/html (never copied here); without
../shared those tests skip, in CI they fail. Our own hand-written pages live in
tests/fixtures/sites/{mikrodaten,hevent,jsonld-graph}/ and are pinned event by
event with a frozen ``now``.
"""

from __future__ import annotations

import dataclasses

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from aggregator.extract import ExtractContext, Extraction, ExtractError
from aggregator.extract import extract as extract_kind
from aggregator.extract.jsonld import MAX_EVENTS, enrich, events_in_page, extract
from aggregator.model import RawEvent
from tests.support.shared import CORPUS, corpus_files, require

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
NOW = datetime(2025, 6, 1, 10, 0, tzinfo=BERLIN)
SITES = Path(__file__).parent / "fixtures" / "sites"
HTML_FILES = corpus_files("html")


def ctx(url: str = "https://netzwerk.example/veranstaltungen/") -> ExtractContext:
    return ExtractContext(url=url, timezone=BERLIN, now=NOW)


CTX = ctx()


def corpus(name: str, url: str = "https://example.org/page") -> Extraction:
    path = require(CORPUS / "html" / name, f"corpus file html/{name}")
    return extract(path.read_bytes(), ctx(url))


def expected_json(name: str):
    return json.loads(require(CORPUS / "html" / name, f"corpus file html/{name}").read_text(encoding="utf-8"))


def page(*blocks: object, body: str = "") -> bytes:
    scripts = "".join(f'<script type="application/ld+json">{b if isinstance(b, str) else json.dumps(b)}</script>' for b in blocks)
    return f"<!doctype html><html><head>{scripts}</head><body>{body}</body></html>".encode()


def one(result: Extraction) -> RawEvent:
    assert len(result.events) == 1, result
    return result.events[0]


def assert_output_convention(result: Extraction) -> None:
    """Every event follows the RawEvent contract the normalizer relies on."""
    uids = [ev.source_uid for ev in result.events]
    assert len(uids) == len(set(uids))
    for ev in result.events:
        assert isinstance(ev, RawEvent)
        assert ev.source_uid and isinstance(ev.source_uid, str)
        assert ev.title and ev.title == " ".join(ev.title.split())
        assert isinstance(ev.start, date)
        assert ev.status in ("confirmed", "tentative", "cancelled")
        if isinstance(ev.start, datetime):
            assert ev.end is None or isinstance(ev.end, datetime)
            if ev.end is not None:
                assert (ev.start.tzinfo is None) == (ev.end.tzinfo is None)
                assert ev.end > ev.start
        else:
            assert ev.end is not None and not isinstance(ev.end, datetime) and ev.end > ev.start
    assert all(isinstance(w, str) and w.strip() for w in result.warnings)


def by_title(result: Extraction) -> dict[str, RawEvent]:
    return {ev.title: ev for ev in result.events}


# ------------------------------------------------------------------ whole corpus


@pytest.mark.shared
@pytest.mark.parametrize("path", HTML_FILES, ids=[p.name for p in HTML_FILES])
def test_every_corpus_page_yields_an_extraction_or_a_clear_extract_error(path):
    try:
        result = extract(path.read_bytes(), CTX)
    except ExtractError as exc:
        assert str(exc).strip()
        return
    assert isinstance(result, Extraction)
    assert_output_convention(result)
    if not result.events:
        assert any("no schema.org Event" in w for w in result.warnings)


@pytest.mark.shared
def test_corpus_is_present_in_ci():
    require(CORPUS / "html", "html corpus")
    assert len(HTML_FILES) > 40


# ------------------------------------------------------------------ peers' expectations (§4, §1)


@pytest.mark.shared
def test_cook_landbank_nine_json_ld_events():
    result = corpus("city-scrapers__cook_landbank.html", "http://www.cookcountylandbank.org/")
    assert len(result.events) == 9
    first = result.events[0]
    assert first.title == "CCLBA Data & Marketing Committee"
    # The JSON-LD says "2019-9-18T10-10-00-00" (a plugin bug); the page's microdata says 10:00.
    assert first.start == datetime(2019, 9, 18, 10, 0)
    assert first.url == "http://www.cookcountylandbank.org/events/cclba-data-marketing-committee-20190918/"
    assert_output_convention(result)


@pytest.mark.shared
@pytest.mark.parametrize("name", ["extruct__Event.001", "extruct__Event.002", "extruct__Event.003", "extruct__Event.004", "extruct__Event.008"])
def test_extruct_microdata_events_match_the_peer_output(name):
    """Every Event item of extruct's expected microdata output is one of our events, title and start."""
    wanted = []

    def walk(value):
        if isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            kind = value.get("type") or ""
            props = value.get("properties") or {}
            if isinstance(kind, str) and kind.endswith("Event") and props.get("startDate"):
                wanted.append((props["name"], props["startDate"]))
            for v in props.values():
                walk(v)

    walk(expected_json(f"{name}.expected.json"))
    assert wanted
    result = corpus(f"{name}.html")
    got = {(ev.title, ev.start.isoformat()[:16]) for ev in result.events}
    for title, start in wanted:
        assert (title, start[:16]) in got, (title, start, got)
    assert len(result.events) == len(wanted)
    assert_output_convention(result)


@pytest.mark.shared
def test_extruct_cancelled_event():
    ev = one(corpus("extruct__Event.004.html"))
    assert ev.status == "cancelled"
    assert ev.location == "The Hi-Dive, 7 S. Broadway, 80209 Denver"


@pytest.mark.shared
@pytest.mark.parametrize(
    "name",
    [
        "extruct__JSONLD_with_JS_comment",
        "extruct__JSONLD_with_control_characters",
        "extruct__JSONLD_with_control_characters_comment",
        "extruct__null_ld_mock",
        "extruct__songkick-jsonld_empty_item_test",
    ],
)
def test_json_ld_that_extruct_reads_is_read_without_complaint(name):
    """Comments and control characters are tolerated: no block is reported broken (these pages hold no Event)."""
    result = corpus(f"{name}.html")
    assert result.events == []
    assert not any("not valid JSON" in w for w in result.warnings), result.warnings


@pytest.mark.shared
def test_songkick_music_events_from_json_ld():
    expected = [i for i in expected_json("extruct__songkick-elysianfields.expected.json")["json-ld"] if i.get("@type") == "MusicEvent"]
    result = corpus("extruct__songkick-elysianfields.html", "http://www.songkick.com/artists/236156-elysian-fields")
    assert len(result.events) == len(expected) == 4
    for ev, item in zip(result.events, expected):
        assert ev.title == item["name"]
        assert ev.start == datetime.fromisoformat(item["startDate"])  # same instant
        assert ev.url == item["url"]
    # 2016-10-29T21:00:00+0200 is Berlin's offset that night: the zone, not a fixed offset.
    assert result.events[2].start.tzinfo is BERLIN


@pytest.mark.shared
def test_songkick_single_concert_page():
    ev = one(corpus("extruct__songkick-Elysian_Fields_Brooklyn_Tickets_The_Owl_Music_Parlor_31_Oct_2015.html"))
    assert ev.title == "Elysian Fields"
    assert ev.start == datetime(2015, 10, 31, 19, 30, tzinfo=timezone(-(datetime(1, 1, 1, 4) - datetime(1, 1, 1))))
    assert ev.location == "The Owl Music Parlor, 497 Rogers Ave, 11225 Brooklyn"


@pytest.mark.shared
def test_songkick_tove_styrke_concert_page_is_its_one_music_event():
    url = "https://www.songkick.com/concerts/30166884-tove-styrke-at-hoxton-square-bar-and-kitchen"
    (item,) = expected_json("extruct__songkick-tovestyrke.expected.json")["json-ld"]
    result = corpus("extruct__songkick-tovestyrke.html", url)

    assert item["@type"] == "MusicEvent"
    assert result.warnings == []
    assert one(result) == RawEvent(
        source_uid=item["url"],  # no @id: the event's url, query and all
        title="Tove Styrke",
        start=datetime(2017, 6, 12, 20, 0, tzinfo=timezone(timedelta(hours=1))),  # London's summer offset, not Berlin's
        end=None,
        location="Hoxton Square Bar & Kitchen, 2-4 Hoxton Square, N1 6NU London",
        url=item["url"],
    )
    assert one(result).start == datetime.fromisoformat(item["startDate"])


MF_EVENT_FILES = sorted(p.name for p in HTML_FILES if p.name.startswith("microformats-tests__") and ("event" in p.name or "hcalendar" in p.name))


@pytest.mark.shared
@pytest.mark.parametrize("name", MF_EVENT_FILES)
def test_microformats_test_suite_h_events(name):
    """Each h-event of the suite's canonical output that has a name and a start is one of our events."""
    from aggregator.extract.jsonld import _parse_when

    items = expected_json(name.replace(".html", ".expected.json"))["items"]
    wanted = [i for i in items if "h-event" in i["type"] and i["properties"].get("name") and i["properties"].get("start")]
    result = corpus(name)
    assert_output_convention(result)
    assert len(result.events) == len(wanted)
    for ev, item in zip(result.events, wanted):
        assert ev.title == " ".join(item["properties"]["name"][0].split())
        # h-event-dt-property lists eight starts; mf2py skips the value-title one, so any listed start counts.
        starts = [_parse_when(s) for s in item["properties"]["start"]]
        assert any(ev.start == s or (isinstance(s, datetime) and ev.start == s.astimezone(BERLIN)) for s in starts), (ev.start, starts)


@pytest.mark.shared
def test_h_event_without_start_or_name_is_skipped_with_a_warning():
    result = corpus("microformats-tests__h-event-justaname.html")
    assert result.events == []
    assert any("no start" in w for w in result.warnings)
    result = corpus("microformats-tests__includes-heventitemref.html")  # names only via includes, which mf2py lacks
    assert result.events == []
    assert any("no name" in w for w in result.warnings)


@pytest.mark.shared
def test_calagator_hcal_single_and_multiple():
    ev = one(corpus("calagator__hcal_single.xml"))
    assert (ev.title, ev.description, ev.url) == ("Calendar event", "Check it out!", "http://www.cubespacepdx.com")
    # classic hCalendar's dtend is exclusive, as in iCalendar: 2008-01-19 → 2008-01-20 is one day
    assert (ev.start, ev.end) == (date(2008, 1, 19), date(2008, 1, 20))
    multiple = corpus("calagator__hcal_multiple.xml")
    assert [(e.start, e.end) for e in multiple.events] == [(date(2008, 1, 19), date(2008, 1, 20)), (date(2008, 2, 2), date(2008, 2, 3))]
    assert len({e.source_uid for e in multiple.events}) == 2  # one URL for both: kept apart by date


@pytest.mark.shared
def test_calagator_upcoming_venue():
    ev = one(corpus("calagator__hcal_upcoming_v1.html"))
    assert ev.location == "Jive Software Office, 317 SW Alder St Ste 500, 97204 portland"
    assert ev.title == "February BarCamp Portland Informal Tech Meetup"


@pytest.mark.shared
def test_mf2py_datetimes():
    events = by_title(corpus("mf2py__datetimes.html"))
    hoot = events["Microformats Hootenanny"]
    assert (hoot.start, hoot.end) == (datetime(2014, 1, 1, 12, tzinfo=UTC), datetime(3014, 1, 1, 18, tzinfo=UTC))
    implied = events["Implied Date wo Timezone"]
    assert (implied.start, implied.end) == (datetime(2014, 5, 21, 18, 30), datetime(2014, 5, 21, 19, 30))
    zoned = events["Implied Date w/ Timezone"]
    minus6 = timezone(datetime(1, 1, 1) - datetime(1, 1, 1, 6))
    assert (zoned.start, zoned.end) == (datetime(2014, 6, 1, 12, 30, tzinfo=minus6), datetime(2014, 6, 1, 19, 30, tzinfo=minus6))
    assert all(e.start.utcoffset() is not None for e in events.values() if e.title.startswith("Implied Date w/"))


@pytest.mark.shared
def test_ical4j_hcalendar_example():
    ev = one(corpus("ical4j__hcalendar-example1.html"))
    assert ev.title == "Calendaring Interoperability Planning Meeting"
    assert (ev.start, ev.end) == (datetime(1997, 3, 24, 12, 30, tzinfo=UTC), datetime(1997, 3, 24, 21, 0, tzinfo=UTC))
    assert ev.location == "LDB Lobby"


@pytest.mark.shared
def test_detail_pages_of_city_scrapers():
    ev = one(corpus("city-scrapers__chi_ssa_19_detail.html"))
    assert (ev.start, ev.end) == (datetime(2019, 11, 20, 8, 30), datetime(2019, 11, 20, 10, 0))
    assert "The Factory Theater" in ev.location
    ev = one(corpus("city-scrapers__chi_ssa_43_detail.html"))
    assert (ev.start, ev.end) == (datetime(2019, 9, 16, 14, 30), datetime(2019, 9, 16, 16, 30))


# ------------------------------------------------------------------ our pages, pinned


def test_microdata_page_typo3():
    result = extract((SITES / "mikrodaten" / "veranstaltungen.html").read_bytes(), ctx("https://www.kunststoff-netzwerk.example/veranstaltungen/"))
    base = "https://www.kunststoff-netzwerk.example/veranstaltungen/detail/"
    assert result.events == [
        RawEvent(
            source_uid=base + "netzwerktreffen-kunststoff-digitalisierung/",
            title="Netzwerktreffen Kunststoff & Digitalisierung",
            start=datetime(2025, 3, 5, 9, 30),
            end=datetime(2025, 3, 5, 16, 0),
            description="Austausch der Mitgliedsunternehmen zu Digitalisierung in der Kunststoffverarbeitung.",
            location="COMCENTER Brühl, Mainzerhofstraße 10, 99084 Erfurt",
            url=base + "netzwerktreffen-kunststoff-digitalisierung/",
        ),
        RawEvent(
            source_uid=base + "cross-cluster-woche-2025/",
            title="Cross-Cluster-Woche 2025",
            start=date(2025, 9, 15),
            end=date(2025, 9, 20),  # endDate names the last day; our end is the day after
            location="Erfurt und Jena",
            url=base + "cross-cluster-woche-2025/",
        ),
        RawEvent(
            source_uid=base + "webinar-foerderprogramme-kmu/",
            title="Webinar: Förderprogramme für KMU",
            start=datetime(2025, 11, 12, 14, 0, tzinfo=BERLIN),
            end=datetime(2025, 11, 12, 15, 30, tzinfo=BERLIN),  # from duration PT1H30M
            description="Veranstalter: Kunststoff-Netzwerk Thüringen",
            location="online: https://meet.example.org/foerderprogramme-kmu",
            url=base + "webinar-foerderprogramme-kmu/",
            status="tentative",
        ),
    ]
    assert result.warnings == []
    assert result.events[2].start.tzinfo is BERLIN


def test_h_event_page():
    result = extract((SITES / "hevent" / "termine.html").read_bytes(), ctx("https://www.optik-jena.example/termine/"))
    assert result.events == [
        RawEvent(
            source_uid="https://www.optik-jena.example/termine/thueringer-kunststofftag-2026",
            title="Thüringer Kunststofftag 2026",
            start=date(2026, 6, 24),
            end=date(2026, 6, 26),
            description="Fachtagung und Ausstellung der Thüringer Kunststoffbranche.",
            location="Messe Erfurt, Gothaer Straße 34, 99094 Erfurt",
            url="https://www.optik-jena.example/termine/thueringer-kunststofftag-2026",
        ),
        RawEvent(
            source_uid="https://www.optik-jena.example/termine/stammtisch-optik-januar",
            title="Stammtisch Optik Jena",
            start=datetime(2026, 1, 20, 18, 0),
            end=datetime(2026, 1, 20, 19, 30),
            location="Jena, Zeiss-Planetarium",
            url="https://www.optik-jena.example/termine/stammtisch-optik-januar",
            status="tentative",
        ),
        RawEvent(
            source_uid="https://www.example-energie.de/fruehstueck",
            title="Energie-Frühstück",
            start=datetime(2026, 2, 11, 8, 0, tzinfo=BERLIN),
            end=datetime(2026, 2, 11, 10, 0, tzinfo=BERLIN),
            location="Erfurt, Haus der Wirtschaft",
            url="https://www.example-energie.de/fruehstueck",
        ),
    ]
    assert result.warnings == []


GRAPH_EVENTS = [
    RawEvent(
        source_uid="https://www.medways.example/veranstaltungen/#event-netzwerktreffen-2025-10",
        title="Netzwerktreffen medways: Digitale Gesundheit – Daten sicher nutzen",
        start=datetime(2025, 10, 8, 13, 0, tzinfo=BERLIN),
        end=datetime(2025, 10, 8, 17, 0, tzinfo=BERLIN),
        description="<p>Impulsvorträge und Austausch zur sicheren Nutzung von Gesundheitsdaten.</p>\n\nVeranstalter: medways e.V.",
        location="COMCENTER Brühl, Mainzerhofstraße 10, 99084 Erfurt",
        url="https://www.medways.example/veranstaltungen/netzwerktreffen-digitale-gesundheit/",
    ),
    RawEvent(
        source_uid="https://www.medways.example/veranstaltungen/#event-online-seminar-ki",
        title="Online-Seminar: KI in der Produktion",
        start=datetime(2026, 1, 21, 10, 0, tzinfo=BERLIN),
        end=datetime(2026, 1, 21, 11, 30, tzinfo=BERLIN),
        location="online",
        url="https://www.medways.example/veranstaltungen/online-seminar-ki/",
        status="cancelled",
    ),
    RawEvent(
        source_uid="https://www.medways.example/innovationstage-2026/",
        title="Thüringer Innovationstage 2026",
        start=date(2026, 5, 12),
        end=date(2026, 5, 14),
        location="Kaisersaal Erfurt, Futterstraße 15/16, 99084 Erfurt; online: https://stream.medways.example/innovationstage",
        url="https://www.medways.example/innovationstage-2026/",
    ),
    RawEvent(
        source_uid="sha256:",  # compared apart: a hash of page, title, start and place
        title="Matchmaking Medizintechnik & Photonik",
        start=datetime(2026, 5, 12, 14, 0, tzinfo=BERLIN),
        end=datetime(2026, 5, 12, 16, 0, tzinfo=BERLIN),
        location="Kaisersaal Erfurt, Saal 2",
        categories=("Thüringer Innovationstage 2026",),
    ),
]


def test_json_ld_graph_page():
    body = (SITES / "jsonld-graph" / "index.html").read_bytes()
    result = extract(body, ctx("https://www.medways.example/veranstaltungen/"))
    sub = result.events[3]
    assert sub.source_uid.startswith("sha256:") and len(sub.source_uid) == 7 + 32
    assert result.events[:3] + [dataclasses.replace(sub, source_uid="sha256:")] == GRAPH_EVENTS
    assert len(result.warnings) == 2
    assert result.warnings[0].startswith("JSON-LD block 3 is not valid JSON")
    assert "rescheduled" in result.warnings[1]
    again = extract(body, ctx("https://www.medways.example/veranstaltungen/"))
    assert again.events[3].source_uid == sub.source_uid  # stable across runs


def test_json_ld_graph_page_over_http(sites_server):
    url = sites_server.url("/jsonld-graph/")
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    result = extract_kind("jsonld", response.content, ctx(url))
    assert [e.title for e in result.events] == [e.title for e in GRAPH_EVENTS]
    assert result.events[0].url == sites_server.url("/veranstaltungen/netzwerktreffen-digitale-gesundheit/")  # relative: against the page


WP_TEC_LIST = SITES / "wp-tec" / "veranstaltungen" / "index.html"
# The wp-tec list page's JSON-LD (The Events Calendar prints instants in UTC; all-day events as the
# UTC instants of local 00:00:00 and 23:59:59): the same ten events as the site's REST API and ?ical=1.
WP_TEC_EVENTS = [
    ("ELMUG-Stammtisch „Sensorik trifft KI“", datetime(2025, 9, 16, 18, tzinfo=BERLIN), datetime(2025, 9, 16, 20, 30, tzinfo=BERLIN), "confirmed"),
    ("9. Thüringer Maschinenbautag", datetime(2025, 9, 22, 9, tzinfo=BERLIN), datetime(2025, 9, 22, 17, tzinfo=BERLIN), "confirmed"),
    ("7. Thüringer KI-Forum", datetime(2025, 10, 1, 9, 30, tzinfo=BERLIN), datetime(2025, 10, 1, 16, 30, tzinfo=BERLIN), "confirmed"),
    ("Online-Seminar: Cybersicherheit & NIS2 für KMU", datetime(2025, 10, 15, 10, tzinfo=BERLIN), datetime(2025, 10, 15, 11, 30, tzinfo=BERLIN), "confirmed"),
    ("ELMUG4FUTURE 2025 – Konferenz für Elektronik, Mess- und Sensortechnik", datetime(2025, 11, 4, 9, tzinfo=BERLIN),
     datetime(2025, 11, 5, 16, tzinfo=BERLIN), "confirmed"),
    ("Betriebsbesichtigung bei der Sensorwerk Gera GmbH", datetime(2025, 11, 20, 14, tzinfo=BERLIN), datetime(2025, 11, 20, 16, 30, tzinfo=BERLIN), "cancelled"),
    ("Generalversammlung der ELMUG eG 2025", datetime(2025, 11, 26, 13, tzinfo=BERLIN), datetime(2025, 11, 26, 17, tzinfo=BERLIN), "confirmed"),
    ("embedded world 2026 – Thüringer Gemeinschaftsstand", date(2026, 3, 10), date(2026, 3, 13), "confirmed"),
    ("Workshop „EMV-gerechtes Leiterplattendesign“", datetime(2026, 4, 22, 9, tzinfo=BERLIN), datetime(2026, 4, 22, 13, tzinfo=BERLIN), "tentative"),
    ("Tag der Elektronik an der EAH Jena", date(2026, 5, 20), date(2026, 5, 21), "confirmed"),
]


def test_the_events_calendar_list_page_json_ld_keeps_all_day_events_all_day():
    home = "https://elmug.de/wp-tec"
    body = WP_TEC_LIST.read_bytes().replace(b"{{BASE_URL}}", home.removesuffix("/wp-tec").encode())
    result = extract(body, ctx(home + "/veranstaltungen/"))

    assert result.warnings == []
    assert [(e.title, e.start, e.end, e.status) for e in result.events] == WP_TEC_EVENTS
    for got, (_title, start, _end, _status) in zip(result.events, WP_TEC_EVENTS):
        assert isinstance(got.start, datetime) == isinstance(start, datetime), got.title  # a date is no midnight
        assert isinstance(got.end, datetime) == isinstance(start, datetime), got.title
    assert all(e.url.startswith(home + "/veranstaltung/") and e.source_uid == e.url for e in result.events)
    places = {e.title: e.location for e in result.events}
    assert places["embedded world 2026 – Thüringer Gemeinschaftsstand"] == "Messezentrum Nürnberg, Messezentrum 1, 90471 Nürnberg"
    assert places["Online-Seminar: Cybersicherheit & NIS2 für KMU"] == "online"


def test_the_events_calendars_twice_escaped_descriptions_become_plain_text():
    # TEC prints "&lt;p&gt;…&lt;/p&gt;\\n": the tags as entities, the line break as a literal backslash-n
    from zoneinfo import ZoneInfo

    from aggregator.normalize import normalize

    home = "https://elmug.de/wp-tec"
    body = WP_TEC_LIST.read_bytes().replace(b"{{BASE_URL}}", home.removesuffix("/wp-tec").encode())
    result = extract(body, ctx(home + "/veranstaltungen/"))
    texts = [normalize(e, source_id="s", network_id="elmug", zone=ZoneInfo("Europe/Berlin"), base_url=home).description
             for e in result.events]
    stammtisch = next(t for t in texts if t.startswith("Beim Herbst-Stammtisch"))
    assert stammtisch.startswith("Beim Herbst-Stammtisch stellen zwei Mitgliedsunternehmen vor, wie sie Messdaten mit "
                                 "lernenden Verfahren auswerten – mit anschließendem Austausch bei Thüringer Bratwurst.")
    for text in texts:
        assert "<p>" not in text and "&lt;" not in text and "\\n" not in text, text


def test_a_plain_description_with_entities_or_backslashes_is_left_alone():
    result = extract(page(ev(description="Forschung & Entwicklung, Pfad C:\\new")), ctx())
    assert result.events[0].description == "Forschung & Entwicklung, Pfad C:\\new"


# ------------------------------------------------------------------ schema.org details


def ev(**props) -> dict:
    return {"@context": "https://schema.org", "@type": "Event", "name": "Netzwerktreffen", "startDate": "2025-10-08T13:00:00+02:00", **props}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("https://schema.org/EventCancelled", "cancelled"),
        ("http://schema.org/EventCancelled", "cancelled"),
        ("EventCancelled", "cancelled"),
        ("schema:EventPostponed", "tentative"),
        ("https://schema.org/EventScheduled", "confirmed"),
        ("https://schema.org/EventRescheduled", "confirmed"),
        ("https://schema.org/EventMovedOnline", "confirmed"),
    ],
)
def test_event_status(status, expected):
    result = extract(page(ev(eventStatus=status)), CTX)
    assert one(result).status == expected
    assert any("rescheduled" in w for w in result.warnings) == status.endswith("Rescheduled")


@pytest.mark.parametrize(
    ("start", "end", "want_start", "want_end"),
    [
        ("2025-10-08T13:00:00+02:00", "2025-10-08T17:00:00+02:00", datetime(2025, 10, 8, 13, tzinfo=BERLIN), datetime(2025, 10, 8, 17, tzinfo=BERLIN)),
        ("2025-12-08T13:00:00+01:00", None, datetime(2025, 12, 8, 13, tzinfo=BERLIN), None),
        ("2025-10-08T13:00:00+01:00", None, datetime(2025, 10, 8, 13, tzinfo=timezone(datetime(1, 1, 1, 1) - datetime(1, 1, 1))), None),
        ("2025-10-08T11:00:00Z", None, datetime(2025, 10, 8, 11, tzinfo=UTC), None),
        ("2025-10-08T13:00", "2025-10-08T17:30", datetime(2025, 10, 8, 13), datetime(2025, 10, 8, 17, 30)),
        ("2025-10-08 13:00", None, datetime(2025, 10, 8, 13), None),
        ("2025-10-08", None, date(2025, 10, 8), date(2025, 10, 9)),
        ("2025-10-08", "2025-10-10", date(2025, 10, 8), date(2025, 10, 11)),
        ("2025-10-08", "2025-10-08", date(2025, 10, 8), date(2025, 10, 9)),
        ("2025-10-08T13:00:00+02:00", "2025-10-08T17:00", datetime(2025, 10, 8, 13, tzinfo=BERLIN), datetime(2025, 10, 8, 17, tzinfo=BERLIN)),
        ("2025-10-08T09:00", "2025-10-09", datetime(2025, 10, 8, 9), datetime(2025, 10, 10, 0)),
        ("20251008T130000", None, datetime(2025, 10, 8, 13), None),
        # The Events Calendar's all-day events: the UTC instants of local 00:00:00 and 23:59:59
        ("2026-03-09T23:00:00+00:00", "2026-03-12T22:59:59+00:00", date(2026, 3, 10), date(2026, 3, 13)),
        ("2026-05-19T22:00:00+00:00", "2026-05-20T21:59:59+00:00", date(2026, 5, 20), date(2026, 5, 21)),
        ("2025-10-08T00:00:00+02:00", "2025-10-08T23:59:59+02:00", date(2025, 10, 8), date(2025, 10, 9)),
        ("2025-10-08T00:00:00", "2025-10-09T23:59:59", date(2025, 10, 8), date(2025, 10, 10)),
        # … but not a minute less, nor midnight in another zone than the source's
        ("2025-10-08T00:00:00+02:00", "2025-10-08T23:59:00+02:00", datetime(2025, 10, 8, tzinfo=BERLIN), datetime(2025, 10, 8, 23, 59, tzinfo=BERLIN)),
        ("2025-10-08T00:00:00Z", "2025-10-08T23:59:59Z", datetime(2025, 10, 8, tzinfo=UTC), datetime(2025, 10, 8, 23, 59, 59, tzinfo=UTC)),
        ("2025-10-8T9:30", None, datetime(2025, 10, 8, 9, 30), None),
    ],
)
def test_dates(start, end, want_start, want_end):
    props = {"startDate": start} | ({"endDate": end} if end else {})
    got = one(extract(page(ev(**props)), CTX))
    assert (got.start, got.end) == (want_start, want_end)
    if isinstance(want_start, datetime) and want_start.tzinfo is BERLIN:
        assert got.start.tzinfo is BERLIN


def test_end_before_start_is_dropped_with_a_warning():
    result = extract(page(ev(endDate="2025-10-07T10:00:00+02:00")), CTX)
    assert one(result).end is None
    assert any("before the start" in w for w in result.warnings)


def test_unreadable_start_is_skipped_with_a_warning():
    result = extract(page(ev(startDate="nächsten Mittwoch")), CTX)
    assert result.events == []
    assert any("not an ISO 8601 date" in w for w in result.warnings)


def test_types_graph_arrays_and_references():
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@id": "#ort", "@type": "Place", "name": "Ernst-Abbe-Hochschule", "address": {"@type": "PostalAddress", "addressLocality": "Jena"}},
            {"@type": ["Thing", "BusinessEvent"], "name": "A", "startDate": "2025-10-08", "location": {"@id": "#ort"}},
            {"@type": "schema:Festival", "name": "B", "startDate": "2025-10-09"},
            {"@type": "http://schema.org/Hackathon", "name": "C", "startDate": "2025-10-10"},
            {"@type": "Article", "name": "no event", "datePublished": "2025-10-01"},
            {"@type": "ItemList", "itemListElement": [{"@type": "ListItem", "item": {"@type": "SocialEvent", "name": "D", "startDate": "2025-10-11"}}]},
        ],
    }
    result = extract(page(graph, [ev(name="E", startDate="2025-10-12"), ev(name="F", startDate="2025-10-13")]), CTX)
    assert [e.title for e in result.events] == ["A", "B", "C", "D", "E", "F"]
    assert result.events[0].location == "Ernst-Abbe-Hochschule, Jena"


def test_attendance_modes_and_locations():
    online = one(extract(page(ev(eventAttendanceMode="https://schema.org/OnlineEventAttendanceMode")), CTX))
    assert online.location == "online"
    virtual = one(extract(page(ev(location={"@type": "VirtualLocation", "url": "https://zoom.example/j/1"})), CTX))
    assert virtual.location == "online: https://zoom.example/j/1"
    offline = one(extract(page(ev(eventAttendanceMode="OfflineEventAttendanceMode", location="Erfurt")), CTX))
    assert offline.location == "Erfurt"
    online_with_place = one(extract(page(ev(eventAttendanceMode="OnlineEventAttendanceMode", location={"@type": "Place", "name": "Studio Weimar"})), CTX))
    assert online_with_place.location == "Studio Weimar"


MIXED = "https://schema.org/MixedEventAttendanceMode"
STUDIO = {"@type": "Place", "name": "Studio Weimar", "address": {"@type": "PostalAddress", "streetAddress": "Markt 1",
                                                                  "postalCode": "99423", "addressLocality": "Weimar"}}
ZOOM = {"@type": "VirtualLocation", "url": "https://zoom.example/j/1"}


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ([STUDIO, ZOOM], "Studio Weimar, Markt 1, 99423 Weimar; online: https://zoom.example/j/1"),
        ([ZOOM, STUDIO], "Studio Weimar, Markt 1, 99423 Weimar; online: https://zoom.example/j/1"),  # the place first
        (["Erfurt", "https://zoom.example/j/1"], "Erfurt; online: https://zoom.example/j/1"),
        (STUDIO, "Studio Weimar, Markt 1, 99423 Weimar; online"),  # no link named: still says it is hybrid
        (ZOOM, "online: https://zoom.example/j/1"),
        (None, "online"),
    ],
)
def test_mixed_attendance_keeps_the_place_and_the_online_link(location, expected):
    props = {"eventAttendanceMode": MIXED} | ({"location": location} if location is not None else {})
    result = extract(page(ev(**props)), CTX)

    assert one(result).location == expected
    assert result.warnings == []


def test_mixed_attendance_of_an_event_moved_online_is_online():
    got = one(extract(page(ev(eventAttendanceMode=MIXED, eventStatus="https://schema.org/EventMovedOnline", location=ZOOM)), CTX))
    assert got.location == "online: https://zoom.example/j/1"


def test_source_uid_falls_back_to_url_then_a_stable_hash():
    events = extract(page(ev(url="/a"), ev(name="Zwei", url="/a", startDate="2025-10-09"), ev(name="Drei", startDate="2025-10-10")), CTX).events
    assert events[0].source_uid == "https://netzwerk.example/a#2025-10-08T13:00:00+02:00"
    assert events[1].source_uid == "https://netzwerk.example/a#2025-10-09"
    assert events[2].source_uid.startswith("sha256:")
    assert events[2].source_uid == extract(page(ev(name="Drei", startDate="2025-10-10")), CTX).events[0].source_uid


def test_the_same_event_in_json_ld_and_microdata_is_one_event():
    micro = (
        '<div itemscope itemtype="https://schema.org/Event"><span itemprop="name">Netzwerktreffen</span>'
        '<meta itemprop="startDate" content="2025-10-08T13:00:00+02:00"><span itemprop="location">Erfurt</span></div>'
    )
    got = one(extract(page(ev(), body=micro), CTX))
    assert got.location == "Erfurt"  # filled from the microdata


def test_page_without_events_is_no_error():
    result = extract(b"<html><head><title>Impressum</title></head><body><p>Kontakt</p></body></html>", CTX)
    assert result.events == []
    assert result.warnings == ["page states no schema.org Event (JSON-LD, microdata) and no h-event"]


def test_a_json_ld_body_is_read():
    got = one(extract(json.dumps(ev()).encode(), CTX))
    assert got.title == "Netzwerktreffen"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (bytes(range(256)) * 40, "binary"),
        (b"%PDF-1.7\n1 0 obj", "PDF"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "iCalendar"),
        (b"Termine: 05.03.2025 Netzwerktreffen", "no markup"),
        (b"{kein json", "not JSON-LD"),
    ],
)
def test_bodies_that_are_not_html(body, reason):
    with pytest.raises(ExtractError, match=reason):
        extract(body, CTX)


# ------------------------------------------------------------------ hostile input


def test_five_thousand_nested_divs():
    body = b"<html><body>" + b"<div>" * 5000 + page(ev()).split(b"<head>")[1].split(b"</head>")[0] + b"</div>" * 5000 + b"</body></html>"
    result = extract(body, CTX)
    assert isinstance(result, Extraction)


@pytest.mark.parametrize(
    "markup",
    [
        b'<div itemscope itemtype="https://schema.org/Event"><span itemprop="name">n</span><div itemprop="subEvent" itemscope itemtype="https://schema.org/Event">',
        b'<div class="h-event"><span class="p-name">n</span><time class="dt-start" datetime="2025-01-01">x</time>',
        b'<div class="vevent"><span class="summary">n</span><abbr class="dtstart" title="2025-01-01">x</abbr>',
    ],
)
def test_deeply_nested_items_do_not_crash(markup):
    body = b"<html><body>" + markup * 5000 + b"</div>" * 10000 + b"</body></html>"
    result = extract(body, CTX)  # an Extraction, or an ExtractError: never a RecursionError
    assert_output_convention(result)


def test_deeply_nested_json_is_a_warning():
    deep = "[" * 100_000 + "]" * 100_000
    result = extract(page(deep, ev()), CTX)
    assert len(result.events) == 1
    assert any("nested too deeply" in w for w in result.warnings)


def test_broken_json_ld_next_to_a_good_block():
    result = extract(page('{"@type": "Event", "name": "kaputt", "startDate": ', ev()), CTX)
    assert one(result).title == "Netzwerktreffen"
    assert len(result.warnings) == 1 and "JSON-LD block 1 is not valid JSON" in result.warnings[0]


def test_js_comment_and_control_characters_in_json_ld():
    block = '// Veranstaltung\n{"@type": "Event", "name": "Netz\twerk\x01treffen", "startDate": "2025-10-08"}'
    assert one(extract(page(block), CTX)).title.startswith("Netz")


def test_two_megabyte_page_with_too_many_events_is_capped():
    graph = {"@context": "https://schema.org", "@graph": [ev(name=f"Termin {i}", startDate=f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}") for i in range(3000)]}
    body = page(graph, body="<p>Fülltext für eine große Seite.</p>" * 50_000)
    assert len(body) > 2_000_000
    result = extract(body, CTX)
    assert len(result.events) == MAX_EVENTS
    assert any(f"kept the first {MAX_EVENTS}" in w for w in result.warnings)


def test_the_dispatcher_lets_only_extract_error_escape():
    with pytest.raises(ExtractError):
        extract_kind("jsonld", b"\x00\x01\x02", CTX)


# ------------------------------------------------------------------ detail pages


LIST_EVENT = RawEvent(
    source_uid="https://netzwerk.example/veranstaltungen/netzwerktreffen/",
    title="Netzwerktreffen Digitale Gesundheit",
    start=date(2025, 10, 8),
    end=date(2025, 10, 9),
    url="https://netzwerk.example/veranstaltungen/netzwerktreffen/",
)


def test_events_in_page_is_extract():
    assert events_in_page is extract


def test_enrich_fills_time_place_and_description_from_the_detail_page():
    detail = page(
        ev(
            name="Netzwerktreffen medways: Digitale Gesundheit",
            endDate="2025-10-08T17:00:00+02:00",
            location={"@type": "Place", "name": "COMCENTER Brühl", "address": "Mainzerhofstraße 10, 99084 Erfurt"},
            description="Impulse und Austausch",
            url="/anderswo/",
        ),
        ev(name="Stammtisch", startDate="2025-10-20T18:00:00+02:00"),
    )
    got, warnings = enrich(LIST_EVENT, detail, CTX)
    assert warnings == []
    assert got == RawEvent(
        source_uid=LIST_EVENT.source_uid,
        title=LIST_EVENT.title,
        start=datetime(2025, 10, 8, 13, 0, tzinfo=BERLIN),
        end=datetime(2025, 10, 8, 17, 0, tzinfo=BERLIN),
        description="Impulse und Austausch",
        location="COMCENTER Brühl, Mainzerhofstraße 10, 99084 Erfurt",
        url=LIST_EVENT.url,  # the list's URL stays
    )


def test_enrich_keeps_what_the_list_gave():
    listed = RawEvent(source_uid="x", title="Netzwerktreffen", start=datetime(2025, 10, 8, 14, 0), location="Jena", description="Liste")
    got, _ = enrich(listed, page(ev(location="Erfurt", description="Detail", eventStatus="EventCancelled")), CTX)
    assert (got.start, got.location, got.description) == (datetime(2025, 10, 8, 14, 0), "Jena", "Liste")
    assert got.status == "cancelled"  # the detail page knows better


def test_enrich_takes_the_zone_for_the_same_wall_time():
    listed = RawEvent(source_uid="x", title="Netzwerktreffen", start=datetime(2025, 10, 8, 13, 0))
    got, _ = enrich(listed, page(ev(endDate="2025-10-08T15:00:00+02:00")), CTX)
    assert (got.start, got.end) == (datetime(2025, 10, 8, 13, tzinfo=BERLIN), datetime(2025, 10, 8, 15, tzinfo=BERLIN))


def test_enrich_without_a_match_leaves_the_event_alone():
    got, warnings = enrich(LIST_EVENT, page(ev(startDate="2025-11-01")), CTX)
    assert got is LIST_EVENT and "matches" in warnings[0]
    got, warnings = enrich(LIST_EVENT, b"<html><body>nichts</body></html>", CTX)
    assert got is LIST_EVENT and "no structured event" in warnings[0]
    got, warnings = enrich(LIST_EVENT, b"\x00\x01", CTX)
    assert got is LIST_EVENT and "binary" in warnings[0]


def test_enrich_refuses_an_unlike_title_among_several_that_day():
    detail = page(ev(name="Mitgliederversammlung", startDate="2025-10-08T10:00"), ev(name="Sommerfest", startDate="2025-10-08T18:00"))
    got, warnings = enrich(LIST_EVENT, detail, CTX)
    assert got is LIST_EVENT and warnings

"""The html extractor: fixture sites as their CMSes render them, detail pages, and hostile pages.

Each fixture site in tests/fixtures/sites/<site>/ is read with the
``[sources.html]`` selectors an operator would write for it (the dicts below
are exactly those TOML tables), with a frozen ``now``.
"""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from aggregator.config import HtmlOptions
from aggregator.extract import ExtractContext, ExtractError, Extraction
from aggregator.extract import extract as extract_kind
from aggregator.extract import html
from aggregator.extract.html import MAX_ITEMS, enrich, extract
from aggregator.model import RawEvent

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 2, 15, 9, 0, tzinfo=BERLIN)
SITES = Path(__file__).parent / "fixtures" / "sites"

# [sources.html] of a TYPO3 site listing events as tx_news records (ThCM-like).
TYPO3_NEWS = {
    "item": ".news-list-view .article",
    "title": ".header h3",
    "date": ".teaser-text [itemprop=description]",
    "link": ".header h3 a",
    "description": ".teaser-text [itemprop=description]",
    "next_page": ".f3-widget-paginator li.next a",
    "detail": True,
}
# [sources.html] of a Contao event list (mod_eventlist, layout "event_teaser"; ThEEN-like).
CONTAO = {
    "item": ".mod_eventlist .event",
    "title": "h2",
    "date": "p.time",
    "link": "h2 a",
    "location": ".location",
    "description": ".ce_text",
    "next_page": ".pagination a.next",
}
# [sources.html] of a hand-written PHP page with a table per year (ITnet-like).
PHP_TABLE = {
    "item": "table.termine tr:has(td)",
    "date": "td:nth-of-type(1)",
    "time": "td:nth-of-type(2)",
    "title": "td:nth-of-type(3)",
    "link": "td:nth-of-type(3) a",
    "location": "td:nth-of-type(4)",
}
# [sources.html] for medways' Workshopnews: too odd for selectors, read by aggregator/extract/sites/medways.py.
MEDWAYS = {"parser": "medways"}

TYPO3_BASE = "https://www.cluster-thueringen.example/typo3-news/veranstaltungen/"


def ctx(url: str, options: dict, now: datetime = NOW) -> ExtractContext:
    return ExtractContext(url=url, timezone=BERLIN, now=now, options=options)


def site(path: str) -> bytes:
    return (SITES / path).read_bytes()


def pinned(result: Extraction) -> list[tuple]:
    return [(e.title, e.start, e.end, e.location, e.url) for e in result.events]


def page(body: str) -> bytes:
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>T</title></head><body>{body}</body></html>".encode()


SIMPLE = {"item": ".ev", "title": "h3", "date": ".d", "link": "a"}


def simple(body: str, options: dict | None = None, url: str = "https://netzwerk.example/termine/") -> Extraction:
    return extract(page(body), ctx(url, options or SIMPLE))


def test_operator_tables_are_valid_config():
    for options in (TYPO3_NEWS, CONTAO, PHP_TABLE, MEDWAYS):
        HtmlOptions.model_validate(options)


# --------------------------------------------------------------------------- TYPO3 tx_news


def typo3_page(n: int) -> tuple[Extraction, ExtractContext]:
    path, url = ("veranstaltungen/index.html", TYPO3_BASE) if n == 1 else ("veranstaltungen/page-2/index.html", TYPO3_BASE + "page-2")
    c = ctx(url, TYPO3_NEWS)
    return extract(site("typo3-news/" + path), c), c


def typo3_detail(url: str) -> bytes:
    return site("typo3-news/" + url.split("/typo3-news/", 1)[1] + "/index.html")


def test_typo3_list_page_1_days_only_publication_date_ignored():
    result, _ = typo3_page(1)
    assert pinned(result) == [
        ("Workshop Wasserstoff in der Industrie", date(2025, 3, 5), date(2025, 3, 6), "",
         TYPO3_BASE + "detail/workshop-wasserstoff-in-der-industrie"),
        ("Cross-Cluster-Stammtisch Jena", date(2025, 3, 19), date(2025, 3, 20), "",
         TYPO3_BASE + "detail/cross-cluster-stammtisch-jena"),
    ]
    # the third article (a review) has only its publication date: not an event
    assert result.warnings == [
        "item 'Rückblick: Thüringer Werkstofftag 2024' (no event date in "
        "'Über 200 Gäste kamen zum Werkstofftag an die Friedrich-Schiller-Universität Jena'): skipped"
    ]
    assert result.next_pages == [TYPO3_BASE + "page-2"]
    assert result.details == [(0, TYPO3_BASE + "detail/workshop-wasserstoff-in-der-industrie"),
                              (1, TYPO3_BASE + "detail/cross-cluster-stammtisch-jena")]
    assert result.events[0].description.startswith("Erfurt, 10.02.2025 – Am Mittwoch, 5. März 2025 laden")
    assert [e.source_uid for e in result.events] == [e.url for e in result.events]


def test_typo3_list_page_2_is_the_last():
    result, _ = typo3_page(2)
    assert pinned(result) == [
        ("Cross-Cluster-Woche 2025: Auftakt", date(2025, 10, 13), date(2025, 10, 18), "",
         TYPO3_BASE + "detail/cross-cluster-woche-2025-auftakt"),
        ("7. Thüringer KI-Forum", date(2025, 10, 1), date(2025, 10, 2), "", TYPO3_BASE + "detail/7-thueringer-ki-forum"),
    ]
    assert result.warnings == []
    assert result.next_pages == []  # only a "previous" link


def test_typo3_detail_pages_give_times_and_places():
    enriched = []
    for n in (1, 2):
        result, c = typo3_page(n)
        for i, url in result.details:
            event, notes = enrich(result.events[i], typo3_detail(url), c)
            assert notes == []
            enriched.append(event)
    assert [(e.title, e.start, e.end, e.location) for e in enriched] == [
        # "Termin: Mi, 05.03.2025 | 09:30 – 16:00 Uhr" / "Ort: …"
        ("Workshop Wasserstoff in der Industrie", datetime(2025, 3, 5, 9, 30), datetime(2025, 3, 5, 16, 0),
         "IHK Erfurt, Arnstädter Straße 34, 99096 Erfurt"),
        # a table: "Datum: | Mittwoch, 19.03.2025" / "Zeit: | 17:00 – 19:00 Uhr" / "Ort: | …"
        ("Cross-Cluster-Stammtisch Jena", datetime(2025, 3, 19, 17, 0), datetime(2025, 3, 19, 19, 0),
         "Volkshaus Jena, Carl-Zeiß-Platz 15, 07743 Jena"),
        # a week: the kickoff's hours are not the week's; it stays all-day
        ("Cross-Cluster-Woche 2025: Auftakt", date(2025, 10, 13), date(2025, 10, 18),
         "COMCENTER Brühl, Mainzerhofstraße 10, 99084 Erfurt"),
        # "Wann? Mittwoch, 1. Oktober 2025, 9:00 – 17:00 Uhr" / "Wo? …"
        ("7. Thüringer KI-Forum", datetime(2025, 10, 1, 9, 0), datetime(2025, 10, 1, 17, 0),
         "COMCENTER Brühl, Mainzerhofstraße 10, 99084 Erfurt"),
    ]
    # what the list had stays: the teaser remains the description, the URL the uid
    assert enriched[0].description.startswith("Erfurt, 10.02.2025")
    assert enriched[0].source_uid == TYPO3_BASE + "detail/workshop-wasserstoff-in-der-industrie"


def test_enrich_fills_description_from_main_content_not_navigation():
    result, c = typo3_page(1)
    bare = replace(result.events[0], description="")
    event, _ = enrich(bare, typo3_detail(result.details[0][1]), c)
    assert event.description.startswith("Termin: Mi, 05.03.2025 | 09:30 – 16:00 Uhr\nOrt: IHK Erfurt")
    assert "Wie gelingt der Umstieg auf grünen Wasserstoff" in event.description
    assert "Hauptnavigation" not in event.description and "Impressum" not in event.description
    assert "InnoBlog" not in event.description


def test_enrich_calls_jsonld_first_when_present(monkeypatch):
    calls = []

    def fake_jsonld_enrich(event, body, c):
        calls.append(event.title)
        return replace(event, location="aus JSON-LD"), ["jsonld note"]

    monkeypatch.setattr(html, "_jsonld", types.SimpleNamespace(enrich=fake_jsonld_enrich))
    result, c = typo3_page(1)
    plain = typo3_detail(result.details[0][1])
    event, notes = enrich(result.events[0], plain, c)
    assert calls == [] and notes == []  # no structured data on the page: the step is not asked
    with_jsonld = plain.replace(b"</head>", b'<script type="application/ld+json">{"@type": "Event"}</script></head>')
    event, notes = enrich(result.events[0], with_jsonld, c)
    assert calls == ["Workshop Wasserstoff in der Industrie"]
    assert notes == ["jsonld note"]
    assert event.location == "aus JSON-LD"  # the text step fills only what is still missing
    assert event.start == datetime(2025, 3, 5, 9, 30)


def test_enrich_survives_a_broken_jsonld_step_and_a_broken_page(monkeypatch):
    def broken(event, body, c):
        raise ValueError("boom")

    monkeypatch.setattr(html, "_jsonld", types.SimpleNamespace(enrich=broken))
    result, c = typo3_page(1)
    body = typo3_detail(result.details[0][1]).replace(b"</head>", b'<script type="application/ld+json">{}</script></head>')
    event, notes = enrich(result.events[0], body, c)
    assert event.start == datetime(2025, 3, 5, 9, 30)
    assert any("structured data" in n for n in notes)
    same, notes = enrich(result.events[0], b"\x00\x01binary", c)
    assert same == result.events[0]
    assert notes and "not an HTML page" in notes[0]


def test_enrich_label_time_far_from_the_date():
    ev = RawEvent(source_uid="u", title="Branchentreff", start=date(2025, 6, 4), end=date(2025, 6, 5), url="https://x.example/e")
    body = page("<main><h1>Branchentreff</h1><p>Datum: 04.06.2025</p><p>Lorem ipsum dolor sit amet, consectetur adipisici elit, "
                "sed eiusmod tempor incidunt ut labore et dolore magna aliqua.</p><p>Uhrzeit: 14:00 – 17:00 Uhr</p>"
                "<dl><dt>Veranstaltungsort</dt><dd>Kaisersaal, Futterstraße 15/16, 99084 Erfurt</dd></dl></main>")
    event, notes = enrich(ev, body, ctx("https://x.example/e", {"item": "x", "title": "x", "date": "x", "detail": True}))
    assert (event.start, event.end) == (datetime(2025, 6, 4, 14, 0), datetime(2025, 6, 4, 17, 0))
    assert event.location == "Kaisersaal, Futterstraße 15/16, 99084 Erfurt"
    assert notes == []


def test_typo3_over_real_http(sites_server):
    """Fetch the list, its next page and the detail pages from the local server, as the crawler will."""
    start = sites_server.url("/typo3-news/veranstaltungen/")
    queue, events = [start], []
    with httpx.Client(timeout=10) as client:
        while queue:
            url = queue.pop(0)
            response = client.get(url)
            assert response.status_code == 200
            c = ctx(str(response.url), TYPO3_NEWS)
            result = extract(response.content, c)
            for i, detail_url in result.details:
                assert detail_url.startswith(sites_server.base_url + "/typo3-news/veranstaltungen/detail/")
                detail = client.get(detail_url)
                assert detail.status_code == 200
                event, _ = enrich(result.events[i], detail.content, c)
                events.append(event)
            queue.extend(result.next_pages)
    assert [(e.title, e.start, e.end) for e in events] == [
        ("Workshop Wasserstoff in der Industrie", datetime(2025, 3, 5, 9, 30), datetime(2025, 3, 5, 16, 0)),
        ("Cross-Cluster-Stammtisch Jena", datetime(2025, 3, 19, 17, 0), datetime(2025, 3, 19, 19, 0)),
        ("Cross-Cluster-Woche 2025: Auftakt", date(2025, 10, 13), date(2025, 10, 18)),
        ("7. Thüringer KI-Forum", datetime(2025, 10, 1, 9, 0), datetime(2025, 10, 1, 17, 0)),
    ]
    assert [r.path for r in sites_server.requests][:2] == ["/typo3-news/veranstaltungen/",
                                                          "/typo3-news/veranstaltungen/detail/workshop-wasserstoff-in-der-industrie"]


# --------------------------------------------------------------------------- Contao


def test_contao_event_list():
    result = extract(site("contao/de/termine.html"), ctx("https://www.theen-ev.example/de/termine.html", CONTAO))
    base = "https://www.theen-ev.example/de/termine/"  # links are relative to <base href>
    assert pinned(result) == [
        ("Energieeffizienz-Tisch: Wärmepumpen in der Industrie", datetime(2025, 3, 5, 9, 30), datetime(2025, 3, 5, 16, 0),
         "Wasserwerk Burgau, Reifsteinweg 20, 07745 Jena", base + "energieeffizienz-tisch-waermepumpen.html"),
        ("Online-Seminar Speichertechnologien", datetime(2025, 4, 2, 10, 0), None, "Online",
         base + "online-seminar-speichertechnologien.html"),
        ("Thüringer Energiewochen", date(2025, 4, 16), date(2025, 4, 26), "", base + "thueringer-energiewochen.html"),
        ("ABGESAGT: Exkursion Pumpspeicherwerk Goldisthal", datetime(2025, 5, 10, 8, 0), datetime(2025, 5, 10, 18, 0),
         "Pumpspeicherwerk Goldisthal, 98746 Goldisthal", base + "exkursion-pumpspeicherwerk-goldisthal.html"),
    ]
    assert [e.status for e in result.events] == ["confirmed", "confirmed", "confirmed", "cancelled"]
    assert result.events[0].description == "Unternehmen berichten, wie sie Prozesswärme mit Großwärmepumpen bereitstellen."
    assert result.warnings == []
    assert result.next_pages == ["https://www.theen-ev.example/de/termine.html?page_e12=2"]
    assert result.details == []  # detail = false


# --------------------------------------------------------------------------- hand-written PHP table


def test_php_table_latin1_year_from_section_heading():
    result = extract(site("php-table/termine.php"), ctx("https://www.itnet-th.example/termine.php", PHP_TABLE))
    assert pinned(result) == [
        ("Workshop IT-Sicherheit für KMU", datetime(2025, 4, 8, 14, 0), datetime(2025, 4, 8, 17, 0),
         "Haus Dacheröden, Anger 37, Erfurt", "https://www.itnet-th.example/termin.php?id=101"),
        ("Digitaltag Thüringen", date(2025, 6, 15), date(2025, 6, 17), "Jena", "https://www.itnet-th.example/termin.php?id=102"),
        ("Business-Lounge", datetime(2025, 11, 2, 18, 0), None, "Weimar, Hotel Elephant", "https://www.itnet-th.example/termin.php?id=104"),
        # "20. Januar" under "Vorschau 2026": ctx.now alone would have said January 2025
        ("Neujahrsempfang", datetime(2026, 1, 20, 17, 30), None, "Erfurt, Kaisersaal", "http://www.itnet-th.example/termin.php?id=105"),
    ]
    # a month alone is no date: the item is named, not guessed
    assert result.warnings == ["item 'Cybersecurity-Monat mit vier Veranstaltungen' (no event date in 'September'): skipped"]


def test_year_from_heading_beats_reference_and_nests_by_level():
    body = """
    <h2>Rückblick 2024</h2><h3>März</h3>
    <div class="ev"><h3>Werkstofftag</h3><span class="d">12. März</span></div>
    <h2>Termine</h2>
    <div class="ev"><h3>Stammtisch</h3><span class="d">12. März</span></div>
    """
    result = simple(body)
    assert [(e.title, e.start) for e in result.events] == [("Werkstofftag", date(2024, 3, 12)), ("Stammtisch", date(2025, 3, 12))]


# --------------------------------------------------------------------------- parser module


def test_medways_parser_module():
    result = extract(site("medways-workshopnews/workshopnews.php"), ctx("https://www.medways.example/workshopnews.php", MEDWAYS))
    assert pinned(result) == [
        ("Workshop „Klinische Bewertung nach MDR“", datetime(2025, 3, 12, 9, 0), datetime(2025, 3, 12, 16, 30),
         "InfectoGnostics Forschungscampus, Philosophenweg 7, 07743 Jena", "https://www.medways.example/workshop.php?id=57"),
        ("medways-Stammtisch", datetime(2025, 4, 9, 18, 0), None, "Café Stilbruch, Wagnergasse 1-2, 07743 Jena", ""),
        ("Biotech-Tage Jena – Forum Medizintechnik", date(2025, 5, 27), date(2025, 5, 29), "Volkshaus Jena",
         "http://www.biotech-tage.example/"),
        # "22. Januar" under "Vorschau 2026"
        ("Neujahrsempfang der Life-Sciences-Netzwerke", datetime(2026, 1, 22, 17, 0), None, "Rathaus Jena, Markt 1", ""),
    ]
    assert result.events[1].description == "Jeden letzten Mittwoch im Monat – diesmal ausnahmsweise am Mittwoch vor Ostern."
    assert result.events[1].source_uid.startswith("sha256:")
    assert len({e.source_uid for e in result.events}) == 4
    assert result.warnings == ["item 'Branchentalk Medizintechnik mit der IHK Ostthüringen zu Gera': no event date in 'Termin folgt'; skipped"]


def test_unknown_parser_is_an_extract_error():
    with pytest.raises(ExtractError, match="no aggregator/extract/sites/nosuchsite.py"):
        extract(page("<p>x</p>"), ctx("https://x.example/", {"parser": "nosuchsite"}))
    with pytest.raises(ExtractError, match="not a module name"):
        extract(page("<p>x</p>"), ctx("https://x.example/", {"parser": "../etc"}))


# --------------------------------------------------------------------------- selectors and dates


def test_selector_matching_nothing_is_a_warning_not_an_error():
    result = simple("<h1>Termine</h1><p>Unsere Termine finden Sie künftig im neuen Veranstaltungskalender.</p>",
                    {**SIMPLE, "item": ".event-item"})
    assert result.events == []
    assert result.warnings == ["selector item='.event-item' matched nothing — has the site changed?"]


def test_selector_matching_nothing_on_a_page_that_says_it_is_empty():
    result = simple('<div class="mod_eventlist"><p class="empty">Derzeit keine Termine vorhanden.</p></div>')
    assert result.events == []
    assert len(result.warnings) == 1 and "keine Termine" in result.warnings[0]


@pytest.mark.parametrize("key,selector", [("item", "div[class="), ("title", "h3:::x"), ("next_page", "a:nth-child(")])
def test_invalid_selector_is_an_extract_error_naming_it(key, selector):
    with pytest.raises(ExtractError) as err:
        simple('<div class="ev"><h3>A</h3><span class="d">05.03.2025</span></div>', {**SIMPLE, key: selector})
    assert f"{key}={selector!r}" in str(err.value)


@pytest.mark.parametrize(
    "body,why",
    [
        (b"", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b'{"events": []}', "JSON"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "iCalendar"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', "RSS"),
        (b"just some words, no markup at all", "no markup"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ],
)
def test_not_html_is_an_extract_error(body, why):
    with pytest.raises(ExtractError, match=why):
        extract(body, ctx("https://x.example/", SIMPLE))


def test_items_without_date_are_skipped_and_named():
    result = simple("""
      <div class="ev"><h3>Jahresempfang</h3><span class="d">Termin folgt</span></div>
      <div class="ev"><h3>Ohne Datumsfeld</h3></div>
      <div class="ev"><h3>Business-Lounge</h3><span class="d">2. November 2025, 18 Uhr</span></div>
    """)
    assert [(e.title, e.start) for e in result.events] == [("Business-Lounge", datetime(2025, 11, 2, 18, 0))]
    assert result.warnings == [
        "item 'Jahresempfang' (no event date in 'Termin folgt'): skipped",
        "item 'Ohne Datumsfeld' (selector date='.d' matched nothing): skipped",
    ]


def test_publication_dates_are_not_event_dates():
    result = simple("""
      <div class="ev"><h3>Pressemeldung</h3><span class="d"><time itemprop="datePublished" datetime="2025-02-10">10.02.2025</time></span></div>
      <div class="ev"><h3>WordPress-Beitrag</h3><span class="d"><time class="entry-date published" datetime="2025-02-11">11. Februar 2025</time></span></div>
      <div class="ev"><h3>Meldung mit Ortszeile</h3><span class="d">Erfurt, 14. Januar 2025.</span></div>
      <div class="ev"><h3>Workshop</h3><span class="d"><time datetime="2025-02-01" pubdate>01.02.2025</time> Workshop am 14.03.2025, 10:00 – 12:00 Uhr</span></div>
    """)
    assert [(e.title, e.start, e.end) for e in result.events] == [
        ("Workshop", datetime(2025, 3, 14, 10, 0), datetime(2025, 3, 14, 12, 0)),
    ]
    assert result.warnings[:2] == [
        "item 'Pressemeldung': its date is a publication date, not an event date; skipped",
        "item 'WordPress-Beitrag': its date is a publication date, not an event date; skipped",
    ]
    assert "Meldung mit Ortszeile" in result.warnings[2]


def test_a_date_selector_with_date_and_clock_time_gives_the_event_start():
    # "14.10.2025 18:00" alone in free text is a posting timestamp; as the date selector's text it is the event's start
    result = simple("""
      <div class="ev"><h3>Workshop Wasserstoff</h3><p class="d">14.10.2025 18:00</p></div>
      <div class="ev"><h3>Stammtisch</h3><p class="d">Mi 05.11.2025 19:30</p></div>
    """, {**SIMPLE, "date": "p.d"})
    assert [(e.title, e.start, e.end) for e in result.events] == [
        ("Workshop Wasserstoff", datetime(2025, 10, 14, 18, 0), None),
        ("Stammtisch", datetime(2025, 11, 5, 19, 30), None),
    ]
    assert result.warnings == []


def test_a_weekday_that_does_not_fit_the_date_is_warned_and_the_date_kept():
    result = simple('<div class="ev"><h3>Sommerfest</h3><span class="d">Montag, 14.07.2023, 18 Uhr</span></div>')
    assert [e.start for e in result.events] == [datetime(2023, 7, 14, 18, 0)]
    assert result.warnings == ["item 'Sommerfest': 'Montag' does not fit 14.07.2023, a Friday; kept the date"]


def test_time_datetime_attribute_when_the_text_has_no_date():
    result = simple('<div class="ev"><h3>Sprechstunde</h3><span class="d"><time datetime="2025-03-07T14:00:00+01:00">nächsten Freitag</time></span></div>')
    assert [(e.title, e.start) for e in result.events] == [("Sprechstunde", datetime(2025, 3, 7, 14, 0, tzinfo=BERLIN))]


def test_time_selector_is_appended_and_pipe_layout_read():
    options = {"item": "li", "title": ".t", "date": ".d", "time": ".z", "location": ".o"}
    result = simple('<ul><li><span class="d">18.09.2025</span> | <span class="z">09:00</span> | <span class="o">Gedenkstätte Buchenwald | Jugendbegegnungsstätte</span>'
                    '<span class="t">Gedenkstättenfahrt</span></li>'
                    '<li><span class="d">Mi, 05.03.2025 | 09:30 – 16:00 Uhr</span><span class="t">Tagung</span></li>'
                    '<li><span class="d">16.–25.09.2020</span><span class="t">Cross-Cluster-Woche</span></li></ul>', options)
    assert [(e.title, e.start, e.end, e.location) for e in result.events] == [
        ("Gedenkstättenfahrt", datetime(2025, 9, 18, 9, 0), None, "Gedenkstätte Buchenwald | Jugendbegegnungsstätte"),
        ("Tagung", datetime(2025, 3, 5, 9, 30), datetime(2025, 3, 5, 16, 0), ""),
        ("Cross-Cluster-Woche", date(2020, 9, 16), date(2020, 9, 26), ""),
    ]


def test_links_are_absolute_and_shared_links_get_unique_uids():
    result = simple("""
      <base href="https://www.netzwerk.example/">
      <div class="ev"><h3><a href="termine/stammtisch.html">Stammtisch</a></h3><span class="d">05.03.2025</span></div>
      <div class="ev"><h3><a href="termine/stammtisch.html">Stammtisch</a></h3><span class="d">02.04.2025</span></div>
      <div class="ev"><h3><a href="javascript:void(0)">Ohne Link</a></h3><span class="d">07.05.2025</span></div>
    """, url="https://netzwerk.example/de/termine.php")
    assert [e.url for e in result.events] == ["https://www.netzwerk.example/termine/stammtisch.html"] * 2 + [""]
    assert [e.source_uid for e in result.events][:2] == [
        "https://www.netzwerk.example/termine/stammtisch.html",
        "https://www.netzwerk.example/termine/stammtisch.html#2025-04-02",
    ]
    assert result.events[2].source_uid.startswith("sha256:")


def test_next_page_to_another_host_is_reported_absolute():
    """The extractor names it; the crawler enforces the same-host rule."""
    options = {**SIMPLE, "next_page": "a.weiter"}
    result = simple('<div class="ev"><h3>A</h3><span class="d">05.03.2025</span></div>'
                    '<a class="weiter" href="//andere-domain.example/termine?seite=2">weiter</a>', options)
    assert result.next_pages == ["https://andere-domain.example/termine?seite=2"]
    relative = simple('<div class="ev"><h3>A</h3><span class="d">05.03.2025</span></div>'
                      '<p class="weiter"><a href="?seite=2">weiter</a></p>', {**SIMPLE, "next_page": ".weiter"})
    assert relative.next_pages == ["https://netzwerk.example/termine/?seite=2"]
    itself = simple('<div class="ev"><h3>A</h3><span class="d">05.03.2025</span></div><a class="weiter" href="">weiter</a>', options)
    assert itself.next_pages == []


def test_detail_lists_only_events_with_links():
    result = simple('<div class="ev"><h3><a href="/a">A</a></h3><span class="d">05.03.2025</span></div>'
                    '<div class="ev"><h3>B</h3><span class="d">06.03.2025</span></div>'
                    '<div class="ev"><h3><a href="/c">C</a></h3><span class="d">07.03.2025</span></div>', {**SIMPLE, "detail": True})
    assert result.details == [(0, "https://netzwerk.example/a"), (2, "https://netzwerk.example/c")]


def test_dispatch_through_the_kind_registry():
    result = extract_kind("html", site("contao/de/termine.html"), ctx("https://www.theen-ev.example/de/termine.html", CONTAO))
    assert len(result.events) == 4


# --------------------------------------------------------------------------- hostile pages


def test_five_thousand_nested_divs():
    body = ("<div class='wrap'>" * 5000 + "<div class='ev'><h3>Tief verschachtelt</h3><span class='d'>05.03.2025, 10:00 Uhr</span></div>"
            + "</div>" * 5000)
    assert sys.getrecursionlimit() < 5000  # nothing on the way (parse, select, text) may recurse per level
    result = simple(body, {**SIMPLE, "item": ".wrap .ev"})
    assert [(e.title, e.start) for e in result.events] == [("Tief verschachtelt", datetime(2025, 3, 5, 10, 0))]
    event, _ = enrich(result.events[0], page(body), ctx("https://netzwerk.example/t", SIMPLE))
    assert event.description == "05.03.2025, 10:00 Uhr"  # the main text without the heading that repeats the title


def test_recursion_error_becomes_extract_error(monkeypatch):
    def deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(html, "_extract", deep)
    with pytest.raises(ExtractError, match="nested too deeply"):
        simple("<p>x</p>")


def test_two_megabyte_page_with_huge_fields_is_truncated():
    huge = "Lorem ipsum dolor sit amet. " * 75_000  # ~2 MB of one description
    body = (f'<div class="ev"><h3>{"Sehr langer Titel " * 100}</h3><span class="d">05.03.2025</span>'
            f'<p class="beschr">{huge}</p><span class="o">{"Erfurt " * 1000}</span></div>')
    assert len(body) > 2_000_000
    result = simple(body, {**SIMPLE, "description": ".beschr", "location": ".o"})
    (event,) = result.events
    assert len(event.title) <= html.MAX_TITLE
    assert len(event.description) <= html.MAX_DESCRIPTION
    assert len(event.location) <= html.MAX_LOCATION
    assert event.description.endswith("…")


def test_ten_thousand_items_are_capped():
    items = "".join(f'<div class="ev"><h3>Termin {i}</h3><span class="d">05.03.2025</span></div>' for i in range(10_000))
    result = simple(items)
    assert len(result.events) == MAX_ITEMS
    assert result.events[-1].title == f"Termin {MAX_ITEMS - 1}"
    assert any(f"more than {MAX_ITEMS}" in w for w in result.warnings)
    assert len(result.warnings) <= 2


def test_many_undated_items_give_bounded_warnings():
    items = "".join(f'<div class="ev"><h3>Termin {i}</h3><span class="d">bald</span></div>' for i in range(300))
    result = simple(items)
    assert result.events == []
    assert len(result.warnings) == html.MAX_ITEM_WARNINGS + 1
    assert result.warnings[-1].startswith("… and 280 more")


def test_dates_far_ahead_are_skipped():
    result = simple('<div class="ev"><h3>Tippfehler</h3><span class="d">05.03.2099</span></div>')
    assert result.events == [] and "implausibly far ahead" in result.warnings[0]


def test_every_event_follows_the_rawevent_contract():
    results = [typo3_page(1)[0], typo3_page(2)[0],
               extract(site("contao/de/termine.html"), ctx("https://www.theen-ev.example/de/termine.html", CONTAO)),
               extract(site("php-table/termine.php"), ctx("https://www.itnet-th.example/termine.php", PHP_TABLE)),
               extract(site("medways-workshopnews/workshopnews.php"), ctx("https://www.medways.example/workshopnews.php", MEDWAYS))]
    for result in results:
        for ev in result.events:
            assert ev.source_uid and ev.title
            if isinstance(ev.start, datetime):
                assert ev.end is None or (isinstance(ev.end, datetime) and ev.end > ev.start)
            else:
                assert isinstance(ev.end, date) and not isinstance(ev.end, datetime) and ev.end > ev.start
            assert not ev.url or ev.url.startswith(("http://", "https://"))


def test_a_year_less_date_without_a_section_year_is_reported_with_the_year_assumed():
    page = b'<ul><li class="ev"><h3>Stammtisch</h3><span class="d">27. November, 18 Uhr</span></li></ul>'
    ctx = ExtractContext(url="https://netz.example/termine/", timezone=BERLIN, now=datetime(2025, 9, 1, tzinfo=BERLIN), options=SIMPLE)
    result = extract(page, ctx)
    assert [e.start for e in result.events] == [datetime(2025, 11, 27, 18, 0)]
    assert result.warnings == ["item 'Stammtisch': '27. November, 18 Uhr' gives no year; assumed 2025"]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Workshop Wasserstoff\nOrt: Erfurt", "Erfurt"),  # "Workshop" starts with the label "Wo"
        ("Ortsbegehung im Gewerbegebiet\nVeranstaltungsort: Jena, Volkshaus", "Jena, Volkshaus"),
        ("Adressenliste der Mitglieder", ""),
        ("Ort\nWeimar, congress centrum", "Weimar, congress centrum"),  # the label alone, the place below
        ("Ort | Ilmenau, Campus", "Ilmenau, Campus"),  # a table row
        ("Wo? Gera, Hofwiesenpark", "Gera, Hofwiesenpark"),
    ],
)
def test_a_location_label_is_a_whole_word_not_the_start_of_one(text, place):
    assert html.find_location(text) == place


# [sources.html] for The Events Calendar's v2 list view (wp-tec fixture, ELMUG-like).
TEC_LIST = {
    "item": "article.tribe-events-calendar-list__event",
    "title": ".tribe-events-calendar-list__event-title a",
    "date": "time.tribe-events-calendar-list__event-datetime",
    "link": "a.tribe-events-calendar-list__event-title-link",
    "location": ".tribe-events-calendar-list__event-venue-title",
}


def test_tec_list_page_multi_day_event_with_times_is_one_range():
    """ "4. November @ 9:00 - 5. November @ 16:00": start on the first day, end on the second (not two dates, the first taken)."""
    body = site("wp-tec/veranstaltungen/index.html").replace(b"{{BASE_URL}}", b"https://www.elmug.example")
    now = datetime(2025, 9, 1, 9, 0, tzinfo=BERLIN)  # the fixture's "now" (see its README)
    result = extract(body, ctx("https://www.elmug.example/wp-tec/veranstaltungen/", TEC_LIST, now=now))
    events = {e.title: (e.start, e.end) for e in result.events}
    assert events["ELMUG4FUTURE 2025 – Konferenz für Elektronik, Mess- und Sensortechnik"] == (
        datetime(2025, 11, 4, 9, 0),
        datetime(2025, 11, 5, 16, 0),
    )
    # the one-day events keep their "@ 18:00 - 20:30", the all-day range its days
    assert events["ELMUG-Stammtisch „Sensorik trifft KI“"] == (datetime(2025, 9, 16, 18, 0), datetime(2025, 9, 16, 20, 30))
    assert events["embedded world 2026 – Thüringer Gemeinschaftsstand"] == (date(2026, 3, 10), date(2026, 3, 13))
    assert len(result.events) == 10

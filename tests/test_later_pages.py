"""A first page that did not change spares a read only when the pages read after it did not
change either; a source read with other settings is read afresh.

End to end over the local HTTP server (which answers conditional requests with 304), on SQLite
and PostgreSQL: an html source with two list pages and detail pages, and an ``auto`` source
whose home page stays the same while the calendar it links to changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aggregator.config import Deployment, load_config
from aggregator.pipeline import refresh
from aggregator.store import Store

NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Veranstaltungen</title></head><body>
<ul>{items}</ul>{more}</body></html>"""
ITEM = '<li class="ev"><a href="{link}">{title}</a> <span class="d">{date}</span></li>'
DETAIL = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body><main>
<h1>{title}</h1><p>Ort: {place}</p></main></body></html>"""

HTML_SOURCE = """
[[sources]]
id = "liste"
network = "theen"
kind = "html"
url = "{url}"
[sources.html]
item = "li.ev"
title = "a"
date = ".d"
link = "a"
next_page = "a.weiter"
detail = true
"""


def list_page(*items: tuple[str, str, str], next_page: str | None = None) -> str:
    more = f'<a class="weiter" href="{next_page}">weiter</a>' if next_page else ""
    return PAGE.format(items="".join(ITEM.format(link=l, title=t, date=d) for l, t, d in items), more=more)


@pytest.fixture
def world(tmp_path, sites_server, database_url):
    site = tmp_path / "site"
    site.mkdir()
    sites_server.root = site
    store = Store(database_url)
    store.migrate()

    class World:
        server = sites_server
        data_dir = tmp_path / "data"

        def __init__(self):
            self.store, self.database_url = store, database_url

        def write(self, name: str, text: str) -> None:
            (site / name).write_text(text, encoding="utf-8")

        def config(self, sources: str, *, timezone: str = "Europe/Berlin"):
            path = tmp_path / "sources.toml"
            path.write_text(
                "[settings]\nallow_private_networks = true\ntimeout = 2\nretries = 0\n"
                f'timezone = "{timezone}"\n\n[networks.theen]\nname = "ThEEN e.V."\n' + sources,
                encoding="utf-8",
            )
            return load_config(path)

        def refresh(self, config, now=NOW):
            deployment = Deployment(config_path=Path(config.path), data_dir=tmp_path / "data", database_url=database_url)
            return refresh(config, store, deployment, config.sources, now=now)

        def events(self) -> dict[str, tuple[str, str]]:
            return {e.event.title: (e.event.start.isoformat(), e.event.location) for e in store.published_events()}

    yield World()
    store.close()


def two_pages(world, *, second: tuple[str, str, str] = ("d2.html", "Netzwerktreffen Solar", "14.10.2025")) -> None:
    world.write("veranstaltungen", list_page(("d1.html", "Workshop Wasserstoff", "07.10.2025"), next_page="seite2"))
    world.write("seite2", list_page(second))
    world.write("d1.html", DETAIL.format(title="Workshop Wasserstoff", place="Erfurt, Haus der Wirtschaft"))
    world.write("d2.html", DETAIL.format(title=second[1], place="Jena, Volkshaus"))


def test_nothing_changed_anywhere_asks_each_page_conditionally_and_reads_nothing(world):
    two_pages(world)
    config = world.config(HTML_SOURCE.format(url=world.server.url("/veranstaltungen")))
    (first,) = world.refresh(config).sources
    assert first.outcome == "fetched" and first.events == 2
    world.server.reset_log()
    (second,) = world.refresh(config, NOW + timedelta(hours=1)).sources
    assert second.outcome == "not_modified"
    asked = {r.path: r.status for r in world.server.requests if r.path != "/robots.txt"}
    assert asked == {"/veranstaltungen": 304, "/seite2": 304, "/d1.html": 304, "/d2.html": 304}


def test_a_new_event_on_page_two_is_read_although_page_one_did_not_change(world):
    two_pages(world)
    config = world.config(HTML_SOURCE.format(url=world.server.url("/veranstaltungen")))
    world.refresh(config)
    world.write("seite2", list_page(("d2.html", "Netzwerktreffen Solar", "14.10.2025"),
                                    ("d3.html", "Exkursion Pumpspeicherwerk", "21.10.2025")))
    world.write("d3.html", DETAIL.format(title="Exkursion Pumpspeicherwerk", place="Goldisthal"))
    (report,) = world.refresh(config, NOW + timedelta(hours=1)).sources
    assert report.outcome == "fetched" and report.events == 3
    assert world.events()["Exkursion Pumpspeicherwerk"][1] == "Goldisthal"


def test_a_changed_detail_page_is_read_although_the_list_did_not_change(world):
    two_pages(world)
    config = world.config(HTML_SOURCE.format(url=world.server.url("/veranstaltungen")))
    world.refresh(config)
    assert world.events()["Workshop Wasserstoff"][1] == "Erfurt, Haus der Wirtschaft"
    world.write("d1.html", DETAIL.format(title="Workshop Wasserstoff", place="Weimar, congress centrum"))
    (report,) = world.refresh(config, NOW + timedelta(hours=1)).sources
    assert report.outcome == "fetched"
    assert world.events()["Workshop Wasserstoff"][1] == "Weimar, congress centrum"


def test_a_detail_page_that_cannot_be_checked_costs_nothing_and_is_named(world):
    two_pages(world)
    config = world.config(HTML_SOURCE.format(url=world.server.url("/veranstaltungen")))
    world.refresh(config)
    before = world.events()
    world.server.misbehave("/d2.html", "status", code=500)
    (report,) = world.refresh(config, NOW + timedelta(hours=1)).sources
    assert report.outcome == "not_modified"
    assert any("d2.html could not be checked" in w for w in report.warnings)
    assert world.events() == before


def test_a_list_page_that_cannot_be_checked_reads_afresh_and_keeps_the_last_good_events(world):
    two_pages(world)
    config = world.config(HTML_SOURCE.format(url=world.server.url("/veranstaltungen")))
    world.refresh(config)
    before = world.events()
    world.server.misbehave("/seite2", "status", code=503)
    (report,) = world.refresh(config, NOW + timedelta(hours=1)).sources
    assert report.outcome == "error" and "seite2" in report.error
    assert world.events() == before


def test_auto_reads_the_changed_calendar_behind_an_unchanged_home_page(world):
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//DE\r\n{events}END:VCALENDAR\r\n")
    vevent = ("BEGIN:VEVENT\r\nUID:{uid}@theen\r\nDTSTAMP:20250801T000000Z\r\nDTSTART;TZID=Europe/Berlin:{start}\r\n"
              "DTEND;TZID=Europe/Berlin:{end}\r\nSUMMARY:{title}\r\nEND:VEVENT\r\n")
    one = vevent.format(uid="a", start="20251007T100000", end="20251007T120000", title="Energiefrühstück")
    two = vevent.format(uid="b", start="20251021T100000", end="20251021T120000", title="Energieforum")
    world.write("index.html", '<!DOCTYPE html><html><head><title>ThEEN</title>'
                              '<link rel="alternate" type="text/calendar" href="/termine.ics"></head><body>ThEEN</body></html>')
    world.write("termine.ics", ics.format(events=one))
    config = world.config(f'\n[[sources]]\nid = "home"\nnetwork = "theen"\nkind = "auto"\nurl = "{world.server.url("/")}"\n')
    world.refresh(config)
    assert set(world.events()) == {"Energiefrühstück"}
    world.write("termine.ics", ics.format(events=one + two))
    (report,) = world.refresh(config, NOW + timedelta(hours=1)).sources
    assert report.outcome == "fetched"
    assert set(world.events()) == {"Energiefrühstück", "Energieforum"}


def test_a_source_read_with_other_settings_is_read_afresh(world):
    # A floating time means "the source's time zone": changing that zone must re-read the
    # unchanged calendar, not wait for the site to change.
    world.write("termine.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//DE\r\nBEGIN:VEVENT\r\nUID:f@theen\r\n"
                               "DTSTAMP:20250801T000000Z\r\nDTSTART:20251007T100000\r\nSUMMARY:Energiefrühstück\r\n"
                               "END:VEVENT\r\nEND:VCALENDAR\r\n")
    sources = f'\n[[sources]]\nid = "ics"\nnetwork = "theen"\nkind = "ics"\nurl = "{world.server.url("/termine.ics")}"\n'
    world.refresh(world.config(sources))
    assert world.events()["Energiefrühstück"][0] == "2025-10-07T10:00:00+02:00"
    unchanged = world.refresh(world.config(sources), NOW + timedelta(hours=1)).sources[0]
    assert unchanged.outcome == "not_modified"
    moved = world.config(sources + 'timezone = "America/New_York"\n')
    (report,) = world.refresh(moved, NOW + timedelta(hours=2)).sources
    assert report.outcome == "fetched"
    assert world.events()["Energiefrühstück"][0] == "2025-10-07T10:00:00-04:00"


def test_a_detail_pages_json_ld_fills_time_end_and_place_end_to_end(world):
    # The list gives only the day; the detail page (as TYPO3/WordPress event plugins print it)
    # carries the time, the end and the place as schema.org JSON-LD.
    world.write("veranstaltungen", list_page(("d1.html", "Workshop Wasserstoff", "07.10.2025")))
    world.write("d1.html", """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Workshop Wasserstoff</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Event", "name": "Workshop Wasserstoff",
 "startDate": "2025-10-07T14:00:00+02:00", "endDate": "2025-10-07T17:30:00+02:00",
 "location": {"@type": "Place", "name": "Haus der Wirtschaft", "address": {"@type": "PostalAddress",
 "streetAddress": "Arnstädter Straße 34", "addressLocality": "Erfurt"}}}</script></head>
<body><main><h1>Workshop Wasserstoff</h1><p>Wir laden ein.</p></main></body></html>""")
    config = world.config(HTML_SOURCE.format(url=world.server.url("/veranstaltungen")))
    (report,) = world.refresh(config).sources
    assert report.outcome == "fetched" and report.events == 1
    (stored,) = world.store.published_events()
    event = stored.event
    assert (event.start.isoformat(), event.end.isoformat()) == ("2025-10-07T14:00:00+02:00", "2025-10-07T17:30:00+02:00")
    assert "Haus der Wirtschaft" in event.location and "Erfurt" in event.location

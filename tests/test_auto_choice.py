"""Kind ``auto`` sticks to what it read: each kind gives a site's events its own ids, so reading
the same site through another candidate would take every event for vanished and new.

End to end over the local HTTP server, on SQLite and PostgreSQL. (A bug found by the chaos run:
page 2 of the Tribe API broke, discovery ranked the page's ``?ical=1`` export above the now
incomplete API, and all ten events were marked gone and added again under other ids.)
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aggregator.config import Deployment, load_config
from aggregator.pipeline import accept, refresh
from tests.support.fixture_sources import SOURCES, TRIBE_PAGE_2, write_config
from tests.test_later_pages import NOW, world  # noqa: F401  (the fixture)

ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//DE\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250801T000000Z\r\n"
       "DTSTART;TZID=Europe/Berlin:20251007T100000\r\nDTEND;TZID=Europe/Berlin:20251007T120000\r\nSUMMARY:Energieforum\r\n"
       "END:VEVENT\r\nEND:VCALENDAR\r\n")
JSONLD_PAGE = """<!DOCTYPE html><html><head><title>Termine</title><script type="application/ld+json">
{"@context": "https://schema.org", "@type": "Event", "name": "Energieforum", "startDate": "2025-10-07T10:00:00+02:00",
 "endDate": "2025-10-07T12:00:00+02:00", "location": {"@type": "Place", "name": "Erfurt"}}</script></head><body>Termine</body></html>"""
LINKED_PAGE = ('<!DOCTYPE html><html><head><title>Termine</title>'
               '<link rel="alternate" type="text/calendar" href="/termine.ics"></head><body>Termine</body></html>')


def test_a_choice_that_cannot_be_read_now_fails_the_run_and_loses_nothing(tmp_path, sites_server, database_url):
    from aggregator.store import Store

    (source,) = [s for s in SOURCES if s.id == "elmug-auto"]
    config = load_config(write_config(tmp_path / "sources.toml", sites_server, [source]))
    deployment = Deployment(config_path=Path(config.path), data_dir=tmp_path / "data", database_url=database_url)
    store = Store(database_url)
    store.migrate()
    try:
        (first,) = refresh(config, store, deployment, config.sources, now=NOW).sources
        assert first.outcome == "fetched" and first.warnings[0].startswith("auto: read kind tribe ")
        before = {e.event.source_uid for e in store.published_events()}
        sites_server.misbehave(TRIBE_PAGE_2, "error_page")  # the API's page 2 is a CMS maintenance page
        (broken,) = refresh(config, store, deployment, config.sources, now=NOW + timedelta(hours=1)).sources
        assert broken.outcome == "error"
        assert broken.error.startswith("auto: tribe at ") and "read last time, cannot be read now" in broken.error
        assert {e.event.source_uid for e in store.published_events()} == before
    finally:
        store.close()


def test_another_candidate_is_read_only_when_an_operator_accepts_it(world):  # noqa: F811
    world.write("index.html", LINKED_PAGE)
    world.write("termine.ics", ICS.format(uid="energieforum@theen"))
    config = world.config(f'\n[[sources]]\nid = "home"\nnetwork = "theen"\nkind = "auto"\nurl = "{world.server.url("/")}"\n')
    (first,) = world.refresh(config).sources
    assert first.outcome == "fetched" and first.warnings[0].startswith("auto: read kind ics ")

    world.write("index.html", JSONLD_PAGE)  # a redesign: no calendar any more, the events in JSON-LD
    (held,) = world.refresh(config, NOW + timedelta(hours=1)).sources
    assert held.outcome == "suspicious"
    assert "which is no longer offered by the page; it would now read jsonld " in held.error
    assert "sources accept home" in held.error
    assert world.events() == {"Energieforum": ("2025-10-07T10:00:00+02:00", "")}  # the calendar's, kept

    deployment = Deployment(config_path=Path(config.path), data_dir=world.data_dir, database_url=world.database_url)
    report = accept(config, world.store, deployment, config.sources[0])
    assert report.sources[0].outcome == "fetched"
    assert world.events() == {"Energieforum": ("2025-10-07T10:00:00+02:00", "Erfurt")}  # now the page's
    (after,) = world.refresh(config, NOW + timedelta(hours=2)).sources
    assert after.outcome in ("not_modified", "unchanged")


def test_the_choice_is_kept_while_it_gives_events_even_when_another_gives_more(world):  # noqa: F811
    world.write("index.html", LINKED_PAGE)
    world.write("termine.ics", ICS.format(uid="energieforum@theen"))
    config = world.config(f'\n[[sources]]\nid = "home"\nnetwork = "theen"\nkind = "auto"\nurl = "{world.server.url("/")}"\n')
    world.refresh(config)
    # the page now also carries two events in JSON-LD: more events, but another way of reading the site
    two = JSONLD_PAGE.replace('<script type="application/ld+json">\n{', '<script type="application/ld+json">\n[{').replace(
        '"name": "Erfurt"}}</script>',
        '"name": "Erfurt"}}, {"@context": "https://schema.org", "@type": "Event", "name": "Wasserstofftag", '
        '"startDate": "2025-10-21T10:00:00+02:00"}]</script>')
    world.write("index.html", two.replace("<title>Termine</title>",
                                          '<title>Termine</title><link rel="alternate" type="text/calendar" href="/termine.ics">'))
    (report,) = world.refresh(config, NOW + timedelta(hours=1)).sources
    assert report.outcome == "fetched" and report.warnings[0].startswith("auto: read kind ics ")
    assert set(world.events()) == {"Energieforum"}

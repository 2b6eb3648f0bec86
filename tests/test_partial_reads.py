"""A source that answers with only part of itself never costs subscribers an event.

Each test is named after a bug the chaos run (tests/support/chaos.py) found: a
partial read was stored as if it were the whole source, so the events it lacked
were marked gone and published as cancelled; or a harmless change of how a site
answers changed the identity of its events.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aggregator.config import Deployment, load_config
from aggregator.extract.completeness import cut_off
from aggregator.pipeline import reading_base, refresh, select_sources
from aggregator.store import Store
from tests.support.calendar_state import entries, lost
from tests.support.fixture_sources import SOURCES, TRIBE_PAGE_2, write_config

NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)
BY_ID = {s.id: s for s in SOURCES}


class Deployed:
    """The fixture sources, refreshed once at NOW; ``again()`` refreshes some later."""

    def __init__(self, tmp_path: Path, server, ids: list[str]):
        self.tmp, self.server, self.ids = tmp_path, server, ids
        self.store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
        self.store.migrate()
        self.config = load_config(write_config(tmp_path / "sources.toml", server, [BY_ID[i] for i in ids]))
        self.deployment = Deployment(Path(self.config.path), tmp_path / "data", self.store.url)
        report = refresh(self.config, self.store, self.deployment, select_sources(self.config, None), now=NOW)
        assert {r.outcome for r in report.sources} == {"fetched"}, [(r.source_id, r.error) for r in report.sources]
        self.before = self.calendar()

    def calendar(self):
        return entries((self.deployment.public_dir / "calendar.ics").read_bytes())

    def again(self, hours: int = 1):
        report = refresh(self.config, self.store, self.deployment, select_sources(self.config, None), now=NOW + timedelta(hours=hours))
        return {r.source_id: r for r in report.sources}


@pytest.fixture
def deployed(tmp_path, sites_server):
    made = []

    def make(*ids: str) -> Deployed:
        made.append(Deployed(tmp_path, sites_server, list(ids)))
        return made[-1]

    yield make
    for d in made:
        d.store.close()


@pytest.mark.parametrize("source_id", ["theen-termine", "medways-kalender", "thzm-veranstaltungen", "mit-hevent"])
def test_a_body_cut_off_in_transfer_never_replaces_the_last_good_one(deployed, sites_server, source_id):
    # Without Content-Length the client cannot tell that the body stopped early.
    d = deployed(source_id)
    sites_server.misbehave(BY_ID[source_id].path, "truncate", fraction=0.6, declared=False)
    report = d.again()[source_id]
    assert report.outcome == "error"
    assert "cut off in transfer" in report.error and "the last good events stay published" in report.error
    assert lost(d.before, d.calendar()) == {}
    assert d.store.source_state(source_id).last_error == report.error
    sites_server.behave()
    assert d.again(2)[source_id].outcome in ("not_modified", "fetched")
    assert d.calendar() == d.before


def test_a_next_page_that_fails_keeps_the_events_it_would_have_listed(deployed, sites_server):
    d = deployed("elmug-tribe")
    sites_server.touch(BY_ID["elmug-tribe"].path)  # the first page changed, so page 2 is read again
    sites_server.misbehave(TRIBE_PAGE_2, "status", code=500)
    report = d.again()["elmug-tribe"]
    assert report.outcome == "error"
    assert report.error.startswith("page http://") and "HTTP 500 Internal Server Error" in report.error
    assert lost(d.before, d.calendar()) == {}


@pytest.mark.parametrize("source_id", ["elmug-tribe", "elmug-auto", "itnet-termine", "thcm-news", "mit-jsonld", "mit-hevent"])
def test_a_redirect_to_another_host_keeps_every_event_and_its_identity(deployed, sites_server, source_id):
    # The site answers from http://localhost:<port> now; its links (relative, or to the
    # configured 127.0.0.1) must neither change the events' identity or links nor be skipped.
    d = deployed(source_id)
    sites_server.touch(BY_ID[source_id].path)
    sites_server.misbehave(BY_ID[source_id].path, "other_host")
    report = d.again()[source_id]
    assert report.outcome == "fetched", report.error
    assert not any("another host skipped" in w for w in report.warnings)
    assert (report.sync.added, report.sync.updated, report.sync.gone) == (0, 0, 0)
    assert d.calendar() == d.before


def test_reading_base_moves_only_the_origin():
    assert reading_base("https://localhost:8/neu/termine?x=1", "http://127.0.0.1:8/termine") == "http://127.0.0.1:8/neu/termine?x=1"
    assert reading_base("http://127.0.0.1:8/b", "http://127.0.0.1:8/a") == "http://127.0.0.1:8/b"
    assert reading_base("not a url", "http://127.0.0.1:8/a") == "not a url"


def test_a_page_declared_utf8_but_written_in_windows_1252_keeps_its_umlauts(deployed, sites_server):
    # Guessing the code page from byte statistics read "März" as "Mõrz" (cp850) and lost a date.
    d = deployed("thcm-news")
    stored = {e.event.source_uid: e.event.title for e in d.store.published_events()}
    sites_server.misbehave(BY_ID["thcm-news"].path, "charset", encoding="cp1252")
    report = d.again()["thcm-news"]
    assert report.outcome == "fetched" and report.sync.gone == 0 and report.sync.added == 0
    assert {e.event.source_uid: e.event.title for e in d.store.published_events()} == stored
    assert not any("Mõrz" in w or "Gõste" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("kind", "body", "why"),
    [
        ("ics", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nEND:VEVENT\r\n", "without END:VCALENDAR"),
        ("ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n\r\n", None),
        ("ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n<br />\n<b>Warning</b>: Undefined index in x.php\n", None),
        ("ics", b"BEGIN:VCALENDAR\nEND:VCALENDAR\nBEGIN:VCALENDAR\nBEGIN:VEVENT\n", "without END:VCALENDAR"),
        ("ics", b"BEGIN:VEVENT\r\nUID:1\r\nEND:VEVENT\r\n", None),  # a bare fragment: the extractor's business
        ("feed", b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>A</title></item>', "without </rss>"),
        ("feed", b"<feed xmlns='http://www.w3.org/2005/Atom'><entry/></feed>\n", None),
        ("feed", b"<rdf:RDF xmlns:rdf='x'><item/></rdf:RDF>", None),
        ("html", b"<!DOCTYPE html><html><body><ul><li>Termin", "without </html>"),
        ("jsonld", b"<html><body></body></html>\n<!-- cached -->\n", None),
        ("html", b"<p>a fragment without html element</p>", None),
        ("tribe", b'{"events": [', None),  # truncated JSON does not parse: an ExtractError already
        ("ics", b"", None),
    ],
)
def test_cut_off_judges_by_the_end_of_the_document(kind, body, why):
    result = cut_off(kind, body)
    assert (result is None) if why is None else (why in result)

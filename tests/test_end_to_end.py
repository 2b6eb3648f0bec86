"""End to end: fixture sites of several networks on a real local HTTP server →
refresh → store (SQLite and PostgreSQL) → merged ICS that real clients accept."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import icalendar
import pytest

from aggregator.config import Deployment, load_config
from aggregator.pipeline import refresh, render, select_sources
from aggregator.store import Store
from tests.support.shared import ics_check

NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)
LATER = datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc)

SOURCES = [
    ("theen-termine", "theen", "ics", "/theen/termine.ics"),
    ("medways-kalender", "medways", "ics", "/medways/kalender.ics"),
    ("optonet-posts", "optonet", "feed", "/optonet/feed/"),
    ("thzm-veranstaltungen", "thzm", "feed", "/thzm/veranstaltungen.rss"),
]

EXPECTED_TITLES = {
    "ThEEN-Mitgliederversammlung 2025",
    "Thüringer Cross-Cluster-Wochen 2025",
    "Energie-Stammtisch",
    "Energie-Stammtisch (verlegt)",
    "Webinar Wärmepumpen in Gewerbebauten",
    "medways Branchentalk Medizintechnik",
    "Workshop MDR-Regulatorik",
    "medways auf der Medizintechnik-Messe (Stand 12)",
    "Einladung: Workshop Photonik in der Medizintechnik",
    "3. OptecNet-Jahrestagung vom 14. bis 15. Mai 2026 in Jena",
    "9. Thüringer Maschinenbautag",
    "Cross-Cluster-Workshop: KI in der Fertigung",
}


def write_config(tmp_path: Path, server, sources=SOURCES) -> Path:
    lines = [
        "[settings]",
        "allow_private_networks = true",  # the fixture server is on 127.0.0.1
        'refresh = "1h"',
        "timeout = 2",
        "retries = 1",
        "backoff = 0.01",
        'calendar_name = "Netzwerktimer Test"',
        'retention = "3650d"',  # the CLI tests run on today's clock; the fixture events are from 2025
        "",
    ]
    for net, short in (("theen", "ThEEN"), ("medways", "medways"), ("optonet", "OptoNet"), ("thzm", "ThZM")):
        lines += [f"[networks.{net}]", f'name = "{short} e.V."', f'short = "{short}"', ""]
    for sid, net, kind, path in sources:
        lines += ["[[sources]]", f'id = "{sid}"', f'network = "{net}"', f'kind = "{kind}"', f'url = "{server.url(path)}"', ""]
    path = tmp_path / "sources.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path, sites_server, database_url):
    config = load_config(write_config(tmp_path, sites_server))
    deployment = Deployment(config_path=Path(config.path), data_dir=tmp_path / "data", database_url=database_url)
    store = Store(database_url)
    store.migrate()
    yield config, deployment, store
    store.close()


def run(env, now=NOW, ids=None):
    config, deployment, store = env
    return refresh(config, store, deployment, select_sources(config, ids), now=now)


def events_of(ics: bytes):
    cal = icalendar.Calendar.from_ical(ics)
    return [c for c in cal.walk("VEVENT")]


def test_first_refresh_publishes_every_networks_events_in_one_valid_calendar(env, sites_server):
    report = run(env)
    assert [r.outcome for r in report.sources] == ["fetched"] * 4, [(r.source_id, r.error) for r in report.sources]
    assert report.published
    path = env[1].public_dir / "calendar.ics"
    data = path.read_bytes()
    events = events_of(data)
    assert {str(e["SUMMARY"]) for e in events} == EXPECTED_TITLES
    # The network is named in CATEGORIES and in the text.
    mv = next(e for e in events if str(e["SUMMARY"]) == "ThEEN-Mitgliederversammlung 2025")
    assert "ThEEN" in [str(c) for c in mv["CATEGORIES"].cats]
    assert "Netzwerk: ThEEN" in str(mv["DESCRIPTION"])
    assert mv.decoded("DTSTART") == datetime(2025, 11, 26, 10, 0, tzinfo=mv.decoded("DTSTART").tzinfo)
    assert str(mv["DTSTART"].params["TZID"]) == "Europe/Berlin"  # the Windows zone name became IANA
    # Feed items: date from the text, never from pubDate; items without an event date are reported.
    ws = next(e for e in events if str(e["SUMMARY"]).startswith("Einladung: Workshop Photonik"))
    assert ws.decoded("DTSTART").replace(tzinfo=None) == datetime(2025, 10, 14, 9, 0)
    assert str(ws["URL"]) == "https://optonet-jena.de/einladung-workshop-photonik-medizintechnik/"
    optonet = next(r for r in report.sources if r.source_id == "optonet-posts")
    assert any("Photonics Days" in w for w in optonet.warnings)
    cancelled = next(e for e in events if str(e["SUMMARY"]).startswith("Webinar"))
    assert str(cancelled["STATUS"]) == "CANCELLED"
    (result,) = ics_check(path)
    assert result["ok"], result


def test_second_refresh_with_nothing_changed_answers_from_304_and_writes_nothing(env, sites_server):
    run(env)
    path = env[1].public_dir / "calendar.ics"
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    stored_before = {(s.event.source_uid, s.event.recurrence_id): s.last_modified for s in env[2].published_events()}
    sites_server.reset_log()
    report = run(env, now=LATER)
    assert [r.outcome for r in report.sources] == ["not_modified"] * 4
    assert all(r.sync is None for r in report.sources)
    assert not report.published
    assert all(req.status == 304 for req in sites_server.requests if not req.path.endswith("robots.txt"))
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    after = {(s.event.source_uid, s.event.recurrence_id): s.last_modified for s in env[2].published_events()}
    assert after == stored_before


def test_body_that_differs_only_in_dtstamp_is_not_processed_again(env, sites_server):
    run(env)
    original = Path(__file__).parent.joinpath("fixtures/sites/theen/termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=original.replace(b"DTSTAMP:20250901T050000Z", b"DTSTAMP:20250901T110000Z"))
    report = run(env, now=LATER, ids=["theen-termine"])
    assert report.sources[0].outcome == "unchanged" and report.sources[0].sync is None


def test_a_changed_event_is_updated_with_a_higher_sequence(env, sites_server):
    run(env)
    original = Path(__file__).parent.joinpath("fixtures/sites/theen/termine.ics").read_bytes()
    changed = original.replace(b"20251126T150000", b"20251126T160000")
    sites_server.misbehave("/theen/termine.ics", "replace", body=changed)
    report = run(env, now=LATER, ids=["theen-termine"])
    assert report.sources[0].sync.updated == 1 and report.published
    mv = next(e for e in events_of((env[1].public_dir / "calendar.ics").read_bytes()) if "Mitgliederversammlung" in str(e["SUMMARY"]))
    assert mv.decoded("DTEND").hour == 16
    assert int(mv["SEQUENCE"]) == 1 and mv.decoded("LAST-MODIFIED") == LATER


def test_publish_keeps_exactly_the_vevents_of_the_calendar_for_reuse(env, sites_server):
    config, deployment, store = env
    run(env)
    published = (deployment.public_dir / "calendar.ics").read_bytes()
    kept = store.rendered_vevents()
    assert len(kept) == len(events_of(published)) and all(v in published for v in kept.values())
    original = Path(__file__).parent.joinpath("fixtures/sites/theen/termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=original.replace(b"20251126T150000", b"20251126T160000"))
    run(env, now=LATER, ids=["theen-termine"])
    published = (deployment.public_dir / "calendar.ics").read_bytes()
    again = store.rendered_vevents()
    assert len(again) == len(events_of(published)) and all(v in published for v in again.values())
    assert len(set(again) - set(kept)) == 1, "only the changed event was serialised again"


def test_an_upcoming_event_that_vanishes_is_marked_gone_and_published_as_cancelled(env, sites_server):
    run(env)
    original = Path(__file__).parent.joinpath("fixtures/sites/medways/kalender.ics").read_bytes()
    start = original.index(b"BEGIN:VEVENT\r\nDTSTART:20251022")
    end = original.index(b"END:VEVENT\r\n", start) + len(b"END:VEVENT\r\n")
    sites_server.misbehave("/medways/kalender.ics", "replace", body=original[:start] + original[end:])
    report = run(env, now=LATER, ids=["medways-kalender"])
    assert report.sources[0].sync.gone == 1
    by_title = {str(e["SUMMARY"]): e for e in events_of((env[1].public_dir / "calendar.ics").read_bytes())}
    assert str(by_title["Workshop MDR-Regulatorik"]["STATUS"]) == "CANCELLED"
    rows = env[2].all_events("medways-kalender")
    assert [r.title for r in rows if r.gone_at is not None] == ["Workshop MDR-Regulatorik"]


@pytest.mark.parametrize("fault", [("status", {"code": 500}), ("garbage", {}), ("drop", {}), ("slow", {"seconds": 5})])
def test_a_failing_source_keeps_its_events_and_does_not_stop_the_others(env, sites_server, fault):
    run(env)
    mode, opts = fault
    sites_server.misbehave("/theen/termine.ics", mode, **opts)
    report = run(env, now=LATER)
    by_id = {r.source_id: r for r in report.sources}
    assert by_id["theen-termine"].outcome == "error" and by_id["theen-termine"].error
    assert all(by_id[s].outcome == "not_modified" for s in ("medways-kalender", "optonet-posts", "thzm-veranstaltungen"))
    titles = {str(e["SUMMARY"]) for e in events_of((env[1].public_dir / "calendar.ics").read_bytes())}
    assert titles == EXPECTED_TITLES
    state = env[2].source_state("theen-termine")
    assert state.last_outcome == "error" and state.last_error == by_id["theen-termine"].error
    assert state.event_count == 5


def test_an_html_error_page_instead_of_ics_is_an_error_and_next_run_reads_again(env, sites_server):
    sites_server.misbehave("/theen/termine.ics", "replace", body=b"<!DOCTYPE html><html><body>Wartungsarbeiten</body></html>", times=1)
    report = run(env)
    theen = next(r for r in report.sources if r.source_id == "theen-termine")
    assert theen.outcome == "error" and "iCalendar" in theen.error
    report = run(env, now=LATER, ids=["theen-termine"])
    assert report.sources[0].outcome == "fetched" and report.sources[0].events == 5


def test_order_of_sources_does_not_change_the_calendar(tmp_path, sites_server, database_url):
    outputs = []
    for order in (SOURCES, list(reversed(SOURCES))):
        d = tmp_path / f"run{len(outputs)}"
        d.mkdir()
        config = load_config(write_config(d, sites_server, order))
        url = database_url if not outputs else f"sqlite:///{d / 'db.sqlite3'}"
        store = Store(url)
        store.migrate()
        refresh(config, store, Deployment(Path(config.path), d / "data", url), select_sources(config, None), now=NOW)
        outputs.append(render(config, store))
        store.close()
    assert outputs[0] == outputs[1]


def test_export_of_one_network_holds_only_its_events(env):
    run(env)
    config, _, store = env
    titles = {str(e["SUMMARY"]) for e in events_of(render(config, store, "medways"))}
    assert titles == {"medways Branchentalk Medizintechnik", "Workshop MDR-Regulatorik", "medways auf der Medizintechnik-Messe (Stand 12)"}

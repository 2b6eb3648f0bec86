"""A refresh in which nothing changed does not compute the publication again — and
whatever does change it (stored events, the configuration, time alone) publishes afresh.
End to end over the local HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import aggregator.pipeline as pipeline
from aggregator.config import Deployment, load_config
from aggregator.model import Event
from aggregator.pipeline import export, refresh, render, select_sources
from aggregator.store import Store
from tests.test_lifecycle import CONFIG, NOW, SOURCES, THEEN_ICS, World, without_vevent

MV = "ThEEN-Mitgliederversammlung 2025"
MV_UID = b"040000008200E00074C5B7101A82E008"


@pytest.fixture
def world(tmp_path, sites_server, database_url):
    w = World(tmp_path, sites_server, database_url)
    yield w
    w.store.close()


def _no_publication(*args, **kwargs):
    raise AssertionError("the publication was computed again although nothing it is made of changed")


def test_a_refresh_in_which_nothing_changed_does_not_compute_the_publication_again(world, monkeypatch):
    first = world.refresh()
    assert not first.publication_stands and first.published
    calendar = world.calendar()
    monkeypatch.setattr(pipeline, "publication", _no_publication)
    again = world.refresh(now=NOW + timedelta(hours=2))
    assert {r.outcome for r in again.sources} == {"not_modified"}
    assert again.publication_stands and not again.published and again.publication is None
    assert world.calendar() == calendar


def test_a_new_day_publishes_afresh_with_the_same_bytes(world):
    world.refresh()
    calendar = world.calendar()
    next_day = world.refresh(now=NOW + timedelta(days=1))
    assert not next_day.publication_stands  # series are expanded in a window aligned to the day
    assert world.calendar() == calendar


def test_the_end_of_a_grace_period_is_published_without_any_change_upstream(world):
    world.refresh()
    world.serve_theen(without_vevent(THEEN_ICS, MV_UID))
    vanished = NOW + timedelta(days=1)
    world.refresh(now=vanished, ids=["theen-termine"])
    grace_ends = vanished + timedelta(days=14)
    world.refresh(now=grace_ends - timedelta(minutes=2))  # a new day: computed, and valid until the grace ends
    assert world.refresh(now=grace_ends - timedelta(minutes=1)).publication_stands
    assert MV in world.vevents()
    after = world.refresh(now=grace_ends + timedelta(minutes=1))
    assert {r.outcome for r in after.sources} == {"not_modified"}
    assert not after.publication_stands
    assert MV not in world.vevents()


def test_an_event_passing_retention_leaves_without_any_change_upstream(tmp_path, sites_server, database_url):
    world = World(tmp_path, sites_server, database_url)
    path = Path(world.config.path)
    path.write_text(path.read_text(encoding="utf-8").replace('retention = "365d"', 'retention = "1d"'), encoding="utf-8")
    world.config = load_config(path)
    try:
        world.refresh()
        # the Mitgliederversammlung ends 2025-11-26 15:00 Berlin (14:00 UTC); with a day's
        # retention it leaves at 2025-11-27 14:00 UTC, in the middle of a day
        leaves = datetime(2025, 11, 27, 14, 0, tzinfo=timezone.utc)
        world.refresh(now=leaves - timedelta(hours=2))
        assert world.refresh(now=leaves - timedelta(hours=1)).publication_stands
        assert MV in world.vevents()
        after = world.refresh(now=leaves + timedelta(minutes=1))
        assert not after.publication_stands
        assert MV not in world.vevents()
    finally:
        world.store.close()


def test_events_stored_by_another_run_publish_afresh(world):
    world.refresh()
    other = Store(world.store.url)  # e.g. `netzwerktimer refresh --no-publish` in another process
    try:
        other.sync_events("theen-termine", [Event("theen-termine", "theen", "extra-1", "Netzwerkabend Energie",
                                                   datetime(2025, 10, 7, 16, 0, tzinfo=timezone.utc),
                                                   datetime(2025, 10, 7, 18, 0, tzinfo=timezone.utc), "Europe/Berlin")],
                          NOW + timedelta(minutes=30))
    finally:
        other.close()
    after = world.refresh(now=NOW + timedelta(hours=1), ids=["thzm-veranstaltungen"])
    assert not after.publication_stands
    assert "Netzwerkabend Energie" in world.vevents()


def test_a_new_configuration_publishes_afresh(world):
    world.refresh()
    path = Path(world.config.path)
    path.write_text(path.read_text(encoding="utf-8").replace("[settings]\n", '[settings]\ncalendar_name = "Termine Thüringen"\n', 1),
                    encoding="utf-8")
    world.config = load_config(path)
    after = world.refresh(now=NOW + timedelta(hours=1))
    assert not after.publication_stands and after.published
    assert "X-WR-CALNAME:Termine Thüringen" in world.calendar().decode()


def test_the_same_configuration_read_by_another_path_leaves_the_publication_standing(world, monkeypatch):
    world.refresh()
    absolute = Path(world.config.path).resolve()
    monkeypatch.chdir(absolute.parent)
    world.config = load_config(absolute.name)  # relative, as `netzwerktimer --config sources.toml` reads it
    assert world.config.path != str(absolute)
    assert world.refresh(now=NOW + timedelta(hours=1)).publication_stands


def test_a_removed_calendar_file_is_written_again(world):
    world.refresh()
    calendar = world.calendar()
    (world.deployment.public_dir / "calendar.ics").unlink()
    after = world.refresh(now=NOW + timedelta(hours=1))
    assert not after.publication_stands
    assert world.calendar() == calendar


def test_export_is_the_published_file_while_the_publication_stands_and_rendered_once_it_does_not(world):
    world.refresh()
    later = NOW + timedelta(hours=1)
    assert export(world.config, world.store, world.deployment, now=later) == world.calendar() == render(world.config, world.store, now=later)
    other = Store(world.store.url)
    try:
        other.sync_events("theen-termine", [], later)  # every event of the source gone: the file is stale now
    finally:
        other.close()
    exported = export(world.config, world.store, world.deployment, now=later)
    assert exported != world.calendar()
    assert exported == render(world.config, world.store, now=later)


def test_the_outcome_does_not_depend_on_whether_the_publication_stood(tmp_path, sites_server):
    """Two deployments refreshed at the same instants, one of them also in between (where
    its publication stands): the same bytes at the end."""
    outputs = []
    for i, extra in enumerate(([], [NOW + timedelta(hours=h) for h in (1, 5, 30, 49)])):
        d = tmp_path / str(i)
        d.mkdir()
        text = CONFIG + "".join(f'\n[[sources]]\nid = "{sid}"\nnetwork = "{net}"\nkind = "{kind}"\nurl = "{sites_server.url(p)}"\n'
                                for sid, (net, kind, p) in SOURCES.items())
        (d / "sources.toml").write_text(text, encoding="utf-8")
        config = load_config(d / "sources.toml")
        store = Store(f"sqlite:///{d / 'db.sqlite3'}")
        store.migrate()
        deployment = Deployment(d / "sources.toml", d / "data", store.url)
        for at in sorted([NOW, NOW + timedelta(hours=50), *extra]):
            refresh(config, store, deployment, select_sources(config, None), now=at)
        outputs.append((deployment.public_dir / "calendar.ics").read_bytes())
        store.close()
    assert outputs[0] == outputs[1]

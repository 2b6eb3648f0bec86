"""The store behaves the same on SQLite and PostgreSQL (the ``store`` fixture runs both)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import inspect

from aggregator.model import Event
from aggregator.store import Store
from aggregator.store.repo import FetchRecord

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def ev(uid: str, **kw) -> Event:
    base = dict(
        source_id="src",
        network_id="theen",
        source_uid=uid,
        title=f"Event {uid}",
        start=datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN),
        end=datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN),
        tzid="Europe/Berlin",
    )
    base.update(kw)
    return Event(**base)


def test_migrate_twice_is_harmless_and_creates_the_tables(store: Store):
    store.migrate()
    assert {"events", "sources", "fetches", "alembic_version"} <= set(inspect(store.engine).get_table_names())


def test_sqlite_runs_in_wal_mode_so_readers_do_not_wait_for_a_writer(tmp_path):
    path = tmp_path / "wal.sqlite3"
    store = Store(f"sqlite:///{path}")
    try:
        store.migrate()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL, safe with WAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        store.close()
    plain = sqlite3.connect(path)  # WAL is a property of the file, seen by any other process too
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_new_events_are_added_and_read_back_with_their_zones(store: Store):
    events = [
        ev("a"),
        ev("utc", start=datetime(2026, 3, 29, 7, 0, tzinfo=timezone.utc), end=None, tzid="UTC"),
        ev("allday", start=date(2026, 3, 30), end=date(2026, 4, 2), tzid=""),
        ev(
            "series",
            start=datetime(2026, 3, 2, 18, 0, tzinfo=BERLIN),
            end=datetime(2026, 3, 2, 19, 0, tzinfo=BERLIN),
            rrule="FREQ=WEEKLY;COUNT=10",
            exdates=(datetime(2026, 3, 9, 18, 0, tzinfo=BERLIN),),
            rdates=(datetime(2026, 4, 1, 18, 0, tzinfo=BERLIN),),
        ),
        ev("series", recurrence_id="2026-03-16T18:00:00+01:00", start=datetime(2026, 3, 17, 18, 0, tzinfo=BERLIN), end=None),
    ]
    result = store.sync_events("src", events, T0)
    assert (result.added, result.updated, result.gone) == (5, 0, 0)
    stored = {(s.event.source_uid, s.event.recurrence_id): s for s in store.published_events()}
    assert len(stored) == 5
    for e in events:
        got = stored[(e.source_uid, e.recurrence_id)]
        assert got.event == e, e.source_uid
        assert got.event.content_hash() == e.content_hash()
        assert got.sequence == 0 and got.first_seen == T0 == got.last_modified
    # Wall time survives the DST switch (29 March 2026) because the zone is kept, not an offset.
    assert stored[("a", "")].event.start.utcoffset() == timedelta(hours=1)
    assert stored[("allday", "")].event.all_day


def test_identical_refresh_writes_nothing(store: Store):
    store.sync_events("src", [ev("a"), ev("b")], T0)
    later = T0 + timedelta(hours=6)
    result = store.sync_events("src", [ev("b"), ev("a")], later)
    assert (result.added, result.updated, result.unchanged, result.gone) == (0, 0, 2, 0)
    assert not result.changed
    assert all(s.last_modified == T0 and s.sequence == 0 for s in store.published_events())


def test_changed_content_bumps_sequence_and_last_modified(store: Store):
    store.sync_events("src", [ev("a"), ev("b")], T0)
    later = T0 + timedelta(hours=6)
    result = store.sync_events("src", [replace(ev("a"), location="IHK Erfurt"), ev("b")], later)
    assert (result.updated, result.unchanged) == (1, 1)
    by_uid = {s.event.source_uid: s for s in store.published_events()}
    assert by_uid["a"].sequence == 1 and by_uid["a"].last_modified == later and by_uid["a"].first_seen == T0
    assert by_uid["b"].sequence == 0 and by_uid["b"].last_modified == T0


def test_vanished_event_is_marked_gone_not_deleted_and_comes_back(store: Store):
    store.sync_events("src", [ev("a"), ev("b")], T0)
    result = store.sync_events("src", [ev("a")], T0 + timedelta(hours=1))
    assert result.gone == 1
    assert [s.event.source_uid for s in store.published_events()] == ["a"]
    rows = {r.source_uid: r for r in store.all_events("src")}
    assert rows["b"].gone_at == T0 + timedelta(hours=1)
    result = store.sync_events("src", [ev("a"), ev("b")], T0 + timedelta(hours=2))
    assert result.updated == 1
    assert sorted(s.event.source_uid for s in store.published_events()) == ["a", "b"]


def test_sources_do_not_touch_each_others_events(store: Store):
    store.sync_events("one", [replace(ev("x"), source_id="one")], T0)
    store.sync_events("two", [replace(ev("x"), source_id="two")], T0)
    store.sync_events("one", [], T0 + timedelta(hours=1))
    assert [(s.event.source_id) for s in store.published_events()] == ["two"]


def test_published_events_filter_by_network(store: Store):
    store.sync_events("src", [ev("a"), replace(ev("b"), network_id="medways")], T0)
    assert [s.event.source_uid for s in store.published_events("medways")] == ["b"]


def test_record_fetch_keeps_cache_state_only_from_good_fetches(store: Store):
    ok = FetchRecord(started_at=T0, outcome="fetched", http_status=200, bytes=123, events_found=1, etag='"v1"', body_digest="d1")
    store.record_fetch("src", ok, sync=([ev("a")], T0))
    bad = FetchRecord(started_at=T0 + timedelta(hours=1), outcome="error", http_status=500, error="HTTP 500 Internal Server Error", etag='"v2"')
    store.record_fetch("src", bad)
    st = store.source_state("src")
    assert st.etag == '"v1"' and st.body_digest == "d1"
    assert st.last_outcome == "error" and st.last_error == "HTTP 500 Internal Server Error"
    assert st.last_success_at == T0 and st.event_count == 1
    log = store.fetch_log("src")
    assert [(f.outcome, f.http_status, f.bytes) for f in log] == [("error", 500, 0), ("fetched", 200, 123)]
    assert log[1].events_found == 1


def test_unknown_source_has_an_empty_state(store: Store):
    st = store.source_state("nope")
    assert st.etag is None and st.last_fetch_at is None and st.event_count == 0


def test_two_runs_saving_the_same_new_published_entries_at_once_both_succeed(store: Store):
    """``serve`` computes the publication in a request while the scheduler publishes: both may
    find an entry new and insert it; the loser must not fail (it was a 500 on /events.json)."""
    import threading

    from aggregator.store.repo import PublishedState

    now = datetime(2025, 11, 1, tzinfo=timezone.utc)
    states = [PublishedState(f"uid{i}@netzwerktimer", "", "hash", 0, now, now) for i in range(200)]
    barrier, errors = threading.Barrier(2), []

    def save():
        barrier.wait()
        try:
            store.save_published(states)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.published_states()) == 200


def test_bulk_writes_larger_than_one_batch_store_every_row(store: Store, monkeypatch):
    """Published states, rendered VEVENTs and cluster UIDs are written in batches of
    ``BULK_ROWS`` (memory at country scale): the rows of every batch arrive, the last
    partial one included, and updates reach rows in later batches too."""
    from aggregator.store import repo
    from aggregator.store.repo import PublishedState

    monkeypatch.setattr(repo, "BULK_ROWS", 3)
    now = datetime(2025, 11, 1, tzinfo=timezone.utc)
    states = [PublishedState(f"uid{i}@netzwerktimer", "", "hash", 0, now, now) for i in range(8)]
    store.save_published(states)
    store.save_published([replace(st, sequence=1) for st in states[5:]])
    saved = store.published_states()
    assert len(saved) == 8
    assert [saved[(f"uid{i}@netzwerktimer", "")].sequence for i in range(8)] == [0] * 5 + [1] * 3

    store.save_rendered_vevents({f"k{i}": f"BEGIN:VEVENT {i}".encode() for i in range(7)}, set())
    assert store.rendered_vevents() == {f"k{i}": f"BEGIN:VEVENT {i}".encode() for i in range(7)}

    store.sync_events("src", [ev(f"e{i}") for i in range(7)], now=T0)
    rows = {m.event.source_uid: m.row_id for m in store.members(since=T0 - timedelta(days=400))}
    store.set_merged_uids({row_id: f"m-{uid}" for uid, row_id in rows.items()})
    assert {m.event.source_uid: m.merged_uid for m in store.members(since=T0 - timedelta(days=400))} == {
        f"e{i}": f"m-e{i}" for i in range(7)}

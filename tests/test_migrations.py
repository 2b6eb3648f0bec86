"""Schema upgrades keep existing data, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, text

from aggregator.store import Store
from aggregator.store.repo import MIGRATIONS


def _upgrade(url: str, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_upgrade_from_the_first_schema_keeps_sources_and_events(database_url):
    _upgrade(database_url, "0001")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sources (id, last_warnings, event_count) VALUES ('theen', '[]', 1)"))
        conn.execute(
            text(
                "INSERT INTO events (source_id, uid_key, source_uid, recurrence_id, network_id, title, description, location, url,"
                " all_day, start_utc, tzid, status, categories, rdates, exdates, content_hash, sequence, first_seen, last_modified)"
                " VALUES ('theen', 'k', 'u1', '', 'theen', 'Mitgliederversammlung', '', '', '', false,"
                " '2025-11-26 09:00:00', 'Europe/Berlin', 'confirmed', '[]', '[]', '[]', 'h', 0, '2025-09-01 06:00:00', '2025-09-01 06:00:00')"
            )
        )
    engine.dispose()
    store = Store(database_url)
    store.migrate()
    state = store.source_state("theen")
    assert state.event_count == 1 and state.suspicious is None and state.accept_next is False
    (event,) = store.published_events()
    assert event.event.title == "Mitgliederversammlung"
    assert store.published_states() == {}
    store.close()

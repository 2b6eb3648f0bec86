"""A deployment whose store was filled by one real refresh of the four fixture networks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from aggregator.config import Config, Deployment, load_config
from aggregator.pipeline import refresh, select_sources
from aggregator.published_view import PublishedView
from aggregator.store import Store
from tests.test_end_to_end import write_config


@contextmanager
def refreshed_sites(tmp_path: Path, sites_server, now: datetime) -> Iterator[tuple[Config, Deployment, Store]]:
    """(config, deployment, store) after refreshing every fixture source at ``now`` (all must be fetched)."""
    config = load_config(write_config(tmp_path, sites_server))
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    deployment = Deployment(config_path=Path(config.path), data_dir=tmp_path / "data", database_url=url)
    store = Store(url)
    store.migrate()
    try:
        report = refresh(config, store, deployment, select_sources(config, None), now=now)
        assert [r.outcome for r in report.sources] == ["fetched"] * 4
        yield config, deployment, store
    finally:
        store.close()


def view_of(config: Config, deployment: Deployment, store: Store) -> PublishedView:
    """The read-only publication view ``create_app`` gives its routes."""
    return PublishedView(config, store, deployment.public_dir / "calendar.ics")

"""The operator's endpoints (``aggregator.web_ops``): ``/metrics`` in the Prometheus text
format with values from a real refresh of the fixture sites, and ``/readyz``, which is
503 with the reason when the database does not answer or the calendar cannot be published."""

from __future__ import annotations

import re
import socket
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.testclient import TestClient

from aggregator.config import Deployment
from aggregator.conflict_report import detect
from aggregator.merge import publication
from aggregator.pipeline import refresh, select_sources
from aggregator.store import Store
from aggregator.web_ops import ops_routes
from tests.support.web import view_of
from tests.support.web import refreshed_sites
from tests.test_end_to_end import NOW


@pytest.fixture
def app_env(tmp_path, sites_server):
    with refreshed_sites(tmp_path, sites_server, NOW) as (config, deployment, store):
        detect(config, store, NOW)  # records the conflicts, as the digest and /conflicts.json do
        yield config, deployment, store


def client_for(config, deployment, store) -> TestClient:
    return TestClient(Starlette(routes=ops_routes(config, deployment, store, view_of(config, deployment, store), lambda: NOW)))


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_are_computed_from_the_store(app_env):
    config, deployment, store = app_env
    resp = client_for(*app_env).get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = resp.text
    got = samples(text)

    assert got[("netzwerktimer_fetches_total", (("outcome", "fetched"),))] == 4
    assert got[("netzwerktimer_fetches_total", (("outcome", "error"),))] == 0
    assert re.search(r'^netzwerktimer_fetches_total\{outcome="fetched"\} 4\.0$', text, re.M), text

    published = len(publication(config, store, NOW))
    assert published > 0
    assert got[("netzwerktimer_events_published", ())] == published

    open_conflicts = [c for c in store.conflicts() if c["resolved_at"] is None]
    assert open_conflicts, "the fixture sites have a known conflict"
    assert got[("netzwerktimer_conflicts_open", ())] == len(open_conflicts)

    assert got[("netzwerktimer_sources", (("state", "ok"),))] == 4
    for state in ("error", "suspicious", "never"):
        assert got[("netzwerktimer_sources", (("state", state),))] == 0

    assert "# TYPE netzwerktimer_last_digest_sent_timestamp_seconds gauge" in text
    assert not any(name == "netzwerktimer_last_digest_sent_timestamp_seconds" for name, _ in got)


def test_metrics_follow_the_store_at_scrape_time(app_env):
    config, deployment, store = app_env
    client = client_for(*app_env)
    client.get("/metrics")  # a first scrape; the next must see the changes below
    refresh(config, store, deployment, select_sources(config, None), now=NOW)
    sent = datetime(2025, 11, 20, 5, 0, 3, tzinfo=timezone.utc)
    store.mark_digest_sent(date(2025, 11, 20), "a@example.org", "<m1@x>", "outbox", sent)
    store.mark_digest_sent(date(2025, 11, 19), "a@example.org", "<m0@x>", "outbox", datetime(2025, 11, 19, 5, tzinfo=timezone.utc))
    got = samples(client.get("/metrics").text)
    fetched = sum(v for (name, labels), v in got.items() if name == "netzwerktimer_fetches_total")
    assert fetched == 8  # every logged fetch of both runs, whatever its outcome
    assert got[("netzwerktimer_last_digest_sent_timestamp_seconds", ())] == sent.timestamp()


def test_each_app_has_its_own_registry(app_env):
    first, second = client_for(*app_env), client_for(*app_env)
    assert first.get("/metrics").text == second.get("/metrics").text
    import prometheus_client

    assert "netzwerktimer_fetches_total" not in prometheus_client.generate_latest().decode()


def test_readyz_is_ready_and_publishes_a_missing_calendar(app_env):
    config, deployment, store = app_env
    calendar = deployment.public_dir / "calendar.ics"
    client = client_for(*app_env)
    resp = client.get("/readyz")
    assert (resp.status_code, resp.text) == (200, "ready\n")
    calendar.unlink()
    assert client.get("/readyz").status_code == 200
    assert calendar.read_bytes().startswith(b"BEGIN:VCALENDAR")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readyz_503_when_the_database_port_is_closed(app_env, tmp_path):
    config, deployment, _ = app_env
    url = f"postgresql+psycopg://netzwerktimer@127.0.0.1:{_closed_port()}/netzwerktimer?connect_timeout=3"
    store = Store(url)
    try:
        resp = client_for(config, deployment, store).get("/readyz")
    finally:
        store.close()
    assert resp.status_code == 503
    assert resp.text.startswith("not ready: database does not answer: OperationalError"), resp.text
    assert "\n" not in resp.text.strip()


def test_readyz_503_when_the_sqlite_file_path_is_gone(app_env, tmp_path):
    config, deployment, _ = app_env
    folder = tmp_path / "gone"
    store = Store(f"sqlite:///{folder / 'db.sqlite3'}")  # creates the folder
    folder.rmdir()
    try:
        resp = client_for(config, deployment, store).get("/readyz")
    finally:
        store.close()
    assert resp.status_code == 503
    assert "database does not answer" in resp.text and "unable to open database file" in resp.text, resp.text


def test_readyz_503_when_the_calendar_cannot_be_published(app_env, tmp_path):
    config, _, store = app_env
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    deployment = Deployment(config_path=Path(config.path), data_dir=blocker / "data", database_url=store.url)
    resp = client_for(config, deployment, store).get("/readyz")
    assert resp.status_code == 503
    assert resp.text.startswith("not ready: calendar ") and "cannot be published" in resp.text, resp.text
    assert str(blocker / "data") in resp.text

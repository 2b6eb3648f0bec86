"""Admin actions over HTTP (``aggregator.web_admin``): absent without a token; with one,
``POST /admin/refresh`` and ``POST /admin/sources/{id}/accept`` do what the CLI's
``refresh`` and ``sources accept`` do, for a request bearing the token only, under the
scheduler's refresh lock."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from aggregator import web_admin
from aggregator.pipeline import refresh, select_sources
from aggregator.scheduler import RefreshScheduler
from aggregator.web import create_app
from tests.support.web import refreshed_sites
from tests.test_end_to_end import NOW, write_config

THEEN_ICS = Path(__file__).parent / "fixtures/sites/theen/termine.ics"
TOKEN = "test-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app_env(tmp_path, sites_server):
    with refreshed_sites(tmp_path, sites_server, NOW) as env:
        yield env


def client(env, token=TOKEN, scheduler=None) -> TestClient:
    return TestClient(create_app(*env, clock=lambda: NOW, admin_token=token, scheduler=scheduler))


def test_without_a_token_the_admin_endpoints_do_not_exist(app_env):
    c = client(app_env, token=None)
    assert c.post("/admin/refresh", headers=AUTH).status_code == 404
    assert c.post("/admin/sources/theen-termine/accept", headers=AUTH).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}])
def test_a_missing_or_wrong_token_is_401_with_a_bearer_challenge(app_env, headers):
    c = client(app_env)
    for path in ("/admin/refresh", "/admin/sources/theen-termine/accept", "/admin/sources/nope/accept"):
        resp = c.post(path, headers=headers)
        assert resp.status_code == 401, path
        assert resp.headers["www-authenticate"].startswith('Bearer realm="netzwerktimer-admin"')
    config, _, store = app_env
    assert len(store.fetch_log("theen-termine")) == 1  # nothing was refreshed


def test_admin_actions_are_post_only(app_env):
    c = client(app_env)
    assert c.get("/admin/refresh", headers=AUTH).status_code == 405
    assert c.get("/admin/sources/theen-termine/accept", headers=AUTH).status_code == 405


def test_refresh_refreshes_every_enabled_source_now_and_answers_with_the_result(app_env):
    config, _, store = app_env
    resp = client(app_env).post("/admin/refresh", headers=AUTH)
    assert resp.status_code == 200
    body = resp.json()
    assert [s["id"] for s in body["sources"]] == [s.id for s in config.sources]
    assert all(s["outcome"] in ("fetched", "not_modified", "unchanged") for s in body["sources"]), body
    assert set(body["sources"][0]) == {"id", "outcome", "http_status", "events", "error", "warnings"}
    assert isinstance(body["published"], bool)
    assert len(store.fetch_log("theen-termine")) == 2


def test_refresh_of_named_sources_only_and_an_unknown_one_is_404(app_env):
    _, _, store = app_env
    c = client(app_env)
    resp = c.post("/admin/refresh", headers=AUTH, params={"source": "medways-kalender"})
    assert resp.status_code == 200
    assert [s["id"] for s in resp.json()["sources"]] == ["medways-kalender"]
    assert len(store.fetch_log("theen-termine")) == 1 and len(store.fetch_log("medways-kalender")) == 2
    resp = c.post("/admin/refresh", headers=AUTH, params={"source": ["medways-kalender", "nope"]})
    assert resp.status_code == 404 and "nope" in resp.json()["error"]
    assert len(store.fetch_log("medways-kalender")) == 2


def test_accept_lets_a_suspicious_source_through_like_the_cli(app_env, sites_server):
    config, deployment, store = app_env
    ics = THEEN_ICS.read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=ics[: ics.index(b"BEGIN:VEVENT")] + b"END:VCALENDAR\r\n")
    (r,) = refresh(config, store, deployment, select_sources(config, ["theen-termine"]), now=NOW + timedelta(hours=1)).sources
    assert r.outcome == "suspicious"
    c = client(app_env)
    resp = c.post("/admin/sources/theen-termine/accept", headers=AUTH)
    assert resp.status_code == 200
    body = resp.json()
    assert body["source"] == "theen-termine" and body["accepted"] is True
    assert [(s["id"], s["outcome"], s["events"]) for s in body["sources"]] == [("theen-termine", "fetched", 0)]
    assert store.source_state("theen-termine").suspicious is None
    again = c.post("/admin/sources/theen-termine/accept", headers=AUTH).json()
    assert again["accepted"] is False and "not held as suspicious" in again["message"]


def test_accept_of_an_unknown_source_is_404(app_env):
    resp = client(app_env).post("/admin/sources/nope/accept", headers=AUTH)
    assert resp.status_code == 404 and resp.json() == {"error": "unknown source id: nope"}


def reorder(env):
    """(config, deployment, store) → RefreshScheduler's (config, store, deployment)."""
    config, deployment, store = env
    return config, store, deployment


def test_an_admin_refresh_waits_for_the_scheduled_one_and_gives_up_with_409(app_env, monkeypatch):
    scheduler = RefreshScheduler(*reorder(app_env))
    monkeypatch.setattr(web_admin, "LOCK_WAIT", 0.5)
    c = client(app_env, scheduler=scheduler)
    with scheduler._lock:  # a scheduled refresh is running
        resp = c.post("/admin/refresh", headers=AUTH)
    assert resp.status_code == 409 and resp.headers["retry-after"]
    # a refresh that ends within the wait is waited for
    lock = scheduler._lock
    lock.acquire()
    threading.Timer(0.2, lock.release).start()
    assert c.post("/admin/refresh", headers=AUTH).status_code == 200


def test_while_shutting_down_admin_actions_are_503_and_refresh_nothing(app_env):
    _, _, store = app_env
    scheduler = RefreshScheduler(*reorder(app_env))
    scheduler.stop_taking_jobs()
    c = client(app_env, scheduler=scheduler)
    assert c.post("/admin/refresh", headers=AUTH).status_code == 503
    assert c.post("/admin/sources/theen-termine/accept", headers=AUTH).status_code == 503
    assert len(store.fetch_log("theen-termine")) == 1


def test_serve_offers_the_admin_endpoints_behind_the_token(tmp_path, sites_server, serve):
    base, _ = serve(write_config(tmp_path, sites_server), env={"NETZWERKTIMER_ADMIN_TOKEN": TOKEN})
    resp = httpx.post(base + "/admin/refresh", headers=AUTH, params={"source": "optonet-posts"}, timeout=60)
    assert resp.status_code == 200, resp.text
    assert [s["id"] for s in resp.json()["sources"]] == ["optonet-posts"]
    unauthorized = httpx.post(base + "/admin/refresh")
    assert unauthorized.status_code == 401 and unauthorized.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(base + "/admin/refresh", headers=AUTH).status_code == 405
    assert httpx.post(base + "/admin/sources/nope/accept", headers=AUTH).status_code == 404
    accept = httpx.post(base + "/admin/sources/optonet-posts/accept", headers=AUTH, timeout=60)
    assert accept.status_code == 200 and accept.json()["accepted"] is False

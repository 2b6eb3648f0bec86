"""`netzwerktimer serve` as a real process: scheduled refresh, the feed over HTTP
with ETag / 304, the sources' status, a clean stop on SIGTERM, the nightly
digest caught up at start-up and sent once."""

from __future__ import annotations

import json
import signal
import time

import httpx

from tests.support.serve import free_port, wait_for
from tests.support.shared import ics_check
from tests.test_end_to_end import write_config

def test_serve_refreshes_on_start_and_serves_the_feed_with_etag_and_304(tmp_path, sites_server, serve):
    base, _ = serve(write_config(tmp_path, sites_server))
    proc_check = lambda: "Energie-Stammtisch" in httpx.get(base + "/calendar.ics").text  # noqa: E731
    deadline = time.monotonic() + 30
    while not proc_check():
        assert time.monotonic() < deadline, "the scheduler never refreshed"
        time.sleep(0.3)
    resp = httpx.get(base + "/calendar.ics")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/calendar; charset=utf-8"
    etag, modified = resp.headers["etag"], resp.headers["last-modified"]
    assert httpx.get(base + "/calendar.ics", headers={"If-None-Match": etag}).status_code == 304
    assert httpx.get(base + "/calendar.ics", headers={"If-Modified-Since": modified}).status_code == 304
    assert httpx.get(base + "/calendar.ics", headers={"If-None-Match": '"other"'}).status_code == 200
    path = tmp_path / "served.ics"
    path.write_bytes(resp.content)
    assert ics_check(path)[0]["ok"]
    status = httpx.get(base + "/status").json()["sources"]
    assert {s["id"]: s["outcome"] for s in status} == {
        "theen-termine": "fetched",
        "medways-kalender": "fetched",
        "optonet-posts": "fetched",
        "thzm-veranstaltungen": "fetched",
    }


def test_offline_serve_starts_serves_a_valid_empty_calendar_and_shows_each_error(tmp_path, serve):
    closed = free_port()  # nothing listens here: like a machine without network
    config = tmp_path / "sources.toml"
    config.write_text(
        f"""
[settings]
allow_private_networks = true
timeout = 1
retries = 0

[networks.optonet]
name = "OptoNet e.V."

[[sources]]
id = "optonet-posts"
network = "optonet"
kind = "feed"
url = "http://127.0.0.1:{closed}/feed/"
""",
        encoding="utf-8",
    )
    base, _ = serve(config)
    resp = httpx.get(base + "/calendar.ics")
    assert resp.status_code == 200
    path = tmp_path / "empty.ics"
    path.write_bytes(resp.content)
    assert ics_check(path)[0]["ok"]
    deadline = time.monotonic() + 20
    while True:
        (row,) = httpx.get(base + "/status").json()["sources"]
        if row["outcome"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert row["outcome"] == "error" and "could not connect" in row["error"]


def test_sigterm_stops_serve_cleanly(tmp_path, sites_server, serve):
    base, proc = serve(write_config(tmp_path, sites_server))
    assert httpx.get(base + "/healthz").text == "ok"
    proc.send_signal(signal.SIGTERM)
    # a clean shutdown after SIGTERM is a normal end: exit status 0
    assert proc.wait(timeout=15) == 0
    log = (tmp_path / "serve.log").read_text()
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
    assert (tmp_path / "data" / "public" / "calendar.ics").exists()


def test_serve_catches_up_the_digest_at_start_up_and_sends_it_once_across_a_restart(tmp_path, serve):
    closed = free_port()
    config = tmp_path / "sources.toml"
    config.write_text(
        f"""
[settings]
allow_private_networks = true
timeout = 1
retries = 0
timezone = "Europe/Berlin"

[digest]
send_at = "00:00"
recipients = ["ops@example.org"]
send_when_empty = true

[networks.optonet]
name = "OptoNet e.V."

[[sources]]
id = "optonet-posts"
network = "optonet"
kind = "feed"
url = "http://127.0.0.1:{closed}/feed/"
""",
        encoding="utf-8",
    )
    outbox = tmp_path / "data" / "outbox"
    mails = lambda: sorted(outbox.glob("*.eml")) if outbox.exists() else []  # noqa: E731
    # send_at (00:00 local) has passed today and nothing was sent: the start-up check sends it
    _, proc = serve(config)
    wait_for(lambda: len(mails()) == 1, proc, tmp_path)
    (first,) = mails()
    assert "ops@example.org" in first.name
    content = first.read_bytes()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    # started again the same day: this night's digest is done, nothing is sent again
    _, proc = serve(config)
    time.sleep(3)
    assert proc.poll() is None
    assert mails() == [first] and first.read_bytes() == content
    log = (tmp_path / "serve.log").read_text()
    records = [json.loads(line) for line in log.splitlines()]  # serve logs JSON lines
    sent = [r["recipient"] for r in records if r.get("event") == "digest.send" and r["outcome"] == "sent"]
    assert sent == ["ops@example.org"], log
    assert "Traceback" not in log


def test_serve_answers_the_json_api_and_the_atom_feed(tmp_path, sites_server, serve):
    base, _ = serve(write_config(tmp_path, sites_server))
    deadline = time.monotonic() + 30
    while httpx.get(base + "/events.json").json()["total"] == 0:
        assert time.monotonic() < deadline, "the scheduler never refreshed"
        time.sleep(0.3)
    assert httpx.get(base + "/openapi.json").json()["openapi"].startswith("3.1")
    assert httpx.get(base + "/feed.atom").headers["content-type"].startswith("application/atom+xml")
    assert httpx.get(base + "/conflicts.json").status_code == 200


def test_serve_shows_the_web_page_in_german_and_english(tmp_path, sites_server, serve):
    base, _ = serve(write_config(tmp_path, sites_server))
    page = httpx.get(base + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="de"' in page.text and "Termin prüfen" in page.text
    assert '<html lang="en"' in httpx.get(base + "/?lang=en").text
    assert httpx.get(base + "/check", params={"date": "2025-11-26"}).status_code == 200


def test_serve_answers_readiness_and_metrics(tmp_path, sites_server, serve):
    base, _ = serve(write_config(tmp_path, sites_server))
    assert httpx.get(base + "/readyz").text.startswith("ready")
    metrics = httpx.get(base + "/metrics")
    assert metrics.status_code == 200 and "netzwerktimer_fetches_total" in metrics.text

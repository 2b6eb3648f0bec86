"""SIGTERM while ``serve`` is in the middle of a refresh: the process ends with status 0
without waiting for the slow site, leaves no temporary file, a valid calendar and a
consistent database (each fetch recorded whole or not at all), and the next start
carries on from there."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time

import httpx
import icalendar

from tests.support.serve import serve_log, wait_for
from tests.test_end_to_end import write_config

SLOW = "/theen/termine.ics"


def test_sigterm_during_a_slow_fetch_exits_0_promptly_and_leaves_files_and_database_consistent(tmp_path, sites_server, serve):
    config = write_config(tmp_path, sites_server)
    config.write_text(config.read_text(encoding="utf-8").replace("timeout = 2", "timeout = 60"), encoding="utf-8")
    sites_server.misbehave(SLOW, "slow", seconds=30)
    _, proc = serve(config)
    # the start-up refresh is now waiting for the slow site
    wait_for(lambda: sites_server.requests_for(SLOW), proc, tmp_path)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    assert proc.wait(timeout=20) == 0, serve_log(tmp_path)
    assert time.monotonic() - sent < 10, "serve waited for the slow site instead of abandoning the fetch"

    log = serve_log(tmp_path)
    assert "Traceback" not in log
    records = [json.loads(line) for line in log.splitlines()]
    assert any(r.get("event") == "refresh" and r["outcome"] == "stopped" for r in records), log
    assert records[-1]["event"] == "serve.stop"

    public = tmp_path / "data" / "public"
    assert [name for name in os.listdir(public) if name.endswith(".tmp")] == []
    calendar = icalendar.Calendar.from_ical((public / "calendar.ics").read_bytes())
    assert calendar.name == "VCALENDAR"

    db = sqlite3.connect(tmp_path / "data" / "netzwerktimer.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        fetches = dict(db.execute("SELECT source_id, COUNT(*) FROM fetches GROUP BY source_id").fetchall())
        states = dict(db.execute("SELECT id, last_outcome FROM sources").fetchall())
        slow_events = db.execute("SELECT COUNT(*) FROM events WHERE source_id = 'theen-termine'").fetchone()[0]
    finally:
        db.close()
    # every fetch is either recorded whole (its row and the source's state) or not at all
    for source_id in ("theen-termine", "medways-kalender", "optonet-posts", "thzm-veranstaltungen"):
        assert fetches.get(source_id, 0) in (0, 1)
        assert (fetches.get(source_id, 0) == 1) == (states.get(source_id) is not None), (source_id, fetches, states)
    assert fetches.get("theen-termine", 0) == 0 and slow_events == 0  # the interrupted fetch left nothing

    # started again, it refreshes as if the interrupted run had not happened
    sites_server.behave(SLOW)
    base, proc = serve(config)
    wait_for(lambda: {s["id"]: s["outcome"] for s in httpx.get(base + "/status").json()["sources"]}.get("theen-termine") == "fetched",
             proc, tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0

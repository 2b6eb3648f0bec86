"""The `netzwerktimer` commands as an operator runs them (a real process each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import icalendar

from tests.support.shared import ics_check
from tests.test_end_to_end import SOURCES, write_config


def cli(tmp_path, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("NETZWERKTIMER_DATABASE_URL", "NETZWERKTIMER_CONFIG")}
    env.update({"NETZWERKTIMER_DATA_DIR": str(tmp_path / "data"), **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "aggregator.cli", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_refresh_then_sources_list_then_export(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    proc = cli(tmp_path, "--config", config, "refresh")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "theen-termine: fetched (HTTP 200), 5 events (+5 ~0 -0)" in proc.stdout
    assert "calendar written" in proc.stdout
    published = tmp_path / "data" / "public" / "calendar.ics"
    assert ics_check(published)[0]["ok"]

    proc = cli(tmp_path, "--config", config, "sources", "list")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["SOURCE", "NETWORK", "KIND", "ON", "LAST", "RUN", "(UTC)", "STATUS", "EVENTS"]
    row = next(line for line in lines if line.startswith("theen-termine"))
    assert "fetched 200" in row and row.split()[-1] == "5"
    assert any(line.startswith("  ~ optonet-posts:") for line in lines)  # the dateless post is reported

    rows = json.loads(cli(tmp_path, "--config", config, "sources", "list", "--json").stdout)
    assert [r["id"] for r in rows] == [s[0] for s in SOURCES]
    assert all(r["last_run"] and r["error"] is None for r in rows)

    out = tmp_path / "medways.ics"
    proc = cli(tmp_path, "--config", config, "export", "ics", "--network", "medways", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    cal = icalendar.Calendar.from_ical(out.read_bytes())
    assert len(cal.walk("VEVENT")) == 3 and "medways" in str(cal["X-WR-CALNAME"])

    proc = cli(tmp_path, "--config", config, "export", "ics")
    assert proc.stdout.startswith("BEGIN:VCALENDAR")

    proc = cli(tmp_path, "--config", config, "refresh")
    assert all(": not_modified (HTTP 304)" in line for line in proc.stdout.splitlines()[:4]), proc.stdout
    assert "calendar unchanged" in proc.stdout


def test_refresh_exits_1_when_a_source_fails_and_names_the_reason(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    sites_server.misbehave("/medways/kalender.ics", "status", code=404)
    proc = cli(tmp_path, "--config", config, "refresh")
    assert proc.returncode == 1
    assert "medways-kalender: error (HTTP 404): HTTP 404 Not Found" in proc.stdout
    assert "theen-termine: fetched" in proc.stdout
    listing = cli(tmp_path, "--config", config, "sources", "list").stdout
    assert "  ! medways-kalender: HTTP 404 Not Found" in listing


def test_refresh_of_named_sources_only(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    proc = cli(tmp_path, "--config", config, "refresh", "thzm-veranstaltungen")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0].startswith("thzm-veranstaltungen: fetched")
    assert "theen-termine" not in proc.stdout


def test_unknown_source_or_network_is_refused(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    proc = cli(tmp_path, "--config", config, "refresh", "nope")
    assert proc.returncode == 2 and "unknown source id(s): nope" in proc.stderr
    proc = cli(tmp_path, "--config", config, "export", "ics", "--network", "nope")
    assert proc.returncode == 2 and "unknown network 'nope'" in proc.stderr


def test_config_comes_from_the_environment_when_no_option_is_given(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    proc = cli(tmp_path, "config", "check", env_extra={"NETZWERKTIMER_CONFIG": config})
    assert proc.returncode == 0 and "4 sources" in proc.stdout


def test_database_url_from_the_environment_is_used(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    db = tmp_path / "elsewhere.sqlite3"
    proc = cli(tmp_path, "--config", config, "refresh", "thzm-veranstaltungen", env_extra={"NETZWERKTIMER_DATABASE_URL": f"sqlite:///{db}"})
    assert proc.returncode == 0 and db.exists()
    assert not (tmp_path / "data" / "netzwerktimer.sqlite3").exists()

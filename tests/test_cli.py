"""The `netzwerktimer` commands as an operator runs them (a real process each)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import icalendar

from tests.support.shared import ics_check
from tests.test_end_to_end import SOURCES, write_config

ROOT = Path(__file__).resolve().parents[1]


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


def test_a_bad_database_url_is_refused_by_every_command_without_a_traceback(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    for command in (["config", "check"], ["sources", "list"], ["refresh"], ["export", "ics"]):
        proc = cli(tmp_path, "--config", config, *command, env_extra={"NETZWERKTIMER_DATABASE_URL": "foo"})
        assert proc.returncode == 2, (command, proc.stderr)
        assert proc.stderr.startswith("configuration refused:\nenvironment: NETZWERKTIMER_DATABASE_URL: not a database URL")
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = cli(tmp_path, "--config", config, "config", "check", env_extra={"NETZWERKTIMER_DATABASE_URL": "mysql://u@127.0.0.1/db"})
    assert proc.returncode == 2
    assert "NETZWERKTIMER_DATABASE_URL: unsupported database 'mysql+mysqldb'" in proc.stderr
    assert sites_server.requests == []  # nothing was fetched


def test_config_check_validates_the_environment_too(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    no_smtp = dict.fromkeys(("NETZWERKTIMER_SMTP_HOST", "NETZWERKTIMER_SMTP_PORT", "NETZWERKTIMER_SMTP_SECURITY",
                             "NETZWERKTIMER_SMTP_USER", "NETZWERKTIMER_SMTP_PASSWORD", "NETZWERKTIMER_SMTP_CA_FILE"), "")
    proc = cli(tmp_path, "--config", config, "config", "check", env_extra=no_smtp)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1] == "environment: OK — database sqlite+pysqlite, mail to the outbox"
    proc = cli(tmp_path, "--config", config, "config", "check", env_extra={**no_smtp, "NETZWERKTIMER_SMTP_PORT": "587"})
    assert proc.returncode == 2
    assert "environment: NETZWERKTIMER_SMTP_HOST: not set, but NETZWERKTIMER_SMTP_PORT is" in proc.stderr


def test_database_url_from_the_environment_is_used(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    db = tmp_path / "elsewhere.sqlite3"
    proc = cli(tmp_path, "--config", config, "refresh", "thzm-veranstaltungen", env_extra={"NETZWERKTIMER_DATABASE_URL": f"sqlite:///{db}"})
    assert proc.returncode == 0 and db.exists()
    assert not (tmp_path / "data" / "netzwerktimer.sqlite3").exists()


def test_sources_check_prints_the_events_of_a_configured_source_and_stores_nothing(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    proc = cli(tmp_path, "--config", config, "sources", "check", "optonet-posts")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{sites_server.url('/optonet/feed/')}: fetched (HTTP 200)"
    assert lines[1].startswith("times in Europe/Berlin")
    assert lines[2].split() == ["START", "END", "ZONE", "TITLE", "LOCATION", "LINK"]
    assert lines[3].startswith("2025-10-14 09:00  2025-10-14 16:00" + " " * 20 + "Einladung: Workshop Photonik")
    assert "2 events" in lines
    assert any("Photonics Days" in line and "no event date" in line for line in lines)
    assert not (tmp_path / "data" / "public" / "calendar.ics").exists()
    listing = json.loads(cli(tmp_path, "--config", config, "sources", "list", "--json").stdout)
    assert all(row["last_run"] is None for row in listing)


def test_sources_check_with_url_and_kind(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    proc = cli(tmp_path, "--config", config, "sources", "check", "--url", sites_server.url("/theen/termine.ics"), "--kind", "ics")
    assert proc.returncode == 0, proc.stderr
    assert "Webinar Wärmepumpen in Gewerbebauten [cancelled]" in proc.stdout
    assert "Energie-Stammtisch [series]" in proc.stdout
    assert "5 events" in proc.stdout


def test_sources_check_reports_a_broken_source(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    sites_server.misbehave("/theen/termine.ics", "replace", body=b"<html>Wartung</html>")
    proc = cli(tmp_path, "--config", config, "sources", "check", "theen-termine")
    assert proc.returncode == 1
    assert "error: not an iCalendar file" in proc.stdout


def test_sources_discover_prints_a_ready_sources_block(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    sites_server.root = tmp_path
    (tmp_path / "termine").mkdir()
    (tmp_path / "termine" / "index.html").write_text(
        '<html><head><link rel="alternate" type="text/calendar" href="/kalender.ics"></head><body>Termine</body></html>'
    )
    (tmp_path / "kalender.ics").write_bytes((ROOT / "tests/fixtures/sites/theen/termine.ics").read_bytes())
    proc = cli(tmp_path, "--config", config, "sources", "discover", sites_server.url("/termine/"), "--network", "theen")
    assert proc.returncode == 0, proc.stderr
    block = proc.stdout.split("\n\n", 1)[1]
    import tomllib

    (source,) = tomllib.loads(block)["sources"]
    assert source["kind"] == "ics" and source["url"] == sites_server.url("/kalender.ics") and source["network"] == "theen"


def test_sources_discover_says_which_candidates_were_not_probed_and_why(tmp_path, sites_server):
    from aggregator.discover import MAX_PROBES

    config = str(write_config(tmp_path, sites_server))
    sites_server.root = tmp_path
    ics = (ROOT / "tests/fixtures/sites/theen/termine.ics").read_bytes()
    for i in range(MAX_PROBES + 2):
        (tmp_path / f"t{i}.ics").write_bytes(ics)
    links = "".join(f'<a href="/t{i}.ics">iCal</a>' for i in range(MAX_PROBES + 2))
    (tmp_path / "index.html").write_text(f"<html><body>{links}</body></html>")
    proc = cli(tmp_path, "--config", config, "sources", "discover", sites_server.url("/"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(f"; not probed: limit of {MAX_PROBES} probes") == 2
    assert "error: None" not in proc.stdout


def test_auto_source_reads_what_the_page_links_to(tmp_path, sites_server):
    sources = [("theen-auto", "theen", "auto", "/theen/")]
    config = str(write_config(tmp_path, sites_server, sources))
    sites_server.misbehave(
        "/theen/", "replace", body=b'<html><head><link rel="alternate" type="text/calendar" href="/theen/termine.ics"></head></html>'
    )
    proc = cli(tmp_path, "--config", config, "refresh")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "theen-auto: fetched (HTTP 200), 5 events" in proc.stdout
    rows = json.loads(cli(tmp_path, "--config", config, "sources", "list", "--json").stdout)
    assert rows[0]["warnings"][0] == f"auto: read kind ics from {sites_server.url('/theen/termine.ics')} (<link rel=\"alternate\" type=\"text/calendar\">)"


def test_a_suspicious_source_is_flagged_in_sources_list_and_accept_lets_it_through(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    assert cli(tmp_path, "--config", config, "refresh").returncode == 0
    ics = (ROOT / "tests/fixtures/sites/theen/termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=ics[: ics.index(b"BEGIN:VEVENT")] + b"END:VCALENDAR\r\n")
    proc = cli(tmp_path, "--config", config, "refresh", "theen-termine")
    assert proc.returncode == 0
    assert proc.stdout.startswith("theen-termine: suspicious (HTTP 200), 0 events: yielded no upcoming events where it had")
    listing = cli(tmp_path, "--config", config, "sources", "list").stdout
    row = next(line for line in listing.splitlines() if line.startswith("theen-termine"))
    assert "suspicious 200" in row and row.split()[-1] == "5"
    assert "  ? theen-termine: suspicious, yielded no upcoming events" in listing

    proc = cli(tmp_path, "--config", config, "sources", "accept", "theen-termine")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "theen-termine: fetched, 0 events"
    rows = json.loads(cli(tmp_path, "--config", config, "sources", "list", "--json").stdout)
    theen = next(r for r in rows if r["id"] == "theen-termine")
    assert theen["suspicious"] is None and theen["events"] == 0
    assert cli(tmp_path, "--config", config, "sources", "accept", "theen-termine").stdout.strip() == "theen-termine is not held as suspicious; nothing to accept"


def test_sources_list_shows_the_current_error_of_a_source_still_held_as_suspicious(tmp_path, sites_server):
    # Found by the chaos run: a held source that then failed showed only the old suspicion.
    config = str(write_config(tmp_path, sites_server))
    assert cli(tmp_path, "--config", config, "refresh").returncode == 0
    ics = (ROOT / "tests/fixtures/sites/theen/termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=ics[: ics.index(b"BEGIN:VEVENT")] + b"END:VCALENDAR\r\n")
    assert cli(tmp_path, "--config", config, "refresh", "theen-termine").stdout.startswith("theen-termine: suspicious")
    sites_server.misbehave("/theen/termine.ics", "status", code=404)
    assert cli(tmp_path, "--config", config, "refresh", "theen-termine").returncode == 1
    listing = cli(tmp_path, "--config", config, "sources", "list").stdout
    assert "  ! theen-termine: HTTP 404 Not Found" in listing
    assert "  ? theen-termine: suspicious, yielded no upcoming events" in listing


# --------------------------------------------------------------------------- sources check: the table

WP_TEC = [("elmug-tribe", "theen", "tribe", "/wp-tec/wp-json/tribe/events/v1/events/")]


def check_rows(proc) -> dict[str, list[str]]:
    """The table rows of a `sources check` run by link: [start, end, zone, title] (zone "" when unlabelled)."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    header = lines[2]
    cut = [header.index(name) for name in ("START", "END", "ZONE", "TITLE", "LOCATION", "LINK")]
    rows = {}
    for line in lines[3:]:
        if line.endswith(" events"):
            break
        cells = [line[a:b].strip() for a, b in zip(cut, cut[1:] + [None])]
        rows[cells[5]] = cells[:4]
    return rows


def test_sources_check_shows_every_kind_of_one_site_at_the_same_times_in_the_configured_zone(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server, WP_TEC))
    tribe = cli(tmp_path, "--config", config, "sources", "check", "elmug-tribe")
    jsonld = cli(tmp_path, "--config", config, "sources", "check", "--url", sites_server.url("/wp-tec/veranstaltungen/"), "--kind", "jsonld")
    ics = cli(tmp_path, "--config", config, "sources", "check", "--url", sites_server.url("/wp-tec/veranstaltungen/?ical=1"), "--kind", "ics")

    assert tribe.stdout.splitlines()[1].startswith("times in Europe/Berlin")
    by_kind = {name: check_rows(proc) for name, proc in (("tribe", tribe), ("jsonld", jsonld), ("ics", ics))}
    assert len(by_kind["tribe"]) == 10
    times = {name: {link: row[:2] for link, row in rows.items()} for name, rows in by_kind.items()}
    assert times["jsonld"] == times["tribe"] == times["ics"]
    stammtisch = next(row for row in by_kind["jsonld"].values() if row[3].startswith("ELMUG-Stammtisch"))
    assert stammtisch == ["2025-09-16 18:00", "2025-09-16 20:30", "UTC", "ELMUG-Stammtisch „Sensorik trifft KI“"]
    # The Events Calendar's JSON-LD states times in UTC (labelled), its API and export in Berlin (not).
    assert {row[2] for row in by_kind["jsonld"].values()} == {"UTC", ""}  # "" for the two all-day events
    assert {row[2] for row in by_kind["tribe"].values()} == {""} == {row[2] for row in by_kind["ics"].values()}


def test_sources_check_converts_to_another_configured_zone_and_names_the_sources(tmp_path, sites_server):
    path = write_config(tmp_path, sites_server, WP_TEC)
    path.write_text(path.read_text(encoding="utf-8").replace("[settings]\n", '[settings]\ntimezone = "UTC"\n', 1), encoding="utf-8")
    proc = cli(tmp_path, "--config", str(path), "sources", "check", "elmug-tribe")

    assert proc.stdout.splitlines()[1].startswith("times in UTC")
    stammtisch = next(row for row in check_rows(proc).values() if row[3].startswith("ELMUG-Stammtisch"))
    assert stammtisch[:3] == ["2025-09-16 16:00", "2025-09-16 18:30", "Europe/Berlin"]


def test_sources_check_shortens_a_long_title_not_its_status_marker(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server, WP_TEC))
    rows = check_rows(cli(tmp_path, "--config", config, "sources", "check", "elmug-tribe"))
    titles = {row[3] for row in rows.values()}

    # "Betriebsbesichtigung bei der Sensorwerk Gera GmbH" (cancelled) and the postponed workshop
    assert "Betriebsbesichtigung bei der Sensorwe… [cancelled]" in titles
    assert "Workshop „EMV-gerechtes Leiterplatten… [tentative]" in titles
    assert sum("[cancelled]" in t for t in titles) == 1 and sum("[tentative]" in t for t in titles) == 1
    assert all(len(t) <= 50 for t in titles)


def test_sources_check_refuses_a_bad_url_in_one_line(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    proc = cli(tmp_path, "--config", config, "sources", "check", "--url", "www.elmug.de/veranstaltungen/")

    assert proc.returncode == 2
    assert proc.stderr.strip() == "cannot check: --url must be an http:// or https:// URL, not 'www.elmug.de/veranstaltungen/'"
    assert proc.stdout == ""


def test_sources_check_selector_options_imply_kind_html(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    url = sites_server.url("/contao/de/termine.html")
    proc = cli(tmp_path, "--config", config, "sources", "check", "--url", url,
               "--item", ".mod_eventlist .event", "--title", "h2", "--date", "p.time", "--link", "h2 a")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"{url}: fetched (HTTP 200)")
    (count,) = [line for line in proc.stdout.splitlines() if line.endswith(" events") and line.split()[0].isdigit()]
    assert int(count.split()[0]) > 0

    proc = cli(tmp_path, "--config", config, "sources", "check", "--url", url, "--item", ".event")
    assert (proc.returncode, proc.stderr.strip()) == (2, "cannot check: --kind html needs --title, --date (or --parser MODULE)")
    proc = cli(tmp_path, "--config", config, "sources", "check", "--url", url, "--kind", "ics", "--item", ".event")
    assert (proc.returncode, proc.stderr.strip()) == (2, "cannot check: --item is an option of --kind html, not of --kind ics")


def test_sources_check_html_shows_a_tec_multi_day_event_with_its_end(tmp_path, sites_server):
    # The Events Calendar's list: "4. November @ 9:00 - 5. November @ 16:00" is one range, not the first of two dates
    config = str(write_config(tmp_path, sites_server))
    proc = cli(
        tmp_path, "--config", config, "sources", "check", "--url", sites_server.url("/wp-tec/veranstaltungen/"), "--kind", "html",
        "--item", "article.tribe-events-calendar-list__event", "--title", ".tribe-events-calendar-list__event-title a",
        "--date", "time.tribe-events-calendar-list__event-datetime",
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if "ELMUG4FUTURE" in x]
    assert line.split()[:5] == ["2025-11-04", "09:00", "2025-11-05", "16:00", "ELMUG4FUTURE"], line


def test_an_unreachable_database_is_named_in_one_line_not_a_traceback(tmp_path, sites_server):
    config = str(write_config(tmp_path, sites_server))
    with socket.socket() as s:  # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://nobody@127.0.0.1:{port}/test?connect_timeout=2"
    for command in (["sources", "list"], ["refresh"]):
        proc = cli(tmp_path, "--config", config, *command, env_extra={"NETZWERKTIMER_DATABASE_URL": url})
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.startswith("database unavailable: "), proc.stderr
        assert "Traceback" not in proc.stderr

"""Conflicts, check-date and the digest end to end: fixture sites over the local HTTP
server → store → conflicts with their lifecycle → digest mail (outbox and real SMTP)."""

from __future__ import annotations

import email
import json
from datetime import date, datetime, time, timedelta, timezone
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import Deployment, load_config
from aggregator.conflict_report import check_date, detect
from aggregator.digest_job import run_digest
from aggregator.pipeline import refresh, select_sources
from aggregator.store import Store
from tests.test_cli import cli
from tests import test_mail

smtp_server = test_mail.smtp_server  # the real SMTP server fixture of the mail tests
NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)
SITES = Path(__file__).parent / "fixtures" / "sites"

CONFIG = """
[settings]
allow_private_networks = true
timeout = 2
retries = 0
retention = "3650d"

[conflicts]
horizon = "180d"

[digest]
recipients = ["kalender@ccit.example"]
language = "de"

[networks.theen]
name = "ThEEN e.V."
short = "ThEEN"
contacts = ["mv@theen.example"]

[networks.medways]
name = "medways e.V."
short = "medways"

[networks.elmug]
name = "ELMUG eG"
short = "ELMUG"

[[sources]]
id = "theen-termine"
network = "theen"
kind = "ics"
url = "{base}/theen/termine.ics"

[[sources]]
id = "medways-kalender"
network = "medways"
kind = "ics"
url = "{base}/medways/kalender.ics"

[[sources]]
id = "elmug-tribe"
network = "elmug"
kind = "tribe"
url = "{base}/wp-tec/wp-json/tribe/events/v1/events/"

[[sources]]
id = "schulferien"
network = "theen"
kind = "ics"
role = "context"
url = "{base}/schulferien/thueringen.ics"
"""


@pytest.fixture
def world(tmp_path, sites_server, database_url):
    path = tmp_path / "sources.toml"
    path.write_text(CONFIG.format(base=sites_server.base_url), encoding="utf-8")
    config = load_config(path)
    store = Store(database_url)
    store.migrate()
    deployment = Deployment(path, tmp_path / "data", database_url)
    refresh(config, store, deployment, select_sources(config, None), now=NOW)
    yield config, store, deployment
    store.close()


def titles(t) -> set[str]:
    return {t.a["title"], t.b["title"]}


def test_events_of_different_networks_on_top_of_each_other_are_found_with_their_lifecycle(world, sites_server):
    config, store, deployment = world
    found = detect(config, store, NOW)
    by_titles = {frozenset(titles(t)): t for t in found}
    mv, gv = "ThEEN-Mitgliederversammlung 2025", "Generalversammlung der ELMUG eG 2025"
    clash = by_titles[frozenset({mv, gv})]  # 26.11.2025, 10-15 h and 13 h, both at IHK Erfurt
    assert clash.kind == "overlap" and clash.status_since(None) == "new"
    messe = by_titles[frozenset({mv, "medways auf der Medizintechnik-Messe (Stand 12)"})]
    assert messe.kind == "overlap"  # an all-day event overlaps every timed event of its days
    # the Cross-Cluster-Wochen (12 days) are longer than ignore_longer_than: never a conflict
    assert not any("Cross-Cluster-Wochen" in " ".join(titles(t)) for t in found)
    # the same network never conflicts with itself; cancelled events never conflict
    assert not any(set(t.a["networks"]) & set(t.b["networks"]) for t in found)
    assert not any("Webinar Wärmepumpen" in " ".join(titles(t)) for t in found)

    # one side moves away: resolved
    ics = (SITES / "theen" / "termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=ics.replace(b"20251126T", b"20251127T"))
    later = NOW + timedelta(hours=2)
    refresh(config, store, deployment, select_sources(config, ["theen-termine"]), now=later)
    again = {t.id: t for t in detect(config, store, later)}
    assert again[clash.id].resolved and again[clash.id].status_since(NOW) == "resolved"


def test_an_acknowledged_conflict_comes_back_when_either_side_changes(world, sites_server):
    config, store, deployment = world
    (clash,) = [t for t in detect(config, store, NOW) if titles(t) == {"Generalversammlung der ELMUG eG 2025", "ThEEN-Mitgliederversammlung 2025"}]
    assert store.acknowledge_conflict(clash.id, "gemeinsam geplant", NOW)
    t = {t.id: t for t in detect(config, store, NOW + timedelta(hours=1))}[clash.id]
    assert t.acknowledged and t.status_since(NOW) == "acknowledged"
    ics = (SITES / "theen" / "termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=ics.replace(b"20251126T150000", b"20251126T160000"))
    refresh(config, store, deployment, select_sources(config, ["theen-termine"]), now=NOW + timedelta(hours=2))
    t = {t.id: t for t in detect(config, store, NOW + timedelta(hours=2))}[clash.id]
    assert not t.acknowledged and t.status_since(NOW + timedelta(hours=1)) == "changed"


def _lifecycle(found) -> dict:
    return {t.id: (t.kind, t.status_since(NOW), t.first_seen, t.changed_at, t.resolved_at, t.ack_note, t.a, t.b) for t in found}


def test_a_read_only_detect_sees_what_a_recording_one_would_and_writes_nothing(world, sites_server):
    config, store, deployment = world
    found = detect(config, store, NOW)
    (clash,) = [t for t in found if titles(t) == {"Generalversammlung der ELMUG eG 2025", "ThEEN-Mitgliederversammlung 2025"}]
    messe = next(t for t in found if "medways auf der Medizintechnik-Messe (Stand 12)" in titles(t))
    assert store.acknowledge_conflict(clash.id, "gemeinsam geplant", NOW)
    assert store.acknowledge_conflict(messe.id, "bekannt", NOW)
    # the clash changes (its acknowledgement is withdrawn), the other acknowledged one stays
    ics = (SITES / "theen" / "termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=ics.replace(b"20251126T150000", b"20251126T160000"))
    later = NOW + timedelta(hours=2)
    refresh(config, store, deployment, select_sources(config, ["theen-termine"]), now=later)
    before = store.conflicts()
    read_only = _lifecycle(detect(config, store, later, record=False))
    assert store.conflicts() == before, "a read-only detect wrote to the store"
    recorded = _lifecycle(detect(config, store, later))
    assert read_only == recorded
    assert recorded[clash.id][5] is None and recorded[messe.id][5] == "bekannt"


def test_a_scheduled_refresh_records_the_conflicts_lifecycle(tmp_path, sites_server, database_url):
    from aggregator.scheduler import RefreshScheduler

    path = tmp_path / "sources.toml"
    path.write_text(CONFIG.format(base=sites_server.base_url), encoding="utf-8")
    config = load_config(path)
    store = Store(database_url)
    store.migrate()
    try:
        RefreshScheduler(config, store, Deployment(path, tmp_path / "data", database_url), clock=lambda: NOW).tick()
        recorded = {frozenset({c["a"]["title"], c["b"]["title"]}) for c in store.conflicts()}
        assert frozenset({"ThEEN-Mitgliederversammlung 2025", "Generalversammlung der ELMUG eG 2025"}) in recorded
    finally:
        store.close()


def test_check_date_lists_the_day_and_what_a_new_event_would_collide_with(world):
    config, store, _ = world
    result = check_date(config, store, date(2025, 11, 26), NOW, start=time(9, 0), end=time(11, 0), network="medways")
    on_day = {s.title for s in result.events}
    assert {"ThEEN-Mitgliederversammlung 2025", "Generalversammlung der ELMUG eG 2025"} <= on_day
    kinds = {s.title: kind for kind, s in result.collisions}
    assert kinds["ThEEN-Mitgliederversammlung 2025"] == "overlap"
    assert kinds["Generalversammlung der ELMUG eG 2025"] == "same_day"
    assert "medways auf der Medizintechnik-Messe (Stand 12)" not in kinds  # medways' own event
    assert result.free_days and all(d.weekday() < 5 for d in result.free_days)
    holiday = check_date(config, store, date(2025, 10, 3), NOW)
    assert holiday.context == ["Feiertag in Thüringen: Tag der Deutschen Einheit"]


def test_a_free_day_for_a_slot_is_one_where_nothing_overlaps_the_slot(world):
    config, store, _ = world
    # 16 Sep: only the ELMUG-Stammtisch, 18:00–20:30; 22 Sep: the Maschinenbautag, 09:00–17:00
    morning = check_date(config, store, date(2025, 9, 15), NOW, start=time(10, 30), end=time(11, 30), network="medways")
    assert date(2025, 9, 16) in morning.free_days
    next_day = check_date(config, store, date(2025, 9, 23), NOW, start=time(10, 30), end=time(11, 30), network="medways").free_days
    assert date(2025, 9, 22) not in next_day and date(2025, 9, 24) in next_day  # 24 Sep: medways' own event
    # without a slot (all day) any other network's event that day makes it busy
    assert date(2025, 9, 16) not in check_date(config, store, date(2025, 9, 15), NOW, network="medways").free_days


def test_check_date_lists_events_too_long_to_conflict_marked_as_not_counted(world):
    config, store, deployment = world
    wochen = "Cross-Cluster-Wochen"  # 13–24 Oct 2025, longer than ignore_longer_than (3 days)
    result = check_date(config, store, date(2025, 10, 15), NOW, start=time(10, 0), end=time(11, 0))
    assert [s.title for s in result.long_events if wochen in s.title] and not [s for s in result.events if wochen in s.title]
    assert not any(wochen in s.title for _, s in result.collisions)
    env = {"NETZWERKTIMER_DATABASE_URL": deployment.database_url}
    data = json.loads(cli(deployment.data_dir.parent, "--config", str(config.path), "check-date", "2025-10-15", "--json", env_extra=env).stdout)
    (row,) = [e for e in data["events"] if wochen in e["title"]]
    assert row["counted_for_conflicts"] is False and all(e["counted_for_conflicts"] for e in data["events"] if e is not row)
    text = cli(deployment.data_dir.parent, "--config", str(config.path), "check-date", "2025-10-15", env_extra=env).stdout
    assert any(wochen in line and "not counted for conflicts" in line for line in text.splitlines())


def test_the_digest_goes_to_the_outbox_once_per_night_with_the_right_conflicts_per_recipient(world):
    config, store, deployment = world
    night = date(2025, 9, 1)
    results = {r.recipient: r for r in run_digest(config, store, deployment, night, NOW)}
    assert results["kalender@ccit.example"].status == "sent"
    assert results["mv@theen.example"].status == "sent"
    assert results["kalender@ccit.example"].subject.startswith("Netzwerktimer: ") and "neue Terminüberschneidung" in results["kalender@ccit.example"].subject
    outbox = deployment.data_dir / "outbox"
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    msg = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    assert "ThEEN-Mitgliederversammlung 2025" in text
    # a second run the same night sends nothing
    again = {r.recipient: r.status for r in run_digest(config, store, deployment, night, NOW + timedelta(minutes=5))}
    assert set(again.values()) == {"already_sent"}
    assert len(sorted(outbox.glob("*.eml"))) == 2


def test_the_outbox_digest_is_sent_from_netzwerktimer_mail_from(world):
    config, store, deployment = world
    env = {"NETZWERKTIMER_MAIL_FROM": "Netzwerktimer <digest@ccit.example>"}
    assert {r.status for r in run_digest(config, store, deployment, date(2025, 9, 1), NOW, env=env)} == {"sent"}
    files = sorted((deployment.data_dir / "outbox").glob("*.eml"))
    assert len(files) == 2
    for path in files:
        assert email.message_from_bytes(path.read_bytes(), policy=policy.default)["From"] == "Netzwerktimer <digest@ccit.example>"


def test_the_conflicts_command_prints_json_with_the_contracted_fields(tmp_path, sites_server):
    path = tmp_path / "sources.toml"
    path.write_text(CONFIG.format(base=sites_server.base_url), encoding="utf-8")
    assert cli(tmp_path, "--config", str(path), "refresh").returncode == 0
    proc = cli(tmp_path, "--config", str(path), "conflicts", "--from", "2025-11-01", "--to", "2025-11-30", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all({"id", "kind", "score", "status", "events"} <= set(r) for r in rows)
    assert all(len(r["events"]) == 2 and {"uid", "title", "start", "end", "networks"} <= set(r["events"][0]) for r in rows)
    only = json.loads(cli(tmp_path, "--config", str(path), "conflicts", "--from", "2025-11-01", "--to", "2025-11-30", "--kind", "same_day", "--json").stdout)
    assert all(r["kind"] == "same_day" for r in only)
    first = rows[0]["id"]
    proc = cli(tmp_path, "--config", str(path), "conflicts", "ack", first[:12], "--note", "abgestimmt")
    assert proc.returncode == 0 and "acknowledged: abgestimmt" in proc.stdout
    proc = cli(tmp_path, "--config", str(path), "check-date", "2025-11-26", "--start", "09:00", "--end", "11:00", "--json")
    data = json.loads(proc.stdout)
    assert data["date"] == "2025-11-26" and data["collisions"]
    proc = cli(tmp_path, "--config", str(path), "digest", "--dry-run")
    assert proc.returncode == 0 and "kalender@ccit.example:" in proc.stdout


MESSEWOCHE = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//DE\r\nBEGIN:VEVENT\r\nUID:messewoche@example\r\n"
              b"DTSTAMP:20250101T000000Z\r\nDTSTART;VALUE=DATE:20251124\r\nDTEND;VALUE=DATE:20251129\r\n"
              b"SUMMARY:Thueringer Messewoche\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_the_conflicts_command_names_holidays_and_context_calendars_next_to_each_conflict(tmp_path, sites_server):
    sites_server.misbehave("/schulferien/thueringen.ics", "replace", body=MESSEWOCHE)  # 24–28 Nov 2025
    path = tmp_path / "sources.toml"
    path.write_text(CONFIG.format(base=sites_server.base_url), encoding="utf-8")
    assert cli(tmp_path, "--config", str(path), "refresh").returncode == 0
    window = ("--from", "2025-11-01", "--to", "2025-11-30")
    rows = json.loads(cli(tmp_path, "--config", str(path), "conflicts", *window, "--json").stdout)
    assert rows and all(r["context"] == ["fällt in: Thueringer Messewoche"] for r in rows)
    earlier = json.loads(cli(tmp_path, "--config", str(path), "conflicts", "--from", "2025-09-01", "--to", "2025-10-31", "--json").stdout)
    assert all(r["context"] == [] for r in earlier)
    text = cli(tmp_path, "--config", str(path), "conflicts", *window).stdout
    assert text.count("! fällt in: Thueringer Messewoche") == len(rows)


def test_the_conflicts_text_shows_both_starts_in_the_configured_timezone(world, sites_server):
    config, store, deployment = world
    utc = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//DE\r\nBEGIN:VEVENT\r\nUID:utc-termin@medways.example\r\n"
           b"DTSTAMP:20250101T000000Z\r\nDTSTART:20251126T090000Z\r\nDTEND:20251126T100000Z\r\n"
           b"SUMMARY:Fruehstueck in UTC\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    sites_server.misbehave("/medways/kalender.ics", "replace", body=utc)
    refresh(config, store, deployment, select_sources(config, ["medways-kalender"]), now=NOW + timedelta(minutes=1))
    env = {"NETZWERKTIMER_DATABASE_URL": deployment.database_url}
    text = cli(deployment.data_dir.parent, "--config", str(config.path), "conflicts", "--from", "2025-11-26", "--to", "2025-11-26",
               env_extra=env).stdout
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "2025-11-26 10:00 Fruehstueck in UTC [medways]" in lines  # 09:00 UTC is 10:00 in Berlin
    assert any(line.startswith("2025-11-26 10:00 ThEEN-Mitgliederversammlung 2025") for line in lines)


def test_a_resolved_conflict_cannot_be_acknowledged(world, sites_server):
    config, store, deployment = world
    (clash,) = [t for t in detect(config, store, NOW) if titles(t) == {"Generalversammlung der ELMUG eG 2025", "ThEEN-Mitgliederversammlung 2025"}]
    ics = (SITES / "theen" / "termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=ics.replace(b"20251126T", b"20251127T"))
    refresh(config, store, deployment, select_sources(config, ["theen-termine"]), now=NOW + timedelta(hours=1))
    assert {t.id: t for t in detect(config, store, NOW + timedelta(hours=1))}[clash.id].resolved
    env = {"NETZWERKTIMER_DATABASE_URL": deployment.database_url}
    proc = cli(deployment.data_dir.parent, "--config", str(config.path), "conflicts", "ack", clash.id[:12], "--note", "egal", env_extra=env)
    assert proc.returncode == 2 and "is resolved" in proc.stderr and "acknowledged" not in proc.stdout
    assert not store.acknowledge_conflict(clash.id, "egal", NOW + timedelta(hours=2))
    assert {r["id"]: r["ack_note"] for r in store.conflicts()}[clash.id] is None


def test_context_calendars_are_named_next_to_dates_but_not_published(world):
    config, store, deployment = world
    result = check_date(config, store, date(2025, 10, 8), NOW)
    assert "fällt in: Herbstferien Thüringen" in result.context
    assert b"Herbstferien" not in (deployment.public_dir / "calendar.ics").read_bytes()
    assert not any("Herbstferien" in " ".join(titles(t)) for t in detect(config, store, NOW))


def test_the_digest_over_real_smtp_reaches_each_recipient_once_and_a_refusal_is_retried(world, smtp_server):
    config, store, deployment = world
    controller, handler = smtp_server()
    env = {"NETZWERKTIMER_SMTP_HOST": "127.0.0.1", "NETZWERKTIMER_SMTP_PORT": str(controller.port), "NETZWERKTIMER_SMTP_SECURITY": "none",
           "NETZWERKTIMER_MAIL_FROM": "netzwerktimer@ccit.example"}
    night = date(2025, 9, 1)
    handler.refuse = "550 mailbox unavailable"
    first = {r.recipient: r for r in run_digest(config, store, deployment, night, NOW, env=env)}
    assert {r.status for r in first.values()} == {"failed"} and "550" in first["kalender@ccit.example"].error
    handler.refuse = None
    second = {r.recipient: r.status for r in run_digest(config, store, deployment, night, NOW + timedelta(minutes=30), env=env)}
    assert second == {"kalender@ccit.example": "sent", "mv@theen.example": "sent"}
    by_rcpt = {m["rcpt_tos"][0]: m["message"] for m in handler.messages}
    assert set(by_rcpt) == {"kalender@ccit.example", "mv@theen.example"}
    theen_text = by_rcpt["mv@theen.example"].get_body(("plain",)).get_content()
    assert "ThEEN-Mitgliederversammlung 2025" in theen_text
    # the ThEEN contact gets only conflicts involving ThEEN; the global list gets ELMUG vs medways too
    global_text = by_rcpt["kalender@ccit.example"].get_body(("plain",)).get_content()
    assert "Generalversammlung der ELMUG eG 2025" in global_text
    assert by_rcpt["mv@theen.example"]["Subject"].startswith("Netzwerktimer: ")
    third = {r.recipient: r.status for r in run_digest(config, store, deployment, night, NOW + timedelta(hours=1), env=env)}
    assert set(third.values()) == {"already_sent"} and len(handler.messages) == 2


def test_an_acknowledged_conflict_is_no_news_but_stays_in_the_upcoming_list_with_its_note(world):
    config, store, deployment = world
    now = datetime(2025, 11, 1, 6, tzinfo=timezone.utc)  # the conflicts of 25/26 Nov are within the next 4 weeks
    found = detect(config, store, now)
    (clash,) = [t for t in found if titles(t) == {"Generalversammlung der ELMUG eG 2025", "ThEEN-Mitgliederversammlung 2025"}]
    for t in found:
        if "Energie-Stammtisch" not in titles(t):  # one left new, so the digest is sent
            store.acknowledge_conflict(t.id, "gemeinsam geplant", now)
    (out,) = [r for r in run_digest(config, store, deployment, date(2025, 11, 1), now, dry_run=True) if r.recipient == "kalender@ccit.example"]
    new, upcoming = out.text.split("NEUE TERMINÜBERSCHNEIDUNGEN")[1].split("ALLE TERMINÜBERSCHNEIDUNGEN DER NÄCHSTEN 4 WOCHEN")
    assert "Energie-Stammtisch" in new and "ThEEN-Mitgliederversammlung 2025" not in new
    assert out.subject == "Netzwerktimer: 1 neue Terminüberschneidung"
    lines = [" ".join(chunk.split()) for chunk in upcoming.split("\n- ")]
    line = next(x for x in lines if "Generalversammlung der ELMUG" in x and "ThEEN-Mitglieder" in x)
    assert "als bekannt markiert: gemeinsam geplant" in line


def test_a_conflict_left_out_by_the_cap_is_not_resolved(tmp_path):
    from datetime import datetime, timezone

    from aggregator.conflict_state import track
    from aggregator.conflicts import ConflictRules, find_conflicts, make_slot
    from aggregator.store import Store

    store = Store(f"sqlite:///{tmp_path}/c.sqlite3")
    store.migrate()
    now = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)
    day = datetime(2026, 3, 10, 10, tzinfo=timezone.utc)
    same = "Haus der Wirtschaft, 99096 Erfurt"
    items = [make_slot(f"e{i}", day, day.replace(hour=12), (f"n{i}",), location=same if i < 2 else "Volkshaus, 07743 Jena")
             for i in range(4)]
    everything = find_conflicts(items, ConflictRules(max_per_event=None))
    track(store, everything, now, now)
    assert len(store.conflicts()) == 6
    # a fifth event at e0's and e1's venue: each of the four keeps only its two worst rivals
    items.append(make_slot("e4", day, day.replace(hour=12), ("n4",), location=same))
    capped = find_conflicts(items, ConflictRules(max_per_event=2))
    assert capped.more and len(capped) < 10
    track(store, capped, now.replace(hour=7), now)
    rows = store.conflicts()
    listed = {c.id for c in capped}
    assert all(r["resolved_at"] is None for r in rows), "left out by the cap, not resolved"
    assert listed <= {r["id"] for r in rows}
    # one event cancelled: its conflicts are resolved
    rest = [s for s in items if s.uid != "e3"]
    track(store, find_conflicts(rest, ConflictRules(max_per_event=2)), now.replace(hour=8), now)
    gone = [r for r in store.conflicts() if "e3" in (r["a"]["uid"], r["b"]["uid"])]
    assert gone and all(r["resolved_at"] is not None for r in gone)


def test_a_narrow_conflicts_query_leaves_the_stored_lifecycle_as_it_was(world):
    """The audit's sequence: refresh, conflicts, digest, ack, ``conflicts --to <before the ack'd one>``,
    conflicts: nothing resolved, the ack and first_seen kept, the next night's digest has nothing new."""
    config, store, deployment = world
    berlin = ZoneInfo(config.settings.timezone)
    found = detect(config, store, NOW)
    (clash,) = [t for t in found if titles(t) == {"Generalversammlung der ELMUG eG 2025", "ThEEN-Mitgliederversammlung 2025"}]
    assert {r.status for r in run_digest(config, store, deployment, date(2025, 9, 1), NOW)} == {"sent"}
    assert store.acknowledge_conflict(clash.id, "gemeinsam geplant", NOW + timedelta(minutes=10))
    def lifecycle():
        return {r["id"]: (r["first_seen"], r["resolved_at"], r["ack_note"], r["changed_at"]) for r in store.conflicts()}

    before = lifecycle()
    # conflicts --to 2025-10-01 (the CLI's window: up to the next local midnight), then --from, --network, --kind alike
    narrow = detect(config, store, NOW + timedelta(hours=1), None, datetime(2025, 10, 2, tzinfo=berlin))
    assert clash.id not in {t.id for t in narrow}
    detect(config, store, NOW + timedelta(hours=1), datetime(2025, 12, 1, tzinfo=berlin), None)
    assert lifecycle() == before, "a narrow query changed the stored lifecycle"
    again = {t.id: t for t in detect(config, store, NOW + timedelta(hours=2))}
    assert again[clash.id].ack_note == "gemeinsam geplant" and again[clash.id].first_seen == clash.first_seen
    assert not any(t.resolved for t in again.values())
    nightly = {r.recipient: r for r in run_digest(config, store, deployment, date(2025, 9, 2), NOW + timedelta(days=1), dry_run=True)}
    assert nightly["kalender@ccit.example"].status == "skipped_empty"  # nothing new: no mail


def test_track_resolves_only_inside_the_window_it_looked_at(tmp_path):
    from aggregator.conflict_state import as_tracked, track
    from aggregator.conflicts import ConflictRules, find_conflicts, make_slot

    store = Store(f"sqlite:///{tmp_path}/c.sqlite3")
    store.migrate()
    now = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)
    early, late = datetime(2026, 3, 10, 10, tzinfo=timezone.utc), datetime(2026, 5, 10, 10, tzinfo=timezone.utc)
    items = [make_slot(f"{when:%m}-{i}", when, when + timedelta(hours=2), (f"n{i}",)) for when in (early, late) for i in range(2)]
    track(store, find_conflicts(items, ConflictRules()), now, now)
    # a detection up to April finds only March's conflict: May's lies outside and stays open
    april = datetime(2026, 4, 1, tzinfo=timezone.utc)
    march_only = find_conflicts(items[:2], ConflictRules())
    assert not any(t.resolved for t in as_tracked(store, march_only, now, now, april))
    track(store, march_only, now + timedelta(hours=1), now, april)
    assert [r["resolved_at"] for r in store.conflicts()] == [None, None]

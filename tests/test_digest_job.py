"""The digest job's rules, each pinned through ``run_digest`` over the fixture sites (the world of
``tests/test_conflicts_e2e.py``): who gets which conflicts, which kinds, when nothing is sent, the
resolved section, context calendars next to a conflict, and whose source problems."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from aggregator.config import load_config
from aggregator.conflict_report import detect
from aggregator.digest_job import run_digest
from aggregator.pipeline import refresh, select_sources
from tests import test_conflicts_e2e
from tests.test_conflicts_e2e import NOW, SITES

world = test_conflicts_e2e.world  # the fixture: fixture sites refreshed into a store, as of NOW

GLOBAL, THEEN = "kalender@ccit.example", "mv@theen.example"
MESSE, MV, GV = "medways auf der Medizintechnik-Messe (Stand 12)", "ThEEN-Mitgliederversammlung 2025", "Generalversammlung der ELMUG eG 2025"
NIGHT = date(2025, 9, 1)


def variant(config, old: str, new: str):
    """The world's configuration with ``old`` replaced by ``new`` (same database, same sites)."""
    base = Path(config.path)
    text = base.read_text(encoding="utf-8")
    assert old in text
    path = base.with_name(f"variant-{len(list(base.parent.glob('variant-*')))}.toml")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_config(path)


def dry(config, store, deployment, night=NIGHT, now=NOW) -> dict:
    """recipient → its dry-run outcome (status, subject, text)."""
    return {r.recipient: r for r in run_digest(config, store, deployment, night, now, dry_run=True)}


def section(text: str, heading: str) -> str:
    """The part of a digest text under ``heading`` (upper case, as rendered) up to the next heading."""
    if heading not in text:
        return ""
    rest = text.split(heading, 1)[1]
    return re.split(r"\n\n[A-ZÄÖÜ ]+ \(\d+\)\n=+\n|\n-- \n", rest, maxsplit=1)[0]


def blocks(part: str) -> list[str]:
    """The numbered conflict blocks of a section, each with its whitespace collapsed."""
    return [" ".join(b.split()) for b in re.split(r"\n\d+\.\s+", part)[1:]]


def pair_in(part: str, one: str, other: str) -> bool:
    return any(one in b and other in b for b in blocks(part))


def test_a_network_contact_gets_only_the_conflicts_involving_their_network(world):
    config, store, deployment = world
    out = dry(config, store, deployment)
    mine = section(out[THEEN].text, "NEUE TERMINÜBERSCHNEIDUNGEN")
    everything = section(out[GLOBAL].text, "NEUE TERMINÜBERSCHNEIDUNGEN")
    assert pair_in(mine, MV, GV) and pair_in(mine, MESSE, MV)
    assert not pair_in(mine, MESSE, GV), "medways vs ELMUG does not involve ThEEN"
    assert pair_in(everything, MESSE, GV) and len(blocks(everything)) == 4 and len(blocks(mine)) == 3


def test_only_the_configured_digest_kinds_are_reported(world):
    config, store, deployment = world
    stammtisch = "Energie-Stammtisch"  # 18:00 on the day ELMUG's assembly ends at 17:00: same_day only
    default = section(dry(config, store, deployment)[GLOBAL].text, "NEUE TERMINÜBERSCHNEIDUNGEN")
    assert not pair_in(default, GV, stammtisch) and "Am selben Tag" not in default
    both = variant(config, 'horizon = "180d"', 'horizon = "180d"\ndigest_kinds = ["overlap", "same_day"]')
    wider = section(dry(both, store, deployment)[GLOBAL].text, "NEUE TERMINÜBERSCHNEIDUNGEN")
    assert pair_in(wider, GV, stammtisch) and "Am selben Tag" in wider


def test_a_night_with_nothing_new_sends_nothing_unless_send_when_empty(world):
    config, store, deployment = world
    assert {r.status for r in run_digest(config, store, deployment, NIGHT, NOW)} == {"sent"}
    later = NOW + timedelta(days=1)
    assert {r.status for r in dry(config, store, deployment, NIGHT + timedelta(days=1), later).values()} == {"skipped_empty"}
    always = variant(config, 'language = "de"', 'language = "de"\nsend_when_empty = true')
    out = dry(always, store, deployment, NIGHT + timedelta(days=1), later)
    assert {r.status for r in out.values()} == {"dry_run"}
    assert out[GLOBAL].subject == "Netzwerktimer: keine neuen Terminüberschneidungen"


def test_a_conflict_resolved_since_the_last_digest_is_reported_once_as_resolved(world, sites_server):
    config, store, deployment = world
    assert {r.status for r in run_digest(config, store, deployment, NIGHT, NOW)} == {"sent"}
    ics = (SITES / "theen" / "termine.ics").read_bytes()
    sites_server.misbehave("/theen/termine.ics", "replace", body=ics.replace(b"20251126T", b"20251127T"))
    later = NOW + timedelta(days=1)
    refresh(config, store, deployment, select_sources(config, ["theen-termine"]), now=later)
    out = dry(config, store, deployment, NIGHT + timedelta(days=1), later)
    for who in (GLOBAL, THEEN):
        assert pair_in(section(out[who].text, "AUFGELÖSTE TERMINÜBERSCHNEIDUNGEN"), MV, GV), who
    assert not pair_in(section(out[GLOBAL].text, "AUFGELÖSTE TERMINÜBERSCHNEIDUNGEN"), MESSE, GV)  # still there
    assert {r.status for r in run_digest(config, store, deployment, NIGHT + timedelta(days=1), later)} == {"sent"}
    always = variant(config, 'language = "de"', 'language = "de"\nsend_when_empty = true')
    next_night = dry(always, store, deployment, NIGHT + timedelta(days=2), later + timedelta(days=1))
    assert "AUFGELÖSTE" not in next_night[GLOBAL].text, "reported once, in the first digest after it was resolved"


def test_a_conflict_on_a_day_of_a_context_calendar_names_it(world, sites_server):
    config, store, deployment = world
    week = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//DE\r\nBEGIN:VEVENT\r\nUID:messewoche@example\r\n"
            b"DTSTAMP:20250101T000000Z\r\nDTSTART;VALUE=DATE:20251124\r\nDTEND;VALUE=DATE:20251129\r\n"
            b"SUMMARY:Thueringer Messewoche\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    sites_server.misbehave("/schulferien/thueringen.ics", "replace", body=week)
    refresh(config, store, deployment, select_sources(config, ["schulferien"]), now=NOW + timedelta(minutes=1))
    new = section(dry(config, store, deployment)[GLOBAL].text, "NEUE TERMINÜBERSCHNEIDUNGEN")
    clash = next(b for b in blocks(new) if MV in b and GV in b)
    assert "fällt in: Thueringer Messewoche" in clash


def test_a_network_contact_gets_only_their_networks_source_problems(world, sites_server):
    config, store, deployment = world
    sites_server.misbehave("/theen/termine.ics", "status", code=500)
    sites_server.misbehave("/medways/kalender.ics", "status", code=500)
    refresh(config, store, deployment, select_sources(config, ["theen-termine", "medways-kalender"]), now=NOW + timedelta(minutes=1))
    detect(config, store, NOW)
    out = dry(config, store, deployment, now=NOW + timedelta(minutes=2))
    mine, everything = (section(out[who].text, "PROBLEME MIT QUELLEN") for who in (THEEN, GLOBAL))
    assert "theen-termine" in mine and "medways-kalender" not in mine
    assert "theen-termine" in everything and "medways-kalender" in everything


def vevents(*items: tuple[str, str, str]) -> bytes:
    """An ICS body of (uid, DTSTART, SUMMARY) one-hour events in UTC."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//DE"]
    for uid, start, title in items:
        end = start[:9] + f"{int(start[9:11]) + 1:02d}" + start[11:]
        lines += ["BEGIN:VEVENT", f"UID:{uid}@theen.example", "DTSTAMP:20250101T000000Z", f"DTSTART:{start}", f"DTEND:{end}",
                  f"SUMMARY:{title}", "END:VEVENT"]
    return ("\r\n".join(lines + ["END:VCALENDAR"]) + "\r\n").encode()


def test_announced_events_are_the_upcoming_ones_by_start(world, sites_server):
    config, store, deployment = world
    now = NOW + timedelta(days=20)  # 21 Sep 2025
    body = vevents(("spaet", "20251210T090000Z", "Jahresabschluss"), ("vorbei", "20250915T090000Z", "Schon vorbei"),
                   ("frueh", "20251005T090000Z", "Herbsttreffen"), ("mitte", "20251101T090000Z", "Novembertreffen"))
    sites_server.misbehave("/theen/termine.ics", "replace", body=body)
    refresh(config, store, deployment, select_sources(config, ["theen-termine"]), now=now)
    text = dry(config, store, deployment, NIGHT + timedelta(days=20), now + timedelta(minutes=1))[GLOBAL].text
    announced = section(text, "SEIT DER LETZTEN ZUSAMMENFASSUNG ANGEKÜNDIGT")
    titles = [line[2:] for line in announced.splitlines() if line.startswith("- ")]
    assert titles == ["Herbsttreffen", "Novembertreffen", "Jahresabschluss"]


def test_a_dry_run_records_nothing(world):
    config, store, deployment = world
    out = dry(config, store, deployment)
    assert {r.status for r in out.values()} == {"dry_run"} and "NEUE TERMINÜBERSCHNEIDUNGEN" in out[GLOBAL].text
    assert store.conflicts() == [] and store.digest_sends(NIGHT) == []
    # what a real run then reports is what the dry run showed
    assert {r.recipient: r.subject for r in run_digest(config, store, deployment, NIGHT, NOW)} == {r: o.subject for r, o in out.items()}

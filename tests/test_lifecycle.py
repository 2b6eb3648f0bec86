"""An event's life as subscribers see it, end to end over the local HTTP server:
merged duplicates, stable UIDs, updates, cancellations, vanishing, reappearing,
suspicious drops and accepting them — on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events

from aggregator.config import Deployment, load_config
from aggregator.pipeline import refresh, render, select_sources
from aggregator.store import Store
from exporters.ics import public_uid
from tests.support.shared import ics_check

NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)
SITES = Path(__file__).parent / "fixtures" / "sites"
THEEN_ICS = (SITES / "theen" / "termine.ics").read_bytes()

CONFIG = """
[settings]
allow_private_networks = true
timeout = 2
retries = 0
vanished_grace = "14d"
retention = "365d"

[networks.theen]
name = "ThEEN e.V."
short = "ThEEN"
website = "https://www.theen-ev.de"

[networks.thzm]
name = "Thüringer Zentrum für Maschinenbau"
short = "ThZM"
website = "https://www.maschinenbau-thueringen.de"

[networks.elmug]
name = "ELMUG eG"
short = "ELMUG"
website = "https://elmug.de"
"""

SOURCES = {
    "theen-termine": ("theen", "ics", "/theen/termine.ics"),
    "thzm-veranstaltungen": ("thzm", "feed", "/thzm/veranstaltungen.rss"),
    "elmug-tribe": ("elmug", "tribe", "/wp-tec/wp-json/tribe/events/v1/events/"),
}


def make_config(tmp_path: Path, server, order=None):
    text = CONFIG
    for sid in order or SOURCES:
        net, kind, path = SOURCES[sid]
        text += f'\n[[sources]]\nid = "{sid}"\nnetwork = "{net}"\nkind = "{kind}"\nurl = "{server.url(path)}"\n'
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


class World:
    """One deployment: config, store, and helpers to refresh and read the calendar."""

    def __init__(self, tmp_path, server, url):
        self.server = server
        self.config = make_config(tmp_path, server)
        self.deployment = Deployment(Path(self.config.path), tmp_path / "data", url)
        self.store = Store(url)
        self.store.migrate()

    def refresh(self, now=NOW, ids=None):
        return refresh(self.config, self.store, self.deployment, select_sources(self.config, ids), now=now)

    def calendar(self) -> bytes:
        return (self.deployment.public_dir / "calendar.ics").read_bytes()

    def vevents(self) -> dict[str, icalendar.cal.Component]:
        cal = icalendar.Calendar.from_ical(self.calendar())
        return {str(e["SUMMARY"]): e for e in cal.walk("VEVENT") if "RECURRENCE-ID" not in e}

    def serve_theen(self, body: bytes):
        self.server.misbehave("/theen/termine.ics", "replace", body=body)


@pytest.fixture
def world(tmp_path, sites_server, database_url):
    w = World(tmp_path, sites_server, database_url)
    yield w
    w.store.close()


def without_vevent(ics: bytes, uid_start: bytes) -> bytes:
    """The calendar without the VEVENT whose UID line starts with ``uid_start``."""
    blocks = ics.split(b"BEGIN:VEVENT")
    kept = [blocks[0]] + [b for b in blocks[1:] if f"UID:{uid_start.decode()}".encode() not in b]
    out = b"BEGIN:VEVENT".join(kept)
    if not out.endswith(b"END:VCALENDAR\r\n"):
        out = out.rstrip(b"\r\n") + b"\r\n"
    return out


def test_an_event_listed_by_two_networks_is_published_once_naming_both(world):
    world.refresh()
    events = world.vevents()
    matches = [t for t in events if "Maschinenbautag" in t]
    assert matches == ["9. Thüringer Maschinenbautag"]
    mbt = events["9. Thüringer Maschinenbautag"]
    assert [str(c) for c in mbt["CATEGORIES"].cats][:2] == ["ELMUG", "ThZM"]
    assert "Netzwerke: ELMUG, ThZM" in str(mbt["DESCRIPTION"])
    # the organiser's own link first: ThZM's page is on ThZM's website
    assert str(mbt["URL"]).startswith("https://www.maschinenbau-thueringen.de/")
    (result,) = ics_check(world.deployment.public_dir / "calendar.ics")
    assert result["ok"], result


def test_uids_and_bytes_do_not_depend_on_the_order_of_sources(tmp_path, sites_server):
    outputs = set()
    rng = random.Random(7)
    for i in range(10):
        order = list(SOURCES)
        rng.shuffle(order)
        d = tmp_path / str(i)
        d.mkdir()
        config = make_config(d, sites_server, order)
        store = Store(f"sqlite:///{d / 'db.sqlite3'}")
        store.migrate()
        refresh(config, store, Deployment(Path(config.path), d / "data", store.url), select_sources(config, None), now=NOW)
        outputs.add(render(config, store, now=NOW))
        store.close()
    assert len(outputs) == 1


# ThCM lists the KI-Forum that ELMUG lists too, at other times and with another link.
THCM = """
[networks.thcm]
name = "Thüringer ClusterManagement"
short = "ThCM"

[[sources]]
id = "thcm-news"
network = "thcm"
kind = "html"
url = "{base}/typo3-news/veranstaltungen/"
[sources.html]
item = ".news-list-view .article"
title = ".header h3"
date = ".teaser-text [itemprop=description]"
link = ".header h3 a"
description = ".teaser-text [itemprop=description]"
next_page = ".f3-widget-paginator li.next a"
detail = true
"""


def without_arrival(ics: bytes) -> tuple[bytes, tuple[bytes, ...]]:
    """The calendar's head and its VEVENTs (sorted, as UIDs also order VEVENTs that start
    at the same instant) without what records when and in what order sources arrived: the
    UID, CREATED (first published), LAST-MODIFIED and DTSTAMP (last changed)."""
    head, *vevents = ics.split(b"BEGIN:VEVENT")
    kept = (b"\r\n".join(line for line in v.split(b"\r\n") if not line.startswith((b"UID:", b"CREATED:", b"LAST-MODIFIED:", b"DTSTAMP:")))
            for v in vevents)
    return head, tuple(sorted(kept))


def test_sources_arriving_in_separate_refreshes_in_any_order_publish_the_same_content(tmp_path, sites_server):
    """Every round a fresh deployment in which the sources arrive one refresh each, a minute
    apart, in a shuffled order. What is published is the same apart from UIDs and the
    timestamps of first publication and last change (SEQUENCE, counting the changes, is
    the same too); a merged event's UID is
    fixed at its first publication, by the members present then (the first source's listing
    here), and no later member changes it, so UIDs depend on which source came first."""
    contents = set()
    orders = set()
    rng = random.Random(11)
    for i in range(10):
        order = [*SOURCES, "thcm-news"]
        rng.shuffle(order)
        orders.add(tuple(order))
        d = tmp_path / str(i)
        d.mkdir()
        config = make_config(d, sites_server)
        config_path = Path(config.path)
        config_path.write_text(config_path.read_text(encoding="utf-8") + THCM.format(base=sites_server.base_url), encoding="utf-8")
        config = load_config(config_path)
        store = Store(f"sqlite:///{d / 'db.sqlite3'}")
        store.migrate()
        deployment = Deployment(config_path, d / "data", store.url)
        uids_after_first = None
        for minute, sid in enumerate(order):
            report = refresh(config, store, deployment, select_sources(config, [sid]), now=NOW + timedelta(minutes=minute))
            assert [r.outcome for r in report.sources] == ["fetched"]
            vevents = icalendar.Calendar.from_ical((deployment.public_dir / "calendar.ics").read_bytes()).walk("VEVENT")
            uids = {str(e["UID"]) for e in vevents}
            if uids_after_first is None:
                uids_after_first = uids
            assert uids_after_first <= uids  # the first source's entries keep their UIDs as the others join
        calendar = (deployment.public_dir / "calendar.ics").read_bytes()
        contents.add(without_arrival(calendar))
        by_uid: dict[str, set[str]] = {}
        for m in store.members(since=NOW - timedelta(days=365)):
            by_uid.setdefault(m.merged_uid, set()).add(m.event.source_id)
        merged = {uid: sources for uid, sources in by_uid.items() if len(sources) > 1}
        assert merged  # the fixtures hold events listed by several networks
        for uid, sources in merged.items():
            first = min(sources, key=order.index)
            assert any(public_uid(first, m.event.source_uid) == uid for m in store.members(since=NOW) if m.event.source_id == first)
        store.close()
    assert len(orders) > 3 and len(contents) == 1


def test_nothing_changed_upstream_gives_byte_identical_output(world):
    world.refresh()
    first = world.calendar()
    report = world.refresh(now=NOW + timedelta(hours=6))
    assert {r.outcome for r in report.sources} == {"not_modified"}
    assert world.calendar() == first


def test_the_merged_uid_survives_a_member_leaving_and_coming_back(world, sites_server):
    world.refresh()
    uid = str(world.vevents()["9. Thüringer Maschinenbautag"]["UID"])
    rss = (SITES / "thzm" / "veranstaltungen.rss").read_text(encoding="utf-8")
    start = rss.index("<item>")
    without = rss[:start] + rss[rss.index("</item>", start) + len("</item>") :]
    sites_server.misbehave("/thzm/veranstaltungen.rss", "replace", body=without.encode())
    world.refresh(now=NOW + timedelta(hours=1), ids=["thzm-veranstaltungen"])
    after_leave = world.vevents()["9. Thüringer Maschinenbautag"]
    assert str(after_leave["UID"]) == uid
    assert "ThZM" not in [str(c) for c in after_leave["CATEGORIES"].cats]
    sites_server.behave("/thzm/veranstaltungen.rss")
    world.refresh(now=NOW + timedelta(hours=2), ids=["thzm-veranstaltungen"])
    back = world.vevents()["9. Thüringer Maschinenbautag"]
    assert str(back["UID"]) == uid and "ThZM" in [str(c) for c in back["CATEGORIES"].cats]


def test_a_changed_event_gets_a_higher_sequence_and_new_last_modified(world):
    world.refresh()
    before = world.vevents()["ThEEN-Mitgliederversammlung 2025"]
    later = NOW + timedelta(hours=3)
    world.serve_theen(THEEN_ICS.replace(b"20251126T150000", b"20251126T160000"))
    world.refresh(now=later, ids=["theen-termine"])
    after = world.vevents()["ThEEN-Mitgliederversammlung 2025"]
    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert after.decoded("LAST-MODIFIED") == later
    others = [e for t, e in world.vevents().items() if t != "ThEEN-Mitgliederversammlung 2025"]
    assert all(e.decoded("LAST-MODIFIED") == NOW for e in others)


def test_renaming_a_network_moves_sequence_and_last_modified_of_its_events_only(world):
    world.refresh()
    before = world.vevents()
    path = Path(world.config.path)
    path.write_text(path.read_text(encoding="utf-8").replace('short = "ThZM"', 'short = "ThZM-Neu"'), encoding="utf-8")
    world.config = load_config(path)
    later = NOW + timedelta(hours=3)
    world.refresh(now=later)
    after = world.vevents()
    mbt, old_mbt = after["9. Thüringer Maschinenbautag"], before["9. Thüringer Maschinenbautag"]
    assert "ThZM-Neu" in [str(c) for c in mbt["CATEGORIES"].cats]  # what subscribers see changed ...
    assert int(mbt["SEQUENCE"]) == int(old_mbt["SEQUENCE"]) + 1  # ... so their clients are told
    assert mbt.decoded("LAST-MODIFIED") == later and str(mbt["UID"]) == str(old_mbt["UID"])
    theen = after["ThEEN-Mitgliederversammlung 2025"]  # not listed by ThZM: unchanged
    assert int(theen["SEQUENCE"]) == int(before["ThEEN-Mitgliederversammlung 2025"]["SEQUENCE"])
    assert theen.decoded("LAST-MODIFIED") == NOW


def test_a_cancelled_event_is_published_as_cancelled(world):
    world.refresh()
    cancelled = THEEN_ICS.replace(b"SUMMARY;LANGUAGE=de-de:ThEEN-Mitgliederversammlung 2025", b"STATUS:CANCELLED\r\nSUMMARY;LANGUAGE=de-de:ThEEN-Mitgliederversammlung 2025")
    world.serve_theen(cancelled)
    world.refresh(now=NOW + timedelta(hours=1), ids=["theen-termine"])
    mv = world.vevents()["ThEEN-Mitgliederversammlung 2025"]
    assert str(mv["STATUS"]) == "CANCELLED" and int(mv["SEQUENCE"]) == 1


def test_a_cancel_word_in_an_ics_title_publishes_the_event_as_cancelled(world):
    world.refresh()
    uid = str(world.vevents()["ThEEN-Mitgliederversammlung 2025"]["UID"])
    world.serve_theen(THEEN_ICS.replace(b"SUMMARY;LANGUAGE=de-de:ThEEN-Mitgliederversammlung 2025",
                                        b"SUMMARY;LANGUAGE=de-de:ABGESAGT: ThEEN-Mitgliederversammlung 2025"))
    world.refresh(now=NOW + timedelta(hours=1), ids=["theen-termine"])
    mv = world.vevents()["ABGESAGT: ThEEN-Mitgliederversammlung 2025"]
    assert str(mv["STATUS"]) == "CANCELLED" and str(mv["UID"]) == uid and int(mv["SEQUENCE"]) == 1


def test_a_vanished_upcoming_event_is_cancelled_for_the_grace_period_then_removed(world):
    world.refresh()
    uid = str(world.vevents()["ThEEN-Mitgliederversammlung 2025"]["UID"])
    world.serve_theen(without_vevent(THEEN_ICS, b"040000008200E00074C5B7101A82E008"))
    vanished = NOW + timedelta(days=1)
    world.refresh(now=vanished, ids=["theen-termine"])
    mv = world.vevents()["ThEEN-Mitgliederversammlung 2025"]
    assert str(mv["UID"]) == uid and str(mv["STATUS"]) == "CANCELLED" and int(mv["SEQUENCE"]) == 1
    world.refresh(now=vanished + timedelta(days=13), ids=["theen-termine"])
    assert "ThEEN-Mitgliederversammlung 2025" in world.vevents()
    world.refresh(now=vanished + timedelta(days=15), ids=["theen-termine"])
    assert "ThEEN-Mitgliederversammlung 2025" not in world.vevents()


def test_a_past_event_that_vanishes_stays_as_history(world):
    world.refresh()
    before = world.vevents()["ThEEN-Mitgliederversammlung 2025"]
    world.serve_theen(without_vevent(THEEN_ICS, b"040000008200E00074C5B7101A82E008"))
    after_it = datetime(2025, 11, 27, 8, 0, tzinfo=timezone.utc)  # the day after the assembly
    world.refresh(now=after_it, ids=["theen-termine"])
    mv = world.vevents()["ThEEN-Mitgliederversammlung 2025"]
    assert str(mv["STATUS"]) == "CONFIRMED" and int(mv["SEQUENCE"]) == int(before["SEQUENCE"])
    # ... until the retention period after its end has passed
    world.refresh(now=after_it + timedelta(days=366), ids=["theen-termine"])
    assert "ThEEN-Mitgliederversammlung 2025" not in world.vevents()


def _stammtisch_dates(world) -> list[tuple[str, str]]:
    """(local start date, STATUS) of every occurrence of the Energie-Stammtisch in the published calendar,
    as a client expands it."""
    cal = icalendar.Calendar.from_ical(world.calendar())
    found = recurring_ical_events.of(cal).between(datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2026, 6, 1, tzinfo=timezone.utc))
    return sorted((o.decoded("DTSTART").date().isoformat(), str(o.get("STATUS"))) for o in found if "Energie-Stammtisch" in str(o["SUMMARY"]))


def test_a_series_that_ended_before_it_vanished_stays_as_history(world):
    blocks = THEEN_ICS.replace(b"UNTIL=20251231T230000Z", b"UNTIL=20250630T220000Z").split(b"BEGIN:VEVENT")
    past_series = b"BEGIN:VEVENT".join(b for b in blocks if b"RECURRENCE-ID" not in b)  # Jan to Jun, no override
    world.serve_theen(past_series)
    world.refresh()
    before = _stammtisch_dates(world)
    master = world.vevents()["Energie-Stammtisch"]
    world.serve_theen(without_vevent(past_series, b"theen-stammtisch"))
    world.refresh(now=NOW + timedelta(days=1), ids=["theen-termine"])
    assert _stammtisch_dates(world) == before and {status for _, status in before} == {"CONFIRMED"}
    assert int(world.vevents()["Energie-Stammtisch"]["SEQUENCE"]) == int(master["SEQUENCE"])
    world.refresh(now=NOW + timedelta(days=20), ids=["theen-termine"])  # past the grace period: still there
    assert _stammtisch_dates(world) == before
    # ... until the retention period after its vanishing has passed
    world.refresh(now=NOW + timedelta(days=367), ids=["theen-termine"])
    assert "Energie-Stammtisch" not in world.vevents()


def test_an_ongoing_series_that_vanishes_keeps_its_past_and_cancels_its_upcoming_occurrences(world):
    world.refresh()
    uid = str(world.vevents()["Energie-Stammtisch"]["UID"])
    past = [("2025-01-29", "CONFIRMED"), ("2025-02-26", "CONFIRMED"), ("2025-03-26", "CONFIRMED"), ("2025-04-30", "CONFIRMED"),
            ("2025-05-28", "CONFIRMED"), ("2025-06-25", "CONFIRMED"), ("2025-08-27", "CONFIRMED")]
    world.serve_theen(without_vevent(THEEN_ICS, b"theen-stammtisch"))
    vanished = NOW + timedelta(days=1)
    world.refresh(now=vanished, ids=["theen-termine"])
    upcoming = [("2025-09-30", "CANCELLED"), ("2025-10-29", "CANCELLED"), ("2025-11-26", "CANCELLED"), ("2025-12-31", "CANCELLED")]
    assert _stammtisch_dates(world) == past + upcoming
    master = world.vevents()["Energie-Stammtisch"]
    assert str(master["UID"]) == uid and str(master["STATUS"]) == "CONFIRMED"
    (result,) = ics_check(world.deployment.public_dir / "calendar.ics")
    assert result["ok"], result
    # after the grace period the series ends before its first cancelled date; the past stays
    world.refresh(now=vanished + timedelta(days=15), ids=["theen-termine"])
    assert _stammtisch_dates(world) == past
    assert str(world.vevents()["Energie-Stammtisch"]["UID"]) == uid
    (result,) = ics_check(world.deployment.public_dir / "calendar.ics")
    assert result["ok"], result


def test_a_vanished_event_that_comes_back_is_published_again_under_its_uid(world):
    world.refresh()
    uid = str(world.vevents()["ThEEN-Mitgliederversammlung 2025"]["UID"])
    world.serve_theen(without_vevent(THEEN_ICS, b"040000008200E00074C5B7101A82E008"))
    world.refresh(now=NOW + timedelta(days=1), ids=["theen-termine"])
    world.server.behave("/theen/termine.ics")
    world.refresh(now=NOW + timedelta(days=2), ids=["theen-termine"])
    mv = world.vevents()["ThEEN-Mitgliederversammlung 2025"]
    assert str(mv["UID"]) == uid and str(mv["STATUS"]) == "CONFIRMED" and int(mv["SEQUENCE"]) == 2


def test_a_fetch_that_suddenly_yields_nothing_is_held_as_suspicious_until_accepted(world):
    world.refresh()
    before = world.calendar()
    empty = THEEN_ICS[: THEEN_ICS.index(b"BEGIN:VEVENT")] + b"END:VCALENDAR\r\n"
    world.serve_theen(empty)
    report = world.refresh(now=NOW + timedelta(hours=1), ids=["theen-termine"])
    (r,) = report.sources
    assert r.outcome == "suspicious" and "held back" in r.error and r.sync is None
    assert world.calendar() == before  # the last good events stay published
    state = world.store.source_state("theen-termine")
    assert state.suspicious and state.event_count == 5
    # still suspicious on the next run (the body is read again, not answered by 304)
    (r,) = world.refresh(now=NOW + timedelta(hours=2), ids=["theen-termine"]).sources
    assert r.outcome == "suspicious"
    # an operator accepts: the next fetch goes through, the events vanish (cancelled during the grace period)
    world.store.accept_next("theen-termine")
    (r,) = world.refresh(now=NOW + timedelta(hours=3), ids=["theen-termine"]).sources
    assert r.outcome == "fetched" and r.sync.gone == 5
    state = world.store.source_state("theen-termine")
    assert state.suspicious is None and not state.accept_next
    assert str(world.vevents()["ThEEN-Mitgliederversammlung 2025"]["STATUS"]) == "CANCELLED"


def _workshops(n: int) -> bytes:
    """A calendar of ``n`` upcoming workshops, one a week from October 2025."""
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:ws-{i}@theen-ev.de\r\nDTSTAMP:20250901T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:{(datetime(2025, 10, 1, 10) + timedelta(weeks=i)).strftime('%Y%m%dT%H%M%S')}\r\n"
        f"SUMMARY:Workshop {i + 1}\r\nEND:VEVENT\r\n"
        for i in range(n)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n".encode()


def test_a_fetch_that_suddenly_yields_far_fewer_events_is_held_as_suspicious_until_accepted(world):
    world.serve_theen(_workshops(10))
    world.refresh()
    before = world.calendar()
    world.serve_theen(_workshops(2))
    (r,) = world.refresh(now=NOW + timedelta(hours=1), ids=["theen-termine"]).sources
    assert r.outcome == "suspicious" and "yielded 2 upcoming events where it had 10" in r.error and r.sync is None
    assert world.calendar() == before  # the last good ten stay published
    state = world.store.source_state("theen-termine")
    assert state.suspicious and state.event_count == 10
    world.store.accept_next("theen-termine")
    (r,) = world.refresh(now=NOW + timedelta(hours=2), ids=["theen-termine"]).sources
    assert r.outcome == "fetched" and r.sync.gone == 8
    assert world.store.source_state("theen-termine").suspicious is None
    statuses = {title: str(e["STATUS"]) for title, e in world.vevents().items() if title.startswith("Workshop ") and title[9:].isdigit()}
    assert statuses == {f"Workshop {i}": "CONFIRMED" if i <= 2 else "CANCELLED" for i in range(1, 11)}


def test_a_fetch_with_half_the_events_is_a_normal_change(world):
    world.serve_theen(_workshops(10))
    world.refresh()
    world.serve_theen(_workshops(5))  # not fewer than half (suspicious_drop = 0.5): taken as it is
    (r,) = world.refresh(now=NOW + timedelta(hours=1), ids=["theen-termine"]).sources
    assert r.outcome == "fetched" and r.sync.gone == 5
    assert world.store.source_state("theen-termine").suspicious is None


def test_a_normal_fetch_clears_the_suspicious_flag(world):
    world.refresh()
    world.serve_theen(THEEN_ICS[: THEEN_ICS.index(b"BEGIN:VEVENT")] + b"END:VCALENDAR\r\n")
    world.refresh(now=NOW + timedelta(hours=1), ids=["theen-termine"])
    world.server.behave("/theen/termine.ics")
    (r,) = world.refresh(now=NOW + timedelta(hours=2), ids=["theen-termine"]).sources
    assert r.outcome in ("fetched", "not_modified")
    assert world.store.source_state("theen-termine").suspicious is None

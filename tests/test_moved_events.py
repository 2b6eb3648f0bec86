"""A listing without a stable id that moves keeps its identity, end to end over the local
HTTP server: an HTML table without links names its rows by title and start, so a new time
is a new source UID; the store carries the row over (``aggregator.store.moves``) unless the
pairing would be a guess."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import icalendar
import pytest

from aggregator.config import Deployment, load_config
from aggregator.pipeline import refresh, select_sources
from aggregator.store import Store

NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)
PAGE = "/php-table/termine.php"


def table(*rows: tuple[str, str, str]) -> bytes:
    cells = "".join(f"<tr><td>{day}</td><td>{time}</td><td>{title}</td><td>Erfurt</td></tr>\n" for day, time, title in rows)
    return f'<html><body><table class="termine"><tr><th>Datum</th></tr>\n{cells}</table></body></html>'.encode()


OTHERS = [("16.10.2025", "10:00 Uhr", "Stammtisch IT"), ("17.10.2025", "10:00 Uhr", "Forum KI"), ("18.10.2025", "10:00 Uhr", "Forum Daten")]


@pytest.fixture
def site(tmp_path, sites_server, database_url):
    (tmp_path / "sources.toml").write_text(f'''[settings]
allow_private_networks = true
retries = 0
[networks.itnet]
name = "ITnet"
[[sources]]
id = "itnet-termine"
network = "itnet"
kind = "html"
url = "{sites_server.url(PAGE)}"
[sources.html]
item = "table.termine tr:has(td)"
date = "td:nth-of-type(1)"
time = "td:nth-of-type(2)"
title = "td:nth-of-type(3)"
location = "td:nth-of-type(4)"
''', encoding="utf-8")
    config = load_config(tmp_path / "sources.toml")
    store = Store(database_url)
    store.migrate()
    deployment = Deployment(tmp_path / "sources.toml", tmp_path / "data", database_url)

    def publish(body: bytes, now: datetime) -> list[tuple[str, datetime, str, int, str]]:
        """Serve ``body``, refresh, and return the published workshops: (title, start, STATUS, SEQUENCE, UID)."""
        sites_server.misbehave(PAGE, "replace", body=body)
        (result,) = refresh(config, store, deployment, select_sources(config, None), now=now).sources
        assert result.outcome == "fetched", result.error
        cal = icalendar.Calendar.from_ical((deployment.public_dir / "calendar.ics").read_bytes())
        return sorted((str(e["SUMMARY"]), e.decoded("DTSTART"), str(e["STATUS"]), int(e["SEQUENCE"]), str(e["UID"]))
                      for e in cal.walk("VEVENT") if "Workshop" in str(e["SUMMARY"]))

    yield publish
    store.close()


def berlin(day: int, hour: int) -> datetime:
    return datetime(2025, 10, day, hour - 2, tzinfo=timezone.utc)


def test_a_moved_listing_without_a_stable_id_is_an_update_under_the_same_uid(site):
    ((_, start, status, sequence, uid),) = site(table(("15.10.2025", "10:00 Uhr", "Workshop Cybersicherheit"), *OTHERS), NOW)
    assert (start, status, sequence) == (berlin(15, 10), "CONFIRMED", 0)
    after = site(table(("15.10.2025", "14:00 Uhr", "Workshop Cybersicherheit"), *OTHERS), NOW + timedelta(hours=6))
    assert [(s, st, seq, u) for _, s, st, seq, u in after] == [(berlin(15, 14), "CONFIRMED", 1, uid)]
    # moved again, to the next day: still the same event
    after = site(table(("16.10.2025", "09:00 Uhr", "Workshop Cybersicherheit"), *OTHERS), NOW + timedelta(hours=12))
    assert [(s, st, seq, u) for _, s, st, seq, u in after] == [(berlin(16, 9), "CONFIRMED", 2, uid)]


def test_two_moved_listings_with_the_same_title_are_not_guessed(site):
    before = site(table(("15.10.2025", "10:00 Uhr", "Workshop Cybersicherheit"), ("20.10.2025", "10:00 Uhr", "Workshop Cybersicherheit"),
                        *OTHERS), NOW)
    old_uids = {uid for *_, uid in before}
    after = site(table(("15.10.2025", "14:00 Uhr", "Workshop Cybersicherheit"), ("20.10.2025", "14:00 Uhr", "Workshop Cybersicherheit"),
                       *OTHERS), NOW + timedelta(hours=6))
    cancelled = {uid for _, _, status, _, uid in after if status == "CANCELLED"}
    confirmed = [(start, seq, uid) for _, start, status, seq, uid in after if status == "CONFIRMED"]
    assert cancelled == old_uids  # the old entries vanished: cancelled for the grace period
    assert sorted(start for start, _, _ in confirmed) == [berlin(15, 14), berlin(20, 14)]
    assert all(seq == 0 and uid not in old_uids for _, seq, uid in confirmed)


def test_a_listing_that_moves_by_more_than_a_few_days_is_a_new_event(site):
    ((*_, uid),) = site(table(("15.10.2025", "10:00 Uhr", "Workshop Cybersicherheit"), *OTHERS), NOW)
    after = site(table(("29.10.2025", "10:00 Uhr", "Workshop Cybersicherheit"), *OTHERS), NOW + timedelta(hours=6))
    assert [(status, seq, u == uid) for _, _, status, seq, u in after] == [("CANCELLED", 1, True), ("CONFIRMED", 0, False)]

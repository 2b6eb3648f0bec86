"""The calendars over HTTP (Starlette's TestClient against ``create_app``): filters,
one network's feed, the conflicts feed, ETag / 304, and never gzip for calendars."""

from __future__ import annotations


import icalendar
import pytest
from starlette.testclient import TestClient

from aggregator.pipeline import publish
from aggregator.web import create_app
from tests.support.shared import ics_check
from tests.support.web import refreshed_sites
from tests.test_end_to_end import EXPECTED_TITLES, NOW

ICS = "text/calendar; charset=utf-8"
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def app_env(tmp_path, sites_server):
    with refreshed_sites(tmp_path, sites_server, NOW) as (config, deployment, store):
        yield config, deployment, store


@pytest.fixture
def client(app_env):
    with TestClient(create_app(*app_env, clock=lambda: NOW)) as c:
        yield c


def titles(resp) -> set[str]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == ICS
    return {str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(resp.content).walk("VEVENT")}


def events(resp) -> list:
    return list(icalendar.Calendar.from_ical(resp.content).walk("VEVENT"))


MEDWAYS = {"medways Branchentalk Medizintechnik", "Workshop MDR-Regulatorik", "medways auf der Medizintechnik-Messe (Stand 12)"}


def test_without_filters_the_published_file_is_served(client, app_env):
    resp = client.get("/calendar.ics")
    assert resp.content == (app_env[1].public_dir / "calendar.ics").read_bytes()
    assert titles(resp) == EXPECTED_TITLES


def test_network_filter_takes_any_of_the_named_networks(client):
    medways = titles(client.get("/calendar.ics?network=medways"))
    assert medways == MEDWAYS
    theen = titles(client.get("/calendar.ics", params={"network": "theen"}))
    assert "ThEEN-Mitgliederversammlung 2025" in theen and not theen & MEDWAYS
    both = titles(client.get("/calendar.ics", params={"network": "theen,medways"}))
    assert both == theen | medways
    assert "OptoNet" not in str(both)


def test_category_filter_is_case_insensitive(client, app_env):
    config, _, store = app_env
    from aggregator.merge import publication

    items = publication(config, store, NOW)
    category = next(c for i in items for c in i.event.categories)
    expected = {i.event.title for i in items if category.casefold() in {c.casefold() for c in i.event.categories}}
    assert expected and expected != {i.event.title for i in items}
    assert titles(client.get("/calendar.ics", params={"category": category.upper()})) == expected
    assert titles(client.get("/calendar.ics", params={"category": "gibt es nicht"})) == set()


def test_cancelled_0_leaves_out_the_cancelled_webinar(client):
    webinar = "Webinar Wärmepumpen in Gewerbebauten"
    assert webinar in titles(client.get("/calendar.ics?network=theen"))
    assert webinar in titles(client.get("/calendar.ics?network=theen&cancelled=1"))
    without = titles(client.get("/calendar.ics?cancelled=0"))
    assert webinar not in without and without == EXPECTED_TITLES - {webinar}
    assert client.get("/calendar.ics?cancelled=vielleicht").status_code == 400


def test_one_networks_calendar_and_an_unknown_network(client, tmp_path):
    resp = client.get("/networks/theen.ics")
    theen = titles(resp)
    assert "ThEEN-Mitgliederversammlung 2025" in theen and not theen & MEDWAYS
    assert titles(client.get("/networks/medways.ics")) == MEDWAYS
    path = tmp_path / "theen.ics"
    path.write_bytes(resp.content)
    assert ics_check(path)[0]["ok"]
    for url in ("/networks/gibtsnicht.ics", "/calendar.ics?network=theen,gibtsnicht"):
        missing = client.get(url)
        assert missing.status_code == 404
        assert "unknown network" in missing.text and "gibtsnicht" in missing.text


def test_conflicts_calendar_names_both_events_and_passes_ics_check(client, tmp_path):
    resp = client.get("/conflicts.ics")
    assert resp.status_code == 200 and resp.headers["content-type"] == ICS
    found = events(resp)
    assert found
    messe = next(e for e in found if "Mitgliederversammlung" in str(e["SUMMARY"]) and "Medizintechnik-Messe" in str(e["SUMMARY"]))
    assert str(messe["SUMMARY"]).startswith("Überschneidung: ")
    text = str(messe["DESCRIPTION"])
    assert "ThEEN-Mitgliederversammlung 2025" in text and "medways auf der Medizintechnik-Messe (Stand 12)" in text
    assert "Zeit: 26.11.2025" in text and "Netzwerk: ThEEN" in text and "Netzwerk: medways" in text
    # The overlap: the assembly's hours on the first day of the fair.
    start, end = messe.decoded("DTSTART"), messe.decoded("DTEND")
    assert (start.date().isoformat(), start.hour) == ("2025-11-26", 10) and end > start and end.date() == start.date()
    path = tmp_path / "conflicts.ics"
    path.write_bytes(resp.content)
    assert ics_check(path)[0]["ok"], ics_check(path)
    # Stable UIDs, one per conflict.
    again = events(client.get("/conflicts.ics"))
    uids = [str(e["UID"]) for e in found]
    assert uids == [str(e["UID"]) for e in again] and len(set(uids)) == len(uids)


@pytest.mark.parametrize("url", ["/calendar.ics", "/calendar.ics?network=theen,medways&cancelled=0",
                                 "/networks/medways.ics", "/conflicts.ics"])
def test_every_calendar_has_a_stable_etag_304_and_no_gzip(client, url):
    first = client.get(url, headers=GZIP)
    second = client.get(url, headers=GZIP)
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == ICS
    assert "content-encoding" not in first.headers, first.headers
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    assert first.content.startswith(b"BEGIN:VCALENDAR")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    not_modified = client.get(url, headers={"If-None-Match": etag, **GZIP})
    assert not_modified.status_code == 304 and not not_modified.content
    assert not_modified.headers["etag"] == etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"anders"'}).status_code == 200


def test_json_is_still_compressed_when_asked(client):
    resp = client.get("/status", headers=GZIP)
    assert resp.status_code == 200 and len(resp.json()["sources"]) == 4
    assert resp.headers.get("content-encoding") == "gzip"


def test_every_reader_works_on_a_database_that_refuses_writes(app_env):
    """The scheduler is the only writer in ``serve``: a GET that wrote (publication
    state, conflict lifecycle) could collide with a running refresh over a row."""
    from sqlalchemy import event

    config, deployment, store = app_env
    publish(config, store, deployment, now=NOW)
    store.engine.dispose()
    event.listen(store.engine, "connect", lambda conn, _: conn.execute("PRAGMA query_only = ON"))
    with TestClient(create_app(config, deployment, store, clock=lambda: NOW)) as c:
        for path in ("/calendar.ics", "/calendar.ics?network=medways", "/networks/theen.ics", "/conflicts.ics",
                     "/events.json", "/conflicts.json", "/feed.atom", "/", "/?view=month", "/check?date=2025-11-26",
                     "/status", "/metrics", "/readyz"):
            resp = c.get(path)
            assert resp.status_code == 200, (path, resp.text[:500])
    with pytest.raises(Exception, match="readonly"), store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM conflicts")  # the guard itself works

"""The JSON API and the Atom feed (aggregator/web_api.py) through Starlette's TestClient:
filters, pagination, 400s, the OpenAPI document valid and every response valid against it,
and the Atom feed parsing cleanly with the newest announcements first."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from pathlib import Path

import feedparser
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette
from starlette.testclient import TestClient

from aggregator.config import Deployment, load_config
from aggregator.merge import publication
from aggregator.pipeline import refresh, select_sources
from aggregator.store import Store
from aggregator.model import Event, StoredEvent
from aggregator.web_api import _keep, api_routes, event_json, occurrence_items, openapi_document
from tests.support.web import view_of
from tests.support.web import refreshed_sites
from tests.test_end_to_end import EXPECTED_TITLES, NOW, write_config

MEDWAYS = {"medways Branchentalk Medizintechnik", "Workshop MDR-Regulatorik", "medways auf der Medizintechnik-Messe (Stand 12)"}


@pytest.fixture
def app_env(tmp_path, sites_server):
    with refreshed_sites(tmp_path, sites_server, NOW) as (config, deployment, store):
        yield config, deployment, store


@pytest.fixture
def client(app_env):
    config, deployment, store = app_env
    with TestClient(Starlette(routes=api_routes(config, store, view_of(config, deployment, store), clock=lambda: NOW))) as c:
        yield c


@pytest.fixture
def spec(client):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    return resp.json()


def check(spec: dict, path: str, resp) -> dict:
    """``resp`` must match the schema the document gives for ``path`` and its status code."""
    media = resp.headers["content-type"].split(";")[0]
    schema = spec["paths"][path]["get"]["responses"][str(resp.status_code)]["content"][media]["schema"]
    registry = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(spec))
    validator = Draft202012Validator({"$ref": "urn:openapi#/paths/" + path.replace("/", "~1") + f"/get/responses/{resp.status_code}/content/"
                                      + media.replace("/", "~1") + "/schema"}, registry=registry)
    assert schema
    errors = sorted(validator.iter_errors(resp.json()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    return resp.json()


def all_pages(client, spec, path: str, key: str, **params) -> list[dict]:
    rows, url = [], client.get(path, params=params)
    while True:
        body = check(spec, path, url)
        assert url.status_code == 200
        rows += body[key]
        if body["next"] is None:
            return rows
        url = client.get(body["next"])


# -- the document ---------------------------------------------------------------------------------

def test_openapi_document_is_valid_3_1(spec, app_env):
    assert spec["openapi"].startswith("3.1")
    validate_spec(spec)
    assert spec == openapi_document(app_env[0])
    assert set(spec["paths"]) == {"/events.json", "/conflicts.json", "/openapi.json", "/feed.atom"}
    for name, schema in spec["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)


def test_schemas_are_strict(spec):
    """The response schemas reject what the endpoints must not send (so the checks below mean something)."""
    registry = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(spec))
    event = Draft202012Validator({"$ref": "urn:openapi#/components/schemas/Event"}, registry=registry)
    good = {"uid": "x@netzwerktimer", "recurrence_id": None, "title": "T", "start": "2025-10-01", "end": "2025-10-02", "all_day": True,
            "networks": ["medways"], "location": "", "url": "", "status": "confirmed", "categories": [], "recurring": False, "sequence": 0,
            "last_modified": "2025-09-01T06:00:00Z"}
    assert event.is_valid(good)
    assert not event.is_valid({**good, "start": "2025-10-01T10:00:00+02:00"})  # all-day with a time
    assert not event.is_valid({**good, "all_day": False})  # timed with a date
    assert not event.is_valid({**good, "status": "CONFIRMED"})
    assert not event.is_valid({**good, "extra": 1})
    assert not event.is_valid({k: v for k, v in good.items() if k != "sequence"})


# -- /events.json ---------------------------------------------------------------------------------

# The Energie-Stammtisch of ThEEN: the last Wednesday of each month in 2025, not in July, and
# the September date (24th) moved to Tuesday the 30th by an override.
STAMMTISCH = [(f"2025-{m:02d}-{d:02d}T18:00:00+0{1 if m < 4 or m > 10 else 2}:00", f"2025-{m:02d}-{d:02d}T18:00:00+0{1 if m < 4 or m > 10 else 2}:00")
              for m, d in [(1, 29), (2, 26), (3, 26), (4, 30), (5, 28), (6, 25), (8, 27)]]
STAMMTISCH += [("2025-09-24T18:00:00+02:00", "2025-09-30T18:00:00+02:00"), ("2025-10-29T18:00:00+01:00", "2025-10-29T18:00:00+01:00"),
               ("2025-11-26T18:00:00+01:00", "2025-11-26T18:00:00+01:00"), ("2025-12-31T18:00:00+01:00", "2025-12-31T18:00:00+01:00")]


def series_uids(published) -> set[str]:
    return {i.uid for i in published if i.event.rrule or i.event.rdates}


def test_a_series_is_listed_as_its_occurrences_with_the_series_uid(client, spec):
    body = check(spec, "/events.json", client.get("/events.json", params={"network": "theen"}))
    rows = [e for e in body["events"] if e["title"].startswith("Energie-Stammtisch")]
    assert [(e["recurrence_id"], e["start"]) for e in rows] == STAMMTISCH
    assert len({e["uid"] for e in rows}) == 1 and all(e["recurring"] for e in rows)
    moved = next(e for e in rows if e["recurrence_id"] == "2025-09-24T18:00:00+02:00")
    assert moved["title"] == "Energie-Stammtisch (verlegt)" and moved["end"] == "2025-09-30T20:00:00+02:00"
    assert all(e["end"][11:16] == "20:00" for e in rows)
    # the days filter picks occurrences, not the series' first date
    october = check(spec, "/events.json", client.get("/events.json", params={"network": "theen", "from": "2025-10-20", "to": "2025-11-30"}))
    assert [e["start"] for e in october["events"] if e["recurring"]] == ["2025-10-29T18:00:00+01:00", "2025-11-26T18:00:00+01:00"]
    # and pagination walks through them
    assert all_pages(client, spec, "/events.json", "events", network="theen", limit=3) == body["events"]

def test_events_lists_every_published_event_in_start_order(client, spec, app_env):
    body = check(spec, "/events.json", client.get("/events.json"))
    assert body["limit"] == 100 and body["offset"] == 0 and body["next"] is None
    assert {e["title"] for e in body["events"]} == EXPECTED_TITLES
    config, _, store = app_env
    published = publication(config, store, NOW)
    singles = [i for i in published if not (i.event.rrule or i.event.rdates) and i.uid not in series_uids(published)]
    assert body["total"] == len(singles) + len(STAMMTISCH) == len(body["events"])  # the one series listed by occurrence
    starts = [datetime.fromisoformat(e["start"]) if "T" in e["start"] else datetime.fromisoformat(e["start"] + "T00:00+02:00") for e in body["events"]]
    assert starts == sorted(starts)
    for e in body["events"]:
        assert e["all_day"] == ("T" not in e["start"])
        assert e["last_modified"] == "2025-09-01T06:00:00Z" and e["sequence"] == 0


def test_network_filter(client, spec):
    medways = check(spec, "/events.json", client.get("/events.json?network=medways"))
    assert {e["title"] for e in medways["events"]} == MEDWAYS and medways["total"] == len(MEDWAYS)
    assert all("medways" in e["networks"] for e in medways["events"])
    theen = {e["title"] for e in client.get("/events.json", params={"network": "theen"}).json()["events"]}
    both = {e["title"] for e in client.get("/events.json", params={"network": "theen,medways"}).json()["events"]}
    repeated = {e["title"] for e in client.get("/events.json?network=theen&network=medways").json()["events"]}
    assert theen and not theen & MEDWAYS and both == repeated == theen | MEDWAYS


def test_date_filter_keeps_events_overlapping_the_days(client, spec):
    events = client.get("/events.json").json()["events"]
    target = next(e for e in events if not e["recurring"] and e["end"] and e["end"][:10] <= (date.fromisoformat(e["start"][:10]) + timedelta(days=1)).isoformat())
    day = date.fromisoformat(target["start"][:10])
    body = check(spec, "/events.json", client.get("/events.json", params={"from": day.isoformat(), "to": day.isoformat()}))
    assert target["uid"] in {e["uid"] for e in body["events"]}
    assert all(e["start"][:10] <= day.isoformat() for e in body["events"] if not e["recurring"])
    after = client.get("/events.json", params={"from": (day + timedelta(days=1)).isoformat()}).json()["events"]
    before = client.get("/events.json", params={"to": (day - timedelta(days=1)).isoformat()}).json()["events"]
    assert target["uid"] not in {e["uid"] for e in after} | {e["uid"] for e in before}
    assert check(spec, "/events.json", client.get("/events.json", params={"from": "2099-01-01", "to": "2099-01-31"}))["total"] == 0


def test_cancelled_filter(client, spec):
    every = client.get("/events.json").json()["events"]
    kept = check(spec, "/events.json", client.get("/events.json?cancelled=0"))["events"]
    assert {e["uid"] for e in kept} == {e["uid"] for e in every if e["status"] != "cancelled"}
    assert all(e["status"] != "cancelled" for e in kept)
    assert client.get("/events.json?cancelled=1").json()["events"] == every


def test_pagination_follows_next_links(client, spec):
    every = client.get("/events.json").json()["events"]
    assert len(every) >= 5
    first = check(spec, "/events.json", client.get("/events.json?network=&limit=2"))
    assert len(first["events"]) == 2 and first["total"] == len(every)
    assert first["next"].startswith("/events.json?") and "offset=2" in first["next"] and "limit=2" in first["next"]
    assert all_pages(client, spec, "/events.json", "events", limit=2) == every
    last = client.get("/events.json", params={"limit": 2, "offset": len(every) - 1}).json()
    assert len(last["events"]) == 1 and last["next"] is None
    beyond = check(spec, "/events.json", client.get("/events.json", params={"offset": 10_000}))
    assert beyond["events"] == [] and beyond["next"] is None and beyond["total"] == len(every)
    # filters travel with the next link
    medways = all_pages(client, spec, "/events.json", "events", network="medways", limit=1)
    assert {e["title"] for e in medways} == MEDWAYS


@pytest.mark.parametrize("query, parameter", [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("limit=-1", "limit"), ("offset=-5", "offset"),
    ("from=2025-13-01", "from"), ("from=1.9.2025", "from"), ("to=2025-09-01&from=2025-09-02", "to"),
    ("cancelled=maybe", "cancelled"), ("network=gibtsnicht", "network"), ("netwrok=medways", "netwrok"), ("limit=1&limit=2", "limit"),
])
def test_bad_values_are_400_with_a_json_error(client, spec, query, parameter):
    resp = client.get("/events.json?" + query)
    assert resp.status_code == 400
    body = check(spec, "/events.json", resp)
    assert body["error"]["parameter"] == parameter and body["error"]["message"]


# -- /conflicts.json ------------------------------------------------------------------------------

def test_conflicts_match_the_cli_rows(client, spec, app_env):
    from zoneinfo import ZoneInfo

    from aggregator.conflict_report import as_json, conflict_context, context_periods, detect

    config, _, store = app_env
    body = check(spec, "/conflicts.json", client.get("/conflicts.json"))
    periods, zone = context_periods(config, store), ZoneInfo(config.settings.timezone)
    expected = {r["id"]: r for r in (as_json(t, NOW, context=conflict_context(t, periods, zone)) for t in detect(config, store, NOW))}
    assert body["total"] == len(expected) > 0
    assert {r["id"]: r for r in body["conflicts"]} == expected


def test_conflict_filters_and_pagination(client, spec):
    every = client.get("/conflicts.json").json()["conflicts"]
    assert all_pages(client, spec, "/conflicts.json", "conflicts", limit=1) == every
    for kind in ("overlap", "same_day"):
        rows = check(spec, "/conflicts.json", client.get("/conflicts.json", params={"kind": kind}))["conflicts"]
        assert rows == [r for r in every if r["kind"] == kind]
    net = every[0]["events"][0]["networks"][0]
    rows = client.get("/conflicts.json", params={"network": net}).json()["conflicts"]
    assert rows and all(any(net in side["networks"] for side in r["events"]) for r in rows)
    assert client.get("/conflicts.json", params={"from": "2099-01-01", "to": "2099-12-31"}).json()["total"] == 0
    for query, parameter in (("kind=clash", "kind"), ("network=nope", "network"), ("to=gestern", "to"), ("cancelled=0", "cancelled")):
        resp = client.get("/conflicts.json?" + query)
        assert resp.status_code == 400 and check(spec, "/conflicts.json", resp)["error"]["parameter"] == parameter


# -- /feed.atom -----------------------------------------------------------------------------------

def test_atom_feed_parses_and_lists_the_newest_first(client, app_env):
    resp = client.get("/feed.atom")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(resp.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    config, _, store = app_env
    published = [i for i in publication(config, store, NOW) if not i.event.recurrence_id and i.event.status != "cancelled"]
    assert len(feed.entries) == min(50, len(published)) > 0
    assert all(e.title.startswith("Neu: ") and e.title.endswith(")") for e in feed.entries)
    assert all(e.id.startswith("urn:uuid:") for e in feed.entries) and len({e.id for e in feed.entries}) == len(feed.entries)
    stamps = [e.published_parsed for e in feed.entries]
    assert stamps == sorted(stamps, reverse=True)
    assert resp.headers["etag"] and client.get("/feed.atom", headers={"If-None-Match": resp.headers["etag"]}).status_code == 304


def test_atom_feed_newest_first_across_refreshes(tmp_path, sites_server):
    """An event first seen later heads the feed; titles are German with the date."""
    config = load_config(write_config(tmp_path, sites_server))
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    deployment = Deployment(config_path=Path(config.path), data_dir=tmp_path / "data", database_url=url)
    store = Store(url)
    store.migrate()
    try:
        ids = [s.id for s in config.sources]
        early, late = ids[:-1], ids[-1:]
        refresh(config, store, deployment, select_sources(config, early), now=NOW - timedelta(days=3))
        refresh(config, store, deployment, select_sources(config, ids), now=NOW)
        later = NOW + timedelta(hours=1)
        with TestClient(Starlette(routes=api_routes(config, store, view_of(config, deployment, store), clock=lambda: later))) as c:
            feed = feedparser.parse(c.get("/feed.atom").content)
        assert not feed.bozo
        items = {i.uid: i for i in publication(config, store, later)}
        newest = {i.uid for i in items.values() if i.first_seen == NOW}
        assert newest and set(late)
        entries = feed.entries
        heads = entries[:len(newest)]
        assert {e.published for e in heads} == {NOW.isoformat().replace("+00:00", "Z")}
        assert all(e.published < heads[-1].published for e in entries[len(newest):])
        sample = next(i for i in items.values() if i.first_seen == NOW and not i.event.recurrence_id)
        start = sample.event.start
        day = (start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")) if isinstance(start, datetime) else start).strftime("%d.%m.%Y")
        assert any(e.title.startswith(f"Neu: {sample.event.title} ({day}") for e in heads)
    finally:
        store.close()



def test_a_cancelled_occurrence_is_listed_cancelled_and_left_out_by_the_cancelled_filter():
    berlin = ZoneInfo("Europe/Berlin")
    at = datetime(2025, 9, 1, 6, tzinfo=timezone.utc)
    master = Event("s", "theen", "st", "Stammtisch", datetime(2025, 9, 3, 18, tzinfo=berlin), datetime(2025, 9, 3, 20, tzinfo=berlin),
                   "Europe/Berlin", rrule="FREQ=WEEKLY;COUNT=3")
    cancelled = replace(master, start=datetime(2025, 9, 10, 18, tzinfo=berlin), end=datetime(2025, 9, 10, 20, tzinfo=berlin), rrule=None,
                        recurrence_id="2025-09-10T18:00:00+02:00", status="cancelled")
    items = [StoredEvent(master, at, at, 1, "st@x"), StoredEvent(cancelled, at, at, 2, "st@x")]
    listed = occurrence_items(items, at, at + timedelta(days=60), berlin, 100)
    rows = [event_json(i, recurring=r) for i, r in listed]
    assert [(r["start"], r["status"], r["sequence"]) for r in rows] == [
        ("2025-09-03T18:00:00+02:00", "confirmed", 1), ("2025-09-10T18:00:00+02:00", "cancelled", 2), ("2025-09-17T18:00:00+02:00", "confirmed", 1)]
    kept = [i for i, _ in listed if _keep(i, (), None, None, False, berlin)]
    assert [i.event.start.day for i in kept] == [3, 17]

"""robots.txt is asked for once a day, not on every refresh (RFC 9309 §2.4 allows a
day), and only what was read is kept: a robots.txt that could not be read is asked for
again. End to end over the local HTTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.test_lifecycle import NOW, World


@pytest.fixture
def world(tmp_path, sites_server, database_url):
    w = World(tmp_path, sites_server, database_url)
    sites_server.reset_log()
    yield w
    w.store.close()


def robots_requests(server) -> int:
    return len(server.requests_for("/robots.txt"))


def test_robots_txt_is_read_once_a_day_across_refreshes(world, sites_server):
    world.refresh()
    assert robots_requests(sites_server) == 1  # one origin serves every fixture site
    world.refresh(now=NOW + timedelta(hours=23))
    assert robots_requests(sites_server) == 1
    world.refresh(now=NOW + timedelta(hours=25))
    assert robots_requests(sites_server) == 2


def test_a_disallowing_robots_txt_is_obeyed_within_a_day(world, sites_server):
    world.refresh()
    sites_server.misbehave("/robots.txt", "replace", body=b"User-agent: *\nDisallow: /\n")
    world.refresh(now=NOW + timedelta(hours=2))
    assert {r.outcome for r in world.refresh(now=NOW + timedelta(hours=2)).sources} == {"not_modified"}  # kept: still allowed
    blocked = world.refresh(now=NOW + timedelta(hours=25))
    assert {r.outcome for r in blocked.sources} == {"error"}
    assert all("blocked by robots.txt" in r.error for r in blocked.sources)
    # the disallowing one is kept too: the next run does not ask and does not fetch
    sites_server.reset_log()
    again = world.refresh(now=NOW + timedelta(hours=26))
    assert {r.outcome for r in again.sources} == {"error"} and sites_server.requests == []


def test_a_robots_txt_that_could_not_be_read_is_asked_for_again(world, sites_server):
    sites_server.misbehave("/robots.txt", "status", code=503)
    failed = world.refresh()
    assert {r.outcome for r in failed.sources} == {"error"}
    assert all("robots.txt could not be read" in r.error for r in failed.sources)
    sites_server.behave("/robots.txt")
    ok = world.refresh(now=NOW + timedelta(minutes=5))
    assert "error" not in {r.outcome for r in ok.sources}
    assert robots_requests(sites_server) == 2

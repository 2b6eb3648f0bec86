"""The crawler follows pagination and detail pages over real HTTP, bounded and on one host.

A tiny extractor kind (pages written as JSON) stands in for html/tribe, so these
tests pin the crawler's rules, not an extractor's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import types
from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import Settings
from aggregator.crawl import crawl
from aggregator.extract import ExtractContext, ExtractError, Extraction
from aggregator.fetch import Fetcher
from aggregator.model import RawEvent
from tests.test_net_guard import FakeDns

KIND = "_jsonpages"


def _extract(body: bytes, ctx: ExtractContext) -> Extraction:
    try:
        page = json.loads(body)
    except ValueError as exc:
        raise ExtractError(f"not a test page: {exc}") from exc
    events = [RawEvent(t, t, datetime(2025, 10, 1, 10, 0)) for t in page.get("events", [])]
    return Extraction(
        events=events,
        next_pages=[urljoin(ctx.url, u) for u in page.get("next", [])],
        details=[(i, urljoin(ctx.url, u)) for i, u in page.get("details", [])],
    )


def _enrich(event: RawEvent, body: bytes, ctx: ExtractContext):
    detail = json.loads(body)
    if detail.get("explode"):
        raise ValueError("odd detail page")
    return replace(event, location=detail["location"]), [f"enriched {event.title}"]


@pytest.fixture(autouse=True)
def json_kind(monkeypatch):
    module = types.ModuleType(f"aggregator.extract.{KIND}")
    module.extract, module.enrich = _extract, _enrich
    monkeypatch.setitem(sys.modules, module.__name__, module)


@pytest.fixture
def site(sites_server, tmp_path):
    sites_server.root = tmp_path

    def page(name: str, **content):
        (tmp_path / name).write_text(json.dumps(content))

    return page


def run(sites_server, first="p1", max_pages=5, allow_hosts=()):
    async def go():
        async with Fetcher(Settings(timeout=1, retries=0, backoff=0, allow_private_networks=True)) as fetcher:
            url = sites_server.url(first)
            result = await fetcher.fetch(url)
            ctx = ExtractContext(url=url, timezone=ZoneInfo("Europe/Berlin"), now=datetime(2025, 9, 1, tzinfo=timezone.utc))
            return await crawl(KIND, result, ctx, fetcher, max_pages=max_pages, allow_hosts=allow_hosts)

    return asyncio.run(go())


def test_pagination_is_followed_and_a_loop_ends_with_a_warning(site, sites_server):
    site("p1", events=["a"], next=["p2"])
    site("p2", events=["b"], next=["p3"])
    site("p3", events=["c"], next=["p1"])  # back to the start
    result = run(sites_server)
    assert [e.title for e in result.events] == ["a", "b", "c"]
    assert [r.path for r in sites_server.requests if r.path != "/robots.txt"] == ["/p1", "/p2", "/p3"]
    assert result.warnings == [f"pagination leads back to pages already read; not read again: {sites_server.url('p1')}"]


def test_a_page_already_read_under_another_address_is_a_loop_not_more_events(site, sites_server):
    site("p1", events=["a"], next=["p2"])
    site("p2", events=["b"], next=["p2?x=1"])  # the same page again, its address dressed up
    result = run(sites_server)
    assert [e.title for e in result.events] == ["a", "b"]
    assert result.warnings == [f"pagination leads back to pages already read; not read again: {sites_server.url('p2?x=1')}"]


def test_pages_read_after_the_first_are_noted_with_their_cache_state(site, sites_server):
    site("p1", events=["a"], next=["p2"], details=[[0, "d1"]])
    site("p2", events=["b"])
    site("d1", location="Jena")
    result = run(sites_server)
    noted = {(p.url.rsplit("/", 1)[1], p.detail) for p in result.pages_read}
    assert noted == {("p2", False), ("d1", True)}
    assert all(p.etag and p.body_digest for p in result.pages_read)


def test_max_pages_bounds_the_crawl_with_a_warning(site, sites_server):
    for i in range(1, 6):
        site(f"p{i}", events=[f"e{i}"], next=[f"p{i + 1}"])
    result = run(sites_server, max_pages=2)
    assert [e.title for e in result.events] == ["e1", "e2"]
    assert any("stopped after 2 pages (max_pages)" in w for w in result.caps)


def test_next_page_on_another_host_is_skipped(site, sites_server):
    other = sites_server.url("p2").replace("127.0.0.1", "localhost")
    site("p1", events=["a"], next=[other])
    result = run(sites_server)
    assert [e.title for e in result.events] == ["a"]
    assert result.warnings == [f"next page on another host skipped: {other}"]
    assert all(r.path != "/p2" for r in sites_server.requests)


def test_pages_on_a_host_named_in_allow_hosts_are_followed(site, sites_server, monkeypatch):
    FakeDns(monkeypatch, {"termine.example.org": ["127.0.0.1"]})  # the fixture server under another name
    other = sites_server.url("p2").replace("127.0.0.1", "termine.example.org")
    site("p1", events=["a"], next=[other], details=[[0, other.replace("p2", "d1")]])
    site("p2", events=["b"])
    site("d1", location="Jena")
    result = run(sites_server, allow_hosts=["termine.example.org"])
    assert [(e.title, e.location) for e in result.events] == [("a", "Jena"), ("b", "")]
    assert [w for w in result.warnings if "skipped" in w] == []


def test_a_detail_page_on_another_host_is_skipped(site, sites_server):
    other = sites_server.url("d1").replace("127.0.0.1", "localhost")
    site("p1", events=["a"], details=[[0, other]])
    result = run(sites_server)
    assert result.warnings == [f"detail page on another host skipped: {other}"]
    assert all(r.path != "/d1" for r in sites_server.requests)


def test_a_page_that_redirects_to_another_host_is_skipped(site, sites_server, monkeypatch):
    FakeDns(monkeypatch, {"elsewhere.example.org": ["127.0.0.1"]})
    site("p1", events=["a"], next=["p2"], details=[[0, "d1"]])
    site("p3", events=["from elsewhere"])
    site("d2", location="from elsewhere")
    sites_server.misbehave("/p2", "redirect", to=sites_server.url("p3").replace("127.0.0.1", "elsewhere.example.org"))
    sites_server.misbehave("/d1", "redirect", to=sites_server.url("d2").replace("127.0.0.1", "elsewhere.example.org"))
    result = run(sites_server)
    assert [(e.title, e.location) for e in result.events] == [("a", "")]
    assert sorted(w.split(" redirected")[0] for w in result.warnings) == [f"detail page {sites_server.url('d1')}", f"next page {sites_server.url('p2')}"]


def test_a_failing_later_page_keeps_the_events_already_read(site, sites_server):
    site("p1", events=["a"], next=["p2", "p3"])
    site("p2", events=["b"])
    site("p3", events=["c"])
    sites_server.misbehave("/p2", "status", code=500)
    result = run(sites_server)
    assert [e.title for e in result.events] == ["a", "c"]
    assert any(w.startswith(f"page {sites_server.url('p2')}: HTTP 500") for w in result.warnings)


def test_an_unreadable_first_page_is_an_extract_error(site, sites_server, tmp_path):
    (tmp_path / "p1").write_text("<html>Wartung</html>")
    with pytest.raises(ExtractError):
        run(sites_server)


def test_detail_pages_enrich_their_events_and_failures_stay_local(site, sites_server):
    site("p1", events=["a", "b", "c"], details=[[0, "d1"], [1, "d2"], [2, "d3"]])
    site("d1", location="COMCENTER Brühl, Erfurt")
    site("d2", explode=True)
    sites_server.misbehave("/d3", "status", code=404)
    result = run(sites_server)
    assert [e.location for e in result.events] == ["COMCENTER Brühl, Erfurt", "", ""]
    assert "enriched a" in result.warnings
    assert any("detail page" in w and "ValueError: odd detail page" in w for w in result.warnings)
    assert any("d3" in w and "HTTP 404" in w for w in result.warnings)
    assert result.details == []


def test_detail_pages_of_later_pages_point_at_the_right_events(site, sites_server):
    site("p1", events=["a"], next=["p2"])
    site("p2", events=["b", "c"], details=[[1, "d"]])  # index 1 of page 2 is the third event overall
    site("d", location="Jena")
    result = run(sites_server)
    assert [(e.title, e.location) for e in result.events] == [("a", ""), ("b", ""), ("c", "Jena")]

"""Discovery finds what a page offers; kind auto reads the best of it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import Settings
from aggregator.discover import (
    ICS_LINK,
    MAX_PROBES,
    OWN_MARKUP,
    Candidate,
    best,
    candidates_in,
    discover,
    sniff,
    source_block,
    suggested_id,
    tribe_api,
)
from aggregator.extract import ExtractContext
from aggregator.fetch import Fetcher

SITES = Path(__file__).parent / "fixtures/sites"


def ctx_for(url: str, **kw) -> ExtractContext:
    return ExtractContext(url=url, timezone=ZoneInfo("Europe/Berlin"), now=datetime(2025, 9, 1, tzinfo=timezone.utc), **kw)


def discover_at(sites_server, path: str):
    """Fetch ``path`` from the local server and discover what it offers, ranked."""

    async def go():
        async with Fetcher(Settings(timeout=1, retries=0, allow_private_networks=True)) as fetcher:
            first = await fetcher.fetch(sites_server.url(path))
            return await discover(first, fetcher, ctx_for(first.url))

    return asyncio.run(go())

PAGE = """<!DOCTYPE html><html lang="de"><head>
<link rel="alternate" type="application/rss+xml" title="Netzwerk &raquo; Feed" href="https://netz.example/feed/" />
<link rel="alternate" type="application/rss+xml" title="Netzwerk &raquo; Kommentar-Feed" href="https://netz.example/comments/feed/" />
<link rel="alternate" type="text/calendar" title="Netzwerk &raquo; iCal Feed" href="https://netz.example/veranstaltungen/?ical=1" />
<link rel="https://api.w.org/" href="https://netz.example/wp-json/" />
</head><body>
<a href="webcal://netz.example/kalender.ics">Kalender abonnieren</a>
<a href="/downloads/termine.ics#x">ICS</a>
<a href="mailto:info@netz.example">Mail</a>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Event","name":"Workshop","startDate":"2025-10-14T09:00:00+02:00"}</script>
</body></html>"""


def test_sniff_tells_calendars_feeds_json_and_html_apart():
    assert sniff(b"\xef\xbb\xbf\r\nBEGIN:VCALENDAR\r\n") == "ics"
    assert sniff(b'<?xml version="1.0"?>\n<rss version="2.0">') == "feed"
    assert sniff(b'<feed xmlns="http://www.w3.org/2005/Atom">') == "feed"
    assert sniff(b'{"events": []}') == "json"
    assert sniff(b"<!DOCTYPE html><html>") == "html"
    assert sniff(b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">') == "html"


def test_an_html_page_lists_every_calendar_feed_api_and_markup_it_offers():
    found = {(c.kind, c.url) for c in candidates_in(PAGE.encode(), ctx_for("https://netz.example/veranstaltungen/"))}
    assert found == {
        ("feed", "https://netz.example/feed/"),
        ("ics", "https://netz.example/veranstaltungen/?ical=1"),
        ("tribe", "https://netz.example/wp-json/tribe/events/v1/events"),
        ("ics", "https://netz.example/kalender.ics"),
        ("ics", "https://netz.example/downloads/termine.ics"),
        ("jsonld", "https://netz.example/veranstaltungen/"),
    }


def test_a_plain_page_offers_nothing():
    assert candidates_in(b"<html><body><p>Aktuelles</p></body></html>", ctx_for("https://x.example/")) == []


def test_ranking_prefers_more_events_then_richer_kinds():
    cands = [
        Candidate("ics", "u2", "", events=3),
        Candidate("jsonld", "u5", "", events=3),
        Candidate("feed", "u1", "", events=5),
        Candidate("tribe", "u3", "", events=0),
        Candidate("jsonld", "u4", "", error="x"),
    ]
    ranked = sorted(cands, key=Candidate.rank)
    assert [(c.kind, c.events) for c in ranked] == [("feed", 5), ("ics", 3), ("jsonld", 3), ("tribe", 0), ("jsonld", None)]
    assert best(ranked).kind == "feed"
    assert best([Candidate("feed", "u", "", events=0)]) is None


def test_a_per_event_ical_export_never_beats_the_pages_own_list():
    page = Candidate("jsonld", "https://x.example/termine/", OWN_MARKUP, events=1)
    export = Candidate("ics", "https://x.example/termine/a.ics", ICS_LINK, events=1)
    feed = Candidate("feed", "https://x.example/feed/", "<link rel=...>", events=1)
    assert sorted([export, page, feed], key=Candidate.rank) == [page, feed, export]
    # a linked calendar of several events is a whole calendar, not one event's export
    calendar = Candidate("ics", "https://x.example/termine.ics", ICS_LINK, events=2)
    assert best(sorted([page, calendar], key=Candidate.rank)) is calendar


def test_source_block_is_valid_toml_for_sources_toml(tmp_path):
    import tomllib

    block = source_block(Candidate("ics", "https://www.theen-ev.de/termine.ics", "link", events=4), suggested_id("https://www.theen-ev.de/x", "ics"), "theen")
    parsed = tomllib.loads(block)["sources"][0]
    assert parsed == {
        "id": "theen-ev-ics",
        "network": "theen",
        "kind": "ics",
        "url": "https://www.theen-ev.de/termine.ics",
        "note": "found by discover: link; 4 events",
    }


def test_discover_probes_candidates_over_http(sites_server, tmp_path):
    sites_server.root = tmp_path
    ics = (__import__("pathlib").Path(__file__).parent / "fixtures/sites/theen/termine.ics").read_bytes()
    (tmp_path / "termine.ics").write_bytes(ics)
    (tmp_path / "index.html").write_text(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/missing-feed/"></head>'
        '<body><a href="termine.ics">Termine als ICS</a></body></html>'
    )

    ranked = discover_at(sites_server, "/")
    assert [(c.kind, c.url.rsplit("/", 2)[-1] or c.url.rsplit("/", 2)[-2], c.events) for c in ranked] == [
        ("ics", "termine.ics", 5),
        ("feed", "missing-feed", None),
    ]
    assert ranked[1].error == "HTTP 404 Not Found"


def test_a_page_with_per_event_ical_exports_is_read_from_its_own_list(sites_server):
    ranked = discover_at(sites_server, "/ical-export/termine/")
    assert [(c.kind, c.events) for c in ranked] == [("jsonld", 3), ("ics", 1), ("ics", 1), ("ics", 1)]
    assert best(ranked).url == sites_server.url("/ical-export/termine/")


def test_the_pages_own_markup_is_read_even_when_its_links_exceed_the_probe_limit(sites_server, tmp_path):
    sites_server.root = tmp_path
    links = "".join(f'<a href="e{i}.ics">iCal</a>' for i in range(MAX_PROBES + 2))
    for i in range(MAX_PROBES + 2):
        (tmp_path / f"e{i}.ics").write_bytes((SITES / "ical-export/termine/ki-forum-2025.ics").read_bytes())
    (tmp_path / "index.html").write_text(
        '<html><head><script type="application/ld+json">{"@context":"https://schema.org","@graph":['
        '{"@type":"Event","name":"A","startDate":"2025-10-01"},{"@type":"Event","name":"B","startDate":"2025-10-02"}]}'
        f"</script></head><body>{links}</body></html>"
    )
    ranked = discover_at(sites_server, "/")
    assert (ranked[0].kind, ranked[0].events) == ("jsonld", 2)
    probed = [r for r in sites_server.requests if r.path.endswith(".ics")]
    assert len(probed) == MAX_PROBES
    unprobed = [c for c in ranked if c.events is None]
    assert len(unprobed) == 2
    assert all(c.error is None and c.outcome() == f"not probed: limit of {MAX_PROBES} probes" for c in unprobed)


def test_a_calendar_subscription_is_probed_before_links_to_ics_files(sites_server, tmp_path):
    sites_server.root = tmp_path
    links = "".join(f'<a href="e{i}.ics">iCal</a>' for i in range(MAX_PROBES))
    # webcal: becomes https:, which the plain-HTTP test server cannot answer: probed means "error"
    subscribe = f'<a href="webcal://127.0.0.1:{sites_server.port}/alle.ics">Kalender abonnieren</a>'
    (tmp_path / "index.html").write_text(f"<html><body>{links}{subscribe}</body></html>")
    ranked = discover_at(sites_server, "/")
    (webcal,) = [c for c in ranked if c.how == "webcal: link"]
    assert webcal.skipped is None and webcal.error
    assert [c.url.rsplit("/", 1)[-1] for c in ranked if c.skipped] == [f"e{MAX_PROBES - 1}.ics"]


@pytest.mark.parametrize(
    "root, api",
    [
        ("https://netz.example/wp-json/", "https://netz.example/wp-json/tribe/events/v1/events"),
        ("https://netz.example/blog/wp-json", "https://netz.example/blog/wp-json/tribe/events/v1/events"),
        ("https://netz.example/?rest_route=/", "https://netz.example/?rest_route=/tribe/events/v1/events"),
        ("https://netz.example/blog/?lang=de&rest_route=/", "https://netz.example/blog/?lang=de&rest_route=/tribe/events/v1/events"),
    ],
)
def test_the_tribe_api_is_found_under_pretty_and_plain_permalinks(root, api):
    assert tribe_api(root) == api
    page = f'<html><head><link rel="https://api.w.org/" href="{root}" /></head></html>'.encode()
    assert [(c.kind, c.url) for c in candidates_in(page, ctx_for("https://netz.example/"))] == [("tribe", api)]


@pytest.mark.parametrize(
    "markup",
    [
        '<div class="vevent"><span class="summary">Altes hCalendar</span> <abbr class="dtstart" title="2025-12-05T10:00:00+01:00">5.12.</abbr></div>',
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":"https://schema.org/Event","name":"Voll","startDate":"2025-12-05T10:00"}</script>',
        "<script type='application/ld+json'>{ \"@type\" : [ \"Thing\", \"Event\" ], \"name\": \"Liste\", \"startDate\": \"2025-12-05\" }</script>",
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":"Festival","name":"Lichtfest","startDate":"2025-12-05"}</script>',
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":"Hackathon","name":"Hack","startDate":"2025-12-05"}</script>',
        '<div itemscope itemtype="http://schema.org/Festival"><span itemprop="name">Fest</span><meta itemprop="startDate" content="2025-12-05"></div>',
    ],
    ids=["hcalendar", "full-iri", "quoting-and-type-list", "festival", "hackathon", "microdata-festival"],
)
def test_the_pages_own_markup_counts_whenever_the_jsonld_extractor_reads_events_in_it(markup):
    page = f"<!DOCTYPE html><html><body>{markup}</body></html>".encode()
    (cand,) = candidates_in(page, ctx_for("https://x.example/termine/"))
    assert (cand.kind, cand.url, cand.events) == ("jsonld", "https://x.example/termine/", 1)


def test_a_page_over_max_html_nodes_is_offered_with_the_cap_that_refused_it():
    page = b"<html><body>" + b"<p>x</p>" * 50 + b'<div class="h-event"><span class="p-name">X</span></div></body></html>'
    (cand,) = candidates_in(page, ctx_for("https://x.example/", max_html_nodes=20))
    assert cand.kind == "jsonld" and cand.events is None and "max_html_nodes" in cand.error


def test_a_candidate_read_only_in_part_counts_no_events_and_says_why(sites_server):
    from tests.support.fixture_sources import TRIBE_PAGE_2

    sites_server.misbehave(TRIBE_PAGE_2, "error_page")  # page 2 of the Tribe API is a maintenance page

    async def go():
        async with Fetcher(Settings(timeout=1, retries=0, allow_private_networks=True)) as fetcher:
            first = await fetcher.fetch(sites_server.url("/wp-tec/veranstaltungen/"))
            return await discover(first, fetcher, ctx_for(first.url), max_pages=5)

    ranked = asyncio.run(go())
    (tribe,) = [c for c in ranked if c.kind == "tribe"]
    assert tribe.events is None and tribe.error.startswith("incomplete: page ")
    assert ranked[0].kind != "tribe" and ranked[0].events == 10

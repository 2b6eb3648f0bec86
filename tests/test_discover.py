"""Discovery finds what a page offers; kind auto reads the best of it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from aggregator.config import Settings
from aggregator.discover import Candidate, best, candidates_in, discover, sniff, source_block, suggested_id
from aggregator.extract import ExtractContext
from aggregator.fetch import Fetcher

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
    found = {(c.kind, c.url) for c in candidates_in(PAGE.encode(), "https://netz.example/veranstaltungen/")}
    assert found == {
        ("feed", "https://netz.example/feed/"),
        ("ics", "https://netz.example/veranstaltungen/?ical=1"),
        ("tribe", "https://netz.example/wp-json/tribe/events/v1/events"),
        ("ics", "https://netz.example/kalender.ics"),
        ("ics", "https://netz.example/downloads/termine.ics"),
        ("jsonld", "https://netz.example/veranstaltungen/"),
    }


def test_a_plain_page_offers_nothing():
    assert candidates_in(b"<html><body><p>Aktuelles</p></body></html>", "https://x.example/") == []


def test_ranking_prefers_candidates_with_events_then_richer_kinds():
    cands = [
        Candidate("feed", "u1", "", events=5),
        Candidate("ics", "u2", "", events=3),
        Candidate("tribe", "u3", "", events=0),
        Candidate("jsonld", "u4", "", error="x"),
    ]
    ranked = sorted(cands, key=Candidate.rank)
    assert [c.kind for c in ranked] == ["ics", "feed", "tribe", "jsonld"]
    assert best(ranked).kind == "ics"
    assert best([Candidate("feed", "u", "", events=0)]) is None


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

    async def go():
        async with Fetcher(Settings(timeout=1, retries=0, allow_private_networks=True)) as fetcher:
            first = await fetcher.fetch(sites_server.url("/"))
            ctx = ExtractContext(url=first.url, timezone=ZoneInfo("Europe/Berlin"), now=datetime(2025, 9, 1, tzinfo=timezone.utc))
            return await discover(first, fetcher, ctx)

    ranked = asyncio.run(go())
    assert [(c.kind, c.url.rsplit("/", 2)[-1] or c.url.rsplit("/", 2)[-2], c.events) for c in ranked] == [
        ("ics", "termine.ics", 5),
        ("feed", "missing-feed", None),
    ]
    assert ranked[1].error == "HTTP 404 Not Found"

"""The fetch stage against a real HTTP server on 127.0.0.1 (no mocked HTTP layer)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import aggregator
from aggregator.config import Settings
from aggregator.fetch import CacheState, Fetcher, FetchResult, parse_retry_after, stable_digest
from tests.support.sites_server import SitesServer

CAL = "/_fetch/calendar.ics"
CAL_FILE = Path(__file__).parent / "fixtures" / "sites" / "_fetch" / "calendar.ics"

# allow_private_networks: the fixture server is on 127.0.0.1 (tests/test_net_guard.py tests the refusal).
FAST = dict(timeout=1.0, backoff=0.05, retries=2, max_retry_after=5.0, per_host_concurrency=2, allow_private_networks=True)


def settings(**overrides) -> Settings:
    return Settings(**{**FAST, **overrides})


def fetch(url: str, state: CacheState | None = None, **overrides) -> FetchResult:
    async def go():
        async with Fetcher(settings(**overrides)) as f:
            return await f.fetch(url, state)

    return asyncio.run(go())


def fetch_twice(url: str, **overrides) -> tuple[FetchResult, FetchResult]:
    async def go():
        async with Fetcher(settings(**overrides)) as f:
            first = await f.fetch(url, None)
            second = await f.fetch(url, first.cache_state())
            return first, second

    return asyncio.run(go())


def gets(server, path: str) -> list:
    return [r for r in server.requests_for(path) if r.method == "GET"]


# --- conditional requests and the stable digest ----------------------------


def test_second_conditional_request_is_answered_304(sites_server):
    first, second = fetch_twice(sites_server.url(CAL))

    assert first.outcome == "fetched" and first.status == 200
    assert first.body == CAL_FILE.read_bytes()
    assert first.etag and first.last_modified and first.body_digest
    assert first.started_at.tzinfo is not None and first.elapsed >= 0
    assert second.outcome == "not_modified" and second.status == 304
    assert second.body is None
    assert second.body_digest == first.body_digest and second.etag == first.etag
    sent = gets(sites_server, CAL)[1]
    assert sent.header("If-None-Match") == first.etag
    assert sent.header("If-Modified-Since") == first.last_modified
    assert sent.status == 304


def test_if_modified_since_alone_gets_304(sites_server):
    first = fetch(sites_server.url(CAL))
    second = fetch(sites_server.url(CAL), CacheState(last_modified=first.last_modified))
    assert second.outcome == "not_modified"


def test_body_differing_only_in_dtstamp_is_unchanged(sites_server):
    first = fetch(sites_server.url(CAL))
    restamped = CAL_FILE.read_bytes().replace(
        b"DTSTAMP:20250101T080000Z\r\n", b"DTSTAMP;VALUE=DATE-TIME:2025\r\n 0607T101010Z\r\n"
    )
    assert restamped != CAL_FILE.read_bytes()
    sites_server.misbehave(CAL, "replace", body=restamped)

    second = fetch(sites_server.url(CAL), first.cache_state())

    assert second.status == 200  # the server saw a new ETag …
    assert second.outcome == "unchanged"  # … but nothing we care about changed
    assert second.body is None
    assert second.body_digest == first.body_digest
    assert second.etag != first.etag  # remember the new one, so next time is a 304


def test_changed_content_is_fetched(sites_server):
    first = fetch(sites_server.url(CAL))
    changed = CAL_FILE.read_bytes().replace(b"Netzwerktreffen Erfurt", b"Netzwerktreffen Jena")
    sites_server.misbehave(CAL, "replace", body=changed)

    second = fetch(sites_server.url(CAL), first.cache_state())

    assert second.outcome == "fetched"
    assert second.body == changed
    assert second.body_digest != first.body_digest


def test_server_without_validators_still_yields_unchanged_by_digest(sites_server):
    sites_server.misbehave(CAL, "no_etag")
    first, second = fetch_twice(sites_server.url(CAL))
    assert first.outcome == "fetched" and first.etag is None and first.last_modified is None
    assert second.outcome == "unchanged" and second.status == 200
    assert gets(sites_server, CAL)[1].header("If-None-Match") is None


def test_stable_digest_ignores_only_the_volatile_parts():
    ics = b"BEGIN:VEVENT\r\nDTSTAMP:20250101T000000Z\r\nSUMMARY:A\r\nEND:VEVENT\r\n"
    assert stable_digest(ics) == stable_digest(ics.replace(b"20250101T000000Z", b"20260101T000000Z"))
    assert stable_digest(ics) == stable_digest(ics.replace(b"\r\n", b"\n"))
    assert stable_digest(ics) != stable_digest(ics.replace(b"SUMMARY:A", b"SUMMARY:B"))
    # DTSTART is not volatile
    assert stable_digest(b"DTSTART:20250101T000000Z\n") != stable_digest(b"DTSTART:20250102T000000Z\n")

    rss = b"<rss><channel><lastBuildDate>Mon, 01 Jan 2025 00:00:00 GMT</lastBuildDate><item>x</item></channel></rss>"
    assert stable_digest(rss) == stable_digest(rss.replace(b"Mon, 01", b"Tue, 02"))

    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><updated>2025-01-01T00:00:00Z</updated>'
            b"<entry><updated>2025-01-01T00:00:00Z</updated></entry></feed>")
    feed_level = atom.replace(b"<updated>2025-01-01T00:00:00Z</updated><entry>", b"<updated>2026-01-01T00:00:00Z</updated><entry>")
    entry_level = atom.replace(b"<entry><updated>2025", b"<entry><updated>2026")
    assert stable_digest(atom) == stable_digest(feed_level)
    assert stable_digest(atom) != stable_digest(entry_level)


# --- retries, timeouts, status codes ---------------------------------------


def test_timeout_is_retried_and_reported_clearly(sites_server):
    sites_server.misbehave(CAL, "slow", seconds=5)
    t0 = time.monotonic()

    result = fetch(sites_server.url(CAL), timeout=0.5, retries=2)

    assert result.outcome == "error"
    assert result.error == "timed out after 0.5 s (3 attempts)"
    assert result.attempts == 3
    assert len(gets(sites_server, CAL)) == 3
    assert time.monotonic() - t0 < 4


@pytest.fixture
def trickling_server():
    """A server on 127.0.0.1 that sends a 100-byte body one byte every 0.1 s: each read is quick,
    the whole response takes 10 s. Yields its URL."""
    stop = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # quiet
            return

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                if stop.wait(0.1):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cal.ics"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_trickling_response_meets_the_whole_attempt_deadline(trickling_server):
    result = fetch(trickling_server, timeout=0.5, retries=0, respect_robots_txt=False)
    assert result.outcome == "error"
    assert result.error == "timed out after 1.5 s (the whole response took too long) (1 attempt)"  # 3 x timeout
    assert result.elapsed < 4


def test_500_then_ok_succeeds_and_records_attempts(sites_server):
    sites_server.misbehave(CAL, "flaky", fails=2)

    result = fetch(sites_server.url(CAL), retries=3)

    assert result.outcome == "fetched" and result.status == 200
    assert result.attempts == 3
    assert [r.status for r in gets(sites_server, CAL)] == [500, 500, 200]


def test_persistent_500_gives_up_after_the_retries(sites_server):
    sites_server.misbehave(CAL, "status", code=500)
    result = fetch(sites_server.url(CAL), retries=1)
    assert result.outcome == "error" and result.status == 500
    assert result.error == "HTTP 500 Internal Server Error (2 attempts)"
    assert len(gets(sites_server, CAL)) == 2


def test_429_with_retry_after_waits_and_succeeds(sites_server):
    sites_server.misbehave(CAL, "429", retry_after=1, times=1)

    result = fetch(sites_server.url(CAL))

    assert result.outcome == "fetched" and result.attempts == 2
    first, second = gets(sites_server, CAL)
    assert first.status == 429 and second.status == 200
    assert second.started - first.started >= 0.95


def test_the_backoff_is_waited_before_each_retry_and_doubles(sites_server):
    sites_server.misbehave(CAL, "flaky", fails=2)

    result = fetch(sites_server.url(CAL), backoff=0.3, retries=2)

    assert result.outcome == "fetched" and result.attempts == 3
    first, second, third = (r.started for r in gets(sites_server, CAL))
    assert second - first >= 0.3  # backoff (plus up to 10 % jitter)
    assert third - second >= 0.6  # backoff * 2


def test_retry_after_replaces_the_backoff(sites_server):
    sites_server.misbehave(CAL, "429", retry_after=1, times=1)

    result = fetch(sites_server.url(CAL), backoff=4.0, retries=1)

    assert result.outcome == "fetched" and result.attempts == 2
    first, second = gets(sites_server, CAL)
    assert 0.95 <= second.started - first.started < 3.0  # the server's 1 s, not the 4 s backoff nor both


def test_503_with_http_date_retry_after_is_honoured(sites_server):
    when = datetime.now(timezone.utc) + timedelta(seconds=2)
    sites_server.misbehave(CAL, "429", code=503, retry_after=when, times=1)
    result = fetch(sites_server.url(CAL))
    assert result.outcome == "fetched" and result.attempts == 2
    first, second = gets(sites_server, CAL)
    assert second.started - first.started >= 0.5  # HTTP-dates have whole seconds


def test_retry_after_longer_than_allowed_gives_up_at_once(sites_server):
    sites_server.misbehave(CAL, "429", retry_after=300)

    result = fetch(sites_server.url(CAL), max_retry_after=5)

    assert result.outcome == "error" and result.status == 429
    assert result.attempts == 1
    assert "HTTP 429 Too Many Requests" in result.error
    assert "retry after 300 s" in result.error and "max_retry_after" in result.error
    assert result.elapsed < 2


def test_404_is_not_retried(sites_server):
    result = fetch(sites_server.url("/_fetch/missing.ics"))
    assert result.outcome == "error"
    assert result.error == "HTTP 404 Not Found"
    assert result.status == 404 and result.attempts == 1
    assert len(gets(sites_server, "/_fetch/missing.ics")) == 1


def test_dropped_connection_is_retried_then_reported(sites_server):
    sites_server.misbehave(CAL, "drop")
    result = fetch(sites_server.url(CAL), retries=1)
    assert result.outcome == "error" and result.attempts == 2
    assert "connection closed by the server" in result.error


def test_refused_connection_says_could_not_connect():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before we connect
    result = fetch(f"http://127.0.0.1:{port}/x.ics", retries=0, respect_robots_txt=False)
    assert result.outcome == "error"
    assert result.error.startswith("could not connect:")


def test_garbage_with_200_is_fetched_as_bytes(sites_server):
    # Judging content is the extractor's job, not the fetcher's.
    sites_server.misbehave(CAL, "garbage", size=1000)
    result = fetch(sites_server.url(CAL))
    assert result.outcome == "fetched" and len(result.body) == 1000


def test_redirects_are_followed_and_the_final_url_reported(sites_server):
    sites_server.misbehave("/old.ics", "redirect", to=CAL, code=301)
    result = fetch(sites_server.url("/old.ics"))
    assert result.outcome == "fetched"
    assert result.url == sites_server.url(CAL)


def test_redirect_loop_gives_up(sites_server):
    sites_server.misbehave("/loop", "redirect", to="/loop")
    result = fetch(sites_server.url("/loop"))
    assert result.outcome == "error" and "too many redirects" in result.error
    assert len(gets(sites_server, "/loop")) == 6  # the first request and 5 redirects


# --- size cap ----------------------------------------------------------------


@pytest.mark.parametrize(
    "opts",
    [dict(), dict(content_length=True), dict(gzip=True)],
    ids=["streamed", "declared", "gzip-bomb"],
)
def test_response_over_the_size_cap_is_refused(sites_server, opts):
    sites_server.misbehave(CAL, "huge", size=5_000_000, **opts)

    result = fetch(sites_server.url(CAL), max_bytes=100_000)

    assert result.outcome == "error"
    assert result.error == "response larger than 100000 bytes (max_bytes)" and result.cap == "max_bytes"
    assert result.body is None
    assert result.attempts == 1  # not retried
    assert result.bytes < 5_000_000


def test_response_under_the_size_cap_is_fetched(sites_server):
    sites_server.misbehave(CAL, "huge", size=50_000, gzip=True)
    result = fetch(sites_server.url(CAL), max_bytes=100_000)
    assert result.outcome == "fetched" and len(result.body) == 50_000


# --- robots.txt --------------------------------------------------------------


@pytest.fixture
def own_root(sites_server, tmp_path):
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "events.ics").write_bytes(CAL_FILE.read_bytes())
    (tmp_path / "events.ics").write_bytes(CAL_FILE.read_bytes())
    sites_server.root = tmp_path
    return tmp_path


def test_robots_txt_disallow_blocks_the_fetch(sites_server, own_root):
    (own_root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")

    async def go():
        async with Fetcher(settings()) as f:
            return await f.fetch_many([
                ("blocked", sites_server.url("/private/events.ics"), None),
                ("allowed", sites_server.url("/events.ics"), None),
            ])

    results = asyncio.run(go())

    assert results["blocked"].outcome == "error"
    assert results["blocked"].error == f"blocked by robots.txt ({sites_server.base_url}/robots.txt)"
    assert results["blocked"].attempts == 0
    assert gets(sites_server, "/private/events.ics") == []
    assert results["allowed"].outcome == "fetched"
    assert len(gets(sites_server, "/robots.txt")) == 1  # read once per Fetcher


def test_robots_txt_rules_for_our_user_agent_apply(sites_server, own_root):
    (own_root / "robots.txt").write_text("User-agent: Netzwerktimer\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    result = fetch(sites_server.url("/events.ics"))
    assert result.outcome == "error" and result.error.startswith("blocked by robots.txt")


def test_missing_robots_txt_allows_everything(sites_server, own_root):
    result = fetch(sites_server.url("/private/events.ics"))
    assert result.outcome == "fetched"
    assert [r.status for r in gets(sites_server, "/robots.txt")] == [404]


def test_robots_txt_server_error_means_do_not_fetch(sites_server, own_root):
    sites_server.misbehave("/robots.txt", "status", code=503)
    result = fetch(sites_server.url("/events.ics"))
    assert result.outcome == "error"
    assert "robots.txt could not be read" in result.error and "503" in result.error
    assert gets(sites_server, "/events.ics") == []


@pytest.fixture
def second_site(tmp_path):
    """Another origin (its own port) serving ``tmp_path / "second"``, robots.txt ``Disallow: /``."""
    root = tmp_path / "second"
    root.mkdir()
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    (root / "events.ics").write_bytes(CAL_FILE.read_bytes())
    server = SitesServer(root).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_redirect_to_an_origin_whose_robots_txt_disallows_is_not_followed(sites_server, own_root, second_site):
    target = second_site.url("/events.ics")
    sites_server.misbehave("/events.ics", "redirect", to=target)
    result = fetch(sites_server.url("/events.ics"))
    assert result.outcome == "error"
    assert result.error == f"a redirect led to {target}, which is blocked by robots.txt ({second_site.base_url}/robots.txt)"
    assert [r.path for r in second_site.requests] == ["/robots.txt"]  # the target itself was never asked for


def test_a_redirect_to_an_origin_whose_robots_txt_cannot_be_read_is_not_followed(sites_server, own_root, second_site):
    second_site.misbehave("/robots.txt", "status", code=503)
    target = second_site.url("/events.ics")
    sites_server.misbehave("/events.ics", "redirect", to=target)
    result = fetch(sites_server.url("/events.ics"))
    assert result.outcome == "error"
    assert result.error.startswith(f"a redirect led to {target}, but its robots.txt could not be read")
    assert gets(second_site, "/events.ics") == []


def test_a_redirect_target_allowed_by_its_robots_txt_is_fetched_and_the_robots_txt_kept(sites_server, own_root, second_site):
    (second_site.root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    sites_server.misbehave("/events.ics", "redirect", to=second_site.url("/events.ics"))

    async def go():
        async with Fetcher(settings()) as f:
            return await f.fetch(sites_server.url("/events.ics")), f.robots_read

    result, robots_read = asyncio.run(go())
    assert result.outcome == "fetched" and result.url == second_site.url("/events.ics")
    # Both origins' robots.txt are handed to the pipeline to remember for the next run.
    assert robots_read == {sites_server.base_url: "", second_site.base_url: "User-agent: *\nDisallow: /private/\n"}


def test_a_redirect_hop_waits_for_a_slot_of_the_host_it_goes_to(sites_server, own_root):
    # /hop on 127.0.0.1 redirects to localhost, which already serves /slow.ics to another source.
    (own_root / "slow.ics").write_bytes(CAL_FILE.read_bytes())
    sites_server.misbehave("/slow.ics", "slow", seconds=0.5)
    other = f"http://localhost:{sites_server.port}/slow.ics"
    sites_server.misbehave("/hop", "redirect", to=other)

    async def go():
        async with Fetcher(settings(per_host_concurrency=1, respect_robots_txt=False)) as f:
            return await f.fetch_many([("direct", other, None), ("hop", sites_server.url("/hop"), None)])

    results = asyncio.run(go())
    assert all(r.outcome == "fetched" for r in results.values())
    first, second = sorted(r.started for r in gets(sites_server, "/slow.ics"))
    assert second - first >= 0.45  # one at a time at localhost, though the hop began at 127.0.0.1


def test_a_retry_after_at_the_end_of_a_redirect_holds_back_the_host_that_sent_it(sites_server, own_root):
    # /hop on 127.0.0.1 leads to localhost, which answers 429 with Retry-After: 2 once.
    for name in ("a.ics", "b.ics"):
        (own_root / name).write_bytes(CAL_FILE.read_bytes())
    sites_server.misbehave("/a.ics", "429", retry_after=2, times=1)
    sites_server.misbehave("/hop", "redirect", to=f"http://localhost:{sites_server.port}/a.ics")

    async def go():
        async with Fetcher(settings(respect_robots_txt=False)) as f:
            first = asyncio.create_task(f.fetch(sites_server.url("/hop")))
            await asyncio.sleep(0.5)  # the 429 has come; another source at localhost now
            second = await f.fetch(f"http://localhost:{sites_server.port}/b.ics")
            return await first, second

    first, second = asyncio.run(go())
    assert first.outcome == "fetched" and second.outcome == "fetched"
    refused = gets(sites_server, "/a.ics")[0]
    assert refused.status == 429
    assert gets(sites_server, "/b.ics")[0].started - refused.started >= 1.9  # localhost waited, not 127.0.0.1


def test_robots_txt_ignored_when_configured_so(sites_server, own_root):
    (own_root / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    result = fetch(sites_server.url("/events.ics"), respect_robots_txt=False)
    assert result.outcome == "fetched"
    assert gets(sites_server, "/robots.txt") == []


# --- politeness ----------------------------------------------------------------


def test_user_agent_is_honest(sites_server):
    fetch(sites_server.url(CAL), contact="mailto:kalender@example.org")
    for request in sites_server.requests:
        assert request.header("User-Agent") == f"Netzwerktimer/{aggregator.__version__} (+mailto:kalender@example.org)"
    assert {r.path for r in sites_server.requests} == {"/robots.txt", CAL}


def test_per_host_concurrency_is_bounded(sites_server, own_root):
    for i in range(6):
        (own_root / f"e{i}.ics").write_bytes(CAL_FILE.read_bytes())
        sites_server.misbehave(f"/e{i}.ics", "slow", seconds=0.3)

    async def go():
        async with Fetcher(settings(per_host_concurrency=2)) as f:
            return await f.fetch_many([(i, sites_server.url(f"/e{i}.ics"), None) for i in range(6)])

    t0 = time.monotonic()
    results = asyncio.run(go())

    assert all(r.outcome == "fetched" for r in results.values())
    assert sites_server.max_concurrent == 2
    assert time.monotonic() - t0 >= 0.85  # three waves of 0.3 s


def test_one_failing_url_does_not_stop_the_others(sites_server, own_root):
    for name in ("a.ics", "b.ics"):
        (own_root / name).write_bytes(CAL_FILE.read_bytes())
    sites_server.misbehave("/bad.ics", "drop")

    async def go():
        async with Fetcher(settings(retries=1)) as f:
            return await f.fetch_many([
                ("a", sites_server.url("/a.ics"), None),
                ("bad", sites_server.url("/bad.ics"), None),
                ("nonsense", "ftp://example.invalid/x", None),
                ("b", sites_server.url("/b.ics"), CacheState()),
            ])

    results = asyncio.run(go())

    assert set(results) == {"a", "bad", "nonsense", "b"}
    assert results["a"].outcome == "fetched" and results["b"].outcome == "fetched"
    assert results["bad"].outcome == "error"
    assert results["nonsense"].outcome == "error" and "unsupported URL" in results["nonsense"].error


def test_retry_after_parsing():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize("wbits", [15, -15, 31], ids=["deflate", "raw-deflate", "gzip"])
def test_bounded_decoder_handles_the_encodings_we_offer(wbits):
    import zlib

    from aggregator.fetch import _BoundedDecoder

    plain = b"Veranstaltung " * 5000
    comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
    data = comp.compress(plain) + comp.flush()
    decoder = _BoundedDecoder("gzip" if wbits == 31 else "deflate")
    out = b""
    for i in range(0, len(data), 1):  # worst case: one byte at a time
        out += b"".join(decoder.feed(data[i : i + 1], 10**9))
    assert out == plain
    # and output is bounded per call
    decoder = _BoundedDecoder("gzip" if wbits == 31 else "deflate")
    assert sum(len(p) for p in decoder.feed(data, 1000)) <= 1000


def test_bounded_decoder_reads_gzip_members_and_ignores_trailing_junk():
    import gzip

    from aggregator.fetch import _BoundedDecoder

    data = gzip.compress(b"one ") + gzip.compress(b"two") + b"\n\0\0"
    assert b"".join(_BoundedDecoder("gzip").feed(data, 10**6)) == b"one two"


def test_dns_failure_is_named_as_such():
    import httpx

    from aggregator.fetch import _describe_network_error

    exc = httpx.ConnectError("[Errno -2] Name or service not known")
    exc.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert _describe_network_error(exc, "https://kalender.example.invalid/x.ics") == (
        "DNS lookup failed for kalender.example.invalid"
    )


def test_user_agent_without_a_configured_contact_names_only_the_software(sites_server):
    fetch(sites_server.url(CAL), contact="")
    assert sites_server.requests_for(CAL)[0].header("User-Agent") == f"Netzwerktimer/{aggregator.__version__}"


def test_sniffio_is_installed_so_httpcore_does_not_search_for_it_on_every_request():
    # httpcore imports sniffio for each request; a missing module is searched for anew each time.
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None

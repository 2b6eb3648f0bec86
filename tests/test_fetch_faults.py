"""The fault modes of the test server, each met by the real fetcher: what it reports
(in words a person understands), and which faults it reads through unharmed."""

from __future__ import annotations

import gzip

from tests.test_fetch import CAL, CAL_FILE, fetch, gets


def test_connection_refused_at_the_configured_address_says_could_not_connect(sites_server):
    result = fetch(sites_server.refused_url(CAL), retries=1, respect_robots_txt=False)
    assert result.outcome == "error" and result.attempts == 2
    assert result.error.startswith("could not connect:")
    # With robots.txt on, it is the robots.txt request that meets the closed port first.
    result = fetch(sites_server.refused_url(CAL), retries=0)
    assert result.outcome == "error" and "could not connect" in result.error and "robots.txt" in result.error


def test_reset_connection_is_retried_then_reported(sites_server):
    sites_server.misbehave(CAL, "reset")
    result = fetch(sites_server.url(CAL), retries=1)
    assert result.outcome == "error" and result.attempts == 2
    assert "connection" in result.error.lower()


def test_stall_in_the_middle_of_the_body_times_out(sites_server):
    sites_server.misbehave(CAL, "stall", seconds=10)
    result = fetch(sites_server.url(CAL), timeout=0.5, retries=0)
    assert result.outcome == "error"
    assert "timed out" in result.error
    assert result.elapsed < 5


def test_truncated_body_with_content_length_is_a_broken_response(sites_server):
    sites_server.misbehave(CAL, "truncate", fraction=0.5)
    result = fetch(sites_server.url(CAL), retries=0)
    assert result.outcome == "error"
    assert result.error.startswith("connection closed by the server without a complete response")


def test_truncated_body_without_content_length_cannot_be_told_by_http(sites_server):
    # The body ends with the connection: HTTP has no way to tell. The extractor must.
    sites_server.misbehave(CAL, "truncate", fraction=0.5, declared=False)
    result = fetch(sites_server.url(CAL))
    assert result.outcome == "fetched"
    assert result.body == CAL_FILE.read_bytes()[: len(CAL_FILE.read_bytes()) // 2]


def test_redirect_loop_mode_gives_up(sites_server):
    sites_server.misbehave(CAL, "redirect_loop")
    result = fetch(sites_server.url(CAL))
    assert result.outcome == "error" and result.error == "too many redirects (more than 5)"
    assert len(gets(sites_server, CAL)) == 6


def test_redirect_to_another_host_is_followed(sites_server):
    sites_server.misbehave(CAL, "other_host")
    result = fetch(sites_server.url(CAL))
    assert result.outcome == "fetched" and result.body == CAL_FILE.read_bytes()
    assert result.url == f"http://localhost:{sites_server.port}{CAL}"


def test_error_page_is_fetched_as_html_for_the_extractor_to_judge(sites_server):
    sites_server.misbehave(CAL, "error_page")
    result = fetch(sites_server.url(CAL))
    assert result.outcome == "fetched" and b"Wartungsarbeiten" in result.body


def test_empty_200_is_fetched_as_an_empty_body(sites_server):
    sites_server.misbehave(CAL, "empty")
    result = fetch(sites_server.url(CAL))
    assert result.outcome == "fetched" and result.body == b""


def test_compression_bomb_is_refused_while_it_inflates(sites_server):
    sites_server.misbehave(CAL, "bomb", size=50_000_000)
    result = fetch(sites_server.url(CAL), max_bytes=1_000_000)
    assert result.outcome == "error" and result.error == "response larger than 1000000 bytes (max_bytes)"
    assert result.bytes < 2_000_000  # stopped right after the cap, never 50 MB in memory


def test_bomb_really_is_one(sites_server):
    sites_server.misbehave(CAL, "bomb", size=5_000_000)
    import httpx

    with httpx.stream("GET", sites_server.url(CAL)) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        raw = b"".join(resp.iter_raw())
    assert len(raw) < 50_000 and len(gzip.decompress(raw)) == 5_000_000


def test_charset_mode_reencodes_and_adds_a_bom(sites_server):
    text = CAL_FILE.read_bytes().decode("utf-8")
    sites_server.misbehave(CAL, "charset", encoding="utf-8", bom=True)
    assert fetch(sites_server.url(CAL)).body == b"\xef\xbb\xbf" + text.encode("utf-8")
    sites_server.misbehave(CAL, "charset", encoding="cp1252")
    assert fetch(sites_server.url(CAL)).body == text.encode("cp1252", errors="replace")


def test_redesign_serves_a_valid_calendar_without_events(sites_server):
    sites_server.misbehave(CAL, "redesign")
    body = fetch(sites_server.url(CAL)).body
    assert body.startswith(b"BEGIN:VCALENDAR") and b"VEVENT" not in body


def test_refused_connection_is_named_connection_refused(sites_server):
    # httpx's own words for it are "All connection attempts failed".
    result = fetch(sites_server.refused_url(CAL), retries=0, respect_robots_txt=False)
    port = sites_server.refused_url(CAL).split(":")[2].split("/")[0]
    assert result.error.startswith(f"could not connect: connection refused by 127.0.0.1:{port} (no server answers there)")


def test_reset_connection_is_named_a_reset(sites_server):
    sites_server.misbehave(CAL, "reset")
    result = fetch(sites_server.url(CAL), retries=0)
    assert result.error.startswith("the server reset the connection before the response was complete")

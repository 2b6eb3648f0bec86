"""The fetcher refuses non-public addresses (SSRF guard), for every request and hop.

No test here sends a packet anywhere but 127.0.0.1: host names are answered by
a fake resolver (``socket.getaddrinfo`` monkeypatched; a name it does not know
fails like a DNS error), and refused addresses are never connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path

import pytest

from aggregator import net_guard
from aggregator.config import Settings, load_config
from aggregator.fetch import Fetcher, FetchResult
from aggregator.net_guard import non_public_kind

ROOT = Path(__file__).resolve().parents[1]
CAL = "/_fetch/calendar.ics"
HINT = "set [settings] allow_private_networks = true for intranet sites"
REAL_GETADDRINFO = socket.getaddrinfo


def fetch(url: str, **overrides) -> FetchResult:
    async def go():
        async with Fetcher(Settings(**{"timeout": 1.0, "retries": 0, "backoff": 0, **overrides})) as f:
            return await f.fetch(url, None)

    return asyncio.run(go())


class FakeDns:
    """``socket.getaddrinfo`` for names of our choosing; numeric hosts as the real one parses them."""

    def __init__(self, monkeypatch, table: dict[str, list | object]):
        self.table = table
        self.asked: list[str] = []
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        self.asked.append(host)
        if host in self.table:
            answer = self.table[host]
            addresses = answer() if callable(answer) else answer
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]
        if _numeric(host):
            return REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(host)  # 2130706433, 0177.0.0.1: forms getaddrinfo reads as IPv4 without DNS
        return True
    except OSError:
        return False


@pytest.fixture
def only_127_0_0_1_is_public(monkeypatch):
    """Let the fixture server at 127.0.0.1 stand in for a public site; every other address keeps its kind."""
    real = net_guard.non_public_kind
    monkeypatch.setattr(net_guard, "non_public_kind", lambda ip: None if str(ip) == "127.0.0.1" else real(ip))


# --- the policy --------------------------------------------------------------


@pytest.mark.parametrize(
    "address,kind",
    [
        ("10.0.0.5", "a private address"),
        ("172.16.3.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fd12:3456::1", "a private address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:10.0.0.5", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:169.254.169.254", "a link-local address"),
        ("2002:a00:5::1", "a private address"),  # 6to4 around 10.0.0.5
        ("64:ff9b::a9fe:a9fe", "a link-local address"),  # NAT64 around 169.254.169.254
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:93.184.216.34", None),
    ],
)
def test_non_public_addresses_are_named_by_kind(address, kind):
    assert non_public_kind(ipaddress.ip_address(address)) == kind


def test_private_networks_are_refused_by_default_and_the_shipped_sources_toml_keeps_it_so():
    assert Settings().allow_private_networks is False
    assert load_config(ROOT / "sources.toml").settings.allow_private_networks is False


# --- refusals, end to end through the fetcher ---------------------------------


def test_a_private_address_in_the_url_is_refused_with_the_way_out():
    result = fetch("http://10.0.0.5/events.ics")
    assert result.outcome == "error"
    assert result.error == f"refused: 10.0.0.5 is a private address; {HINT}"


@pytest.mark.parametrize(
    "url,shown",
    [
        ("http://[::1]/x.ics", "::1 is a loopback address"),
        ("http://[::ffff:a00:5]/x.ics", "::ffff:a00:5 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    ],
)
def test_address_literals_of_every_kind_are_refused(url, shown):
    result = fetch(url)
    assert result.error == f"refused: {shown}; {HINT}"


def test_the_local_fixture_server_is_refused_without_the_setting_and_gets_no_request(sites_server):
    result = fetch(sites_server.url(CAL))
    assert result.error == f"refused: 127.0.0.1 is a loopback address; {HINT}"
    assert sites_server.requests == []


def test_the_setting_allows_the_local_fixture_server(sites_server):
    assert fetch(sites_server.url(CAL), allow_private_networks=True).outcome == "fetched"


def test_a_name_that_resolves_to_a_private_address_is_refused(monkeypatch):
    FakeDns(monkeypatch, {"intranet.example.org": ["10.0.0.5"]})
    refusal = f"refused: intranet.example.org resolves to 10.0.0.5, a private address; {HINT}"
    result = fetch("https://intranet.example.org/kalender.ics")  # refused at its robots.txt already
    assert result.outcome == "error" and result.error == refusal
    result = fetch("https://intranet.example.org/kalender.ics", respect_robots_txt=False, retries=2)
    assert result.error == refusal and result.attempts == 1  # no retry: asking again will not help


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    FakeDns(monkeypatch, {"mixed.example.org": ["93.184.216.34", "fd00::7"]})
    result = fetch("https://mixed.example.org/")
    assert result.error == f"refused: mixed.example.org resolves to fd00::7, a private address; {HINT}"


def test_a_numeric_spelling_of_loopback_is_refused(monkeypatch):
    FakeDns(monkeypatch, {})
    result = fetch("http://2130706433:9/x.ics")  # getaddrinfo reads it as 127.0.0.1
    assert result.error == f"refused: 2130706433 resolves to 127.0.0.1, a loopback address; {HINT}"


def test_a_name_that_does_not_resolve_is_still_a_dns_failure(monkeypatch):
    FakeDns(monkeypatch, {})
    result = fetch("https://kalender.example.invalid/x.ics", respect_robots_txt=False)
    assert result.error.startswith("DNS lookup failed for kalender.example.invalid")


def test_the_connection_goes_to_the_checked_address_so_dns_rebinding_fails(monkeypatch, sites_server, only_127_0_0_1_is_public):
    # The attacker's resolver answers with a public address once, then with a private one.
    answers = iter([["127.0.0.1"]])
    dns = FakeDns(monkeypatch, {"rebind.example.org": lambda: next(answers, ["127.0.0.2"])})
    url = sites_server.url(CAL).replace("127.0.0.1", "rebind.example.org")

    first = fetch(url, respect_robots_txt=False)
    assert first.outcome == "fetched"
    assert dns.asked.count("rebind.example.org") == 1  # nobody looked the name up again to connect

    second = fetch(url, respect_robots_txt=False)
    assert second.error == f"refused: rebind.example.org resolves to 127.0.0.2, a loopback address; {HINT}"


@pytest.mark.parametrize("target", ["http://intranet.example.org/x.ics", "http://10.0.0.5/x.ics", "http://[::1]:8080/"])
def test_every_redirect_hop_is_checked(monkeypatch, sites_server, only_127_0_0_1_is_public, target):
    FakeDns(monkeypatch, {"intranet.example.org": ["10.0.0.5"]})
    sites_server.misbehave("/go", "redirect", to=target)
    result = fetch(sites_server.url("/go"))
    assert result.outcome == "error"
    assert result.error.startswith("refused: ") and result.error.endswith(f"(a redirect led there); {HINT}")
    assert [r.path for r in sites_server.requests if r.path != "/robots.txt"] == ["/go"]


def test_a_redirect_to_another_scheme_is_not_followed(sites_server, only_127_0_0_1_is_public):
    sites_server.misbehave("/go", "redirect", to="file:///etc/passwd")
    result = fetch(sites_server.url("/go"))
    assert result.outcome == "error" and result.body is None
    assert result.error.startswith("cannot follow the URL")


def test_robots_txt_is_fetched_through_the_guard_too(monkeypatch, sites_server, only_127_0_0_1_is_public):
    FakeDns(monkeypatch, {"intranet.example.org": ["10.0.0.5"]})
    sites_server.misbehave("/robots.txt", "redirect", to="http://intranet.example.org/robots.txt")
    result = fetch(sites_server.url(CAL))
    assert result.error == f"refused: intranet.example.org resolves to 10.0.0.5, a private address (a redirect led there); {HINT}"
    assert [r.path for r in sites_server.requests] == ["/robots.txt"]  # the calendar itself was never asked for


def test_proxy_settings_from_the_environment_are_not_used(monkeypatch, sites_server):
    # Through a proxy the guard could not see where a name leads; this one would refuse every request.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert fetch(sites_server.url(CAL), allow_private_networks=True).outcome == "fetched"

"""Which addresses the fetcher may connect to, enforced where it connects.

Netzwerktimer fetches URLs that come from a configuration file and, through
redirects, links and discovery, from websites we do not control. Without a
guard, a site could send us to ``http://169.254.169.254/`` (cloud metadata),
``http://localhost:5432/`` or a printer on the office network, and the error or
events we publish would tell the world what is there (SSRF).

The policy: an address that is private, loopback, link-local, multicast,
reserved, unspecified or otherwise not globally reachable is refused, IPv4 and
IPv6 alike; an IPv6 address that embeds an IPv4 one (IPv4-mapped ``::ffff:…``,
6to4, NAT64) is judged by the IPv4 address inside. ``[settings]
allow_private_networks = true`` lifts the policy (intranet sites, the tests).

The check sits in the connection itself (:class:`GuardedBackend`, the network
backend under httpx): the host name is resolved once, every address it
resolves to is checked, and the socket is opened to a checked address, never
to the name. So every request is covered (robots.txt, each redirect hop, each
page), and a name that resolves to a public address when asked first and to a
private one a moment later (DNS rebinding) cannot slip through: there is no
second lookup. TLS still verifies the certificate against the host name,
because httpcore starts TLS with the URL's host as server name.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import typing

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_HINT = "set [settings] allow_private_networks = true for intranet sites"

# 64:ff9b::/96 (RFC 6052) carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """A connection the policy forbids: ``host`` (as requested) is or resolves to ``ip``, which is ``kind``."""

    def __init__(self, host: str, ip: IPAddress, kind: str):
        self.host = host
        self.ip = ip
        self.kind = kind
        super().__init__(self.describe())

    def describe(self, *, redirected: bool = False) -> str:
        """The refusal as a person reads it in ``sources list``, with the way out."""
        via = " (a redirect led there)" if redirected else ""
        if self.host == str(self.ip):
            what = f"{self.ip} is {self.kind}"
        else:
            what = f"{self.host} resolves to {self.ip}, {self.kind}"
        return f"refused: {what}{via}; {ALLOW_HINT}"


def non_public_kind(ip: IPAddress) -> str | None:
    """``"a private address"``, ``"a loopback address"``, … when ``ip`` is not a
    public internet address; ``None`` when it is."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        ip = inner
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:  # before private: Python counts 240.0.0.0/4 as both
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        # e.g. 100.64.0.0/10 (carrier-grade NAT), which is neither private nor global.
        return "a non-public address"
    return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The IP address ``host`` is written as (``"10.0.0.5"``, ``"[::1]"``), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_literal(host: str) -> None:
    """Raise AddressRefused when ``host`` is an IP address the policy refuses.

    A cheap early check for URLs written with an address; names are checked
    when connecting (:class:`GuardedBackend`)."""
    ip = literal_address(host)
    if ip is not None and (kind := non_public_kind(ip)) is not None:
        raise AddressRefused(str(ip), ip, kind)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to for a TCP connection, in resolver order.

    Uses ``socket.getaddrinfo`` (in a worker thread), so numeric forms such as
    ``2130706433`` come back as the address they denote; a failed lookup raises
    ``socket.gaierror``."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]), None)
    return list(seen)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to public addresses.

    ``connect_tcp`` resolves the host once, raises :class:`AddressRefused` when
    any of its addresses is not public (a name with one private address is
    not trusted with the others either), and otherwise connects to those very
    addresses in turn. With ``allow_private`` it connects like the default
    backend, without a check.
    """

    def __init__(self, *, allow_private: bool = False, inner: httpcore.AsyncNetworkBackend | None = None):
        self.allow_private = allow_private
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self.allow_private:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            with anyio.fail_after(timeout):
                addresses = await resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"DNS lookup for {host} timed out") from exc
        except OSError as exc:  # socket.gaierror: the fetcher names it a DNS failure
            raise httpcore.ConnectError(str(exc)) from exc
        for ip in addresses:
            kind = non_public_kind(ip)
            if kind is not None:
                raise AddressRefused(host, ip, kind)
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc  # try the next address of the name, as a resolver-aware client would
        assert last is not None
        raise last

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover - never used
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with :class:`GuardedBackend` underneath.

    Given to the client explicitly, which also means httpx reads no proxy from
    the environment: through a proxy we could not see where a name leads.
    """

    def __init__(self, *, allow_private: bool, limits: httpx.Limits):
        ssl_context = tls_context()
        super().__init__(verify=ssl_context, limits=limits)
        # httpx has no parameter for the network backend, so its pool is rebuilt with
        # ours, with the same settings httpx gives it (tests/test_net_guard.py checks
        # that the guard is really in place).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(allow_private=allow_private),
        )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi's roots, hostname checks), made once per process:
    loading the roots costs more CPU than a whole refresh of sites answering 304."""
    return httpx.create_ssl_context()

"""Name resolution for the bench's processes: ``<site>.bench.test`` is 127.0.0.1, and nothing
else resolves.

Every synthetic site has its own host name (so the product's per-host limits and
robots.txt work per site, as on the web) and the bench sends no packet anywhere but
127.0.0.1: ``install()`` replaces ``socket.getaddrinfo`` in this process; a name other
than a bench host, ``localhost`` or a loopback address fails as an unknown host (no
DNS query is ever made).
"""

from __future__ import annotations

import ipaddress
import socket

SUFFIX = ".bench.test"
_original = socket.getaddrinfo


def _loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None:
        return True
    host = str(host).rstrip(".").lower()
    if host == "localhost" or host.endswith(SUFFIX):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if not _loopback(host):
        raise socket.gaierror(socket.EAI_NONAME, f"bench: {host!r} is not a bench host (no traffic leaves 127.0.0.1)")
    return _original("127.0.0.1", port, socket.AF_INET, type, proto, flags)


def install() -> None:
    socket.getaddrinfo = _getaddrinfo

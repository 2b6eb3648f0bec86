"""Fetch stage: polite, conditional, bounded HTTP GETs of the sources.

One ``Fetcher`` per refresh run::

    async with Fetcher(config.settings) as fetcher:
        results = await fetcher.fetch_many([(source.id, source.url, state), ...])

``Fetcher.fetch`` never raises (except on cancellation): every failure comes
back as a ``FetchResult`` with ``outcome == "error"`` and an English reason.

Outcomes:

- ``"fetched"``: a 2xx whose content differs from what we had; ``body`` holds it.
- ``"not_modified"``: the server answered 304 to our conditional request.
- ``"unchanged"``: a 2xx whose ``stable_digest`` equals ``state.body_digest``
  (the page differs at most in volatile lines such as ``DTSTAMP``); no body.
- ``"error"``: nothing usable; ``error`` says why.

Politeness and bounds (all from ``Settings``):

- an honest User-Agent ``Netzwerktimer/<version> (+<contact>)``;
- ``If-None-Match`` / ``If-Modified-Since`` from the stored ``CacheState``;
- ``timeout`` for connecting and for each read, and a whole-attempt deadline
  of ``ATTEMPT_DEADLINE_FACTOR * timeout`` so a trickling server cannot hold us;
- at most ``max_bytes`` decoded bytes per response (a compression bomb is
  caught while it inflates; ``fetch(..., max_bytes=)`` sets a source's own);
  a response over it is an error with ``cap == "max_bytes"``;
- up to ``retries`` retries on timeouts, connection errors, 5xx and 429, with
  exponential backoff ``backoff * 2**n`` plus up to 10 % jitter; ``Retry-After``
  (seconds or HTTP-date) on 429/503 is honoured, and other requests to that
  host wait for it too; one longer than ``max_retry_after`` makes us give up;
- at most ``per_host_concurrency`` requests in flight per host name, the
  robots.txt request and each redirect hop counted at the host it goes to;
- robots.txt (when ``respect_robots_txt``) read once per origin per Fetcher,
  or not at all when the caller knows it from an earlier run (``robots``: the
  pipeline keeps each origin's robots.txt for ``ROBOTS_MAX_AGE``, as RFC 9309
  allows); 4xx means everything is allowed, 5xx/429 or a network failure means
  the site is not fetched (Google's convention) and nothing is kept;
- redirects are followed one hop at a time by us (not by httpx), at most
  ``MAX_REDIRECTS``, to http(s) URLs only; a hop to another origin is made only
  when that origin's robots.txt allows it, as if it were the first URL;
- unless ``allow_private_networks``, no connection to a private, loopback,
  link-local or otherwise non-public address, checked where the socket is
  opened, so for every redirect hop and the robots.txt request too
  (``aggregator.net_guard``); a refusal is an error naming the address.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import socket
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Literal, TypeVar
from collections.abc import Awaitable, Callable, Hashable
from urllib.robotparser import RobotFileParser

import httpx

from aggregator import __version__
from aggregator.config import Settings
from aggregator.net_guard import AddressRefused, GuardedTransport, check_literal

Outcome = Literal["fetched", "not_modified", "unchanged", "error"]
K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

MAX_REDIRECTS = 5
ATTEMPT_DEADLINE_FACTOR = 3
ROBOTS_MAX_BYTES = 512_000  # Google reads the first 500 KiB of a robots.txt.
ROBOTS_MAX_AGE = timedelta(hours=24)  # RFC 9309 §2.4: a cached robots.txt is used for at most 24 hours
ACCEPT = (
    "text/calendar, application/rss+xml, application/atom+xml, "
    "application/xml;q=0.9, text/html;q=0.8, application/json;q=0.8, */*;q=0.5"
)


@dataclass
class CacheState:
    """What we stored from the last good fetch of a source."""

    etag: str | None = None
    last_modified: str | None = None
    body_digest: str | None = None


@dataclass
class FetchResult:
    """The result of one ``Fetcher.fetch``: see the module docstring for outcomes."""

    url: str  # final URL after redirects (the requested one when we never got an answer)
    outcome: Outcome
    status: int | None = None
    body: bytes | None = None  # only for "fetched"
    etag: str | None = None
    last_modified: str | None = None
    body_digest: str | None = None
    bytes: int = 0  # decoded body bytes received in the last attempt
    error: str | None = None
    attempts: int = 0  # HTTP requests made for this URL (robots.txt not counted)
    started_at: datetime | None = None  # aware UTC
    elapsed: float = 0.0  # seconds, retries and waits included
    cap: str | None = None  # the setting whose cap refused the response ("max_bytes"), else None

    @property
    def ok(self) -> bool:
        return self.outcome != "error"

    def cache_state(self) -> CacheState:
        """The state to store for the next conditional request (after a non-error outcome)."""
        return CacheState(etag=self.etag, last_modified=self.last_modified, body_digest=self.body_digest)


# --- stable digest ---------------------------------------------------------

# The volatile parts removed before hashing. Keep this list small and documented:
#  1. line endings are normalised to "\n";
#  2. iCalendar DTSTAMP lines (any parameters, any case) with their folded
#     continuation lines (lines starting with a space or tab);
#  3. RSS <lastBuildDate>…</lastBuildDate>;
#  4. Atom feed-level <updated>…</updated> (before the first <entry>).
_DTSTAMP = re.compile(rb"(?im)^DTSTAMP[;:][^\n]*(?:\n[ \t][^\n]*)*(?:\n|\Z)")
_LAST_BUILD_DATE = re.compile(rb"(?is)<(?:[\w.-]+:)?lastBuildDate\b[^>]*>.*?</(?:[\w.-]+:)?lastBuildDate\s*>")
_ATOM_ENTRY = re.compile(rb"(?i)<(?:[\w.-]+:)?entry[\s>/]")
_ATOM_UPDATED = re.compile(rb"(?is)<(?:[\w.-]+:)?updated\b[^>]*>.*?</(?:[\w.-]+:)?updated\s*>")


def stable_digest(body: bytes) -> str:
    """sha256 (hex) of ``body`` without its volatile parts (see the list above)."""
    text = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    text = _DTSTAMP.sub(b"", text)
    text = _LAST_BUILD_DATE.sub(b"", text)
    first_entry = _ATOM_ENTRY.search(text)
    cut = first_entry.start() if first_entry else len(text)
    if b"<feed" in text[:cut] or b":feed" in text[:cut]:
        text = _ATOM_UPDATED.sub(b"", text[:cut]) + text[cut:]
    return hashlib.sha256(text).hexdigest()


# --- helpers ---------------------------------------------------------------


def user_agent_for(settings: Settings) -> str:
    if not settings.contact:
        return f"Netzwerktimer/{__version__}"
    return f"Netzwerktimer/{__version__} (+{settings.contact})"


def _status_text(status: int, reason: str = "") -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = reason
    return f"HTTP {status} {phrase}".rstrip()


def _seconds(value: float) -> str:
    return f"{value:g} s" if value < 10 else f"{value:.0f} s"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _is_dns_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, socket.gaierror):
            return True
        e = e.__cause__ or e.__context__
    text = str(exc).lower()
    return any(
        s in text
        for s in ("name or service not known", "nodename nor servname", "temporary failure in name resolution",
                  "no address associated with hostname", "getaddrinfo failed")
    )


def _redirected(refused: AddressRefused, url: str) -> bool:
    """Whether the refused connection was to another host than ``url``'s, i.e. a redirect led there."""
    try:
        asked = httpx.URL(url).raw_host.decode("ascii").lower()
    except Exception:
        return False
    return refused.host.lower().strip("[]") != asked.strip("[]")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is ``exc`` or in its chain of causes and contexts."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, kind):
            return True
        e = e.__cause__ or e.__context__
    return False


def _describe_network_error(exc: httpx.HTTPError, url: str) -> str:
    parsed = httpx.URL(url)
    host = parsed.host or url
    if isinstance(exc, httpx.ConnectError):
        if _is_dns_failure(exc):
            return f"DNS lookup failed for {host}"
        if _caused_by(exc, ConnectionRefusedError):
            where = f"{host}:{parsed.port}" if parsed.port else host
            return f"could not connect: connection refused by {where} (no server answers there)"
        return f"could not connect: {str(exc) or type(exc).__name__}"
    if _caused_by(exc, ConnectionResetError):
        return "the server reset the connection before the response was complete"
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "without sending" in text or "disconnected" in text.lower():
            return "connection closed by the server without a complete response"
        return f"broken HTTP response: {text}"
    return f"network error: {str(exc) or type(exc).__name__}"


class _BoundedDecoder:
    """Content-Encoding decoder whose output per call never exceeds a given size."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self._d: zlib._Decompress | None = None
        self._pending = b""  # deflate: the first bytes until we can tell zlib from raw
        self._done = False  # the stream ended; anything after it is ignored
        self._started = False

    def _new(self, first: bytes) -> zlib._Decompress:
        if self.encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" should be zlib-wrapped, but some servers send raw deflate.
        wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] * 256 + first[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int):
        """Yield decoded pieces of ``data``; stops early once ``room`` bytes were produced."""
        if self.encoding == "identity":
            if data:
                yield data
            return
        if self._done:
            return
        produced = 0
        if self._d is None and self.encoding == "deflate" and len(self._pending + data) < 2:
            self._pending += data
            return
        data, self._pending = self._pending + data, b""
        while data and produced < room:
            if self._d is None:
                if self._started and not data.startswith(b"\x1f\x8b"):
                    self._done = True  # junk after the last gzip member
                    return
                self._d = self._new(data)
                self._started = True
            out = self._d.decompress(data, max(1, room - produced))
            produced += len(out)
            if out:
                yield out
            if self._d.eof:
                data = self._d.unused_data
                self._d = None
                # Another gzip member may follow; other trailing bytes are ignored.
                if self.encoding == "deflate":
                    self._done = True
                    return
            else:
                data = self._d.unconsumed_tail


class _Retry(Exception):
    """A failed attempt worth repeating."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None,
                 host: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.host = host  # the host that answered (after redirects), whose Retry-After pauses it


class _Fail(Exception):
    """A failure that repeating will not fix."""

    def __init__(self, reason: str, status: int | None = None, url: str | None = None, received: int = 0,
                 cap: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.url = url
        self.received = received
        self.cap = cap


# --- the fetcher -----------------------------------------------------------


class Fetcher:
    """Fetches sources politely; one instance per refresh run (async context manager)."""

    def __init__(self, settings: Settings, *, user_agent: str | None = None, robots: dict[str, str] | None = None):
        """``robots``: origin → robots.txt text read by an earlier run (no longer than
        ``ROBOTS_MAX_AGE`` ago; "" for a 4xx), used instead of asking again. The texts
        this fetcher reads are in ``robots_read`` afterwards, for the caller to keep."""
        self.settings = settings
        self.robots_read: dict[str, str] = {}
        self._robots_known = dict(robots or {})
        self.user_agent = user_agent or user_agent_for(settings)
        self._client: httpx.AsyncClient | None = None
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._host_pause_until: dict[str, float] = {}
        self._robots: dict[str, RobotFileParser | str] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _open(self) -> httpx.AsyncClient:
        if self._client is None:
            t = self.settings.timeout
            self._client = httpx.AsyncClient(
                # We decode gzip/deflate ourselves (see _read_capped), so we offer only those.
                headers={"User-Agent": self.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
                # connect/read/write bounded; waiting for a pooled connection is not an error.
                timeout=httpx.Timeout(t, pool=None),
                # The transport refuses non-public addresses at connection time (net_guard).
                transport=GuardedTransport(
                    allow_private=self.settings.allow_private_networks,
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
                ),
                # We follow redirects ourselves (_get): every hop needs its own host's
                # slot, pause and robots.txt, which httpx's own following cannot give.
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- concurrency per host --

    @staticmethod
    def _host(url: str) -> str:
        try:
            return (httpx.URL(url).host or "").lower()
        except Exception:
            return ""

    def _slot(self, host: str) -> asyncio.Semaphore:
        sem = self._host_slots.get(host)
        if sem is None:
            sem = self._host_slots[host] = asyncio.Semaphore(self.settings.per_host_concurrency)
        return sem

    async def _wait_for_host(self, host: str) -> None:
        until = self._host_pause_until.get(host, 0.0)
        delay = until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    # -- public API --

    async def fetch(self, url: str, state: CacheState | None = None, *, max_bytes: int | None = None) -> FetchResult:
        """GET ``url`` conditionally; never raises (except when cancelled).

        ``max_bytes`` replaces ``settings.max_bytes`` for this request (a source's own cap)."""
        started_at = datetime.now(timezone.utc)
        t0 = time.monotonic()
        try:
            result = await self._fetch(url, state or CacheState(), max_bytes or self.settings.max_bytes)
        except Exception as exc:  # a bug of ours must not stop a refresh run
            result = FetchResult(url=url, outcome="error", error=f"internal error: {type(exc).__name__}: {exc}")
        result.started_at = started_at
        result.elapsed = time.monotonic() - t0
        return result

    async def fetch_many(self, items: list[tuple[K, str, CacheState | None]]) -> dict[K, FetchResult]:
        """Fetch all concurrently (bounded per host); one failure never stops the others."""
        results = await asyncio.gather(*(self.fetch(url, state) for _key, url, state in items))
        return {key: result for (key, _url, _state), result in zip(items, results)}

    # -- internals --

    async def _fetch(self, url: str, state: CacheState, max_bytes: int) -> FetchResult:
        try:
            parsed = httpx.URL(url)
        except Exception as exc:
            return FetchResult(url=url, outcome="error", error=f"invalid URL: {exc}")
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return FetchResult(url=url, outcome="error", error=f"unsupported URL {url!r} (need http or https)")
        if not self.settings.allow_private_networks:
            try:
                check_literal(parsed.host)  # names are checked when connecting
            except AddressRefused as refused:
                return FetchResult(url=url, outcome="error", error=refused.describe())
        self._open()
        host = self._host(url)

        if self.settings.respect_robots_txt:
            refusal = await self._robots_refusal(parsed)
            if refusal:
                return FetchResult(url=url, outcome="error", error=refusal)

        headers: dict[str, str] = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified

        s = self.settings
        attempts = 0
        while True:
            attempts += 1
            try:
                return await self._attempt(url, headers, state, attempts, max_bytes)
            except _Fail as fail:
                reason = fail.reason if attempts == 1 else f"{fail.reason} ({attempts} attempts)"
                return FetchResult(url=fail.url or url, outcome="error", status=fail.status, error=reason,
                                   attempts=attempts, bytes=fail.received, cap=fail.cap)
            except _Retry as retry:
                retries_done = attempts - 1
                if retry.retry_after is not None and retry.retry_after > s.max_retry_after:
                    return FetchResult(
                        url=url, outcome="error", status=retry.status, attempts=attempts,
                        error=(f"{retry.reason}; the server asked us to retry after {_seconds(retry.retry_after)}, "
                               f"longer than max_retry_after ({_seconds(s.max_retry_after)}); giving up"),
                    )
                if retries_done >= s.retries:
                    plural = "attempt" if attempts == 1 else "attempts"
                    return FetchResult(url=url, outcome="error", status=retry.status, attempts=attempts,
                                       error=f"{retry.reason} ({attempts} {plural})")
                delay = s.backoff * 2**retries_done
                delay += random.uniform(0, delay * 0.1)
                if retry.retry_after is not None:
                    delay = retry.retry_after
                    # Everyone asking this host waits, not just us.
                    until = time.monotonic() + delay
                    paused = retry.host or host
                    self._host_pause_until[paused] = max(self._host_pause_until.get(paused, 0.0), until)
                await asyncio.sleep(delay)

    async def _attempt(self, url: str, headers: dict[str, str], state: CacheState,
                       attempt: int, max_bytes: int) -> FetchResult:
        s = self.settings

        async def consume(resp: httpx.Response) -> FetchResult:
            return await self._handle(resp, state, attempt, max_bytes)

        try:
            return await self._get(url, headers, consume, robots_hops=True)
        except TimeoutError:
            raise _Retry(f"timed out after {_seconds(s.timeout * ATTEMPT_DEADLINE_FACTOR)} "
                         "(the whole response took too long)") from None
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {_seconds(s.timeout)}") from None
        except AddressRefused as refused:
            raise _Fail(refused.describe(redirected=_redirected(refused, url))) from None
        except httpx.TooManyRedirects:
            raise _Fail(f"too many redirects (more than {MAX_REDIRECTS})") from None
        except httpx.DecodingError as exc:
            raise _Fail(f"could not decode the response body: {exc}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise _Fail(f"cannot follow the URL: {exc}") from None
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise _Retry(_describe_network_error(exc, url)) from None

    async def _get(self, url: str, headers: dict[str, str], consume: Callable[[httpx.Response], Awaitable[T]],
                   *, robots_hops: bool) -> T:
        """GET ``url`` and return ``await consume(response)`` of the final response.

        Redirects are followed here, one hop at a time, so that each hop is
        treated like a request of its own: it waits for a slot of the host it
        goes to (``per_host_concurrency``) and for that host's Retry-After
        pause, and with ``robots_hops`` (and ``respect_robots_txt``) a hop is
        made only when its origin's robots.txt allows it; otherwise ``_Fail``
        names the redirect target and that robots.txt. No slot is held while
        going to the next hop, so two hosts redirecting to each other cannot
        deadlock. The connect-time address guard covers every hop as before.

        The network time of all hops together is bounded by
        ``ATTEMPT_DEADLINE_FACTOR * timeout`` (``TimeoutError``); waiting for a
        slot, a pause or a robots.txt is not counted. Raises
        ``httpx.TooManyRedirects`` after ``MAX_REDIRECTS`` redirects (the first
        request and ``MAX_REDIRECTS`` hops are made, as httpx would),
        ``httpx.UnsupportedProtocol`` for a redirect to a non-http(s) URL, and
        whatever httpx or the guard raise.
        """
        client = self._open()
        request = client.build_request("GET", url, headers=headers)
        budget = self.settings.timeout * ATTEMPT_DEADLINE_FACTOR
        redirects = 0
        while True:
            host = (request.url.host or "").lower()
            async with self._slot(host):
                await self._wait_for_host(host)
                if budget <= 0:
                    raise TimeoutError
                started = time.monotonic()
                async with asyncio.timeout(budget):
                    response = await client.send(request, stream=True, follow_redirects=False)
                    try:
                        if response.next_request is None:
                            return await consume(response)
                        request = response.next_request
                    finally:
                        await response.aclose()
                budget -= time.monotonic() - started
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=request)
            target = request.url
            if target.scheme not in ("http", "https"):
                raise httpx.UnsupportedProtocol(f"a redirect led to {target}, which is not http or https",
                                                request=request)
            if robots_hops and self.settings.respect_robots_txt:
                refusal = await self._robots_refusal(target, redirected=True)
                if refusal:
                    raise _Fail(refusal, url=str(target))

    async def _handle(self, resp: httpx.Response, state: CacheState, attempt: int, max_bytes: int) -> FetchResult:
        status = resp.status_code
        final_url = str(resp.url)
        etag = resp.headers.get("ETag")
        last_modified = resp.headers.get("Last-Modified")
        if status == 304:
            return FetchResult(url=final_url, outcome="not_modified", status=status,
                               etag=etag or state.etag, last_modified=last_modified or state.last_modified,
                               body_digest=state.body_digest, attempts=attempt)
        if 200 <= status < 300:
            body = await self._read_capped(resp, max_bytes, final_url)
            digest = stable_digest(body)
            if state.body_digest is not None and digest == state.body_digest:
                return FetchResult(url=final_url, outcome="unchanged", status=status, etag=etag,
                                   last_modified=last_modified, body_digest=digest, bytes=len(body),
                                   attempts=attempt)
            return FetchResult(url=final_url, outcome="fetched", status=status, body=body, etag=etag,
                               last_modified=last_modified, body_digest=digest, bytes=len(body),
                               attempts=attempt)
        reason = _status_text(status, resp.reason_phrase)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(resp.headers.get("Retry-After")) if status in (429, 503) else None
            raise _Retry(reason, status=status, retry_after=retry_after, host=(resp.url.host or "").lower())
        raise _Fail(reason, status=status, url=final_url)

    @staticmethod
    async def _read_capped(resp: httpx.Response, limit: int, url: str, truncate: bool = False) -> bytes:
        """Read and decode the body; over ``limit`` decoded bytes → _Fail (or cut, when ``truncate``).

        We decompress ourselves with a bounded output size per step, so a
        compression bomb never inflates in memory beyond the cap.
        """
        too_big = f"response larger than {limit} bytes (max_bytes)"
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        declared = resp.headers.get("Content-Length")
        if not truncate and encoding == "identity" and declared and declared.isdigit() and int(declared) > limit:
            raise _Fail(too_big, status=resp.status_code, url=url, cap="max_bytes")
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise _Fail(f"unsupported Content-Encoding {encoding!r}", status=resp.status_code, url=url)
        decoder = _BoundedDecoder(encoding)
        chunks: list[bytes] = []
        received = 0
        try:
            async for raw in resp.aiter_raw():
                for chunk in decoder.feed(raw, limit - received + 1):
                    received += len(chunk)
                    if received > limit:
                        if truncate:
                            chunks.append(chunk[: len(chunk) - (received - limit)])
                            return b"".join(chunks)
                        raise _Fail(too_big, status=resp.status_code, url=url, received=received, cap="max_bytes")
                    chunks.append(chunk)
        except zlib.error as exc:
            raise _Fail(f"could not decode the {encoding} response body: {exc}", status=resp.status_code,
                        url=url) from None
        return b"".join(chunks)

    # -- robots.txt --

    async def _robots_refusal(self, parsed: httpx.URL, *, redirected: bool = False) -> str | None:
        """None when robots.txt lets us fetch ``parsed``, else the reason.

        ``redirected``: a redirect led to ``parsed``; the reason then says so
        and names it, since the source's configured URL is not the one refused."""
        origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
        robots_url = origin + "/robots.txt"
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin not in self._robots:
                known = self._robots_known.get(origin)
                if known is not None:
                    self._robots[origin] = _robots_parser(robots_url, known)
                else:
                    self._robots[origin] = await self._read_robots(robots_url)
        rules = self._robots[origin]
        if isinstance(rules, AddressRefused):
            return rules.describe(redirected=redirected or _redirected(rules, robots_url))
        if isinstance(rules, str):
            if redirected:
                return (f"a redirect led to {parsed}, but its robots.txt could not be read "
                        f"({robots_url}: {rules}); not fetching it")
            return f"robots.txt could not be read ({robots_url}: {rules}); not fetching this site"
        if not rules.can_fetch(self.user_agent, str(parsed)):
            if redirected:
                return f"a redirect led to {parsed}, which is blocked by robots.txt ({robots_url})"
            return f"blocked by robots.txt ({robots_url})"
        return None

    async def _read_robots(self, robots_url: str) -> RobotFileParser | AddressRefused | str:
        """The parsed robots.txt, the guard's refusal, or a reason it could not be read.

        Its redirects (RFC 9309 asks for at least five) are followed by ``_get``
        too, each hop in its own host's slot; they need no robots.txt of their own."""
        s = self.settings

        async def consume(resp: httpx.Response) -> RobotFileParser | str:
            status = resp.status_code
            if 200 <= status < 300:
                raw = await self._read_capped(resp, ROBOTS_MAX_BYTES, robots_url, truncate=True)
                text = raw.decode("utf-8", errors="replace")
            elif 400 <= status < 500 and status != 429:
                text = ""  # no robots.txt: everything allowed
            else:
                return _status_text(status, resp.reason_phrase)
            self.robots_read[robots_url.removesuffix("/robots.txt")] = text
            return _robots_parser(robots_url, text)

        try:
            return await self._get(robots_url, {"Accept": "text/plain"}, consume, robots_hops=False)
        except AddressRefused as refused:
            return refused
        except TimeoutError:
            return f"timed out after {_seconds(s.timeout * ATTEMPT_DEADLINE_FACTOR)}"
        except httpx.TimeoutException:
            return f"timed out after {_seconds(s.timeout)}"
        except httpx.TooManyRedirects:
            return f"too many redirects (more than {MAX_REDIRECTS})"
        except httpx.HTTPError as exc:
            return _describe_network_error(exc, robots_url)


def _robots_parser(robots_url: str, text: str) -> RobotFileParser:
    parser = RobotFileParser(robots_url)
    parser.parse(text.splitlines())
    return parser

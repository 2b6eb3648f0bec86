"""A real HTTP server on 127.0.0.1 serving the recorded sites, misbehaving on demand.

Fixture ``sites_server`` (function scope): serves ``tests/fixtures/sites/``
(``/<network>/<path>`` maps to ``tests/fixtures/sites/<network>/<path>``) from a
thread running ``http.server.ThreadingHTTPServer`` on an ephemeral port::

    def test_x(sites_server):
        url = sites_server.url("/ihk-erfurt/events.ics")
        sites_server.misbehave("/ihk-erfurt/events.ics", "flaky", fails=2)
        ...
        assert [r.status for r in sites_server.requests_for("/ihk-erfurt/events.ics")] == [500, 500, 200]

What it does like a real site:

- content types by extension (``.ics`` text/calendar, ``.xml``/``.rss``
  application/rss+xml, ``.atom`` application/atom+xml, ``.html``, ``.json``,
  ``.txt`` and robots.txt text/plain);
- a strong ETag (sha256 of the bytes) and Last-Modified (the file's mtime),
  and 304 answers to If-None-Match (which wins) or If-Modified-Since;
- a query string is tried as part of the file name first (``events?page=2``),
  then ignored; a directory serves its ``index.html`` (or ``index.xml``,
  ``index.ics``, ``index.json``: a REST route such as
  ``/wp-json/tribe/events/v1/events`` that is also the folder of its
  ``events/?page=2`` file); anything else is 404;
- ``{{BASE_URL}}`` in a served file is replaced by ``server.base_url``
  (``http://127.0.0.1:<port>``), so absolute links in a fixture (a REST API's
  ``next_rest_url``, a page's ``<link rel="alternate">``) lead back to this
  server: write ``{{BASE_URL}}/<network>/<path>``. ETag and Last-Modified are
  those of the bytes as served.

``server.root`` may be set to another folder (e.g. ``tmp_path``) at any time.
``server.requests`` logs every request (path, query, headers, status);
``server.max_concurrent`` is the most requests it was answering at once.

``server.misbehave(path, mode, *, times=None, **opts)`` — ``times`` limits the
misbehaviour to the first N requests of that path; a path with a query
(``/events/?page=2``, as the client sends it) misbehaves only for that query
and wins over the bare path; modes and their options:

- ``"slow"``: ``seconds`` (default 2) sleep, then answer normally;
- ``"status"``: ``code`` (500), optional ``body`` bytes and ``headers`` dict;
- ``"429"``: ``retry_after`` (seconds, a str, or an aware datetime → HTTP-date; default 1),
  ``code`` (429; use 503 for "Service Unavailable" with Retry-After);
- ``"garbage"``: ``size`` (4096) random bytes with 200;
- ``"drop"``: close the connection without answering;
- ``"huge"``: ``size`` (default 1_000_000) bytes of ``b"A"`` with 200, no
  Content-Length unless ``content_length=True``; ``gzip=True`` sends it
  gzip-compressed (a small compression bomb);
- ``"flaky"``: ``fails`` (1) times 500 (or ``code``), then normal;
- ``"no_etag"``: serve without ETag / Last-Modified and ignore conditional headers;
- ``"replace"``: ``body`` bytes served instead of the file (with their own ETag);
- ``"redirect"``: ``to`` (a path or URL), ``code`` (302);
- ``"redirect_loop"``: redirect to the same URL, for ever;
- ``"other_host"``: redirect to the same path on another host name of this
  server (``host``, default ``localhost``), which serves it normally;
- ``"reset"``: abort the connection (TCP RST) right after reading the request;
- ``"stall"``: send the headers (full Content-Length) and the first ``after``
  bytes of the file (default: half), then wait ``seconds`` (default 60, ended
  by ``stop()``) and close: a timeout in the middle of the body;
- ``"truncate"``: send only ``fraction`` (0.5) of the file and close; with
  ``declared=True`` (default) the Content-Length of the whole file is sent, so
  the client can tell, with ``declared=False`` none (the body ends at close);
- ``"error_page"``: a German maintenance page as text/html with ``code`` (200);
- ``"empty"``: 200 with an empty body and the file's content type;
- ``"charset"``: the file re-encoded to ``encoding`` (``cp1252``), with a BOM
  when ``bom`` (and with ``encoding="utf-8", bom=True`` just a BOM), while the
  Content-Type (and the file's own declaration) still say UTF-8;
- ``"redesign"``: 200 with a valid document of the file's kind that lists no
  events (``fault_bodies.redesigned``);
- ``"bomb"``: gzip of ``size`` (50_000_000) zero bytes, ~1/1000 of it on the wire.

Connection refused cannot be chosen per path: ``server.refused_url(path)`` is
``path`` on a port of 127.0.0.1 that is bound but never listens, so every
connection to it is refused (for as long as the server runs).

``server.behave(path)`` ends the misbehaviour of one path (``None``: of all).
``server.touch(path)`` appends one more newline to what the path serves (new
ETag and digest, same meaning), so the next conditional request reads it in full.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate, format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.support import fault_bodies

SITES = Path(__file__).resolve().parents[1] / "fixtures" / "sites"
# Replaced in served files by the server's base URL (see the module docstring).
BASE_URL_PLACEHOLDER = b"{{BASE_URL}}"

CONTENT_TYPES = {
    ".ics": "text/calendar; charset=utf-8",
    ".ical": "text/calendar; charset=utf-8",
    ".xml": "application/rss+xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json",
    ".php": "text/html",
    ".txt": "text/plain; charset=utf-8",
}

MODES = ("slow", "status", "429", "garbage", "drop", "huge", "flaky", "no_etag", "replace", "redirect",
         "redirect_loop", "other_host", "reset", "stall", "truncate", "error_page", "empty", "charset",
         "redesign", "bomb")
# The options each mode reads; any other option is a typo in a test and refused.
MODE_OPTIONS = {
    "slow": {"seconds"},
    "status": {"code", "body", "headers"},
    "429": {"retry_after", "code"},
    "garbage": {"size"},
    "drop": set(),
    "huge": {"size", "content_length", "gzip"},
    "flaky": {"fails", "code"},
    "no_etag": set(),
    "replace": {"body"},
    "redirect": {"to", "code"},
    "redirect_loop": set(),
    "other_host": {"host"},
    "reset": set(),
    "stall": {"after", "seconds"},
    "truncate": {"fraction", "declared"},
    "error_page": {"code"},
    "empty": set(),
    "charset": {"encoding", "bom"},
    "redesign": set(),
    "bomb": {"size"},
}


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int | None = None  # None: dropped without an answer
    started: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class _Misbehaviour:
    mode: str
    opts: dict
    times: int | None
    since: float = field(default_factory=time.time)
    count: int = 0


def content_type_for(path: str, body: bytes = b"") -> str:
    """By the file's extension; for files without one (REST routes, ``?ical=1``) by their first bytes."""
    name = path.rsplit("/", 1)[-1].split("?", 1)[0].lower()
    if name == "robots.txt":
        return "text/plain; charset=utf-8"
    ext = os.path.splitext(name)[1]
    if ext in CONTENT_TYPES:
        return CONTENT_TYPES[ext]
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return "application/json; charset=utf-8"
    if head.upper().startswith(b"BEGIN:VCALENDAR"):
        return "text/calendar; charset=utf-8"
    if head.startswith(b"<"):
        return "text/html; charset=utf-8"
    return "application/octet-stream"


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: simple and honest
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    # -- plumbing --

    def _serve(self, head: bool) -> None:
        owner = self.server.owner
        split = urlsplit(self.path)
        path = unquote(split.path) or "/"
        entry = LoggedRequest(self.command, path, split.query, dict(self.headers.items()))
        owner._begin(entry)
        self._entry = entry
        try:
            self._dispatch(owner, path, split.query, head)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass  # the client gave up (e.g. size cap); that is its right
        finally:
            owner._end()

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              head: bool = False, content_length: bool = True) -> None:
        self._entry.status = status
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if content_length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _dispatch(self, owner: SitesServer, path: str, query: str, head: bool) -> None:
        bad = owner._take_misbehaviour(path, query)
        mode, opts = (bad.mode, bad.opts) if bad else (None, {})

        if mode == "slow":
            owner._stop.wait(float(opts.get("seconds", 2.0)))
        elif mode == "status":
            self._send(int(opts.get("code", 500)), opts.get("body", b""), opts.get("headers"), head)
            return
        elif mode == "flaky":
            self._send(int(opts.get("code", 500)), b"flaky says no\n", {"Content-Type": "text/plain"}, head)
            return
        elif mode == "429":
            ra = opts.get("retry_after", 1)
            if isinstance(ra, datetime):
                ra = format_datetime(ra, usegmt=True)
            headers = {"Retry-After": str(ra), "Content-Type": "text/plain"}
            self._send(int(opts.get("code", 429)), b"slow down\n", headers, head)
            return
        elif mode == "garbage":
            body = os.urandom(int(opts.get("size", 4096)))
            self._send(200, body, {"Content-Type": content_type_for(path)}, head)
            return
        elif mode == "drop":
            self._entry.status = None
            self.close_connection = True
            return
        elif mode == "redirect":
            to = opts["to"]
            if to.startswith("/"):
                to = owner.url(to)
            self._send(int(opts.get("code", 302)), b"", {"Location": to}, head)
            return
        elif mode == "huge":
            self._send_huge(path, opts, head)
            return
        elif mode in BROKEN_MODES:
            if self._send_broken(owner, mode, opts, path, query, head):
                return
            mode = None  # other_host on its target host: serve normally

        file = None
        if mode == "replace":
            body = opts["body"]
            mtime = bad.since
        else:
            file = owner._resolve(path, query)
            if file is None:
                self._send(404, b"not found\n", {"Content-Type": "text/plain"}, head)
                return
            body = owner._body_of(file, path)
            mtime = file.stat().st_mtime

        headers = {"Content-Type": content_type_for(file.name if file is not None else path, body)}
        if mode != "no_etag":
            etag = etag_for(body)
            headers["ETag"] = etag
            headers["Last-Modified"] = formatdate(mtime, usegmt=True)
            if _not_modified(self.headers, etag, mtime):
                self._send(304, b"", {"ETag": etag, "Last-Modified": headers["Last-Modified"]}, head,
                           content_length=False)
                return
        self._send(200, body, headers, head)

    def _send_broken(self, owner: SitesServer, mode: str, opts: dict, path: str, query: str, head: bool) -> bool:
        """Answer as the fault ``mode`` says; False when the request should be served normally."""
        if mode == "reset":
            self._entry.status = None
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # with linger 0: RST, not FIN
            self.close_connection = True
            return True
        if mode == "redirect_loop":
            self._send(302, b"", {"Location": owner.url(self.path)}, head)
            return True
        if mode == "other_host":
            host = opts.get("host", "localhost")
            if (self.headers.get("Host") or "").split(":")[0].lower() == host.lower():
                return False
            self._send(301, b"", {"Location": f"http://{host}:{owner.port}{self.path}"}, head)
            return True
        if mode == "error_page":
            self._send(int(opts.get("code", 200)), fault_bodies.ERROR_PAGE, {"Content-Type": "text/html; charset=utf-8"}, head)
            return True
        if mode == "bomb":
            body = fault_bodies.gzip_bomb(int(opts.get("size", 50_000_000)))
            self._send(200, body, {"Content-Type": content_type_for(path), "Content-Encoding": "gzip"}, head)
            return True
        file = owner._resolve(path, query)
        if file is None:
            self._send(404, b"not found\n", {"Content-Type": "text/plain"}, head)
            return True
        body = owner._body_of(file, path)
        ctype = content_type_for(file.name, body)
        if mode == "empty":
            self._send(200, b"", {"Content-Type": ctype}, head)
        elif mode == "redesign":
            self._send(200, fault_bodies.redesigned(ctype), {"Content-Type": ctype}, head)
        elif mode == "charset":
            recoded = fault_bodies.recoded(body, opts.get("encoding", "cp1252"), bool(opts.get("bom")))
            self._send(200, recoded, {"Content-Type": ctype, "ETag": etag_for(recoded)}, head)
        elif mode == "stall":
            after = int(opts.get("after", len(body) // 2))
            self._send_part(200, body, after, {"Content-Type": ctype}, declared=True, head=head)
            if not head:
                owner._stop.wait(float(opts.get("seconds", 60.0)))
        elif mode == "truncate":
            part = int(len(body) * float(opts.get("fraction", 0.5)))
            self._send_part(200, body, part, {"Content-Type": ctype}, declared=bool(opts.get("declared", True)), head=head)
        return True

    def _send_part(self, status: int, body: bytes, upto: int, headers: dict[str, str], *, declared: bool, head: bool) -> None:
        """Headers (Content-Length of the whole body when ``declared``), then only ``body[:upto]``."""
        self._entry.status = status
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if declared:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body[:upto])
            self.wfile.flush()
        self.close_connection = True

    def _send_huge(self, path: str, opts: dict, head: bool) -> None:
        size = int(opts.get("size", 1_000_000))
        headers = {"Content-Type": content_type_for(path)}
        chunk = b"A" * 65536
        if opts.get("gzip"):
            headers["Content-Encoding"] = "gzip"
            comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
            parts = []
            left = size
            while left > 0:
                n = min(left, len(chunk))
                parts.append(comp.compress(chunk[:n]))
                left -= n
            parts.append(comp.flush())
            body = b"".join(parts)
            self._send(200, body, headers, head)
            return
        self._entry.status = 200
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        if opts.get("content_length"):
            self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        left = size
        while left > 0:
            n = min(left, len(chunk))
            self.wfile.write(chunk[:n])
            left -= n
        self.close_connection = True


# Modes answered by _Handler._send_broken.
BROKEN_MODES = frozenset({"redirect_loop", "other_host", "reset", "stall", "truncate", "error_page", "empty",
                          "charset", "redesign", "bomb"})


def _not_modified(headers, etag: str, mtime: float) -> bool:
    inm = headers.get("If-None-Match")
    if inm is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3)
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
    ims = headers.get("If-Modified-Since")
    if ims:
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        return int(mtime) <= since
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: SitesServer


class SitesServer:
    """The running server; see the module docstring."""

    def __init__(self, root: Path = SITES):
        self.root = Path(root)
        self.requests: list[LoggedRequest] = []
        self.max_concurrent = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._misbehaviours: dict[str, _Misbehaviour] = {}
        self._touched: dict[str, int] = {}
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sites-server", daemon=True)
        # Bound but never listening: connections to it are refused (see refused_url).
        self._refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._refusing.bind(("127.0.0.1", 0))

    def start(self) -> SitesServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes "slow" sleepers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._refusing.close()

    # -- for tests --

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def refused_url(self, path: str) -> str:
        """``path`` on a port of 127.0.0.1 where every connection is refused."""
        return f"http://127.0.0.1:{self._refusing.getsockname()[1]}/" + path.lstrip("/")

    def misbehave(self, path: str, mode: str, *, times: int | None = None, **opts) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        unknown = set(opts) - MODE_OPTIONS[mode]
        if unknown:
            raise ValueError(f"mode {mode!r} takes {sorted(MODE_OPTIONS[mode])}, not {sorted(unknown)}")
        if mode == "flaky":
            times = int(opts.get("fails", 1))
        if mode == "replace" and not isinstance(opts.get("body"), bytes):
            raise ValueError("replace needs body=<bytes>")
        if mode == "redirect" and "to" not in opts:
            raise ValueError("redirect needs to=<path or URL>")
        if mode == "bomb":
            fault_bodies.gzip_bomb(int(opts.get("size", 50_000_000)))  # compressed now, not while a client waits
        with self._lock:
            self._misbehaviours[_key(path)] = _Misbehaviour(mode, opts, times)

    def touch(self, path: str) -> None:
        """Change what ``path`` serves without changing what it means: one more newline at
        the end (new ETag and digest), so the next conditional request reads it in full."""
        with self._lock:
            key = _key(path)
            self._touched[key] = self._touched.get(key, 0) + 1

    def behave(self, path: str | None = None) -> None:
        with self._lock:
            if path is None:
                self._misbehaviours.clear()
            else:
                self._misbehaviours.pop(_key(path), None)

    def requests_for(self, path: str) -> list[LoggedRequest]:
        key = _key(path)
        with self._lock:
            return [r for r in self.requests if r.path == key]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_concurrent = 0

    # -- for the handler --

    def _begin(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(entry)
            self._in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self._in_flight)

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _take_misbehaviour(self, path: str, query: str = "") -> _Misbehaviour | None:
        with self._lock:
            bad = self._misbehaviours.get(f"{path}?{query}") if query else None
            bad = bad or self._misbehaviours.get(path)
            if bad is None:
                return None
            if bad.times is not None and bad.count >= bad.times:
                return None
            bad.count += 1
            return bad

    def _body_of(self, file: Path, path: str) -> bytes:
        """The file's bytes as served: ``{{BASE_URL}}`` replaced, and the newlines of ``touch``."""
        body = file.read_bytes().replace(BASE_URL_PLACEHOLDER, self.base_url.encode("ascii"))
        with self._lock:
            return body + b"\n" * self._touched.get(path, 0)

    def _resolve(self, path: str, query: str) -> Path | None:
        root = self.root.resolve()
        rel = path.lstrip("/")
        candidates = []
        if query:
            candidates.append(rel + "?" + query)
        candidates.append(rel)
        for c in candidates:
            p = (root / c).resolve()
            if p != root and root not in p.parents:
                continue  # no escaping the root
            if p.is_dir():  # a directory URL such as WordPress's /feed/ serves its index file
                p = next((p / n for n in ("index.html", "index.xml", "index.ics", "index.json") if (p / n).is_file()), p / "index.html")
            if p.is_file():
                return p
        return None


def _key(path: str) -> str:
    """The path a misbehaviour is for; with a query (``/events/?page=2``) only that query's requests."""
    split = urlsplit(path)
    key = "/" + unquote(split.path).lstrip("/")
    return f"{key}?{split.query}" if split.query else key


@pytest.fixture
def sites_server():
    """A fresh server per test, so misbehaviour never leaks between tests."""
    server = SitesServer().start()
    try:
        yield server
    finally:
        server.stop()

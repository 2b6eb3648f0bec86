"""The synthetic internet's web server: serves ``<world>/sites`` on 127.0.0.1 in its own process.

    python -m bench.server --root bench/work/thuringia/sites --port 8099

One asyncio process (HTTP/1.1 with keep-alive, no framework), so a thousand sites
fetched at once cost the server little and it never answers for the product's
process. What a site sends:

- ``/<site>/<path>``: the file ``<root>/<site>/<path>``; a query string is tried as
  part of the file name first (``termine.html?page=2``, ``events/?page=2``), a
  folder serves its ``index.html`` / ``index.json`` / ``index.xml`` / ``index.ics``;
- validators per site, from ``<root>/_server.json`` (``{"validators": {site: mode}}``):
  ``etag`` (ETag from the file's mtime and size, as nginx makes it, plus
  Last-Modified; 304 to If-None-Match, else to If-Modified-Since), ``lm``
  (Last-Modified only; 304 to If-Modified-Since) or ``none`` (neither, and
  conditional requests are answered with the full body, as many CMS do);
- ``/robots.txt``: allows everything but ``/wp-admin/``, as most sites do.

Control (for the harness): ``/_bench/mode?validators=site|all|none`` sets the mode of
every site (``site``: each its own; ``all``: every site ``etag``; ``none``: no
site sends validators); ``/_bench/stats`` answers counts of requests, statuses and
bytes; ``/_bench/reset`` zeroes them. Files are read from disk when their mtime or
size changed, so a world changed by ``python -m bench.synth --mutate`` is served
at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote

CONTENT_TYPES = {
    ".ics": "text/calendar; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=UTF-8",
}
INDEX = ("index.html", "index.json", "index.xml", "index.ics")
ROBOTS = b"User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n"
MAX_HEADER_LINES = 100


class Sites:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.mode = "site"
        self.stats: Counter = Counter()
        self._cache: dict[Path, tuple[int, int, bytes]] = {}
        self._validators: dict[str, str] = {}
        self._validators_stamp = None

    def validators(self, site: str) -> str:
        if self.mode == "all":
            return "etag"
        if self.mode == "none":
            return "none"
        manifest = self.root / "_server.json"
        try:
            stamp = manifest.stat().st_mtime_ns
        except FileNotFoundError:
            return "etag"
        if stamp != self._validators_stamp:
            self._validators = json.loads(manifest.read_text())["validators"]
            self._validators_stamp = stamp
        return self._validators.get(site, "etag")

    def find(self, path: str, query: str) -> Path | None:
        rel = unquote(path).lstrip("/")
        if any(part in ("..", "") for part in rel.rstrip("/").split("/")) and rel:
            return None
        fs = self.root / rel
        candidates = []
        if rel == "" or rel.endswith("/") or fs.is_dir():
            if query:
                candidates.append(fs / f"?{query}")
            candidates += [fs / name for name in INDEX]
        else:
            if query:
                candidates.append(fs.with_name(f"{fs.name}?{query}"))
            candidates.append(fs)
        for c in candidates:
            if c.is_file():
                return c
        return None

    def read(self, file: Path, st: os.stat_result) -> bytes:
        hit = self._cache.get(file)
        if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
            return hit[2]
        data = file.read_bytes()
        self._cache[file] = (st.st_mtime_ns, st.st_size, data)
        return data

    def respond(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        path, _, query = target.partition("?")
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, ROBOTS
        if path.startswith("/_bench/"):
            return self.control(path, query)
        file = self.find(path, query)
        if file is None:
            return 404, {"Content-Type": "text/html; charset=utf-8"}, b"<!DOCTYPE html><title>404</title><h1>Seite nicht gefunden</h1>"
        site = path.lstrip("/").split("/", 1)[0]
        mode = self.validators(site)
        st = file.stat()
        out = {"Content-Type": _content_type(file)}
        if mode in ("etag", "lm"):
            out["Last-Modified"] = formatdate(st.st_mtime, usegmt=True)
        if mode == "etag":
            etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
            out["ETag"] = etag
            inm = headers.get("if-none-match")
            if inm is not None:
                if inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]:
                    return 304, out, b""
            elif _not_modified_since(headers.get("if-modified-since"), st.st_mtime):
                return 304, out, b""
        elif mode == "lm" and _not_modified_since(headers.get("if-modified-since"), st.st_mtime):
            return 304, out, b""
        return 200, out, self.read(file, st)

    def control(self, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        plain = {"Content-Type": "application/json"}
        if path == "/_bench/mode":
            mode = parse_qs(query).get("validators", [""])[0]
            if mode not in ("site", "all", "none"):
                return 400, plain, b'{"error": "validators=site|all|none"}'
            self.mode = mode
            return 200, plain, json.dumps({"mode": mode}).encode()
        if path == "/_bench/stats":
            return 200, plain, json.dumps(dict(self.stats)).encode()
        if path == "/_bench/reset":
            self.stats.clear()
            return 200, plain, b"{}"
        return 404, plain, b"{}"


def _content_type(file: Path) -> str:
    name = file.name.split("?", 1)[0]
    return CONTENT_TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")


def _not_modified_since(value: str | None, mtime: float) -> bool:
    if not value:
        return False
    try:
        return int(mtime) <= parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return False


REASONS = {200: "OK", 304: "Not Modified", 400: "Bad Request", 404: "Not Found"}


async def handle(sites: Sites, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                method, target, version = line.decode("latin-1").split()
            except ValueError:
                break
            headers: dict[str, str] = {}
            for _ in range(MAX_HEADER_LINES):
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            status, out, body = sites.respond(method, target, headers)
            if not target.startswith("/_bench/"):
                sites.stats["requests"] += 1
                sites.stats[f"status_{status}"] += 1
                sites.stats["robots" if target == "/robots.txt" else "documents"] += 1
                sites.stats["bytes"] += len(body) if method != "HEAD" and status == 200 else 0
            head = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}", f"Date: {formatdate(usegmt=True)}", "Server: bench-sites"]
            head += [f"{k}: {v}" for k, v in out.items()]
            if status != 304:
                head.append(f"Content-Length: {len(body)}")
            head.append("Connection: keep-alive" if keep else "Connection: close")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            if method != "HEAD" and status != 304:
                writer.write(body)
            await writer.drain()
            if not keep:
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def serve(root: Path, host: str, port: int, ready_file: Path | None) -> None:
    sites = Sites(root)
    server = await asyncio.start_server(lambda r, w: handle(sites, r, w), host, port, backlog=4096, limit=1 << 16)
    bound = server.sockets[0].getsockname()[1]
    if ready_file:
        ready_file.write_text(str(bound))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.server", description="serve a synthetic world's sites on 127.0.0.1")
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"], help="loopback only")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file", type=Path, help="written with the bound port once the server listens")
    args = ap.parse_args(argv)
    asyncio.run(serve(args.root, args.host, args.port, args.ready_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

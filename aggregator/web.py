"""The HTTP side of ``serve``: the calendars (merged, filtered, per network,
conflicts) with ETag / Last-Modified / 304, the sources' status and a
liveness probe; the admin actions (``web_admin.py``) when a token is set.

Calendars are never compressed, whatever the client asks for: Outlook.com
has been seen to show an empty calendar for a gzip-compressed feed. Other
responses (JSON) are gzipped when the client accepts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aggregator.config import ENV_ADMIN_TOKEN, Config, Deployment
from aggregator.feeds import Filters, UnknownNetwork, conflicts_calendar, filtered_calendar, parse_filters
from aggregator.pipeline import publish
from aggregator.published_view import PublishedView
from aggregator.status import source_rows
from aggregator.web_admin import admin_routes
from aggregator.web_api import api_routes
from aggregator.web_page import page_routes
from aggregator.web_ops import ops_routes
from aggregator.store import Store

ICS_TYPE = "text/calendar; charset=utf-8"

log = logging.getLogger(__name__)


def create_app(config: Config, deployment: Deployment, store: Store, *, scheduler=None,
               clock: Callable[[], datetime] | None = None, admin_token: str | None = None) -> Starlette:
    """The app; ``clock`` (default: now, UTC) decides what is upcoming in rendered calendars;
    ``admin_token`` (default: none) enables the admin endpoints of ``web_admin``."""
    calendar_path = deployment.public_dir / "calendar.ics"
    now = clock or (lambda: datetime.now(timezone.utc))
    view = PublishedView(config, store, calendar_path)  # readers never write; the scheduler does

    def published_mtime() -> datetime | None:
        try:
            return datetime.fromtimestamp(int(calendar_path.stat().st_mtime), timezone.utc)
        except FileNotFoundError:
            return None

    async def calendar(request: Request) -> Response:
        q = request.query_params
        try:
            filters = parse_filters(config, q.get("network"), q.get("category"), q.get("cancelled"))
        except UnknownNetwork as exc:
            return PlainTextResponse(exc.args[0] + "\n", status_code=404)
        except ValueError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        if filters.empty:
            if not calendar_path.exists():
                publish(config, store, deployment)
            data = calendar_path.read_bytes()
            return _calendar_response(request, data, published_mtime())
        return _rendered(request, *filtered_calendar(config, view.items(now()), filters))

    async def network_calendar(request: Request) -> Response:
        network = request.path_params["network"]
        if network not in config.networks:
            known = ", ".join(sorted(config.networks))
            return PlainTextResponse(f"unknown network: {network!r}; known: {known}\n", status_code=404)
        return _rendered(request, *filtered_calendar(config, view.items(now()), Filters(networks=(network,))))

    async def conflicts(request: Request) -> Response:
        at = now()
        return _rendered(request, *conflicts_calendar(config, store, view.items(at), at))

    def _rendered(request: Request, data: bytes, newest: datetime | None) -> Response:
        # Last-Modified: the newest entry, or the published file if it changed later
        # (an entry that left the view leaves no timestamp of its own behind).
        stamps = [t for t in (newest, published_mtime()) if t is not None]
        modified = max(stamps) if stamps else datetime(2000, 1, 1, tzinfo=timezone.utc)
        return _calendar_response(request, data, modified.replace(microsecond=0))

    async def status(request: Request) -> Response:
        return JSONResponse({"sources": source_rows(config, store.source_states())})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if not calendar_path.exists():
            publish(config, store, deployment)  # a valid (maybe empty) calendar from the first second
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()

    routes = [
        Route("/calendar.ics", calendar, methods=["GET", "HEAD"]),
        Route("/networks/{network}.ics", network_calendar, methods=["GET", "HEAD"]),
        Route("/conflicts.ics", conflicts, methods=["GET", "HEAD"]),
        Route("/status", status),
        Route("/healthz", healthz),
        *api_routes(config, store, view, now),
        *page_routes(config, store, view, now),
        *ops_routes(config, deployment, store, view, now),
        *admin_routes(config, deployment, store, scheduler, admin_token),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(NoCalendarGZip, minimum_size=500)])


class NoCalendarGZip(GZipMiddleware):
    """gzip for everything but calendars (``*.ics``), which always go out uncompressed."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].endswith(".ics"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _calendar_response(request: Request, data: bytes, modified: datetime | None) -> Response:
    """``data`` as text/calendar with ETag (from the bytes), Last-Modified, or 304."""
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    modified = modified or datetime(2000, 1, 1, tzinfo=timezone.utc)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": "public, max-age=300",
    }
    if _not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=ICS_TYPE, headers=headers)


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*"
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            return modified <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def serve(config: Config, deployment: Deployment, *, host: str, port: int) -> None:
    """Run the scheduler and the HTTP server until SIGINT/SIGTERM, then stop cleanly and return.

    On the signal the scheduler starts nothing new and a running refresh abandons its
    fetches (``RefreshScheduler.stop_taking_jobs``); uvicorn stops accepting
    connections and finishes the open requests; the lifespan's end waits for the job
    still running. Returning (exit status 0) means all of that is done. Logging is
    the caller's (``aggregator.logs``): uvicorn's loggers propagate to it.
    """
    from aggregator.logs import redact_url
    from aggregator.scheduler import RefreshScheduler

    store = Store(deployment.database_url)
    store.migrate()
    scheduler = RefreshScheduler(config, store, deployment)
    token = os.environ.get(ENV_ADMIN_TOKEN) or None
    app = create_app(config, deployment, store, scheduler=scheduler, admin_token=token)
    log.info("serving on %s:%d", host, port, extra={
        "event": "serve.start", "host": host, "port": port, "config": str(deployment.config_path),
        "data_dir": str(deployment.data_dir), "database": redact_url(deployment.database_url),
        "sources": sum(1 for s in config.sources if s.enabled), "admin_endpoints": bool(token)})
    server = _Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=True), scheduler.stop_taking_jobs)
    server.run()
    log.info("stopped", extra={"event": "serve.stop"})


class _Server(uvicorn.Server):
    """uvicorn's server; a SIGTERM/SIGINT first tells the scheduler to stop (``on_signal``),
    and the clean shutdown that follows ends the process with status 0 instead of
    re-raising the signal as uvicorn does."""

    def __init__(self, config, on_signal: Callable[[], None]):
        super().__init__(config)
        self._on_signal = on_signal

    def handle_exit(self, sig, frame) -> None:
        self._on_signal()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

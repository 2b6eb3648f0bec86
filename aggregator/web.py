"""The HTTP side of ``serve``: the merged feed with ETag / Last-Modified / 304,
the sources' status and a liveness probe."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aggregator.config import Config, Deployment
from aggregator.pipeline import publish
from aggregator.status import source_rows
from aggregator.store import Store

ICS_TYPE = "text/calendar; charset=utf-8"


def create_app(config: Config, deployment: Deployment, store: Store, *, scheduler=None) -> Starlette:
    calendar_path = deployment.public_dir / "calendar.ics"

    async def calendar(request: Request) -> Response:
        if not calendar_path.exists():
            publish(config, store, deployment)
        data = calendar_path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        modified = datetime.fromtimestamp(int(calendar_path.stat().st_mtime), timezone.utc)
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(modified, usegmt=True),
            "Cache-Control": "public, max-age=300",
        }
        if _not_modified(request, etag, modified):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=ICS_TYPE, headers=headers)

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
        Route("/status", status),
        Route("/healthz", healthz),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


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
    """Run the scheduler and the HTTP server until SIGINT/SIGTERM."""
    import uvicorn

    from aggregator.scheduler import RefreshScheduler

    store = Store(deployment.database_url)
    store.migrate()
    app = create_app(config, deployment, store, scheduler=RefreshScheduler(config, store, deployment))
    uvicorn.run(app, host=host, port=port, log_level="info")

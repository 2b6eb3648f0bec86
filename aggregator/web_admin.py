"""Admin actions over HTTP, behind a token: the CLI's ``refresh`` and ``sources accept``.

``admin_routes(config, deployment, store, scheduler, token)`` returns the routes, or
none when ``token`` is empty (then ``/admin/…`` is 404 like any unknown path and
admin actions are the CLI's alone). ``create_app`` mounts them; ``serve`` takes the
token from ``NETZWERKTIMER_ADMIN_TOKEN``.

- ``POST /admin/refresh`` (``?source=ID``, repeatable: only these, disabled ones
  too; default: every enabled source) refreshes now and answers 200 with what
  happened, as JSON: ``{"sources": [{"id", "outcome", "http_status", "events",
  "error", "warnings"}], "published": bool}``.
- ``POST /admin/sources/{id}/accept`` does what ``netzwerktimer sources accept ID``
  does: 200 ``{"source", "accepted": false, ...}`` when the source is not held as
  suspicious, else ``"accepted": true`` and the refresh's result as above.

Both run synchronously under the scheduler's refresh lock (``run_exclusive``): a
scheduled refresh that is running is waited for (up to ``LOCK_WAIT`` seconds, then
409); while the service shuts down they answer 503. The token comes as
``Authorization: Bearer <token>`` and is compared in constant time; a missing or
wrong one is 401 with ``WWW-Authenticate: Bearer`` (before anything else is looked
at, so an unknown source is 404 only for someone holding the token). Other methods
are 405; an unknown source id is 404.
"""

from __future__ import annotations

import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.config import Config, Deployment
from aggregator.pipeline import RefreshReport, accept, refresh, select_sources
from aggregator.scheduler import Busy, RefreshScheduler, Stopping
from aggregator.store import Store

log = logging.getLogger(__name__)

LOCK_WAIT = 120.0  # seconds an admin action waits for a running scheduled refresh
REALM = "netzwerktimer-admin"


def admin_routes(config: Config, deployment: Deployment, store: Store, scheduler: RefreshScheduler | None,
                 token: str | None) -> list[Route]:
    """The admin routes when ``token`` is set, else none. Without a running scheduler (tests,
    an app without one) the actions still take a refresh lock of their own."""
    if not token:
        return []
    runner = scheduler or RefreshScheduler(config, store, deployment)
    expected = token.encode("utf-8")

    def authorized(request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8"), expected)

    async def run(action, what: str) -> Response:
        try:
            report = await run_in_threadpool(runner.run_exclusive, action, wait=LOCK_WAIT)
        except Busy:
            return _error(409, f"a refresh has been running for over {LOCK_WAIT:.0f} s; try again later", {"Retry-After": "60"})
        except Stopping:
            return _error(503, "the service is shutting down")
        if isinstance(report, RefreshReport) and report.stopped:
            return _error(503, "the service is shutting down; nothing was stored")
        log.info("admin %s", what, extra={"event": "admin", "action": what})
        return JSONResponse(report)

    async def refresh_now(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized(request)
        try:
            sources = select_sources(config, request.query_params.getlist("source"))
        except KeyError as exc:
            return _error(404, exc.args[0])

        def action(stop):
            report = refresh(config, store, deployment, sources, stop=stop)
            return report if report.stopped else report_json(report)

        return await run(action, "refresh")

    async def accept_source(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized(request)
        source_id = request.path_params["source_id"]
        try:
            source = config.source(source_id)
        except KeyError:
            return _error(404, f"unknown source id: {source_id}")

        def action(stop):
            report = accept(config, store, deployment, source, stop=stop)
            if report is None:
                return {"source": source.id, "accepted": False, "message": f"{source.id} is not held as suspicious; nothing to accept"}
            if report.stopped:
                return report
            return {"source": source.id, "accepted": True, **report_json(report)}

        return await run(action, f"accept {source.id}")

    return [
        Route("/admin/refresh", refresh_now, methods=["POST"]),
        Route("/admin/sources/{source_id}/accept", accept_source, methods=["POST"]),
    ]


def report_json(report: RefreshReport) -> dict:
    """A refresh's result as JSON: per source id, outcome, HTTP status, events, error, warning count."""
    return {
        "sources": [
            {"id": r.source_id, "outcome": r.outcome, "http_status": r.http_status, "events": r.events,
             "error": r.error, "warnings": len(r.warnings)}
            for r in report.sources
        ],
        "published": report.published,
    }


def _error(status: int, message: str, headers: dict | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _unauthorized(request: Request) -> Response:
    given = "authorization" in request.headers
    challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if given else "")
    return _error(401, "a valid admin token is required (Authorization: Bearer <token>)", {"WWW-Authenticate": challenge})

"""The operator's endpoints of ``serve``: ``/metrics`` (Prometheus text format) and
``/readyz`` (readiness).

``ops_routes(config, deployment, store, clock)`` returns the routes; ``create_app``
mounts them. Every metric is computed from the database at scrape time (a collector
in a ``CollectorRegistry`` of this app's own, never the process-global one), so
several apps in one process (tests) never share or double-register anything:

- ``netzwerktimer_fetches_total{outcome}``: logged fetches by outcome
  (``fetched``, ``not_modified``, ``unchanged``, ``error``)
- ``netzwerktimer_events_published``: events in the published calendar
- ``netzwerktimer_conflicts_open``: tracked conflicts not resolved (acknowledged ones
  included), as of the last recorded detection (each scheduled refresh, the digest, the
  ``conflicts`` command); the scrape itself writes nothing
- ``netzwerktimer_sources{state}``: configured sources by state: ``ok``, ``error``
  (the last fetch failed), ``suspicious`` (held back), ``never`` (not fetched yet)
- ``netzwerktimer_last_digest_sent_timestamp_seconds``: when a digest was last sent
  (no sample until the first one)

``/readyz`` is 200 ``ready`` when the database answers ``SELECT 1`` and the published
calendar exists (it is published on the spot if it does not); otherwise 503 with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from aggregator.config import Config, Deployment
from aggregator.published_view import PublishedView
from aggregator.pipeline import publish
from aggregator.status import source_rows
from aggregator.store import Store

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FETCH_OUTCOMES = ("fetched", "not_modified", "unchanged", "error")
SOURCE_STATES = ("ok", "error", "suspicious", "never")


def source_state(row: dict) -> str:
    """One ``source_rows`` row as ``ok``, ``error``, ``suspicious`` or ``never``."""
    if row["suspicious"]:
        return "suspicious"
    if row["outcome"] is None:
        return "never"
    return "error" if row["outcome"] == "error" else "ok"


class _StoreCollector:
    """Reads the store on every ``collect`` (i.e. every scrape)."""

    def __init__(self, config: Config, store: Store, view: PublishedView, now: Callable[[], datetime]):
        self.config, self.store, self.view, self.now = config, store, view, now

    def describe(self):
        return []  # nothing is read at registration time

    def collect(self):
        fetches = CounterMetricFamily("netzwerktimer_fetches", "Logged fetches by outcome.", labels=["outcome"])
        counts = self.store.fetch_outcome_counts()
        for outcome in sorted(set(FETCH_OUTCOMES) | set(counts)):
            fetches.add_metric([outcome], counts.get(outcome, 0))
        yield fetches

        yield GaugeMetricFamily("netzwerktimer_events_published", "Events in the published calendar.",
                                value=len(self.view.items(self.now())))

        open_conflicts = sum(1 for c in self.store.conflicts() if c["resolved_at"] is None)
        yield GaugeMetricFamily("netzwerktimer_conflicts_open", "Conflicts not resolved (acknowledged ones included).", value=open_conflicts)

        sources = GaugeMetricFamily("netzwerktimer_sources", "Configured sources by state.", labels=["state"])
        states = [source_state(r) for r in source_rows(self.config, self.store.source_states())]
        for state in SOURCE_STATES:
            sources.add_metric([state], states.count(state))
        yield sources

        digest = GaugeMetricFamily("netzwerktimer_last_digest_sent_timestamp_seconds", "Unix time the last digest was sent (no sample: never).")
        sent = self.store.last_digest_sent_any()
        if sent is not None:
            if sent.tzinfo is None:
                sent = sent.replace(tzinfo=timezone.utc)
            digest.add_metric([], sent.timestamp())
        yield digest


def ops_routes(config: Config, deployment: Deployment, store: Store, view: PublishedView,
               clock: Callable[[], datetime] | None = None) -> list[Route]:
    """``/metrics`` and ``/readyz``; ``clock`` (default: now, UTC) is "now" for what is published."""
    now = clock or (lambda: datetime.now(timezone.utc))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(config, store, view, now))
    calendar_path = deployment.public_dir / "calendar.ics"

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=METRICS_TYPE)

    async def readyz(request: Request) -> Response:
        try:
            store.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            return _not_ready(f"database does not answer: {_reason(exc)}")
        if not calendar_path.exists():
            try:
                publish(config, store, deployment)
            except Exception as exc:  # noqa: BLE001
                return _not_ready(f"calendar {calendar_path} is missing and cannot be published: {_reason(exc)}")
        return PlainTextResponse("ready\n")

    return [
        Route("/metrics", metrics),
        Route("/readyz", readyz),
    ]


def _not_ready(reason: str) -> Response:
    return PlainTextResponse(f"not ready: {reason}\n", status_code=503)


def _reason(exc: Exception) -> str:
    """The exception's type and first line (SQLAlchemy appends the SQL and a help link)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}".rstrip(": ")

"""Refresh every source on its own interval (APScheduler), inside ``serve``.

One job ticks regularly and refreshes, together, the sources that are due:
never fetched, or last fetched longer ago than their refresh interval plus a
small per-source jitter (so 24 sources do not hit the network in one second
every time). Due-ness is read from the database, so a restart continues the
rhythm instead of fetching everything again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from aggregator.config import Config, Deployment, Source
from aggregator.pipeline import refresh
from aggregator.store import SourceState, Store

log = logging.getLogger(__name__)


def jitter(source: Source, interval: timedelta) -> timedelta:
    """A stable offset of up to 10 % of the interval (at most 5 minutes) for this source."""
    span = min(interval.total_seconds() * 0.1, 300.0)
    fraction = int(hashlib.sha256(source.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return timedelta(seconds=span * fraction)


def due_sources(config: Config, states: dict[str, SourceState], now: datetime) -> list[Source]:
    """The enabled sources whose next refresh time has come."""
    due = []
    for s in config.sources:
        if not s.enabled:
            continue
        st = states.get(s.id)
        interval = config.refresh_of(s)
        if st is None or st.last_fetch_at is None or st.last_fetch_at + interval + jitter(s, interval) <= now:
            due.append(s)
    return due


def tick_interval(config: Config) -> timedelta:
    """How often to look for due sources: a quarter of the shortest interval, 1 s to 60 s."""
    shortest = min((config.refresh_of(s) for s in config.sources if s.enabled), default=timedelta(minutes=4))
    return max(timedelta(seconds=1), min(timedelta(seconds=60), shortest / 4))


class RefreshScheduler:
    """Owns the APScheduler instance; ``tick`` never raises into it."""

    def __init__(self, config: Config, store: Store, deployment: Deployment):
        self.config, self.store, self.deployment = config, store, deployment
        self._scheduler = BackgroundScheduler(timezone=config.settings.timezone)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=tick_interval(self.config).total_seconds(),
            next_run_time=datetime.now(timezone.utc),
            max_instances=1,
            coalesce=True,
            id="refresh-tick",
        )
        self._scheduler.start()

    def shutdown(self) -> None:
        self._scheduler.shutdown(wait=True)

    def tick(self) -> None:
        if not self._lock.acquire(blocking=False):
            return
        try:
            now = datetime.now(timezone.utc)
            due = due_sources(self.config, self.store.source_states(), now)
            if due:
                report = refresh(self.config, self.store, self.deployment, due, now=now)
                for r in report.sources:
                    log.info("refreshed %s: %s%s", r.source_id, r.outcome, f" ({r.error})" if r.error else "")
        except Exception:
            log.exception("scheduled refresh failed; will try again on the next tick")
        finally:
            self._lock.release()

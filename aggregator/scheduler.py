"""Refresh every source on its own interval (APScheduler), inside ``serve``.

One job ticks regularly and refreshes, together, the sources that are due:
never fetched, or last fetched longer ago than their refresh interval plus a
small per-source jitter (so 24 sources do not hit the network in one second
every time). Due-ness is read from the database, so a restart continues the
rhythm instead of fetching everything again.

A failing source backs off: after n consecutive failed fetches its next
refresh waits interval × 2^(n−1), at most 24 hours; one success resets it.

The nightly digest runs at ``[digest] send_at`` (local time in
``settings.timezone``) and once at start-up: if today's send time has passed
and today's digest has not been done yet (e.g. the service was down at 06:00),
it is caught up. ``run_digest`` sends each (night, recipient) at most once.

The scheduler is the only writer in ``serve`` (the web only reads), and one lock
serialises its writers: a refresh (with publish and the conflicts' lifecycle),
the digest and admin actions over HTTP (``run_exclusive``) never run together.

Stopping (SIGTERM): ``stop_taking_jobs`` (called from the signal handler) makes
every later tick and digest check return at once and tells a running refresh to
abandon its fetches (nothing of it is stored) and a running digest to send to no
further recipient; ``shutdown`` then waits for the job that is running to end.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time as clock
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from aggregator.config import Config, Deployment, Source
from aggregator.conflict_report import detect
from aggregator.digest_job import DigestOutcome, recipients, run_digest
from aggregator.pipeline import refresh
from aggregator.store import SourceState, Store
from aggregator.store.writer_lock import WriterLock

log = logging.getLogger(__name__)


class Busy(Exception):
    """Another refresh held the lock for longer than the caller would wait."""


class Stopping(Exception):
    """The service is shutting down and starts nothing new."""


def jitter(source: Source, interval: timedelta) -> timedelta:
    """A stable offset of up to 10 % of the interval (at most 5 minutes) for this source."""
    span = min(interval.total_seconds() * 0.1, 300.0)
    fraction = int(hashlib.sha256(source.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return timedelta(seconds=span * fraction)


MAX_BACKOFF = timedelta(hours=24)
# Seconds the nightly digest waits for another process writing to the database (then: again in 15 minutes).
DIGEST_WRITER_WAIT = 60.0


def backoff(interval: timedelta, failures: int) -> timedelta:
    """The wait after ``failures`` consecutive failed fetches: interval × 2^(failures−1), at most 24 h
    (never less than the interval itself)."""
    if failures <= 1:
        return interval
    cap = max(interval, MAX_BACKOFF)
    if failures > 40:  # 2^40 × anything sensible is far beyond the cap
        return cap
    return min(interval * (2 ** (failures - 1)), cap)


def due_sources(config: Config, states: dict[str, SourceState], now: datetime,
                failures: dict[str, int] | None = None) -> list[Source]:
    """The enabled sources whose next refresh time has come.

    ``failures``: source id → consecutive failed fetches (most recent first, until a
    success); a failing source waits ``backoff(interval, n)`` instead of its interval.
    """
    failures = failures or {}
    due = []
    for s in config.sources:
        if not s.enabled:
            continue
        st = states.get(s.id)
        interval = config.refresh_of(s)
        wait = backoff(interval, failures.get(s.id, 0))
        if st is None or st.last_fetch_at is None or st.last_fetch_at + wait + jitter(s, interval) <= now:
            due.append(s)
    return due


def consecutive_failures(outcomes: list[str]) -> int:
    """How many of the newest outcomes (newest first) are errors, up to the first success."""
    n = 0
    for outcome in outcomes:
        if outcome != "error":
            break
        n += 1
    return n


def failure_counts(store: Store, states: dict[str, SourceState]) -> dict[str, int]:
    """source id → consecutive failed fetches, read from ``fetch_log`` for the sources whose
    last fetch failed (the others have none)."""
    return {
        sid: consecutive_failures([row.outcome for row in store.fetch_log(sid)])
        for sid, st in states.items()
        if st.last_outcome == "error"
    }


def send_time(send_at: str) -> time:
    hours, minutes = send_at.split(":")
    return time(int(hours), int(minutes))


def digest_due(now: datetime, send_at: time, zone: ZoneInfo, last_attempted_night: date | None) -> date | None:
    """The night whose digest should be sent now, or None.

    The night is today's local date; it is due once today's ``send_at`` (local wall
    time; a time skipped by the DST change counts as the moment right after the gap,
    a repeated one as its first occurrence) has passed and that night has not been
    attempted. A digest missed for a whole day is not sent after midnight: the next
    night's comes at its own time.
    """
    local = now.astimezone(zone)
    today = local.date()
    moment = datetime.combine(today, send_at, tzinfo=zone)  # fold=0
    if now.astimezone(timezone.utc) < moment.astimezone(timezone.utc):
        return None
    if last_attempted_night is not None and last_attempted_night >= today:
        return None
    return today


def tick_interval(config: Config) -> timedelta:
    """How often to look for due sources: a quarter of the shortest interval, 1 s to 60 s."""
    shortest = min((config.refresh_of(s) for s in config.sources if s.enabled), default=timedelta(minutes=4))
    return max(timedelta(seconds=1), min(timedelta(seconds=60), shortest / 4))


class RefreshScheduler:
    """Owns the APScheduler instance; ``tick`` never raises into it."""

    def __init__(self, config: Config, store: Store, deployment: Deployment,
                 clock: Callable[[], datetime] | None = None):
        """``clock`` (default: now, UTC) is "now" for what a tick refreshes, publishes and detects."""
        self.config, self.store, self.deployment = config, store, deployment
        self._now = clock or (lambda: datetime.now(timezone.utc))
        self._scheduler = BackgroundScheduler(timezone=config.settings.timezone)
        # One lock for every writer (refresh + publish + conflict lifecycle, digest):
        # the web only reads, so nothing else in the process writes. Whoever holds it also
        # takes the database's writer lock, so another process (a CLI refresh) takes turns too.
        self._lock = threading.Lock()
        self._writer = WriterLock(deployment.database_url)
        self._digest_lock = self._lock
        self._stop = threading.Event()
        self._zone = ZoneInfo(config.settings.timezone)
        self._send_at = send_time(config.digest.send_at)
        self.last_attempted_night: date | None = None

    def start(self) -> None:
        if recipients(self.config):
            self.last_attempted_night = self._night_done_in_store(datetime.now(timezone.utc))
            self._scheduler.add_job(
                self.digest_check,
                "cron",
                hour=self._send_at.hour,
                minute=self._send_at.minute,
                timezone=self._zone,
                next_run_time=datetime.now(timezone.utc),  # the start-up check: catch up after downtime
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
                id="digest",
            )
        else:
            log.info("no digest recipients: the nightly digest is off")
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

    def stop_taking_jobs(self) -> None:
        """Start nothing new; a running refresh abandons its fetches, a running digest sends no further mail.
        Safe to call from a signal handler (it only sets an event)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def shutdown(self) -> None:
        """Stop taking jobs, then wait until the running job (refresh, digest) has ended."""
        self.stop_taking_jobs()
        if self._scheduler.running:
            started = clock.perf_counter()
            self._scheduler.shutdown(wait=True)
            log.info("scheduler stopped", extra={"event": "scheduler.stop", "duration_s": round(clock.perf_counter() - started, 3)})
        self._writer.close()

    def run_exclusive(self, action: Callable[[threading.Event], object], *, wait: float = 300.0):
        """``action(stop_event)`` under the refresh lock, so it never runs beside a scheduled refresh.

        Waits up to ``wait`` seconds for a running refresh; raises ``Busy`` when it is still
        running then, ``Stopping`` when the service is shutting down (before or while waiting).
        """
        if self._stop.is_set():
            raise Stopping()
        deadline = clock.monotonic() + wait
        while not self._lock.acquire(timeout=0.2):
            if self._stop.is_set():
                raise Stopping()
            if clock.monotonic() >= deadline:
                raise Busy()
        try:
            if not self._writer.acquire(max(deadline - clock.monotonic(), 0.0)):
                raise Busy()  # another process (a CLI refresh) is writing
            try:
                if self._stop.is_set():
                    raise Stopping()
                return action(self._stop)
            finally:
                self._writer.release()
        finally:
            self._lock.release()

    def tick(self) -> None:
        if self._stop.is_set() or not self._lock.acquire(blocking=False):
            return
        writing = False
        try:
            if self._stop.is_set():
                return
            writing = self._writer.acquire(0)
            if not writing:
                log.info("another process is writing to the database; this tick refreshes nothing, the next one tries again",
                         extra={"event": "refresh", "outcome": "busy"})
                return
            now = self._now()
            states = self.store.source_states()
            due = due_sources(self.config, states, now, failure_counts(self.store, states))
            if due:
                report = refresh(self.config, self.store, self.deployment, due, now=now, stop=self._stop)  # logs each source
                if not report.stopped and not report.publication_stands:
                    # The conflicts' lifecycle, as the web and /metrics show it, from what was just published
                    # (a publication that stands has the conflicts it had: there is nothing to record).
                    detect(self.config, self.store, now, published=report.publication)
        except Exception as exc:
            log.exception("scheduled refresh failed; will try again on the next tick",
                          extra={"event": "refresh", "outcome": "error", "error": f"{type(exc).__name__}: {exc}"})
        finally:
            if writing:
                self._writer.release()
            self._lock.release()

    # --- the nightly digest ----------------------------------------------

    def _night_done_in_store(self, now: datetime) -> date | None:
        """Today's night if every recipient already has a sent digest for it (then a restart
        need not even look); else None and the check runs ``run_digest``, which skips the sent ones."""
        today = now.astimezone(self._zone).date()
        sent = {row.recipient for row in self.store.digest_sends(today) if row.status == "sent"}
        return today if set(recipients(self.config)) <= sent else None

    def digest_check(self) -> list[DigestOutcome] | None:
        """Send tonight's digest if it is due; never raises into the scheduler.

        Failed or unfinished sends leave the night unattempted and are retried in 15 minutes.
        """
        with self._digest_lock:
            if self._stop.is_set():
                return None
            now = datetime.now(timezone.utc)
            night = digest_due(now, self._send_at, self._zone, self.last_attempted_night)
            if night is None:
                return None
            try:
                if not self._writer.acquire(DIGEST_WRITER_WAIT):
                    log.warning("digest for %s: another process is writing to the database; trying again in 15 minutes", night,
                                extra={"event": "digest", "night": night.isoformat(), "outcome": "busy"})
                    self._retry_digest(now)
                    return None
            except Exception as exc:  # the database cannot be reached: like any failed digest, retried
                log.exception("digest for %s failed; trying again in 15 minutes", night,
                              extra={"event": "digest", "night": night.isoformat(), "outcome": "error",
                                     "error": f"{type(exc).__name__}: {exc}"})
                self._retry_digest(now)
                return None
            try:
                return self._send_digest(night, now)
            finally:
                self._writer.release()

    def _send_digest(self, night: date, now: datetime) -> list[DigestOutcome] | None:
        """Tonight's digest, the writer lock held (see ``digest_check``)."""
        try:
            outcomes = run_digest(self.config, self.store, self.deployment, night, now, stop=self._stop)  # logs each send
        except Exception as exc:
            log.exception("digest for %s failed; trying again in 15 minutes", night,
                          extra={"event": "digest", "night": night.isoformat(), "outcome": "error",
                                 "error": f"{type(exc).__name__}: {exc}"})
            self._retry_digest(now)
            return None
        if self._stop.is_set():
            return outcomes  # the recipients not reached yet are caught up at the next start
        if any(o.status in ("failed", "in_progress") for o in outcomes):
            self._retry_digest(now)
        else:
            self.last_attempted_night = night
        return outcomes

    def _retry_digest(self, now: datetime) -> None:
        if self._scheduler.running:
            self._scheduler.add_job(self.digest_check, "date", run_date=now + timedelta(minutes=15),
                                    id="digest-retry", replace_existing=True)

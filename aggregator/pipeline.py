"""One refresh: fetch → extract → normalize → store → publish.

Each stage only sees its input and output. A source that fails at any stage
is recorded with its reason and never stops the others; its stored events
stay as they were.

Every source is bounded by its caps (``Config.limits_of``); a cap that is hit
is a warning of the source, listed before its other warnings, or, for
``source_timeout`` and a first page over ``max_bytes`` / ``max_html_nodes``,
its error:

- ``source_timeout``: fetching and reading the source (all its pages, detail
  pages and, for ``auto``, the probes) must end within it; else the source
  failed this run and its last good events stay (nothing half-read is stored);
- ``max_events``: at most that many events are kept per fetch (``keep_nearest``);
- ``max_occurrences``: a series with more occurrences between a week ago and the
  horizon is named (deduplication and conflicts use its first ones);
- ``max_pages``, ``max_bytes``, ``max_html_nodes``: see ``aggregator.crawl``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from aggregator.config import Config, Deployment, Limits, Source
from aggregator.crawl import PageState, crawl, later_pages_changed
from aggregator.extract import ExtractContext, ExtractError, Extraction
from aggregator.fetch import ROBOTS_MAX_AGE, CacheState, Fetcher, FetchResult
from aggregator.model import Event, StoredEvent
from aggregator.normalize import NormalizeError, normalize
from aggregator import collector, publication_mark
from aggregator.reading_key import reading_key
from aggregator.merge import publication, series_window
from aggregator.recurrence import over_limit
from aggregator.store import SourceState, Store, SyncResult
from aggregator.store.repo import FetchRecord
from exporters.files import write_atomic
from exporters.ics import RenderedVevents, render_calendar_parts

log = logging.getLogger(__name__)

MAX_WARNINGS = 50


@dataclass
class SourceReport:
    """What happened to one source in one refresh."""

    source_id: str
    outcome: str  # fetched | not_modified | unchanged | suspicious | error
    http_status: int | None = None
    events: int | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    sync: SyncResult | None = None
    duration_s: float | None = None  # fetching and crawling, retries and waits included


@dataclass
class RefreshReport:
    sources: list[SourceReport] = field(default_factory=list)
    published: bool = False
    stopped: bool = False  # interrupted while fetching: nothing was stored or published
    publication: list[StoredEvent] | None = None  # what was published, for the steps after it (conflicts)
    publication_stands: bool = False  # nothing the publication is made of changed: it was not computed again

    @property
    def failed(self) -> list[SourceReport]:
        return [r for r in self.sources if r.outcome == "error"]


def select_sources(config: Config, ids: list[str] | None) -> list[Source]:
    """The enabled sources, or exactly the named ones (disabled ones too, when named)."""
    if not ids:
        return [s for s in config.sources if s.enabled]
    known = {s.id: s for s in config.sources}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise KeyError(f"unknown source id(s): {', '.join(unknown)}")
    return [known[i] for i in ids]


def refresh(
    config: Config,
    store: Store,
    deployment: Deployment,
    sources: list[Source],
    *,
    now: datetime | None = None,
    publish_after: bool = True,
    stop: threading.Event | None = None,
) -> RefreshReport:
    """Fetch the given sources concurrently, store what changed, publish if anything did.

    ``stop``: when it is set while the sources are being fetched, the fetches are
    abandoned and the result is ``stopped``, with nothing stored or published (no fetch
    recorded, no file touched); once fetching is done the refresh is finished
    (storing and publishing are short), so a stop never leaves half of it behind.
    Logs one record per source (``event`` ``refresh.source``), one for the
    publication (``publish``) and one for the whole refresh (``refresh``).
    """
    # The process's earlier objects (modules, config, web app) do not become garbage because of a
    # refresh; a thousand sources' requests would otherwise have full collections walk them again.
    with collector.earlier_objects_left_alone():
        return _refresh(config, store, deployment, sources, now=now, publish_after=publish_after, stop=stop)


def _refresh(config: Config, store: Store, deployment: Deployment, sources: list[Source], *, now: datetime | None,
             publish_after: bool, stop: threading.Event | None) -> RefreshReport:
    started = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    states = store.source_states()
    keys = {s.id: reading_key(config, s) for s in sources}
    items = []
    for s in sources:
        st = states.get(s.id)
        if st and st.reading_key == keys[s.id]:
            cache = CacheState(st.etag, st.http_last_modified, st.body_digest)
            later = [PageState.from_json(p) for p in st.later_pages]
        else:  # never read, or read with other settings or code: what we have says nothing about a read now
            cache, later = None, []
        items.append((s.id, s.url, cache, later, st.auto_choice if st else None))
    robots_read: dict[str, str] = {}
    robots_known = store.robots_texts(since=now - ROBOTS_MAX_AGE) if config.settings.respect_robots_txt else {}
    gathered = asyncio.run(_until_stopped(_gather(config, sources, items, now, robots_known, robots_read), stop))
    if gathered is None:
        log.info("refresh of %d sources stopped while fetching; nothing stored", len(sources),
                 extra=_fields(event="refresh", outcome="stopped", sources=len(sources), duration_s=_since(started)))
        return RefreshReport(stopped=True)
    store.save_robots_texts(robots_read, now)
    report = RefreshReport()
    unstored: list[tuple[str, FetchRecord]] = []  # fetches that store no events: recorded together
    for source in sources:
        try:
            report.sources.append(_process(config, store, source, gathered[source.id], now, states.get(source.id), unstored,
                                           keys[source.id]))
        except Exception as exc:  # a bug must not cost the other sources their refresh
            log.exception("source %s failed unexpectedly", source.id)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            unstored.append((source.id, FetchRecord(started_at=now, outcome="error", error=reason)))
            report.sources.append(SourceReport(source.id, "error", error=reason))
        report.sources[-1].duration_s = gathered[source.id].duration_s
        _log_source(report.sources[-1])
        del gathered[source.id]  # stored: its extracted events need not stay in memory while publishing
    store.record_fetches(unstored)
    if publish_after:
        # Not only when events changed: time alone changes what is published (a vanished
        # event's grace ends, old events pass retention); publication_mark knows when.
        mark = store.publication_mark()
        if publication_mark.stands(config, mark, now) and _published_path(deployment).exists():
            report.publication_stands = True
            log.info("publication stands: nothing it is made of changed", extra=_fields(event="publish", outcome="stands"))
        else:
            report.publication = publication(config, store, now)
            report.published = publish(config, store, deployment, now=now, published=report.publication)
            publication_mark.record(config, store, mark.events_version, report.publication.valid_until)
    failed = len(report.failed)
    log.info("refreshed %d sources, %d failed", len(report.sources), failed,
             extra=_fields(event="refresh", outcome="error" if failed else "ok", sources=len(report.sources), failed=failed,
                           published=report.published if publish_after else None, duration_s=_since(started)))
    return report


def _log_source(r: SourceReport) -> None:
    """One structured record for one source's refresh (WARNING when it failed or was held back)."""
    level = logging.WARNING if r.outcome in ("error", "suspicious") else logging.INFO
    sync = r.sync
    log.log(level, "source %s: %s%s", r.source_id, r.outcome, f" ({r.error})" if r.error else "",
            extra=_fields(event="refresh.source", source=r.source_id, outcome=r.outcome, http_status=r.http_status,
                          events=r.events, added=sync and sync.added, updated=sync and sync.updated, gone=sync and sync.gone,
                          warnings=len(r.warnings) or None, duration_s=r.duration_s, error=r.error))


def _fields(**fields) -> dict:
    """Context fields for a log record, without the empty ones."""
    return {k: v for k, v in fields.items() if v is not None}


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


async def _until_stopped(coro, stop: threading.Event | None, poll: float = 0.1):
    """``await coro``, or cancel it and return None as soon as ``stop`` is set."""
    task = asyncio.ensure_future(coro)
    if stop is None:
        return await task
    while not task.done():
        if stop.is_set():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            return None
        await asyncio.wait({task}, timeout=poll)
    return task.result()


@dataclass
class _Gathered:
    """A source's first fetch and, when it brought a new body, what the crawl extracted."""

    fetch: FetchResult
    extraction: Extraction | None = None
    error: str | None = None
    duration_s: float | None = None
    # The first page unchanged and the later pages checked: their cache state now, and what could not be checked.
    later_pages: list[PageState] | None = None
    later_warnings: list[str] = field(default_factory=list)


async def _gather(config: Config, sources: list[Source], items, now: datetime, robots_known: dict[str, str] | None = None,
                  robots_read: dict[str, str] | None = None) -> dict[str, _Gathered]:
    """Fetch every source concurrently and crawl the new bodies (further pages, detail pages),
    each source within its ``source_timeout``, at most ``parallel_sources`` at once (a source's
    ``source_timeout`` starts when its turn does). ``items``: (source id, URL, cache state of the
    first page, later pages of the last read, kind auto's last choice). ``robots_known``: robots.txt texts of earlier
    runs to use instead of asking; the ones read now are added to ``robots_read``."""
    by_id = {s.id: s for s in sources}
    turns = asyncio.Semaphore(config.settings.parallel_sources)
    async with Fetcher(config.settings, robots=robots_known) as fetcher:

        async def one(source_id: str, url: str, state: CacheState | None, later: list[PageState],
                      auto_choice: str | None) -> tuple[str, _Gathered]:
            async with turns:
                return await read(source_id, url, state, later, auto_choice)

        async def read(source_id: str, url: str, state: CacheState | None, later: list[PageState],
                       auto_choice: str | None) -> tuple[str, _Gathered]:
            source = by_id[source_id]
            limits = config.limits_of(source)
            started = datetime.now(timezone.utc)
            clock_started = time.perf_counter()
            gathered = _Gathered(FetchResult(url=url, outcome="error", started_at=started))
            try:
                async with asyncio.timeout(limits.source_timeout.total_seconds()):
                    await _fetch_and_crawl(config, source, limits, url, state, later, auto_choice, now, fetcher, gathered)
            except TimeoutError:
                reason = (f"took longer than source_timeout ({_duration(limits.source_timeout)}) to fetch and read; "
                          "nothing of this run is stored, the last good events stay")
            except Exception as exc:  # a bug in crawling one source must not cost the others their run
                log.exception("crawling source %s failed unexpectedly", source_id)
                reason = f"internal error: {type(exc).__name__}: {exc}"
            else:
                reason = None
            if reason is not None:  # failed: nothing of this run is stored, the cache state is not advanced
                if gathered.fetch.outcome == "fetched":  # read in time, but its pages were not
                    gathered.extraction, gathered.error = None, reason
                else:
                    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
                    gathered.fetch = FetchResult(url=url, outcome="error", error=reason, started_at=started, elapsed=elapsed)
            gathered.duration_s = round(time.perf_counter() - clock_started, 3)
            return source_id, gathered

        gathered = dict(await asyncio.gather(*(one(*item) for item in items)))
        if robots_read is not None:
            robots_read.update(fetcher.robots_read)
        return gathered


async def _fetch_and_crawl(config: Config, source: Source, limits: Limits, url: str, state: CacheState | None,
                           later: list[PageState], auto_choice: str | None, now: datetime, fetcher: Fetcher,
                           gathered: _Gathered) -> None:
    """Fill ``gathered`` step by step, so that a deadline cutting it short leaves what was done.
    A first page unchanged since the last read spares the read only when the pages that read
    fetched after it (``later``) are unchanged too; otherwise the source is read afresh."""
    gathered.fetch = result = await fetcher.fetch(url, state, max_bytes=limits.max_bytes)
    if result.outcome in ("not_modified", "unchanged") and later:
        check = await later_pages_changed(fetcher, later, max_bytes=limits.max_bytes)
        if check.changed is None:
            gathered.later_pages, gathered.later_warnings = check.states, check.warnings
            return
        log.info("source %s: first page unchanged, but %s: read afresh", source.id, check.changed)
        gathered.fetch = result = await fetcher.fetch(url, None, max_bytes=limits.max_bytes)
    if result.outcome != "fetched":
        return
    base = reading_base(result.url or source.url, source.url)
    ctx = ExtractContext(url=base, timezone=config.timezone_of(source), now=now,
                         options=source.options(), max_html_nodes=limits.max_html_nodes)
    try:
        gathered.extraction = await crawl(source.kind, result, ctx, fetcher, max_pages=limits.max_pages,
                                          allow_hosts=source.allow_hosts, max_bytes=limits.max_bytes, home=source.url,
                                          auto_choice=auto_choice)
    except ExtractError as exc:
        gathered.error = str(exc)
    # Read: the body is not needed any more, and a thousand sources' bodies need not wait in memory together.
    result.body = None


def _duration(value) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _process(config: Config, store: Store, source: Source, gathered: _Gathered, now: datetime, state: SourceState | None,
             unstored: list[tuple[str, FetchRecord]], key: str) -> SourceReport:
    """One source's fetch → its report; a fetch that stores events is recorded with them, the
    others are added to ``unstored`` for the caller to record. ``key``: the source's reading key."""
    result = gathered.fetch
    record = FetchRecord(
        started_at=result.started_at,
        outcome=result.outcome,
        http_status=result.status,
        bytes=result.bytes,
        attempts=result.attempts,
        elapsed=result.elapsed,
        error=result.error,
        etag=result.etag,
        http_last_modified=result.last_modified,
        body_digest=result.body_digest,
    )
    if result.outcome != "fetched":
        if gathered.later_pages is not None:
            record.later_pages = [p.as_json() for p in gathered.later_pages]
            record.warnings = list(gathered.later_warnings)
        unstored.append((source.id, record))
        return SourceReport(source.id, result.outcome, result.status, error=result.error, warnings=list(gathered.later_warnings))
    if gathered.extraction is None:
        # The old events stay; the cache state is not advanced, so the next run reads the body again.
        record.outcome, record.error = "error", gathered.error
        unstored.append((source.id, record))
        return SourceReport(source.id, "error", result.status, error=gathered.error)

    extraction = gathered.extraction
    if extraction.incomplete:
        # A partial read would mark the events it lacks as gone: store none of it, keep the
        # cache state, so the next run reads the source afresh.
        reason = f"{extraction.incomplete}; nothing of it was stored, the last good events stay published"
        record.outcome, record.error, record.warnings = "error", reason, _cap(list(extraction.caps) + list(extraction.warnings))
        unstored.append((source.id, record))
        return SourceReport(source.id, "error", result.status, error=reason, warnings=record.warnings)
    warnings, caps = list(extraction.warnings), list(extraction.caps)
    events = _bounded(_normalize_all(extraction.events, source, config, now, warnings), config, source, now, caps, warnings)
    record.events_found = len(events)
    record.warnings = _cap(caps + warnings)
    if not (state and state.accept_next):
        reason = (f"{extraction.auto_switched}: held, since its events would replace the stored ones; "
                  f"`netzwerktimer sources accept {source.id}` lets it through") if extraction.auto_switched else None
        reason = reason or suspicious_drop(source.id, store.upcoming_count(source.id, now), _upcoming(events, now),
                                           config.settings.suspicious_drop)
        if reason:
            record.outcome, record.error = "suspicious", reason
            unstored.append((source.id, record))
            return SourceReport(source.id, "suspicious", result.status, len(events), reason, record.warnings)
    record.reading_key, record.later_pages = key, [p.as_json() for p in extraction.pages_read]
    record.auto_choice = extraction.auto_choice
    sync = store.record_fetch(source.id, record, sync=(events, now))
    return SourceReport(source.id, "fetched", result.status, len(events), None, record.warnings, sync)


def accept(config: Config, store: Store, deployment: Deployment, source: Source, *,
           stop: threading.Event | None = None) -> RefreshReport | None:
    """What ``sources accept`` does: None when ``source`` is not held as suspicious (nothing to
    accept); else its next fetch is accepted whatever it yields, and it is refreshed now."""
    if not store.source_state(source.id).suspicious:
        return None
    store.accept_next(source.id)
    return refresh(config, store, deployment, [source], stop=stop)


def reading_base(final_url: str, source_url: str) -> str:
    """The address a fetched page is read at: where it answered from, on the configured origin.

    Kinds without UIDs of their own identify an event by its link (resolved against
    the page's address) or by a hash that includes the address. When a site answers
    from another origin than configured (a redirect to another host or scheme, for
    good or only now and then), every such identity would change and the events would
    count as vanished and new. Read on the configured origin, they keep their identity
    and their links; the links still work as long as the site redirects its old address.
    """
    old, new = _origin(final_url), _origin(source_url)
    if not old or not new or old == new:
        return final_url
    return new + final_url[len(old):]


def _origin(url: str) -> str:
    """``scheme://host[:port]`` in lower case, or "" for what is not an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def suspicious_drop(source_id: str, before: int, now_count: int, drop: float) -> str | None:
    """Why a fetch looks like a broken site rather than a real change, or None.

    Counted are upcoming events only (sources drop past ones as a matter of
    course): none left where there were some, or fewer than ``1 - drop`` of
    the last good count (from 4 events up, so a small list may shrink).
    """
    advice = f"held back: the last good events stay published until a normal fetch or `netzwerktimer sources accept {source_id}`"
    if before > 0 and now_count == 0:
        return f"yielded no upcoming events where it had {before}; {advice}"
    if before >= 4 and now_count < before * (1 - drop):
        return f"yielded {now_count} upcoming events where it had {before}; {advice}"
    return None


def _upcoming(events: list[Event], now: datetime) -> int:
    zone = timezone.utc
    count = 0
    for ev in events:
        if ev.recurrence_id:
            continue
        last = ev.end or ev.start
        instant = last if isinstance(last, datetime) else datetime.combine(last, datetime.min.time(), zone)
        if ev.rrule or ev.rdates or instant >= now:
            count += 1
    return count


@dataclass
class Preview:
    """What one source yields right now, without storing anything (``sources check``)."""

    fetch: FetchResult
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def preview(config: Config, source: Source, *, now: datetime | None = None) -> Preview:
    """Fetch (unconditionally), crawl, extract and normalize one source; store nothing."""
    now = now or datetime.now(timezone.utc)
    gathered = asyncio.run(_gather(config, [source], [(source.id, source.url, None, [], None)], now))[source.id]
    out = Preview(gathered.fetch, error=gathered.fetch.error or gathered.error)
    if gathered.extraction is not None:
        warnings, caps = list(gathered.extraction.warnings), list(gathered.extraction.caps)
        if gathered.extraction.incomplete:
            warnings.insert(0, f"incomplete, a refresh would store none of it: {gathered.extraction.incomplete}")
        out.events = _bounded(_normalize_all(gathered.extraction.events, source, config, now, warnings), config, source, now, caps, warnings)
        out.warnings = caps + warnings
    return out


async def discover_url(config: Config, url: str, *, now: datetime | None = None):
    """Fetch a page and list what it offers, probed and ranked (``sources discover``)."""
    from aggregator.discover import discover

    now = now or datetime.now(timezone.utc)
    async with Fetcher(config.settings) as fetcher:
        first = await fetcher.fetch(url, None)
        if first.outcome != "fetched":
            return first, []
        ctx = ExtractContext(url=first.url or url, timezone=ZoneInfo(config.settings.timezone), now=now)
        return first, await discover(first, fetcher, ctx, max_pages=config.settings.max_pages)


def _normalize_all(raws, source: Source, config: Config, now: datetime, warnings: list[str]) -> list[Event]:
    zone = config.timezone_of(source)
    limit = now + config.settings.horizon
    events, beyond = [], 0
    for raw in raws:
        try:
            ev = normalize(raw, source_id=source.id, network_id=source.network, zone=zone, base_url=source.url)
        except NormalizeError as exc:
            warnings.append(str(exc))
            continue
        if not ev.rrule and not ev.rdates and _starts_after(ev, limit):
            beyond += 1
            continue
        events.append(ev)
    if beyond:
        warnings.append(f"{beyond} event(s) start beyond the horizon of {config.settings.horizon.days} days and were skipped")
    return events


def _bounded(events: list[Event], config: Config, source: Source, now: datetime, caps: list[str], warnings: list[str]) -> list[Event]:
    """``events`` within the source's ``max_events``, and every series checked against ``max_occurrences``;
    a cap that is hit is added to ``caps`` (other expansion problems to ``warnings``)."""
    limits = config.limits_of(source)
    kept = keep_nearest(events, limits.max_events, now)
    if len(kept) < len(events):
        caps.append(f"{len(events)} events, more than max_events ({limits.max_events}); kept the {len(kept)} nearest "
                    "(upcoming by start, then the most recent past ones)")
    caps.extend(_dense_series(kept, config, limits, now, warnings))
    return kept


def keep_nearest(events: list[Event], limit: int, now: datetime) -> list[Event]:
    """At most ``limit`` of ``events``: those not yet over (series count as not over) by start,
    then past ones from the most recent back. A series is kept whole with its RECURRENCE-ID
    overrides (an override alone could not cancel or move its date), or not at all. The
    order of ``events`` is kept."""
    if len(events) <= limit:
        return events
    series = {ev.source_uid for ev in events if not ev.recurrence_id and (ev.rrule or ev.rdates)}
    units: dict[int, list[Event]] = {}  # id of the event that leads → it and what goes with it
    lead_of_series: dict[str, Event] = {}
    for ev in events:
        if not ev.recurrence_id and ev.source_uid in series:
            lead_of_series.setdefault(ev.source_uid, ev)
    for ev in events:
        lead = lead_of_series.get(ev.source_uid) if ev.recurrence_id else None
        units.setdefault(id(lead or ev), []).append(ev)
    leads = {id(ev): ev for ev in events if id(ev) in units}

    def key(ev: Event) -> tuple:
        start = _instant(ev.start)
        if ev.rrule or ev.rdates or _instant(ev.end or ev.start) >= now:
            return (0, start.timestamp(), ev.source_uid)
        return (1, -start.timestamp(), ev.source_uid)

    keep_ids: set[int] = set()
    for lead in sorted(leads.values(), key=key):
        unit = units[id(lead)]
        if len(keep_ids) + len(unit) <= limit:
            keep_ids.update(id(ev) for ev in unit)
    return [ev for ev in events if id(ev) in keep_ids]


def _instant(value) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, datetime.min.time(), timezone.utc)


def _dense_series(events: list[Event], config: Config, limits: Limits, now: datetime, warnings: list[str]) -> list[str]:
    """A cap warning for each series with more than ``max_occurrences`` occurrences in the window
    that deduplication expands (other expansion problems go to ``warnings``)."""
    start, end = series_window(config, now)
    zone = ZoneInfo(config.settings.timezone)  # as deduplication expands them
    overrides: dict[str, list[Event]] = {}
    for ev in events:
        if ev.recurrence_id:
            overrides.setdefault(ev.source_uid, []).append(ev)
    caps = []
    for ev in events:
        if ev.recurrence_id or not (ev.rrule or ev.rdates):
            continue
        found = over_limit(ev, overrides.get(ev.source_uid, []), start, end, limit=limits.max_occurrences, zone=zone)
        if found.capped:
            caps.append(f"series {ev.title[:80]!r} ({ev.rrule}) has more than {limits.max_occurrences} occurrences "
                        f"between a week ago and the horizon; deduplication and conflicts use the first "
                        f"{limits.max_occurrences} (max_occurrences)")
        else:
            warnings.extend(found.warnings)
    return caps


def _starts_after(ev: Event, limit: datetime) -> bool:
    if isinstance(ev.start, datetime):
        return ev.start > limit
    return ev.start > limit.date()


def _cap(warnings: list[str]) -> list[str]:
    if len(warnings) <= MAX_WARNINGS:
        return warnings
    return warnings[:MAX_WARNINGS] + [f"… and {len(warnings) - MAX_WARNINGS} more warnings"]


def _published_path(deployment: Deployment):
    return deployment.public_dir / "calendar.ics"


def render(config: Config, store: Store, network_id: str | None = None, *, now: datetime | None = None,
           published: list[StoredEvent] | None = None) -> bytes:
    """The merged calendar (or one network's) as ICS bytes, from what is stored
    (``published``: the publication at ``now``, when the caller has it already):
    ``render_parts`` joined."""
    return b"".join(render_parts(config, store, network_id, now=now, published=published))


def render_parts(config: Config, store: Store, network_id: str | None = None, *, now: datetime | None = None,
                 published: list[StoredEvent] | None = None) -> list[bytes]:
    """``render``'s calendar as its parts in order (``exporters.ics.render_calendar_parts``).

    VEVENTs rendered by the last publish are reused; rendering the whole calendar
    stores the new ones and forgets those it no longer uses."""
    items = published if published is not None else publication(config, store, now or datetime.now(timezone.utc))
    name = config.settings.calendar_name
    if network_id is not None:
        name = f"{name} – {config.networks[network_id].label}"
        items = [i for i in items if network_id in i.networks]
    rendered = RenderedVevents(known=store.rendered_vevents())
    parts = render_calendar_parts(
        items,
        networks=config.networks,
        name=name,
        refresh=config.settings.refresh,
        timezone=config.settings.timezone,
        rendered=rendered,
    )
    store.save_rendered_vevents(rendered.added, rendered.unused() if network_id is None else set())
    return parts


def export(config: Config, store: Store, deployment: Deployment, network_id: str | None = None, *,
           now: datetime | None = None) -> bytes:
    """What ``export ics`` writes: the merged calendar (or one network's) as ICS bytes.

    While the last publication stands (``publication_mark``), the merged calendar is the
    published file, byte for byte what ``render`` would give; otherwise it is rendered."""
    now = now or datetime.now(timezone.utc)
    if network_id is None and publication_mark.stands(config, store.publication_mark(), now):
        try:
            return _published_path(deployment).read_bytes()
        except FileNotFoundError:
            pass  # removed by hand: render it
    return render(config, store, network_id, now=now)


def publish(config: Config, store: Store, deployment: Deployment, *, now: datetime | None = None,
            published: list[StoredEvent] | None = None) -> bool:
    """Write the merged calendar atomically; return whether its bytes changed. Logs one record (``publish``)."""
    started = time.perf_counter()
    path = _published_path(deployment)
    parts = render_parts(config, store, now=now, published=published)
    changed = write_atomic(path, parts)  # written part by part: the calendar is never joined in memory
    log.info("calendar %s: %s", "written" if changed else "unchanged", path,
             extra=_fields(event="publish", outcome="written" if changed else "unchanged",
                           events=sum(p.count(b"BEGIN:VEVENT") for p in parts), bytes=sum(len(p) for p in parts),
                           duration_s=_since(started)))
    return changed

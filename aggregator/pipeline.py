"""One refresh: fetch → extract → normalize → store → publish.

Each stage only sees its input and output. A source that fails at any stage
is recorded with its reason and never stops the others; its stored events
stay as they were.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from aggregator.config import Config, Deployment, Source
from aggregator.crawl import crawl
from aggregator.extract import ExtractContext, ExtractError, Extraction
from aggregator.fetch import CacheState, Fetcher, FetchResult
from aggregator.model import Event
from aggregator.normalize import NormalizeError, normalize
from aggregator.merge import publication
from aggregator.store import SourceState, Store, SyncResult
from aggregator.store.repo import FetchRecord
from exporters.files import write_atomic
from exporters.ics import render_calendar

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


@dataclass
class RefreshReport:
    sources: list[SourceReport] = field(default_factory=list)
    published: bool = False

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
) -> RefreshReport:
    """Fetch the given sources concurrently, store what changed, publish if anything did."""
    now = now or datetime.now(timezone.utc)
    states = store.source_states()
    items = []
    for s in sources:
        st = states.get(s.id)
        cache = CacheState(st.etag, st.http_last_modified, st.body_digest) if st else None
        items.append((s.id, s.url, cache))
    gathered = asyncio.run(_gather(config, sources, items, now))
    report = RefreshReport()
    for source in sources:
        try:
            report.sources.append(_process(config, store, source, gathered[source.id], now, states.get(source.id)))
        except Exception as exc:  # a bug must not cost the other sources their refresh
            log.exception("source %s failed unexpectedly", source.id)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            store.record_fetch(source.id, FetchRecord(started_at=now, outcome="error", error=reason))
            report.sources.append(SourceReport(source.id, "error", error=reason))
    if publish_after:
        # Always: besides new events, time alone changes what is published
        # (the grace period of vanished events ends, old events pass retention).
        report.published = publish(config, store, deployment, now=now)
    return report


@dataclass
class _Gathered:
    """A source's first fetch and, when it brought a new body, what the crawl extracted."""

    fetch: FetchResult
    extraction: Extraction | None = None
    error: str | None = None


async def _gather(config: Config, sources: list[Source], items, now: datetime) -> dict[str, _Gathered]:
    """Fetch every source concurrently, then crawl the new bodies (further pages, detail pages)."""
    by_id = {s.id: s for s in sources}
    async with Fetcher(config.settings) as fetcher:
        results = await fetcher.fetch_many(items)

        async def one(source_id: str, result: FetchResult) -> tuple[str, _Gathered]:
            gathered = _Gathered(result)
            if result.outcome == "fetched":
                source = by_id[source_id]
                base = reading_base(result.url or source.url, source.url)
                ctx = ExtractContext(url=base, timezone=config.timezone_of(source), now=now, options=source.options())
                try:
                    gathered.extraction = await crawl(source.kind, result, ctx, fetcher, max_pages=source.max_pages, home=source.url)
                except ExtractError as exc:
                    gathered.error = str(exc)
            return source_id, gathered

        return dict(await asyncio.gather(*(one(k, r) for k, r in results.items())))


def _process(config: Config, store: Store, source: Source, gathered: _Gathered, now: datetime, state: SourceState | None) -> SourceReport:
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
        store.record_fetch(source.id, record)
        return SourceReport(source.id, result.outcome, result.status, error=result.error)
    if gathered.extraction is None:
        # The old events stay; the cache state is not advanced, so the next run reads the body again.
        record.outcome, record.error = "error", gathered.error
        store.record_fetch(source.id, record)
        return SourceReport(source.id, "error", result.status, error=gathered.error)

    extraction = gathered.extraction
    if extraction.incomplete:
        # A partial read would mark the events it lacks as gone: store none of it, keep the
        # cache state, so the next run reads the source afresh.
        reason = f"{extraction.incomplete}; nothing of it was stored, the last good events stay published"
        record.outcome, record.error, record.warnings = "error", reason, _cap(list(extraction.warnings))
        store.record_fetch(source.id, record)
        return SourceReport(source.id, "error", result.status, error=reason, warnings=record.warnings)
    warnings = list(extraction.warnings)
    events = _normalize_all(extraction.events, source, config, now, warnings)
    record.events_found = len(events)
    record.warnings = _cap(warnings)
    if not (state and state.accept_next):
        reason = suspicious_drop(source.id, store.upcoming_count(source.id, now), _upcoming(events, now), config.settings.suspicious_drop)
        if reason:
            record.outcome, record.error = "suspicious", reason
            store.record_fetch(source.id, record)
            return SourceReport(source.id, "suspicious", result.status, len(events), reason, record.warnings)
    sync = store.record_fetch(source.id, record, sync=(events, now))
    return SourceReport(source.id, "fetched", result.status, len(events), None, record.warnings, sync)


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
    gathered = asyncio.run(_gather(config, [source], [(source.id, source.url, None)], now))[source.id]
    out = Preview(gathered.fetch, error=gathered.fetch.error or gathered.error)
    if gathered.extraction is not None:
        out.warnings = list(gathered.extraction.warnings)
        if gathered.extraction.incomplete:
            out.warnings.insert(0, f"incomplete, a refresh would store none of it: {gathered.extraction.incomplete}")
        out.events = _normalize_all(gathered.extraction.events, source, config, now, out.warnings)
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
        return first, await discover(first, fetcher, ctx)


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


def render(config: Config, store: Store, network_id: str | None = None, *, now: datetime | None = None) -> bytes:
    """The merged calendar (or one network's) as ICS bytes, from what is stored."""
    items = publication(config, store, now or datetime.now(timezone.utc))
    name = config.settings.calendar_name
    if network_id is not None:
        name = f"{name} – {config.networks[network_id].label}"
        items = [i for i in items if network_id in i.networks]
    return render_calendar(
        items,
        networks=config.networks,
        name=name,
        refresh=config.settings.refresh,
        timezone=config.settings.timezone,
    )


def publish(config: Config, store: Store, deployment: Deployment, *, now: datetime | None = None) -> bool:
    """Write the merged calendar atomically; return whether its bytes changed."""
    return write_atomic(_published_path(deployment), render(config, store, now=now))

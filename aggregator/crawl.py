"""Reading a source that spans several pages: pagination and detail pages.

Extractors never fetch; they name what to read next (``Extraction.next_pages``,
``Extraction.details``). ``crawl`` fetches those pages with the run's polite
``Fetcher`` and feeds them back to the same extractor, bounded:

- at most ``max_pages`` list pages (the first included), each URL once, so a
  pagination loop ends;
- at most ``MAX_DETAILS`` detail pages;
- every page at most ``max_bytes`` (the source's cap; the fetcher's otherwise);
- only on the host of the source's URL (the configured one, or the one its
  first page redirected to) and the source's ``allow_hosts``: a link
  elsewhere, or a page that redirects elsewhere, is skipped with a warning (a
  site cannot send us crawling the web).

A list page that fails (it cannot be fetched or read, or it is cut off) makes
the extraction ``incomplete``: its events would be missing, and the pipeline
must not take them for vanished. A detail page that fails costs only its
details: a warning, and the event is kept as the list shows it. A cap that
stopped the crawl or refused a page (``max_pages``, ``MAX_DETAILS``,
``max_bytes``, ``max_html_nodes``) is named in ``Extraction.caps`` rather than
among the ordinary warnings, so that the source's status shows it first.

A pagination loop ends with a warning: a link to a page already read, or a page
whose content is that of one already read under another address, is not read
again.

Every page read after the first is noted with its cache state in
``Extraction.pages_read``. The pipeline keeps them, and when a later refresh
finds the first page unchanged, ``later_pages_changed`` asks for each of them
conditionally: a change on page 2, on a detail page or in the feed kind
``auto`` chose is then not missed because page 1 stayed the same.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

from aggregator.discover import best, choice_of, discover
from aggregator.extract import ExtractContext, ExtractError, Extraction, LimitExceeded, extract
from aggregator.fetch import CacheState, Fetcher, FetchResult
from aggregator.urls import host_of

MAX_DETAILS = 200


@dataclass(frozen=True)
class PageState:
    """A page a read fetched after the first, and its cache state then."""

    url: str  # as requested (a redirect is followed again next time)
    etag: str | None = None
    last_modified: str | None = None
    body_digest: str | None = None
    detail: bool = False  # a detail page (else a list page, or the feed kind auto chose)

    @classmethod
    def of(cls, url: str, page: FetchResult, *, detail: bool = False) -> PageState:
        return cls(url, page.etag, page.last_modified, page.body_digest, detail)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> PageState:
        return cls(data["url"], data.get("etag"), data.get("last_modified"), data.get("body_digest"), bool(data.get("detail")))


@dataclass
class LaterPagesCheck:
    """What ``later_pages_changed`` found."""

    changed: str | None = None  # why the source must be read afresh, or None
    states: list[PageState] = field(default_factory=list)  # the pages' cache state now (when nothing changed)
    warnings: list[str] = field(default_factory=list)  # pages that could not be checked
    requests: int = 0


async def crawl(kind: str, first: FetchResult, ctx: ExtractContext, fetcher: Fetcher, *, max_pages: int,
                allow_hosts: Iterable[str] = (), max_bytes: int | None = None, home: str | None = None,
                details: bool = True, auto_choice: str | None = None) -> Extraction:
    """Extract the first page, then its further pages and (unless ``details`` is false, as
    when discovery only counts events; the detail URLs then stay in ``Extraction.details``)
    detail pages on the source's own host or one of ``allow_hosts``. Raises ExtractError
    only when the first page cannot be read at all. Kind ``auto`` first discovers which kind
    and URL the page offers (probing reads each candidate's pages), then reads the chosen
    one's detail pages. ``max_bytes`` caps every further page (default: the fetcher's
    ``settings.max_bytes``). ``home``: the source's configured URL; pages on its host count
    as the source's own, also when the first page was redirected to another host (a site
    that moved still links to its old address). ``auto_choice``: what kind ``auto`` read last
    time (``Extraction.auto_choice`` of the last good read), see ``_crawl_auto``."""
    if kind == "auto":
        return await _crawl_auto(first, ctx, fetcher, max_pages=max_pages, allow_hosts=allow_hosts, max_bytes=max_bytes,
                                 home=home, previous=auto_choice)
    result = extract(kind, first.body or b"", ctx)
    hosts = _hosts(first.url or ctx.url, allow_hosts, home)
    seen = {first.url, ctx.url}
    contents = {first.body_digest} - {None}  # a page under another address can still be one already read
    loops: list[str] = []
    queue = list(result.next_pages)
    result.next_pages = []
    pages = 1
    while queue:
        url = queue.pop(0)
        if url in seen:
            loops.append(url)  # a pagination loop or a link back to an earlier page
            continue
        if _host(url) not in hosts:
            result.warnings.append(f"next page on another host skipped: {url}")
            continue
        if pages >= max_pages:
            result.caps.append(f"stopped after {max_pages} pages (max_pages); more pages are linked, e.g. {url}")
            break
        seen.add(url)
        pages += 1
        page = await fetcher.fetch(url, None, max_bytes=max_bytes)
        if page.outcome != "fetched":
            (result.caps if page.cap else result.warnings).append(f"page {url}: {page.error or page.outcome}")
            result.incomplete = result.incomplete or f"page {url} could not be read: {page.error or page.outcome}"
            continue
        if _host(page.url or url) not in hosts:
            result.warnings.append(f"next page {url} redirected to another host, skipped: {page.url}")
            continue
        if page.body_digest in contents:
            loops.append(url)
            continue
        contents.add(page.body_digest)
        result.pages_read.append(PageState.of(url, page))
        try:
            more = extract(kind, page.body or b"", replace(ctx, url=page.url or url))
        except ExtractError as exc:
            (result.caps if isinstance(exc, LimitExceeded) else result.warnings).append(f"page {url}: {exc}")
            result.incomplete = result.incomplete or f"page {url} could not be read: {exc}"
            continue
        if more.incomplete:
            result.incomplete = result.incomplete or f"page {url}: {more.incomplete}"
        offset = len(result.events)
        result.events.extend(more.events)
        result.warnings.extend(more.warnings)
        result.caps.extend(more.caps)
        result.details.extend((offset + i, u) for i, u in more.details)
        queue.extend(more.next_pages)
    if loops:
        result.warnings.append(f"pagination leads back to pages already read; not read again: {', '.join(dict.fromkeys(loops))}")
    if result.details and details:
        await _enrich(kind, result, ctx, fetcher, hosts, max_bytes)
    return result


def _hosts(url: str, allow_hosts: Iterable[str], home: str | None) -> set[str]:
    """The hosts whose pages count as the source's own when its first page came from ``url`` (see ``crawl``)."""
    return {_host(url), *(h.lower() for h in allow_hosts)} | ({_host(home)} if home else set())


async def _crawl_auto(first: FetchResult, ctx: ExtractContext, fetcher: Fetcher, *, max_pages: int,
                      allow_hosts: Iterable[str], max_bytes: int | None, home: str | None,
                      previous: str | None = None) -> Extraction:
    """Discover what the page offers and use the best candidate. Probing already read its list
    pages (the same bounds as crawling them), so only its detail pages are left to read.

    The choice sticks: each kind identifies events its own way, so reading the same site
    through another candidate would take every event for vanished and new. ``previous`` (what
    the last good read used) is kept while the page offers it and it gives events; when it
    cannot be read now, the source fails this run (the last good events stay); only when the
    page no longer offers it, or it gives no events, is another candidate read, and the
    extraction says so in ``auto_switched``."""
    candidates = await discover(first, fetcher, ctx, max_bytes=max_bytes, max_pages=max_pages,
                                allow_hosts=allow_hosts, home=home)
    kept = next((c for c in candidates if choice_of(c) == previous), None) if previous else None
    if kept is not None and kept.events is None:
        raise ExtractError(f"auto: {kept.kind} at {kept.url}, read last time, cannot be read now ({kept.outcome()})")
    chosen = kept if kept is not None and kept.events else best(candidates)
    if chosen is None:
        tried = "; ".join(f"{c.kind} {c.url}: {c.outcome()}" for c in candidates) or "nothing found"
        raise ExtractError(f"auto: the page offers no calendar, feed, Tribe API or schema.org events ({tried})")
    result = chosen.extraction
    result.auto_choice = choice_of(chosen)
    if previous and result.auto_choice != previous:
        why = "gives no events now" if kept is not None else "is no longer offered by the page"
        result.auto_switched = f"auto read {previous} last time, which {why}; it would now read {result.auto_choice}"
    if result.details:
        await _enrich(chosen.kind, result, replace(ctx, url=chosen.url), fetcher, _hosts(chosen.url, allow_hosts, home), max_bytes)
    result.warnings.insert(0, f"auto: read kind {chosen.kind} from {chosen.url} ({chosen.how})")
    return result


async def _enrich(kind: str, result: Extraction, ctx: ExtractContext, fetcher: Fetcher, hosts: set[str],
                  max_bytes: int | None) -> None:
    module = importlib.import_module(f"aggregator.extract.{kind}")
    enrich = getattr(module, "enrich", None)
    details, result.details = result.details, []
    if enrich is None:
        return
    wanted: list[tuple[int, str]] = []
    for index, url in details:
        if _host(url) not in hosts:
            result.warnings.append(f"detail page on another host skipped: {url}")
        elif len(wanted) >= MAX_DETAILS:
            result.caps.append(f"only the first {MAX_DETAILS} detail pages were read")
            break
        else:
            wanted.append((index, url))
    urls = list(dict.fromkeys(url for _, url in wanted))
    pages = dict(zip(urls, await asyncio.gather(*(fetcher.fetch(u, None, max_bytes=max_bytes) for u in urls))))
    result.pages_read.extend(PageState.of(url, page, detail=True) for url, page in pages.items() if page.outcome == "fetched")
    for index, url in wanted:
        page = pages[url]
        if page.outcome != "fetched":
            (result.caps if page.cap else result.warnings).append(f"detail page {url}: {page.error or page.outcome}")
            continue
        if _host(page.url or url) not in hosts:
            result.warnings.append(f"detail page {url} redirected to another host, skipped: {page.url}")
            continue
        try:
            event, notes = enrich(result.events[index], page.body or b"", replace(ctx, url=page.url or url))
        except Exception as exc:  # one odd detail page must not cost the list its events
            result.warnings.append(f"detail page {url}: {type(exc).__name__}: {exc}")
            continue
        result.events[index] = event
        result.warnings.extend(notes)


async def later_pages_changed(fetcher: Fetcher, pages: list[PageState], *, max_bytes: int | None = None) -> LaterPagesCheck:
    """Ask for each page of an earlier read conditionally (``pages``: its ``pages_read``).

    ``changed`` says why the source must be read afresh: a page answered with new content,
    or a list page or the chosen feed could not be read (reading afresh then fails with the
    reason and keeps the last good events, as any failed page does). A detail page that
    cannot be read is only a warning: it costs the event nothing while its list stands,
    and reading everything afresh would publish the event without its details."""
    check = LaterPagesCheck()
    answers = await asyncio.gather(*(fetcher.fetch(p.url, CacheState(p.etag, p.last_modified, p.body_digest),
                                                   max_bytes=max_bytes) for p in pages))
    for state, page in zip(pages, answers):
        check.requests += page.attempts
        if page.outcome == "fetched":
            check.changed = check.changed or f"{state.url} changed"
        elif page.outcome == "error" and not state.detail:
            check.changed = check.changed or f"{state.url} could not be checked: {page.error}"
        elif page.outcome == "error":
            check.warnings.append(f"detail page {state.url} could not be checked: {page.error}")
        check.states.append(state if page.outcome == "error" else PageState.of(state.url, page, detail=state.detail))
    return check


def _host(url: str) -> str:
    return host_of(url)

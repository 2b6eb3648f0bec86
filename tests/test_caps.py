"""Every cap of a source, end to end over real HTTP on 127.0.0.1: hit, it is a warning (or the
source's error, keeping the last good events) in ``sources list`` and ``/status``, and time and
memory stay bounded whatever the source sends."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from aggregator.config import Deployment, load_config
from aggregator.conflict_report import detect
from aggregator.extract.feed import html_to_text
from aggregator.extract.markup import count_elements
from aggregator.model import Event
from aggregator.normalize import clean_text
from aggregator.pipeline import keep_nearest, refresh, render, select_sources
from aggregator.store import Store
from aggregator.web import create_app

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)


def vevent(uid: str, start: str, title: str, extra: str = "") -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250801T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1H\r\nSUMMARY:{title}\r\n{extra}END:VEVENT\r\n"


def calendar(*events: str) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//caps//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n").encode()


class Site:
    """A config of the given sources over files served from tmp_path, with a store and its runs."""

    def __init__(self, tmp_path: Path, server, database_url: str):
        self.tmp, self.server = tmp_path, server
        self.root = tmp_path / "site"
        self.root.mkdir()
        server.root = self.root
        self.deployment = Deployment(config_path=tmp_path / "sources.toml", data_dir=tmp_path / "data", database_url=database_url)
        self.store = Store(database_url)
        self.store.migrate()

    def file(self, name: str, body: bytes) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return self.server.url("/" + name)

    def configure(self, sources: list[dict], **settings) -> None:
        lines = ["[settings]", "allow_private_networks = true", "timeout = 2", "retries = 0", "backoff = 0.01", 'retention = "3650d"']
        lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items()]
        lines += ["", "[networks.a]", 'name = "A e.V."', "", "[networks.b]", 'name = "B e.V."', ""]
        for s in sources:
            lines.append("[[sources]]")
            html = s.pop("html", None)
            lines += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {str(v).lower()}" for k, v in s.items()]
            if html:
                lines.append("[sources.html]")
                lines += [f"{k} = {v!r}" for k, v in html.items()]
            lines.append("")
        path = self.tmp / "sources.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        self.config = load_config(path)

    def refresh(self, now: datetime = NOW):
        return refresh(self.config, self.store, self.deployment, select_sources(self.config, None), now=now)

    def status(self) -> dict[str, dict]:
        """The rows of ``/status``, by source id."""
        with TestClient(create_app(self.config, self.deployment, self.store, clock=lambda: NOW)) as client:
            return {row["id"]: row for row in client.get("/status").json()["sources"]}

    def sources_list(self) -> str:
        """What ``netzwerktimer sources list`` prints (a real process)."""
        env = {"NETZWERKTIMER_DATABASE_URL": self.deployment.database_url, "NETZWERKTIMER_DATA_DIR": str(self.tmp / "data"), "PATH": ""}
        proc = subprocess.run([sys.executable, "-m", "aggregator.cli", "--config", str(self.tmp / "sources.toml"), "sources", "list"],
                              capture_output=True, text=True, env=env, cwd=self.tmp, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


@pytest.fixture
def site(tmp_path, sites_server, database_url):
    s = Site(tmp_path, sites_server, database_url)
    yield s
    s.store.close()


def first_warning(site: Site, source_id: str) -> str:
    """The source's first warning, as both `sources list` and `/status` show it (they must agree)."""
    row = site.status()[source_id]
    assert row["warnings"], row
    line = next(line for line in site.sources_list().splitlines() if line.startswith(f"  ~ {source_id}:"))
    assert line.endswith(f"first: {row['warnings'][0]}")
    return row["warnings"][0]


def bounded(fn, *, seconds: float, megabytes: float):
    """Run ``fn``; assert its Python allocations peaked under ``megabytes`` and it ended
    within ``seconds``. The time limit is a runaway guard, not a speed bar (speed is
    measured in ``bench/``): an unbounded walk costs hours, so the limit is set far above
    what a loaded CI machine needs and cannot flake."""
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        result = fn()
        elapsed = time.monotonic() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"bounded: {elapsed:.1f} s, peak {peak / 1e6:.1f} MB")
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert peak < megabytes * 1e6, f"peak {peak / 1e6:.1f} MB"
    return result


# --- occurrences per series --------------------------------------------------------------------

DENSE = [
    pytest.param("RRULE:FREQ=SECONDLY\r\n", "20250901T080000Z", "more than 500 occurrences", id="secondly-endless"),
    pytest.param("RRULE:FREQ=MINUTELY;COUNT=100000000\r\n", "20250901T080000Z", "more than 500 occurrences", id="minutely-count-1e8"),
    # begun long ago: dateutil would walk a billion seconds to the window; only its first date is used
    pytest.param("RRULE:FREQ=SECONDLY\r\n", "19900101T000000Z", "too dense", id="secondly-since-1990"),
    # never matches: dateutil would walk it day by day to the year 9999, for every window
    pytest.param("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n", "20250901T080000Z", "matches too rarely", id="daily-never"),
]


@pytest.mark.parametrize("rule,start,expected", DENSE)
def test_a_tiny_calendar_with_a_dense_rule_costs_bounded_time_and_memory_and_warns(site, rule, start, expected):
    dense = site.file("dense.ics", calendar(vevent("dense-1", start, "Sekündlicher Termin", rule)))
    plain = site.file("plain.ics", calendar(vevent("p-1", "20250902T080000Z", "Workshop")))
    site.configure([dict(id="dense", network="a", kind="ics", url=dense), dict(id="plain", network="b", kind="ics", url=plain)],
                   max_occurrences=500)
    assert len((site.root / "dense.ics").read_bytes()) < 20_000

    def everything():
        report = site.refresh()
        ics = render(site.config, site.store, now=NOW)
        conflicts = detect(site.config, site.store, NOW)
        return report, ics, conflicts

    report, ics, conflicts = bounded(everything, seconds=300, megabytes=30)
    assert [r.outcome for r in report.sources] == ["fetched", "fetched"]
    assert b"RRULE:FREQ=" in ics  # published as the rule it is, never expanded into the file
    assert len(conflicts) <= 500  # the series takes part with its first 500 occurrences at most
    assert expected in first_warning(site, "dense")


def test_a_daily_series_without_end_is_not_named_while_it_stays_under_the_cap(site):
    url = site.file("daily.ics", calendar(vevent("d-1", "20250901T080000Z", "Täglich", "RRULE:FREQ=DAILY\r\n")))
    site.configure([dict(id="daily", network="a", kind="ics", url=url)])  # horizon 365 d < 1000
    site.refresh()
    assert site.status()["daily"]["warnings"] == []


# --- events per source -------------------------------------------------------------------------


def test_events_over_max_events_keep_the_nearest_and_warn(site):
    past = [vevent(f"old-{i}", f"2025010{i}T080000Z", f"Alt {i}") for i in range(1, 6)]
    upcoming = [vevent(f"new-{i:02}", f"202510{i:02}T080000Z", f"Neu {i}") for i in range(1, 21)]
    url = site.file("many.ics", calendar(*past, *upcoming))
    site.configure([dict(id="many", network="a", kind="ics", url=url, max_events=12)], max_events=3)
    site.refresh()
    stored = sorted(m.event.title for m in site.store.members(since=NOW - timedelta(days=3650)) if m.gone_at is None)
    assert stored == sorted(f"Neu {i}" for i in range(1, 13))  # the source's own cap; upcoming first, by start
    assert first_warning(site, "many").startswith("25 events, more than max_events (12); kept the 12 nearest")


def test_events_beyond_the_horizon_are_skipped_with_a_warning_but_a_series_is_kept(site):
    url = site.file("far.ics", calendar(
        vevent("near", "20250920T080000Z", "Bald"),
        vevent("far-1", "20251015T080000Z", "Später"),
        vevent("far-2", "20260301T080000Z", "Viel später"),
        vevent("series", "20250905T080000Z", "Wöchentlich", "RRULE:FREQ=WEEKLY;COUNT=20\r\n"),
    ))
    site.configure([dict(id="far", network="a", kind="ics", url=url)], horizon="30d")
    site.refresh()
    stored = sorted(m.event.title for m in site.store.members(since=NOW - timedelta(days=3650)) if m.gone_at is None)
    assert stored == ["Bald", "Wöchentlich"]  # the series reaches past the horizon and is kept whole
    assert first_warning(site, "far") == "2 event(s) start beyond the horizon of 30 days and were skipped"


# --- bytes per response ------------------------------------------------------------------------


def test_a_gzip_bomb_is_stopped_while_it_inflates_and_is_the_source_error(site):
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)  # 200 MB of zeros in about 200 KB
    site.server.misbehave("/bomb.ics", "status", code=200, body=bomb,
                          headers={"Content-Type": "text/calendar", "Content-Encoding": "gzip"})
    site.configure([dict(id="bomb", network="a", kind="ics", url=site.server.url("/bomb.ics"))], max_bytes=1_000_000)
    report = bounded(site.refresh, seconds=120, megabytes=10)
    assert report.sources[0].error == "response larger than 1000000 bytes (max_bytes)"
    assert site.status()["bomb"]["error"] == "response larger than 1000000 bytes (max_bytes)"


def test_a_source_may_raise_its_own_byte_cap(site):
    big = calendar(*(vevent(f"e-{i}", "20251001T080000Z", "x" * 60) for i in range(400)))
    url = site.file("big.ics", big)
    site.configure([dict(id="big", network="a", kind="ics", url=url, max_bytes=len(big) + 1),
                    dict(id="small", network="b", kind="ics", url=url)], max_bytes=len(big) - 1)
    report = site.refresh()
    assert [r.outcome for r in report.sources] == ["fetched", "error"]
    assert "(max_bytes)" in report.sources[1].error


# --- pages and HTML nodes ----------------------------------------------------------------------

LIST = {"item": ".ev", "title": "h3", "date": ".d", "next_page": "a.next"}


def page(n: int, events: int = 2, filler: int = 0, last: bool = False) -> bytes:
    items = "".join(f'<div class="ev"><h3>Termin {n}-{i}</h3><span class="d">{10 + i}.10.2025, 10:00 Uhr</span></div>' for i in range(events))
    nav = "" if last else f'<a class="next" href="p{n + 1}.html">weiter</a>'
    return f"<html><body>{items}{'<i>x</i>' * filler}{nav}</body></html>".encode()


def test_max_pages_stops_the_crawl_with_a_warning_shown_first(site):
    for n in range(1, 5):
        site.file(f"p{n}.html", page(n))
    site.configure([dict(id="list", network="a", kind="html", url=site.server.url("/p1.html"), max_pages=2, html=LIST)])
    report = site.refresh()
    assert report.sources[0].events == 4
    assert first_warning(site, "list").startswith("stopped after 2 pages (max_pages)")


def test_a_first_page_over_max_html_nodes_is_refused_before_parsing(site):
    url = site.file("p1.html", page(1, filler=5000, last=True))
    site.configure([dict(id="list", network="a", kind="html", url=url, html=LIST)], max_html_nodes=1000)
    report = site.refresh()
    assert report.sources[0].outcome == "error"
    assert "more than max_html_nodes (1000)" in site.status()["list"]["error"]


def test_a_later_list_page_over_max_html_nodes_fails_the_run_and_keeps_the_last_good_events(site):
    # A list read only in part would make the events of the missing page look vanished.
    site.file("p1.html", page(1))
    site.file("p2.html", page(2, last=True))
    site.configure([dict(id="list", network="a", kind="html", url=site.server.url("/p1.html"), max_html_nodes=1000, html=LIST)])
    assert site.refresh().sources[0].events == 4
    site.file("p1.html", page(1, filler=10))  # changed, so the crawl reads on
    site.file("p2.html", page(2, filler=5000, last=True))
    report = site.refresh()
    (source,) = report.sources
    assert source.outcome == "error" and source.error.startswith(f"page {site.server.url('/p2.html')} could not be read: page has ")
    assert "max_html_nodes (1000)" in source.error and "the last good events stay published" in source.error
    row = site.status()["list"]
    assert row["outcome"] == "error" and "max_html_nodes (1000)" in row["error"] and row["events"] == 4


def test_a_million_tags_cost_no_tree(site):
    url = site.file("p1.html", page(1, filler=1_000_000, last=True))  # 8 MB of <i>x</i>
    site.configure([dict(id="list", network="a", kind="html", url=url, html=LIST)])
    report = bounded(site.refresh, seconds=300, megabytes=50)
    assert "more than max_html_nodes (200000)" in report.sources[0].error


# --- time per source ---------------------------------------------------------------------------


def test_a_source_over_its_timeout_fails_and_keeps_its_last_good_events(site):
    site.file("p1.html", page(1))
    site.file("p2.html", page(2, last=True))
    site.configure([dict(id="list", network="a", kind="html", url=site.server.url("/p1.html"), source_timeout=1, html=LIST),
                    dict(id="other", network="b", kind="ics", url=site.file("o.ics", calendar(vevent("o", "20251001T080000Z", "O"))))])
    assert site.refresh().sources[0].events == 4

    site.file("p1.html", page(1, events=1))  # changed, so it is read again; its second page hangs
    site.server.misbehave("/p2.html", "slow", seconds=5)
    t0 = time.monotonic()
    report = site.refresh(NOW + timedelta(hours=1))
    assert time.monotonic() - t0 < 4.5
    assert [r.outcome for r in report.sources] == ["error", "not_modified"]
    error = site.status()["list"]["error"]
    assert error.startswith("took longer than source_timeout (1s) to fetch and read")
    assert site.store.source_state("list").event_count == 4  # the last good state stays
    assert f"! list: {error}" in site.sources_list()


def test_a_first_fetch_over_the_timeout_is_the_source_error(site):
    url = site.file("slow.ics", calendar(vevent("s", "20251001T080000Z", "S")))
    site.server.misbehave("/slow.ics", "slow", seconds=5)
    site.configure([dict(id="slow", network="a", kind="ics", url=url)], source_timeout="1s")
    report = site.refresh()
    assert report.sources[0].outcome == "error" and "source_timeout (1s)" in report.sources[0].error


def test_sources_wait_for_their_turn_without_spending_their_timeout(site):
    urls = [site.file(f"s{i}.ics", calendar(vevent(f"s{i}", "20251001T080000Z", f"S{i}"))) for i in range(6)]
    for i in range(6):
        site.server.misbehave(f"/s{i}.ics", "slow", seconds=0.4)
    site.configure([dict(id=f"s{i}", network="a", kind="ics", url=url) for i, url in enumerate(urls)],
                   parallel_sources=2, per_host_concurrency=16, source_timeout="1s")
    t0 = time.monotonic()
    report = site.refresh()
    assert time.monotonic() - t0 >= 1.2  # three turns of 0.4 s: longer than any source's timeout
    assert [r.outcome for r in report.sources] == ["fetched"] * 6
    assert site.server.max_concurrent == 2


# --- the pieces --------------------------------------------------------------------------------


def test_count_elements_counts_start_tags_of_bytes_text_and_utf16():
    page = "<!DOCTYPE html><HTML><body><p>a < b</p><br/><!-- <x> --></body></html>"
    assert count_elements(page) == count_elements(page.encode()) == 5  # html body p br, and the <x> in the comment
    assert count_elements(page.encode("utf-16")) == 5
    assert count_elements("kein Markup, 3 < 4") == 0


def test_a_description_with_too_many_tags_is_read_without_a_tree():
    fragment = "<p>Workshop am 14.10.2025</p>" + "<i>x</i>" * 300_000
    text = bounded(lambda: clean_text(fragment), seconds=120, megabytes=30)
    assert text.startswith("Workshop am 14.10.2025") and "<" not in text
    assert bounded(lambda: html_to_text(fragment), seconds=120, megabytes=30).startswith("Workshop am 14.10.2025")


def ev(uid: str, start, *, end=None, rrule=None, recurrence_id="") -> Event:
    return Event(source_id="s", network_id="a", source_uid=uid, title=uid, start=start, end=end, tzid="UTC", rrule=rrule, recurrence_id=recurrence_id)


def at(day: int, month: int = 9) -> datetime:
    return datetime(2025, month, day, 10, tzinfo=timezone.utc)


def test_keep_nearest_prefers_upcoming_by_start_then_recent_past_and_keeps_the_order():
    events = [ev("past-old", at(1, 1)), ev("later", at(20)), ev("series", at(1, 1), rrule="FREQ=WEEKLY"),
              ev("series", at(8, 1), recurrence_id="2025-01-08T10:00:00+00:00"), ev("soon", at(2)), ev("past-new", at(30, 8))]
    # the series (two rows, kept together), the upcoming ones by start, then the latest past one
    assert [e.source_uid for e in keep_nearest(events, 4, NOW)] == ["later", "series", "series", "soon"]
    assert [e.source_uid for e in keep_nearest(events, 5, NOW)] == ["later", "series", "series", "soon", "past-new"]
    assert [e.source_uid for e in keep_nearest(events, 2, NOW)] == ["series", "series"]
    assert [e.source_uid for e in keep_nearest(events, 1, NOW)] == ["soon"]  # a series does not fit in part
    assert keep_nearest(events, 6, NOW) == events


def test_a_bug_while_crawling_one_source_costs_only_that_source(site, monkeypatch):
    # an exception other than ExtractError from the crawl (a parser's own error, a bug)
    # used to end the whole refresh, every source with it
    import aggregator.pipeline as pipeline

    real = pipeline.crawl

    async def crawl(kind, first, ctx, fetcher, **kw):
        if "broken" in ctx.url:
            raise RuntimeError("a bug")
        return await real(kind, first, ctx, fetcher, **kw)

    monkeypatch.setattr(pipeline, "crawl", crawl)
    good = site.file("good.ics", calendar(vevent("g", "20251001T080000Z", "G")))
    broken = site.file("broken.ics", calendar(vevent("b", "20251001T080000Z", "B")))
    site.configure([dict(id="broken", network="a", kind="ics", url=broken), dict(id="good", network="b", kind="ics", url=good)])
    report = site.refresh()
    assert [(r.outcome, r.error) for r in report.sources] == [("error", "internal error: RuntimeError: a bug"), ("fetched", None)]

"""One measurement in a fresh process: ``python -m bench.measure STAGE --world DIR --out FILE.json``.

The harness (``bench/run.py``) starts one process per measurement, so every peak
memory figure is that measurement's own. Setup (imports, reading the config,
opening the database, a fresh empty database for a cold refresh, loading what a
stage starts from) is not timed; the stage itself is, for wall time, CPU time
(user + system of this process and of any children it waits for) and peak RSS
(``VmHWM``, which includes the interpreter and the imports: ``rss_before_mb``
says how much of it was there before the stage began).

Stages (product):

- ``refresh``: ``aggregator.pipeline.refresh`` of every source (``--only-kind ics``:
  of the ICS sources), publishing included, as ``netzwerktimer refresh`` does;
  ``--fresh-db`` starts from an empty, migrated database (cold);
- ``export``: the merged calendar from what is stored (``pipeline.export``: the
  published file while the publication stands, else rendered) written to a file, as
  ``netzwerktimer export ics -o`` does;
- ``dedupe``: ``merge.publication(record=False)``: load the stored events, cluster
  them (``dedupe.cluster``, series expanded) and merge each cluster;
- ``conflicts``: ``conflicts.detect`` over the published events (computed before
  the clock starts) within ``[conflicts] horizon``.

Baselines:

- ``floor``: only download every site (first page, then its further pages) with
  httpx, with the product's client settings, per-host concurrency and sites at once, nothing else;
- ``mergecal``: parse the ICS files of the world's ICS sites from disk, merge them
  with mergecal, serialise and write the result;
- ``icalendar``: parse the same ICS files with icalendar (phase ``parse``) and
  serialise them again (phase ``serialise``);
- ``icalendar_merged``: serialise the product's exported calendar with icalendar
  (parsed before the clock starts): the same events the export writes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loopback  # noqa: E402

STAGES = ("refresh", "export", "dedupe", "conflicts", "floor", "mergecal", "icalendar", "icalendar_merged")


def _status_mb(key: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    """Peak RSS of this process's own memory (VmHWM). Not ``ru_maxrss``: Linux carries that over from
    the forked parent across exec, so a child of a large harness would report the harness's size."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Wall and CPU time of a stretch of code (this process and its children)."""

    def __init__(self) -> None:
        self.phases: dict[str, dict] = {}

    def __enter__(self) -> Clock:
        self._t = time.perf_counter()
        self._s = resource.getrusage(resource.RUSAGE_SELF)
        self._c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc) -> None:
        s = resource.getrusage(resource.RUSAGE_SELF)
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.wall = time.perf_counter() - self._t
        self.user = s.ru_utime - self._s.ru_utime
        self.sys = s.ru_stime - self._s.ru_stime
        self.children = (c.ru_utime - self._c.ru_utime) + (c.ru_stime - self._c.ru_stime)

    def phase(self, name: str):
        clock = self

        class _Phase:
            def __enter__(self_inner):
                self_inner.t = time.perf_counter()
                self_inner.r = resource.getrusage(resource.RUSAGE_SELF)

            def __exit__(self_inner, *exc):
                r = resource.getrusage(resource.RUSAGE_SELF)
                clock.phases[name] = {"wall_s": time.perf_counter() - self_inner.t,
                                      "cpu_s": (r.ru_utime - self_inner.r.ru_utime) + (r.ru_stime - self_inner.r.ru_stime)}

        return _Phase()


# --- stage setups: each returns (op, details); op(clock) runs the timed work ------------------


def _product(world: Path, db_name: str = "bench.sqlite3", fresh: bool = False):
    from aggregator.config import Deployment, load_config
    from aggregator.store import Store

    config = load_config(world / "sources.toml")
    db = world / "db" / db_name
    db.parent.mkdir(exist_ok=True)
    data = world / ("data" if db_name == "bench.sqlite3" else f"data-{db.stem}")
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(data, ignore_errors=True)
    url = f"sqlite:///{db}"
    store = Store(url)
    if fresh:
        store.migrate()
    return config, store, Deployment(world / "sources.toml", data, url)


def setup_refresh(world: Path, args):
    from collections import Counter

    from aggregator.pipeline import refresh, select_sources
    from bench.synth import NOW

    only = args.only_kind
    config, store, deployment = _product(world, args.db or ("ics-only.sqlite3" if only else "bench.sqlite3"), fresh=args.fresh_db)
    sources = [s for s in select_sources(config, None) if not only or s.kind == only]
    # Setup, not the stage: the extractors are imported on first use, which a running service
    # has done long before (the floor's setup imports httpx the same way).
    import importlib

    for module in {f"aggregator.extract.{s.kind}" for s in sources} | {"aggregator.extract.completeness"}:
        importlib.import_module(module)
    from aggregator.net_guard import tls_context

    tls_context()  # made once per process (loading the CA roots); the floor's is made in its setup too
    details: dict = {}

    def op(clock: Clock) -> None:
        report = refresh(config, store, deployment, sources, now=NOW)
        details["outcomes"] = dict(Counter(r.outcome for r in report.sources))
        details["events_extracted"] = sum(r.events or 0 for r in report.sources if r.outcome == "fetched")
        details["published_changed"] = report.published
        details["errors"] = [f"{r.source_id}: {r.error}" for r in report.sources if r.outcome in ("error", "suspicious")][:10]

    def after() -> None:
        # What the refresh published: the calendar's entries (one VEVENT each), read from the file
        # the refresh wrote or left standing, not computed again (that costs minutes at 200k events).
        details["published"] = (deployment.public_dir / "calendar.ics").read_bytes().count(b"\r\nBEGIN:VEVENT\r\n")
        store.close()
        details["dedupe_quality"] = dedupe_quality(Path(deployment.database_url.removeprefix("sqlite:///")))

    return op, details, after


def dedupe_quality(db: Path) -> dict:
    """How the stored clusters (``events.merged_uid``, as the last publish recorded them) compare with the
    world's truth: clusters that join listings of different events (wrong merges) and events whose
    listings ended up in several clusters (missed duplicates)."""
    import sqlite3
    from collections import defaultdict

    from bench.synth import event_id

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT source_uid, url, merged_uid FROM events WHERE gone_at IS NULL AND recurrence_id = ''").fetchall()
    finally:
        con.close()
    ids_of: dict[str, set] = defaultdict(set)
    clusters_of: dict[int, set] = defaultdict(set)
    unknown = 0
    for uid, url, merged in rows:
        eid = event_id(uid, url or "")
        if eid is None:
            unknown += 1
            continue
        ids_of[merged].add(eid)
        clusters_of[eid].add(merged)
    return {"listings": len(rows), "clusters": len(ids_of), "events": len(clusters_of), "unmapped": unknown,
            "wrong_merges": sum(len(ids) - 1 for ids in ids_of.values() if len(ids) > 1),
            "missed_duplicates": sum(len(c) - 1 for c in clusters_of.values() if len(c) > 1)}


def setup_export(world: Path, args):
    from aggregator.pipeline import export, render
    from bench.synth import NOW

    config, store, deployment = _product(world)
    out = world / "export" / ("rendered.ics" if args.render else "calendar.ics")
    out.parent.mkdir(exist_ok=True)
    details: dict = {}

    def op(clock: Clock) -> None:
        if args.render:  # what an export costs when the publication does not stand (a new day, a change)
            data = render(config, store, now=NOW)
        else:
            data = export(config, store, deployment, now=NOW)
        out.write_bytes(data)
        details["bytes"] = len(data)

    def after() -> None:
        import icalendar

        details["published"] = len(icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT"))

    return op, details, after


def setup_dedupe(world: Path, args):
    from aggregator.merge import publication
    from bench.synth import NOW

    config, store, _ = _product(world)
    details: dict = {}

    def op(clock: Clock) -> None:
        details["published"] = len(publication(config, store, NOW, record=False))

    return op, details, None


def setup_conflicts(world: Path, args):
    from collections import Counter
    from zoneinfo import ZoneInfo

    from aggregator.conflicts import detect
    from aggregator.merge import publication
    from bench.synth import NOW

    config, store, _ = _product(world)
    published = publication(config, store, NOW, record=False)
    zone = ZoneInfo(config.settings.timezone)
    rules = config.conflicts.rules()
    details: dict = {"published": len(published)}

    def op(clock: Clock) -> None:
        found = detect(published, NOW, zone=zone, rules=rules)
        details["conflicts"] = len(found)
        details["by_kind"] = dict(Counter(c.kind for c in found))
        details["pairs_in_all"] = getattr(found, "total", len(found))  # colliding pairs, listed or not ([conflicts] max_per_event)
        details["events_with_more"] = len(getattr(found, "more", {}))

    return op, details, None


def setup_floor(world: Path, args):
    import httpx

    from aggregator.config import load_config
    from aggregator.fetch import ACCEPT, user_agent_for

    settings = load_config(world / "sources.toml").settings
    expected = json.loads((world / "expected.json").read_text())
    sites = [s["urls"] for s in expected["per_site"].values()]
    details: dict = {}

    tls = httpx.create_ssl_context()  # once per process, as the product's (in setup on both sides)

    async def download() -> None:
        slots: dict[str, asyncio.Semaphore] = {}
        t = settings.timeout
        async with httpx.AsyncClient(
            verify=tls,
            headers={"User-Agent": user_agent_for(settings), "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(t, pool=None),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
            follow_redirects=True,
        ) as client:

            async def get(url: str) -> tuple[int, int]:
                host = httpx.URL(url).host
                slot = slots.setdefault(host, asyncio.Semaphore(settings.per_host_concurrency))
                async with slot:
                    async with client.stream("GET", url) as resp:
                        size = 0
                        async for chunk in resp.aiter_raw():
                            size += len(chunk)
                        return resp.status_code, size

            turns = asyncio.Semaphore(settings.parallel_sources)  # sites read at once, as the product's refresh

            async def site(urls: list[str]) -> list[tuple[int, int]]:
                async with turns:
                    return [await get(u) for u in urls]  # pages one after another, as a crawl finds them

            results = [r for rs in await asyncio.gather(*(site(u) for u in sites)) for r in rs]
        details["requests"] = len(results)
        details["bytes"] = sum(size for _, size in results)
        details["not_ok"] = sum(1 for status, _ in results if status != 200)

    def op(clock: Clock) -> None:
        asyncio.run(download())

    return op, details, None


def _ics_files(world: Path) -> list[Path]:
    expected = json.loads((world / "expected.json").read_text())
    return [world / f for f in expected["ics_files"]]


def setup_mergecal(world: Path, args):
    import icalendar
    from mergecal import merge_calendars

    files = _ics_files(world)
    out = world / "export" / "mergecal.ics"
    out.parent.mkdir(exist_ok=True)
    details: dict = {"files": len(files)}

    def op(clock: Clock) -> None:
        cals = [icalendar.Calendar.from_ical(f.read_bytes()) for f in files]
        merged = merge_calendars(cals)
        data = merged.to_ical()
        out.write_bytes(data)
        details["events"] = len(merged.events)
        details["bytes"] = len(data)

    return op, details, None


def setup_icalendar(world: Path, args):
    import icalendar

    files = _ics_files(world)
    details: dict = {"files": len(files)}

    def op(clock: Clock) -> None:
        with clock.phase("parse"):
            cals = [icalendar.Calendar.from_ical(f.read_bytes()) for f in files]
        with clock.phase("serialise"):
            size = sum(len(c.to_ical()) for c in cals)
        details["events"] = sum(len(c.events) for c in cals)
        details["bytes"] = size

    return op, details, None


def setup_icalendar_merged(world: Path, args):
    import icalendar

    cal = icalendar.Calendar.from_ical((world / "export" / "calendar.ics").read_bytes())
    details: dict = {"events": len(cal.events)}

    def op(clock: Clock) -> None:
        details["bytes"] = len(cal.to_ical())

    return op, details, None


SETUPS = {name: globals()[f"setup_{name}"] for name in STAGES}


def run(stage: str, world: Path, args) -> dict:
    loopback.install()
    rss_start = _rss_mb()
    op, details, after = SETUPS[stage](world, args)
    rss_before = _rss_mb()
    load = os.getloadavg()[0]
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    clock = Clock()
    with clock:
        if profiler:
            profiler.enable()
        op(clock)
        if profiler:
            profiler.disable()
    peak = _peak_mb()
    if after:
        after()
    if profiler:
        _write_profile(profiler, args.profile, f"{stage} {world.name}")
    return {
        "stage": stage, "wall_s": clock.wall, "cpu_s": clock.user + clock.sys + clock.children,
        "cpu_user_s": clock.user, "cpu_sys_s": clock.sys, "cpu_children_s": clock.children,
        "peak_rss_mb": peak, "rss_start_mb": rss_start, "rss_before_mb": rss_before,
        "phases": clock.phases, "details": details, "profiled": bool(profiler), "loadavg_1m_before": load,
    }


def _write_profile(profiler, path: Path, title: str) -> None:
    import io
    import pstats

    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(path.with_suffix(".prof")))
    buf = io.StringIO()
    buf.write(f"cProfile of {title}\n\n== by cumulative time ==\n")
    stats = pstats.Stats(profiler, stream=buf)
    stats.strip_dirs().sort_stats("cumulative").print_stats(40)
    buf.write("\n== by own time ==\n")
    stats.sort_stats("tottime").print_stats(30)
    path.write_text(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.measure", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=STAGES)
    ap.add_argument("--world", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--fresh-db", action="store_true", help="refresh: start from an empty database")
    ap.add_argument("--db", help="refresh: the database file below <world>/db/ (default bench.sqlite3; ics-only.sqlite3 with --only-kind)")
    ap.add_argument("--only-kind", choices=["ics", "feed", "html", "jsonld", "tribe"], help="refresh: only the sources of this kind")
    ap.add_argument("--profile", type=Path, help="run the stage under cProfile; write the top entries here (and .prof)")
    ap.add_argument("--render", action="store_true", help="export: render from the stored events even while the publication stands")
    args = ap.parse_args(argv)
    result = run(args.stage, args.world.resolve(), args)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How ``dedupe.cluster`` grows from 50k to 200k listings of the synthetic world, and how right it is.

    python bench/dedupe_growth.py                      # 250 and 1,000 sites × 200 events: times, exponent, quality
    python bench/dedupe_growth.py --sites 24 250       # other sizes
    python bench/dedupe_growth.py --sites 250 --profile /tmp/cluster.prof

The events are the world's listings (``bench/synth``) as the product would store them — the
same titles, places, links, times and series the sites serve — built directly, without
serving, fetching or parsing anything; series take part with their master and each occurrence
in the window, as ``merge._clusters`` passes them. Each size is measured in a fresh process
(the feature caches start empty), CPU time of ``cluster`` alone (the world, the events and the
expansion of series are not timed). The growth exponent is ``log(t_large / t_small) /
log(n_large / n_small)`` over the candidates passed to ``cluster`` (issue 8's bar: ≤ 1.15).

Quality against the world's truth, counted as ``bench/measure.py`` counts it for the stored
clusters: wrong merges (listings of different events in one cluster: a cluster with k events
counts k - 1) and missed duplicates (an event whose listings are in several clusters).
This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BERLIN = ZoneInfo("Europe/Berlin")
EVENTS_PER_SITE = 200


def world_events(n_sites: int, per_site: int = EVENTS_PER_SITE, seed: int = 1):
    """(candidates, owner, truth, networks): the listings as ``Event``s plus series occurrences;
    ``owner[i]`` the listing a candidate stands for, ``truth[i]`` the world's event id of a listing."""
    from aggregator.config import Network
    from aggregator.model import Event
    from aggregator.recurrence import expand
    from bench.synth import NOW
    from bench.synth.render import _times, _title_with_status
    from bench.synth.world import listing, make_world

    world = make_world(n_sites, per_site, seed=seed)
    networks = {s.id: Network(name=s.name, short=s.short, website=f"{world.base(s)}/{s.id}/") for s in world.sites}
    listings: list[Event] = []
    truth: list[int] = []
    for index, evs in world.listings().items():
        site = world.sites[index]
        source = f"{site.id}-{site.kind}"
        for ev in evs:
            it = listing(world, index, ev)
            if site.kind == "tribe" and not it.rrule and it.last_day < NOW.astimezone(BERLIN).date():
                continue  # the Tribe API lists upcoming events only
            start, end = _times(it)
            if start is None:
                start, end, tzid = it.day, it.last_day + timedelta(days=1), ""
            else:
                tzid = "Europe/Berlin"
            title = it.title if site.kind == "ics" else _title_with_status(it)
            listings.append(Event(source_id=source, network_id=site.id, source_uid=it.uid, title=title, start=start,
                                  end=end, tzid=tzid, location=it.location, url=it.url,
                                  status="cancelled" if it.cancelled else "confirmed", rrule=it.rrule))
            truth.append(ev.id)
    candidates = list(listings)
    owner = list(range(len(listings)))
    series = [i for i, e in enumerate(listings) if e.rrule]
    if series:
        keys = {(listings[i].source_id, listings[i].source_uid): i for i in series}
        window_start, window_end = NOW - timedelta(days=7), NOW + timedelta(days=365)  # merge.series_window (bench horizon 365d)
        for occ in expand([listings[i] for i in series], window_start, window_end, zone=BERLIN):
            master = keys.get((occ.event.source_id, occ.event.source_uid))
            if master is None or occ.event.status == "cancelled":
                continue
            candidates.append(replace(occ.event, start=occ.start, end=occ.end, rrule=None, rdates=(), exdates=(), recurrence_id=""))
            owner.append(master)
    return candidates, owner, truth, networks


def quality(clusters: list[list[int]], owner: list[int], truth: list[int]) -> dict:
    """Wrong merges and missed duplicates of the listings, after joining what a series' candidates joined."""
    parent = list(range(len(truth)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for group in clusters:
        roots = sorted({find(owner[i]) for i in group})
        for r in roots[1:]:
            parent[r] = roots[0]
    ids_of: dict[int, set] = defaultdict(set)
    clusters_of: dict[int, set] = defaultdict(set)
    for i, eid in enumerate(truth):
        ids_of[find(i)].add(eid)
        clusters_of[eid].add(find(i))
    return {"listings": len(truth), "clusters": len(ids_of), "events": len(clusters_of),
            "wrong_merges": sum(len(v) - 1 for v in ids_of.values() if len(v) > 1),
            "missed_duplicates": sum(len(v) - 1 for v in clusters_of.values() if len(v) > 1)}


def examples(clusters, owner, truth, candidates, limit: int) -> list[str]:
    """Titles of a few wrongly merged clusters (for looking into why)."""
    out = []
    for group in clusters:
        ids = {truth[owner[i]] for i in group}
        if len(ids) > 1 and len(out) < limit:
            out.append(" | ".join(f"{truth[owner[i]]}:{candidates[i].source_id}:{candidates[i].start}:{candidates[i].title!r}@{candidates[i].location!r}"
                                  for i in group))
    return out


def _peak_mb() -> int:
    """Peak RSS of this process (the world and its events included), MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def one(n_sites: int, seed: int, profile: str | None, show: int, repeat: int) -> dict:
    import gc

    from aggregator import dedupe
    from aggregator.dedupe import cluster

    candidates, owner, truth, networks = world_events(n_sites, seed=seed)
    gc.collect()
    runs = []
    for _ in range(max(repeat, 1) - 1):  # extra runs for the best time, each with empty caches
        for f in (dedupe._title_cached, dedupe._title_score, dedupe._token_match, dedupe._place, dedupe._url_key):
            f.cache_clear()
        c0 = time.process_time()
        cluster(candidates, networks)
        runs.append(time.process_time() - c0)
        gc.collect()
    for f in (dedupe._title_cached, dedupe._title_score, dedupe._token_match, dedupe._place, dedupe._url_key):
        f.cache_clear()
    compared = 0
    original = dedupe._compare

    def counting(*args):
        nonlocal compared
        compared += 1
        return original(*args)
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    clusters = cluster(candidates, networks)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if profile:
        prof.disable()
        prof.dump_stats(profile)
    # Once more, counting the pairs compared (a measure of the work that the machine's load does not blur).
    for f in (dedupe._title_cached, dedupe._title_score, dedupe._token_match, dedupe._place, dedupe._url_key):
        f.cache_clear()
    dedupe._compare = counting
    try:
        cluster(candidates, networks)
    finally:
        dedupe._compare = original
    result = {"sites": n_sites, "candidates": len(candidates), "cpu_s": min([cpu, *runs]), "wall_s": wall,
              "pairs_compared": compared, "peak_rss_mb": _peak_mb(), **quality(clusters, owner, truth)}
    if show:
        result["wrong_examples"] = examples(clusters, owner, truth, candidates, show)
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, nargs="+", default=[250, 1000], help="world sizes in sites (200 events each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", help="cProfile stats of cluster() to this file (one size only)")
    ap.add_argument("--show", type=int, default=0, help="print this many wrongly merged clusters per size")
    ap.add_argument("--repeat", type=int, default=1, help="time cluster() this many times per size, keep the least CPU")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: measure one size in this process
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.sites[0], args.seed, args.profile, args.show, args.repeat), ensure_ascii=False))
        return 0
    results = []
    for n in args.sites:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", "--sites", str(n), "--seed", str(args.seed), "--show", str(args.show),
               "--repeat", str(args.repeat)]
        if args.profile:
            cmd += ["--profile", args.profile]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{r['sites']:>5} sites: {r['candidates']:>7} candidates  cluster CPU {r['cpu_s']:7.2f} s (wall {r['wall_s']:6.2f} s)  "
              f"{r['pairs_compared']} pairs compared, peak {r['peak_rss_mb']} MB; {r['clusters']} clusters for {r['events']} events: {r['wrong_merges']} wrong merges, {r['missed_duplicates']} missed duplicates",
              flush=True)
        for line in r.get("wrong_examples", []):
            print("   wrong:", line)
    if len(results) >= 2:
        a, b = results[0], results[-1]
        k = math.log(b["cpu_s"] / a["cpu_s"]) / math.log(b["candidates"] / a["candidates"])
        kw = math.log(b["wall_s"] / a["wall_s"]) / math.log(b["candidates"] / a["candidates"])
        kp = math.log(b["pairs_compared"] / a["pairs_compared"]) / math.log(b["candidates"] / a["candidates"])
        print(f"growth exponent {a['candidates']} → {b['candidates']} candidates: CPU {k:.2f} (wall {kw:.2f}; "
              f"pairs compared {kp:.2f}); bar ≤ 1.15")
    return 0


if __name__ == "__main__":
    sys.exit(main())

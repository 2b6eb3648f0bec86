"""How conflict detection grows with the calendar: ``python bench/conflicts_growth.py``.

A benchmark, not a test. The published events come straight from the synthetic
world's truth (``bench.synth.make_world``: one published event per distinct event,
organiser and partners as its networks, the organiser's listing as its time and
place; series with their RRULE), so no refresh is needed: what is timed is
``conflicts.detect`` alone, as the ``conflicts`` stage of ``bench/run.py`` times it,
each size in a fresh process (peak RSS is that process's own: ``VmHWM``).

    python bench/conflicts_growth.py                       # 50k and 200k, [conflicts] defaults
    python bench/conflicts_growth.py --max-per-event 0     # without the cap (every pair; slow, big)
    python bench/conflicts_growth.py --sizes 250x200 1000x200 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def published_of(n_sites: int, per_site: int, seed: int = 1):
    from datetime import date, datetime, timedelta

    from aggregator.model import Event, StoredEvent
    from bench.synth import NOW, make_world, source_id, words
    from bench.synth.world import _minutes

    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    world = make_world(n_sites, per_site, seed)
    out = []
    for ev in world.events:
        day = date.fromisoformat(ev.day)
        if ev.start is None:
            start, end, tzid = day, day + timedelta(days=max(ev.days, 1)), ""
        else:
            s = _minutes(ev.start)
            start = datetime(day.year, day.month, day.day, s // 60, s % 60, tzinfo=berlin)
            end = None
            if ev.end:
                e = _minutes(ev.end)
                end = datetime(day.year, day.month, day.day, e // 60, e % 60, tzinfo=berlin)
            tzid = "Europe/Berlin"
        if ev.venue < 0:
            location = "Online"
        else:
            v = words.VENUES[ev.venue]
            location = f"{v[0]}, {v[1]}, {v[2]} {v[3]}"
        networks = tuple(world.sites[i].id for i in [ev.owner, *ev.partners])
        event = Event(source_id=source_id(world, ev.owner), network_id=world.sites[ev.owner].id, source_uid=f"ev{ev.id}",
                      title=ev.title, start=start, end=end, tzid=tzid, location=location,
                      status="cancelled" if ev.cancelled else "confirmed", rrule=ev.rrule)
        out.append(StoredEvent(event=event, first_seen=NOW, last_modified=NOW, sequence=0, uid=f"ev{ev.id}@bench",
                               networks=networks))
    return out


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one(n_sites: int, per_site: int, max_per_event: int) -> dict:
    """Time ``detect`` over one world (run in its own process by ``main``)."""
    import resource
    from collections import Counter
    from dataclasses import replace

    from aggregator.config import ConflictsSettings
    from aggregator.conflicts import detect
    from bench.synth import NOW

    published = published_of(n_sites, per_site)
    rules = replace(ConflictsSettings().rules(), max_per_event=max_per_event or None)
    before = _peak_mb()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    found = detect(published, NOW, rules=rules)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"sites": n_sites, "per_site": per_site, "published": len(published), "max_per_event": max_per_event,
            "wall_s": wall, "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
            "peak_rss_mb": _peak_mb(), "peak_before_mb": before, "listed": len(found),
            "by_kind": dict(Counter(c.kind for c in found)), "pairs_in_all": getattr(found, "total", len(found)),
            "events_with_more": len(getattr(found, "more", {})), "not_listed_sides": sum(getattr(found, "more", {}).values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/conflicts_growth.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["250x200", "1000x200"], help="SITESxEVENTS_PER_SITE (default: 50k, 200k)")
    ap.add_argument("--max-per-event", type=int, help="the cap (default: [conflicts] max_per_event's default; 0: none)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.max_per_event is None:
        from aggregator.config import ConflictsSettings

        args.max_per_event = ConflictsSettings().max_per_event
    if args.one:
        sites, per = (int(x) for x in args.one.split("x"))
        print(json.dumps(one(sites, per, args.max_per_event)))
        return 0
    rows = []
    for size in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", size, "--max-per-event", str(args.max_per_event)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{size}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            return 1
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{size:>9}: {row['published']:>7} events  cpu {row['cpu_s']:7.2f} s  wall {row['wall_s']:7.2f} s  "
              f"peak {row['peak_rss_mb']:6.0f} MB  listed {row['listed']:>8} {row['by_kind']}  "
              f"pairs in all {row['pairs_in_all']:>9}  events with more {row['events_with_more']}", flush=True)
    out = {"rows": rows}
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        ratio = math.log(b["published"] / a["published"])
        out["exponent_cpu"] = math.log(b["cpu_s"] / a["cpu_s"]) / ratio
        out["exponent_wall"] = math.log(b["wall_s"] / a["wall_s"]) / ratio
        print(f"growth exponent {a['published']} → {b['published']} events: cpu {out['exponent_cpu']:.2f}, "
              f"wall {out['exponent_wall']:.2f} (bar: ≤ 1.15); peak at the largest {b['peak_rss_mb']:.0f} MB (bar: ≤ 1536)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Precision and recall of the dedupe stage on the labelled pairs.

    python bench/dedupe_quality.py            # quality; exits 1 below the bars
    python bench/dedupe_quality.py --speed 200000   # also time cluster() on synthetic events

The set is ``tests/fixtures/dedupe/pairs.toml``; networks come from ``sources.toml``.
``same_event`` is judged pair by pair; ``cluster`` is run once over all events of
the set and a pair counts as merged when both events land in one cluster.
``tests/test_dedupe.py`` runs the same evaluation and asserts the same bars.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aggregator.config import load_config  # noqa: E402
from aggregator.dedupe import cluster, same_event  # noqa: E402
from aggregator.model import Event  # noqa: E402

PAIRS = ROOT / "tests" / "fixtures" / "dedupe" / "pairs.toml"
PRECISION_BAR = 0.99
RECALL_BAR = 0.95
BERLIN = ZoneInfo("Europe/Berlin")


def networks():
    return load_config(ROOT / "sources.toml").networks


def _when(text: str, all_day: bool):
    if all_day:
        return date.fromisoformat(text)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=BERLIN)


def _tzid(value) -> str:
    if not isinstance(value, datetime):
        return ""
    key = getattr(value.tzinfo, "key", None)
    return key or "UTC"


def make_event(eid: str, spec: dict) -> Event:
    all_day = bool(spec["all_day"])
    start = _when(spec["start"], all_day)
    if all_day != (not isinstance(start, datetime)):
        raise ValueError(f"{eid}: all_day and start disagree")
    end = None
    if spec.get("end"):
        end = _when(spec["end"], all_day)
        if all_day:
            end = end + timedelta(days=1)  # the file names the last day; Event wants it exclusive
    elif all_day:
        end = start + timedelta(days=1)
    return Event(
        source_id=spec["source"],
        network_id=spec["network"],
        source_uid=eid,
        title=spec["title"],
        start=start,
        end=end,
        tzid=_tzid(start),
        location=spec.get("location", ""),
        url=spec.get("url", ""),
        rrule=spec.get("rrule") or None,
    )


def load_set(path: Path = PAIRS):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    events = {eid: make_event(eid, spec) for eid, spec in data["events"].items()}
    pairs = [(p["a"], p["b"], bool(p["duplicate"]), p.get("why", "")) for p in data["labels"]["pairs"]]
    return events, pairs


@dataclass
class Score:
    tp: int
    fp: int
    fn: int
    tn: int
    wrong: list

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def ok(self) -> bool:
        return self.precision >= PRECISION_BAR and self.recall >= RECALL_BAR

    def line(self, name: str) -> str:
        return (f"{name:<10} precision {self.precision:.3f}  recall {self.recall:.3f}  "
                f"(tp {self.tp}, fp {self.fp}, fn {self.fn}, tn {self.tn})")


def _score(pairs, predicted) -> Score:
    s = Score(0, 0, 0, 0, [])
    for (a, b, truth, why), pred in zip(pairs, predicted):
        if truth and pred:
            s.tp += 1
        elif truth:
            s.fn += 1
            s.wrong.append(("missed", a, b, why))
        elif pred:
            s.fp += 1
            s.wrong.append(("wrongly merged", a, b, why))
        else:
            s.tn += 1
    return s


def evaluate(path: Path = PAIRS):
    """(same_event score, cluster score) on the labelled set."""
    events, pairs = load_set(path)
    nets = networks()
    pairwise = _score(pairs, [same_event(events[a], events[b], nets) for a, b, _, _ in pairs])
    ids = sorted(events)
    clusters = cluster([events[i] for i in ids], nets)
    where = {ids[i]: n for n, members in enumerate(clusters) for i in members}
    clustered = _score(pairs, [where[a] == where[b] for a, b, _, _ in pairs])
    return pairwise, clustered


# --- speed ------------------------------------------------------------------------------

_WORDS = ("Workshop Wasserstoff Industrie Photonik Medizintechnik Sensorik KI Produktion Kunststoff Digitalisierung "
          "Netzwerktreffen Stammtisch Forum Fachtag Energie Speicher Webinar Cybersicherheit Förderprogramme "
          "Leichtbau Robotik Logistik Mobilität Biotech Diagnostik Elektronik Cloud Daten Gesundheit Quanten").split()
_PLACES = ("COMCENTER Brühl, Erfurt", "TIP Jena", "TU Ilmenau", "IHK Erfurt", "online", "", "Weimar, Hotel Elephant", "Gera")


def synthetic(n: int, seed: int = 7, days: int = 730) -> list[Event]:
    """n events over ``days`` days from 60 sources; about 1 in 5 re-listed by another source."""
    rng = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=BERLIN)
    sources = [(f"src-{i}", f"net-{i % 24}") for i in range(60)]
    out: list[Event] = []
    while len(out) < n:
        k = len(out)
        title = " ".join(rng.sample(_WORDS, rng.randint(2, 5)))
        day = rng.randrange(days)
        place = rng.choice(_PLACES)
        if rng.random() < 0.15:
            start = (base + timedelta(days=day)).date()
            end = start + timedelta(days=rng.choice((1, 1, 1, 2, 3, 10)))
        else:
            start = base + timedelta(days=day, hours=rng.randint(8, 19), minutes=rng.choice((0, 30)))
            end = start + timedelta(hours=rng.randint(1, 4))
        src, net = rng.choice(sources)
        out.append(Event(src, net, f"u{k}", title, start, end, "" if isinstance(start, date) and not isinstance(start, datetime) else "Europe/Berlin", location=place))
        if rng.random() < 0.2 and len(out) < n:
            src2, net2 = rng.choice(sources)
            if src2 != src:
                out.append(Event(src2, net2, f"u{k}b", "Einladung: " + title, start, end, out[-1].tzid, location=place))
    return out


def speed(n: int) -> float:
    events = synthetic(n)
    nets = networks()
    t0 = time.perf_counter()
    clusters = cluster(events, nets)
    took = time.perf_counter() - t0
    merged = sum(1 for c in clusters if len(c) > 1)
    print(f"cluster() on {n} synthetic events: {took:.1f} s, {len(clusters)} clusters, {merged} with more than one event")
    return took


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=int, metavar="N", help="also time cluster() on N synthetic events")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every wrong decision")
    args = parser.parse_args(argv)
    events, pairs = load_set()
    print(f"{len(pairs)} labelled pairs ({sum(p[2] for p in pairs)} duplicates) over {len(events)} events")
    pairwise, clustered = evaluate()
    print(pairwise.line("same_event"))
    print(clustered.line("cluster"))
    for name, s in (("same_event", pairwise), ("cluster", clustered)):
        for kind, a, b, why in s.wrong:
            print(f"  {name}: {kind}: {a} / {b} — {why}")
    print(f"bars: precision ≥ {PRECISION_BAR}, recall ≥ {RECALL_BAR}")
    if args.speed:
        speed(args.speed)
    ok = pairwise.ok() and clustered.ok()
    print("OK" if ok else "BELOW THE BARS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

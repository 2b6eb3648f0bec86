"""A seeded chaos run: many rounds of refresh + publish over every fixture source,
random sites misbehaving in random ways, in one long-lived process.

    python -m tests.support.chaos --rounds 200 --seed 1 --json chaos-report.json
    make chaos ROUNDS=200 SEED=1

Each round some sources get a fault of ``tests/support/faults.py`` for one to three
rounds (one of the types used least so far, so every type comes up; never two
faults on pages one source shares with another), a few healthy
sources change their bytes but not their meaning (so they are read in full), then
``refresh`` runs (which publishes). After every round:

- the published calendar is one complete calendar, and ``../shared/tools/ics-check``
  accepts it (every ``ics_check_every`` rounds, and always after the last);
- every event published before the chaos is still published, and not as cancelled
  (the events of healthy sources, and the last good ones of faulty sources), and
  nothing else is; and no source has lost a stored upcoming event (which another
  source listing the same event could hide in the calendar);
- ``/status`` and ``netzwerktimer sources list`` (the real command, every ``cli_every``
  rounds and after the last) show each harmful fault as an error or a suspicious
  source with a reason in a person's words, and every other source as healthy;
- the process is alive (an exception out of ``refresh`` counts as a crash), and its
  resident memory after the warm-up grows by less than ``max_growth_mb``.

``run`` returns a ``ChaosReport``; ``report.ok`` says whether every check held.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from starlette.testclient import TestClient

from aggregator.config import Deployment, load_config
from aggregator.pipeline import refresh, select_sources
from aggregator.store import Store
from aggregator.web import create_app
from tests.support import chaos_checks as checks
from tests.support.calendar_state import entries
from tests.support.chaos_checks import Expect
from tests.support.db import temporary_database
from tests.support.faults import FAULTS, HELD, Fault
from tests.support.fixture_sources import SOURCES, FixtureSource, write_config
from tests.support.shared import ICS_CHECK, ics_check
from tests.support.sites_server import SitesServer

T0 = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)  # the fixtures' events are from 2025 on
WARM_UP = 3  # rounds before memory is measured from


@dataclass
class ChaosReport:
    """What a run did and found; ``ok`` when nothing was lost, nothing crashed, every check held."""

    seed: int
    rounds: int = 0
    sources: int = len(SOURCES)
    events_published: int = 0
    faults_injected: int = 0  # fault episodes: one fault on one source for one to three rounds
    faults_by_type: dict[str, int] = field(default_factory=dict)
    faulty_source_rounds: int = 0  # rounds × sources under a fault of their own
    events_lost: int = 0
    crashes: int = 0
    check_failures: int = 0
    ics_checks: int = 0
    sources_list_checks: int = 0
    rss_mb_after_warm_up: float = 0.0
    rss_mb_end: float = 0.0
    rss_mb_peak: float = 0.0
    rss_growth_mb: float = 0.0
    max_growth_mb: float = 0.0
    seconds: float = 0.0
    database: str = "sqlite"
    problems: list[str] = field(default_factory=list)  # the first ones, with their round

    @property
    def ok(self) -> bool:
        return not (self.events_lost or self.crashes or self.check_failures) and self.rss_growth_mb < self.max_growth_mb

    def summary(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults_by_type.items()))
        return (
            f"chaos run, seed {self.seed}: {self.rounds} rounds over {self.sources} sources ({self.events_published} events "
            f"published), {self.faults_injected} faults injected ({faults}; {self.faulty_source_rounds} source-rounds under a fault); events lost: {self.events_lost}; crashes: "
            f"{self.crashes}; failed checks: {self.check_failures}; ics-check runs: {self.ics_checks}; sources list runs: "
            f"{self.sources_list_checks}; memory {self.rss_mb_after_warm_up:.0f} MB after warm-up, {self.rss_mb_end:.0f} MB "
            f"at the end (growth {self.rss_growth_mb:+.1f} MB, limit {self.max_growth_mb:.0f}); {self.seconds:.0f} s on {self.database}"
        )


@dataclass
class _Active:
    fault: Fault
    rounds_left: int


def _paths(source: FixtureSource) -> set[str]:
    """The paths the source reads, without queries: a fault on one hits every query of it."""
    return {p.split("?", 1)[0] for p in (source.path, *source.next_pages, *source.details)}


# A clean source must never time out, even on a loaded machine (a 1 s read timeout did, in
# CI beside a benchmark); the timeout faults stall 5 s, well past this.
SETTINGS = {"timeout": 2.5}


class ChaosRun:
    """One run's state: server, store, baseline, active faults. See the module docstring."""

    def __init__(self, workdir: Path, seed: int, *, database_url: str | None, max_faults: int, ics_check_every: int,
                 cli_every: int, max_growth_mb: float, log=print):
        self.workdir, self.rng, self.log = workdir, random.Random(seed), log
        self.max_faults, self.ics_check_every, self.cli_every = max_faults, ics_check_every, cli_every
        self.report = ChaosReport(seed=seed, max_growth_mb=max_growth_mb)
        self.server = SitesServer().start()
        self.config_path = workdir / "sources.toml"
        self.store = Store(database_url or f"sqlite:///{workdir / 'netzwerktimer.sqlite3'}")
        self.report.database = self.store.engine.dialect.name
        self.store.migrate()
        self.config = load_config(write_config(self.config_path, self.server, settings=SETTINGS))
        self.deployment = Deployment(self.config_path, workdir / "data", self.store.url)
        self.env = {"NETZWERKTIMER_DATABASE_URL": self.store.url, "NETZWERKTIMER_DATA_DIR": str(self.deployment.data_dir)}
        self.client = TestClient(create_app(self.config, self.deployment, self.store, clock=lambda: T0))
        self.active: dict[str, _Active] = {}
        self.lost_keys: set = set()

    def close(self) -> None:
        self.client.close()
        self.store.close()
        self.server.stop()

    # -- the run --

    def baseline(self) -> None:
        """One refresh without faults: what every later round must still publish."""
        result = refresh(self.config, self.store, self.deployment, select_sources(self.config, None), now=T0)
        bad = [(r.source_id, r.outcome, r.error) for r in result.sources if r.outcome != "fetched"]
        if bad:
            raise RuntimeError(f"the baseline refresh failed for {bad}")
        self.published = entries((self.deployment.public_dir / "calendar.ics").read_bytes())
        self.report.events_published = len(self.published)
        self.quiet = {s.id for s in SOURCES if self.store.upcoming_count(s.id, T0) == 0}
        self.upcoming = self._stored_upcoming()

    def _stored_upcoming(self) -> set[tuple[str, str, str]]:
        """(source, source UID, recurrence id) of every stored current event that ends a month
        or more after T0, i.e. stays upcoming through the run. One that a fault gets marked gone
        would be published as cancelled, unless another source lists it too (elmug-auto reads
        what elmug-tribe reads): so they are checked one by one, not only in the calendar."""
        limit = T0 + timedelta(days=30)
        out = set()
        for stored in self.store.published_events():
            ev = stored.event
            last = ev.end or ev.start
            instant = last if isinstance(last, datetime) else datetime.combine(last, datetime.min.time(), timezone.utc)
            if ev.rrule or ev.rdates or instant >= limit:
                out.add((ev.source_id, ev.source_uid, ev.recurrence_id))
        return out

    def round(self, n: int, last: bool) -> None:
        self.server.behave()
        self.server.reset_log()  # the test server's own log is not the product's memory
        faulty, urls = self._inject()
        config = load_config(write_config(self.config_path, self.server, urls=urls, settings=SETTINGS))
        try:
            refresh(config, self.store, self.deployment, select_sources(config, None), now=T0 + timedelta(hours=n))
        except Exception:  # the product must never let one escape
            self.report.crashes += 1
            self._problem(n, "refresh raised: " + traceback.format_exc(limit=5))
        self._check(n, faulty, last)

    def _inject(self) -> tuple[dict[str, Expect], dict[str, str]]:
        """Age the active faults, start new ones, inject all; (what each source must show, replaced URLs)."""
        for sid in list(self.active):
            self.active[sid].rounds_left -= 1
            if self.active[sid].rounds_left <= 0:
                del self.active[sid]
        by_id = {s.id: s for s in SOURCES}
        taken = set().union(*(_paths(by_id[sid]) for sid in self.active)) if self.active else set()
        for source in self.rng.sample(SOURCES, self.rng.randint(0, self.max_faults)):
            if source.id in self.active or _paths(source) & taken:
                continue
            fault = self._least_used([f for f in FAULTS if f.applies_to(source)])
            self.active[source.id] = _Active(fault, self.rng.choice((1, 1, 1, 2, 3)))
            taken |= _paths(source)
            self.report.faults_injected += 1
            self.report.faults_by_type[fault.name] = self.report.faults_by_type.get(fault.name, 0) + 1
        urls = {}
        self.report.faulty_source_rounds += len(self.active)
        for sid, active in self.active.items():
            _paths_hit, url = active.fault.inject(self.server, by_id[sid])
            if url:
                urls[sid] = url
        for source in SOURCES:  # healthy sites change their bytes now and then, not their meaning
            if source.id not in self.active and self.rng.random() < 0.15:
                self.server.touch(source.path)
        return self._expected(by_id), urls

    def _expected(self, by_id: dict[str, FixtureSource]) -> dict[str, Expect]:
        """A faulty source must show its fault. A source that reads a page another source's
        fault hits (elmug-auto reads elmug-tribe's API) shows that fault or, when it did not
        read the page this round, health. A source without upcoming events cannot tell a
        redesign from a quiet spell (the suspicious rule counts upcoming events), so it may
        show health where others are held; so may a source of a kind the fault does not
        harm (``Fault.harmless_for``)."""
        expected = {}
        for sid, active in self.active.items():
            quiet = sid in self.quiet and set(HELD) & set(active.fault.words)
            expected[sid] = Expect(active.fault, may_pass=bool(quiet) or by_id[sid].kind in active.fault.harmless_for)
        for source in SOURCES:
            if source.id in expected:
                continue
            for sid, active in self.active.items():
                if active.fault.mode is not None and _paths(source) & _paths(by_id[sid]):
                    expected[source.id] = Expect(active.fault, may_pass=True)
        return expected

    def _least_used(self, faults: list[Fault]) -> Fault:
        """One of the faults injected least often so far: every type comes up, even in a short run."""
        used = self.report.faults_by_type
        fewest = min(used.get(f.name, 0) for f in faults)
        return self.rng.choice([f for f in faults if used.get(f.name, 0) == fewest])

    def _check(self, n: int, faulty: dict[str, Expect], last: bool) -> None:
        now, problems, lost = checks.check_calendar(self.deployment.public_dir, self.published)
        for key, how in lost.items():
            if key not in self.lost_keys:
                self.lost_keys.add(key)
                self._problem(n, f"event {key} {how}; faults this round: {_names(faulty)}")
        current = {(s.event.source_id, s.event.source_uid, s.event.recurrence_id) for s in self.store.published_events()}
        for key in sorted(self.upcoming - current):
            if key not in self.lost_keys:
                self.lost_keys.add(key)
                self._problem(n, f"stored upcoming event {key} marked gone; faults this round: {_names(faulty)}")
        self.report.events_lost = len(self.lost_keys)
        if ICS_CHECK.exists() and (last or n % self.ics_check_every == 0):
            (verdict,) = ics_check(self.deployment.public_dir / "calendar.ics")
            self.report.ics_checks += 1
            if not verdict["ok"]:
                problems.append(f"ics-check refused the calendar: {json.dumps(verdict)[:500]}")
        rows = {r["id"]: r for r in self.client.get("/status").json()["sources"]}
        problems += checks.check_status_rows(rows, faulty, "/status")
        if last or n % self.cli_every == 0:
            reasons, _text = checks.sources_list(self.config_path, self.env)
            self.report.sources_list_checks += 1
            problems += checks.check_sources_list(reasons, faulty)
        for p in problems:
            self._problem(n, p)
        self.report.check_failures += len(problems)

    def _problem(self, n: int, text: str) -> None:
        if len(self.report.problems) < 50:
            self.report.problems.append(f"round {n}: {text}")
        self.log(f"  round {n}: {text}")


def _names(faulty: dict[str, Expect]) -> str:
    return ", ".join(f"{sid}={e.fault.name}" for sid, e in sorted(faulty.items()) if e.fault) or "none"


def run(rounds: int, seed: int, workdir: Path | None = None, *, database_url: str | None = None, max_faults: int = 4,
        ics_check_every: int = 1, cli_every: int = 1, max_growth_mb: float = 64.0, log=print) -> ChaosReport:
    """Run ``rounds`` rounds of chaos with ``seed``; see the module docstring."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        run_ = ChaosRun(Path(workdir or tmp), seed, database_url=database_url, max_faults=max_faults,
                        ics_check_every=ics_check_every, cli_every=cli_every, max_growth_mb=max_growth_mb, log=log)
        report = run_.report
        try:
            run_.baseline()
            for n in range(1, rounds + 1):
                run_.round(n, last=n == rounds)
                report.rounds = n
                rss = checks.rss_mb()
                report.rss_mb_peak = max(report.rss_mb_peak, rss)
                if n == min(WARM_UP, rounds):
                    report.rss_mb_after_warm_up = rss
                report.rss_mb_end = rss
                if n % 10 == 0 or n == rounds:
                    log(f"round {n}/{rounds}: {report.faults_injected} faults so far, {report.events_lost} events lost, "
                        f"{report.crashes} crashes, {report.check_failures} failed checks, {rss:.0f} MB")
            report.rss_growth_mb = report.rss_mb_end - report.rss_mb_after_warm_up
        finally:
            run_.close()
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.support.chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-faults", type=int, default=4, help="new faults per round, at most")
    p.add_argument("--ics-check-every", type=int, default=1)
    p.add_argument("--cli-every", type=int, default=1, help="run `netzwerktimer sources list` every N rounds")
    p.add_argument("--max-growth-mb", type=float, default=64.0)
    p.add_argument("--database-url", help="default: SQLite in a temporary folder")
    p.add_argument("--postgres", action="store_true", help="on a new schema of the test PostgreSQL (tests/support/db.py)")
    p.add_argument("--json", type=Path, help="write the report here as JSON")
    args = p.parse_args(argv)
    with temporary_database(args.database_url, args.postgres) as url:
        report = run(args.rounds, args.seed, database_url=url, max_faults=args.max_faults,
                     ics_check_every=args.ics_check_every, cli_every=args.cli_every, max_growth_mb=args.max_growth_mb)
    print(report.summary())
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "ok": report.ok}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report written to {args.json}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Crash safety: kill ``netzwerktimer refresh``, ``export ics`` and ``digest`` with SIGKILL at
random points, many times, and check what they leave behind.

    python -m tests.support.crash --kills 150 --seed 1 --json crash-report.json
    make crash KILLS=150 SEED=1

The deployment: every fixture source plus a generated "bulk" calendar of
``bulk_events`` events whose version flips before each refresh (100 events leave,
100 come, every title changes), so a refresh spends real time storing and
publishing; sites answer slowly now and then; the digest goes to four recipients
through an SMTP server that counts what it gets (``smtp_sink``) or to the outbox.
Each kill lands uniformly between 15 % and 105 % of the operation's duration
(measured, and kept up to date by the runs after the kills; Python's start-up
included), or, for every other refresh and digest, at a random step: up to 50 ms
after the k-th source was stored, or the i-th digest handed over. After each kill:

- SQLite's ``integrity_check`` passes, and ``crash_checks.store_invariants`` hold
  (no source half-written, counts agree, events only from committed fetches);
- the published calendar and the exported file are absent or complete, one
  snapshot each, and nothing but hidden temporary files lies beside them;
- then the same command runs to its end, and: the calendar is what the database
  says (``export ics`` to standard output gives the same bytes, SEQUENCEs are those
  of the ``published`` table); the night's digest has reached every recipient, by
  SMTP exactly once (a second copy counts as a double send, and must be flagged as
  a possible duplicate) or in the outbox written once (a rewritten file counts as a
  double send); a recipient without it counts as a lost digest.

``run`` returns a ``CrashReport``; ``report.ok``: no violation, nothing lost, no unflagged double send.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

from aggregator.mail import message_id_for
from tests.support import crash_checks as checks
from tests.support.db import temporary_database
from tests.support.fixture_sources import SOURCES, FixtureSource, write_config
from tests.support.sites_server import SitesServer
from tests.support.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
BULK = FixtureSource("bulk-termine", "itnet", "ics", "/bulk/termine.ics")
RECIPIENTS = ["anna@example.org", "ben@example.org", "carla@example.org", "dirk@example.org"]
FIRST_NIGHT = date(2031, 1, 1)
OPS = ("refresh", "export", "digest")


def bulk_ics(version: int, n: int) -> bytes:
    """Version ``version`` of the bulk calendar: events ``100·v … 100·v + n − 1``, titled "(Fassung v)"."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Netzwerktimer crash test//DE", "X-WR-TIMEZONE:Europe/Berlin"]
    first = 100 * (version % 2)
    for i in range(first, first + n):
        day = date(2027, 1, 1) + timedelta(days=i % 600)
        lines += ["BEGIN:VEVENT", f"UID:bulk-{i}@crash.test", f"DTSTART:{day:%Y%m%d}T{9 + i % 8:02d}0000",
                  f"DTEND:{day:%Y%m%d}T{10 + i % 8:02d}0000", f"SUMMARY:Bulk-Termin {i} (Fassung {version % 2})",
                  f"LOCATION:Raum {i % 40}, Erfurt", f"DESCRIPTION:Termin {i} für den Absturztest, Fassung {version % 2}.",
                  "END:VEVENT"]
    return ("\r\n".join(lines + ["END:VCALENDAR"]) + "\r\n").encode("utf-8")


def bulk_keys(version: int, n: int) -> frozenset:
    first = 100 * (version % 2)
    return frozenset((f"bulk-{i}@crash.test", "") for i in range(first, first + n))


@dataclass
class CrashReport:
    """What a run did and found; ``ok``: no violation, no lost digest, no unflagged double send."""

    seed: int
    database: str = "sqlite"
    kills: int = 0
    kills_by_operation: dict[str, int] = field(default_factory=dict)
    kills_by_phase: dict[str, int] = field(default_factory=dict)
    finished_before_kill: int = 0
    violations: int = 0
    recoveries_failed: int = 0
    digests_expected: int = 0
    digests_lost: int = 0
    double_sends: int = 0
    double_sends_flagged: int = 0
    resends_flagged: int = 0  # digests sent again after a kill while handing over by SMTP (flagged possible duplicates)
    outbox_rewrites: int = 0
    temp_files_left: int = 0
    seconds: float = 0.0
    durations: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        unflagged = self.double_sends - self.double_sends_flagged
        return not (self.violations or self.recoveries_failed or self.digests_lost or unflagged or self.outbox_rewrites)

    def summary(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.kills_by_operation.items()))
        phases = ", ".join(f"{k} {v}" for k, v in sorted(self.kills_by_phase.items()))
        return (
            f"crash run, seed {self.seed} on {self.database}: {self.kills} kills ({ops}; by phase: {phases}), "
            f"{self.finished_before_kill} runs finished before their kill; violations: {self.violations}; failed "
            f"recoveries: {self.recoveries_failed}; digests: {self.digests_expected} due, {self.digests_lost} lost, "
            f"{self.double_sends} sent twice by SMTP ({self.double_sends_flagged} of them flagged; {self.resends_flagged} resends "
            f"flagged as possible duplicates in all), "
            f"{self.outbox_rewrites} outbox files written twice; {self.temp_files_left} temporary files left behind at the end; "
            f"{self.seconds:.0f} s"
        )


class CrashRun:
    """One run's deployment and bookkeeping; see the module docstring."""

    def __init__(self, workdir: Path, seed: int, *, database_url: str | None, bulk_events: int, smtp_data_delay: float = 0.0,
                 log=print):
        self.workdir, self.rng, self.log, self.n_bulk = workdir, random.Random(seed), log, bulk_events
        self.report = CrashReport(seed=seed)
        self.server = SitesServer().start()
        self.smtp = SmtpSink(rcpt_delay=(0.02, 0.15), data_delay=smtp_data_delay).start()
        self.data = workdir / "data"
        self.url = database_url or f"sqlite:///{workdir / 'netzwerktimer.sqlite3'}"
        self.report.database = self.url.split(":", 1)[0].split("+")[0]
        self.config = write_config(workdir / "sources.toml", self.server, SOURCES + (BULK,),
                                   settings={"timeout": 5, "retries": 0},
                                   digest={"recipients": RECIPIENTS, "send_when_empty": True})
        self.env = {"NETZWERKTIMER_DATABASE_URL": self.url, "NETZWERKTIMER_DATA_DIR": str(self.data)}
        for key in ("NETZWERKTIMER_SMTP_HOST", "NETZWERKTIMER_SMTP_PORT", "NETZWERKTIMER_SMTP_SECURITY", "NETZWERKTIMER_CONFIG"):
            os.environ.pop(key, None)
        self.version = 0
        self.night = FIRST_NIGHT
        self.allowed: dict[str, list] = {}
        self.versions: dict[str, dict] = {}
        self._engine = None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self.smtp.stop()
        self.server.stop()

    # -- running the real command --

    def cli(self, *args: str, kill_after: float | None = None, kill_when=None, smtp: bool = False) -> tuple[int | None, bool, str]:
        """Run ``netzwerktimer --config … ARGS``; kill it with SIGKILL after ``kill_after`` s, or
        as soon as ``kill_when()`` is true (polled every few milliseconds; then after up to
        ``kill_after`` s more). (exit code, killed, output)."""
        env = {**os.environ, **self.env, **(self.smtp.env if smtp else {})}
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "aggregator.cli", "--config", str(self.config), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        if kill_when is not None:
            while proc.poll() is None and not kill_when():
                time.sleep(0.003)
        try:
            out, _ = proc.communicate(timeout=kill_after if kill_after is not None else 300)
            self.last_elapsed = time.monotonic() - started
            return proc.returncode, False, out.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            if kill_after is None:
                raise
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate()
            return proc.returncode, True, out.decode("utf-8", "replace")

    # -- set-up --

    def prepare(self) -> None:
        """Two full refreshes (both bulk versions), the allowed states, the operations' durations."""
        for version in (1, 0):
            self._serve_bulk(version)
            started = time.monotonic()
            code, _, out = self.cli("refresh")
            if code != 0:
                raise RuntimeError(f"the first refreshes failed:\n{out}")
            self.report.durations["refresh"] = time.monotonic() - started
        engine_keys = self._current_keys()
        for source in SOURCES:
            self.allowed[source.id] = [frozenset(), engine_keys.get(source.id, frozenset())]
        self.allowed[BULK.id] = [frozenset(), bulk_keys(0, self.n_bulk), bulk_keys(1, self.n_bulk)]
        self.versions[BULK.id] = {bulk_keys(v, self.n_bulk): f"(Fassung {v})" for v in (0, 1)}
        started = time.monotonic()
        self.cli("export", "ics", "-o", str(self.data / "export" / "calendar.ics"))
        self.report.durations["export"] = time.monotonic() - started
        started = time.monotonic()
        code, _, out = self.cli("digest", "--date", (FIRST_NIGHT - timedelta(days=1)).isoformat(), smtp=True)
        if code != 0:
            raise RuntimeError(f"the first digest failed:\n{out}")
        self.report.durations["digest"] = time.monotonic() - started

    def _serve_bulk(self, version: int) -> None:
        self.version = version
        self.server.misbehave(BULK.path, "replace", body=bulk_ics(version, self.n_bulk))

    def _current_keys(self) -> dict[str, frozenset]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT source_id, source_uid, recurrence_id FROM events WHERE gone_at IS NULL")).all()
        finally:
            engine.dispose()
        out: dict[str, set] = {}
        for sid, uid, rid in rows:
            out.setdefault(sid, set()).add((uid, rid))
        return {k: frozenset(v) for k, v in out.items()}

    # -- one kill --

    def kill_once(self, n: int) -> None:
        """One operation, killed at a random time, or (refresh and digest, every other time)
        at a random step: right after the k-th source was stored, the i-th digest handed over."""
        op = self.rng.choice(OPS)
        if op != "export" and self.rng.random() < 0.5:
            getattr(self, f"_{op}")(n, self.rng.uniform(0, 0.05), step=True)
        else:
            getattr(self, f"_{op}")(n, self.rng.uniform(0.15, 1.05) * self.report.durations[op])

    def _refresh(self, n: int, delay: float, step: bool = False) -> None:
        self.server.behave()
        self._serve_bulk(1 - self.version)
        for source in SOURCES:
            r = self.rng.random()
            if r < 0.2:
                self.server.touch(source.path)
            elif r < 0.35:
                self.server.misbehave(source.path, "slow", seconds=self.rng.uniform(0.05, 0.5))
        calendar = self.data / "public" / "calendar.ics"
        before = calendar.read_bytes() if calendar.exists() else None
        fetches_before = self._count("SELECT count(*) FROM fetches")
        wanted = fetches_before + self.rng.randint(1, len(SOURCES) + 1)
        when = (lambda: self._count("SELECT count(*) FROM fetches") >= wanted) if step else None
        _code, killed, _out = self.cli("refresh", kill_after=delay, kill_when=when)
        if killed:
            stored = self._count("SELECT count(*) FROM fetches") - fetches_before
            now = calendar.read_bytes() if calendar.exists() else None
            total = len(SOURCES) + 1
            phase = ("fetching" if stored == 0 else "storing" if stored < total
                     else "publishing" if now == before else "after publishing")
            self._killed(n, "refresh", phase)
        self._after_kill(n, killed)
        code, _, out = self.cli("refresh")
        self._recovered(n, "refresh", code == 0, out)
        exported, _, out2 = self.cli_stdout("export", "ics")
        if exported != calendar.read_bytes():
            self._violation(n, "after refresh: the published calendar differs from `export ics` of the database")
        for p in checks.sequences_match(self.url, calendar):
            self._violation(n, "after refresh: " + p)

    def cli_stdout(self, *args: str) -> tuple[bytes, int, str]:
        env = {**os.environ, **self.env}
        proc = subprocess.run([sys.executable, "-m", "aggregator.cli", "--config", str(self.config), *args],
                              capture_output=True, env=env, cwd=ROOT, timeout=300)
        return proc.stdout, proc.returncode, proc.stderr.decode("utf-8", "replace")

    def _export(self, n: int, delay: float) -> None:
        target = self.data / "export" / "calendar.ics"
        before = target.read_bytes() if target.exists() else None
        _code, killed, _out = self.cli("export", "ics", "-o", str(target), kill_after=delay)
        if killed:
            now = target.read_bytes() if target.exists() else None
            self._killed(n, "export", "before writing" if now == before else "after writing")
        self._after_kill(n, killed)
        problems, _temps = checks.published_file(target, "Fassung")
        for p in problems:
            self._violation(n, "export: " + p)
        code, _, out = self.cli("export", "ics", "-o", str(target))
        self._recovered(n, "export", code == 0 and not checks.published_file(target, "Fassung")[0], out)

    def _digest(self, n: int, delay: float, step: bool = False) -> None:
        night = self.night = self.night + timedelta(days=1)
        smtp = self.rng.random() < 0.6
        outbox = self.data / "outbox"
        files_before = _stats(outbox)
        wanted = self.rng.randint(1, len(RECIPIENTS))
        sql = "SELECT count(*) FROM digest_sends WHERE night = :n AND status IN ('delivering', 'sent')"
        when = (lambda: self._count(sql, n=night) >= wanted) if step else None
        _code, killed, _out = self.cli("digest", "--date", night.isoformat(), smtp=smtp, kill_after=delay, kill_when=when)
        if killed:
            self._killed(n, "digest", self._digest_phase(night))
        after_kill = _stats(outbox)
        self._after_kill(n, killed)
        code, _, out = self.cli("digest", "--date", night.isoformat(), smtp=smtp)
        self._recovered(n, "digest", code == 0, out)
        self.report.digests_expected += len(RECIPIENTS)
        if smtp:
            self._count_smtp(n, night)
        else:
            self._count_outbox(n, night, files_before, after_kill, _stats(outbox))

    def _digest_phase(self, night: date) -> str:
        statuses = Counter(r[0] for r in self._rows("SELECT status FROM digest_sends WHERE night = :n", n=night))
        if not statuses:
            return "digest: before claiming"
        if statuses.get("delivering"):
            return "digest: handing over"
        if statuses.get("pending"):
            return "digest: claimed"
        return "digest: after sending" if statuses.get("sent") == len(RECIPIENTS) else "digest: between recipients"

    def _count_smtp(self, n: int, night: date) -> None:
        copies = self.smtp.copies()
        flagged = {r[0] for r in self._rows("SELECT recipient FROM digest_sends WHERE night = :n AND possible_duplicate = :t", n=night, t=True)}
        self.report.resends_flagged += len(flagged)
        for rcpt in RECIPIENTS:
            got = copies.get((message_id_for(night, [rcpt], "netzwerktimer"), rcpt), 0)
            if got == 0:
                self.report.digests_lost += 1
                self._problem(n, f"digest {night} to {rcpt} lost (SMTP)")
            elif got > 1:
                self.report.double_sends += got - 1
                if rcpt in flagged:
                    self.report.double_sends_flagged += got - 1
                self._problem(n, f"digest {night} to {rcpt} delivered {got} times by SMTP ({'flagged' if rcpt in flagged else 'NOT flagged'})")

    def _count_outbox(self, n: int, night: date, before: dict, after_kill: dict, after: dict) -> None:
        for rcpt in RECIPIENTS:
            name = f"{night.isoformat()}-{rcpt}.eml"
            if name not in after:
                self.report.digests_lost += 1
                self._problem(n, f"digest {night} to {rcpt} lost (outbox)")
            elif name in after_kill and after_kill[name] != after[name]:
                self.report.outbox_rewrites += 1
                self._problem(n, f"digest {night} to {rcpt} written to the outbox twice")

    # -- bookkeeping --

    def _after_kill(self, n: int, killed: bool) -> None:
        if not killed:
            self.report.finished_before_kill += 1
        problems = checks.sqlite_integrity(self.url) + checks.store_invariants(self.url, self.allowed, self.versions)
        cal_problems, _temps = checks.published_file(self.data / "public" / "calendar.ics", "Fassung")
        for p in problems + cal_problems:
            self._violation(n, p)

    def _killed(self, n: int, op: str, phase: str) -> None:
        self.report.kills += 1
        self.report.kills_by_operation[op] = self.report.kills_by_operation.get(op, 0) + 1
        key = phase if phase.startswith(op) else f"{op}: {phase}"
        self.report.kills_by_phase[key] = self.report.kills_by_phase.get(key, 0) + 1

    def _recovered(self, n: int, op: str, ok: bool, out: str) -> None:
        """Record how the run after a kill ended; its duration keeps the kill times calibrated."""
        self.report.durations[op] = round(0.7 * self.report.durations[op] + 0.3 * self.last_elapsed, 3)
        if not ok:
            self.report.recoveries_failed += 1
            self._problem(n, f"the {op} after the kill did not finish well:\n{out[-2000:]}")

    def _violation(self, n: int, text: str) -> None:
        self.report.violations += 1
        self._problem(n, text)

    def _problem(self, n: int, text: str) -> None:
        if len(self.report.problems) < 50:
            self.report.problems.append(f"kill {n}: {text}")
        self.log(f"  kill {n}: {text}")

    def _rows(self, sql: str, **params) -> list:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import OperationalError, ProgrammingError

        if self._engine is None:
            self._engine = create_engine(self.url)
        try:
            with self._engine.connect() as conn:
                return conn.execute(text(sql), params).all()
        except (OperationalError, ProgrammingError):  # no tables yet (a run killed while it migrated)
            return [(0,)]

    def _count(self, sql: str, **params) -> int:
        return self._rows(sql, **params)[0][0]


def _stats(folder: Path) -> dict[str, tuple[int, int]]:
    """name → (inode, mtime) of every file in ``folder``."""
    if not folder.is_dir():
        return {}
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def run(kills: int, seed: int, workdir: Path | None = None, *, database_url: str | None = None, bulk_events: int = 300,
        smtp_data_delay: float = 0.0, log=print) -> CrashReport:
    """Attempt ``kills`` kills with ``seed``; see the module docstring."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-") as tmp:
        run_ = CrashRun(Path(workdir or tmp), seed, database_url=database_url, bulk_events=bulk_events,
                        smtp_data_delay=smtp_data_delay, log=log)
        try:
            run_.prepare()
            for n in range(1, kills + 1):
                run_.kill_once(n)
                if n % 10 == 0 or n == kills:
                    r = run_.report
                    log(f"kill {n}/{kills}: {r.kills} killed, {r.violations} violations, {r.digests_lost} digests lost, "
                        f"{r.double_sends} double sends")
            run_.report.temp_files_left = sum(
                1 for d in ("public", "export", "outbox") if (run_.data / d).is_dir() for p in (run_.data / d).iterdir() if p.name.startswith("."))
        finally:
            run_.close()
    run_.report.seconds = time.monotonic() - started
    return run_.report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.support.crash", description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=150, help="operations started and killed (some finish first)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bulk-events", type=int, default=300)
    p.add_argument("--smtp-data-delay", type=float, default=0.0,
                   help="the SMTP server holds its answer to DATA back this long after it has the message (widens the one window)")
    p.add_argument("--database-url", help="default: SQLite in a temporary folder")
    p.add_argument("--postgres", action="store_true", help="on a new schema of the test PostgreSQL (tests/support/db.py)")
    p.add_argument("--json", type=Path, help="write the report here as JSON")
    args = p.parse_args(argv)
    with temporary_database(args.database_url, args.postgres) as url:
        report = run(args.kills, args.seed, database_url=url, bulk_events=args.bulk_events, smtp_data_delay=args.smtp_data_delay)
    print(report.summary())
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "ok": report.ok}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report written to {args.json}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

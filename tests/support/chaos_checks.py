"""What the chaos run checks after every round, each as a function that returns the
problems it found (empty: all well), in sentences a person can act on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.calendar_state import Entry, entries, lost
from tests.support.faults import Fault, reason_matches

HEALTHY = ("fetched", "not_modified", "unchanged")
ROOT = Path(__file__).resolve().parents[2]


def check_calendar(public_dir: Path, baseline: dict[tuple[str, str], Entry]) -> tuple[dict, list[str], dict]:
    """(entries now, problems, lost entries) of the published calendar against ``baseline``.

    Problems: the file is missing or not one complete calendar; a file in the public
    folder that is neither the calendar nor a hidden temporary file; an entry that
    was not in the baseline (a duplicate or a changed identity). Lost entries (missing,
    or cancelled where they were not) are returned apart, to be counted.
    """
    problems: list[str] = []
    path = public_dir / "calendar.ics"
    try:
        now = entries(path.read_bytes())
    except (OSError, ValueError) as exc:
        return {}, [f"the published calendar cannot be read: {exc}"], {k: "missing" for k in baseline}
    for p in public_dir.iterdir():
        if p.name != "calendar.ics" and not p.name.startswith("."):
            problems.append(f"unexpected file in the public folder: {p.name}")
    extra = sorted(set(now) - set(baseline))
    if extra:
        problems.append(f"{len(extra)} entries that were not published before, e.g. {extra[0]}")
    return now, problems, lost(baseline, now)


@dataclass(frozen=True)
class Expect:
    """What one source must show after a round."""

    fault: Fault | None = None  # None: no fault touches it
    may_pass: bool = False  # showing healthy is right too (see chaos.py: shared pages, quiet sources)

    @property
    def must_pass(self) -> bool:
        return self.fault is None or self.fault.harmless


def check_status_rows(rows: dict[str, dict], expected: dict[str, Expect], where: str) -> list[str]:
    """Every source of ``rows`` (id → row of /status) against what it must show: a harmful
    fault as an error or a suspicious source with a reason in a person's words (or, where
    ``may_pass``, healthy); every other source healthy."""
    problems = []
    for sid, row in rows.items():
        exp = expected.get(sid, Expect())
        reason = row.get("error") if row.get("outcome") == "error" else row.get("suspicious") or row.get("error")
        healthy = row.get("outcome") in HEALTHY and not row.get("error") and not row.get("suspicious")
        name = exp.fault.name if exp.fault else None
        if exp.must_pass:
            if not healthy:
                problems.append(f"{where}: {sid} {'under ' + name if name else 'without a fault'} shows {row.get('outcome')}: {reason}")
        elif healthy:
            if not exp.may_pass:
                problems.append(f"{where}: {sid} under {name} shows {row.get('outcome')}, not a failure")
        elif not reason_matches(exp.fault, reason):
            problems.append(f"{where}: {sid} under {name} says {reason!r}, none of {exp.fault.words}")
    return problems


_LINE = re.compile(r"^  ([!?]) (\S+): (?:suspicious, )?(.*)$")


def sources_list(config: Path, env: dict[str, str]) -> tuple[dict[str, str], str]:
    """Run ``netzwerktimer sources list`` (the real command, a subprocess): (source id → the
    reasons it prints for that source, one per line, the whole output)."""
    proc = subprocess.run([sys.executable, "-m", "aggregator.cli", "--config", str(config), "sources", "list"],
                          capture_output=True, text=True, env={**os.environ, **env}, cwd=ROOT, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"sources list failed ({proc.returncode}): {proc.stderr}")
    reasons = {}
    for line in proc.stdout.splitlines():
        m = _LINE.match(line)
        if m:
            reasons[m.group(2)] = (reasons[m.group(2)] + "\n" if m.group(2) in reasons else "") + m.group(3)
    return reasons, proc.stdout


def check_sources_list(reasons: dict[str, str], expected: dict[str, Expect]) -> list[str]:
    """The text of ``sources list`` names every harmful fault in a person's words, and
    shows no reason for a source that must be healthy."""
    problems = []
    for sid, exp in expected.items():
        if exp.must_pass or (exp.may_pass and sid not in reasons):
            continue
        if sid not in reasons:
            problems.append(f"sources list: {sid} under {exp.fault.name} shows no reason")
        elif not reason_matches(exp.fault, reasons[sid]):
            problems.append(f"sources list: {sid} under {exp.fault.name} says {reasons[sid]!r}, none of {exp.fault.words}")
    for sid, reason in reasons.items():
        if expected.get(sid, Expect()).must_pass:
            problems.append(f"sources list: {sid} must be healthy but shows {reason!r}")
    return problems


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

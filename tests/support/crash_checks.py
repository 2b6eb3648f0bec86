"""What must hold after a process was killed at any point (tests/support/crash.py):
each check returns the problems it found, in sentences, or an empty list."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import icalendar
from sqlalchemy import create_engine, text

from tests.support.calendar_state import entries

Keys = frozenset[tuple[str, str]]


def sqlite_integrity(url: str) -> list[str]:
    """``PRAGMA integrity_check`` of a SQLite database (nothing to check for other databases)."""
    if not url.startswith("sqlite:///"):
        return []
    path = url.removeprefix("sqlite:///")
    if not Path(path).exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    return [] if rows == ["ok"] else [f"integrity_check: {'; '.join(rows[:5])}"]


def store_invariants(url: str, allowed: dict[str, list[Keys]], versions: dict[str, dict[Keys, str]]) -> list[str]:
    """The store as a killed run left it.

    - every source's stored event count (``sources.event_count``) is the number of its
      current events: events and the source's state were written in one transaction;
    - every source's current events are exactly one of its ``allowed`` key sets (none
      yet, or all of one version): no source half-written;
    - for sources in ``versions`` (key set → the word every current title contains),
      every current title belongs to the version of the keys: no row of another version;
    - a source with events has a committed successful fetch;
    - every digest row has a known status, and a sent one its time and Message-ID.
    """
    problems: list[str] = []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not _has_tables(conn):
                return []
            live: dict[str, set] = {}
            titles: dict[str, list[str]] = {}
            for sid, uid, rid, title in conn.execute(text("SELECT source_id, source_uid, recurrence_id, title FROM events WHERE gone_at IS NULL")):
                live.setdefault(sid, set()).add((uid, rid))
                titles.setdefault(sid, []).append(title)
            counts = dict(conn.execute(text("SELECT id, event_count FROM sources")).all())
            fetched = {r[0] for r in conn.execute(text("SELECT DISTINCT source_id FROM fetches WHERE outcome = 'fetched'"))}
            digests = conn.execute(text("SELECT night, recipient, status, sent_at, message_id FROM digest_sends")).all()
    finally:
        engine.dispose()
    for sid in set(live) | set(counts):
        n = len(live.get(sid, ()))
        if counts.get(sid, 0) != n:
            problems.append(f"{sid}: sources.event_count {counts.get(sid)} but {n} current events")
        if n and sid not in fetched:
            problems.append(f"{sid}: {n} current events without a committed successful fetch")
    for sid, keys in live.items():
        options = allowed.get(sid)
        if options is not None and frozenset(keys) not in options:
            sizes = ", ".join(str(len(o)) for o in options)
            problems.append(f"{sid}: {len(keys)} current events, a set none of the allowed ones ({sizes} events)")
        word = versions.get(sid, {}).get(frozenset(keys))
        if word is not None:
            odd = [t for t in titles[sid] if word not in t]
            if odd:
                problems.append(f"{sid}: {len(odd)} current titles not of {word!r}, e.g. {odd[0]!r}")
    for night, recipient, status, sent_at, message_id in digests:
        if status not in ("pending", "delivering", "sent", "failed"):
            problems.append(f"digest {night} {recipient}: unknown status {status!r}")
        if status == "sent" and (sent_at is None or not message_id):
            problems.append(f"digest {night} {recipient}: sent without its time or Message-ID")
    return problems


def _has_tables(conn) -> bool:
    from sqlalchemy import inspect

    return {"events", "sources", "fetches", "digest_sends"} <= set(inspect(conn).get_table_names())


def published_file(path: Path, version_word: str | None = None) -> tuple[list[str], int]:
    """(problems, hidden temporary files beside it) of a published calendar: absent (never
    written yet) or one complete calendar; with ``version_word`` (e.g. "Fassung"), its
    uncancelled entries show one version only (the file is one snapshot, never a mix)."""
    problems: list[str] = []
    folder = path.parent
    temps = [p for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []
    others = [p.name for p in folder.iterdir() if not p.name.startswith(".") and p != path] if folder.is_dir() else []
    if others:
        problems.append(f"unexpected files beside {path.name}: {others}")
    if not path.exists():
        return problems, len(temps)
    try:
        shown = entries(path.read_bytes())
    except ValueError as exc:
        return problems + [f"{path.name} is not one complete calendar: {exc}"], len(temps)
    if version_word:
        seen = Counter(e.summary.rsplit(version_word, 1)[1].strip(" )") for e in shown.values()
                       if version_word in e.summary and e.status != "CANCELLED")
        if len(seen) > 1:
            problems.append(f"{path.name} mixes versions {dict(seen)}")
    return problems, len(temps)


def sequences_match(url: str, calendar: Path) -> list[str]:
    """Every published entry's SEQUENCE is the one the ``published`` table holds for it."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = {(u, r): s for u, r, s in conn.execute(text("SELECT uid, recurrence_id, sequence FROM published"))}
    finally:
        engine.dispose()
    problems = []
    cal = icalendar.Calendar.from_ical(calendar.read_bytes())
    for ev in cal.walk("VEVENT"):
        rid = ev.get("RECURRENCE-ID")
        key = (str(ev["UID"]), rid.to_ical().decode() if rid is not None else "")
        seq = int(ev.get("SEQUENCE", 0))
        if key in stored and stored[key] != seq:
            problems.append(f"{key}: SEQUENCE {seq} in the calendar, {stored[key]} in the published table")
        elif key not in stored and not any(k[0] == key[0] for k in stored):
            problems.append(f"{key}: published without a row in the published table")
    return problems[:10]

"""The lifecycle of conflicts between runs: new → ongoing → resolved, and acknowledgements.

``track(store, found, now, window_start, window_end)`` records what ``find_conflicts``
found and promises:

- a conflict seen for the first time is stored with ``first_seen = now``;
- one seen again keeps its ``first_seen``; when either side's published
  content changed (time, place, title…), ``changed_at`` moves, and an
  acknowledgement given for the old content is withdrawn (it "comes back");
- a stored conflict that is no longer found while it still lies ahead
  inside the window looked at (``window_start`` up to ``window_end``) is
  resolved (``resolved_at = now``): one side moved, was cancelled or
  vanished; a resolved one found again is new again; one outside the window
  is left as it was;
- conflicts that lie in the past are left as they were (history, not
  resolution);
- a conflict left out only because of ``[conflicts] max_per_event`` (both its
  events still there, each with more conflicts than are listed) is not
  resolved either: it is just not listed this time (``unlisted``).

Whether a conflict is *new* for a reader depends on when they last looked:
``Tracked.status_since(since)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from aggregator.conflicts import Conflict, Slot
from aggregator.store import Store


@dataclass(frozen=True)
class Tracked:
    """A conflict as stored, with the snapshot of both sides."""

    id: str
    kind: str
    score: float
    a: dict
    b: dict
    starts_at: datetime
    first_seen: datetime
    last_seen: datetime
    changed_at: datetime | None
    resolved_at: datetime | None
    ack_note: str | None
    ack_at: datetime | None

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def acknowledged(self) -> bool:
        return self.ack_at is not None

    def status_since(self, since: datetime | None) -> str:
        """new / changed / ongoing / resolved / acknowledged, as seen by someone who last looked at ``since``."""
        if self.resolved:
            return "resolved"
        if self.acknowledged:
            return "acknowledged"
        if since is None or self.first_seen > since:
            return "new"
        if self.changed_at is not None and self.changed_at > since:
            return "changed"
        return "ongoing"


def snapshot(slot: Slot) -> dict:
    """What a digest needs of one side, JSON-ready."""
    return {
        "uid": slot.uid,
        "recurrence_id": slot.recurrence_id,
        "title": slot.title,
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "all_day": slot.all_day,
        "day_start": slot.day_start.isoformat(),
        "day_end": slot.day_end.isoformat(),
        "networks": list(slot.networks),
        "location": slot.location,
        "url": slot.url,
    }


def side_key(side: dict) -> tuple[str, str]:
    """The (uid, start key) of a stored side (``snapshot``), as ``Slot.key``."""
    if side.get("all_day"):
        return (side.get("uid", ""), side.get("day_start", ""))
    try:
        start = datetime.fromisoformat(side.get("start", "")).astimezone(timezone.utc).isoformat()
    except ValueError:
        start = side.get("start", "")
    return (side.get("uid", ""), start)


def unlisted(stored: list[dict], found: list[Conflict]) -> set[str]:
    """Ids of stored open conflicts not in ``found`` only because a cap left them out: both sides
    are still there with more conflicts than are listed (``Conflicts.more``). A pair is left out
    only when it is outside the top of both its events, so these are not resolved, just not shown."""
    crowded = getattr(found, "more", None)
    if not crowded:
        return set()
    ids = {c.id for c in found}
    return {row["id"] for row in stored if row["resolved_at"] is None and row["id"] not in ids
            and side_key(row["a"]) in crowded and side_key(row["b"]) in crowded}


def content_hash(conflict: Conflict) -> str:
    payload = json.dumps([conflict.kind, snapshot(conflict.a), snapshot(conflict.b)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def track(store: Store, found: list[Conflict], now: datetime, window_start: datetime,
          window_end: datetime | None = None) -> list[Tracked]:
    """Record this run's conflicts (see the module docstring); return every stored one.
    ``window_end`` (None: unbounded) is where the detection stopped looking."""
    keep = unlisted(store.open_conflicts_except({c.id for c in found}), found) if getattr(found, "more", None) else set()
    store.track_conflicts(
        [(c.id, c.kind, c.score, c.a.uid, c.b.uid, c.a.start, content_hash(c), {"a": snapshot(c.a), "b": snapshot(c.b)}) for c in found],
        now=now,
        window_start=window_start,
        window_end=window_end,
        keep_open=keep,
    )
    return [Tracked(**row) for row in store.conflicts()]


def as_tracked(store: Store, found: list[Conflict], now: datetime, window_start: datetime,
               window_end: datetime | None = None) -> list[Tracked]:
    """What ``track`` would return for ``found``, without writing: a conflict known and
    open keeps its stored dates and acknowledgement (withdrawn if its content changed),
    an unknown or resolved one is new, and a stored open one no longer found that lies
    ahead inside the window is resolved now."""
    rows = store.conflicts()
    keep = unlisted(rows, found)
    stored = {row["id"]: Tracked(**row) for row in rows}
    hashes = store.conflict_hashes()
    out: list[Tracked] = []
    for c in found:
        sides = {"kind": c.kind, "score": c.score, "a": snapshot(c.a), "b": snapshot(c.b), "starts_at": c.a.start}
        old = stored.pop(c.id, None)
        if old is None or old.resolved:
            out.append(Tracked(id=c.id, first_seen=now, last_seen=now, changed_at=None, resolved_at=None, ack_note=None, ack_at=None, **sides))
            continue
        digest = content_hash(c)
        content_hash_stored, ack_hash = hashes.get(c.id, (None, None))
        changed = content_hash_stored != digest
        acked = old.ack_at is not None and (ack_hash is None or ack_hash == digest)
        out.append(replace(old, **sides, last_seen=now, changed_at=now if changed else old.changed_at,
                           ack_note=old.ack_note if acked else None, ack_at=old.ack_at if acked else None))
    for old in stored.values():
        if (not old.resolved and old.starts_at >= window_start and (window_end is None or old.starts_at < window_end)
                and old.id not in keep):
            old = replace(old, resolved_at=now)
        out.append(old)
    return out

"""The store: upsert events by (source, source UID), keep per-source fetch state.

SQLite (WAL) by default, PostgreSQL through a ``postgresql+psycopg://`` URL;
both behave the same. The schema is created and upgraded by Alembic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from aggregator.model import Event, StoredEvent, When
from aggregator.store.moves import Listing, moved_listings
from aggregator.store.tables import ConflictRow, EventRow, FetchRow, PublicationMarkRow, PublishedRow, RenderedRow, RobotsRow, SourceRow

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass
class SyncResult:
    """What one sync of a source's events changed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    gone: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.gone)


@dataclass
class SourceState:
    """A source's cache state and health, as ``sources list`` shows it."""

    id: str
    etag: str | None = None
    http_last_modified: str | None = None
    body_digest: str | None = None
    last_fetch_at: datetime | None = None
    last_success_at: datetime | None = None
    last_outcome: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_warnings: list[str] = field(default_factory=list)
    event_count: int = 0
    suspicious: str | None = None
    accept_next: bool = False
    reading_key: str | None = None  # aggregator.reading_key of the last good read
    later_pages: list[dict] = field(default_factory=list)  # aggregator.crawl.PageState.as_json of its later pages
    auto_choice: str | None = None  # kind auto: what its last good read used


@dataclass(frozen=True)
class PublicationMark:
    """``events_version`` moves with every change to the stored events; ``inputs_key`` and
    ``valid_until`` describe the last recorded publication (``aggregator.publication_mark``)."""

    events_version: int
    inputs_key: str | None
    valid_until: datetime | None


@dataclass
class FetchRecord:
    """One fetch to record: what happened, and for a good one the new cache state."""

    started_at: datetime
    outcome: str
    http_status: int | None = None
    bytes: int = 0
    attempts: int = 1
    elapsed: float = 0.0
    events_found: int | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    etag: str | None = None
    http_last_modified: str | None = None
    body_digest: str | None = None
    reading_key: str | None = None  # a read ("fetched"): how it was made
    later_pages: list[dict] | None = None  # the later pages' cache state to keep; None: leave as it is
    auto_choice: str | None = None  # a read of kind auto: what it used


# Rows per executemany in bulk writes: SQLAlchemy compiles the parameters of one call all
# at once, so a first publication of 200,000 entries in one call held them all twice.
BULK_ROWS = 2000


def _bulk(session: Session, statement, rows: Iterable[dict]) -> None:
    """Execute ``statement`` for ``rows`` (an insert or an update by primary key) in
    executemany calls of ``BULK_ROWS``, within the caller's transaction."""
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == BULK_ROWS:
            session.execute(statement, chunk)
            chunk = []
    if chunk:
        session.execute(statement, chunk)


class Store:
    """All database access of the service goes through here."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    # --- sources -------------------------------------------------------

    def source_states(self) -> dict[str, SourceState]:
        with self._session() as s:
            return {row.id: _state(row) for row in s.scalars(select(SourceRow))}

    def source_state(self, source_id: str) -> SourceState:
        with self._session() as s:
            row = s.get(SourceRow, source_id)
            return _state(row) if row else SourceState(id=source_id)

    def record_fetch(self, source_id: str, rec: FetchRecord, sync: tuple[list[Event], datetime] | None = None) -> SyncResult | None:
        """Log one fetch and update the source's state; with ``sync``, store its events
        in the same transaction, so cache state and events never disagree."""
        with self._session.begin() as s:
            result = self._sync(s, source_id, *sync) if sync is not None else None
            self._record(s, s.get(SourceRow, source_id), source_id, rec, count_events=True)
            return result

    def record_fetches(self, records: list[tuple[str, FetchRecord]]) -> None:
        """Log fetches that stored no events (304s, unchanged bodies, errors) and update their
        sources' state, all in one transaction: a refresh in which nothing changed writes once."""
        if not records:
            return
        with self._session.begin() as s:
            rows = {r.id: r for r in s.scalars(select(SourceRow).where(SourceRow.id.in_({i for i, _ in records})))}
            for source_id, rec in records:
                row = rows.get(source_id)
                rows[source_id] = self._record(s, row, source_id, rec, count_events=row is None)

    def _record(self, s: Session, row: SourceRow | None, source_id: str, rec: FetchRecord, *, count_events: bool) -> SourceRow:
        s.add(
            FetchRow(
                source_id=source_id,
                started_at=rec.started_at,
                elapsed=rec.elapsed,
                outcome=rec.outcome,
                http_status=rec.http_status,
                bytes=rec.bytes,
                attempts=rec.attempts,
                events_found=rec.events_found,
                error=rec.error,
                warnings=rec.warnings,
            )
        )
        row = row or SourceRow(id=source_id, last_warnings=[], event_count=0)
        row.last_fetch_at = rec.started_at
        row.last_outcome = rec.outcome
        row.last_status = rec.http_status
        row.last_error = rec.error
        if rec.outcome == "suspicious":
            # Held back: the stored events and the cache state stay as they were,
            # so the next run reads the source afresh and judges again.
            row.suspicious = rec.error
            row.last_warnings = rec.warnings
        elif rec.outcome in ("fetched", "not_modified", "unchanged"):
            row.suspicious = None  # what it serves is good again (or the last good itself)
            if rec.outcome == "fetched":
                row.accept_next = False
        if rec.outcome not in ("error", "suspicious"):
            row.last_success_at = rec.started_at
            if rec.outcome in ("fetched", "unchanged"):  # an unchanged body may still carry a new ETag
                row.etag = rec.etag
                row.http_last_modified = rec.http_last_modified
                row.body_digest = rec.body_digest
            if rec.outcome == "fetched":
                row.last_warnings = rec.warnings
                row.reading_key = rec.reading_key
                row.auto_choice = rec.auto_choice
            if rec.later_pages is not None:
                row.later_pages = rec.later_pages
        if count_events:  # only a sync changes the count (or a source seen for the first time)
            row.event_count = s.scalar(
                select(func.count()).select_from(EventRow).where(EventRow.source_id == source_id, EventRow.gone_at.is_(None))
            )
        s.add(row)
        return row

    def robots_texts(self, since: datetime) -> dict[str, str]:
        """origin → robots.txt text, for those read at or after ``since``."""
        with self._session() as s:
            return {r.origin: r.text for r in s.scalars(select(RobotsRow).where(RobotsRow.fetched_at >= since))}

    def save_robots_texts(self, texts: dict[str, str], now: datetime) -> None:
        if not texts:
            return
        with self._session.begin() as s:
            s.execute(delete(RobotsRow).where(RobotsRow.origin.in_(list(texts))))
            s.execute(insert(RobotsRow), [{"origin": o, "text": t, "fetched_at": now} for o, t in texts.items()])

    def accept_next(self, source_id: str) -> None:
        """Let the next fetch of a source through even if it looks suspicious."""
        with self._session.begin() as s:
            row = s.get(SourceRow, source_id) or SourceRow(id=source_id, last_warnings=[], event_count=0)
            row.accept_next = True
            s.add(row)

    def upcoming_count(self, source_id: str, now: datetime) -> int:
        """How many of a source's current events have not ended (or started, without end) by ``now``."""
        with self._session() as s:
            ends = func.coalesce(EventRow.end_utc, EventRow.start_utc)
            q = select(func.count()).select_from(EventRow).where(
                EventRow.source_id == source_id, EventRow.gone_at.is_(None), EventRow.recurrence_id == "", (ends >= now) | EventRow.rrule.is_not(None)
            )
            return s.scalar(q) or 0

    def fetch_log(self, source_id: str, limit: int = 20) -> list[FetchRow]:
        with self._session() as s:
            q = select(FetchRow).where(FetchRow.source_id == source_id).order_by(FetchRow.id.desc()).limit(limit)
            return list(s.scalars(q))

    # --- events --------------------------------------------------------

    def sync_events(self, source_id: str, events: list[Event], now: datetime) -> SyncResult:
        """Make the stored events of ``source_id`` match ``events``.

        New keys are added, changed content bumps SEQUENCE and LAST-MODIFIED,
        identical content writes nothing, and keys no longer present are marked
        gone (never deleted).
        """
        with self._session.begin() as s:
            return self._sync(s, source_id, events, now)

    def _sync(self, s: Session, source_id: str, events: list[Event], now: datetime) -> SyncResult:
        result = SyncResult()
        existing = {(r.uid_key, r.recurrence_id): r for r in s.scalars(select(EventRow).where(EventRow.source_id == source_id))}
        incoming: dict[tuple[str, str], Event] = {}
        for ev in events:
            incoming[(_uid_key(ev.source_uid), ev.recurrence_id)] = ev  # the last of duplicate keys wins
        added: list[dict] = []  # new rows go in with one executemany, not one ORM object each
        # A listing whose UID came from its time, moved: its row takes the new UID (``moves``).
        moved = self._moved(existing, incoming, now)
        for key, ev in incoming.items():
            digest = ev.content_hash()
            row = existing.get(key)
            if row is None and key in moved:
                row = moved[key]
                row.uid_key, row.recurrence_id = key
                row.sequence += 1
                _fill(row, ev, digest, now)
                row.gone_at = None
                result.updated += 1
            elif row is None:
                values = _columns(ev, digest, now)
                values.update(source_id=source_id, uid_key=key[0], recurrence_id=key[1], first_seen=now, sequence=0)
                added.append(values)
                result.added += 1
            elif row.content_hash != digest or row.gone_at is not None:
                if row.content_hash != digest:
                    row.sequence += 1
                _fill(row, ev, digest, now)
                row.gone_at = None
                result.updated += 1
            else:
                result.unchanged += 1
        carried = {id(row) for row in moved.values()}
        for key, row in existing.items():
            if key not in incoming and row.gone_at is None and id(row) not in carried:
                row.gone_at = now
                result.gone += 1
        if added:
            s.execute(insert(EventRow.__table__), added)
        if result.changed:
            # In the same transaction: a publication mark never outlives the events it was made of.
            s.execute(update(PublicationMarkRow).values(events_version=PublicationMarkRow.events_version + 1))
        return result

    @staticmethod
    def _moved(existing: dict[tuple[str, str], EventRow], incoming: dict[tuple[str, str], Event], now: datetime) -> dict[tuple[str, str], EventRow]:
        """key of a new listing → the row of the vanished listing it continues (``moves.moved_listings``)."""
        vanished = [Listing(key, r.title, r.url, r.start_utc, r.end_utc or r.start_utc, not (r.rrule or r.rdates or r.recurrence_id))
                    for key, r in existing.items() if key not in incoming and r.gone_at is None]
        if not vanished:
            return {}
        new = [Listing(key, ev.title, ev.url, _instant(ev.start, ev.tzid), _instant(ev.end or ev.start, ev.tzid),
                       not (ev.rrule or ev.rdates or ev.recurrence_id))
               for key, ev in incoming.items() if key not in existing]
        return {new_key: existing[old_key] for new_key, old_key in moved_listings(vanished, new, now).items()}

    def published_events(self, network_id: str | None = None, source_ids: list[str] | None = None) -> list[StoredEvent]:
        """Every event that is currently listed by its source (not gone); only of ``source_ids`` when given."""
        with self._session() as s:
            q = select(EventRow).where(EventRow.gone_at.is_(None))
            if network_id is not None:
                q = q.where(EventRow.network_id == network_id)
            if source_ids is not None:
                q = q.where(EventRow.source_id.in_(source_ids))
            return [_stored(r) for r in s.scalars(q.order_by(EventRow.start_utc, EventRow.id))]

    def members(self, since: datetime) -> list[Member]:
        """Every event that may still be published: current ones, and vanished ones that end
        after ``since`` (the merge step decides about grace and retention)."""
        with self._session() as s:
            ends = func.coalesce(EventRow.end_utc, EventRow.start_utc)
            # Plain rows, not ORM objects: this reads every event on each publication.
            q = select(EventRow.__table__).where(EventRow.gone_at.is_(None) | (ends >= since) | EventRow.rrule.is_not(None)).order_by(EventRow.id)
            # Streamed in batches: 200,000 raw rows buffered at once left hundreds of megabytes
            # of fragmented heap behind them. Equal values (source and network ids, zones,
            # the timestamps of one run) are kept once, not once per event.
            shared: dict = {}
            return [Member(r.id, _stored(r, shared).event, r.merged_uid, _once(shared, r.first_seen), _once(shared, r.last_modified),
                           r.gone_at) for r in s.execute(q.execution_options(yield_per=BULK_ROWS))]

    def set_merged_uids(self, changes: dict[int, str]) -> None:
        """Record the cluster UID of events whose UID changed (nothing else is written)."""
        if not changes:
            return
        with self._session.begin() as s:
            # One executemany by primary key: a first publication touches every row.
            _bulk(s, update(EventRow), ({"id": row_id, "merged_uid": uid} for row_id, uid in changes.items()))

    def publication_mark(self) -> PublicationMark:
        """The stored events' version and the inputs of the last recorded publication."""
        with self._session() as s:
            row = s.get(PublicationMarkRow, 1)
            if row is None:  # a database migrated before the mark existed is always re-published
                return PublicationMark(events_version=-1, inputs_key=None, valid_until=None)
            return PublicationMark(row.events_version, row.inputs_key, row.valid_until)

    def save_publication_mark(self, inputs_key: str | None, valid_until: datetime | None) -> None:
        with self._session.begin() as s:
            s.execute(update(PublicationMarkRow).where(PublicationMarkRow.id == 1).values(inputs_key=inputs_key, valid_until=valid_until))

    def published_states(self) -> dict[tuple[str, str], PublishedState]:
        with self._session() as s:
            return {
                (r.uid, r.recurrence_id): PublishedState(r.uid, r.recurrence_id, r.content_hash, r.sequence, r.first_seen, r.last_modified)
                # plain rows, streamed: one per published entry
                for r in s.execute(select(PublishedRow.__table__).execution_options(yield_per=BULK_ROWS))
            }

    def save_published(self, states: list[PublishedState]) -> None:
        """Insert or update these published states.

        Safe when another thread or process saves the same new entries at the same time
        (``serve`` publishes from the scheduler while a request computes the publication):
        the unique key lets one insert win, and the other run saves again, as updates.
        """
        from sqlalchemy.exc import IntegrityError

        if not states:
            return
        rows = [{"uid": st.uid, "recurrence_id": st.recurrence_id, "content_hash": st.content_hash, "sequence": st.sequence,
                 "first_seen": st.first_seen, "last_modified": st.last_modified} for st in states]
        for attempt in range(3):
            try:
                with self._session.begin() as s:
                    # Bulk statements, not a row object each: a first publication writes every entry.
                    existing = {(u, r) for u, r in s.execute(select(PublishedRow.uid, PublishedRow.recurrence_id))}
                    new = [r for r in rows if (r["uid"], r["recurrence_id"]) not in existing]
                    old = [r for r in rows if (r["uid"], r["recurrence_id"]) in existing]
                    _bulk(s, insert(PublishedRow), new)
                    _bulk(s, update(PublishedRow), old)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def rendered_vevents(self) -> dict[str, bytes]:
        """key → VEVENT bytes, as the last publish left them (``exporters.ics.RenderedVevents``)."""
        with self._session() as s:
            return {k: bytes(v) for k, v in s.execute(select(RenderedRow.key, RenderedRow.ics).execution_options(yield_per=BULK_ROWS))}

    def save_rendered_vevents(self, added: dict[str, bytes], unused: set[str]) -> None:
        """Keep the newly rendered VEVENTs and forget the ones the calendar no longer uses."""
        if not added and not unused:
            return
        with self._session.begin() as s:
            if added:
                _bulk(s, insert(RenderedRow), ({"key": k, "ics": v} for k, v in added.items()))
            stale = sorted(unused)
            for i in range(0, len(stale), 500):
                s.execute(delete(RenderedRow).where(RenderedRow.key.in_(stale[i:i + 500])))

    # --- conflicts ------------------------------------------------------

    def track_conflicts(self, found: list[tuple], *, now: datetime, window_start: datetime, window_end: datetime | None = None,
                        keep_open: set[str] = frozenset()) -> None:
        """Record the conflicts of one run; see ``aggregator.conflict_state`` for the rules.

        ``found``: (id, kind, score, a_uid, b_uid, starts_at, content_hash, snapshot) tuples;
        ``keep_open``: ids not found that are nevertheless not resolved (left out by a cap).
        Written in bulk and in proportion to what changed: new conflicts inserted, changed or
        reopened ones updated by id, vanished ones resolved by id; ``last_seen`` of the rest
        moves in one statement (every open conflict from ``window_start`` up to ``window_end``,
        None: unbounded, is one seen now, once the unseen ones are resolved); a conflict outside
        that window is not touched. Snapshots of unchanged conflicts are not touched.
        """
        chunk = 500
        with self._session.begin() as s:
            stored = {cid: (digest, resolved_at, ack_hash, starts_at)
                      for cid, digest, resolved_at, ack_hash, starts_at in s.execute(
                          select(ConflictRow.id, ConflictRow.content_hash, ConflictRow.resolved_at, ConflictRow.ack_hash,
                                 ConflictRow.starts_at))}
            new_rows, reopened, changed, changed_unack, seen_early = [], [], [], [], []
            seen: set[str] = set()
            for cid, kind, score, a_uid, b_uid, starts_at, digest, snap in found:
                if cid in seen:
                    continue
                seen.add(cid)
                old = stored.get(cid)
                if old is None:
                    new_rows.append({"id": cid, "kind": kind, "score": score, "a_uid": a_uid, "b_uid": b_uid, "starts_at": starts_at,
                                     "status": "open", "content_hash": digest, "snapshot": snap, "first_seen": now, "last_seen": now})
                    continue
                old_digest, resolved_at, ack_hash, _ = old
                fields = {"id": cid, "kind": kind, "score": score, "content_hash": digest, "snapshot": snap, "starts_at": starts_at,
                          "status": "open", "last_seen": now}
                if resolved_at is not None:  # back again: a new conflict as far as readers are concerned
                    reopened.append({**fields, "resolved_at": None, "first_seen": now, "changed_at": None,
                                     "ack_note": None, "ack_hash": None, "ack_at": None})
                elif old_digest != digest:
                    if ack_hash is not None and ack_hash != digest:  # acknowledged for what it was, not for this
                        changed_unack.append({**fields, "changed_at": now, "ack_note": None, "ack_hash": None, "ack_at": None})
                    else:
                        changed.append({**fields, "changed_at": now})
                elif starts_at < window_start:
                    seen_early.append({"id": cid, "last_seen": now})
            for rows in (new_rows,):
                for i in range(0, len(rows), chunk):
                    s.execute(insert(ConflictRow), rows[i:i + chunk])
            for rows in (reopened, changed, changed_unack, seen_early):
                for i in range(0, len(rows), chunk):
                    s.execute(update(ConflictRow), rows[i:i + chunk])
            gone = sorted(cid for cid, (_, resolved_at, _, starts_at) in stored.items()
                          if cid not in seen and cid not in keep_open and resolved_at is None and starts_at >= window_start
                          and (window_end is None or starts_at < window_end))
            for i in range(0, len(gone), chunk):
                s.execute(update(ConflictRow).where(ConflictRow.id.in_(gone[i:i + chunk]))
                          .values(resolved_at=now, status="resolved").execution_options(synchronize_session=False))
            # (a conflict kept open though unlisted counts as seen: its two events still collide)
            in_window = [ConflictRow.starts_at >= window_start] + ([ConflictRow.starts_at < window_end] if window_end is not None else [])
            s.execute(update(ConflictRow).where(ConflictRow.resolved_at.is_(None), *in_window, ConflictRow.last_seen != now)
                      .values(last_seen=now).execution_options(synchronize_session=False))

    def conflicts(self) -> list[dict]:
        with self._session() as s:
            return [
                {
                    "id": r.id, "kind": r.kind, "score": r.score, "a": r.snapshot.get("a", {}), "b": r.snapshot.get("b", {}),
                    "starts_at": r.starts_at, "first_seen": r.first_seen, "last_seen": r.last_seen, "changed_at": r.changed_at,
                    "resolved_at": r.resolved_at, "ack_note": r.ack_note, "ack_at": r.ack_at,
                }
                for r in s.scalars(select(ConflictRow).order_by(ConflictRow.starts_at, ConflictRow.id))
            ]

    def open_conflicts_except(self, ids: set[str]) -> list[dict]:
        """The open conflicts whose id is not in ``ids`` ({id, a, b, resolved_at}): ids read first,
        snapshots only of those, so the cost follows what is missing, not what is stored."""
        with self._session() as s:
            missing = sorted(cid for cid in s.scalars(select(ConflictRow.id).where(ConflictRow.resolved_at.is_(None))) if cid not in ids)
            out = []
            for i in range(0, len(missing), 500):
                for cid, snap in s.execute(select(ConflictRow.id, ConflictRow.snapshot).where(ConflictRow.id.in_(missing[i:i + 500]))):
                    out.append({"id": cid, "a": (snap or {}).get("a", {}), "b": (snap or {}).get("b", {}), "resolved_at": None})
            return out

    def conflict_hashes(self) -> dict[str, tuple[str, str | None]]:
        """id → (content hash, acknowledged content hash or None), for read-only lifecycle views."""
        with self._session() as s:
            return {cid: (h, ack) for cid, h, ack in s.execute(select(ConflictRow.id, ConflictRow.content_hash, ConflictRow.ack_hash))}

    def acknowledge_conflict(self, conflict_id: str, note: str, now: datetime) -> bool:
        """Mark a conflict as known and intended (until either side changes); False if unknown or
        resolved (a resolved conflict found again is new again, so an acknowledgement would be lost)."""
        with self._session.begin() as s:
            row = s.get(ConflictRow, conflict_id)
            if row is None or row.resolved_at is not None:
                return False
            row.ack_note, row.ack_hash, row.ack_at = note, row.content_hash, now
            return True

    def all_events(self, source_id: str) -> list[EventRow]:
        """Every row of a source, gone ones included (for inspection and tests)."""
        with self._session() as s:
            return list(s.scalars(select(EventRow).where(EventRow.source_id == source_id).order_by(EventRow.id)))


    # --- digest sends (aggregator.mail.send_once) ----------------------
    # Exactly once per night and recipient: the unique (night, recipient) row is
    # claimed before delivery and marked afterwards. Imports are local to keep
    # this section self-contained.

    def claim_digest(self, night: date, recipient: str, now: datetime, *, force: bool = False, stale_after_seconds: float = 900.0) -> bool:
        """``claim_digest_send`` as a yes/no: True if this caller may send."""
        return self.claim_digest_send(night, recipient, now, force=force, stale_after_seconds=stale_after_seconds) is not None

    def claim_digest_send(self, night: date, recipient: str, now: datetime, *, force: bool = False, stale_after_seconds: float = 900.0,
                          owner: str | None = None, owner_is_gone=None) -> DigestClaim | None:
        """Claim the right to send ``night``'s digest to ``recipient``; None if this caller may not.

        A new row is inserted as pending (``taken_from`` None). A failed row is taken over;
        so is a pending or delivering one whose claim is older than ``stale_after_seconds``
        (default 15 minutes: its sender died or hangs) or whose claimer ``owner_is_gone(claimed_by)``
        says is dead (then at once). A sent row (unless ``force``) or a live claim of another
        run gives None. ``taken_from`` tells what the row was: "delivering" means the dead run
        may have handed the message over already.
        Safe with concurrent callers: the unique constraint lets one insert win, and the
        takeover is one UPDATE conditional on the row as read, whose row count says who got it.
        """
        from datetime import timedelta

        from sqlalchemy import insert, update
        from sqlalchemy.exc import IntegrityError

        from aggregator.store.tables import DigestSendRow as D

        try:
            with self._session.begin() as s:
                s.execute(insert(D).values(night=night, recipient=recipient, status="pending", attempts=0, updated_at=now, claimed_by=owner))
            return DigestClaim(None)
        except IntegrityError:
            pass  # the row exists: take it over if it may be taken
        with self._session() as s:
            row = s.scalar(select(D).where(D.night == night, D.recipient == recipient))
        if row is None:
            return None
        open_claim = row.status in ("pending", "delivering")
        stale = row.updated_at < now - timedelta(seconds=stale_after_seconds)
        gone = open_claim and owner_is_gone is not None and owner_is_gone(row.claimed_by)
        if not (row.status == "failed" or (open_claim and (stale or gone)) or (force and row.status == "sent")):
            return None
        same = D.claimed_by.is_(None) if row.claimed_by is None else D.claimed_by == row.claimed_by
        with self._session.begin() as s:
            result = s.execute(
                update(D)
                .where(D.id == row.id, D.status == row.status, D.updated_at == row.updated_at, same)
                .values(status="pending", updated_at=now, claimed_by=owner)
                .execution_options(synchronize_session=False)
            )
            return DigestClaim(row.status) if result.rowcount == 1 else None

    def mark_digest_delivering(self, night: date, recipient: str, now: datetime) -> None:
        """Record, before handing the message over, that it is being handed over: a run that
        dies from here on may or may not have delivered it (``claim_digest_send``'s ``taken_from``)."""
        from sqlalchemy import update

        from aggregator.store.tables import DigestSendRow as D

        with self._session.begin() as s:
            s.execute(
                update(D)
                .where(D.night == night, D.recipient == recipient, D.status == "pending")
                .values(status="delivering", updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def mark_digest_sent(self, night: date, recipient: str, message_id: str | None, delivered_to: str, now: datetime, *,
                         possible_duplicate: bool = False) -> None:
        """Record that the digest was handed over (to the SMTP server or the outbox); ``possible_duplicate``:
        it was sent again after a run died while handing it over, so the recipient may have two copies."""
        from sqlalchemy import update

        from aggregator.store.tables import DigestSendRow as D

        with self._session.begin() as s:
            values = dict(status="sent", message_id=message_id, delivered_to=delivered_to, last_error=None, updated_at=now, sent_at=now,
                          possible_duplicate=possible_duplicate)
            result = s.execute(
                update(D)
                .where(D.night == night, D.recipient == recipient)
                .values(attempts=D.attempts + 1, **values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 0:  # sent without a claim: record it all the same
                s.add(D(night=night, recipient=recipient, attempts=1, **values))

    def mark_digest_failed(self, night: date, recipient: str, error: str, now: datetime) -> None:
        """Record a failed attempt (attempts + 1, the reason); the row stays unsent for the next run.
        A row that is already sent (by a concurrent run) is left as it is."""
        from sqlalchemy import update

        from aggregator.store.tables import DigestSendRow as D

        with self._session.begin() as s:
            s.execute(
                update(D)
                .where(D.night == night, D.recipient == recipient, D.status != "sent")
                .values(status="failed", attempts=D.attempts + 1, last_error=error, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def digest_sends(self, night: date) -> list:
        """The ``DigestSendRow``s of one night, by recipient."""
        from aggregator.store.tables import DigestSendRow as D

        with self._session() as s:
            return list(s.scalars(select(D).where(D.night == night).order_by(D.recipient)))

    def last_digest_sent(self, recipient: str) -> datetime | None:
        """When the last digest to ``recipient`` was sent (None: never)."""
        from aggregator.store.tables import DigestSendRow as D

        with self._session() as s:
            return s.scalar(select(func.max(D.sent_at)).where(D.recipient == recipient, D.status == "sent"))

    # --- operations (aggregator.web_ops: /metrics, /readyz) ------------
    # Read-only aggregates for the scrape; imports are local to keep this section self-contained.

    def fetch_outcome_counts(self) -> dict[str, int]:
        """How many logged fetches ended in each outcome (fetched, not_modified, unchanged, error)."""
        from aggregator.store.tables import FetchRow as F

        with self._session() as s:
            return {outcome: n for outcome, n in s.execute(select(F.outcome, func.count()).group_by(F.outcome))}

    def last_digest_sent_any(self) -> datetime | None:
        """When any digest was last sent (None: never)."""
        from aggregator.store.tables import DigestSendRow as D

        with self._session() as s:
            return s.scalar(select(func.max(D.sent_at)).where(D.status == "sent"))

    def ping(self) -> None:
        """``SELECT 1``; raises when the database does not answer."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

@dataclass(frozen=True, slots=True)
class Member:
    """A stored event as the merge step sees it."""

    row_id: int
    event: Event
    merged_uid: str | None
    first_seen: datetime
    last_modified: datetime
    gone_at: datetime | None


@dataclass(frozen=True)
class DigestClaim:
    """A claim on one digest send; ``taken_from``: the status of the row it took over (None: a new row)."""

    taken_from: str | None


@dataclass
class PublishedState:
    """What subscribers were last shown under (uid, recurrence id)."""

    uid: str
    recurrence_id: str
    content_hash: str
    sequence: int
    first_seen: datetime
    last_modified: datetime


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _uid_key(source_uid: str) -> str:
    return hashlib.sha256(source_uid.encode("utf-8", "surrogatepass")).hexdigest()


def _columns(ev: Event, digest: str, now: datetime) -> dict:
    """The columns of an event's row that its content decides."""
    all_day = ev.all_day
    return {
        "source_uid": ev.source_uid,
        "network_id": ev.network_id,
        "title": ev.title,
        "description": ev.description,
        "location": ev.location,
        "url": ev.url,
        "all_day": all_day,
        "tzid": ev.tzid,
        "start_utc": _instant(ev.start, ev.tzid),
        "end_utc": None if ev.end is None else _instant(ev.end, ev.tzid),
        "start_date": ev.start if all_day else None,
        "end_date": ev.end if all_day else None,
        "status": ev.status,
        "categories": list(ev.categories),
        "rrule": ev.rrule,
        "rdates": [d.isoformat() for d in ev.rdates],
        "exdates": [d.isoformat() for d in ev.exdates],
        "content_hash": digest,
        "last_modified": now,
    }


def _fill(row: EventRow, ev: Event, digest: str, now: datetime) -> None:
    for name, value in _columns(ev, digest, now).items():
        setattr(row, name, value)


def _instant(value: When, tzid: str) -> datetime:
    """The UTC instant of a value; all-day dates count from local midnight (Europe/Berlin)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return datetime.combine(value, time(0), ZoneInfo(tzid or "Europe/Berlin")).astimezone(timezone.utc)


def _parse_when(text: str, tzid: str) -> When:
    if "T" not in text:
        return date.fromisoformat(text)
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None and tzid:
        value = value.astimezone(timezone.utc if tzid == "UTC" else ZoneInfo(tzid))
    return value


def _once(shared: dict | None, value):
    """``value``, or the equal object ``shared`` already holds (``shared`` None: ``value``)."""
    return value if shared is None else shared.setdefault(value, value)


def _stored(r: EventRow, shared: dict | None = None) -> StoredEvent:
    """The stored event of a row; with ``shared``, values equal to earlier rows' (ids,
    zone, status; the URL when it is the source's UID) are those rows' objects."""
    if r.all_day:
        start, end = r.start_date, r.end_date
    else:
        zone = timezone.utc if r.tzid == "UTC" else ZoneInfo(r.tzid)
        start = r.start_utc.astimezone(zone)
        end = None if r.end_utc is None else r.end_utc.astimezone(zone)
    ev = Event(
        source_id=_once(shared, r.source_id),
        network_id=_once(shared, r.network_id),
        source_uid=r.source_uid,
        recurrence_id=_once(shared, r.recurrence_id),
        title=r.title,
        description=r.description,
        location=r.location,
        url=r.source_uid if r.url == r.source_uid else r.url,
        start=start,
        end=end,
        tzid=_once(shared, r.tzid),
        status=_once(shared, r.status),
        categories=tuple(r.categories or ()),
        rrule=r.rrule,
        rdates=tuple(_parse_when(d, r.tzid) for d in r.rdates or ()),
        exdates=tuple(_parse_when(d, r.tzid) for d in r.exdates or ()),
    )
    return StoredEvent(event=ev, first_seen=r.first_seen, last_modified=r.last_modified, sequence=r.sequence)


def _state(row: SourceRow) -> SourceState:
    return SourceState(
        id=row.id,
        etag=row.etag,
        http_last_modified=row.http_last_modified,
        body_digest=row.body_digest,
        last_fetch_at=row.last_fetch_at,
        last_success_at=row.last_success_at,
        last_outcome=row.last_outcome,
        last_status=row.last_status,
        last_error=row.last_error,
        last_warnings=list(row.last_warnings or []),
        event_count=row.event_count or 0,
        suspicious=row.suspicious,
        accept_next=bool(row.accept_next),
        reading_key=row.reading_key,
        later_pages=list(row.later_pages or []),
        auto_choice=row.auto_choice,
    )

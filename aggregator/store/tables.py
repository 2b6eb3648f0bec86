"""The database tables. Times are stored as naive UTC and returned aware (UTCDateTime),
so SQLite and PostgreSQL behave the same."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    false,
    JSON,
    Boolean,
    LargeBinary,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """An aware datetime in, an aware UTC datetime out; stored as naive UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    """One event of one source, as last seen; never deleted when it vanishes, only marked gone."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("source_id", "uid_key", "recurrence_id", name="uq_event_identity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), index=True)
    uid_key: Mapped[str] = mapped_column(String(64))  # sha256 of source_uid: bounded index size
    source_uid: Mapped[str] = mapped_column(Text)
    recurrence_id: Mapped[str] = mapped_column(String(64), default="")
    network_id: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # for all-day: local midnight
    end_utc: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    start_date = mapped_column(Date, nullable=True)  # all-day events only
    end_date = mapped_column(Date, nullable=True)
    tzid: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    categories: Mapped[list] = mapped_column(JSON, default=list)
    rrule: Mapped[str | None] = mapped_column(Text, nullable=True)
    rdates: Mapped[list] = mapped_column(JSON, default=list)  # ISO strings
    exdates: Mapped[list] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    merged_uid: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)  # the public UID of its cluster


class SourceRow(Base):
    """What we know about a source between runs: its HTTP cache state and its health."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    http_last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_warnings: Mapped[list] = mapped_column(JSON, default=list)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    suspicious: Mapped[str | None] = mapped_column(Text, nullable=True)  # why the last fetch was held back
    accept_next: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # an operator accepted what comes next
    # How the last good read was made (aggregator.reading_key): when the source's settings or the
    # extracting code change, the cache state above no longer describes what we would read.
    reading_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The cache state of every page the last good read fetched after the first (further list
    # pages, detail pages, the feed kind auto chose): checked when the first page is unchanged.
    later_pages: Mapped[list | None] = mapped_column(JSON, nullable=True, default=list)
    # Kind auto: what the last good read used ("<kind> <url>"); kept, since another would give its events other ids.
    auto_choice: Mapped[str | None] = mapped_column(Text, nullable=True)


class PublishedRow(Base):
    """What subscribers have been shown under one UID (and recurrence id): its content
    hash, so SEQUENCE and LAST-MODIFIED move only when the published content does."""

    __tablename__ = "published"

    uid: Mapped[str] = mapped_column(String(120), primary_key=True)
    recurrence_id: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)


class RenderedRow(Base):
    """One VEVENT as last written to the calendar, by a key over everything it is made of:
    publishing reuses it instead of serialising the event again."""

    __tablename__ = "rendered_vevents"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    ics: Mapped[bytes] = mapped_column(LargeBinary)


class PublicationMarkRow(Base):
    """One row: a version of the stored events, moved by every change to them, and the inputs
    the last recorded publication was made of, with the time until which it stays what
    ``publication`` would give (``aggregator.publication_mark``)."""

    __tablename__ = "publication_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    events_version: Mapped[int] = mapped_column(Integer, default=0)
    inputs_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RobotsRow(Base):
    """A site's robots.txt as last read ("" when it had none), kept for a day (RFC 9309)."""

    __tablename__ = "robots_txt"

    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConflictRow(Base):
    """A collision between two published events (one occurrence each), with its lifecycle:
    new → ongoing → resolved, and an optional acknowledgement by a manager."""

    __tablename__ = "conflicts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # stable: kind + both occurrences
    kind: Mapped[str] = mapped_column(String(16))  # overlap | same_day
    a_uid: Mapped[str] = mapped_column(String(120), index=True)
    b_uid: Mapped[str] = mapped_column(String(120), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the earlier occurrence's start
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | ongoing | resolved
    score: Mapped[float] = mapped_column(Float, default=0.0)
    content_hash: Mapped[str] = mapped_column(String(64))  # both sides as published: "changed" when it moves
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)  # both events as last seen, for digests after they vanish
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    ack_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # content when acknowledged
    ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DigestSendRow(Base):
    """One digest for one recipient and night: sent exactly once (unique night + recipient)."""

    __tablename__ = "digest_sends"
    __table_args__ = (UniqueConstraint("night", "recipient", name="uq_digest_night_recipient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    night = mapped_column(Date, index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    # pending (claimed) | delivering (being handed over: after a crash it may or may not have arrived) | sent | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # aggregator.claims.run_owner() of the claim
    # sent again after a run died while handing it over by SMTP: the recipient may have two copies
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    delivered_to: Mapped[str | None] = mapped_column(Text, nullable=True)  # "smtp host:port" or the outbox file
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FetchRow(Base):
    """One fetch of one source: when, HTTP status, bytes, events found, error text."""

    __tablename__ = "fetches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    elapsed: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(16))  # fetched | not_modified | unchanged | error
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    events_found: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    warnings: Mapped[list] = mapped_column(JSON, default=list)

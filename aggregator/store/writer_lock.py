"""One writer at a time per database, across processes.

Within ``serve`` the scheduler's lock already makes refreshes, the digest and admin
actions take turns. A second process on the same database (``netzwerktimer refresh``
from cron, a ``digest`` run by hand, a second replica) would otherwise refresh, merge
and record conflicts beside it: the constraints keep the data consistent, but two
publications race, and the loser's work is wasted or retried.

``WriterLock(database_url)`` is held by whoever writes:

- SQLite: an exclusive ``flock`` on ``<database file>.writer-lock`` (released by the
  kernel when the process dies, so a killed writer never blocks the next);
- PostgreSQL: a session advisory lock on a connection of its own (released when that
  connection ends, also when the process dies); its key is made from the URL's options,
  so deployments in different schemas (``search_path``) of one database do not wait for each other;
- an in-memory SQLite database belongs to one process: nothing to lock.

``acquire(wait)`` polls until it holds the lock or ``wait`` seconds have passed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

_POLL = 0.2


class WriterBusy(Exception):
    """Another process held the lock for longer than we were willing to wait."""


class WriterLock:
    """The database's writer lock (see the module docstring). Not reentrant."""

    def __init__(self, database_url: str):
        url = make_url(database_url)
        self._file: Path | None = None
        self._engine = None
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:" and not url.database.startswith("file::memory:"):
                self._file = Path(url.database + ".writer-lock")
        else:
            self._engine = create_engine(url)
            # The same in every process for the same database and schema: a signed 64-bit number.
            options = "&".join(f"{k}={v}" for k, v in sorted(url.query.items()))
            digest = hashlib.sha256(f"netzwerktimer-writer|{options}".encode()).digest()
            self._key = int.from_bytes(digest[:8], "big", signed=True)
        self._fd: int | None = None
        self._conn = None

    def acquire(self, wait: float) -> bool:
        """Hold the lock; False when another process still holds it after ``wait`` seconds."""
        deadline = time.monotonic() + max(wait, 0.0)
        while not self._try():
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            finally:
                self._conn.close()
                self._conn = None

    def close(self) -> None:
        self.release()
        if self._engine is not None:
            self._engine.dispose()

    def holding(self, wait: float, what: str) -> _Held:
        """``with lock.holding(wait, "refresh"):`` — raises ``WriterBusy`` naming ``what`` when it cannot."""
        return _Held(self, wait, what)

    def _try(self) -> bool:
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
            return True
        if self._engine is not None:
            conn = self._engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            conn.commit()  # the lock is the session's, not the transaction's
            if not got:
                conn.close()
                return False
            self._conn = conn
            return True
        return True  # in-memory SQLite: one process


class _Held:
    def __init__(self, lock: WriterLock, wait: float, what: str):
        self._lock, self._wait, self._what = lock, wait, what

    def __enter__(self) -> WriterLock:
        if not self._lock.acquire(self._wait):
            raise WriterBusy(f"another Netzwerktimer process is writing to this database; "
                             f"{self._what} gave up after waiting {self._wait:g} s")
        return self._lock

    def __exit__(self, *exc) -> None:
        self._lock.release()

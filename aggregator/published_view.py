"""What the web's readers see: the publication, computed without writing and kept
while nothing changed.

The scheduler is the only writer in ``serve``: it refreshes, records the
publication and writes ``calendar.ics`` (write-then-rename, only when its bytes
change). ``PublishedView.items(now)`` promises:

- it never writes to the database (``publication(..., record=False)``), so a
  request can never collide with the writer over a row;
- it returns what ``publication`` would return at ``now``, recomputed whenever
  the published file changed (it changes whenever the publication does); while the
  recorded publication stands (``publication_mark``: nothing it is made of changed,
  and time has not reached its ``valid_until``) requests share one computed list,
  otherwise it is computed again at least once a minute (time alone moves events out
  of the grace and retention windows).
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from aggregator import publication_mark
from aggregator.config import Config
from aggregator.merge import publication
from aggregator.model import StoredEvent
from aggregator.store import Store


class PublishedView:
    def __init__(self, config: Config, store: Store, calendar_path: Path):
        self.config, self.store, self.calendar_path = config, store, calendar_path
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._items: list[StoredEvent] = []

    def items(self, now: datetime) -> list[StoredEvent]:
        """The published events at ``now`` (a shared list: callers must not change it)."""
        key = self._key_for(now)
        with self._lock:
            if key is None or key != self._key:
                self._items = publication(self.config, self.store, now, record=False)
                self._key = key
            return self._items

    def _key_for(self, now: datetime) -> tuple | None:
        try:
            st = self.calendar_path.stat()
        except FileNotFoundError:
            return None  # nothing published yet: no cache to trust
        mark = self.store.publication_mark()
        if publication_mark.stands(self.config, mark, now):  # the same until the stored events or the configuration change
            return (st.st_ino, st.st_mtime_ns, st.st_size, mark.inputs_key, mark.valid_until)
        return (st.st_ino, st.st_mtime_ns, st.st_size, now.replace(second=0, microsecond=0))

"""Whether the last recorded publication still stands, so a refresh in which nothing
changed does not compute it again (clustering and merging every stored event costs as
much as the first publication).

A publication (``aggregator.merge.publication``) is a function of the stored events, the
configuration, the code that makes it, and time:

- the stored events are summed up by their version (``Store.publication_mark``), which
  every change to them moves in the same transaction;
- the configuration and the publishing code by a digest (``inputs_key``): a new
  ``sources.toml`` or a new release publishes afresh;
- time enters only at instants ``publication`` knows and returns as ``valid_until``:
  the end of a vanished event's grace period, an event passing ``retention``, and the
  next UTC midnight (series are expanded in a window aligned to the day).

``stands`` is true only when all of these are what the last recorded publication was
made of, so skipping it gives exactly what computing it would give.
"""

from __future__ import annotations

import hashlib
import importlib.util
from datetime import datetime
from functools import cache
from pathlib import Path

import aggregator
from aggregator.config import Config
from aggregator.store import Store
from aggregator.store.repo import PublicationMark

# The modules whose code decides what is published (and how it is rendered).
_PUBLISHING_CODE = ("aggregator.merge", "aggregator.vanished", "aggregator.dedupe", "aggregator.recurrence", "exporters.ics", "exporters.vtimezone")


@cache
def _code_digest() -> str:
    h = hashlib.sha256(aggregator.__version__.encode())
    for name in _PUBLISHING_CODE:
        h.update(Path(importlib.util.find_spec(name).origin).read_bytes())
    return h.hexdigest()


_config_digests: dict[int, tuple[Config, str]] = {}  # the config is kept, so its id is not reused


def _config_digest(config: Config) -> str:
    kept = _config_digests.get(id(config))
    if kept is None:
        # Not where the file was read from: the same sources.toml named by a relative path (a CLI
        # run) and an absolute one (the service) is the same configuration.
        dump = config.model_dump_json(exclude={"path"})
        kept = _config_digests[id(config)] = (config, hashlib.sha256(dump.encode()).hexdigest())
    return kept[1]


def inputs_key(config: Config, events_version: int) -> str:
    """A digest of what a publication is made of, apart from time."""
    return hashlib.sha256(f"{_code_digest()}|{_config_digest(config)}|{events_version}".encode()).hexdigest()


def stands(config: Config, mark: PublicationMark, now: datetime) -> bool:
    """Would ``publication(config, store, now)`` give what was last recorded? (``mark``: ``store.publication_mark()``)"""
    return (mark.inputs_key is not None and mark.valid_until is not None and now < mark.valid_until
            and mark.inputs_key == inputs_key(config, mark.events_version))


def record(config: Config, store: Store, version: int, valid_until: datetime) -> None:
    """Note that the publication made of events at ``version`` (read before it was computed, so a
    change stored meanwhile makes the mark stale) stands until ``valid_until``."""
    store.save_publication_mark(inputs_key(config, version), valid_until)

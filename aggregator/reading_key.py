"""How a source is read, as a digest: what one read stores depends on the site's bytes and on this.

A 304, or a body that did not change, lets a refresh skip a source only while we would read
those bytes as we did last time. Two things besides the bytes decide that:

- the source's settings (kind, URL, selectors, network, time zone, caps) and the
  ``[settings]`` that shape what a read keeps (time zone, horizon);
- the code that extracts and normalizes (a new release may read a page better).

``reading_key`` sums both up. The pipeline stores it with every good read and fetches
a source afresh (unconditionally) when it differs, so an edited ``sources.toml`` or an
upgrade takes effect at the next refresh, not when the site next changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from functools import cache
from pathlib import Path

import aggregator
from aggregator.config import Config, Source

# What turns bytes into stored events: the extractors (the German date parser and the site
# modules among them), the crawler that feeds them pages, and normalization.
_READING_CODE = ("extract", "german_dates", "crawl.py", "discover.py", "normalize.py", "model.py", "urls.py")
# Settings of a source that decide when it is read, not how.
_NOT_READING = {"refresh", "enabled", "note"}


@cache
def _code_digest() -> str:
    root = Path(aggregator.__file__).parent
    h = hashlib.sha256(aggregator.__version__.encode())
    for name in _READING_CODE:
        path = root / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(file.relative_to(root).as_posix().encode())
            h.update(file.read_bytes())
    return h.hexdigest()


def reading_key(config: Config, source: Source) -> str:
    """A digest that changes whenever reading the same bytes of ``source`` could store
    different events: its own settings, the ``[settings]`` it inherits for reading, or the
    reading code. Its refresh interval, ``enabled`` and ``note`` do not count."""
    described = {
        "source": source.model_dump(mode="json", exclude=_NOT_READING),
        "timezone": str(config.timezone_of(source)),
        "horizon": config.settings.horizon.total_seconds(),
        "limits": {k: str(v) for k, v in asdict(config.limits_of(source)).items()},
        "code": _code_digest(),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()

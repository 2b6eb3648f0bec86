"""Extractors: bytes of one source → raw events. One module per kind.

Each module has ``extract(body: bytes, ctx: ExtractContext) -> Extraction``.
It raises ``ExtractError`` (and nothing else) when the body cannot be read as
that kind at all; problems with single entries become ``warnings`` and the
rest of the body is still used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from aggregator.model import RawEvent


class ExtractError(Exception):
    """The body is not readable as this kind of source; the message says why."""


@dataclass(frozen=True)
class ExtractContext:
    """What an extractor may know besides the body."""

    url: str  # where the body came from: base for relative links
    timezone: ZoneInfo  # the source's zone: floating times and German dates are in it
    now: datetime  # aware reference time (frozen in tests), e.g. to infer missing years


@dataclass
class Extraction:
    events: list[RawEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def extract(kind: str, body: bytes, ctx: ExtractContext) -> Extraction:
    """Run the extractor for ``kind``; only ExtractError escapes."""
    module = importlib.import_module(f"aggregator.extract.{kind}")
    try:
        return module.extract(body, ctx)
    except ExtractError:
        raise
    except Exception as exc:  # a bug or an input nobody foresaw: report it, never crash the run
        raise ExtractError(f"{kind} extractor failed: {type(exc).__name__}: {exc}") from exc

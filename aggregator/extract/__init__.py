"""Extractors: bytes of one source → raw events. One module per kind.

Each module has ``extract(body: bytes, ctx: ExtractContext) -> Extraction``.
It raises ``ExtractError`` (and nothing else) when the body cannot be read as
that kind at all; problems with single entries become ``warnings`` and the
rest of the body is still used.

Extractors never fetch. A kind that spans several pages says what to read
next, and the crawler (``aggregator/crawl.py``) fetches it politely, bounded
by the source's ``max_pages`` and to the source's host:

- ``Extraction.next_pages``: further list pages (pagination), each read with
  the same ``extract``; their events are appended.
- ``Extraction.details``: ``(index into events, URL)`` of detail pages; each
  body is given to the module's optional
  ``enrich(event: RawEvent, body: bytes, ctx: ExtractContext) -> tuple[RawEvent, list[str]]``
  which returns the event with missing fields filled in, and warnings.

Extractors are bounded: a page with more than ``ctx.max_html_nodes`` elements
is refused with ``LimitExceeded`` (an ``ExtractError``) before a tree is built
(``aggregator/extract/markup.py``); caps that cut an extraction short are named
in ``Extraction.caps``.

An Extraction marked ``incomplete`` (a body cut off in transfer, a list page
that could not be read) is only part of the source: the pipeline stores none
of it, so the events it lacks are not taken for vanished.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from datetime import datetime
from zoneinfo import ZoneInfo

from aggregator.model import RawEvent


class ExtractError(Exception):
    """The body is not readable as this kind of source; the message says why."""


class LimitExceeded(ExtractError):
    """The body is over one of the source's caps (e.g. ``max_html_nodes``); the message names the cap."""


# Elements one HTML page may have ([settings] max_html_nodes). Real event pages
# have a few thousand; a tree of this many already takes some hundred MB.
DEFAULT_MAX_HTML_NODES = 200_000


@dataclass(frozen=True)
class ExtractContext:
    """What an extractor may know besides the body."""

    url: str  # where the body came from: base for relative links
    timezone: ZoneInfo  # the source's zone: floating times and German dates are in it
    now: datetime  # aware reference time (frozen in tests), e.g. to infer missing years
    options: Mapping[str, Any] = field(default_factory=dict)  # the source's [sources.<kind>] table
    max_html_nodes: int = DEFAULT_MAX_HTML_NODES  # a page with more elements is refused (LimitExceeded)


@dataclass
class Extraction:
    events: list[RawEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    next_pages: list[str] = field(default_factory=list)  # absolute URLs of further list pages
    details: list[tuple[int, str]] = field(default_factory=list)  # (event index, absolute detail URL)
    caps: list[str] = field(default_factory=list)  # caps that cut this extraction short: shown before the warnings
    # Why what was read is only part of the source (a body cut off in transfer, a list
    # page that could not be read), or None. Its events are shown, never stored.
    incomplete: str | None = None
    # Filled by the crawler, not by extractors: every page it read after the first, with
    # its cache state (aggregator.crawl.PageState), so a later refresh can check them.
    pages_read: list = field(default_factory=list)
    # Kind auto: what it read ("<kind> <url>", see discover.choice_of), and, when that is not what
    # the last good read used, why it changed (the pipeline holds such a read as suspicious).
    auto_choice: str | None = None
    auto_switched: str | None = None


def guarded(what: str) -> Callable[[Callable], Callable]:
    """Make an extractor keep its promise that only ExtractError escapes: markup nested
    too deeply, or a bug or an input nobody foresaw, becomes an ExtractError naming ``what``."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(body: bytes, ctx: ExtractContext) -> Extraction:
            try:
                return fn(body, ctx)
            except ExtractError:
                raise
            except RecursionError as exc:
                raise ExtractError(f"{what}: the input is nested too deeply to read") from exc
            except Exception as exc:  # report it, never crash the run
                raise ExtractError(f"{what} extractor failed: {type(exc).__name__}: {exc}") from exc

        return inner

    return wrap


def extract(kind: str, body: bytes, ctx: ExtractContext) -> Extraction:
    """Run the extractor for ``kind``; only ExtractError escapes. A body that looks cut
    off (``completeness.cut_off``) gives an Extraction marked ``incomplete``."""
    from aggregator.extract.completeness import cut_off

    module = importlib.import_module(f"aggregator.extract.{kind}")
    result = guarded(kind)(module.extract)(body, ctx)
    if result.incomplete is None:
        result.incomplete = cut_off(kind, body)
    return result

"""A listing that moved: the same event under a new source UID in one fetch.

Sources without stable per-event ids derive an event's UID from what it states:
an HTML table without links from title and start, an ICS event without UID from
start, title and place, a link shared by several dates from the link and the
start. When such an event moves to another time, the old UID vanishes and a new
one appears, and subscribers would see "cancelled" for the old entry beside a
new one. ``moved_listings`` finds these pairs so the store can keep the row (its
public UID, CREATED and SEQUENCE, which then moves up) and give it the new UID.

It guesses only when there is nothing to choose from. A new listing takes over
a vanished one when, in the same fetch of the same source:

- both are single events (no series, no RECURRENCE-ID override);
- the vanished one had not ended yet (a past event leaving a list of upcoming
  events is not a move);
- their titles are equal after normalization (case, Unicode form, whitespace),
  and their links are equal when either has one;
- their starts lie at most ``MOVED_WITHIN`` apart;
- exactly one vanished and exactly one new listing of the source carry that
  title (two of either: no pair is made).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

MOVED_WITHIN = timedelta(days=3)


@dataclass(frozen=True)
class Listing:
    """What the matching needs of one listing: ``key`` names it for the caller."""

    key: Hashable
    title: str
    url: str
    start: datetime  # UTC instant (local midnight for all-day events)
    end: datetime
    single: bool  # neither a series nor an override


def moved_listings(vanished: Iterable[Listing], new: Iterable[Listing], now: datetime) -> dict[Hashable, Hashable]:
    """key of a new listing → key of the vanished listing it continues (see the module doc)."""
    gone_by_title: dict[str, list[Listing]] = defaultdict(list)
    new_by_title: dict[str, list[Listing]] = defaultdict(list)
    for listing in vanished:
        if listing.single:
            gone_by_title[normalized_title(listing.title)].append(listing)
    for listing in new:
        if listing.single:
            new_by_title[normalized_title(listing.title)].append(listing)
    pairs: dict[Hashable, Hashable] = {}
    for title, gone in gone_by_title.items():
        arrived = new_by_title.get(title, [])
        if len(gone) != 1 or len(arrived) != 1:
            continue  # none, or a choice we would have to guess
        old, fresh = gone[0], arrived[0]
        if old.end <= now:
            continue
        if (old.url or fresh.url) and old.url != fresh.url:
            continue
        if abs(fresh.start - old.start) > MOVED_WITHIN:
            continue
        pairs[fresh.key] = old.key
    return pairs


def normalized_title(title: str) -> str:
    """The title as compared: Unicode-normalized, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", title or "").casefold().split())

"""Which vanished listing a new one continues (aggregator.store.moves): only unambiguous pairs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aggregator.store.moves import Listing, moved_listings

NOW = datetime(2025, 9, 1, 6, tzinfo=timezone.utc)
DAY = datetime(2025, 10, 15, 8, tzinfo=timezone.utc)


def listing(key, title="Workshop Cybersicherheit", start=DAY, url="", single=True) -> Listing:
    return Listing(key, title, url, start, start + timedelta(hours=2), single)


def test_one_vanished_and_one_new_listing_of_a_title_within_days_are_paired():
    assert moved_listings([listing("old")], [listing("new", title=" workshop  CYBERSICHERHEIT", start=DAY + timedelta(days=2))], NOW) == {"new": "old"}


def test_listings_are_not_paired_when_anything_differs_or_is_ambiguous():
    old, new = listing("old"), listing("new", start=DAY + timedelta(hours=4))
    assert moved_listings([old], [listing("new", title="Workshop KI")], NOW) == {}
    assert moved_listings([listing("old", url="https://a.example/1")], [listing("new", url="https://a.example/2")], NOW) == {}
    assert moved_listings([listing("old", url="https://a.example/1")], [new], NOW) == {}
    assert moved_listings([old], [listing("new", start=DAY + timedelta(days=4))], NOW) == {}
    assert moved_listings([old, listing("old2", start=DAY + timedelta(days=1))], [new], NOW) == {}
    assert moved_listings([old], [new, listing("new2", start=DAY + timedelta(days=1))], NOW) == {}
    assert moved_listings([listing("old", single=False)], [new], NOW) == {}
    assert moved_listings([old], [listing("new", single=False)], NOW) == {}
    # a past event leaving a list of upcoming ones did not move
    assert moved_listings([old], [new], DAY + timedelta(hours=3)) == {}

"""Deduplication: the same event listed by several sources becomes one cluster.

``cluster(events, networks)`` takes the live, non-recurring-override events of
all sources (series masters and single events; RECURRENCE-ID overrides follow
their master and are not passed in) and returns clusters as lists of indices
into ``events``. Promises:

- deterministic and independent of the order of ``events`` (same input set,
  same clusters, each cluster sorted, clusters sorted by their first index's
  event key);
- two events of the same source are never put into one cluster (a source lists
  an event once; two entries are two events);
- blocking by date first, then title (fuzzy, after normalising case, umlauts,
  punctuation and network prefixes), start/end, place and canonical URL.

The pipeline (``aggregator/merge.py``) turns clusters into published events
with stable UIDs.
"""

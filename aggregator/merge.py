"""From stored events to what subscribers see: one published event per cluster.

``publication(config, store, now)`` promises:

- **one entry per event**: the events of all sources are clustered
  (``aggregator.dedupe``); a cluster is published once, naming every network
  that lists it and keeping the best of each member (the most precise time,
  the longest description and place, the organiser's own link first), chosen
  by a rule over the members (``_precedence``), so every published field is the
  same whatever order the members arrived in;
- **stable identity**: a cluster's UID is stored with its members and kept
  while any of them exists, whatever the order of sources or which member came
  first; a new cluster takes the smallest UID of the members present at its
  first publication, so within one refresh the order of sources does not
  matter. Across deployments it may: where sources arrive in separate refreshes
  the UID is the first arrival's, and no rule can do better without changing a
  published UID when a member joins (the listings share no key before all are
  known; that is why clustering is fuzzy). RECURRENCE-ID overrides follow their
  master;
- **honest changes**: SEQUENCE and LAST-MODIFIED move only when the published
  content of an entry changes (``published`` table), so a refresh that changed
  nothing upstream yields byte-identical output;
- **no silent loss**: an upcoming event whose every member vanished is
  published as cancelled for ``settings.vanished_grace``, then dropped; an
  event that vanished after it took place stays, as history, until
  ``settings.retention`` after its end; a series that vanished keeps its past
  occurrences and only its upcoming ones are cancelled (``aggregator.vanished``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aggregator.config import Config
from aggregator.dedupe import cluster, states_time_of_day
from aggregator.model import Event, StoredEvent, When
from aggregator.recurrence import expand
from aggregator.store import Store
from aggregator.store.repo import Member, PublishedState
from aggregator.vanished import Fate, ended_series
from aggregator.vanished import fate as vanished_fate
from exporters.ics import appearance_digest, public_uid


# Series are expanded from a week back (a series' occurrence of last week may
# still match a listing) to the horizon; at most [settings] max_occurrences each.
LOOKBACK = timedelta(days=7)


def series_window(config: Config, now: datetime) -> tuple[datetime, datetime]:
    """The window in which series are expanded for deduplication (the pipeline warns about
    series that have more than ``max_occurrences`` in it): from a week before ``now``'s UTC
    day to the horizon after its end. Aligned to the day, so the clusters change with the
    day, not with every minute (``Publication.valid_until``)."""
    day = _utc_day(now)
    return day - LOOKBACK, day + timedelta(days=1) + config.settings.horizon


def _utc_day(now: datetime) -> datetime:
    return now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


class Publication(list):
    """The published events (a list of ``StoredEvent``), and ``valid_until``: the first
    instant at which time alone changes what ``publication`` gives for the same stored
    events and configuration (a grace period or retention ends, a new day starts)."""

    valid_until: datetime


def publication(config: Config, store: Store, now: datetime, *, record: bool = True) -> Publication:
    """Cluster, assign UIDs, decide what is published, record changes; see the module doc.

    ``record=False`` reads only (the web's readers): cluster UIDs and SEQUENCE /
    LAST-MODIFIED are computed as a recording run would set them, but nothing is
    written, so readers never race the writer (the scheduler) for a row."""
    settings = config.settings
    # Only configured event sources are published: context calendars are not,
    # and a source removed from sources.toml takes its events with it.
    event_sources = {s.id for s in config.sources if s.role == "events"}
    members = [m for m in store.members(since=now - settings.retention) if m.event.source_id in event_sources]
    live = [m for m in members if m.gone_at is None and not m.event.recurrence_id]
    live.sort(key=_member_key)
    clusters = _clusters(live, members, config, now)
    uid_of = _assign_uids(live, clusters)

    # Overrides follow their master's cluster; vanished rows keep the UID they had.
    master_uid = {(m.event.source_id, m.event.source_uid): uid_of[m.row_id] for m in live}
    groups: dict[str, list[Member]] = defaultdict(list)
    changes: dict[int, str] = {}
    for m in members:
        key = (m.event.source_id, m.event.source_uid)
        if m.gone_at is None:
            uid = uid_of.get(m.row_id) or master_uid.get(key) or public_uid(*key)
        else:
            uid = m.merged_uid or public_uid(*key)
        if uid != m.merged_uid:
            changes[m.row_id] = uid
        groups[uid].append(m)
    if record:
        store.set_merged_uids(changes)

    entries: list[tuple[str, Event, tuple[str, ...]]] = []
    zone = ZoneInfo(settings.timezone)
    changes_at = [_utc_day(now) + timedelta(days=1)]
    changes_at += [t + settings.retention for t in (_earliest_end(m.event) for m in members if not (m.event.rrule or m.event.rdates))
                   if t + settings.retention > now]
    for uid in sorted(groups):
        group = groups[uid]
        current = [m for m in group if m.gone_at is None]
        if current:
            status_override, fate = None, None
            chosen = current
        else:
            vanished = max(m.gone_at for m in group)
            fate = _upcoming_when_vanished(group, vanished, zone, config)
            in_grace = now - vanished <= settings.vanished_grace
            if in_grace and fate is not Fate.HISTORY:
                changes_at.append(vanished + settings.vanished_grace)
            if fate is Fate.CANCELLED:
                if not in_grace:
                    continue  # announced as cancelled long enough
                status_override = "cancelled"
            else:
                status_override = None  # it took place (all of it, or up to the vanishing: ``ended_series``)
                if any(m.event.rrule or m.event.rdates for m in group):
                    # A series is kept as history until retention after its vanishing (by then
                    # every occurrence still published had ended).
                    if now - vanished > settings.retention:
                        continue
                    changes_at.append(vanished + settings.retention)
            chosen = group
        merged = _merged(chosen, config, status_override)
        if not current and fate is Fate.ENDED:
            events = ended_series(merged[0][0], [e for e, _ in merged[1:]], vanished, settings.horizon, in_grace=in_grace,
                                  limit=settings.max_occurrences, zone=zone)
            merged = [(e, merged[0][1]) for e in events]
        for event, networks in merged:
            if not event.rrule and not event.rdates and _ended_before(event, now - settings.retention, zone):
                continue
            entries.append((uid, event, networks))
    result = Publication(_with_publication_state(store, entries, now, record, config))
    result.valid_until = min(changes_at)
    return result


def _clusters(live: list[Member], members: list[Member], config: Config, now: datetime) -> list[list[int]]:
    """Clusters of ``live`` (indices). Series take part with their master and with each
    occurrence inside the horizon, so a network listing one date of another network's
    series joins that series instead of appearing twice."""
    series = [i for i, m in enumerate(live) if m.event.rrule or m.event.rdates]
    candidates = [m.event for m in live]
    owner = list(range(len(live)))
    if series:
        keys = {(live[i].event.source_id, live[i].event.source_uid): i for i in series}
        overrides = [m.event for m in members if m.gone_at is None and m.event.recurrence_id and (m.event.source_id, m.event.source_uid) in keys]
        window_start, window_end = series_window(config, now)
        found = expand([live[i].event for i in series] + overrides, window_start, window_end,
                       limit=config.settings.max_occurrences, zone=ZoneInfo(config.settings.timezone))
        for occ in found:
            master = keys.get((occ.event.source_id, occ.event.source_uid))
            if master is None or occ.event.status == "cancelled":
                continue
            candidates.append(replace(occ.event, start=occ.start, end=occ.end, rrule=None, rdates=(), exdates=(), recurrence_id=""))
            owner.append(master)
    # Union the members that share a cluster through any of their candidates.
    parent = list(range(len(live)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for group in cluster(candidates, config.networks):
        roots = sorted({find(owner[i]) for i in group})
        for r in roots[1:]:
            parent[r] = roots[0]
    by_root: dict[int, list[int]] = defaultdict(list)
    for i in range(len(live)):
        by_root[find(i)].append(i)
    return sorted(by_root.values())


def _member_key(m: Member) -> tuple:
    return (m.event.source_id, m.event.source_uid, m.event.recurrence_id)


def _assign_uids(live: list[Member], clusters: list[list[int]]) -> dict[int, str]:
    """row id → cluster UID. A cluster keeps a UID its members already carry (the one
    held longest wins when two clusters claim it); a new cluster takes its smallest
    member UID. Kept UIDs are what makes a UID stable, and also why it depends on which
    members were present when the cluster was first published."""
    claims = []
    for ci, indices in enumerate(clusters):
        ms = [live[i] for i in indices]
        for uid in {m.merged_uid for m in ms if m.merged_uid}:
            holder = min((m.first_seen, *_member_key(m)) for m in ms if m.merged_uid == uid)
            claims.append((holder, ci, uid))
    chosen: dict[int, str] = {}
    used: set[str] = set()
    for _, ci, uid in sorted(claims):
        if ci not in chosen and uid not in used:
            chosen[ci] = uid
            used.add(uid)
    for ci, indices in enumerate(clusters):
        if ci not in chosen:
            own = sorted(public_uid(live[i].event.source_id, live[i].event.source_uid) for i in indices)
            uid = next(u for u in own if u not in used) if any(u not in used for u in own) else own[0] + "-" + str(ci)
            chosen[ci] = uid
            used.add(uid)
    return {live[i].row_id: chosen[ci] for ci, indices in enumerate(clusters) for i in indices}


def _merged(group: list[Member], config: Config, status_override: str | None) -> list[tuple[Event, tuple[str, ...]]]:
    """The published entries of one cluster: the merged master (or single event) and the
    representative's RECURRENCE-ID overrides."""
    masters = [m for m in group if not m.event.recurrence_id]
    if not masters:  # only overrides left (their master vanished earlier): publish them as they are
        masters = group
    # A series stays a series: single listings of its dates add their network, not their fields.
    series = [m for m in masters if m.event.rrule or m.event.rdates]
    masters = series or masters
    # Every field is chosen from the members in one order that does not depend on when
    # they were first seen, so the published entry is the same whatever order the
    # sources arrived in.
    ranked = sorted(masters, key=lambda m: _precedence(m.event, config)) if len(masters) > 1 else masters
    rep = ranked[0]
    networks = tuple(sorted({m.event.network_id for m in group}, key=lambda n: (config.networks[n].label if n in config.networks else n).casefold()))
    events = [m.event for m in ranked]
    merged = replace(
        rep.event,
        description=_longest(e.description for e in events),
        location=_longest(e.location for e in events),
        url=_own_link(events, config),
        categories=tuple(dict.fromkeys(c for e in events for c in e.categories)),
        status=status_override or ("cancelled" if any(e.status == "cancelled" for e in events) else rep.event.status),
    )
    out = [(merged, networks)]
    for m in group:
        if m.event.recurrence_id and (m.event.source_id, m.event.source_uid) == (rep.event.source_id, rep.event.source_uid):
            out.append((m.event if status_override is None else replace(m.event, status=status_override), networks))
    return out


def _precedence(event: Event, config: Config) -> tuple:
    """The order in which a cluster's listings lend their fields; the first is the
    representative, whose title and time are published.

    The most precise time first: a time of day over a date (an all-day listing or a date
    written as midnight, ``dedupe.states_time_of_day``), then an end over none. Among
    equally precise listings the organiser's own (a link on its network's website) comes
    first, then the smallest (source id, source UID): a rule over the listings alone,
    never over when they were first seen."""
    return (not states_time_of_day(event), not _has_end(event), not _on_own_site(event, config),
            event.source_id, event.source_uid)


def _has_end(event: Event) -> bool:
    """An end the calendar can use: after the start (the exporter drops any other)."""
    end, start = event.end, event.start
    if end is None or isinstance(end, datetime) != isinstance(start, datetime):
        return False
    return end > start


def _longest(values) -> str:
    """The longest value; of equally long ones the first (``values`` come in precedence order)."""
    best = ""
    for v in values:
        if len(v) > len(best):
            best = v
    return best


def _on_own_site(event: Event, config: Config) -> bool:
    """Whether the event's link is on the website of the network that lists it."""
    network = config.networks.get(event.network_id)
    site = (urlsplit(network.website).hostname or "").removeprefix("www.") if network and network.website else ""
    host = (urlsplit(event.url).hostname or "").removeprefix("www.")
    return bool(site) and host == site


def _own_link(events: list[Event], config: Config) -> str:
    """The organiser's own page first: a link on the website of the network that lists it.

    ``events`` come in precedence order (``_precedence``), so when several listings link to
    their own network's site, the one that states the time most precisely wins (the
    organiser usually publishes the full programme, networks passing it on often only the
    date), then the smallest source id. Without such a link: the representative's link,
    else the first listing's that has one."""
    own = next((e.url for e in events if _on_own_site(e, config)), "")
    return own or next((e.url for e in events if e.url), "")


def _instant(value: When, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), zone)


def _upcoming_when_vanished(group: list[Member], vanished: datetime, zone: ZoneInfo, config: Config) -> Fate:
    """What a cluster whose every member vanished is now: HISTORY when all of it had taken
    place, CANCELLED when it still lay ahead, ENDED for a series with occurrences on both
    sides of its vanishing (``aggregator.vanished``). A series decides for its cluster: the
    single listings of its dates that joined it are among its occurrences."""
    series = [m for m in group if not m.event.recurrence_id and (m.event.rrule or m.event.rdates)]
    if series:
        fates = set()
        for s in series:
            key = (s.event.source_id, s.event.source_uid)
            overrides = [m.event for m in group if m.event.recurrence_id and (m.event.source_id, m.event.source_uid) == key]
            fates.add(vanished_fate(s.event, overrides, s.gone_at or vanished, config.settings.horizon,
                                    limit=config.settings.max_occurrences, zone=zone))
        return next(f for f in (Fate.ENDED, Fate.CANCELLED, Fate.HISTORY) if f in fates)
    for m in group:
        e = m.event
        if _instant(e.end or e.start, zone) > (m.gone_at or vanished):
            return Fate.CANCELLED
    return Fate.HISTORY


def _earliest_end(event: Event) -> datetime:
    """No later than the instant retention counts from, whichever zone a date is read in
    (``_ended_before`` reads it in the calendar's zone, the store's query in UTC)."""
    value = event.end or event.start
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), timezone.utc) - timedelta(days=1)


def _ended_before(event: Event, limit: datetime, zone: ZoneInfo) -> bool:
    return _instant(event.end or event.start, zone) < limit


def _with_publication_state(store: Store, entries: list[tuple[str, Event, tuple[str, ...]]], now: datetime,
                            record: bool, config: Config) -> list[StoredEvent]:
    """Attach SEQUENCE / LAST-MODIFIED / CREATED, moving them only where what subscribers
    see changed: the digest covers the event, its networks and how they are named
    (``exporters.ics.appearance_digest``), so renaming a network is a change too."""
    states = store.published_states()
    changed: list[PublishedState] = []
    out: list[StoredEvent] = []
    for uid, event, networks in entries:
        digest = appearance_digest(event, networks, config.networks)
        key = (uid, event.recurrence_id)
        st = states.get(key)
        if st is None:
            st = PublishedState(uid, event.recurrence_id, digest, 0, now, now)
            changed.append(st)
        elif st.content_hash == _digest_before_labels(event, networks):
            # Recorded by a version whose digest did not cover the labels: nothing subscribers
            # see can be told changed, so the row takes the new digest without a new SEQUENCE.
            st = PublishedState(uid, event.recurrence_id, digest, st.sequence, st.first_seen, st.last_modified)
            changed.append(st)
        elif st.content_hash != digest:
            st = PublishedState(uid, event.recurrence_id, digest, st.sequence + 1, st.first_seen, max(now, st.last_modified))
            changed.append(st)
        out.append(StoredEvent(event=event, first_seen=st.first_seen, last_modified=st.last_modified, sequence=st.sequence, uid=uid, networks=networks))
    if record:
        store.save_published(changed)
    return out


def _digest_before_labels(event: Event, networks: tuple[str, ...]) -> str:
    """The published-state digest of versions before network labels were covered (up to
    November 2026), so that upgrading does not move every entry's SEQUENCE once."""
    return hashlib.sha256((event.content_hash() + "|" + ",".join(networks)).encode()).hexdigest()

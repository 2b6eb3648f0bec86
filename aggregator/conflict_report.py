"""Conflicts and date checks as people ask for them (the ``conflicts`` and
``check-date`` commands, later the web page): from what is published now."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

from aggregator.conflict_state import Tracked, as_tracked, side_key, track
from aggregator.conflicts import Slot, find_conflicts, make_slot, slots
from aggregator.config import Config
from aggregator.merge import publication
from aggregator.model import StoredEvent
from aggregator.store import Store

NEW_FOR = timedelta(hours=24)  # without a digest to compare with, "new" means seen in the last day
FREE_DAYS_SEARCHED = 21


class Detected(list):
    """A ``list[Tracked]`` plus what ``[conflicts] max_per_event`` left out (see ``conflicts.Conflicts``):
    ``more`` maps an occurrence key (uid, start key) to how many of its conflicts are not listed,
    ``total`` counts the colliding pairs in all."""

    def __init__(self, items=(), *, more: dict | None = None, total: int | None = None) -> None:
        super().__init__(items)
        self.more: dict[tuple[str, str], int] = more or {}
        self.total: int = len(self) if total is None else total

    @property
    def capped(self) -> bool:
        return bool(self.more)


def detect(config: Config, store: Store, now: datetime, start: datetime | None = None, end: datetime | None = None,
           *, published: list[StoredEvent] | None = None, record: bool = True) -> Detected:
    """Find the conflicts in [start, end) (default: now to now + [conflicts] horizon), record
    their lifecycle, and return those found now plus those resolved in the window.
    ``published`` saves recomputing ``publication(config, store, now)`` when the caller has it.
    ``record=False`` writes nothing (the web's readers): each conflict is returned as a
    recording run would leave it, judged against what was last recorded.
    A narrowed window records only what lies in it: a stored conflict outside [start, end)
    is neither resolved nor touched. A window reaching past the horizon writes nothing (as
    with ``record=False``): the nightly runs would not see what it found."""
    rules = config.conflicts.rules()
    zone = ZoneInfo(config.settings.timezone)
    start = start or now
    end = end or now + rules.horizon
    if published is None:
        published = publication(config, store, now, record=record)
    found = find_conflicts(slots(published, start, end, zone=zone, rules=rules, limit=config.settings.max_occurrences), rules, zone=zone)
    # Recorded beyond the horizon, a conflict would be stored long before a nightly run finds it,
    # and by then it is no longer "new" for the digest: such a window only reads.
    if record and end <= now + rules.horizon:
        tracked = track(store, found, now, window_start=max(start, now), window_end=end)
    else:
        tracked = as_tracked(store, found, now, window_start=max(start, now), window_end=end)
    ids = {c.id for c in found}
    return Detected([t for t in tracked if t.id in ids or (t.resolved and start <= t.starts_at < end)],
                    more=getattr(found, "more", None), total=getattr(found, "total", None))


def involves(t: Tracked, network: str | None) -> bool:
    return network is None or network in t.a.get("networks", []) or network in t.b.get("networks", [])


def conflict_context(t: Tracked, periods: list[tuple[str, date, date]], zone: ZoneInfo) -> list[str]:
    """Holidays and context calendar entries (``context_of``) on the local day the conflict starts."""
    return context_of(t.starts_at.astimezone(zone).date(), periods)


def as_json(t: Tracked, now: datetime, more: dict | None = None, context: list[str] = ()) -> dict:
    """The ``conflicts --json`` shape: id, kind, score, status, events (uid, title, start, end, networks),
    context (``conflict_context``); with ``more`` (``Detected.more``) an event with conflicts beyond
    those listed says how many (``more``)."""
    events = [{k: side.get(k) for k in ("uid", "title", "start", "end", "networks", "location", "url")} for side in (t.a, t.b)]
    if more:
        for row, side in zip(events, (t.a, t.b)):
            if n := more.get(side_key(side)):
                row["more"] = n
    return {
        "id": t.id,
        "kind": t.kind,
        "score": round(t.score, 1),
        "status": t.status_since(now - NEW_FOR),
        "first_seen": t.first_seen.isoformat(),
        "acknowledged": t.ack_note if t.acknowledged else None,
        "events": events,
        "context": list(context),
    }


@dataclass
class DateCheck:
    """What is on a day, and what a new event in a slot that day would collide with."""

    day: date
    events: list[Slot] = field(default_factory=list)
    collisions: list[tuple[str, Slot]] = field(default_factory=list)  # (kind, the event it collides with)
    context: list[str] = field(default_factory=list)  # e.g. "Feiertag: Tag der Deutschen Einheit"
    long_events: list[Slot] = field(default_factory=list)  # on the day, but longer than ignore_longer_than: never a conflict
    free_days: list[date] = field(default_factory=list)  # nearest weekdays where nothing overlaps the slot (all day: no other network's event that day)


def check_date(config: Config, store: Store, day: date, now: datetime, *, start: time | None = None, end: time | None = None,
               network: str | None = None, published: list[StoredEvent] | None = None) -> DateCheck:
    """What else is on ``day`` and what a new event (of ``network``, from ``start`` to ``end``,
    or all day) would collide with; plus public holidays and the nearest free days.
    Writes nothing; ``published`` saves recomputing the publication."""
    rules = config.conflicts.rules()
    zone = ZoneInfo(config.settings.timezone)
    window_start = datetime.combine(day - timedelta(days=FREE_DAYS_SEARCHED), time(0), zone)
    window_end = datetime.combine(day + timedelta(days=FREE_DAYS_SEARCHED + 1), time(0), zone)
    if published is None:
        published = publication(config, store, now, record=False)
    every = slots(published, window_start, window_end, zone=zone, rules=rules, limit=config.settings.max_occurrences)

    def on(d: date) -> list[Slot]:
        lo, hi = datetime.combine(d, time(0), zone), datetime.combine(d + timedelta(days=1), time(0), zone)
        return [s for s in every if s.start < hi and s.end > lo]

    def collisions(d: date, with_rules=rules) -> list[tuple[str, Slot]]:
        probe = _probe(d, start, end, network, zone)
        found = find_conflicts(on(d) + [probe], with_rules, zone=zone)
        return [(c.kind, c.b if c.a is probe else c.a) for c in found if probe in (c.a, c.b)]

    # A free day is one the planned event could move to: with a slot, the same-day rule would
    # call a day busy for an evening event when only the morning is asked for; so only what
    # overlaps the slot at all counts. Without a slot (all day) any event that day does.
    free_rules = rules if start is None else replace(rules, kinds=("overlap",), min_overlap=timedelta(0))

    check = DateCheck(day=day, events=on(day), collisions=collisions(day), context=context_of(day, context_periods(config, store)),
                      long_events=_long_events(published, day, zone, rules, config.settings.max_occurrences))
    for offset in range(1, FREE_DAYS_SEARCHED + 1):
        for d in (day - timedelta(days=offset), day + timedelta(days=offset)):
            if d >= now.astimezone(zone).date() and d.weekday() < 5 and not _holiday(d) and not collisions(d, free_rules):
                check.free_days.append(d)
        if len(check.free_days) >= 3:
            break
    check.free_days = sorted(check.free_days)[:4]
    return check


def _long_events(published: list[StoredEvent], day: date, zone: ZoneInfo, rules, limit: int) -> list[Slot]:
    """The occurrences on ``day`` that ``slots`` leaves out as longer than ``rules.ignore_longer_than``
    (an exhibition, a fair): still on that day for someone planning it, though no conflict."""
    lo, hi = datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=1), time(0), zone)
    every = slots(published, lo, hi, zone=zone, rules=replace(rules, ignore_longer_than=timedelta.max), limit=limit)
    return [s for s in every if s.duration > rules.ignore_longer_than]


def context_periods(config: Config, store: Store) -> list[tuple[str, date, date]]:
    """(title, first day, day after the last) of the events of context sources (role = "context")."""
    zone = ZoneInfo(config.settings.timezone)
    ids = sorted(s.id for s in config.sources if s.role == "context")
    out = []
    # only the context sources' rows: the other events may be tens of thousands
    for stored in (store.published_events(source_ids=ids) if ids else []):
        ev = stored.event
        if ev.status == "cancelled":
            continue
        first = ev.start if not isinstance(ev.start, datetime) else ev.start.astimezone(zone).date()
        last = ev.end if ev.end is not None and not isinstance(ev.end, datetime) else (
            ev.end.astimezone(zone).date() + timedelta(days=1) if isinstance(ev.end, datetime) else first + timedelta(days=1))
        out.append((ev.title, first, last))
    return sorted(out, key=lambda p: (p[1], p[0]))


def context_of(day: date, periods: list[tuple[str, date, date]] = ()) -> list[str]:
    """Public holidays of Thuringia and context calendar entries (school holidays, fairs) on that day."""
    name = _holiday(day)
    lines = [f"Feiertag in Thüringen: {name}"] if name else []
    lines += [f"fällt in: {title}" for title, first, after in periods if first <= day < after]
    return lines


def _holiday(day: date) -> str | None:
    return holiday_calendars.Germany(subdiv="TH", years=day.year, language="de").get(day)


def _probe(day: date, start: time | None, end: time | None, network: str | None, zone: ZoneInfo) -> Slot:
    """A stand-in for the event someone wants to schedule."""
    networks = (network,) if network else ("(neu)",)
    if start is None:
        return make_slot("(neu)", day, day + timedelta(days=1), networks, zone=zone, title="(geplanter Termin)")
    begin = datetime.combine(day, start, zone)
    finish = datetime.combine(day, end, zone) if end is not None else begin + timedelta(hours=2)
    return make_slot("(neu)", begin, finish, networks, zone=zone, title="(geplanter Termin)")

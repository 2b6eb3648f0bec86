"""Which events of different networks collide: pure functions, no database.

The pipeline's ``conflicts`` stage. What it takes is what subscribers see
(``aggregator.merge.publication``: one ``StoredEvent`` per merged event,
RECURRENCE-ID overrides as extra entries sharing their master's uid); what it
gives is a list of ``Conflict`` pairs. Persistence, lifecycle (new / ongoing /
resolved), acknowledgements and the CLI are built on top of this module.

Two steps:

``slots(published, start, end, zone=, rules=)``
    Every occurrence that overlaps ``[start, end)`` becomes a ``Slot``:
    series are expanded (``aggregator.recurrence.expand``: RRULE, RDATE,
    EXDATE, overrides, DST as the iCalendar rules say), so a weekly series
    takes part once per occurrence. Dropped: cancelled events, cancelled
    occurrences, and events longer than ``rules.ignore_longer_than``
    (exhibitions, "Cross-Cluster-Wochen": a week-long event is not a
    scheduling rival of every workshop in that week).

``find_conflicts(slots, rules, zone=)``
    Two slots collide when they belong to events that share **no**
    organising network (a merged event naming networks A and B never
    conflicts with another event of A or B, nor with itself) and

    - ``overlap``: their times overlap by at least ``rules.min_overlap``
      (a real overlap is always required: the half-open intervals
      [10:00, 12:00) and [12:00, 14:00) only touch and never overlap);
    - else ``same_day``: they touch a common local day (in ``zone``) — this
      includes pairs whose overlap is shorter than ``min_overlap`` and
      events that merely touch.

    A pair is classified first and filtered by ``rules.kinds`` after: an
    overlapping pair is an ``overlap`` (never also a ``same_day``), and is
    not reported at all when ``"overlap"`` is not among the kinds.

Times, decided here:

- An **all-day** event occupies its days from local midnight to midnight in
  ``zone``, so it overlaps every timed event of its days (by the part of the
  timed event that falls on those days) and every other all-day event
  sharing a day.
- A **timed event without an end** is a moment: it overlaps an event
  running at that instant (start ≤ t < end) or a moment at the same
  instant, with an overlap length of 0 — so with ``min_overlap`` set it can
  at most be a ``same_day`` conflict.
- A **multi-day** event (up to ``ignore_longer_than``) collides with
  whatever overlaps it on any of its days.
- Comparisons are between absolute instants, so events given in UTC and in
  Europe/Berlin compare correctly across the DST switch; the local day of a
  timed event is its day in ``zone``.

Efficiency: without a cap, overlaps are found by a sweep over the slots
sorted by start, keeping the set of slots still running (a heap by end);
``same_day`` pairs come from buckets of slots per local day. The work grows
with the number of slots plus the number of pairs that actually share a time
or a day, not with all pairs — but on a crowded calendar those pairs grow
with the square of the events per day (a country-wide synthetic calendar of
44,000 events has 2.3 million colliding pairs, of 177,000 events 36 million).

**The cap** (``rules.max_per_event`` = K, ``[conflicts] max_per_event``,
default 25): nobody can act on "your event collides with 300 others", so each
occurrence lists its K most serious conflicts (score, then the rival that
comes first), and a pair is listed when it is among the top K of either of
its two events — an event with few rivals sees them all, however crowded its
rival's day. Pairs are then not enumerated: per local day the slots are
indexed by place (venue, city, no city, online) and, within, by interval;
every member of such a group scores the same against a given slot, so the
groups of a place class are opened in order of the best score the class can
reach and their members taken best first until K are found (``_top_conflicts``).
How many rivals each occurrence has in all is counted from per-day counts
(``Conflicts.more``, ``Conflicts.total``). The work grows with slots × (K +
interval groups per day), linearly with the calendar when the times of day
repeat (they do: events start on the hour or half hour). When no slot has more
than K rivals the result is exactly that of the sweep.

The **score** (0..100, higher is worse) is ``100 × time × place × presence``:

- ``time``: for an overlap ``0.5 + 0.5 × share``, where ``share`` is the
  overlap as a share of the shorter event (1 when a moment lies inside the
  other); ``0.2`` for ``same_day``. Every overlap therefore outranks every
  ``same_day`` pair.
- ``place`` (both on-site): ``1.0`` same venue (locations equal after
  normalising case, umlauts, "Straße"/"Str." and punctuation), ``0.85``
  same city, ``0.7`` city unknown for either, ``0.55`` different cities.
  When either is online the place says nothing: ``0.7``.
- ``presence``: ``1.0`` both on-site, ``0.75`` one online, ``0.6`` both online.

The ``id`` of a conflict is the sha256 of its kind and the two sides'
(uid, occurrence start) sorted, so the same collision has the same id on
every run, whatever the order of the input; if either side moves, or the
pair changes kind, it is a different conflict.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
import unicodedata
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from aggregator import collector
from aggregator.model import Event, StoredEvent, When
from aggregator.recurrence import DEFAULT_LIMIT, expand

UTC = timezone.utc
DEFAULT_ZONE = ZoneInfo("Europe/Berlin")
KINDS = ("overlap", "same_day")
_TICK = timedelta(microseconds=1)  # a moment [t, t) is treated as [t, t + 1µs) for intersecting


@dataclass(frozen=True)
class ConflictRules:
    """What counts as a conflict (``[conflicts]`` in sources.toml, see ``ConflictsSettings.rules``)."""

    kinds: tuple[str, ...] = KINDS
    ignore_longer_than: timedelta = timedelta(days=3)
    min_overlap: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=180)
    max_per_event: int | None = 25  # each slot's top conflicts (see find_conflicts); None: every pair

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown conflict kind(s) {unknown}; known: {list(KINDS)}")
        if self.max_per_event is not None and self.max_per_event < 1:
            raise ValueError("max_per_event must be at least 1 (or None for no cap)")
        object.__setattr__(self, "kinds", tuple(self.kinds))

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """``[now, now + horizon)``: the window conflicts are looked for in."""
        return now, now + self.horizon


# ---------------------------------------------------------------- slots


@dataclass(frozen=True, slots=True)
class Slot:
    """One occurrence of one published event.

    ``start``/``end`` are aware datetimes (``end == start`` for a timed
    event without an end); an all-day event runs from local midnight of its
    first day to local midnight after its last day in the zone it was made
    in. ``day_start``/``day_end`` are the local days the slot touches, the
    end **exclusive** as iCalendar has it for all-day events (an event on
    5 March only, all-day or 10:00–12:00, has ``day_start`` 5 March and
    ``day_end`` 6 March; a timed event ending at midnight does not touch
    the next day). ``recurrence_id`` is the occurrence's
    recurrence id (as ``Event.recurrence_id``), "" for single events.
    ``event`` is the published event (master or override) it came from,
    when known; it takes no part in comparisons.
    """

    uid: str
    recurrence_id: str
    title: str
    start: datetime
    end: datetime
    all_day: bool
    day_start: date
    day_end: date
    networks: tuple[str, ...]
    location: str = ""
    url: str = ""
    online: bool = False
    city: str = ""
    event: Event | None = field(default=None, compare=False, repr=False)

    @property
    def duration(self) -> timedelta:
        if self.all_day:
            return timedelta(days=(self.day_end - self.day_start).days)
        return _span(self)

    @property
    def start_key(self) -> str:
        """The occurrence's start as ISO text: the date for all-day slots, UTC otherwise."""
        if self.all_day:
            return self.day_start.isoformat()
        return self.start.astimezone(UTC).isoformat()

    @property
    def key(self) -> tuple[str, str]:
        """(uid, occurrence start): names this occurrence across runs."""
        return (self.uid, self.start_key)


class Slots(list):
    """A ``list[Slot]`` with the warnings of the expansion (rules that could not be read …)."""

    def __init__(self, items: Iterable[Slot] = (), warnings: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.warnings: list[str] = list(warnings)


def make_slot(
    uid: str,
    start: When,
    end: When | None,
    networks: Sequence[str],
    *,
    zone: ZoneInfo = DEFAULT_ZONE,
    title: str = "",
    location: str = "",
    url: str = "",
    recurrence_id: str = "",
    event: Event | None = None,
) -> Slot:
    """A slot from dates (all-day, ``end`` exclusive as in iCalendar) or datetimes.

    Also what ``check-date`` needs for an event that does not exist yet.
    Naive datetimes are read in ``zone``; a missing or too early end makes a
    timed event a moment and an all-day event one day long.
    """
    if isinstance(start, datetime):
        s = start if start.tzinfo is not None else start.replace(tzinfo=zone)
        if end is None:
            e = s
        elif isinstance(end, datetime):
            e = end if end.tzinfo is not None else end.replace(tzinfo=zone)
        else:
            e = datetime.combine(end, time(), zone)
        if e.astimezone(UTC) < s.astimezone(UTC):
            e = s
        first = s.astimezone(zone).date()
        last = (e.astimezone(UTC) - _TICK).astimezone(zone).date() if e.astimezone(UTC) > s.astimezone(UTC) else first
        day_end = last + timedelta(days=1)
        all_day = False
    else:
        last_excl = end.date() if isinstance(end, datetime) else end
        if last_excl is None or last_excl <= start:
            last_excl = start + timedelta(days=1)
        s = datetime.combine(start, time(), zone)
        e = datetime.combine(last_excl, time(), zone)
        first, day_end = start, last_excl
        all_day = True
    return Slot(
        uid=uid,
        recurrence_id=recurrence_id,
        title=title,
        start=s,
        end=e,
        all_day=all_day,
        day_start=first,
        day_end=day_end,
        networks=tuple(networks),
        location=location,
        url=url,
        online=is_online(location),
        city=city_of(location),
        event=event,
    )


def slots(
    published: Sequence[StoredEvent],
    start: datetime,
    end: datetime,
    *,
    zone: ZoneInfo = DEFAULT_ZONE,
    rules: ConflictRules = ConflictRules(),  # noqa: B008 - frozen, never mutated
    limit: int = DEFAULT_LIMIT,
) -> Slots:
    """Every occurrence of the published events that overlaps ``[start, end)``.

    Cancelled events and cancelled occurrences (overrides with STATUS
    CANCELLED, EXDATE'd dates) are left out, as are occurrences longer than
    ``rules.ignore_longer_than`` (all-day events count whole days). ``limit``
    caps the occurrences per series (see ``recurrence.expand``). Sorted by
    start, then uid.
    """
    groups: dict[str, list[StoredEvent]] = defaultdict(list)
    for entry in published:
        groups[entry.uid or f"{entry.event.source_id}/{entry.event.source_uid}"].append(entry)
    out = Slots()
    for uid, entries in groups.items():
        networks_of = {id(e.event): (e.networks or (e.event.network_id,)) for e in entries}
        default_networks = next(iter(networks_of.values()))
        found = expand([e.event for e in entries], start, end, limit=limit, zone=zone)
        out.warnings.extend(found.warnings)
        for occ in found:
            if occ.cancelled:
                continue
            ev = occ.event
            slot = make_slot(
                uid,
                occ.start,
                occ.end,
                networks_of.get(id(ev), default_networks),
                zone=zone,
                title=ev.title,
                location=ev.location,
                url=ev.url,
                recurrence_id=occ.recurrence_id,
                event=ev,
            )
            if slot.duration > rules.ignore_longer_than:
                continue
            out.append(slot)
    out.sort(key=_order)
    return out


# ---------------------------------------------------------------- places

_ONLINE = re.compile(
    r"(?<!\w)(online|virtuell\w*|virtual|webinar\w*|digital|livestream|videokonferenz|zoom|webex|bigbluebutton|(?:ms|microsoft)[ -]teams)(?!\w)",
    re.I,
)

# Cities of Thuringia (and a few neighbours events go to), longest first so
# "Bad Langensalza" wins over a shorter name inside it.
CITIES = (
    "Erfurt", "Jena", "Weimar", "Gera", "Ilmenau", "Gotha", "Eisenach", "Suhl", "Nordhausen", "Mühlhausen",
    "Arnstadt", "Altenburg", "Saalfeld", "Rudolstadt", "Sonneberg", "Sömmerda", "Apolda", "Meiningen",
    "Schmalkalden", "Greiz", "Zeulenroda-Triebes", "Bad Langensalza", "Pößneck", "Hildburghausen",
    "Heilbad Heiligenstadt", "Leinefelde-Worbis", "Schleiz", "Bad Salzungen", "Sondershausen", "Artern",
    "Schmölln", "Eisenberg", "Stadtroda", "Hermsdorf", "Waltershausen", "Zella-Mehlis", "Ohrdruf",
    "Bad Frankenhausen", "Blankenhain", "Kahla", "Neustadt an der Orla", "Bad Berka", "Schkölen",
    "Leipzig", "Dresden", "Chemnitz", "Berlin", "Magdeburg", "Kassel", "Göttingen", "Bamberg", "Coburg",
    "Hof", "Frankfurt am Main", "München", "Hamburg", "Hannover",
)
_CITY = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(c) for c in sorted(CITIES, key=len, reverse=True)) + r")(?!\w)",
    re.I,
)
_CANONICAL = {c.casefold(): c for c in CITIES}
_LINK_ONLY = re.compile(r"(?:https?://|www\.)\S+")
_POSTCODE_CITY = re.compile(r"(?<!\d)(?:D-)?\d{5}\s+([^\d,;|\n]+)")


def is_online(location: str) -> bool:
    """Does the location say the event happens online only (online, virtuell, Webinar, digital, Zoom …)?

    A hybrid event names a place beside its online part ("Studio Weimar, 99423 Weimar; online:
    https://…", as kind jsonld writes MixedEventAttendanceMode): it is on site, and competes for
    the audience there. So the location counts as online when some part of it (parts split at
    ";", "|" or a line break) says so and every other part is only a link."""
    parts = [p.strip() for p in re.split(r"[;|\n]", location or "") if p.strip()]
    if not any(_ONLINE.search(p) for p in parts):
        return False
    return all(_ONLINE.search(p) or _LINK_ONLY.fullmatch(p) for p in parts)


def city_of(location: str) -> str:
    """A best-effort city: the words after the last postcode, else the last known city name; "" if none.

    "Haus der Wirtschaft, Löberwallgraben 8, 99096 Erfurt" → "Erfurt";
    "Ernst-Abbe-Hochschule Jena, Carl-Zeiss-Promenade 2" → "Jena";
    "07745 Jena-Lobeda" → "Jena" (a known city at the start wins).
    """
    text = " ".join((location or "").split())
    if not text:
        return ""
    matches = list(_POSTCODE_CITY.finditer(text))
    if matches:
        name = re.split(r"\s+[-–(/]\s*|\s*\(", matches[-1].group(1).strip())[0].strip(" .-–")
        known = _CITY.match(name)
        if known:
            return _CANONICAL[known.group(1).casefold()]
        if name:
            return name
    known_all = list(_CITY.finditer(text))
    if known_all:
        return _CANONICAL[known_all[-1].group(1).casefold()]
    return ""


def normalize_venue(location: str) -> str:
    """A location reduced for comparison: case, umlauts, "Straße"/"Str.", punctuation and spaces."""
    text = unicodedata.normalize("NFKC", location or "").casefold()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    text = re.sub(r"strasse\b|str\.", "str", text)
    text = re.sub(r"\b(deutschland|germany)\b", " ", text)
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


# ---------------------------------------------------------------- conflicts


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two colliding slots; ``a`` starts first (ties: the earlier end, then uid)."""

    id: str
    kind: str
    score: float
    a: Slot
    b: Slot
    overlap: timedelta

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.a.networks) | set(self.b.networks)))

    def involves(self, network: str) -> bool:
        return network in self.a.networks or network in self.b.networks


def conflict_id(kind: str, a: Slot, b: Slot) -> str:
    """sha256 of the kind and the two (uid, occurrence start) sorted: independent of order."""
    sides = sorted([list(a.key), list(b.key)])
    return hashlib.sha256(json.dumps([kind, sides], ensure_ascii=False).encode()).hexdigest()


def score(kind: str, a: Slot, b: Slot, overlap: timedelta) -> float:
    """0..100, higher is worse; the formula is in the module doc."""
    if kind == "overlap":
        shorter = min(_span(a), _span(b))
        share = 1.0 if shorter <= timedelta(0) else min(1.0, overlap / shorter)
        time_factor = 0.5 + 0.5 * share
    else:
        time_factor = 0.2
    if a.online or b.online:
        place = 0.7
    else:
        va, vb = normalize_venue(a.location), normalize_venue(b.location)
        if va and va == vb:
            place = 1.0
        elif not a.city or not b.city:
            place = 0.7
        elif a.city.casefold() == b.city.casefold():
            place = 0.85
        else:
            place = 0.55
    presence = {0: 1.0, 1: 0.75, 2: 0.6}[int(a.online) + int(b.online)]
    return round(100 * time_factor * place * presence, 1)


class Conflicts(list):
    """A ``list[Conflict]`` plus what a cap (``ConflictRules.max_per_event``) left out.

    ``rivals``: slot key → how many slots it collides with (of the detected kinds), listed or not;
    ``more``: slot key → how many of those are not listed (only slots with a positive count);
    ``total``: how many colliding pairs there are in all (``len(self)`` when nothing was capped).
    Without a cap, ``rivals`` and ``more`` stay empty and ``total`` is ``len(self)``.
    """

    def __init__(self, items: Iterable[Conflict] = (), *, rivals: dict | None = None, more: dict | None = None,
                 total: int | None = None) -> None:
        super().__init__(items)
        self.rivals: dict[tuple[str, str], int] = rivals or {}
        self.more: dict[tuple[str, str], int] = more or {}
        self.total: int = len(self) if total is None else total

    @property
    def capped(self) -> bool:
        return bool(self.more)

    def more_for(self, slot: Slot) -> int:
        return self.more.get(slot.key, 0)


def find_conflicts(
    slots: Sequence[Slot],
    rules: ConflictRules = ConflictRules(),  # noqa: B008 - frozen, never mutated
    *,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> Conflicts:
    """The colliding pairs among ``slots`` (rules in the module doc), by ``a.start`` then id.

    Without ``rules.max_per_event`` every pair. With it (K), each slot's K most serious
    conflicts (highest score; ties: the rival that comes first by start, end, uid) are
    listed, and a pair is listed when it is among the top K of **either** side: so every
    event sees its own K worst rivals, and an event with few rivals sees all of them even
    when its rival is crowded. When no slot has more than K rivals that is every pair,
    exactly as without a cap. ``Conflicts.more`` counts, per slot, the rivals not listed.
    """
    items = list(slots)
    n = len(items)
    if n < 2 or not rules.kinds:
        return Conflicts()
    if rules.max_per_event is not None:
        # millions of small acyclic objects (heap entries, conflicts): the cyclic collector would
        # walk all of them again and again for nothing
        with collector.paused():
            return _top_conflicts(items, rules, zone)
    starts = [s.start.astimezone(UTC) for s in items]
    ends = [s.end.astimezone(UTC) for s in items]
    netsets = [frozenset(s.networks) for s in items]

    def related(i: int, j: int) -> bool:
        return items[i].uid == items[j].uid or not netsets[i].isdisjoint(netsets[j])

    found: dict[str, Conflict] = {}
    overlapping: set[tuple[int, int]] = set()

    def add(kind: str, i: int, j: int, overlap: timedelta) -> None:
        a, b = (items[i], items[j]) if _order(items[i]) <= _order(items[j]) else (items[j], items[i])
        cid = conflict_id(kind, a, b)
        if cid not in found:
            found[cid] = Conflict(cid, kind, score(kind, a, b, overlap), a, b, overlap)

    # Overlaps: a sweep by start; ``active`` holds the slots still running.
    order = sorted(range(n), key=lambda i: (starts[i], ends[i], items[i].uid, items[i].recurrence_id))
    heap: list[tuple[datetime, int]] = []
    active: dict[int, None] = {}
    for i in order:
        s = starts[i]
        while heap and heap[0][0] <= s:
            _, j = heapq.heappop(heap)
            active.pop(j, None)
        for j in active:  # started no later than i and still running at i's start: they intersect
            if related(i, j):
                continue
            overlap = max(timedelta(0), min(ends[i], ends[j]) - max(starts[i], starts[j]))
            if overlap >= rules.min_overlap:
                overlapping.add((min(i, j), max(i, j)))
                if "overlap" in rules.kinds:
                    add("overlap", j, i, overlap)
        active[i] = None
        heapq.heappush(heap, (max(ends[i], starts[i] + _TICK), i))

    # Same day: buckets of slots per local day.
    if "same_day" in rules.kinds:
        buckets: dict[date, list[int]] = defaultdict(list)
        for i, slot in enumerate(items):
            first, last = _days(slot, zone)
            d = first
            while d <= last:
                buckets[d].append(i)
                d += timedelta(days=1)
        for day in sorted(buckets):
            members = buckets[day]
            for x, i in enumerate(members):
                for j in members[x + 1 :]:
                    pair = (min(i, j), max(i, j))
                    if pair in overlapping or related(i, j):
                        continue
                    overlap = max(timedelta(0), min(ends[i], ends[j]) - max(starts[i], starts[j]))
                    add("same_day", i, j, overlap)

    return Conflicts(sorted(found.values(), key=lambda c: (c.a.start.astimezone(UTC), c.id)))


# ---------------------------------------------------------------- the top K of each slot

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONSITE, _ONLINE_CAT, _NOCITY = ("onsite",), ("online",), ("nocity",)


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // _TICK


def _subsets(networks: frozenset) -> list[tuple[frozenset, int]]:
    """Every non-empty subset with its inclusion-exclusion sign (+1 odd size, -1 even)."""
    items = sorted(networks)
    out = []
    for mask in range(1, 1 << len(items)):
        sub = frozenset(x for b, x in enumerate(items) if mask >> b & 1)
        out.append((sub, 1 if len(sub) % 2 else -1))
    return out


def _top_conflicts(items: list[Slot], rules: ConflictRules, zone: ZoneInfo) -> Conflicts:
    """``find_conflicts`` with a cap K: each slot's K best rivals, found best first.

    The score of a pair depends only on the two intervals and on how their places relate
    (same venue, same city, a city unknown, different cities, online). So per local day the
    slots are indexed by place (per venue, per city, no city, on-site, online) and, inside
    each, grouped by interval: every member of a group scores the same against a given slot.
    For slot i, each place class is a lazily opened source whose bound (its best possible
    score) sits in one heap with the groups already opened; groups yield their members in
    order. The first K acceptable members popped are i's top K, and a class whose bound is
    below the K-th is never opened. Work per slot: the groups of the classes opened plus K
    (plus the related or other-class members skipped), not the slots of its day.
    How many rivals a slot has in all is counted, not enumerated: per day, counts of slots
    per subset of networks (inclusion-exclusion drops those sharing a network).
    """
    cap = rules.max_per_event
    assert cap is not None
    n = len(items)
    kinds = set(rules.kinds)
    want_overlap, want_same_day = "overlap" in kinds, "same_day" in kinds
    min_ov = rules.min_overlap // _TICK
    s_ = [_us(x.start.astimezone(UTC)) for x in items]
    e_ = [_us(x.end.astimezone(UTC)) for x in items]
    ep = [max(e_[i], s_[i] + 1) for i in range(n)]  # a moment [t, t) intersects as [t, t + 1µs)
    span = [e_[i] - s_[i] for i in range(n)]
    netsets = [frozenset(x.networks) for x in items]
    uids = [x.uid for x in items]
    online = [x.online for x in items]
    venue_cache: dict[str, str] = {}
    venue = []
    for x in items:
        v = venue_cache.get(x.location)
        if v is None:
            v = venue_cache[x.location] = normalize_venue(x.location)
        venue.append(v)
    city = [x.city.casefold() if x.city else "" for x in items]
    rank = [0] * n
    for r, i in enumerate(sorted(range(n), key=lambda k: _order(items[k]))):
        rank[i] = r
    days = [_days(x, zone) for x in items]

    # per day: category → interval → members (by rank); counters for rivals
    index: dict[date, dict[tuple, dict[tuple[int, int], list[int]]]] = defaultdict(lambda: defaultdict(dict))
    for i in sorted(range(n), key=rank.__getitem__):
        if online[i]:
            cats = [_ONLINE_CAT]
        else:
            cats = [_ONSITE, ("city", city[i]) if city[i] else _NOCITY]
            if venue[i]:
                cats.append(("venue", venue[i]))
        first, last = days[i]
        d = first
        while d <= last:
            cat_index = index[d]
            for cat in cats:
                cat_index[cat].setdefault((s_[i], e_[i]), []).append(i)
            d += timedelta(days=1)
    # the groups of a category as a list, once
    groups: dict[date, dict[tuple, list[tuple[int, int, list[int]]]]] = {
        d: {cat: [(gs, ge, m) for (gs, ge), m in by.items()] for cat, by in cats.items()} for d, cats in index.items()
    }
    # the distinct network sets of a category's members: a class where every one shares a
    # network with i holds no rival of i and is not opened (a dense series alone on its day)
    cat_nets: dict[date, dict[tuple, list[frozenset]]] = {
        d: {cat: list({netsets[j] for m in by.values() for j in m}) for cat, by in cats.items()} for d, cats in index.items()
    }
    del index

    def pair_kind(i: int, gs: int, ge: int, gep: int) -> tuple[str, int] | None:
        overlap = max(0, min(e_[i], ge) - max(s_[i], gs))
        if s_[i] < gep and gs < ep[i] and overlap >= min_ov:
            return ("overlap", overlap) if want_overlap else None
        return ("same_day", overlap) if want_same_day else None

    def group_score(kind: str, i: int, gspan: int, overlap: int, place: float, presence: float) -> float:
        if kind == "overlap":
            shorter = min(span[i], gspan)
            share = 1.0 if shorter <= 0 else min(1.0, overlap / shorter)
            time_factor = 0.5 + 0.5 * share
        else:
            time_factor = 0.2
        return round(100 * time_factor * place * presence, 1)

    def classes(i: int) -> list[tuple[tuple, float, float, object]]:
        """(category, place, presence, member filter or None) of each place class of i."""
        if online[i]:
            return [(_ONSITE, 0.7, 0.75, None), (_ONLINE_CAT, 0.7, 0.6, None)]
        v, c = venue[i], city[i]
        out: list = []
        if v:
            out.append((("venue", v), 1.0, 1.0, None))
        not_venue = (lambda j: venue[j] != v) if v else None
        if c:
            out.append((("city", c), 0.85, 1.0, not_venue))
            out.append((_NOCITY, 0.7, 1.0, not_venue))
            out.append((_ONSITE, 0.55, 1.0, (lambda j: city[j] != "" and city[j] != c and venue[j] != v) if v
                        else (lambda j: city[j] != "" and city[j] != c)))
        else:
            out.append((_ONSITE, 0.7, 1.0, not_venue))
        out.append((_ONLINE_CAT, 0.7, 0.75, None))
        return out

    best_time = 1.0 if want_overlap else 0.2
    # the listed pairs: i * n + j (i < j) → position in the packed arrays (kind, overlap, score)
    chosen: dict[int, int] = {}
    chosen_overlap, chosen_score, chosen_kind = array("q"), array("d"), array("b")
    found_count = [0] * n
    full = [False] * n
    for i in range(n):
        heap: list[tuple] = []
        seq = 0
        first, last = days[i]
        d = first
        ni, ui = netsets[i], uids[i]
        while d <= last:
            day_groups = groups.get(d, {})
            for cat, place, presence, accept in classes(i):
                if cat in day_groups and any(ni.isdisjoint(ns) for ns in cat_nets[d][cat]):
                    bound = round(100 * best_time * place * presence, 1)
                    heap.append((-bound, 0, 0, seq, (day_groups[cat], place, presence, accept)))
                    seq += 1
            d += timedelta(days=1)
        heapq.heapify(heap)
        taken: set[int] = set()
        while heap and len(taken) < cap:
            neg, what, r, _, ref = heapq.heappop(heap)
            if what == 0:  # open a class: one entry per interval group of its members
                cat_groups, place, presence, accept = ref
                for gs, ge, members in cat_groups:
                    pk = pair_kind(i, gs, ge, max(ge, gs + 1))
                    if pk is None:
                        continue
                    kind, overlap = pk
                    sc = group_score(kind, i, ge - gs, overlap, place, presence)
                    heapq.heappush(heap, (-sc, 1, rank[members[0]], seq, (members, 0, accept, kind, overlap, sc)))
                    seq += 1
                continue
            members, pos, accept, kind, overlap, sc = ref
            j = members[pos]
            if pos + 1 < len(members):
                heapq.heappush(heap, (neg, 1, rank[members[pos + 1]], seq, (members, pos + 1, accept, kind, overlap, sc)))
                seq += 1
            if j == i or j in taken or uids[j] == ui or not ni.isdisjoint(netsets[j]) or (accept is not None and not accept(j)):
                continue
            taken.add(j)
            code = i * n + j if i < j else j * n + i
            if code not in chosen:
                chosen[code] = len(chosen_score)
                chosen_overlap.append(overlap)
                chosen_score.append(sc)
                chosen_kind.append(kind == "overlap")
        found_count[i] = len(taken)
        full[i] = len(taken) >= cap and bool(heap)

    # how many rivals each slot has: exact for those whose search ran dry, counted for the rest
    rivals = list(found_count)
    if any(full):
        rivals_counted = _count_rivals(items, [i for i in range(n) if full[i]], days, netsets, s_, e_, ep, min_ov,
                                       want_overlap, want_same_day)
        for i, count in rivals_counted.items():
            rivals[i] = count

    keys = [x.key for x in items]
    key_json: dict[int, str] = {}  # as conflict_id writes them, only for the slots listed

    def kj(i: int) -> str:
        got = key_json.get(i)
        if got is None:
            got = key_json[i] = json.dumps(list(keys[i]), ensure_ascii=False)
        return got

    kind_json = {k: json.dumps(k) for k in KINDS}
    # The pairs as two packed arrays, so the dict (an object per key and value) is gone
    # before the conflicts are made: at country scale these are millions.
    codes, ats = array("q", chosen.keys()), array("q", chosen.values())
    del chosen
    overlaps: dict[int, timedelta] = {}  # equal overlaps and scores share one object
    scores: dict[float, float] = {}
    result: list[Conflict] = []
    for code, at in zip(codes, ats):
        i, j = divmod(code, n)
        kind = "overlap" if chosen_kind[at] else "same_day"
        x, y = (i, j) if rank[i] <= rank[j] else (j, i)
        first, second = (kj(i), kj(j)) if list(keys[i]) <= list(keys[j]) else (kj(j), kj(i))
        cid = hashlib.sha256(f"[{kind_json[kind]}, [{first}, {second}]]".encode()).hexdigest()  # = conflict_id(kind, a, b)
        us = chosen_overlap[at]
        overlap = overlaps.get(us)
        if overlap is None:
            overlap = overlaps[us] = timedelta(microseconds=us)
        sc = scores.setdefault(chosen_score[at], chosen_score[at])
        result.append(Conflict(cid, kind, sc, items[x], items[y], overlap))
    del codes, ats, overlaps, scores
    # Two pairs of slots may name one conflict (slots with the same key): the first stays.
    result.sort(key=lambda c: c.id)  # stable: equal ids keep the order they were made in
    result[:] = [c for k, c in enumerate(result) if k == 0 or c.id != result[k - 1].id]
    index_of = {id(x): i for i, x in enumerate(items)}
    listed = [0] * n
    for c in result:
        listed[index_of[id(c.a)]] += 1
        listed[index_of[id(c.b)]] += 1
    del index_of
    more = {}
    rivals_by_key = {}
    for i in range(n):
        rivals_by_key[keys[i]] = rivals[i]
        if rivals[i] > listed[i]:
            more[keys[i]] = rivals[i] - listed[i]
    total = sum(rivals) // 2
    start_of = {id(items[i]): s_[i] for i in range(n)}
    result.sort(key=lambda c: start_of[id(c.a)])  # stable: by start, then id (sorted by id above)
    return Conflicts(result, rivals=rivals_by_key, more=more, total=max(total, len(result)))


def _count_rivals(items, which, days, netsets, s_, e_, ep, min_ov, want_overlap, want_same_day) -> dict[int, int]:
    """How many slots each slot of ``which`` collides with (of the wanted kinds), without listing them.

    A pair is counted on the first local day both touch (so a multi-day pair once); the slots
    sharing a network with i (i itself among them) are taken off by inclusion-exclusion over
    the subsets of i's networks. With both kinds wanted, every unrelated slot sharing a day
    collides: day counts suffice. Otherwise per interval group of the day.
    """
    n = len(items)
    per_day_all: dict[date, list[int]] = defaultdict(list)
    same_uid: dict[tuple[date, str], list[int]] = defaultdict(list)
    uids = [x.uid for x in items]
    for i in range(n):
        first, last = days[i]
        d = first
        while d <= last:
            per_day_all[d].append(i)
            same_uid[(d, uids[i])].append(i)
            d += timedelta(days=1)
    subsets_of: dict[frozenset, list] = {}

    def subs(nets: frozenset) -> list:
        got = subsets_of.get(nets)
        if got is None:
            got = subsets_of[nets] = _subsets(nets)
        return got

    # per day: (touching, starting that day) → {"*": count, subset: count}; by interval group when needed
    both = want_overlap and want_same_day
    count_cache: dict[tuple, dict] = {}

    def counters(d: date, starting: bool) -> dict:
        key = (d, starting)
        got = count_cache.get(key)
        if got is None:
            got = {}
            for j in per_day_all[d]:
                if starting and days[j][0] != d:
                    continue
                g = ("*",) if both else (s_[j], e_[j])
                c = got.setdefault(g, defaultdict(int))
                c["*"] += 1
                for sub, _ in subs(netsets[j]):
                    c[sub] += 1
            count_cache[key] = got
        return got

    out: dict[int, int] = {}
    for i in which:
        first, last = days[i]
        total = 0
        d = first
        while d <= last:
            for g, c in counters(d, d != first).items():
                if not both:
                    gs, ge = g
                    overlap = max(0, min(e_[i], ge) - max(s_[i], gs))
                    is_overlap = s_[i] < max(ge, gs + 1) and gs < ep[i] and overlap >= min_ov
                    if not (want_overlap if is_overlap else want_same_day):
                        continue
                related = sum(sign * c.get(sub, 0) for sub, sign in subs(netsets[i]))
                total += c["*"] - related
            # other occurrences of the same uid never collide, even without a network in common
            for j in same_uid.get((d, uids[i]), ()):
                if j == i or not netsets[i].isdisjoint(netsets[j]) or (d != first and days[j][0] != d):
                    continue
                if not both:
                    overlap = max(0, min(e_[i], e_[j]) - max(s_[i], s_[j]))
                    is_overlap = s_[i] < ep[j] and s_[j] < ep[i] and overlap >= min_ov
                    if not (want_overlap if is_overlap else want_same_day):
                        continue
                total -= 1
            d += timedelta(days=1)
        out[i] = total
    return out


def conflicts_for(
    candidate: Slot,
    slots: Sequence[Slot],
    rules: ConflictRules = ConflictRules(),  # noqa: B008 - frozen, never mutated
    *,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> list[Conflict]:
    """The conflicts one slot (e.g. a planned event for ``check-date``) would have with ``slots``."""
    first, last = _days(candidate, zone)
    nearby = []
    for slot in slots:
        d0, d1 = _days(slot, zone)
        if d0 <= last and d1 >= first:  # only a slot sharing a day can collide
            nearby.append(slot)
    every = replace(rules, max_per_event=None)  # one slot's conflicts on a few days: all of them
    return [c for c in find_conflicts([candidate, *nearby], every, zone=zone) if candidate in (c.a, c.b)]


def detect(
    published: Sequence[StoredEvent],
    now: datetime,
    *,
    zone: ZoneInfo = DEFAULT_ZONE,
    rules: ConflictRules = ConflictRules(),  # noqa: B008 - frozen, never mutated
) -> list[Conflict]:
    """The conflicts among the published events within ``rules.horizon`` from ``now``."""
    start, end = rules.window(now)
    return find_conflicts(slots(published, start, end, zone=zone, rules=rules), rules, zone=zone)


def _days(slot: Slot, zone: ZoneInfo) -> tuple[date, date]:
    """First and last local day (inclusive) a slot touches; all-day slots keep their dates."""
    if slot.all_day:
        return slot.day_start, max(slot.day_start, slot.day_end - timedelta(days=1))
    first = slot.start.astimezone(zone).date()
    end = slot.end.astimezone(UTC)
    last = (end - _TICK).astimezone(zone).date() if end > slot.start.astimezone(UTC) else first
    return first, last


def _span(slot: Slot) -> timedelta:
    """Real elapsed time (subtracting datetimes of one zone would give wall-clock time across DST)."""
    return slot.end.astimezone(UTC) - slot.start.astimezone(UTC)


def _order(slot: Slot) -> tuple:
    return (slot.start.astimezone(UTC), slot.end.astimezone(UTC), slot.uid, slot.recurrence_id, slot.start_key)


__all__ = [
    "CITIES",
    "KINDS",
    "Conflict",
    "ConflictRules",
    "Conflicts",
    "Slot",
    "Slots",
    "city_of",
    "conflict_id",
    "conflicts_for",
    "detect",
    "find_conflicts",
    "is_online",
    "make_slot",
    "normalize_venue",
    "score",
    "slots",
]

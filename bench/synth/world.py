"""The synthetic world: sites (one network each) and the events they list.

``make_world(n_sites, events_per_site, seed, port)`` is deterministic for its
arguments. A share of the events is *joint*: listed by their organiser and by
one or two partner networks, each partner with its own small variations (an
"Einladung:" before the title, umlauts written out, the organiser's name in
front, a start half an hour earlier for the doors, no end time, only the date,
only the city, the organiser's page as link) — the same event that
deduplication must publish once. Everything else is one network's own event;
the per-day vocabulary keeps two different events of a day from having titles
one inside the other, so the expected number of published events is exact.

``mutate(world, fraction)`` changes that share of the events (time,
title, place or description; all listings of an event change together) and
returns the ids of the sites whose files must be written again.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

from bench.synth import words

# The bench's "now": every run refreshes as of this instant, so the world and
# the results do not depend on the day the bench runs.
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
HOST_SUFFIX = "bench.test"  # RFC 6761: never resolves; bench/loopback.py maps it to 127.0.0.1

KIND_WEIGHTS = [("ics", 0.30), ("feed", 0.15), ("html", 0.20), ("jsonld", 0.15), ("tribe", 0.20)]
STYLES = {"ics": ["tzid", "utc"], "feed": ["ev", "text"], "html": ["contao", "typo"], "jsonld": ["graph"], "tribe": ["tec"]}
# Many real sites send no validators at all (share of sites per mode).
VALIDATOR_WEIGHTS = [("etag", 0.4), ("lm", 0.2), ("none", 0.4)]

JOINT_SHARE = 0.10  # of an organiser's events, listed by partners too
CANCELLED_SHARE = 0.03
ALL_DAY_SHARE = 0.06
EDITION_SHARE = 0.05
SERIES_SHARE = 0.5  # of ICS sites, with one monthly Stammtisch series
PAST_DAYS, AHEAD_DAYS = 21, 330

TITLE_VARIANTS = 6  # see listing_title
TIME_VARIANTS = 4  # see listing_times
PLACE_VARIANTS = 3


@dataclass
class Site:
    id: str
    name: str
    short: str
    kind: str
    style: str
    validators: str
    city: str


@dataclass
class Ev:
    id: int
    owner: int  # index into World.sites
    day: str  # local date, ISO
    start: str | None  # "HH:MM" local; None: all day
    end: str | None  # "HH:MM" local (may be None for a timed event without end)
    days: int  # all-day events: number of days
    title: str
    venue: int  # index into words.VENUES; -1: online
    description: str
    category: str
    cancelled: bool = False
    rrule: str | None = None
    partners: list[int] = field(default_factory=list)
    # per partner site index (as str, for JSON): [title, time, place, url] variant numbers
    variants: dict[str, list[int]] = field(default_factory=dict)
    version: int = 0
    slug: str = ""  # of the event's page: made from the first title and kept, as CMSs keep it

    def __post_init__(self) -> None:
        if not self.slug:
            folded = "".join(c if c.isalnum() else "-" for c in _fold_umlauts(self.title).lower())
            self.slug = f"{self.id}-" + "-".join(p for p in folded.split("-") if p)[:50]


@dataclass
class World:
    seed: int
    port: int
    sites: list[Site]
    events: list[Ev]
    mutations: int = 0

    def base(self, site: Site) -> str:
        return f"http://{site.id}.{HOST_SUFFIX}:{self.port}"

    def listings(self) -> dict[int, list[Ev]]:
        """Site index → the events it lists (chronological)."""
        out: dict[int, list[Ev]] = {i: [] for i in range(len(self.sites))}
        for ev in self.events:
            out[ev.owner].append(ev)
            for p in ev.partners:
                out[p].append(ev)
        for evs in out.values():
            evs.sort(key=lambda e: (e.day, e.start or "", e.id))
        return out

    def to_json(self) -> dict:
        return {"seed": self.seed, "port": self.port, "mutations": self.mutations,
                "sites": [asdict(s) for s in self.sites], "events": [asdict(e) for e in self.events]}

    @classmethod
    def from_json(cls, data: dict) -> World:
        return cls(seed=data["seed"], port=data["port"], mutations=data.get("mutations", 0),
                   sites=[Site(**s) for s in data["sites"]], events=[Ev(**e) for e in data["events"]])


def _weighted(rng: random.Random, pairs: list[tuple[str, float]]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _fold_umlauts(text: str) -> str:
    return text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("Ä", "Ae").replace("Ö", "Oe") \
        .replace("Ü", "Ue").replace("ß", "ss")


def _vocabulary() -> set[str]:
    out: set[str] = set()
    for text in [t for t, _ in words.TOPICS] + words.ASPECTS + words.FORMATS + [v[0] + " " + v[3] for v in words.VENUES]:
        out.update(w.lower() for w in text.replace("-", " ").split())
    return out


def make_sites(n: int, rng: random.Random) -> list[Site]:
    vocab = _vocabulary()
    sites: list[Site] = []
    shorts: set[str] = set()
    # Kinds from shuffled decks of the weights.
    deck = [k for k, _ in KIND_WEIGHTS]  # every kind first, so even a tiny world mixes them
    rng.shuffle(deck)
    for i in range(n):
        if not deck:
            deck = [k for k, w in KIND_WEIGHTS for _ in range(round(w * 20))]
            rng.shuffle(deck)
        kind = deck.pop()
        topic, abbr = rng.choice(words.TOPICS)
        region = rng.choice(words.REGIONS)
        name = rng.choice(words.NAME_FORMS).format(topic=topic, region=region)
        base = abbr + "".join(w[0] for w in region.replace("-", " ").split()).upper() + "Net"
        short = base
        k = 2
        while short in shorts or short.lower() in vocab:
            short = f"{base}{k}"
            k += 1
        shorts.add(short)
        venue = rng.choice(words.VENUES)
        sites.append(Site(id=f"n{i + 1:04d}", name=name, short=short, kind=kind, style=rng.choice(STYLES[kind]),
                          validators=_weighted(rng, VALIDATOR_WEIGHTS), city=venue[3]))
    return sites


_STARTS = ["08:30", "09:00", "09:00", "09:30", "10:00", "10:00", "13:00", "14:00", "15:00", "16:00", "17:00", "18:00", "18:30"]
_DURATIONS = [60, 90, 90, 120, 120, 180, 240, 300, 360, 480]


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(hm: str) -> int:
    h, m = hm.split(":")
    return int(h) * 60 + int(m)


class _Titles:
    """Per local day, the (topic, angle) keys already taken: two different events of a day never
    share one, so no title is another's subset and deduplication has one right answer."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.taken: dict[str, set] = {}

    def draw(self, day: str, edition: bool) -> tuple[str, str]:
        used = self.taken.setdefault(day, set())
        rng = self.rng
        for _ in range(200):
            topic, _abbr = rng.choice(words.TOPICS)
            if edition and " " not in topic and "." not in topic:
                key = (topic, "edition")
                if key in used:
                    continue
                used.add(key)
                pattern = rng.choice(words.EDITION_PATTERNS)
                year = day[:4]
                return pattern.format(n=rng.randint(2, 30), topic=topic, year=year), "Konferenz"
            aspect = rng.choice(words.ASPECTS)
            key = (topic, aspect)
            if key in used:
                continue
            used.add(key)
            fmt = rng.choice(words.FORMATS)
            shape = rng.random()
            if shape < 0.5:
                title = f"{fmt}: {topic} {aspect}"
            elif shape < 0.8:
                title = f"{fmt} {topic} – {aspect}"
            else:
                title = f"{topic}: {aspect} ({fmt})"
            category = "Online" if fmt in words.ONLINE_FORMATS else ("Workshop" if fmt == "Workshop" else "Seminar")
            return title, category
        raise RuntimeError(f"vocabulary exhausted on {day}: more events a day than topic × angle pairs")


def _description(rng: random.Random, title: str) -> str:
    sentences = rng.sample(words.DESCRIPTION_SENTENCES, rng.randint(2, 4))
    return " ".join([f"Herzliche Einladung: {title}."] + sentences)


def make_world(n_sites: int, events_per_site: int, seed: int = 1, port: int = 8099) -> World:
    rng = random.Random(seed)
    sites = make_sites(n_sites, rng)
    titles = _Titles(rng)
    today = NOW.date()
    events: list[Ev] = []
    avg_partners = 1.3
    own = max(1, round(events_per_site / (1 + JOINT_SHARE * avg_partners))) if n_sites > 1 else events_per_site
    for s, site in enumerate(sites):
        if site.kind == "ics" and rng.random() < SERIES_SHARE:
            first = today - timedelta(days=30)
            while first.weekday() != 1:  # Tuesday
                first += timedelta(days=1)
            events.append(Ev(id=len(events), owner=s, day=first.isoformat(), start="18:00", end="20:00", days=1,
                             title=f"Stammtisch {site.short} {site.city}", venue=rng.randrange(len(words.VENUES)),
                             description=f"Der monatliche Stammtisch von {site.short}: zwanglos, ohne Anmeldung.",
                             category="Stammtisch", rrule="FREQ=MONTHLY;BYDAY=1TU;COUNT=12"))
        for _ in range(own):
            day = today + timedelta(days=rng.randint(-PAST_DAYS, AHEAD_DAYS))
            if day.weekday() >= 5 and rng.random() < 0.8:
                day += timedelta(days=7 - day.weekday())
            edition = rng.random() < EDITION_SHARE
            title, category = titles.draw(day.isoformat(), edition)
            if rng.random() < ALL_DAY_SHARE or (edition and rng.random() < 0.4):
                start = end = None
                days = rng.choice([1, 1, 2, 3])
                if days > 1:
                    category = "Messe" if not edition else category
            else:
                begin = _minutes(rng.choice(_STARTS))
                finish = min(begin + rng.choice(_DURATIONS), 22 * 60)
                start, end, days = _hm(begin), _hm(finish), 1
            online = category == "Online"
            ev = Ev(id=len(events), owner=s, day=day.isoformat(), start=start, end=end, days=days, title=title,
                    venue=-1 if online else rng.randrange(len(words.VENUES)), description=_description(rng, title),
                    category=category, cancelled=rng.random() < CANCELLED_SHARE)
            if n_sites > 1 and rng.random() < JOINT_SHARE:
                k = 1 if rng.random() < 0.7 or n_sites < 3 else 2
                ev.partners = rng.sample([i for i in range(n_sites) if i != s], k)
                for p in ev.partners:
                    ev.variants[str(p)] = [rng.randrange(TITLE_VARIANTS), rng.randrange(TIME_VARIANTS),
                                           rng.randrange(PLACE_VARIANTS), rng.randrange(2)]
            events.append(ev)
    return World(seed=seed, port=port, sites=sites, events=events)


# --- what one site shows of an event --------------------------------------------------


@dataclass
class Listing:
    """An event as one site lists it (local times, Europe/Berlin)."""

    ev: Ev
    uid: str
    title: str
    day: date
    start: str | None  # None: all day (or only the date known)
    end: str | None
    last_day: date  # all day: the last day (inclusive)
    location: str
    venue: tuple[str, str, str, str] | None  # full venue when the site knows it
    url: str
    description: str
    cancelled: bool
    rrule: str | None
    owner_short: str


def listing(world: World, site_index: int, ev: Ev) -> Listing:
    site = world.sites[site_index]
    owner = world.sites[ev.owner]
    own = site_index == ev.owner
    tv, timev, pv, uv = (0, 0, 0, 0) if own else ev.variants[str(site_index)]
    title = ev.title
    if tv == 1:
        title = f"Einladung: {title}"
    elif tv == 2:
        title = f"Save the Date: {title}"
    elif tv == 3:
        title = _fold_umlauts(title)
    elif tv == 4:
        title = f"{owner.short}: {title}"
    elif tv == 5:
        title = f"{title} (Kooperationsveranstaltung)"
    day = date.fromisoformat(ev.day)
    start, end = ev.start, ev.end
    if start is not None and timev == 1:
        start = _hm(max(0, _minutes(start) - 30))  # doors open
    elif start is not None and timev == 2:
        end = None
    elif start is not None and timev == 3:
        start = end = None  # only the date
    if ev.venue < 0:
        location, venue = "Online", None
    else:
        venue = words.VENUES[ev.venue]
        if pv == 0:
            location = f"{venue[0]}, {venue[1]}, {venue[2]} {venue[3]}"
        elif pv == 1:
            location, venue = venue[3], None
        else:
            location, venue = f"{venue[0]} {venue[3]}", None
    page_site = owner if uv == 1 else site
    url = f"{world.base(page_site)}/{page_site.id}/veranstaltung/{ev.slug}/"
    description = ev.description if own else f"Eine Veranstaltung von {owner.name}. {ev.description}"
    return Listing(ev=ev, uid=f"ev{ev.id}-{site.id}", title=title, day=day, start=start, end=end,
                   last_day=day + timedelta(days=max(ev.days, 1) - 1), location=location, venue=venue, url=url,
                   description=description, cancelled=ev.cancelled, rrule=ev.rrule, owner_short=owner.short)


# --- change between runs -------------------------------------------------------------------


MUTATIONS = ("time", "title", "place", "description")


def mutate(world: World, fraction: float = 0.01) -> tuple[set[int], list[int]]:
    """Change ``fraction`` of the events (at least one); return the indices of the sites to write
    again and the ids of the changed events."""
    world.mutations += 1
    rng = random.Random(world.seed * 7919 + world.mutations)
    candidates = [e for e in world.events if e.rrule is None]
    chosen = rng.sample(candidates, max(1, round(fraction * len(world.events))))
    touched: set[int] = set()
    for ev in chosen:
        what = rng.choice(MUTATIONS)
        if what == "time" and ev.start is not None and ev.end is not None and _minutes(ev.end) <= 22 * 60:
            ev.start, ev.end = _hm(_minutes(ev.start) + 60), _hm(_minutes(ev.end) + 60)
        elif what == "title":
            ev.title = f"{ev.title} – neue Inhalte"
        elif what == "place" and ev.venue >= 0:
            ev.venue = (ev.venue + 1 + rng.randrange(len(words.VENUES) - 1)) % len(words.VENUES)
        else:
            ev.description = f"{ev.description} Aktualisiert: {rng.choice(words.DESCRIPTION_SENTENCES)}"
        ev.version += 1
        touched.add(ev.owner)
        touched.update(ev.partners)
    return touched, [ev.id for ev in chosen]

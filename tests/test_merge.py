"""The merge step on a real store: clusters become published events with stable UIDs."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from aggregator.config import Config, Network, Settings, Source
from aggregator.merge import publication
from aggregator.model import Event
from aggregator.store import Store
from exporters.ics import public_uid

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)
CONFIG = Config(
    settings=Settings(),
    networks={
        "theen": Network(name="ThEEN e.V.", short="ThEEN", website="https://www.theen-ev.de"),
        "thzm": Network(name="Thüringer Zentrum für Maschinenbau", short="ThZM", website="https://www.maschinenbau-thueringen.de"),
        "elmug": Network(name="ELMUG eG", short="ELMUG", website="https://elmug.de"),
    },
    sources=[Source(id=n, network=n, kind="ics", url=f"https://{n}.example/cal.ics") for n in ("theen", "thzm", "elmug")],
)


def ev(source: str, network: str, uid: str, title: str, start: datetime, **kw) -> Event:
    return Event(
        source_id=source, network_id=network, source_uid=uid, title=title, start=start,
        end=kw.pop("end", start + timedelta(hours=2)), tzid="Europe/Berlin", **kw,
    )


MBT_THZM = ev("thzm", "thzm", "mbt", "9. Thüringer Maschinenbautag", datetime(2025, 9, 22, 9, 0, tzinfo=BERLIN),
              location="COMCENTER Brühl, Erfurt", url="https://www.maschinenbau-thueringen.de/9-thueringer-maschinenbautag",
              description="Produktion der Zukunft.")
MBT_ELMUG = ev("elmug", "elmug", "tribe:2", "9. Thüringer Maschinenbautag", datetime(2025, 9, 22, 9, 0, tzinfo=BERLIN),
               location="COMCENTER Brühl, Mainzerhofstraße 10, 99084 Erfurt", url="https://elmug.de/veranstaltung/maschinenbautag/",
               description="Der Maschinenbautag mit Ausstellung, Vorträgen und Netzwerken im COMCENTER.")


def published(store: Store, now=NOW):
    return {(p.event.title, p.event.recurrence_id): p for p in publication(CONFIG, store, now)}


def test_duplicates_are_published_once_with_every_network_and_the_best_fields(store):
    elsewhere = replace(MBT_ELMUG, url="https://www.pressebox.de/events/maschinenbautag-2025")
    store.sync_events("thzm", [MBT_THZM], NOW)
    store.sync_events("elmug", [elsewhere], NOW)
    (p,) = publication(CONFIG, store, NOW)
    assert p.networks == ("elmug", "thzm")  # ids, ordered by their labels
    assert p.event.description == MBT_ELMUG.description  # the longest
    assert p.event.location == MBT_ELMUG.location
    assert p.event.url == MBT_THZM.url  # a link on the listing network's own site comes first
    assert p.uid == min(public_uid("thzm", "mbt"), public_uid("elmug", "tribe:2"))


def test_the_uid_of_a_cluster_does_not_depend_on_which_member_came_first(store, database_url):
    store.sync_events("elmug", [MBT_ELMUG], NOW)
    (alone,) = publication(CONFIG, store, NOW)
    assert alone.uid == public_uid("elmug", "tribe:2")
    store.sync_events("thzm", [MBT_THZM], NOW + timedelta(hours=1))
    (both,) = publication(CONFIG, store, NOW + timedelta(hours=1))
    assert both.uid == alone.uid  # kept, although a newcomer's own UID might sort first
    assert both.sequence == 1  # a second network and a longer text: content changed
    store.sync_events("elmug", [], NOW + timedelta(hours=2))  # the first member leaves
    (left,) = publication(CONFIG, store, NOW + timedelta(hours=2))
    assert left.uid == alone.uid and left.networks == ("thzm",)


def test_nothing_changed_means_no_new_sequence_and_no_writes(store):
    store.sync_events("thzm", [MBT_THZM], NOW)
    store.sync_events("elmug", [MBT_ELMUG], NOW)
    first = publication(CONFIG, store, NOW)
    states = store.published_states()
    again = publication(CONFIG, store, NOW + timedelta(hours=5))
    assert again == first and store.published_states() == states


def test_one_cancelled_member_cancels_the_merged_event(store):
    store.sync_events("thzm", [MBT_THZM], NOW)
    store.sync_events("elmug", [replace(MBT_ELMUG, status="cancelled")], NOW)
    (p,) = publication(CONFIG, store, NOW)
    assert p.event.status == "cancelled"


def test_a_single_listing_of_a_series_date_joins_the_series(store):
    series = ev("theen", "theen", "stammtisch", "Energie-Stammtisch", datetime(2025, 1, 29, 18, 0, tzinfo=BERLIN),
                rrule="FREQ=MONTHLY;BYDAY=-1WE;UNTIL=20251231T230000Z", location="Erfurt, Café Nerly")
    single = ev("elmug", "elmug", "tribe:9", "Energie-Stammtisch", datetime(2025, 10, 29, 18, 0, tzinfo=BERLIN),
                location="Café Nerly, Erfurt", description="Diesmal mit ELMUG: Sensorik für Energieanlagen. " * 3)
    store.sync_events("theen", [series], NOW)
    store.sync_events("elmug", [single], NOW)
    (p,) = publication(CONFIG, store, NOW)
    assert p.event.rrule == series.rrule and p.event.source_id == "theen"
    assert p.networks == ("elmug", "theen")
    assert p.event.description == ""  # the series keeps its own fields; the single adds its network


def test_overrides_follow_their_master_into_the_cluster(store):
    series = ev("theen", "theen", "stammtisch", "Energie-Stammtisch", datetime(2025, 1, 29, 18, 0, tzinfo=BERLIN),
                rrule="FREQ=MONTHLY;BYDAY=-1WE;COUNT=12")
    moved = replace(series, title="Energie-Stammtisch (verlegt)", rrule=None, recurrence_id="2025-09-24T18:00:00+02:00",
                    start=datetime(2025, 9, 30, 18, 0, tzinfo=BERLIN), end=datetime(2025, 9, 30, 20, 0, tzinfo=BERLIN))
    store.sync_events("theen", [series, moved], NOW)
    items = published(store)
    master, override = items[("Energie-Stammtisch", "")], items[("Energie-Stammtisch (verlegt)", "2025-09-24T18:00:00+02:00")]
    assert master.uid == override.uid


def test_near_misses_stay_apart(store):
    other_year = replace(MBT_ELMUG, source_uid="tribe:3", start=MBT_ELMUG.start.replace(year=2026), end=MBT_ELMUG.end.replace(year=2026))
    store.sync_events("thzm", [MBT_THZM], NOW)
    store.sync_events("elmug", [other_year], NOW)
    assert len(publication(CONFIG, store, NOW)) == 2


def test_events_of_sources_no_longer_configured_or_of_context_sources_are_not_published(store):
    store.sync_events("thzm", [MBT_THZM], NOW)
    store.sync_events("retired", [replace(MBT_ELMUG, source_id="retired", start=MBT_ELMUG.start + timedelta(days=3), end=None)], NOW)
    assert [p.event.source_id for p in publication(CONFIG, store, NOW)] == ["thzm"]
    context = CONFIG.model_copy(update={"sources": [*CONFIG.sources[:1], CONFIG.sources[1].model_copy(update={"role": "context"}), CONFIG.sources[2]]})
    assert publication(context, store, NOW) == []


def published_after_arrivals(*arrivals: tuple[str, list[Event]]):
    """The publication after the sources arrived one by one, each in its own refresh
    (a fresh store; the publication recorded after each arrival), by (title, recurrence id)."""
    store = Store("sqlite://")
    store.migrate()
    try:
        for hour, (source, events) in enumerate(arrivals):
            store.sync_events(source, events, NOW + timedelta(hours=hour))
            result = publication(CONFIG, store, NOW + timedelta(hours=hour))
        return {(p.event.title, p.event.recurrence_id): p for p in result}
    finally:
        store.close()


def content(p):
    """What a published entry shows, apart from its UID and its publication state."""
    return p.event.content_hash(), p.networks


# A date-only listing written as midnight without an end, as many sites do.
MBT_THEEN_DATE = ev("theen", "theen", "mbt@theen", "9. Thueringer Maschinenbautag am 22.09.2025",
                    datetime(2025, 9, 22, 0, 0, tzinfo=BERLIN), end=None, url="https://www.theen-ev.de/termine/mbt")


def test_the_merged_event_takes_the_most_precise_time_whichever_listing_came_first():
    for arrivals in ((("theen", [MBT_THEEN_DATE]), ("thzm", [MBT_THZM])), (("thzm", [MBT_THZM]), ("theen", [MBT_THEEN_DATE]))):
        (p,) = published_after_arrivals(*arrivals).values()
        assert (p.event.start, p.event.end) == (MBT_THZM.start, MBT_THZM.end)
        assert p.event.title == MBT_THZM.title  # the title comes with the time, from the same listing
        assert p.networks == ("theen", "thzm")


def test_a_listing_with_an_end_wins_over_one_with_the_same_start_and_none():
    start_only = replace(MBT_ELMUG, end=None)
    for arrivals in ((("elmug", [start_only]), ("thzm", [MBT_THZM])), (("thzm", [MBT_THZM]), ("elmug", [start_only]))):
        (p,) = published_after_arrivals(*arrivals).values()
        assert (p.event.start, p.event.end) == (MBT_THZM.start, MBT_THZM.end)


def test_every_published_field_is_a_function_of_the_members_not_of_their_arrival():
    # Equally precise listings that differ in every field, equally long texts included,
    # neither linking to its own network's site.
    ki_elmug = ev("elmug", "elmug", "tribe:7", "7. Thüringer KI-Forum", datetime(2025, 10, 1, 9, 30, tzinfo=BERLIN),
                  end=datetime(2025, 10, 1, 16, 30, tzinfo=BERLIN), location="COMCENTER Brühl, Erfurt",
                  url="https://events.example/ki-forum-a", description="Vorträge zu KI in KMU.", categories=("KI", "Forum"))
    ki_thzm = ev("thzm", "thzm", "ki", "7. Thüringer KI-Forum 2025", datetime(2025, 10, 1, 9, 0, tzinfo=BERLIN),
                 end=datetime(2025, 10, 1, 17, 0, tzinfo=BERLIN), location="Comcenter Brühl, Erfurt",
                 url="https://events.example/ki-forum-b", description="Vorträge zu KI im Bau.",
                 categories=("Forum", "Digitalisierung"))
    first = published_after_arrivals(("elmug", [ki_elmug]), ("thzm", [ki_thzm]))
    second = published_after_arrivals(("thzm", [ki_thzm]), ("elmug", [ki_elmug]))
    (a,), (b,) = first.values(), second.values()
    assert content(a) == content(b)
    # the rule: the smallest source id among equally precise listings
    assert (a.event.title, a.event.start, a.event.url) == (ki_elmug.title, ki_elmug.start, ki_elmug.url)
    assert (a.event.description, a.event.location) == (ki_elmug.description, ki_elmug.location)
    assert a.event.categories == ("KI", "Forum", "Digitalisierung")


def test_of_several_links_to_their_own_network_site_the_most_precise_listing_wins():
    # Both link to their own network's website; ThEEN, the smaller source id, states only the date.
    own_theen = replace(MBT_THEEN_DATE, url="https://www.theen-ev.de/termine/mbt")
    for arrivals in ((("theen", [own_theen]), ("thzm", [MBT_THZM])), (("thzm", [MBT_THZM]), ("theen", [own_theen]))):
        (p,) = published_after_arrivals(*arrivals).values()
        assert p.event.url == MBT_THZM.url
    # Equally precise: the smaller source id.
    own_elmug = replace(MBT_ELMUG, url="https://elmug.de/veranstaltung/maschinenbautag/")
    for arrivals in ((("elmug", [own_elmug]), ("thzm", [MBT_THZM])), (("thzm", [MBT_THZM]), ("elmug", [own_elmug]))):
        (p,) = published_after_arrivals(*arrivals).values()
        assert p.event.url == own_elmug.url



def test_states_recorded_before_labels_were_covered_are_taken_over_without_a_new_sequence(store):
    store.sync_events("thzm", [MBT_THZM], NOW)
    (first,) = publication(CONFIG, store, NOW)
    # As an earlier version recorded it: a digest over the event and the network ids only.
    legacy = hashlib.sha256((first.event.content_hash() + "|thzm").encode()).hexdigest()
    (state,) = store.published_states().values()
    store.save_published([replace(state, content_hash=legacy)])
    (again,) = publication(CONFIG, store, NOW + timedelta(hours=1))
    assert (again.sequence, again.last_modified) == (0, NOW)
    assert next(iter(store.published_states().values())).content_hash != legacy  # taken over once
    renamed = CONFIG.model_copy(update={"networks": {**CONFIG.networks, "thzm": CONFIG.networks["thzm"].model_copy(update={"short": "ThZM-Neu"})}})
    (after_rename,) = publication(renamed, store, NOW + timedelta(hours=2))
    assert (after_rename.sequence, after_rename.last_modified) == (1, NOW + timedelta(hours=2))

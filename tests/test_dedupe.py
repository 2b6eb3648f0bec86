"""The dedupe stage: the labelled set meets the bars, and each rule does what it says."""

from __future__ import annotations

import importlib.util
import random
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import Network
from aggregator.dedupe import cluster, normalize_title, same_event
from aggregator.model import Event

ROOT = Path(__file__).resolve().parent.parent
BERLIN = ZoneInfo("Europe/Berlin")

_spec = importlib.util.spec_from_file_location("dedupe_quality", ROOT / "bench" / "dedupe_quality.py")
quality = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("dedupe_quality", quality)
_spec.loader.exec_module(quality)

NETWORKS = {
    "theen": Network(name="Thüringer Erneuerbare Energien Netzwerk e.V.", short="ThEEN"),
    "medways": Network(name="medways e.V.", short="medways"),
    "optonet": Network(name="OptoNet e.V. – Photoniknetzwerk Thüringen", short="OptoNet"),
    "elmug": Network(name="Elektronische Mess- und Gerätetechnik Thüringen eG", short="ELMUG"),
    "thzm": Network(name="Thüringer Zentrum für Maschinenbau", short="ThZM"),
    "itnet": Network(name="ITnet Thüringen e.V.", short="ITnet"),
    "mit": Network(name="Material innovativ Thüringen", short="MiT"),
}


def ev(source, title, start, end=None, location="", url="", network=None, uid=None, rrule=None):
    if isinstance(start, str):
        start = datetime.fromisoformat(start).replace(tzinfo=BERLIN) if "T" in start else date.fromisoformat(start)
    if isinstance(end, str):
        end = datetime.fromisoformat(end).replace(tzinfo=BERLIN) if "T" in end else date.fromisoformat(end)
    tzid = "Europe/Berlin" if isinstance(start, datetime) else ""
    return Event(source, network or source.split("-")[0], uid or f"{source}:{title}:{start}", title, start, end, tzid,
                 location=location, url=url, rrule=rrule)


# --- the labelled set -------------------------------------------------------------------------


def test_labelled_set_meets_the_precision_and_recall_bars():
    events, pairs = quality.load_set()
    assert len(pairs) >= 200
    assert sum(p[2] for p in pairs) >= 80 and sum(not p[2] for p in pairs) >= 80
    pairwise, clustered = quality.evaluate()
    for name, s in (("same_event", pairwise), ("cluster", clustered)):
        assert s.precision >= quality.PRECISION_BAR, (name, s.line(name), s.wrong)
        assert s.recall >= quality.RECALL_BAR, (name, s.line(name), s.wrong)


def test_bench_script_exits_zero_at_the_bars():
    assert quality.main([]) == 0


# --- normalize_title ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("Thüringer Maschinenbautag", "Thueringer Maschinenbautag"),
        ("ThEEN-Mitgliederversammlung", "Mitgliederversammlung"),
        ("medways Branchentalk Medizintechnik", "Branchentalk Medizintechnik"),
        ("OptoNet e.V.: Workshop Photonik", "Workshop Photonik"),
        ("Einladung zum Workshop Photonik", "Workshop Photonik"),
        ("Save the date: 7. Thüringer KI-Forum", "7. Thüringer KI–Forum"),
        ("ABGESAGT: Exkursion Goldisthal", "Exkursion Goldisthal"),
        ("OptecNet-Jahrestagung vom 14.-15. Mai", "OptecNet Jahrestagung"),
        ("Größe  &  Straße", "grösse und strasse"),
    ],
)
def test_normalize_title_folds_case_umlauts_punctuation_networks_and_lead_words(a, b):
    assert normalize_title(a, NETWORKS) == normalize_title(b, NETWORKS)


def test_normalize_title_keeps_editions_years_and_format_words():
    assert normalize_title("7. Thüringer Maschinenbautag", NETWORKS) != normalize_title("8. Thüringer Maschinenbautag", NETWORKS)
    assert "2025" in normalize_title("Mitgliederversammlung 2025", NETWORKS)
    assert normalize_title("Webinar: Förderprogramme", NETWORKS).startswith("webinar")
    # a network short name that is an ordinary word is not removed
    assert "mit" in normalize_title("Branchentalk mit der IHK", NETWORKS).split()


# --- same_event: rules and near misses ----------------------------------------------------------

MBT = dict(title="9. Thüringer Maschinenbautag", start="2025-09-22T09:00", end="2025-09-22T17:00", location="COMCENTER Brühl, Mainzerhofstraße 10, 99084 Erfurt")


def test_same_source_is_never_the_same_event():
    a = ev("elmug-tribe", **MBT)
    b = ev("elmug-tribe", **MBT, uid="other")
    assert not same_event(a, b, NETWORKS)
    assert cluster([a, b], NETWORKS) == [[0], [1]]


def test_two_sources_of_one_network_may_merge():
    a = ev("thzm-ics", "Workshop KI in der Produktion", "2025-10-01T13:00", network="thzm")
    b = ev("thzm-rss", "Workshop: KI in der Produktion", "2025-10-01T13:00", network="thzm")
    assert same_event(a, b, NETWORKS)


def test_monthly_stammtisch_on_different_dates_stays_apart():
    a = ev("theen-ics", "Energie-Stammtisch", "2025-09-30T18:00", location="Erfurt, Café Nerly")
    b = ev("theen-web", "Energiestammtisch", "2025-10-28T18:00", location="Café Nerly, Erfurt")
    c = ev("theen-web", "Energiestammtisch", "2025-09-30T18:00", location="Café Nerly, Erfurt")
    assert not same_event(a, b, NETWORKS)
    assert same_event(a, c, NETWORKS)


def test_the_same_title_a_year_later_stays_apart():
    a = ev("elmug-tribe", **MBT)
    b = ev("thzm-rss", **{**MBT, "start": "2026-09-21T09:00", "end": "2026-09-21T17:00"})
    assert not same_event(a, b, NETWORKS)


def test_two_workshops_of_one_network_on_one_day_stay_apart():
    a = ev("medways-ics", "Workshop MDR-Regulatorik", "2025-10-22T10:00", location="Jena")
    b = ev("medways-rss", "Workshop MDR: Technische Dokumentation", "2025-10-22T14:00", location="Jena")
    c = ev("itnet-x", "Workshop MDR: Technische Dokumentation", "2025-10-22")
    d = ev("ccit-x", "MDR-Regulatorik (Workshop)", "2025-10-22")
    assert not same_event(a, b, NETWORKS)
    assert not same_event(c, d, NETWORKS)


def test_editions_seven_and_eight_stay_apart_even_on_one_day():
    a = ev("elmug-tribe", **MBT)
    b = ev("thzm-rss", **{**MBT, "title": "10. Thüringer Maschinenbautag"})
    assert not same_event(a, b, NETWORKS)


def test_ki_in_der_produktion_and_ki_in_der_medizin_stay_apart():
    where = "COMCENTER Brühl, Erfurt"
    a = ev("thzm-ics", "Workshop KI in der Produktion", "2025-10-01T13:00", "2025-10-01T15:00", location=where)
    b = ev("medways-ics", "Workshop KI in der Medizin", "2025-10-01T13:00", "2025-10-01T15:00", location=where)
    assert not same_event(a, b, NETWORKS)


def test_a_different_city_vetoes():
    a = ev("medways-ics", "Branchentalk Medizintechnik", "2025-09-24T16:30", location="TIP Jena")
    b = ev("thcm-news", "Branchentalk Medizintechnik", "2025-09-24T16:30", location="IHK Ostthüringen, Gera")
    assert not same_event(a, b, NETWORKS)


def test_midnight_from_a_date_only_source_is_a_date():
    a = ev("ccit-news", "Sommerfest der Netzwerke", "2025-07-03T00:00")
    b = ev("thcm-news", "Sommerfest der Netzwerke", "2025-07-03T17:00", "2025-07-03T22:00", location="Erfurt")
    assert same_event(a, b, NETWORKS)


def test_a_timed_event_inside_a_long_range_needs_a_strong_title():
    week = ev("theen-ics", "Thüringer Cross-Cluster-Wochen 2025", "2025-10-13", "2025-10-25")
    kickoff = ev("thcm-news", "Cross-Cluster-Woche 2025: Auftakt", "2025-10-13T10:00", location="Erfurt")
    assert not same_event(week, kickoff, NETWORKS)


def test_same_event_page_is_strong_evidence_but_a_site_root_is_not():
    a = ev("polymermat-auto", "Jahresveranstaltung RIS3", "2025-06-05T10:00", location="Ilmenau", url="https://polymermat.de/de/events/event/ris3/")
    b = ev("thcm-news", "RIS3-Jahresveranstaltung: Innovationen aus Thüringen", "2025-06-05", url="https://polymermat.de/de/events/event/ris3/")
    assert same_event(a, b, NETWORKS)
    c = ev("polymermat-news", "Fachforum Leichtbau", "2025-06-05T10:00", location="Ilmenau", url="https://polymermat.de/")
    d = ev("elmug-ical", "Fachforum Sensorik", "2025-06-05T10:00", location="Ilmenau", url="https://polymermat.de/")
    assert not same_event(c, d, NETWORKS)


# --- the real duplicates of networks.md §4 ------------------------------------------------------


def test_networks_md_kunststofftag_2018_in_two_date_shapes():
    a = ev("polymermat-news", "26./27.06.2018 Kunststofftag", "2018-06-26", "2018-06-28")
    b = ev("ccit-news", "Thüringer Kunststofftag 2018", "2018-06-26", "2018-06-28", location="Erfurt")
    assert same_event(a, b, NETWORKS)


def test_networks_md_optecnet_jahrestagung_2019():
    a = ev("optonet-feed", "OptecNet Jahrestagung 2019", "2019-05-14", "2019-05-16", location="Jena")
    b = ev("optonet-html", "OptecNet-Jahrestagung vom 14.-15. Mai", "2019-05-14", "2019-05-16")
    c = ev("thcm-news", "Jahrestagung der OptecNet Deutschland vom 14. bis 15. Mai 2019 in Jena", "2019-05-14", "2019-05-16")
    assert same_event(a, b, NETWORKS) and same_event(a, c, NETWORKS) and same_event(b, c, NETWORKS)


def test_networks_md_ccw_2020_report_on_three_sites_is_one_cluster():
    days = ("2020-09-16", "2020-09-26")
    a = ev("optonet-feed", "Cross-Cluster Woche Thüringen: Virtuell vernetzen – regional kooperieren", *days, url="https://optonet-jena.de/?p=7517")
    b = ev("theen-news", "Erfolgreiche Veranstaltungsreihe: Cross-Cluster-Woche Thüringen", *days,
           url="https://www.theen-ev.de/de/pressemeldung/erfolgreiche-veranstaltungsreihe.html")
    c = ev("newsresearch", "Gemeinsam mehr erreichen: Virtuell vernetzen – regional kooperieren", *days, network="ccit",
           url="https://news-research.net/2020/09/gemeinsam-mehr-erreichen-virtuell-vernetzen-regional-kooperieren-2")
    assert cluster([a, b, c], NETWORKS) == [[0, 1, 2]]


def test_comcenter_shared_by_different_events_does_not_merge_them():
    mbt = ev("elmug-tribe", **MBT)
    ki = ev("thzm-rss", "7. Thüringer KI-Forum", "2025-09-22T09:00", location="COMCENTER Brühl, Erfurt")
    assert not same_event(mbt, ki, NETWORKS)


# --- cluster ------------------------------------------------------------------------------------


def _as_keys(events, clusters):
    return sorted(sorted((events[i].source_id, events[i].source_uid) for i in c) for c in clusters)


def test_cluster_is_independent_of_input_order():
    events, _ = quality.load_set()
    items = [events[k] for k in sorted(events)]
    nets = quality.networks()
    reference = _as_keys(items, cluster(items, nets))
    rng = random.Random(4)
    for _ in range(10):
        shuffled = items[:]
        rng.shuffle(shuffled)
        result = cluster(shuffled, nets)
        assert _as_keys(shuffled, result) == reference
        assert all(c == sorted(c) for c in result)
        assert sorted(i for c in result for i in c) == list(range(len(shuffled)))


def test_cluster_never_holds_two_events_of_one_source():
    events, _ = quality.load_set()
    items = [events[k] for k in sorted(events)]
    for c in cluster(items, quality.networks()):
        sources = [items[i].source_id for i in c]
        assert len(sources) == len(set(sources))


def test_cluster_keeps_no_cached_titles_places_or_scores_afterwards():
    """The per-title caches live for one clustering: at country scale they hold hundreds of
    megabytes that the publication rendered next, and a service between refreshes, needs."""
    from aggregator import dedupe

    events, _ = quality.load_set()
    items = [events[k] for k in sorted(events)]
    cluster(items, quality.networks())
    caches = [dedupe._title_cached, dedupe._token_match, dedupe._title_score, dedupe._place, dedupe._url_key]
    assert [c.cache_info().currsize for c in caches] == [0] * len(caches)
    assert max(c.cache_info().hits for c in caches) == 0  # cleared, counters too


def test_cluster_does_not_chain_through_a_vague_listing():
    erfurt = ev("thcm-news", "Sommerfest der Netzwerke", "2025-07-03T17:00", location="Erfurt, egapark")
    jena = ev("medways-ics", "Sommerfest der Jenaer Netzwerke", "2025-07-03T17:00", location="Jena, Volksbad")
    vague = ev("ccit-news", "Sommerfest der Netzwerke", "2025-07-03")
    clusters = cluster([jena, vague, erfurt], NETWORKS)
    assert [0] in clusters and [1, 2] in clusters


def test_cluster_on_20000_synthetic_events_completes():
    events = quality.synthetic(20_000)
    clusters = cluster(events, quality.networks())
    assert sorted(i for c in clusters for i in c) == list(range(len(events)))
    assert any(len(c) > 1 for c in clusters)


# --- wrong merges found in the bench's synthetic world (country-50k) ---------------------------


def test_a_word_both_titles_have_does_not_also_cover_a_longer_word_of_one_of_them():
    # "energie" is in both; "Windenergie" is a topic of its own, not covered by it.
    a = ev("theen-ics", "Lunch & Learn: Lebensmitteltechnik Energie sparen im Betrieb", "2026-05-04T10:00", location="Online")
    b = ev("mit-ics", "Windenergie: Energie sparen im Betrieb (Netzwerktreffen)", "2026-05-04T10:00",
           location="Rathaussaal Mühlhausen, Ratsstraße 19, 99974 Mühlhausen")
    assert not same_event(a, b, NETWORKS)


def test_a_word_that_only_begins_a_compound_is_not_that_compound():
    # A "Praxisdialog" is no "Praxis", "Medizintechnik" no "Medizin" ...
    a = ev("itnet-ics", "Praxisdialog: Wissenstransfer Wertschöpfung steigern", "2026-12-22T09:30",
           location="Wasserwerk Burgau, Reifsteinweg 20, 07745 Jena")
    b = ev("mit-ics", "Online-Seminar: Wissenstransfer in der Praxis", "2026-12-22T10:00", location="Online")
    c = ev("medways-ics", "Robotik: in der Medizin (Lunch & Learn)", "2026-02-12T18:00", location="Online")
    d = ev("thzm-ics", "Lunch & Learn Medizintechnik – in der Medizin", "2026-02-12T18:00", location="Online")
    assert not same_event(a, b, NETWORKS)
    assert not same_event(c, d, NETWORKS)
    # ... but the start of a compound written apart still is ("Energie-Stammtisch" / "Energiestammtisch").
    e = ev("theen-ics", "Energie Stammtisch Mitte", "2025-09-30T18:00", location="Erfurt, Café Nerly")
    f = ev("theen-web", "Energiestammtisch Mitte", "2025-09-30T18:00", location="Café Nerly, Erfurt")
    assert same_event(e, f, NETWORKS)


def test_words_with_the_same_ending_but_another_beginning_are_no_typo():
    a = ev("itnet-ics", "Webinar Lasertechnik – Kosten senken", "2026-04-30T16:00", location="Online")
    b = ev("mit-ics", "Lunch & Learn Wassertechnik – Kosten senken", "2026-04-30T16:00", location="Online")
    assert not same_event(a, b, NETWORKS)
    c = ev("theen-ics", "Thüringer Kunststofftag", "2026-04-30T09:00", location="Erfurt")
    d = ev("mit-ics", "Thueringer Kunstofftag", "2026-04-30T09:00", location="Erfurt")
    assert same_event(c, d, NETWORKS)


def test_a_duplicate_on_a_crowded_day_is_still_found():
    # Hundreds of events of one day share "Workshop" and the topic's word; the duplicate shares
    # more than that, so it meets its twin although those words alone make no block.
    day = "2026-06-10"
    topics = ["Photonik", "Sensorik", "Robotik", "Logistik", "Leichtbau"]
    aspects = [f"Thema{n:03d}" for n in range(60)]
    crowd = [ev(f"s{i}-ics", f"Workshop {topics[i % 5]} {aspects[i % 60]}", f"{day}T{9 + i % 8:02d}:00",
                network=f"s{i}") for i in range(300)]
    a = ev("x1-ics", "Workshop Photonik Quantenoptik im Mittelstand", f"{day}T10:00", location="Jena", network="x1")
    b = ev("x2-rss", "Einladung: Workshop Photonik – Quantenoptik im Mittelstand", f"{day}T10:00", location="Jena",
           network="x2")
    c = ev("x3-rss", "Photonikforum", f"{day}T10:00", location="Jena", network="x3")
    d = ev("x4-rss", "Photonik-Forum", f"{day}T10:00", location="Jena", network="x4")
    events = crowd + [a, b, c, d]
    clusters = cluster(events, NETWORKS)
    n = len(crowd)
    assert [n, n + 1] in clusters
    assert [n + 2, n + 3] in clusters
    assert sum(len(c) for c in clusters) == len(events)


def test_titles_that_each_add_a_different_format_stay_apart():
    # One network may hold a workshop and a talk on one topic; "Webinar" and "Online-Seminar" are one format.
    a = ev("itnet-ics", "Webinar: Softwareentwicklung Testfelder und Reallabore", "2026-12-22T16:00", location="Online")
    b = ev("mit-ics", "Workshop: Softwareentwicklung Testfelder und Reallabore", "2026-12-22T16:00", location="Online")
    c = ev("thzm-ics", "Online-Seminar: Softwareentwicklung Testfelder und Reallabore", "2026-12-22T16:00", location="Online")
    assert not same_event(a, b, NETWORKS)
    assert same_event(a, c, NETWORKS)

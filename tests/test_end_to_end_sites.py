"""End to end for sites without feeds: each site type (WordPress + The Events Calendar,
TYPO3 tx_news, Contao, a hand-written PHP table, an odd PHP page with its own parser,
JSON-LD @graph, microdata, h-event, and kind auto) configured in sources.toml as an
operator writes it, refreshed over the local HTTP server into the store, published
as one calendar that real clients accept."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

from aggregator.config import Deployment, load_config
from aggregator.pipeline import refresh, render, select_sources
from aggregator.store import Store
from tests.support.shared import ics_check

NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)

NETWORKS = """
[networks.elmug]
name = "ELMUG eG"
short = "ELMUG"

[networks.thcm]
name = "Thüringer ClusterManagement"
short = "ThCM"

[networks.theen]
name = "ThEEN e.V."
short = "ThEEN"

[networks.itnet]
name = "ITnet Thüringen e.V."
short = "ITnet"

[networks.medways]
name = "medways e.V."
short = "medways"

[networks.mit]
name = "Material innovativ Thüringen"
short = "MiT"
"""

SOURCES = """
[[sources]]
id = "elmug-tribe"
network = "elmug"
kind = "tribe"
url = "{base}/wp-tec/wp-json/tribe/events/v1/events/"

[[sources]]
id = "thcm-news"
network = "thcm"
kind = "html"
url = "{base}/typo3-news/veranstaltungen/"
[sources.html]
item = ".news-list-view .article"
title = ".header h3"
date = ".teaser-text [itemprop=description]"
link = ".header h3 a"
description = ".teaser-text [itemprop=description]"
next_page = ".f3-widget-paginator li.next a"
detail = true

[[sources]]
id = "theen-termine"
network = "theen"
kind = "html"
url = "{base}/contao/de/termine.html"
[sources.html]
item = ".mod_eventlist .event"
title = "h2"
date = "p.time"
link = "h2 a"
location = ".location"
description = ".ce_text"
next_page = ".pagination a.next"

[[sources]]
id = "itnet-termine"
network = "itnet"
kind = "html"
url = "{base}/php-table/termine.php"
[sources.html]
item = "table.termine tr:has(td)"
date = "td:nth-of-type(1)"
time = "td:nth-of-type(2)"
title = "td:nth-of-type(3)"
link = "td:nth-of-type(3) a"
location = "td:nth-of-type(4)"

[[sources]]
id = "medways-workshopnews"
network = "medways"
kind = "html"
url = "{base}/medways-workshopnews/workshopnews.php"
[sources.html]
parser = "medways"

[[sources]]
id = "mit-jsonld"
network = "mit"
kind = "jsonld"
url = "{base}/jsonld-graph/index.html"

[[sources]]
id = "mit-mikrodaten"
network = "mit"
kind = "jsonld"
url = "{base}/mikrodaten/veranstaltungen.html"

[[sources]]
id = "mit-hevent"
network = "mit"
kind = "jsonld"
url = "{base}/hevent/termine.html"
"""

AUTO = """
[[sources]]
id = "elmug-auto"
network = "elmug"
kind = "auto"
url = "{base}/wp-tec/veranstaltungen/"
"""


def configure(tmp_path: Path, sites_server, text: str):
    path = tmp_path / "sources.toml"
    path.write_text("[settings]\nallow_private_networks = true\ntimeout = 2\nretries = 1\nbackoff = 0.01\nhorizon = \"730d\"\n" + NETWORKS + text.format(base=sites_server.base_url), encoding="utf-8")
    return load_config(path)


def test_every_site_type_is_refreshed_into_one_valid_calendar_and_then_answers_304(tmp_path, sites_server, store, database_url):
    config = configure(tmp_path, sites_server, SOURCES)
    deployment = Deployment(Path(config.path), tmp_path / "data", database_url)
    report = refresh(config, store, deployment, select_sources(config, None), now=NOW)
    by_id = {r.source_id: r for r in report.sources}
    assert {k: r.outcome for k, r in by_id.items()} == {s.id: "fetched" for s in config.sources}, {k: r.error for k, r in by_id.items()}
    assert all(r.events and r.events > 0 for r in report.sources), {k: (r.events, r.warnings) for k, r in by_id.items()}
    assert by_id["elmug-tribe"].events == 10  # both API pages
    # TYPO3: page 2 was followed, and detail pages gave times the list lacked.
    thcm = {s.event.title: s.event for s in store.published_events("thcm")}
    assert len(thcm) >= 4 and any(isinstance(e.start, datetime) for e in thcm.values())

    path = deployment.public_dir / "calendar.ics"
    (result,) = ics_check(path)
    assert result["ok"], result
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    categories = {str(c) for e in cal.walk("VEVENT") for c in e["CATEGORIES"].cats}
    assert {"ELMUG", "ThCM", "ThEEN", "ITnet", "medways", "MiT"} <= categories

    before = path.read_bytes()
    second = refresh(config, store, deployment, select_sources(config, None), now=NOW)
    assert {r.outcome for r in second.sources} == {"not_modified"}
    assert not second.published and path.read_bytes() == before


def test_auto_chooses_the_tribe_api_of_a_wordpress_event_page(tmp_path, sites_server, store, database_url):
    config = configure(tmp_path, sites_server, AUTO)
    deployment = Deployment(Path(config.path), tmp_path / "data", database_url)
    (r,) = refresh(config, store, deployment, select_sources(config, None), now=NOW).sources
    assert r.outcome == "fetched" and r.events == 10
    assert r.warnings[0].startswith("auto: read kind tribe from ")


def test_auto_finds_the_tribe_api_of_wordpress_with_plain_permalinks(tmp_path, sites_server, store, database_url):
    config = configure(tmp_path, sites_server, AUTO.replace("/wp-tec/veranstaltungen/", "/wp-plain/?post_type=tribe_events"))
    deployment = Deployment(Path(config.path), tmp_path / "data", database_url)
    (r,) = refresh(config, store, deployment, select_sources(config, None), now=NOW).sources
    assert r.outcome == "fetched" and r.events == 10, (r.error, r.warnings)  # both API pages
    api = sites_server.url("/wp-plain/?rest_route=/tribe/events/v1/events")
    assert r.warnings[0] == f"auto: read kind tribe from {api} (WordPress REST API (The Events Calendar, if installed))"


def test_auto_reads_a_pages_own_list_rather_than_one_events_ical_export(tmp_path, sites_server, store, database_url):
    config = configure(tmp_path, sites_server, AUTO.replace("/wp-tec/veranstaltungen/", "/ical-export/termine/"))
    deployment = Deployment(Path(config.path), tmp_path / "data", database_url)
    (r,) = refresh(config, store, deployment, select_sources(config, None), now=NOW).sources
    assert r.outcome == "fetched" and r.events == 3, (r.error, r.warnings)
    assert r.warnings[0].startswith(f"auto: read kind jsonld from {sites_server.url('/ical-export/termine/')} ")
    titles = {s.event.title for s in store.published_events("elmug")}
    assert titles == {"9. Thüringer Maschinenbautag", "7. Thüringer KI-Forum", "Netzwerk-Stammtisch November"}


def test_site_order_does_not_change_the_calendar(tmp_path, sites_server):
    outputs = []
    blocks = SOURCES.split("[[sources]]")[1:]
    for i, order in enumerate((blocks, list(reversed(blocks)))):
        d = tmp_path / str(i)
        d.mkdir()
        config = configure(d, sites_server, "".join("[[sources]]" + b for b in order))
        store = Store(f"sqlite:///{d / 'db.sqlite3'}")
        store.migrate()
        refresh(config, store, Deployment(Path(config.path), d / "data", store.url), select_sources(config, None), now=NOW)
        outputs.append(render(config, store))
        store.close()
    assert outputs[0] == outputs[1]


ICAL = """
[[sources]]
id = "elmug-ical"
network = "elmug"
kind = "ics"
url = "{base}/wp-tec/veranstaltungen/?ical=1"
"""


def test_the_event_calendars_ical_export_is_refreshed_as_kind_ics(tmp_path, sites_server, store, database_url):
    """The wp-tec site's ``?ical=1`` (the export The Events Calendar links from its list view) as an operator adds it."""
    config = configure(tmp_path, sites_server, ICAL)
    deployment = Deployment(Path(config.path), tmp_path / "data", database_url)
    (r,) = refresh(config, store, deployment, select_sources(config, None), now=NOW).sources
    assert (r.outcome, r.events, r.warnings) == ("fetched", 10, [])

    events = {s.event.title: s.event for s in store.published_events("elmug")}
    berlin = ZoneInfo("Europe/Berlin")
    assert len(events) == 10
    mbt = events["9. Thüringer Maschinenbautag"]
    assert (mbt.start, mbt.end, mbt.tzid) == (datetime(2025, 9, 22, 9, tzinfo=berlin), datetime(2025, 9, 22, 17, tzinfo=berlin), "Europe/Berlin")
    assert mbt.location == "COMCENTER Brühl, Mainzerhofstraße 10, Erfurt, 99084, Deutschland"  # as TEC writes LOCATION
    assert mbt.url == sites_server.url("/wp-tec/veranstaltung/9-thueringer-maschinenbautag/")
    fair = events["embedded world 2026 – Thüringer Gemeinschaftsstand"]
    assert (fair.start, fair.end) == (date(2026, 3, 10), date(2026, 3, 13))  # VALUE=DATE, exclusive DTEND
    assert events["ELMUG4FUTURE 2025 – Konferenz für Elektronik, Mess- und Sensortechnik"].start.utcoffset() == timedelta(hours=1)

    path = deployment.public_dir / "calendar.ics"
    (result,) = ics_check(path)
    assert result["ok"], result
    (again,) = refresh(config, store, deployment, select_sources(config, None), now=NOW).sources
    assert again.outcome == "not_modified"


CONTAO_PAGES = """
[[sources]]
id = "theen-veranstaltungen"
network = "theen"
kind = "html"
url = "{base}/contao/de/veranstaltungen.html"
[sources.html]
item = ".mod_eventlist .event"
title = "h2"
date = "p.time"
link = "h2 a"
location = ".location"
description = ".ce_text"
next_page = ".pagination a.next"
"""


def test_contao_pagination_on_the_sites_own_host_is_followed(tmp_path, sites_server, store, database_url):
    """Contao links its next page by the request path (``/contao/de/veranstaltungen.html?page_e14=2``): page 2 is read."""
    config = configure(tmp_path, sites_server, CONTAO_PAGES)
    deployment = Deployment(Path(config.path), tmp_path / "data", database_url)
    (r,) = refresh(config, store, deployment, select_sources(config, None), now=NOW).sources
    assert (r.outcome, r.events, r.warnings) == ("fetched", 4, [])

    asked = [(q.path, q.query) for q in sites_server.requests if q.path.startswith("/contao/")]
    assert asked == [("/contao/de/veranstaltungen.html", ""), ("/contao/de/veranstaltungen.html", "page_e14=2")]
    events = {s.event.title: s.event for s in store.published_events("theen")}
    assert sorted(events) == ["Energie-Stammtisch Jena", "Neujahrsempfang des ThEEN 2026",
                              "ThEEN-Mitgliederversammlung 2025", "Thüringer Energietage 2026"]
    berlin = ZoneInfo("Europe/Berlin")
    # from page 2: a timed event and an all-day span, linked on the same host
    reception = events["Neujahrsempfang des ThEEN 2026"]
    assert (reception.start, reception.end) == (datetime(2026, 1, 21, 17, tzinfo=berlin), datetime(2026, 1, 21, 20, tzinfo=berlin))
    assert reception.url == sites_server.url("/contao/de/veranstaltungen/neujahrsempfang-2026.html")
    assert reception.location == "Augustinerkloster, Augustinerstraße 10, 99084 Erfurt"
    days = events["Thüringer Energietage 2026"]
    assert (days.start, days.end) == (date(2026, 3, 10), date(2026, 3, 13))

    (again,) = refresh(config, store, deployment, select_sources(config, None), now=NOW).sources
    assert again.outcome == "not_modified"

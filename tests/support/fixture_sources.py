"""Every fixture site of ``tests/fixtures/sites`` as a configured source, and the one
helper that writes a ``sources.toml`` for them.

``write_config`` is the only place the chaos and crash runs build a configuration,
so a setting every test deployment needs (e.g. allowing private addresses when
fetching from 127.0.0.1) is one line in ``TEST_SETTINGS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# [settings] every test deployment of these fixtures uses (fast, local, 2025's events kept).
TEST_SETTINGS = {
    "allow_private_networks": True,  # the fixture sites are served on 127.0.0.1
    "timeout": 1.0,
    "retries": 1,
    "backoff": 0.01,
    "max_retry_after": 2,
    "per_host_concurrency": 16,
    "horizon": "730d",
    "retention": "3650d",
    "max_bytes": 2_000_000,
    "calendar_name": "Netzwerktimer Test",
}

NETWORKS = {
    "theen": "ThEEN",
    "medways": "medways",
    "optonet": "OptoNet",
    "thzm": "ThZM",
    "elmug": "ELMUG",
    "thcm": "ThCM",
    "itnet": "ITnet",
    "mit": "MiT",
}


@dataclass(frozen=True)
class FixtureSource:
    """One source: its id, network, kind, path on the sites server and extra TOML lines."""

    id: str
    network: str
    kind: str
    path: str
    extra: str = ""
    next_pages: tuple[str, ...] = ()  # further list pages the crawl reads (pagination)
    details: tuple[str, ...] = ()  # detail pages the crawl reads
    encoding: str = "utf-8"  # of the file as served


# The Tribe API's second page (its own file), read by elmug-tribe and elmug-auto.
TRIBE_PAGE_2 = ("/wp-tec/wp-json/tribe/events/v1/events/?per_page=5&start_date=2025-08-31+00%3A00%3A00"
                "&end_date=2027-09-01+23%3A59%3A59&status=publish&page=2")

SOURCES: tuple[FixtureSource, ...] = (
    FixtureSource("theen-termine", "theen", "ics", "/theen/termine.ics"),
    FixtureSource("medways-kalender", "medways", "ics", "/medways/kalender.ics"),
    FixtureSource("optonet-posts", "optonet", "feed", "/optonet/feed/"),
    FixtureSource("thzm-veranstaltungen", "thzm", "feed", "/thzm/veranstaltungen.rss"),
    FixtureSource(
        "elmug-tribe", "elmug", "tribe", "/wp-tec/wp-json/tribe/events/v1/events/",
        next_pages=(TRIBE_PAGE_2,),
    ),
    FixtureSource("elmug-auto", "elmug", "auto", "/wp-tec/veranstaltungen/", next_pages=(TRIBE_PAGE_2,)),
    FixtureSource(
        "thcm-news", "thcm", "html", "/typo3-news/veranstaltungen/",
        extra="""[sources.html]
item = ".news-list-view .article"
title = ".header h3"
date = ".teaser-text [itemprop=description]"
link = ".header h3 a"
description = ".teaser-text [itemprop=description]"
next_page = ".f3-widget-paginator li.next a"
detail = true
""",
        next_pages=("/typo3-news/veranstaltungen/page-2",),
        details=("/typo3-news/veranstaltungen/detail/7-thueringer-ki-forum",
                 "/typo3-news/veranstaltungen/detail/cross-cluster-woche-2025-auftakt"),
    ),
    FixtureSource(
        "theen-contao", "theen", "html", "/contao/de/termine.html",
        extra="""[sources.html]
item = ".mod_eventlist .event"
title = "h2"
date = "p.time"
link = "h2 a"
location = ".location"
description = ".ce_text"
next_page = ".pagination a.next"
""",
    ),
    FixtureSource(
        "itnet-termine", "itnet", "html", "/php-table/termine.php",
        extra="""[sources.html]
item = "table.termine tr:has(td)"
date = "td:nth-of-type(1)"
time = "td:nth-of-type(2)"
title = "td:nth-of-type(3)"
link = "td:nth-of-type(3) a"
location = "td:nth-of-type(4)"
""",
        encoding="iso-8859-1",
    ),
    FixtureSource("medways-workshopnews", "medways", "html", "/medways-workshopnews/workshopnews.php",
                  extra='[sources.html]\nparser = "medways"\n'),
    FixtureSource("mit-jsonld", "mit", "jsonld", "/jsonld-graph/index.html"),
    FixtureSource("mit-mikrodaten", "mit", "jsonld", "/mikrodaten/veranstaltungen.html"),
    FixtureSource("mit-hevent", "mit", "jsonld", "/hevent/termine.html"),
)


def write_config(path: Path, server, sources=SOURCES, *, urls: dict[str, str] | None = None,
                 settings: dict | None = None, digest: dict | None = None) -> Path:
    """Write ``sources.toml`` at ``path`` for ``sources`` served by ``server``; return ``path``.

    ``urls`` replaces the URL of some sources (source id → URL), ``settings`` adds to
    or overrides ``TEST_SETTINGS``, ``digest`` is written as ``[digest]``.
    """
    urls = urls or {}
    lines = ["[settings]"]
    for key, value in {**TEST_SETTINGS, **(settings or {})}.items():
        lines.append(f"{key} = {_toml(value)}")
    lines.append("")
    if digest:
        lines.append("[digest]")
        lines += [f"{key} = {_toml(value)}" for key, value in digest.items()]
        lines.append("")
    for net, short in NETWORKS.items():
        lines += [f"[networks.{net}]", f'name = "{short} e.V."', f'short = "{short}"', ""]
    for s in sources:
        url = urls.get(s.id) or server.url(s.path)
        lines += ["[[sources]]", f'id = "{s.id}"', f'network = "{s.network}"', f'kind = "{s.kind}"', f"url = {_toml(url)}"]
        if s.extra:
            lines.append(s.extra.rstrip("\n"))
        lines.append("")
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

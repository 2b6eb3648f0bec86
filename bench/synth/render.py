"""One site's files, as its CMS would write them.

``render_site(world, index, evs)`` → ``Rendered``: the files (path below the
served root → bytes), the URLs a reader fetches in order (first page, then the
further pages), and the ids of the events the site shows. Kinds and styles:

- ``ics``: ``tzid`` (an Outlook/TEC-like export: VTIMEZONE, ``DTSTART;TZID=``) or
  ``utc`` (Google-like: ``X-WR-TIMEZONE``, times in UTC); folded lines, CRLF;
- ``feed``: RSS 2.0, ``ev`` (the RSS event module) or ``text`` (the date only in
  German in the item's text, as WordPress posts have it);
- ``html``: ``contao`` ("Mi, 05.03.2026 | 09:30 – 16:00 Uhr") or ``typo``
  ("Mittwoch, 5. März 2026, 09:30–16:00 Uhr"), 50 events a page with a "next" link;
- ``jsonld``: a page with a Yoast-like ``@graph`` of schema.org events;
- ``tribe``: The Events Calendar's REST API, 50 events a page, upcoming events only
  (as the plugin answers), WordPress's JSON escaping.
"""

from __future__ import annotations

import html
import json
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bench.synth import words
from bench.synth.world import NOW, Listing, World, listing

BERLIN = ZoneInfo("Europe/Berlin")
PER_PAGE = 50
DTSTAMP = "20260301T050000Z"


@dataclass
class Rendered:
    files: dict[str, bytes] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)
    shown: set[int] = field(default_factory=set)  # event ids


def source_path(kind: str, style: str) -> str:
    """The path (below the site's folder) of the URL ``sources.toml`` names."""
    return {
        ("ics", "tzid"): "termine.ics",
        ("ics", "utc"): "kalender.ics",
        ("feed", "ev"): "veranstaltungen.rss",
        ("feed", "text"): "feed/",
        ("html", "contao"): "termine.html",
        ("html", "typo"): "veranstaltungen/",
        ("jsonld", "graph"): "events/",
        ("tribe", "tec"): "wp-json/tribe/events/v1/events/",
    }[(kind, style)]


HTML_SELECTORS = {
    "contao": {"item": ".mod_eventlist .event", "title": "h2", "date": "p.time", "link": "h2 a",
               "location": ".location", "description": ".ce_text", "next_page": ".pagination a.next"},
    "typo": {"item": ".news-list-view .article", "title": ".header h3", "date": ".news-list-date", "link": ".header h3 a",
             "location": ".news-list-location", "description": ".teaser-text", "next_page": ".f3-widget-paginator li.next a"},
}


def render_site(world: World, index: int, evs) -> Rendered:
    site = world.sites[index]
    items = [listing(world, index, ev) for ev in evs]
    fn = {"ics": _ics, "feed": _feed, "html": _html, "jsonld": _jsonld, "tribe": _tribe}[site.kind]
    out = Rendered()
    fn(world, index, items, out)
    return out


# --- helpers ---------------------------------------------------------------------------------


def _local(d: date, hm: str) -> datetime:
    h, m = hm.split(":")
    return datetime(d.year, d.month, d.day, int(h), int(m), tzinfo=BERLIN)


def _times(it: Listing) -> tuple[datetime | None, datetime | None]:
    if it.start is None:
        return None, None
    start = _local(it.day, it.start)
    end = _local(it.day, it.end) if it.end else None
    return start, end


def _upcoming(it: Listing) -> bool:
    if it.rrule:
        return True
    return it.last_day >= NOW.astimezone(BERLIN).date()


def _title_with_status(it: Listing) -> str:
    return f"Abgesagt: {it.title}" if it.cancelled else it.title


def _de_short(d: date) -> str:
    return f"{words.WEEKDAYS_SHORT[d.weekday()]}, {d:%d.%m.%Y}"


def _de_long(d: date) -> str:
    return f"{words.WEEKDAYS[d.weekday()]}, {d.day}. {words.MONTHS[d.month - 1]} {d.year}"


def _pages(items: list, per_page: int = PER_PAGE) -> list[list]:
    return [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]


# --- ics -----------------------------------------------------------------------------------


_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE""".split("\n")


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts, current, size = [], [], 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, 74
        current.append(ch)
        size += n
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _ics(world: World, index: int, items: list[Listing], out: Rendered) -> None:
    site = world.sites[index]
    utc = site.style == "utc"
    lines = ["BEGIN:VCALENDAR", f"PRODID:-//{site.short}//Veranstaltungskalender 2.1//DE", "VERSION:2.0",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH", f"X-WR-CALNAME:{_ics_text(site.name)} – Termine"]
    lines += ["X-WR-TIMEZONE:Europe/Berlin"] if utc else _VTIMEZONE
    for it in items:
        lines += ["BEGIN:VEVENT", f"UID:{it.uid}@{site.id}.bench.test", f"DTSTAMP:{DTSTAMP}"]
        start, end = _times(it)
        if start is None:
            lines.append(f"DTSTART;VALUE=DATE:{it.day:%Y%m%d}")
            lines.append(f"DTEND;VALUE=DATE:{it.last_day + timedelta(days=1):%Y%m%d}")
        elif utc:
            lines.append(f"DTSTART:{start.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}")
            if end:
                lines.append(f"DTEND:{end.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}")
        else:
            lines.append(f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}")
            if end:
                lines.append(f"DTEND;TZID=Europe/Berlin:{end:%Y%m%dT%H%M%S}")
        if it.rrule:
            lines.append(f"RRULE:{it.rrule}")
        lines += [
            f"SUMMARY:{_ics_text(it.title)}",
            f"LOCATION:{_ics_text(it.location)}",
            f"DESCRIPTION:{_ics_text(it.description)}",
            f"URL:{it.url}",
            f"CATEGORIES:{_ics_text(it.ev.category)}",
            f"STATUS:{'CANCELLED' if it.cancelled else 'CONFIRMED'}",
            f"SEQUENCE:{it.ev.version}",
            "CREATED:20251201T090000Z",
            f"LAST-MODIFIED:2026020{1 + it.ev.version % 9}T090000Z",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
        out.shown.add(it.ev.id)
    lines.append("END:VCALENDAR")
    path = f"{site.id}/{source_path(site.kind, site.style)}"
    out.files[path] = ("\r\n".join(_fold(x) for x in lines) + "\r\n").encode("utf-8")
    out.urls.append(f"{world.base(site)}/{path}")


# --- feed ----------------------------------------------------------------------------------


def _rss_date(d: datetime) -> str:
    return d.strftime("%a, %d %b %Y %H:%M:%S %z")


def _text_when(it: Listing) -> str:
    start, end = _times(it)
    if start is None:
        if it.last_day == it.day:
            return f"Am {_de_long(it.day)}"
        return f"Vom {it.day:%d.%m.%Y} bis {it.last_day:%d.%m.%Y}"
    if end is None:
        return f"Am {_de_long(it.day)}, ab {start:%H:%M} Uhr"
    return f"Am {_de_long(it.day)}, von {start:%H:%M} bis {end:%H:%M} Uhr"


def _feed(world: World, index: int, items: list[Listing], out: Rendered) -> None:
    site = world.sites[index]
    base = world.base(site)
    rows = ['<?xml version="1.0" encoding="UTF-8"?>',
            '<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
            ' xmlns:content="http://purl.org/rss/1.0/modules/content/">',
            "<channel>", f"<title>{html.escape(site.name)} – Veranstaltungen</title>",
            f"<link>{base}/{site.id}/</link>", f"<description>Termine von {html.escape(site.name)}</description>",
            "<language>de-DE</language>", "<lastBuildDate>Sun, 01 Mar 2026 06:00:00 +0100</lastBuildDate>"]
    for n, it in enumerate(items):
        posted = datetime(2026, 1, 5, 9, 0, tzinfo=BERLIN) + timedelta(hours=n)
        rows += ["<item>", f"<title>{html.escape(_title_with_status(it))}</title>", f"<link>{html.escape(it.url)}</link>",
                 f'<guid isPermaLink="false">{it.uid}@{site.id}</guid>', f"<pubDate>{_rss_date(posted)}</pubDate>",
                 f"<dc:creator>{html.escape(site.short)}</dc:creator>", f"<category>{html.escape(it.ev.category)}</category>"]
        if site.style == "ev":
            start, end = _times(it)
            if start is None:
                rows += [f"<ev:startdate>{it.day.isoformat()}</ev:startdate>", f"<ev:enddate>{it.last_day.isoformat()}</ev:enddate>"]
            else:
                rows.append(f"<ev:startdate>{start.isoformat()}</ev:startdate>")
                if end:
                    rows.append(f"<ev:enddate>{end.isoformat()}</ev:enddate>")
            rows += [f"<ev:location>{html.escape(it.location)}</ev:location>", f"<ev:organizer>{html.escape(site.short)}</ev:organizer>",
                     f"<description>{html.escape(it.description)}</description>"]
        else:
            text = f"<p>{html.escape(_text_when(it))}, {html.escape(it.location)}.</p><p>{html.escape(it.description)}</p>"
            rows += [f"<description>{html.escape(text)}</description>"]
        rows.append("</item>")
        out.shown.add(it.ev.id)
    rows += ["</channel>", "</rss>", ""]
    path = f"{site.id}/{source_path(site.kind, site.style)}"
    file = path + "index.xml" if path.endswith("/") else path
    out.files[file] = "\n".join(rows).encode("utf-8")
    out.urls.append(f"{base}/{path}")


# --- html ----------------------------------------------------------------------------------


def _contao_when(it: Listing) -> str:
    start, end = _times(it)
    if start is None:
        if it.last_day == it.day:
            return _de_short(it.day)
        return f"{it.day:%d.%m.%Y} – {it.last_day:%d.%m.%Y}"
    if end is None:
        return f"{_de_short(it.day)} | {start:%H:%M} Uhr"
    return f"{_de_short(it.day)} | {start:%H:%M} – {end:%H:%M} Uhr"


def _typo_when(it: Listing) -> str:
    start, end = _times(it)
    if start is None:
        if it.last_day == it.day:
            return _de_long(it.day)
        if it.last_day.month == it.day.month:
            return f"{it.day.day}.–{it.last_day.day}. {words.MONTHS[it.day.month - 1]} {it.day.year}"
        return f"{it.day:%d.%m.%Y} bis {it.last_day:%d.%m.%Y}"
    if end is None:
        return f"{_de_long(it.day)}, {start:%H:%M} Uhr"
    return f"{_de_long(it.day)}, {start:%H:%M}–{end:%H:%M} Uhr"


def _page_shell(site_name: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>Veranstaltungen – {html.escape(site_name)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1.0">
<link rel="stylesheet" href="/assets/css/layout.min.css">
</head>
<body>
<div id="wrapper">
<header id="header"><nav class="mod_navigation"><ul class="level_1"><li><a href="./">Startseite</a></li>
<li class="active"><strong>Termine</strong></li><li><a href="presse.html">Presse</a></li><li><a href="kontakt.html">Kontakt</a></li></ul></nav></header>
<main id="main"><div class="inside">
{body}
</div></main>
<footer id="footer"><p>© 2026 {html.escape(site_name)} · <a href="impressum.html">Impressum</a> · <a href="datenschutz.html">Datenschutz</a></p></footer>
</div>
</body>
</html>
"""


def _html(world: World, index: int, items: list[Listing], out: Rendered) -> None:
    site = world.sites[index]
    base = world.base(site)
    path = f"{site.id}/{source_path(site.kind, site.style)}"
    pages = _pages(items)
    for n, page in enumerate(pages, 1):
        parts = []
        if site.style == "contao":
            parts.append('<h1 class="ce_headline">Termine</h1>\n<div class="mod_eventlist block">')
            for it in page:
                parts.append(
                    f'<div class="event layout_teaser upcoming">\n'
                    f'<h2><a href="{html.escape(it.url)}" title="{html.escape(it.title)}">{html.escape(_title_with_status(it))}</a></h2>\n'
                    f'<p class="time">{html.escape(_contao_when(it))}</p>\n'
                    f'<p class="location">{html.escape(it.location)}</p>\n'
                    f'<div class="ce_text block"><p>{html.escape(it.description)}</p></div>\n</div>')
            parts.append("</div>")
            if n < len(pages):
                parts.append(f'<div class="pagination block"><a class="next" href="termine.html?page={n + 1}">Weiter</a></div>')
        else:
            parts.append('<h1>Veranstaltungen</h1>\n<div class="news-list-view">')
            for it in page:
                parts.append(
                    f'<div class="article articletype-0">\n'
                    f'<div class="header"><h3><a href="{html.escape(it.url)}">{html.escape(_title_with_status(it))}</a></h3></div>\n'
                    f'<div class="news-list-date">{html.escape(_typo_when(it))}</div>\n'
                    f'<div class="news-list-location">{html.escape(it.location)}</div>\n'
                    f'<div class="teaser-text"><p>{html.escape(it.description)}</p></div>\n</div>')
            parts.append("</div>")
            if n < len(pages):
                parts.append(f'<ul class="f3-widget-paginator"><li class="next"><a href="?page={n + 1}">nächste Seite</a></li></ul>')
        body = _page_shell(site.name, "\n".join(parts)).encode("utf-8")
        if site.style == "contao":
            file = path if n == 1 else f"{path}?page={n}"
            url = f"{base}/{path}" if n == 1 else f"{base}/{path}?page={n}"
        else:
            file = path + ("index.html" if n == 1 else f"?page={n}")
            url = f"{base}/{path}" if n == 1 else f"{base}/{path}?page={n}"
        out.files[file] = body
        out.urls.append(url)
        out.shown.update(it.ev.id for it in page)


# --- json-ld -------------------------------------------------------------------------------


def _ld_event(it: Listing, org_id: str) -> dict:
    start, end = _times(it)
    node: dict = {"@type": "EducationEvent" if it.ev.category == "Seminar" else "Event", "@id": it.url + "#event",
                  "name": it.title}
    if start is None:
        node["startDate"] = it.day.isoformat()
        node["endDate"] = it.last_day.isoformat()
    else:
        node["startDate"] = start.isoformat()
        if end:
            node["endDate"] = end.isoformat()
    node["eventStatus"] = "https://schema.org/EventCancelled" if it.cancelled else "https://schema.org/EventScheduled"
    if it.location == "Online":
        node["eventAttendanceMode"] = "https://schema.org/OnlineEventAttendanceMode"
        node["location"] = {"@type": "VirtualLocation", "url": it.url}
    else:
        node["eventAttendanceMode"] = "https://schema.org/OfflineEventAttendanceMode"
        if it.venue:
            v = it.venue
            node["location"] = {"@type": "Place", "name": v[0], "address": {"@type": "PostalAddress", "streetAddress": v[1],
                                                                            "postalCode": v[2], "addressLocality": v[3],
                                                                            "addressCountry": "DE"}}
        else:
            node["location"] = {"@type": "Place", "name": it.location}
    node.update({"url": it.url, "description": f"<p>{html.escape(it.description)}</p>", "organizer": {"@id": org_id}})
    return node


def _jsonld(world: World, index: int, items: list[Listing], out: Rendered) -> None:
    site = world.sites[index]
    base = world.base(site)
    path = f"{site.id}/{source_path(site.kind, site.style)}"
    page_url = f"{base}/{path}"
    org_id = f"{base}/{site.id}/#organization"
    graph = [{"@type": "WebPage", "@id": page_url, "url": page_url, "name": "Veranstaltungen", "inLanguage": "de-DE"},
             {"@type": "Organization", "@id": org_id, "name": site.name, "url": f"{base}/{site.id}/"}]
    graph += [_ld_event(it, org_id) for it in items]
    data = json.dumps({"@context": "https://schema.org", "@graph": graph}, ensure_ascii=False).replace("</", "<\\/")
    listing_html = "\n".join(f'<li><a href="{html.escape(it.url)}">{html.escape(it.title)}</a> – {it.day:%d.%m.%Y}</li>' for it in items)
    body = _page_shell(site.name, f'<h1>Veranstaltungen</h1>\n<ul class="events">\n{listing_html}\n</ul>')
    body = body.replace("</head>", f'<script type="application/ld+json" class="yoast-schema-graph">{data}</script>\n</head>')
    out.files[path + "index.html"] = body.encode("utf-8")
    out.urls.append(page_url)
    out.shown.update(it.ev.id for it in items)


# --- tribe ---------------------------------------------------------------------------------


def _wp_json(data) -> bytes:
    return json.dumps(data, ensure_ascii=True).replace("/", "\\/").encode("ascii")


def _details(d: datetime) -> dict:
    return {"year": f"{d.year}", "month": f"{d.month:02d}", "day": f"{d.day:02d}", "hour": f"{d.hour:02d}",
            "minutes": f"{d.minute:02d}", "seconds": "00"}


def _tribe_event(it: Listing, site, base: str, tid: int) -> dict:
    start, end = _times(it)
    all_day = start is None
    if all_day:
        start = datetime(it.day.year, it.day.month, it.day.day, 0, 0, tzinfo=BERLIN)
        end = datetime(it.last_day.year, it.last_day.month, it.last_day.day, 23, 59, 59, tzinfo=BERLIN)
    elif end is None:
        end = start + timedelta(hours=2)
    ustart, uend = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    fmt = "%Y-%m-%d %H:%M:%S"
    venue: list | dict = []
    if it.location != "Online":
        v = it.venue or (it.location, "", "", it.location.split()[-1])
        venue = {"id": 5000 + zlib.crc32(v[0].encode()) % 1000, "author": "2", "status": "publish", "url": f"{base}/{site.id}/veranstaltungsort/",
                 "venue": v[0], "slug": "ort", "address": v[1], "city": v[3], "country": "Deutschland", "zip": v[2],
                 "show_map": True, "show_map_link": True, "global_id": f"{site.id}.bench.test?id=5000"}
    return {
        "id": tid, "global_id": f"{site.id}.bench.test?id={tid}", "global_id_lineage": [f"{site.id}.bench.test?id={tid}"],
        "author": "3", "status": "publish", "date": "2026-01-12 10:00:00", "date_utc": "2026-01-12 09:00:00",
        "modified": f"2026-02-0{1 + it.ev.version % 9} 10:00:00", "modified_utc": f"2026-02-0{1 + it.ev.version % 9} 09:00:00",
        "url": it.url, "rest_url": f"{base}/{site.id}/wp-json/tribe/events/v1/events/{tid}",
        "title": html.escape(it.title).replace("–", "&#8211;"), "description": f"<p>{html.escape(it.description)}</p>",
        "excerpt": "", "slug": it.url.rstrip("/").rsplit("/", 1)[-1], "image": False, "all_day": all_day,
        "start_date": start.strftime(fmt), "start_date_details": _details(start),
        "end_date": end.strftime(fmt), "end_date_details": _details(end),
        "utc_start_date": ustart.strftime(fmt), "utc_start_date_details": _details(ustart),
        "utc_end_date": uend.strftime(fmt), "utc_end_date_details": _details(uend),
        "timezone": "Europe/Berlin", "timezone_abbr": start.tzname(), "cost": "",
        "cost_details": {"currency_symbol": "", "currency_code": "", "currency_position": "", "values": []},
        "website": "", "show_map": True, "show_map_link": True, "hide_from_listings": False, "sticky": False, "featured": False,
        "categories": [{"name": it.ev.category, "slug": it.ev.category.lower(), "term_group": 0, "taxonomy": "tribe_events_cat",
                        "description": "", "parent": 0, "count": 12, "filter": "raw"}],
        "tags": [], "venue": venue,
        "organizer": [{"id": 1005, "author": "2", "status": "publish", "url": f"{base}/{site.id}/veranstalter/",
                       "organizer": site.name, "slug": "veranstalter", "website": f"{base}/{site.id}/"}],
        "event_status": "canceled" if it.cancelled else "",
        "event_status_reason": "",
    }


def _tribe(world: World, index: int, items: list[Listing], out: Rendered) -> None:
    site = world.sites[index]
    base = world.base(site)
    path = f"{site.id}/{source_path(site.kind, site.style)}"
    api = f"{base}/{path}"
    upcoming = [it for it in items if _upcoming(it)]
    pages = _pages(upcoming)
    for n, page in enumerate(pages, 1):
        data = {"events": [_tribe_event(it, site, base, 1000 + it.ev.id) for it in page],
                "rest_url": f"{api}?page={n}&per_page={PER_PAGE}&start_date=2026-03-01 00:00:00&status=publish",
                "total": len(upcoming), "total_pages": len(pages)}
        if n < len(pages):
            data["next_rest_url"] = f"{api}?page={n + 1}"
        if n > 1:
            data["previous_rest_url"] = f"{api}?page={n - 1}"
        out.files[path + ("index.json" if n == 1 else f"?page={n}")] = _wp_json(data)
        out.urls.append(api if n == 1 else f"{api}?page={n}")
        out.shown.update(it.ev.id for it in page)

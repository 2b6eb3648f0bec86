"""The web page of ``serve`` (``/`` and ``/check``): upcoming events as a list
grouped by day or as a month table, filtered by network, conflicts marked,
a "Termin prüfen" form (``check_date``), and each network's subscribe links.

German by default, English with ``?lang=en``; every fixed string is in
:data:`PAGE_CATALOGUE` (dates through ``exporters.digest.format_when``).
Plain HTML forms with GET: everything works without JavaScript; the page
loads nothing from elsewhere. Titles, places and links come from the
networks' websites and are untrusted: Jinja2 escapes every value and only
``http``/``https`` links are kept.

The page only reads: conflicts are found with ``find_conflicts`` on the
published events, not tracked (``detect`` records a lifecycle, which is the
scheduler's and the digest's business, not a GET's).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from aggregator.config import Config
from aggregator.conflict_report import check_date
from aggregator.conflicts import ConflictRules, Slot, find_conflicts, slots
from aggregator.published_view import PublishedView
from aggregator.store import Store
from exporters.digest import CATALOGUE as DIGEST_CATALOGUE
from exporters.digest import format_when
from exporters.links import safe_url

UPCOMING = timedelta(weeks=8)
LONG = timedelta(days=3650)  # the list shows long events too (conflict rules ignore them)

PAGE_CATALOGUE: dict[str, dict[str, object]] = {
    "de": {
        "title": "Netzwerktimer – Termine der Netzwerke",
        "intro": "Die Veranstaltungen der Netzwerke der Cross-Cluster-Initiative Thüringen in einem Kalender.",
        "other_language": "English",
        "upcoming": "Termine der nächsten 8 Wochen",
        "month": "Monatsansicht",
        "list": "Liste",
        "filter": "Netzwerk filtern",
        "network": "Netzwerk",
        "all_networks": "Alle Netzwerke",
        "show": "Anzeigen",
        "none": "Keine Termine.",
        "conflict_with": "Überschneidung mit",
        "same_day_with": "Am selben Tag wie",
        "place": "Ort",
        "event_page": "Zur Veranstaltung",
        "check": "Termin prüfen",
        "check_intro": "Passt ein neuer Termin? Tag und Uhrzeit wählen und sehen, was sonst ansteht.",
        "date": "Datum",
        "start": "Beginn (optional)",
        "end": "Ende (optional)",
        "own_network": "Ihr Netzwerk (optional)",
        "no_network": "– keines –",
        "submit_check": "Prüfen",
        "check_result": "Ergebnis für {day}",
        "on_day": "An diesem Tag",
        "long_events": "Außerdem, länger als {length} (zählt nicht für Überschneidungen)",
        "days_hours": ("{n} Tag", "{n} Tage", "{n} Stunde", "{n} Stunden"),
        "collisions": "Ein neuer Termin würde kollidieren mit",
        "no_collisions": "Ein neuer Termin kollidiert mit nichts.",
        "context": "Hinweise",
        "free_days": "Freie Tage in der Nähe",
        "no_free_days": "Keine freien Tage in der Nähe gefunden.",
        "subscribe": "Kalender abonnieren",
        "subscribe_intro": "Im Kalenderprogramm abonnieren (webcal) oder die Adresse kopieren (https).",
        "subscribe_all": "Alle Netzwerke",
        "back": "Zurück zur Übersicht",
        "prev_month": "Voriger Monat",
        "next_month": "Nächster Monat",
        "bad_date": "Bitte ein Datum im Format JJJJ-MM-TT angeben.",
        "bad_time": "Bitte Uhrzeiten im Format HH:MM angeben; ein Ende nur mit Beginn, nach dem Beginn.",
        "bad_network": "Unbekanntes Netzwerk.",
        "bad_month": "Bitte einen Monat im Format JJJJ-MM angeben.",
        "whole_day": "ganztägig",
        "weekdays": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
        "weekdays_long": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
        "months": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"),
        "context_prefixes": (),
    },
    "en": {
        "title": "Netzwerktimer – the networks' events",
        "intro": "The events of the networks of the Cross-Cluster-Initiative Thüringen in one calendar.",
        "other_language": "Deutsch",
        "upcoming": "Events in the next 8 weeks",
        "month": "Month view",
        "list": "List",
        "filter": "Filter by network",
        "network": "Network",
        "all_networks": "All networks",
        "show": "Show",
        "none": "No events.",
        "conflict_with": "Overlaps with",
        "same_day_with": "Same day as",
        "place": "Place",
        "event_page": "Event page",
        "check": "Check a date",
        "check_intro": "Does a new event fit? Pick a day and time and see what else is on.",
        "date": "Date",
        "start": "Start (optional)",
        "end": "End (optional)",
        "own_network": "Your network (optional)",
        "no_network": "– none –",
        "submit_check": "Check",
        "check_result": "Result for {day}",
        "on_day": "On this day",
        "long_events": "Also on, longer than {length} (not counted for conflicts)",
        "days_hours": ("{n} day", "{n} days", "{n} hour", "{n} hours"),
        "collisions": "A new event would collide with",
        "no_collisions": "A new event collides with nothing.",
        "context": "Notes",
        "free_days": "Free days nearby",
        "no_free_days": "No free days found nearby.",
        "subscribe": "Subscribe",
        "subscribe_intro": "Subscribe in your calendar app (webcal) or copy the address (https).",
        "subscribe_all": "All networks",
        "back": "Back to the overview",
        "prev_month": "Previous month",
        "next_month": "Next month",
        "bad_date": "Please give a date as YYYY-MM-DD.",
        "bad_time": "Please give times as HH:MM; an end only with a start, after the start.",
        "bad_network": "Unknown network.",
        "bad_month": "Please give a month as YYYY-MM.",
        "whole_day": "all day",
        "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "weekdays_long": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "months": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"),
        # check_date's context lines are German; the English page translates their prefixes.
        "context_prefixes": (("Feiertag in Thüringen:", "Public holiday in Thuringia:"), ("fällt in:", "during:")),
    },
}


def _language(request: Request) -> str:
    lang = (request.query_params.get("lang") or "").lower()[:2]
    return lang if lang in PAGE_CATALOGUE else "de"


@dataclass
class EventView:
    title: str
    when: str
    networks: list[str]
    location: str
    url: str
    all_day: bool
    marks: list[str] = field(default_factory=list)  # "⚠ Überschneidung mit …"


@dataclass
class DayView:
    day: date
    heading: str
    events: list[EventView]


def page_routes(config: Config, store: Store, published_view: PublishedView, clock: Callable[[], datetime]) -> list[Route]:
    """``/`` (list or month view) and ``/check`` (the "Termin prüfen" result)."""
    zone = ZoneInfo(config.settings.timezone)
    rules = config.conflicts.rules()
    wide = ConflictRules(kinds=rules.kinds, ignore_longer_than=LONG, min_overlap=rules.min_overlap, horizon=rules.horizon)
    env = Environment(
        loader=PackageLoader("aggregator", "templates/page"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def label(network: str) -> str:
        n = config.networks.get(network)
        return n.label if n else network

    def networks_list() -> list[dict]:
        return [{"id": k, "label": v.label, "name": v.name} for k, v in sorted(config.networks.items(), key=lambda kv: kv[1].label.casefold())]

    def view(slot: Slot, cat: dict, lang: str, marks: list[str]) -> EventView:
        end = slot.day_end if slot.all_day else (slot.end if slot.end > slot.start else None)
        start = slot.day_start if slot.all_day else slot.start
        return EventView(title=slot.title, when=format_when(start, end, slot.all_day, lang), networks=[label(n) for n in slot.networks],
                         location=slot.location, url=safe_url(slot.url), all_day=slot.all_day, marks=marks)

    def collected(now: datetime, start: datetime, end: datetime, network: str | None, cat: dict) -> list[tuple[Slot, list[str]]]:
        """The slots in [start, end) (of ``network``), each with its conflict marks."""
        published = published_view.items(now)
        limit = config.settings.max_occurrences
        every = slots(published, start, end, zone=zone, rules=wide, limit=limit)
        marks: dict[tuple[str, str], list[str]] = {}
        for c in find_conflicts(slots(published, start, end, zone=zone, rules=rules, limit=limit), rules, zone=zone):
            word = cat["conflict_with"] if c.kind == "overlap" else cat["same_day_with"]
            for me, other in ((c.a, c.b), (c.b, c.a)):
                nets = ", ".join(label(n) for n in other.networks)
                marks.setdefault(me.key, []).append(f"⚠ {word} „{other.title}“ ({nets})" if cat is PAGE_CATALOGUE["de"]
                                                    else f"⚠ {word} “{other.title}” ({nets})")
        return [(s, marks.get(s.key, [])) for s in every if network is None or network in s.networks]

    def common(request: Request, lang: str, network: str | None) -> dict:
        cat = PAGE_CATALOGUE[lang]
        host = request.headers.get("host") or request.url.netloc
        subscribe = [{"label": cat["subscribe_all"], "name": "", "webcal": f"webcal://{host}/calendar.ics", "https": f"https://{host}/calendar.ics"}]
        for n in networks_list():
            path = f"/networks/{n['id']}.ics"
            subscribe.append({"label": n["label"], "name": n["name"], "webcal": f"webcal://{host}{path}", "https": f"https://{host}{path}"})
        other = "en" if lang == "de" else "de"
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        if other != "de":
            params.append(("lang", other))
        return {
            "t": cat,
            "lang": lang,
            "other_lang": other,
            "other_lang_url": request.url.path + ("?" + urlencode(params) if params else ""),
            "networks": networks_list(),
            "network": network or "",
            "subscribe": subscribe,
            "today": clock().astimezone(zone).date().isoformat(),
            "check": {"date": "", "start": "", "end": "", "network": network or ""},
            "q": lambda **kw: _query(lang, **kw),
        }

    def render(name: str, ctx: dict, status: int = 200) -> Response:
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status,
                            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'",
                                     "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})

    def index(request: Request) -> Response:
        lang = _language(request)
        cat = PAGE_CATALOGUE[lang]
        q = request.query_params
        network = q.get("network") or None
        errors = []
        if network is not None and network not in config.networks:
            errors.append(cat["bad_network"])
            network = None
        ctx = common(request, lang, network)
        now = clock()
        today = now.astimezone(zone).date()
        if q.get("view") == "month":
            try:
                year, month = (int(p) for p in q.get("month", f"{today:%Y-%m}").split("-"))
                first = date(year, month, 1)
            except ValueError:
                errors.append(cat["bad_month"])
                first = today.replace(day=1)
            after = (first + timedelta(days=32)).replace(day=1)
            start, end = datetime.combine(first, time(0), zone), datetime.combine(after, time(0), zone)
            by_day: dict[date, list[EventView]] = {}
            for s, marks in collected(now, start, end, network, cat):
                d, last = max(s.day_start, first), min(max(s.day_end, s.day_start + timedelta(days=1)), after)
                while d < last:
                    by_day.setdefault(d, []).append(view(s, cat, lang, marks))
                    d += timedelta(days=1)
            weeks = [[{"day": d, "in_month": d.month == first.month, "today": d == today, "events": by_day.get(d, [])} for d in week]
                     for week in calendar.Calendar(0).monthdatescalendar(first.year, first.month)]
            prev = (first - timedelta(days=1)).replace(day=1)
            ctx.update(view="month", weeks=weeks, month_title=f"{cat['months'][first.month - 1]} {first.year}",
                       prev_month=f"{prev:%Y-%m}", next_month=f"{after:%Y-%m}", month=f"{first:%Y-%m}", errors=errors)
            return render("index.html.j2", ctx, 400 if errors else 200)
        start, end = now, now + UPCOMING
        days: dict[date, list[EventView]] = {}
        for s, marks in collected(now, start, end, network, cat):
            days.setdefault(max(s.day_start, today), []).append(view(s, cat, lang, marks))
        ctx.update(view="list", days=[DayView(d, _day_heading(d, cat), evs) for d, evs in sorted(days.items())],
                   month=f"{today:%Y-%m}", errors=errors)
        return render("index.html.j2", ctx, 400 if errors else 200)

    def check(request: Request) -> Response:
        lang = _language(request)
        cat = PAGE_CATALOGUE[lang]
        q = request.query_params
        form = {k: (q.get(k) or "").strip() for k in ("date", "start", "end", "network")}
        ctx = common(request, lang, None)
        ctx["check"] = form
        errors = []
        try:
            day = date.fromisoformat(form["date"])
        except ValueError:
            day = None
            errors.append(cat["bad_date"])
        try:
            start = time.fromisoformat(form["start"]) if form["start"] else None
            end = time.fromisoformat(form["end"]) if form["end"] else None
            if end is not None and (start is None or end <= start):
                raise ValueError
        except ValueError:
            errors.append(cat["bad_time"])
        if form["network"] and form["network"] not in config.networks:
            errors.append(cat["bad_network"])
        ctx.update(errors=errors, result=None)
        if errors:
            return render("check.html.j2", ctx, 400)
        at = clock()
        result = check_date(config, store, day, at, start=start, end=end, network=form["network"] or None, published=published_view.items(at))
        context = list(result.context)
        for de, en in cat["context_prefixes"]:
            context = [en + line[len(de):] if line.startswith(de) else line for line in context]
        kinds = DIGEST_CATALOGUE[lang]["kind"]
        ctx["result"] = {
            "heading": cat["check_result"].format(day=_day_heading(day, cat)),
            "events": [view(s, cat, lang, []) for s in result.events],
            "long_events": [view(s, cat, lang, []) for s in result.long_events],
            "long_heading": cat["long_events"].format(length=_length(config.conflicts.ignore_longer_than, cat)),
            "collisions": [{"kind": kinds.get(kind, kind), "event": view(s, cat, lang, [])} for kind, s in result.collisions],
            "context": context,
            "free_days": [{"label": _day_heading(d, cat), "url": "/check?" + urlencode(
                [("date", d.isoformat())] + [(k, form[k]) for k in ("start", "end", "network") if form[k]] + ([("lang", lang)] if lang != "de" else []))}
                for d in result.free_days],
        }
        return render("check.html.j2", ctx)

    return [Route("/", index, methods=["GET", "HEAD"]), Route("/check", check, methods=["GET", "HEAD"])]


def _length(span: timedelta, cat: dict) -> str:
    """``span`` in whole days where it is some, else in hours: "3 Tage", "36 Stunden"."""
    day, days, hour, hours = cat["days_hours"]
    if span.seconds == 0:
        return (day if span.days == 1 else days).format(n=span.days)
    n = round(span.total_seconds() / 3600)
    return (hour if n == 1 else hours).format(n=n)


def _day_heading(day: date, cat: dict) -> str:
    if cat is PAGE_CATALOGUE["en"]:
        return f"{cat['weekdays_long'][day.weekday()]}, {day.day} {cat['months'][day.month - 1]} {day.year}"
    return f"{cat['weekdays_long'][day.weekday()]}, {day.day}. {cat['months'][day.month - 1]} {day.year}"


def _query(lang: str, **params) -> str:
    """``?a=b&lang=en`` for links within the page (empty values left out)."""
    items = [(k, v) for k, v in params.items() if v]
    if lang != "de":
        items.append(("lang", lang))
    return "?" + urlencode(items) if items else "?"

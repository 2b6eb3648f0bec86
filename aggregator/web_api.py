"""The JSON API and the Atom feed of ``serve``: ``/events.json``, ``/conflicts.json``,
``/openapi.json`` (the hand-written OpenAPI 3.1 description of both) and ``/feed.atom``
(newly announced events).

``api_routes(config, deployment, store, clock)`` returns the routes; ``create_app``
mounts them. Every bad query value (unknown parameter, network or kind, a malformed
date, limit/offset out of range) is a 400 with a JSON body of the ``Error`` schema.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlencode
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.config import Config
from aggregator.conflict_report import as_json, conflict_context, context_periods, detect
from aggregator.conflicts import KINDS
from aggregator.published_view import PublishedView
from aggregator.model import StoredEvent
from aggregator.recurrence import occurrences
from aggregator.store import Store
from exporters.ics import public_uid
from exporters.links import safe_url

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FEED_SIZE = 50
ATOM_TYPE = "application/atom+xml; charset=utf-8"
ATOM_NS = "http://www.w3.org/2005/Atom"
UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:netzwerktimer:event")

EVENT_PARAMS = ("network", "from", "to", "cancelled", "limit", "offset")
CONFLICT_PARAMS = ("network", "from", "to", "kind", "limit", "offset")
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class BadRequest(ValueError):
    def __init__(self, parameter: str | None, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def api_routes(config: Config, store: Store, view: PublishedView, clock: Callable[[], datetime] | None = None) -> list[Route]:
    """The routes of the JSON API and the Atom feed; ``clock`` (default: now, UTC) is "now". Nothing is written."""
    now = clock or (lambda: datetime.now(timezone.utc))
    zone = ZoneInfo(config.settings.timezone)

    async def events(request: Request) -> Response:
        try:
            q = _Query(request, EVENT_PARAMS, config)
            networks = q.networks()
            start, end = q.window(zone)
            cancelled = q.flag("cancelled", default=True)
            limit, offset = q.paging()
        except BadRequest as exc:
            return _error(exc)
        at = now()
        lo = start or at - config.settings.retention
        hi = end or at + config.settings.horizon
        listed = [(i, r) for i, r in occurrence_items(view.items(at), lo, hi, zone, config.settings.max_occurrences)
                  if _keep(i, networks, start, end, cancelled, zone)]
        listed.sort(key=lambda p: (_instant(p[0].event.start, zone), p[0].uid or "", p[0].event.recurrence_id))
        page = [event_json(i, recurring=r) for i, r in listed[offset:offset + limit]]
        return JSONResponse(_page("events", page, len(listed), limit, offset, request))

    async def conflicts(request: Request) -> Response:
        try:
            q = _Query(request, CONFLICT_PARAMS, config)
            networks = q.networks()
            start, end = q.window(zone)
            kind = q.one("kind")
            if kind is not None and kind not in KINDS:
                raise BadRequest("kind", f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
            limit, offset = q.paging()
        except BadRequest as exc:
            return _error(exc)
        at = now()
        detected = detect(config, store, at, start, end, published=view.items(at), record=False)
        found = [t for t in detected if (not networks or set(networks) & (set(t.a.get("networks", [])) | set(t.b.get("networks", []))))
                 and (kind is None or t.kind == kind)]
        found.sort(key=lambda t: (t.starts_at, t.id))
        periods = context_periods(config, store)
        rows = [as_json(t, at, more=detected.more, context=conflict_context(t, periods, zone)) for t in found[offset:offset + limit]]
        return JSONResponse(_page("conflicts", rows, len(found), limit, offset, request))

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(config))

    async def feed(request: Request) -> Response:
        data = atom_feed(config, view.items(now()), str(request.url), str(request.url.replace(path="/", query="")), zone)
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        inm = request.headers.get("if-none-match")
        headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
        if inm is not None and (etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*"):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=ATOM_TYPE, headers=headers)

    return [
        Route("/events.json", events, methods=["GET", "HEAD"]),
        Route("/conflicts.json", conflicts, methods=["GET", "HEAD"]),
        Route("/openapi.json", openapi, methods=["GET", "HEAD"]),
        Route("/feed.atom", feed, methods=["GET", "HEAD"]),
    ]


# -- query parameters ---------------------------------------------------------------------------

class _Query:
    def __init__(self, request: Request, allowed: tuple[str, ...], config: Config):
        self.params = request.query_params
        self.config = config
        unknown = sorted({k for k in self.params.keys() if k not in allowed})
        if unknown:
            raise BadRequest(unknown[0], f"unknown query parameter(s): {', '.join(unknown)}; allowed: {', '.join(allowed)}")

    def one(self, name: str) -> str | None:
        values = self.params.getlist(name)
        if len(values) > 1:
            raise BadRequest(name, f"{name} given {len(values)} times; give it once")
        return values[0].strip() if values else None

    def networks(self) -> tuple[str, ...]:
        # network=a,b and network=a&network=b both mean "any of a, b"
        raw = ",".join(self.params.getlist("network"))
        networks = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        unknown = [n for n in networks if n not in self.config.networks]
        if unknown:
            raise BadRequest("network", f"unknown network(s): {', '.join(unknown)}; known: {', '.join(sorted(self.config.networks))}")
        return networks

    def day(self, name: str) -> date | None:
        value = self.one(name)
        if value is None or value == "":
            return None
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise BadRequest(name, f"{name} must be a date YYYY-MM-DD, not {value!r}")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadRequest(name, f"{name} is not a valid date: {value!r}") from None

    def window(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[from 00:00, the day after to 00:00) in the configured zone; None where not given."""
        first, last = self.day("from"), self.day("to")
        if first and last and last < first:
            raise BadRequest("to", f"to ({last}) lies before from ({first})")
        start = datetime.combine(first, time(0), zone) if first else None
        end = datetime.combine(last + timedelta(days=1), time(0), zone) if last else None
        return start, end

    def flag(self, name: str, default: bool) -> bool:
        value = self.one(name)
        if value is None or value == "":
            return default
        if value.lower() not in ("0", "1", "true", "false"):
            raise BadRequest(name, f"{name} must be 0 or 1, not {value!r}")
        return value.lower() in ("1", "true")

    def integer(self, name: str, default: int, lo: int, hi: int | None) -> int:
        value = self.one(name)
        if value is None or value == "":
            return default
        if not re.fullmatch(r"\d+", value):
            raise BadRequest(name, f"{name} must be a whole number, not {value!r}")
        n = int(value)
        if n < lo or (hi is not None and n > hi):
            raise BadRequest(name, f"{name} must be between {lo} and {hi}, not {n}" if hi is not None else f"{name} must be at least {lo}, not {n}")
        return n

    def paging(self) -> tuple[int, int]:
        return self.integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT), self.integer("offset", 0, 0, None)


def _error(exc: BadRequest) -> JSONResponse:
    return JSONResponse({"error": {"status": 400, "parameter": exc.parameter, "message": exc.message}}, status_code=400)


def _page(key: str, rows: list, total: int, limit: int, offset: int, request: Request) -> dict:
    nxt = None
    if offset + limit < total:
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")]
        params += [("limit", str(limit)), ("offset", str(offset + limit))]
        nxt = request.url.path + "?" + urlencode(params)
    return {key: rows, "total": total, "limit": limit, "offset": offset, "next": nxt}


# -- events -------------------------------------------------------------------------------------

def _instant(value, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return datetime.combine(value, time(0), zone)


def occurrence_items(items: list[StoredEvent], lo: datetime, hi: datetime, zone: ZoneInfo,
                     limit: int) -> list[tuple[StoredEvent, bool]]:
    """The published events as ``/events.json`` lists them, each with whether it belongs to a
    series: a single event as it is; a series as its occurrences that overlap ``[lo, hi)`` (at
    most ``limit``), each with its own start and end, the series' uid and its recurrence id
    (the fields and SEQUENCE of the source's override where one replaced the date). Overrides
    of a series that is not published are listed as they are."""
    series = {event_uid(i): i for i in items if not i.event.recurrence_id and (i.event.rrule or i.event.rdates)}
    overrides: dict[str, list[StoredEvent]] = {}
    out: list[tuple[StoredEvent, bool]] = []
    for item in items:
        uid = event_uid(item)
        if uid in series:  # the series or one of its overrides: expanded below
            if item.event.recurrence_id:
                overrides.setdefault(uid, []).append(item)
            continue
        out.append((item, bool(item.event.recurrence_id)))
    for uid, master in series.items():
        own = {o.event.recurrence_id: o for o in overrides.get(uid, [])}
        found = occurrences(master.event, [o.event for o in own.values()], lo, hi, limit=limit, zone=zone)
        for occ in found:
            stored = own.get(occ.event.recurrence_id, master) if occ.event.recurrence_id else master
            end = occ.end if occ.event.end is not None else None
            event = replace(occ.event, start=occ.start, end=end, recurrence_id=occ.recurrence_id, rrule=None, rdates=(), exdates=())
            out.append((replace(stored, event=event, uid=uid), True))
    return out


def _keep(item: StoredEvent, networks: tuple[str, ...], start: datetime | None, end: datetime | None, cancelled: bool, zone: ZoneInfo) -> bool:
    """Does this listed event (a single event or one occurrence) pass the filters?"""
    ev = item.event
    if networks and not set(item.networks or (ev.network_id,)) & set(networks):
        return False
    if not cancelled and ev.status.lower() == "cancelled":
        return False
    if start is None and end is None:
        return True
    lo = start or datetime(1900, 1, 1, tzinfo=timezone.utc)
    hi = end or datetime(2200, 1, 1, tzinfo=timezone.utc)
    first = _instant(ev.start, zone)
    after = _instant(ev.end, zone) if ev.end is not None else first
    if after <= first:  # a moment counts where it happens
        return lo <= first < hi
    return first < hi and after > lo


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat()


def _utc_iso(value: datetime) -> str:
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.isoformat().replace("+00:00", "Z")


def event_uid(item: StoredEvent) -> str:
    return item.uid or public_uid(item.event.source_id, item.event.source_uid)


def event_json(item: StoredEvent, *, recurring: bool | None = None) -> dict:
    """One published event or occurrence as ``/events.json`` lists it (schema ``Event``);
    ``recurring`` says it is an occurrence of a series (default: the event has a rule)."""
    ev = item.event
    return {
        "uid": event_uid(item),
        "recurrence_id": ev.recurrence_id or None,
        "title": ev.title,
        "start": _iso(ev.start),
        "end": _iso(ev.end),
        "all_day": ev.all_day,
        "networks": list(item.networks or (ev.network_id,)),
        "location": ev.location,
        "url": safe_url(ev.url),
        "status": ev.status.lower(),
        "categories": list(ev.categories),
        "recurring": bool(ev.rrule or ev.rdates) if recurring is None else recurring,
        "sequence": item.sequence,
        "last_modified": _utc_iso(item.last_modified),
    }


# -- Atom ---------------------------------------------------------------------------------------

def _text(value: str) -> str:
    return _XML_INVALID.sub("", value or "")


def _german_date(value, zone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        local = value.astimezone(zone) if value.tzinfo is not None else value
        return f"{local:%d.%m.%Y, %H:%M} Uhr"
    return f"{value:%d.%m.%Y}"


def atom_feed(config: Config, items: list[StoredEvent], self_url: str, site_url: str, zone: ZoneInfo) -> bytes:
    """The ``FEED_SIZE`` most recently first-seen published events (not cancelled, no
    single-occurrence overrides), newest first, as Atom."""
    fresh = [i for i in items if not i.event.recurrence_id and i.event.status.lower() != "cancelled"]
    fresh.sort(key=lambda i: (i.first_seen, event_uid(i)), reverse=True)
    fresh = fresh[:FEED_SIZE]
    name = config.settings.calendar_name
    ET.register_namespace("", ATOM_NS)

    def el(parent, tag: str, text: str | None = None, **attrs) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: v for k, v in attrs.items()})
        if text is not None:
            node.text = _text(text)
        return node

    root = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "de"})
    el(root, "id", "urn:uuid:" + str(uuid.uuid5(UID_NAMESPACE, "feed:" + name)))
    el(root, "title", f"{name} – neue Termine")
    el(root, "subtitle", "Neu angekündigte Termine der Netzwerke")
    newest = max((i.last_modified for i in fresh), default=datetime(2000, 1, 1, tzinfo=timezone.utc))
    el(root, "updated", _utc_iso(newest))
    el(root, "link", rel="self", type="application/atom+xml", href=self_url)
    el(root, "link", rel="alternate", type="text/html", href=site_url)
    author = el(root, "author")
    el(author, "name", name)
    el(root, "generator", "Netzwerktimer")
    for item in fresh:
        ev = item.event
        url = safe_url(ev.url)
        entry = el(root, "entry")
        el(entry, "id", "urn:uuid:" + str(uuid.uuid5(UID_NAMESPACE, event_uid(item))))
        el(entry, "title", f"Neu: {ev.title or '(ohne Titel)'} ({_german_date(ev.start, zone)})")
        el(entry, "updated", _utc_iso(item.last_modified))
        el(entry, "published", _utc_iso(item.first_seen))
        if url:
            el(entry, "link", rel="alternate", type="text/html", href=url)
        labels = [config.networks[n].label if n in config.networks else n for n in (item.networks or (ev.network_id,))]
        lines = [f"Wann: {_german_date(ev.start, zone)}" + (" (ganztägig)" if ev.all_day else "")]
        if labels:
            lines.append(("Netzwerke: " if len(labels) > 1 else "Netzwerk: ") + ", ".join(labels))
        if ev.location:
            lines.append(f"Ort: {ev.location}")
        if url:
            lines.append(f"Link: {url}")
        if ev.description:
            lines.append("")
            lines.append(ev.description)
        el(entry, "content", "\n".join(lines), type="text")
        for n in item.networks or (ev.network_id,):
            el(entry, "category", term=n, label=config.networks[n].label if n in config.networks else n)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


# -- OpenAPI ------------------------------------------------------------------------------------

_DATE = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def _param(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def openapi_document(config: Config) -> dict:
    """The OpenAPI 3.1 description of the JSON API and the Atom feed (schemas are JSON Schema 2020-12)."""
    networks = sorted(config.networks)
    network = _param("network", "Only items of any of these networks (comma-separated ids; may be repeated).",
                     {"type": "string", "examples": [",".join(networks[:2])] if networks else []})
    date_from = _param("from", f"First day (YYYY-MM-DD, {config.settings.timezone}); items overlapping it or later.",
                       {"type": "string", "format": "date", "pattern": _DATE})
    date_to = _param("to", "Last day (YYYY-MM-DD), inclusive.", {"type": "string", "format": "date", "pattern": _DATE})
    limit = _param("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT})
    offset = _param("offset", "Items to skip.", {"type": "integer", "minimum": 0, "default": 0})
    bad = {"description": "A bad query value (unknown parameter, network or kind, malformed date, limit/offset out of range).",
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    when = {"oneOf": [{"type": "string", "format": "date", "pattern": _DATE}, {"type": "string", "format": "date-time", "pattern": _DATETIME}]}
    moment = {"type": "string", "format": "date-time", "pattern": _DATETIME}
    page_props = {
        "total": {"type": "integer", "minimum": 0, "description": "Items matching the filters, over all pages."},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        "offset": {"type": "integer", "minimum": 0},
        "next": {"type": ["string", "null"], "format": "uri-reference",
                 "description": "The next page (same filters), relative to this server; null on the last page."},
    }
    schemas = {
        "Event": {
            "type": "object",
            "description": "One published (merged) event. All-day events have dates, with an exclusive end as in iCalendar.",
            "additionalProperties": False,
            "required": ["uid", "recurrence_id", "title", "start", "end", "all_day", "networks", "location", "url", "status",
                         "categories", "recurring", "sequence", "last_modified"],
            "properties": {
                "uid": {"type": "string", "minLength": 1, "description": "The UID subscribers see in the calendar feeds."},
                "recurrence_id": {"type": ["string", "null"],
                                  "description": "For an occurrence of a series: its original start (the RECURRENCE-ID in the calendar feeds); "
                                                 "uid is the series'. Null for a single event."},
                "title": {"type": "string"},
                "start": when,
                "end": {"oneOf": [*when["oneOf"], {"type": "null"}]},
                "all_day": {"type": "boolean"},
                "networks": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "location": {"type": "string"},
                "url": {"type": "string"},
                "status": {"type": "string", "enum": ["confirmed", "tentative", "cancelled"]},
                "categories": {"type": "array", "items": {"type": "string"}},
                "recurring": {"type": "boolean", "description": "One occurrence of a series (RRULE/RDATE); start/end are this occurrence's."},
                "sequence": {"type": "integer", "minimum": 0},
                "last_modified": moment,
            },
            "if": {"properties": {"all_day": {"const": True}}},
            "then": {"properties": {"start": {"type": "string", "pattern": _DATE}, "end": {"type": ["string", "null"], "pattern": _DATE}}},
            "else": {"properties": {"start": {"type": "string", "pattern": _DATETIME}, "end": {"type": ["string", "null"], "pattern": _DATETIME}}},
        },
        "EventPage": {
            "type": "object",
            "additionalProperties": False,
            "required": ["events", "total", "limit", "offset", "next"],
            "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}, **page_props},
        },
        "ConflictSide": {
            "type": "object",
            "additionalProperties": False,
            "required": ["uid", "title", "start", "end", "networks", "location", "url"],
            "properties": {
                "uid": {"type": "string"},
                "title": {"type": "string"},
                "start": moment,
                "end": moment,
                "networks": {"type": "array", "items": {"type": "string"}},
                "location": {"type": "string"},
                "url": {"type": "string"},
                "more": {"type": "integer", "minimum": 1,
                         "description": "How many more conflicts this event has than are listed ([conflicts] max_per_event); absent when none."},
            },
        },
        "Conflict": {
            "type": "object",
            "description": "Two events of different networks that collide; the rows of `netzwerktimer conflicts --json`.",
            "additionalProperties": False,
            "required": ["id", "kind", "score", "status", "first_seen", "acknowledged", "events", "context"],
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "kind": {"type": "string", "enum": list(KINDS)},
                "score": {"type": "number", "minimum": 0},
                "status": {"type": "string", "enum": ["new", "changed", "ongoing", "resolved", "acknowledged"]},
                "first_seen": {"type": "string", "format": "date-time", "pattern": _DATETIME},
                "acknowledged": {"type": ["string", "null"], "description": "The acknowledgement note, if acknowledged."},
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/ConflictSide"}, "minItems": 2, "maxItems": 2},
                "context": {"type": "array", "items": {"type": "string"},
                            "description": "Public holidays and context calendar entries on the day the conflict starts."},
            },
        },
        "ConflictPage": {
            "type": "object",
            "additionalProperties": False,
            "required": ["conflicts", "total", "limit", "offset", "next"],
            "properties": {"conflicts": {"type": "array", "items": {"$ref": "#/components/schemas/Conflict"}}, **page_props},
        },
        "Error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["status", "parameter", "message"],
                    "properties": {
                        "status": {"type": "integer", "const": 400},
                        "parameter": {"type": ["string", "null"], "description": "The query parameter at fault."},
                        "message": {"type": "string", "minLength": 1},
                    },
                },
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Netzwerktimer API",
            "version": "1",
            "description": "The published events and the conflicts between networks' events, as JSON; new events as Atom.",
        },
        "paths": {
            "/events.json": {
                "get": {
                    "operationId": "listEvents",
                    "summary": "Published events, ordered by start; a series as its occurrences",
                    "description": "Each series is expanded into its occurrences that overlap from/to (without them: from the "
                                   "retention period before now to the horizon after it), at most max_occurrences per series; "
                                   "filters and pagination apply to the occurrences.",
                    "parameters": [network, date_from, date_to,
                                   _param("cancelled", "Include cancelled events (1, default) or leave them out (0).",
                                          {"type": "string", "enum": ["0", "1"], "default": "1"}),
                                   limit, offset],
                    "responses": {
                        "200": {"description": "One page of events.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventPage"}}}},
                        "400": bad,
                    },
                },
            },
            "/conflicts.json": {
                "get": {
                    "operationId": "listConflicts",
                    "summary": "Conflicts between events of different networks (default window: now to the conflicts horizon)",
                    "parameters": [network, date_from, date_to, _param("kind", "Only this kind.", {"type": "string", "enum": list(KINDS)}), limit, offset],
                    "responses": {
                        "200": {"description": "One page of conflicts.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConflictPage"}}}},
                        "400": bad,
                    },
                },
            },
            "/feed.atom": {
                "get": {
                    "operationId": "newEventsFeed",
                    "summary": f"Atom feed of the {FEED_SIZE} most recently announced events, newest first",
                    "responses": {"200": {"description": "An Atom 1.0 feed (German titles).",
                                          "content": {"application/atom+xml": {"schema": {"type": "string"}}}}},
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}},
                },
            },
        },
        "components": {"schemas": schemas},
    }

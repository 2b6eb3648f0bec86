"""Events a web page states in structured markup → raw events.

Three syntaxes, read in this order and merged:

1. JSON-LD (``<script type="application/ld+json">``, via extruct's rules: JS and
   HTML comments and raw control characters are tolerated); ``@graph``, arrays
   and ``@type`` lists are followed, ``{"@id": …}`` references are resolved
   against the page's nodes. A block that cannot be read is a warning; the
   other blocks are still used. A body that is itself JSON(-LD) is read too.
2. schema.org microdata (``itemscope``/``itemprop``, via extruct).
3. h-event microformats, including classic hCalendar ``vevent`` (via mf2py).

Every node whose type is schema.org's ``Event`` or one of its subtypes
(``EVENT_TYPES``) becomes an event, wherever it sits: top level, inside an
``ItemList``, a ``WebPage``'s ``mainEntity``, an organisation's ``event`` or
another event's ``subEvent``/``superEvent`` (those become events of their own).
The same event stated twice (JSON-LD and microdata on one page) is one event:
same title and day; the more precise start wins and missing fields are filled.

Dates: an ISO date or date-time. With an offset it is aware (an offset equal to
the source zone's at that instant becomes that zone, ``+00:00``/``Z`` UTC);
without one it is floating (naive); a date alone is all-day with an exclusive
end (schema.org's and h-event's ``endDate`` name the last day, classic
hCalendar's ``dtend`` the day after, as iCalendar does). A start at 00:00:00 and
an end at 23:59:59 in the source's zone are whole days too: The Events Calendar
states all-day events so, in UTC. A missing end may come from ``duration`` (ISO
8601, e.g. ``PT2H``).

``eventStatus``: EventCancelled → cancelled, EventPostponed → tentative,
EventRescheduled → confirmed (with a warning: the dates are the new ones),
EventScheduled/EventMovedOnline → confirmed. ``eventAttendanceMode``
OnlineEventAttendanceMode without a place gives the location "online";
MixedEventAttendanceMode keeps both: the place, then the online link (or just
"online"), e.g. "Studio Weimar; online: https://…".

``events_in_page`` is ``extract`` under the name the HTML extractor's detail
pages use; ``enrich`` fills a list-page event's gaps from its detail page.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import warnings as _warnings
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from difflib import SequenceMatcher

from aggregator.extract import ExtractContext, ExtractError, Extraction, guarded
from aggregator.extract.markup import refuse_huge_html
from aggregator.urls import join
from aggregator.model import RawEvent

# At most this many events per page; the rest is dropped with a warning.
MAX_EVENTS = 1000
# Single problems are named one by one up to this many, then counted.
MAX_ITEM_WARNINGS = 20
# Bounds on hostile input: nesting followed inside JSON-LD/microdata values,
# nodes visited per page, size of one h-event's markup handed to mf2py.
MAX_DEPTH = 40
MAX_NODES = 200_000
MAX_HEVENT_CHARS = 200_000
MAX_HEVENTS = 2 * MAX_EVENTS

SCHEMA_PREFIXES = ("http://schema.org/", "https://schema.org/", "http://www.schema.org/", "https://www.schema.org/", "schema:", "sdo:")

# schema.org's Event and its subtypes (https://schema.org/Event, "More specific Types").
EVENT_TYPES = frozenset(
    {
        "Event",
        "BusinessEvent",
        "ChildrensEvent",
        "ComedyEvent",
        "CourseInstance",
        "DanceEvent",
        "DeliveryEvent",
        "EducationEvent",
        "EventSeries",
        "ExhibitionEvent",
        "Festival",
        "FoodEvent",
        "Hackathon",
        "LiteraryEvent",
        "MusicEvent",
        "PublicationEvent",
        "BroadcastEvent",
        "OnDemandEvent",
        "SaleEvent",
        "ScreeningEvent",
        "SocialEvent",
        "SportsEvent",
        "TheaterEvent",
        "VisualArtsEvent",
    }
)

_STATUS = {
    "eventcancelled": "cancelled",
    "eventpostponed": "tentative",
    "eventrescheduled": "confirmed",
    "eventscheduled": "confirmed",
    "eventmovedonline": "confirmed",
    # hCalendar / iCalendar STATUS values
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "tentative": "tentative",
    "confirmed": "confirmed",
}

_DT_RE = re.compile(
    r"""^(?P<y>\d{4})(?:-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})|(?P<m2>\d{2})(?P<d2>\d{2}))
        (?:(?:T|\s+|T\s*)(?P<H>\d{1,2})(?::?(?P<M>\d{2})(?::?(?P<S>\d{2})(?:[.,]\d+)?)?)?
           \s*(?P<tz>Z|[+-]\d{1,2}(?::?\d{2})?)?)?$""",
    re.VERBOSE | re.IGNORECASE,
)
_ORDINAL_RE = re.compile(r"^(\d{4})-?(\d{3})$")
_DURATION_RE = re.compile(r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)(?:\.\d+)?S)?)?$", re.I)
_MARKUP_RE = re.compile(rb"<\s*(?:[a-zA-Z][\w:.-]*|!--|!doctype|\?xml)", re.I)
_HEVENT_CLASS_RE = re.compile(r"(?:^|\s)(?:h-event|vevent)(?:\s|$)")


@guarded("jsonld")
def extract(body: bytes, ctx: ExtractContext) -> Extraction:
    """Events of one page; raise ExtractError (only) when the body is not HTML/XML (or JSON-LD)."""
    return _extract(body, ctx)


events_in_page = extract


# --------------------------------------------------------------------------- page level


@dataclass
class _Found:
    """One event as found, before duplicates are merged."""

    event: RawEvent | None  # None: no readable start
    syntax: str
    title: str
    has_id: bool = False
    problems: list[str] = field(default_factory=list)


class _Page:
    def __init__(self, ctx: ExtractContext, base: str):
        self.ctx = ctx
        self.base = base
        self.out = Extraction()
        self.found: list[_Found] = []
        self.ids: dict[str, dict] = {}
        self.nodes = 0
        self.capped = False
        self.problems: list[str] = []
        self.unknown_status: set[str] = set()
        self.parents: dict[int, str] = {}  # id() of a subEvent node → its parent's title (a category)

    def warn_item(self, text: str) -> None:
        self.problems.append(text)


def _extract(body: bytes, ctx: ExtractContext) -> Extraction:
    if not body or not body.strip():
        raise ExtractError("not an HTML page: empty body")
    text = _decode(body)
    head = text.lstrip("\ufeff \t\r\n")
    page = _Page(ctx, ctx.url or "")
    if head[:1] in "[{" and not _MARKUP_RE.search(body[:4096]):
        _read_json_body(head, page)
    else:
        if b"\x00" in body[:8192] or not _MARKUP_RE.search(body[:65536] if len(body) > 65536 else body):
            raise ExtractError(f"not an HTML/XML page: {_describe(body)}")
        refuse_huge_html(body, ctx.max_html_nodes)
        tree = _parse_tree(text)
        page.base = _base_url(tree, ctx.url or "")
        _read_jsonld(tree, page)
        _read_microdata(tree, page)
        _read_microformats(tree, page)
    return _finish(page)


def _decode(body: bytes) -> str:
    from aggregator.extract.charset import decode_markup

    return decode_markup(body)


def _describe(body: bytes) -> str:
    if b"\x00" in body[:8192]:
        return "binary data"
    if body.lstrip().startswith(b"%PDF"):
        return "a PDF document"
    if body.lstrip().upper().startswith(b"BEGIN:VCALENDAR"):
        return "an iCalendar file (use kind 'ics')"
    return "no markup found"


def _parse_tree(text: str):
    import lxml.etree
    import lxml.html

    # Re-encoded as UTF-8 with the parser told so: lxml refuses str input that
    # carries an XML encoding declaration, and libxml2 then guesses nothing.
    # An HTML parser expands no entities a page declares and loads no DTD; no_network
    # (lxml's default, spelt out) keeps it so (tests/test_hostile_input.py).
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=False, no_network=True)
    data = text.encode("utf-8", "replace")
    try:
        tree = lxml.html.fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ExtractError(f"not an HTML/XML page: {exc}") from exc
    return tree


def _base_url(tree, url: str) -> str:
    for el in tree.iter("base"):
        href = (el.get("href") or "").strip()
        if href:
            return join(url, href) or url
        break
    return url


def _read_json_body(text: str, page: _Page) -> None:
    try:
        data = json.loads(text, strict=False)
    except RecursionError as exc:
        raise ExtractError("not readable as JSON-LD: nested too deeply") from exc
    except ValueError as exc:
        raise ExtractError(f"not an HTML page, and not JSON-LD either: {exc}") from exc
    if not isinstance(data, dict | list):
        raise ExtractError("not an HTML page, and the JSON body holds no JSON-LD object")
    _walk_jsonld([data], page)


# --------------------------------------------------------------------------- JSON-LD


def _jsonld_blocks(tree):
    for el in tree.iter("script"):
        kind = (el.get("type") or "").strip().lower()
        if kind.split(";", 1)[0].strip() == "application/ld+json":
            yield el


def _parse_block(script: str):
    """One JSON-LD block as extruct reads it: plain JSON, else with JS/HTML comments removed."""
    import jstyleson
    from extruct.jsonld import HTML_OR_JS_COMMENTLINE

    try:
        return json.loads(script, strict=False)
    except ValueError:
        return jstyleson.loads(HTML_OR_JS_COMMENTLINE.sub("", script), strict=False)


def _read_jsonld(tree, page: _Page) -> None:
    items: list = []
    for n, el in enumerate(_jsonld_blocks(tree), 1):
        script = el.xpath("string()")
        if not script.strip():
            continue
        try:
            data = _parse_block(script)
        except RecursionError:
            page.out.warnings.append(f"JSON-LD block {n}: nested too deeply; ignored")
            continue
        except Exception as exc:  # a broken block costs only itself
            reason = str(exc).strip() or type(exc).__name__
            page.out.warnings.append(f"JSON-LD block {n} is not valid JSON ({_short(reason, 120)}); ignored, the other blocks are used")
            continue
        if isinstance(data, dict | list):
            items.append(data)
    _walk_jsonld(items, page)


def _walk_jsonld(items: list, page: _Page) -> None:
    # Index every node with an @id first, so that references resolve whatever their order.
    stack: list[tuple[object, int]] = [(item, 0) for item in items]
    seen = 0
    while stack and seen < MAX_NODES:
        value, depth = stack.pop()
        seen += 1
        if isinstance(value, dict):
            node_id = value.get("@id")
            if isinstance(node_id, str) and len(value) > 1 and node_id not in page.ids:
                page.ids[node_id] = value
            if depth < MAX_DEPTH:
                stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list) and depth < MAX_DEPTH:
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))
    for item in items:
        _collect(item, page, "JSON-LD", 0, set())


def _collect(value, page: _Page, syntax: str, depth: int, on_path: set[int]) -> None:
    """Every event node in ``value``, in document order (depth-limited, cycle-safe)."""
    if depth > MAX_DEPTH or page.capped:
        return
    page.nodes += 1
    if page.nodes > MAX_NODES:
        if not page.capped:
            page.out.warnings.append(f"page has more than {MAX_NODES} structured-data nodes; read only the first ones")
        page.capped = True
        return
    if isinstance(value, list):
        for v in value:
            if isinstance(v, dict | list):
                _collect(v, page, syntax, depth + 1, on_path)
        return
    if not isinstance(value, dict) or id(value) in on_path:
        return
    on_path.add(id(value))
    try:
        if _is_event(value):
            _add_schema_event(value, page, syntax)
        for key, v in value.items():
            if key in ("@context",):
                continue
            if isinstance(v, dict | list):
                _collect(v, page, syntax, depth + 1, on_path)
    finally:
        on_path.discard(id(value))


# --------------------------------------------------------------------------- microdata


def _read_microdata(tree, page: _Page) -> None:
    if not tree.xpath("boolean(//*[@itemscope])"):
        return
    from extruct.w3cmicrodata import MicrodataExtractor

    try:
        items = MicrodataExtractor().extract_items(tree, base_url=page.base or None)
    except RecursionError:
        page.out.warnings.append("microdata nested too deeply; ignored")
        return
    except Exception as exc:
        page.out.warnings.append(f"microdata could not be read ({type(exc).__name__}: {_short(str(exc), 120)}); ignored")
        return
    nodes = [_microdata_node(item, 0) for item in items]
    for node in nodes:
        _collect(node, page, "microdata", 0, set())


def _microdata_node(value, depth: int):
    """extruct's microdata item → a JSON-LD-shaped dict (``@type``, ``@id``, properties)."""
    if isinstance(value, list):
        return [_microdata_node(v, depth + 1) for v in value] if depth < MAX_DEPTH else []
    if not isinstance(value, dict) or depth >= MAX_DEPTH:
        return value if not isinstance(value, dict) else {}
    if "properties" not in value and "type" not in value:
        return value
    node: dict = {}
    if value.get("type"):
        node["@type"] = value["type"]
    if value.get("id"):
        node["@id"] = value["id"]
    for key, v in (value.get("properties") or {}).items():
        node[key] = _microdata_node(v, depth + 1)
    if "value" in value and not value.get("properties"):
        node["name"] = value["value"]
    return node


# --------------------------------------------------------------------------- schema.org Event


def _local(name: str) -> str:
    for prefix in SCHEMA_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _types(node: dict) -> list[str]:
    raw = node.get("@type", node.get("type"))
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    return [_local(t.strip()).rsplit("/", 1)[-1] for t in raw if isinstance(t, str)]


def _is_event(node: dict) -> bool:
    return any(t in EVENT_TYPES for t in _types(node))


def _get(node: dict, name: str):
    if name in node:
        return node[name]
    for key, value in node.items():
        if isinstance(key, str) and key != name and _local(key) == name:
            return value
    return None


def _resolve(value, page: _Page):
    if isinstance(value, dict) and set(value) <= {"@id", "@type"} and isinstance(value.get("@id"), str):
        return page.ids.get(value["@id"], value)
    return value


def _first(value):
    while isinstance(value, list):
        value = next((v for v in value if v not in (None, "", [], {})), None)
    return value


def _str(value) -> str:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("@value", value.get("name", value.get("@id")))
        value = _first(value)
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _clean(text: str) -> str:
    """Text of a name or place: entities decoded (WordPress writes &#8211; into JSON-LD), blanks collapsed."""
    return " ".join(html.unescape(text).split())


def _add_schema_event(node: dict, page: _Page, syntax: str) -> None:
    title = _clean(_str(_get(node, "name")))
    label = _short(title or _str(_get(node, "@id")) or "(untitled)", 80)
    if not title:
        page.warn_item(f"{syntax} event {label!r}: no name; skipped")
        return
    problems: list[str] = []
    raw_start = _str(_get(node, "startDate"))
    start = _parse_when(raw_start) if raw_start else None
    if start is None:
        why = f"startDate {raw_start!r} is not an ISO 8601 date" if raw_start else "no startDate"
        page.found.append(_Found(None, syntax, title, problems=[f"{syntax} event {label!r}: {why}; skipped"]))
        return
    raw_end = _str(_get(node, "endDate"))
    end = _parse_when(raw_end) if raw_end else None
    if raw_end and end is None:
        problems.append(f"{syntax} event {label!r}: endDate {raw_end!r} is not an ISO 8601 date; ignored")
    start = _zone(start, page.ctx)
    end = _zone(end, page.ctx) if end is not None else None
    days = _whole_days(start, end, page.ctx)
    if days is not None:
        start, end = days
    end = _fit_end(start, end, True, problems, f"{syntax} event {label!r}")
    if end is None:
        end = _from_duration(start, _str(_get(node, "duration")))
    if end is None and not isinstance(start, datetime):
        end = start + timedelta(days=1)

    status = "confirmed"
    raw_status = _str(_get(node, "eventStatus"))
    moved_online = False
    if raw_status:
        key = _local(raw_status).rsplit("/", 1)[-1].strip().lower()
        if key in _STATUS:
            status = _STATUS[key]
            if key == "eventrescheduled":
                problems.append(f"{syntax} event {label!r}: marked as rescheduled; the dates given are taken as the new ones")
            moved_online = key == "eventmovedonline"
        else:
            page.unknown_status.add(raw_status)

    mode = _local(_str(_get(node, "eventAttendanceMode"))).rsplit("/", 1)[-1].lower()
    location = _location(_get(node, "location"), page, 0)
    if (mode.startswith("online") or moved_online) and not _has_place(_get(node, "location"), page):
        if not location.startswith("online"):
            location = "online" + (f": {location}" if location else "")
    elif mode.startswith("mixed") and not moved_online:
        location = _hybrid_location(_get(node, "location"), page)

    url = _str(_get(node, "url"))
    if url:
        url = _absolute(url, page.base)
    node_id = _str(node.get("@id"))
    uid = _absolute(node_id, page.base) if node_id and not node_id.startswith("_:") else ""
    description = _escaped_markup(_str(_get(node, "description")))
    organizer = _names(_get(node, "organizer"), page)
    if organizer and organizer.casefold() not in description.casefold():
        description = (description + "\n\n" if description else "") + f"Veranstalter: {organizer}"
    categories = [page.parents[id(node)]] if id(node) in page.parents else []
    for sub in _as_list(_get(node, "subEvent")):
        if isinstance(sub, dict):
            page.parents[id(_resolve(sub, page))] = title
    for sup in _as_list(_get(node, "superEvent")):
        name = _clean(_str(_get(_resolve(sup, page), "name") if isinstance(_resolve(sup, page), dict) else ""))
        if name and name != title and name not in categories:
            categories.append(name)

    event = RawEvent(
        source_uid=uid,
        title=title,
        start=start,
        end=end,
        description=description,
        location=location,
        url=url,
        status=status,
        categories=tuple(categories),
    )
    page.found.append(_Found(event, syntax, title, has_id=bool(uid), problems=problems))


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _names(value, page: _Page) -> str:
    names: list[str] = []
    for v in _as_list(value)[:10]:
        v = _resolve(v, page)
        name = _clean(_str(_get(v, "name")) if isinstance(v, dict) else _str(v))
        if name and name not in names:
            names.append(name)
    return ", ".join(names)


def _has_place(value, page: _Page) -> bool:
    for v in _as_list(value):
        v = _resolve(v, page)
        if isinstance(v, str) and v.strip() and not v.strip().lower().startswith(("http://", "https://")):
            return True
        if isinstance(v, dict) and "VirtualLocation" not in _types(v) and (_get(v, "name") or _get(v, "address")):
            return True
    return False


def _is_virtual(value) -> bool:
    """A location that is the online part of an event: a VirtualLocation or a bare http(s) link."""
    if isinstance(value, str):
        return value.strip().lower().startswith(("http://", "https://"))
    return isinstance(value, dict) and "VirtualLocation" in _types(value)


def _hybrid_location(value, page: _Page) -> str:
    """MixedEventAttendanceMode: the place first, then the online part ("online" when the page names no link).

    Both are kept because both are true: the place is where the event competes for an
    audience on site (conflicts read its city), the link how else to attend. With no
    place stated it is "online" (with its link), as an online event's.
    """
    items = [_resolve(v, page) for v in _as_list(value)[:10]]
    place = _location([v for v in items if not _is_virtual(v)], page, 0)
    remote = _location([v for v in items if _is_virtual(v)], page, 0) or "online"
    return f"{place}; {remote}" if place else remote


def _location(value, page: _Page, depth: int) -> str:
    parts: list[str] = []
    for v in _as_list(value)[:10]:
        v = _resolve(v, page)
        text = ""
        if isinstance(v, str):
            text = _clean(v)
            if text.lower().startswith(("http://", "https://")):
                text = f"online: {text}"
        elif isinstance(v, dict):
            types = _types(v)
            if "VirtualLocation" in types:
                link = _str(_get(v, "url"))
                name = _clean(_str(_get(v, "name")))
                text = "online" + (f": {_absolute(link, page.base)}" if link else "")
                if name and name.lower() != "online":
                    text = f"{name} ({text})"
            else:
                text = _place(v, page, depth)
        if text and text not in parts:
            parts.append(text)
    return "; ".join(parts)


def _place(node: dict, page: _Page, depth: int) -> str:
    bits: list[str] = []

    def add(text: str) -> None:
        text = _clean(text)
        if text and not any(text.casefold() in b.casefold() for b in bits):
            bits.append(text)

    add(_str(_get(node, "name")))
    for address in _as_list(_get(node, "address"))[:3]:
        address = _resolve(address, page)
        if isinstance(address, str):
            add(address)
        elif isinstance(address, dict):
            if _get(address, "streetAddress") or _get(address, "addressLocality") or _get(address, "postalCode"):
                add(_str(_get(address, "streetAddress")))
                add(" ".join(x for x in (_str(_get(address, "postalCode")), _clean(_str(_get(address, "addressLocality")))) if x))
                if not bits:
                    add(_str(_get(address, "addressRegion")))
            else:
                add(_str(_get(address, "name")))
    if not bits and _get(node, "containedInPlace") and depth < 3:
        add(_location(_get(node, "containedInPlace"), page, depth + 1))
    return ", ".join(bits)


# --------------------------------------------------------------------------- h-event


def _read_microformats(tree, page: _Page) -> None:
    import lxml.html

    roots = [el for el in tree.iter() if isinstance(el.tag, str) and _HEVENT_CLASS_RE.search(el.get("class") or "")]
    if not roots:
        return
    # Only the outermost roots: nested h-events come back as their children.
    inner = set()
    for el in roots:
        for child in el.iterdescendants():
            inner.add(child)
    outer = [el for el in roots if el not in inner]
    if len(outer) > MAX_HEVENTS:
        page.out.warnings.append(f"page has {len(outer)} h-event elements; read the first {MAX_HEVENTS}")
        outer = outer[:MAX_HEVENTS]
    # Each root alone: mf2py on a whole page copies a backcompat root's subtree
    # once per descendant, which takes many seconds on an ordinary blog page.
    import mf2py

    for n, el in enumerate(outer, 1):
        markup = lxml.html.tostring(_lean(el), encoding="unicode", with_tail=False)
        if len(markup) > MAX_HEVENT_CHARS:
            page.out.warnings.append(f"h-event {n}: {len(markup)} characters of markup; too large, ignored")
            continue
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                parsed = mf2py.parse(doc=markup, url=page.base or "", html_parser="lxml")
        except RecursionError:
            page.out.warnings.append(f"h-event {n}: nested too deeply; ignored")
            continue
        except Exception as exc:
            page.out.warnings.append(f"h-event {n} could not be read ({type(exc).__name__}); ignored")
            continue
        classic = "h-event" not in (el.get("class") or "").split()
        for item in parsed.get("items") or []:
            _collect_hevent(item, page, classic, 0)


def _lean(el):
    """A copy of ``el`` without what never holds a property (scripts, styles, SVG, comments, forms' options)."""
    import copy

    import lxml.etree

    clone = copy.deepcopy(el)
    clone.tail = None
    lxml.etree.strip_elements(clone, "script", "style", "svg", "noscript", "template", "option", lxml.etree.Comment, with_tail=False)
    _modernize(clone)
    return clone


def _classic_map() -> dict:
    try:
        from mf2py.backcompat import _CLASSIC_MAP  # mf2py's own rules for classic microformats
    except ImportError:  # pragma: no cover - a later mf2py; its own (slower) backcompat then runs
        return {}
    return _CLASSIC_MAP


_REL_TAG = " rel=tag"  # a key no class name can match: the root's rel=tag links are categories
# What lxml refuses to write into an attribute (an HTML parser keeps it when reading):
# control characters, U+FFFE/U+FFFF and lone surrogates. No class name holds one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _modernize(tree) -> None:
    """Give classic microformats (vevent, vcard, adr, …) their microformats2 classes in place.

    mf2py does this itself, but copies every descendant's subtree on the way:
    seconds for one ordinary event page, minutes for a hostile one. Done here
    once, iteratively, mf2py sees only microformats2 roots.
    """
    classic = _classic_map()
    if not classic:
        return
    stack: list[tuple[object, dict | None]] = [(tree, None)]
    while stack:
        el, rules = stack.pop()
        if not isinstance(el.tag, str):
            continue
        classes = (el.get("class") or "").split()
        new = list(classes)
        if rules:
            for old, additions in rules.items():
                if all(c in classes for c in old.split()):
                    for addition in additions:
                        new.extend(c for c in addition.split() if c not in new)
            if rules.get(_REL_TAG) and "tag" in (el.get("rel") or "").split() and "p-category" not in new:
                new.append("p-category")
        modern_root = any(c.startswith("h-") and c[2:].replace("-", "").isalnum() for c in classes)
        old_roots = [c for c in classes if c in classic]
        child_rules = rules
        if modern_root:
            child_rules = None  # a microformats2 item: classic names inside it mean nothing
        elif old_roots:
            child_rules = {}
            for old_root in old_roots:
                new.extend(c for c in classic[old_root].get("type", []) if c not in new)
                child_rules.update(classic[old_root].get("properties", {}))
                if "tag" in (classic[old_root].get("rels") or {}):
                    child_rules[_REL_TAG] = ["p-category"]
        if new != classes:
            el.set("class", " ".join(c for c in new if not _NOT_XML.search(c)))
        stack.extend((child, child_rules) for child in el)


def _collect_hevent(item, page: _Page, classic: bool, depth: int) -> None:
    if not isinstance(item, dict) or depth > MAX_DEPTH:
        return
    if "h-event" in (item.get("type") or []):
        _add_hevent(item, page, classic)
    for child in item.get("children") or []:
        _collect_hevent(child, page, classic, depth + 1)
    for values in (item.get("properties") or {}).values():
        for v in values if isinstance(values, list) else []:
            if isinstance(v, dict) and v.get("type"):
                _collect_hevent(v, page, classic, depth + 1)


def _mf_value(props: dict, name: str) -> str:
    values = props.get(name) or []
    for v in values:
        if isinstance(v, dict):
            v = v.get("html") if name == "description" and v.get("html") else v.get("value")
        if isinstance(v, str) and v.strip():
            return v.strip()
    return ""


def _mf_location(props: dict) -> str:
    parts: list[str] = []
    for v in props.get("location") or []:
        text = _clean(v) if isinstance(v, str) else _mf_place(v, 0) if isinstance(v, dict) else ""
        if text and text not in parts:
            parts.append(text)
    return "; ".join(parts)


def _mf_place(item: dict, depth: int) -> str:
    """An h-card/h-adr/h-geo location as "name, street, postcode city"."""
    p = item.get("properties") or {}
    bits: list[str] = []

    def add(text: str) -> None:
        text = _clean(text)
        if text and not any(text.casefold() in b.casefold() for b in bits):
            bits.append(text)

    add(_mf_value(p, "name") or _mf_value(p, "org"))
    adrs = [a for a in p.get("adr") or [] if isinstance(a, dict)] if depth < 3 else []
    for source in [p] + [a.get("properties") or {} for a in adrs]:
        add(_mf_value(source, "street-address"))
        add(_mf_value(source, "extended-address"))
        add(" ".join(_clean(_mf_value(source, k)) for k in ("postal-code", "locality") if _mf_value(source, k)))
    return ", ".join(bits) or _clean(str(item.get("value") or ""))


def _add_hevent(item: dict, page: _Page, classic: bool) -> None:
    props = item.get("properties") or {}
    title = _clean(_mf_value(props, "name") or _mf_value(props, "summary"))
    label = _short(title or "(untitled)", 80)
    if not title:
        page.warn_item(f"h-event {label!r}: no name; skipped")
        return
    raw_start = _mf_value(props, "start")
    start = _parse_when(raw_start) if raw_start else None
    if start is None:
        why = f"start {raw_start!r} is not an ISO 8601 date" if raw_start else "no start"
        page.found.append(_Found(None, "h-event", title, problems=[f"h-event {label!r}: {why}; skipped"]))
        return
    problems: list[str] = []
    raw_end = _mf_value(props, "end")
    end = _parse_when(raw_end) if raw_end else None
    if raw_end and end is None:
        problems.append(f"h-event {label!r}: end {raw_end!r} is not an ISO 8601 date; ignored")
    start = _zone(start, page.ctx)
    end = _zone(end, page.ctx) if end is not None else None
    end = _fit_end(start, end, not classic, problems, f"h-event {label!r}")
    if end is None:
        end = _from_duration(start, _mf_value(props, "duration"))
    if end is None and not isinstance(start, datetime):
        end = start + timedelta(days=1)
    status = _STATUS.get(_mf_value(props, "status").lower(), "confirmed")
    url = _mf_value(props, "url")
    url = _absolute(url, page.base) if url else ""
    uid = _mf_value(props, "uid")
    uid = _absolute(uid, page.base) if uid else ""
    categories = tuple(dict.fromkeys(_clean(c) for c in props.get("category") or [] if isinstance(c, str) and c.strip()))
    event = RawEvent(
        source_uid=uid,
        title=title,
        start=start,
        end=end,
        description=_mf_value(props, "description") or _mf_value(props, "content"),
        location=_mf_location(props),
        url=url,
        status=status,
        categories=categories,
    )
    page.found.append(_Found(event, "h-event", title, has_id=bool(uid), problems=problems))


# --------------------------------------------------------------------------- dates


def _parse_when(value: str) -> date | datetime | None:
    """An ISO 8601 date or date-time (extended or basic, ``T`` or a blank between), else None."""
    m = _DT_RE.match(value.strip())
    if not m:
        o = _ORDINAL_RE.match(value.strip())
        if o:  # "2013-034": the 34th day of 2013
            try:
                return date(int(o[1]), 1, 1) + timedelta(days=int(o[2]) - 1) if 1 <= int(o[2]) <= 366 else None
            except (ValueError, OverflowError):
                return None
        return None
    try:
        day = date(int(m["y"]), int(m["m1"] or m["m2"]), int(m["d1"] or m["d2"]))
        if m["H"] is None:
            return day
        hour, minute, second = int(m["H"]), int(m["M"] or 0), int(m["S"] or 0)
        if hour == 24 and minute == 0 and second == 0:
            day, hour = day + timedelta(days=1), 0
        when = datetime(day.year, day.month, day.day, hour, minute, second)
    except (ValueError, OverflowError):
        return None
    tz = m["tz"]
    if tz:
        if tz.upper() == "Z":
            return when.replace(tzinfo=timezone.utc)
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours, minutes = (int(digits[:-2]), int(digits[-2:])) if len(digits) > 2 else (int(digits), 0)
        if hours > 18 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes) * sign
        return when.replace(tzinfo=timezone.utc if not offset else timezone(offset))
    return when


def _zone(value, ctx: ExtractContext):
    """A fixed offset that is the source zone's offset at that instant becomes that zone."""
    if isinstance(value, datetime) and value.tzinfo is not None and value.tzinfo is not timezone.utc:
        try:
            local = value.astimezone(ctx.timezone)
        except (OverflowError, ValueError):
            return value
        if local.utcoffset() == value.utcoffset():
            return local
    return value


def _whole_days(start, end, ctx: ExtractContext) -> tuple[date, date] | None:
    """(first day, last day) when ``start``…``end`` is all-day stated as times, else None.

    The Events Calendar prints an all-day event's JSON-LD as the UTC instants of its
    local 00:00:00 and 23:59:59 ("2026-03-09T23:00:00+00:00" … "2026-03-12T22:59:59+00:00"
    for 10.–12.03. in Berlin); read as times it would be a span from 23:00 to 22:59.
    So a start at 00:00:00 and an end at 23:59:59, both in the source's zone (floating
    times as written), are whole days. The last day stays inclusive, as schema.org's
    date-only ``endDate``; ``_fit_end`` makes it exclusive.
    """
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return None
    if (start.tzinfo is None) != (end.tzinfo is None):
        return None
    try:
        first, last = (start, end) if start.tzinfo is None else (start.astimezone(ctx.timezone), end.astimezone(ctx.timezone))
    except (OverflowError, ValueError):
        return None
    if first.time() != datetime.min.time() or (last.hour, last.minute, last.second) != (23, 59, 59):
        return None
    if last.date() < first.date():
        return None
    return first.date(), last.date()


def _fit_end(start, end, inclusive: bool, notes: list[str], label: str):
    """The exclusive end fitting ``start``'s kind, or None (with a note when the source was wrong)."""
    if end is None:
        return None
    if isinstance(start, datetime) and not isinstance(end, datetime):
        if end > start.date():  # "2025-03-05T09:00" … "2025-03-07": until the end of that day
            end = datetime(end.year, end.month, end.day, tzinfo=start.tzinfo) + timedelta(days=1)
        else:
            return None  # the same day again: says nothing more than the start
    elif not isinstance(start, datetime) and isinstance(end, datetime):
        end = end.date()
        inclusive = True
    if isinstance(start, datetime):
        if start.tzinfo is not None and end.tzinfo is None:
            end = end.replace(tzinfo=start.tzinfo)  # "endDate": "…T16:00" beside a zoned start: the same zone
        elif start.tzinfo is None and end.tzinfo is not None:
            end = end.replace(tzinfo=None)
    else:
        if inclusive:
            end = end + timedelta(days=1)
    if end < start:
        notes.append(f"{label}: end lies before the start; ignored")
        return None
    if end == start:
        return None
    return end


def _from_duration(start, text: str):
    if not text:
        return None
    m = _DURATION_RE.match(text.strip())
    if not m or not any(m.groupdict().values()):
        return None
    delta = timedelta(
        weeks=int(m["w"] or 0), days=int(m["d"] or 0), hours=int(m["h"] or 0), minutes=int(m["m"] or 0), seconds=int(m["s"] or 0)
    )
    if not delta or delta > timedelta(days=366):
        return None
    if isinstance(start, datetime):
        return start + delta
    days = max(1, delta.days)
    return start + timedelta(days=days)


# --------------------------------------------------------------------------- merging


def _day(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _key(title: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", title.casefold()).split())


def _precision(value) -> int:
    return 2 if isinstance(value, datetime) else 1


def _merge(into: RawEvent, other: RawEvent) -> RawEvent:
    """``into`` with its gaps filled from ``other`` (the same event stated again)."""
    changes: dict = {}
    if _precision(other.start) > _precision(into.start):
        changes["start"], changes["end"] = other.start, other.end
    elif into.end is None and other.end is not None and type(other.end) is type(into.start):
        changes["end"] = other.end
    for name in ("description", "location", "url", "source_uid"):
        if not getattr(into, name) and getattr(other, name):
            changes[name] = getattr(other, name)
    if into.status == "confirmed" and other.status != "confirmed":
        changes["status"] = other.status
    if not into.categories and other.categories:
        changes["categories"] = other.categories
    return replace(into, **changes) if changes else into


def _finish(page: _Page) -> Extraction:
    out = page.out
    events: list[RawEvent] = []
    index: dict[tuple[str, date], int] = {}
    by_title: set[str] = set()
    unread: list[_Found] = []
    notes: list[str] = list(page.problems)
    for found in page.found:
        if found.event is None:
            unread.append(found)
            continue
        notes.extend(found.problems)
        key = (_key(found.title), _day(found.event.start))
        if key in index:
            events[index[key]] = _merge(events[index[key]], found.event)
            continue
        index[key] = len(events)
        by_title.add(key[0])
        events.append(found.event)
    for found in unread:
        if _key(found.title) not in by_title:  # else another syntax gave the same event readably
            notes.extend(found.problems)
    for status in sorted(page.unknown_status)[:5]:
        notes.append(f"eventStatus {status!r} is not one of schema.org's; taken as scheduled")

    if len(events) > MAX_EVENTS:
        notes.append(f"page states {len(events)} events; kept the first {MAX_EVENTS}")
        events = events[:MAX_EVENTS]
    _assign_uids(events, page)

    out.warnings.extend(notes[:MAX_ITEM_WARNINGS])
    if len(notes) > MAX_ITEM_WARNINGS:
        out.warnings.append(f"… and {len(notes) - MAX_ITEM_WARNINGS} more problems with single events")
    if not events:
        out.warnings.append("page states no schema.org Event (JSON-LD, microdata) and no h-event")
    out.events = events
    return out


def _assign_uids(events: list[RawEvent], page: _Page) -> None:
    """@id, else url (with the start when several events share one url), else a stable hash."""
    url_count: dict[str, int] = {}
    for e in events:
        if not e.source_uid and e.url:
            url_count[e.url] = url_count.get(e.url, 0) + 1
    seen: dict[str, int] = {}
    for e in events:
        uid = e.source_uid
        if not uid and e.url:
            uid = e.url if url_count[e.url] == 1 or e.url == page.base else f"{e.url}#{e.start.isoformat()}"
            if e.url == page.base and url_count[e.url] > 1:
                uid = ""
        if not uid:
            raw = "\x1f".join((page.base, e.title, e.start.isoformat(), e.location))
            uid = "sha256:" + hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]
        n = seen.get(uid, 0) + 1
        seen[uid] = n
        if n > 1:
            uid = f"{uid}#{n}"
        e.source_uid = uid


# --------------------------------------------------------------------------- detail pages


def enrich(event: RawEvent, body: bytes, ctx: ExtractContext) -> tuple[RawEvent, list[str]]:
    """``event`` (from a list page) with its gaps filled from the best-matching Event on its detail page.

    The match is the detail page's event on the same day with the most similar
    title (any title when it is the only event that day). What the list gave is
    kept unless it is empty or less precise: a date becomes a time of that day,
    a missing end, place, description or URL is filled, and a cancellation or
    postponement on the detail page is taken over. Never raises for a bad page:
    the event comes back unchanged with a warning.
    """
    label = _short(event.title, 80)
    try:
        found = extract(body, ctx)
    except ExtractError as exc:
        return event, [f"detail page of {label!r}: {exc}"]
    best = _best_match(event, found.events)
    if best is None:
        if not found.events:
            return event, [f"detail page of {label!r}: no structured event on it"]
        return event, [f"detail page of {label!r}: none of its {len(found.events)} event(s) matches the title and day"]
    return _fill(event, best), []


def _escaped_markup(text: str) -> str:
    """A description as markup, also where it was escaped twice on its way into the JSON.

    The Events Calendar (and other WordPress plugins) print the description's HTML with its
    tags as entities and its line breaks as a literal backslash-n: ``&lt;p&gt;Text&lt;/p&gt;\\n``.
    Read as it is, subscribers would see the tags and the backslashes. Such text is unescaped
    once (normalize turns the markup into text); any other text is left as it is."""
    if "&lt;" not in text:
        return text
    return html.unescape(text).replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\t", " ")


def _best_match(event: RawEvent, candidates: list[RawEvent]) -> RawEvent | None:
    day = _day(event.start)
    key = _key(event.title)
    best, best_score = None, 0.0
    for c in candidates:
        ratio = SequenceMatcher(None, key, _key(c.title)).ratio() if key else 0.0
        same_day = _day(c.start) == day or (
            not isinstance(event.start, datetime) and event.end is not None and _day(c.start) >= day and _day(c.start) < _day(event.end)
        )
        if not same_day:
            continue  # a title alone is too weak: detail pages list "more events" beside
        score = 1.0 + ratio
        if score > best_score:
            best, best_score = c, score
    if best is None:
        return None
    same_day = [c for c in candidates if _day(c.start) == _day(best.start)]
    if len(same_day) > 1 and best_score < 1.5:
        return None  # several events that day and none with a similar title
    return best


def _fill(event: RawEvent, other: RawEvent) -> RawEvent:
    changes: dict = {}
    if not isinstance(event.start, datetime) and isinstance(other.start, datetime) and other.start.date() == event.start:
        changes["start"] = other.start
        changes["end"] = other.end
    elif isinstance(event.start, datetime) and event.start.tzinfo is None and isinstance(other.start, datetime) and other.start.tzinfo is not None:
        if other.start.replace(tzinfo=None) == event.start:
            changes["start"] = other.start
            if event.end is None or (isinstance(event.end, datetime) and event.end.tzinfo is None and other.end is not None
                                     and isinstance(other.end, datetime) and other.end.replace(tzinfo=None) == event.end):
                changes["end"] = other.end
    if "end" not in changes and event.end is None and other.end is not None:
        start = changes.get("start", event.start)
        if isinstance(other.end, datetime) == isinstance(start, datetime):
            if not isinstance(start, datetime) or (start.tzinfo is None) == (other.end.tzinfo is None):
                if other.end > start:
                    changes["end"] = other.end
    for name in ("location", "description", "url"):
        if not getattr(event, name).strip() and getattr(other, name):
            changes[name] = getattr(other, name)
    if event.status == "confirmed" and other.status != "confirmed":
        changes["status"] = other.status
    if not event.categories and other.categories:
        changes["categories"] = other.categories
    return replace(event, **changes) if changes else event


# --------------------------------------------------------------------------- helpers


def _absolute(url: str, base: str) -> str:
    url = url.strip()
    if not base:
        return url
    return join(base, url)


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"

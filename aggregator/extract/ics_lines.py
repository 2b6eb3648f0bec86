"""Fast reader for the common shape of iCalendar files (used by ``ics.py``).

``read`` takes the well-nested, unfolded content lines that ``ics._structure``
makes of a body and returns, per VCALENDAR, its VEVENTs as light property maps
that ``ics._Extractor._read_event`` reads exactly as it reads icalendar's
components, with every date and time already in the output convention (what
``x_wr_timezone.to_standard`` and ``ical_zones.Zones.convert`` would make of
it). It builds no icalendar component tree and no ``Parameters`` objects.

It promises sameness, not coverage: whenever a file has anything it does not
handle with certainty — a line it cannot split plainly, a component other than
VEVENT (with VALARMs) and VTIMEZONE (with STANDARD/DAYLIGHT), a property value
icalendar would reject or store as broken, a TZID that ``resolve_tzid`` does not
know, a TZID with a "Z" time or on a date, a VALUE other than the value's shape, a PERIOD, a repeated DTSTART/DTEND/DURATION/
RECURRENCE-ID, an unknown X-WR-TIMEZONE, or any exception at all — it returns
None, and the caller parses the whole body with icalendar as before. Values it
does not parse itself (RRULE, DURATION, SEQUENCE, CATEGORIES) are made by
icalendar's own value types, as icalendar's parser makes them.
``tests/test_extract_ics_fast.py`` runs both paths over every corpus file,
fixture and synthetic calendar and requires identical results.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime, timezone, tzinfo

from aggregator.extract.ical_zones import _iana_index, resolve_tzid

try:  # icalendar's own value machinery, so values come out as icalendar's parser makes them
    from icalendar.cal.component import Component as _IcalComponent
    from icalendar.parser.ical.component import ComponentIcalParser as _IcalParser
    from icalendar.parser.property import split_on_unescaped_comma, unescape_backslash
    from icalendar.prop import vCalAddress, vText, vUnknown, vUri

    _TYPES = _IcalComponent.types_factory
    _DATETIME_NAMES = frozenset(_IcalParser.datetime_names)
    _SAFE_TYPES = (vText, vUnknown)  # their from_ical cannot fail on a str
    _SAFE_UNESCAPED = (vUri, vCalAddress)  # nor can theirs on a value without escapes (they refuse "\n")
except Exception:  # another icalendar: the fast path is off, everything goes the old way
    _TYPES = None

UTC = timezone.utc
_ZULU = zoneinfo.ZoneInfo("UTC")  # the tzinfo icalendar gives "…Z" times

# NAME;PARAM=value;PARAM="quoted":value — nothing else (no backslash, caret, comma,
# empty or space-padded parameter value, whitespace in names): anything odd goes to icalendar.
_LINE = re.compile(
    r'([A-Za-z0-9-]+)'
    r'((?:;[A-Za-z0-9-]+=(?:"[^"\\^,]+"|[^";:,\\^\s](?:[^";:,\\^]*[^";:,\\^\s])?))*)'
    r':(.*)',
    re.S,
)
_PARAM = re.compile(r';([A-Za-z0-9-]+)=("[^"]*"|[^;]*)')
_BEGIN_END = re.compile(r"(BEGIN|END):([A-Za-z-]+)", re.IGNORECASE)
_SMALL_INT = re.compile(r"[0-9]{1,9}")
_WHEN = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?")

_TEXT = frozenset({"SUMMARY", "DESCRIPTION", "LOCATION", "UID", "STATUS", "URL"})
_SINGLE_WHEN = frozenset({"DTSTART", "DTEND", "RECURRENCE-ID"})
_LIST_WHEN = frozenset({"RDATE", "EXDATE"})
_ONCE = frozenset({"DTSTART", "DTEND", "RECURRENCE-ID", "DURATION"})
_BUILT = frozenset({"RRULE", "DURATION", "SEQUENCE"})
_STAMPS = frozenset({"DTSTAMP", "CREATED", "LAST-MODIFIED"})
_NESTING = {"VCALENDAR": None, "VEVENT": "VCALENDAR", "VTIMEZONE": "VCALENDAR",
            "VALARM": "VEVENT", "STANDARD": "VTIMEZONE", "DAYLIGHT": "VTIMEZONE"}


class _Unsure(Exception):
    """The fast reader is not certain: let icalendar read the body."""


class FastEvent(dict):
    """A VEVENT as ``_read_event`` reads it: name → value, a list when repeated."""

    errors: tuple = ()

    def add(self, name: str, value) -> None:
        old = self.get(name)
        if old is None:
            self[name] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            self[name] = [old, value]


class When:
    """A DTSTART-like value already converted: ``.dt``, and no TZID left to apply."""

    __slots__ = ("dt",)
    params: dict = {}

    def __init__(self, dt) -> None:
        self.dt = dt


class Whens:
    """An RDATE/EXDATE line already converted: ``.dts``."""

    __slots__ = ("dts",)
    params: dict = {}

    def __init__(self, dts: list[When]) -> None:
        self.dts = dts


class Categories:
    """A CATEGORIES line: ``.cats``, split and unescaped as icalendar's parser does."""

    __slots__ = ("cats",)

    def __init__(self, cats: list[str]) -> None:
        self.cats = cats


class PassZones:
    """Stands in for ``Zones``: the fast reader's values are converted already."""

    @staticmethod
    def convert(value, tzid):
        return value


# ---------------------------------------------------------------- values


def _params(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _PARAM.finditer(text):
        key = m.group(1).upper()
        if key in out:
            raise _Unsure("repeated parameter")
        value = m.group(2)
        out[key] = value[1:-1] if value[:1] == '"' else value
    return out


def _when(raw: str, tzid: str | None, value_type: str | None = None) -> tuple:
    """A pending date/time: ("date", date) | ("floating"|"utc", wall) | ("tz", wall, tzid).

    Only the plain shapes: a VALUE other than the shape says, a TZID on a date (icalendar
    makes midnight of it), a TZID with "Z" or one ``resolve_tzid`` does not know are _Unsure.
    """
    m = _WHEN.fullmatch(raw)
    if m is None:
        raise _Unsure("date shape")
    y, mo, d, h, mi, s, z = m.groups()
    if value_type is not None and value_type != ("DATE" if h is None else "DATE-TIME"):
        raise _Unsure("VALUE")
    if tzid is not None and (z or h is None or resolve_tzid(tzid) is None):
        raise _Unsure("TZID")
    if h is None:
        return ("date", date(int(y), int(mo), int(d)))
    wall = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    if tzid is not None:
        return ("tz", wall, tzid)
    return ("utc", wall) if z else ("floating", wall)


def _convert(pending: tuple, xwr: tzinfo | None):
    """What icalendar + x_wr_timezone + Zones.convert make of one pending value."""
    kind, wall = pending[0], pending[1]
    if kind == "date":
        return wall
    if kind == "floating":
        return wall if xwr is None else wall.replace(tzinfo=xwr)
    if kind == "utc":
        value = wall.replace(tzinfo=_ZULU)
        return value if xwr is None else value.astimezone(xwr)
    tzid = pending[2]
    zone = resolve_tzid(tzid)
    if xwr is not None:
        # x_wr_timezone leaves only non-UTC, non-floating times alone: be sure icalendar's are
        name = tzid.strip()
        if zone is UTC or name not in _iana_keys():
            raise _Unsure("TZID under X-WR-TIMEZONE")
        tzname = wall.replace(tzinfo=zone).tzname()
        if tzname is None or tzname.upper() == "UTC":
            raise _Unsure("TZID under X-WR-TIMEZONE")
    return wall.replace(tzinfo=zone)


_IANA: frozenset[str] | None = None


def _iana_keys() -> frozenset[str]:
    """The IANA keys zoneinfo lists (from the index ``resolve_tzid`` builds anyway)."""
    global _IANA
    if _IANA is None:
        _IANA = frozenset(_iana_index()[0].values())
    return _IANA


_FACTORIES: dict[tuple[str, str | None], type] = {}


def _factory(name: str, value_type: str | None):
    key = (name, value_type)
    factory = _FACTORIES.get(key)
    if factory is None:
        factory = _FACTORIES[key] = _TYPES.for_property(name, value_type)
    return factory


def _icalendar_value(name: str, params: dict[str, str], raw: str):
    """The value object icalendar's parser makes of one property (it raises where icalendar would fail)."""
    factory = _factory(name, params.get("VALUE"))
    if getattr(factory, "get_value_from_content_line", None) is None and "\\" in raw:
        raw = unescape_backslash(raw)
    tzid = params.get("TZID") if name in _DATETIME_NAMES else None
    parsed = factory.from_ical(raw, tzid) if tzid else factory.from_ical(raw)
    return factory(parsed)


def _check(name: str, params: dict[str, str], raw: str) -> None:
    """Raise _Unsure unless icalendar reads this property without an error."""
    if "VALUE" not in params:
        if name in _STAMPS and "TZID" not in params:
            m = _WHEN.fullmatch(raw)
            if m is not None and m.group(4) is not None:
                _when(raw, None)  # a valid date-time, or _Unsure
                return
        factory = _factory(name, None)
        if factory in _SAFE_TYPES or (factory in _SAFE_UNESCAPED and "\\" not in raw):
            return
    try:
        _icalendar_value(name, params, raw)
    except Exception as exc:
        raise _Unsure(f"{name}: {exc}") from None


# ---------------------------------------------------------------- reading


def read(lines: list[str]) -> list[list[FastEvent]] | None:
    """Per VCALENDAR, its VEVENTs; None when icalendar must read these lines."""
    if _TYPES is None:
        return None
    try:
        return _read(lines)
    except Exception:  # _Unsure, or anything unforeseen: the old path decides
        return None


def _read(lines: list[str]) -> list[list[FastEvent]]:
    calendars: list[list[FastEvent]] = []
    stack: list[str] = []
    events: list[FastEvent] = []
    pending: list[tuple] = []  # (event, name, pending value | list of them), converted at END:VCALENDAR
    xwr_raw = None
    event: FastEvent | None = None
    seen_once: set[str] = set()
    zone_ids: list[str] = []
    line_match = _LINE.fullmatch
    for line in lines:
        m = line_match(line)
        if m is None:
            raise _Unsure("line shape")
        name, ptext, raw = m.groups()
        name = name.upper()
        if name == "BEGIN" or name == "END":
            be = _BEGIN_END.fullmatch(line)
            if be is None:
                raise _Unsure("BEGIN/END shape")
            comp = be.group(2).upper()
            if name == "BEGIN":
                if comp not in _NESTING or _NESTING[comp] != (stack[-1] if stack else None):
                    raise _Unsure(f"component {comp}")
                stack.append(comp)
                if comp == "VEVENT":
                    event = FastEvent()
                    seen_once = set()
                    events.append(event)
                elif comp == "VTIMEZONE":
                    zone_ids = []
                elif comp == "VCALENDAR":
                    events, pending, xwr_raw = [], [], None
            else:
                if not stack or stack[-1] != comp:
                    raise _Unsure("END")
                stack.pop()
                if comp == "VEVENT":
                    event = None
                elif comp == "VTIMEZONE":
                    # icalendar builds (and may fail to build) a zone of its own for a TZID zoneinfo lacks
                    if len(zone_ids) != 1 or zone_ids[0] not in _iana_keys():
                        raise _Unsure("VTIMEZONE")
                elif comp == "VCALENDAR":
                    calendars.append(_finish(events, pending, xwr_raw))
            continue
        if not stack:
            raise _Unsure("property outside components")
        params = _params(ptext) if ptext else {}
        where = stack[-1]
        if where != "VEVENT":
            if where == "VCALENDAR" and name == "X-WR-TIMEZONE":
                if "VALUE" in params:
                    raise _Unsure("VALUE on X-WR-TIMEZONE")
                if xwr_raw is None:
                    xwr_raw = raw
                continue
            if where == "VTIMEZONE" and name == "TZID":
                zone_ids.append(raw)
            _check(name, params, raw)
            continue
        if name in _ONCE:
            if name in seen_once:
                raise _Unsure(f"repeated {name}")
            seen_once.add(name)
        if name in _TEXT:
            if "VALUE" in params:
                raise _Unsure("VALUE on text")
            if "\\" in raw:
                raw = unescape_backslash(raw)
                if name == "URL" and ("\n" in raw or "\r" in raw):
                    raise _Unsure("a URI with a line break")  # icalendar's vUri refuses it
            event.add(name, raw)
        elif name in _SINGLE_WHEN:
            if "RANGE" in params:
                raise _Unsure("RANGE")  # the reader keeps no parameters; _read_event needs this one
            value = _when(raw, params.get("TZID"), params.get("VALUE"))
            pending.append((event, name, value))
        elif name in _LIST_WHEN:
            if raw == "" and name == "RDATE":
                continue  # icalendar adds no RDATE for an empty one
            tzid, value_type = params.get("TZID"), params.get("VALUE")
            pending.append((event, name, [_when(part, tzid, value_type) for part in raw.split(",")]))
        elif name == "SEQUENCE" and not params and _SMALL_INT.fullmatch(raw):
            event.add(name, int(raw))  # what icalendar's vInt holds, without its Parameters
        elif name in _BUILT:
            try:
                event.add(name, _icalendar_value(name, params, raw))
            except Exception as exc:
                raise _Unsure(f"{name}: {exc}") from None
        elif name == "CATEGORIES":
            if "VALUE" in params:
                raise _Unsure("VALUE on CATEGORIES")
            event.add(name, Categories(split_on_unescaped_comma(raw)))
        else:
            _check(name, params, raw)
    if stack:
        raise _Unsure("unclosed component")
    return calendars


def _finish(events: list[FastEvent], pending: list[tuple], xwr_raw: str | None) -> list[FastEvent]:
    xwr = None
    if xwr_raw is not None and xwr_raw.strip():
        xwr = resolve_tzid(xwr_raw)
        if xwr is None:
            raise _Unsure("unknown X-WR-TIMEZONE")
    for event, name, value in pending:
        if isinstance(value, list):
            event.add(name, Whens([When(_convert(v, xwr)) for v in value]))
        else:
            event.add(name, When(_convert(value, xwr)))
    return events

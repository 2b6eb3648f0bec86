"""ICS extractor: iCalendar bytes → raw events.

The body is decoded leniently (BOM, UTF-8 or cp1252, any line ending), cut
into well-nested components and read by ``ics_lines`` (no component tree,
the same result) or, wherever that is unsure, parsed with ``icalendar`` in its
error-tolerant mode. When the strict calendar level fails, each top-level
component is parsed on its own so one broken VTIMEZONE or VALARM does not
cost the whole feed.

Recurrence is kept, not expanded: an RRULE is passed on as its iCalendar text
(repaired or dropped when ``dateutil`` could not read it), RDATE/EXDATE as
values (an RDATE PERIOD of another length than the event's also as an
instance with that end), and RECURRENCE-ID instances as their own raw events. A further RRULE
of the same VEVENT (deprecated by RFC 5545, read by few clients) becomes a
series of its own, UID "<uid>#rrule<n>" (``split_extra_rule``); an instance
with RANGE=THISANDFUTURE splits its series (``ics_ranges``).

Time zones are resolved (``ical_zones``) so that every datetime leaves this
module as aware with a ``ZoneInfo`` (IANA key), aware UTC, or naive
(floating, which normalize reads in the source's zone).
"""

from __future__ import annotations

import hashlib
import html
import re
import warnings as pywarnings
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo

import icalendar
import x_wr_timezone
from dateutil import rrule as dateutil_rrule
from icalendar.prop import vBroken, vRecur

from aggregator.extract import ExtractContext, Extraction, ExtractError, guarded, ics_lines, ics_ranges
from aggregator.extract.ical_zones import Zones, resolve_tzid
from aggregator.model import RawEvent, When
from aggregator.recurrence import walk_rule

UTC = timezone.utc
ONE_DAY = timedelta(days=1)
MAX_WARNINGS = 100
IGNORED_COMPONENTS = ("VTODO", "VJOURNAL", "VFREEBUSY")

_BEGIN_END = re.compile(r"^(BEGIN|END)[ \t]*:[ \t]*([A-Za-z0-9_-]*)[ \t]*$", re.IGNORECASE)
_FOLD = re.compile(r"\n+[ \t]")  # blank lines before a continuation are folded too, as icalendar does
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$", re.IGNORECASE)



# ---------------------------------------------------------------- entry point


@guarded("ics")
def extract(body: bytes, ctx: ExtractContext) -> Extraction:
    """Read an iCalendar body; raise ExtractError (only) when it is not one."""
    with pywarnings.catch_warnings():
        # icalendar warns (e.g. GloballyUniqueTZIDGuessed) while parsing; we
        # resolve zones ourselves and report in our own words.
        pywarnings.simplefilter("ignore")
        return _Extractor(ctx).run(body)


@guarded("ics")
def extract_with_icalendar(body: bytes, ctx: ExtractContext) -> Extraction:
    """``extract`` without the fast reader: icalendar parses everything (the reference the fast path must equal)."""
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        return _Extractor(ctx, fast=False).run(body)


# ---------------------------------------------------------------- warnings


class _Warnings(list):
    """Short, de-duplicated, capped warnings."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self._dropped = 0

    def add(self, message: str) -> None:
        if message in self._seen:
            return
        self._seen.add(message)
        if len(self) >= MAX_WARNINGS:
            self._dropped += 1
            return
        self.append(message)

    def finish(self) -> list[str]:
        out = list(self)
        if self._dropped:
            out.append(f"{self._dropped} more warnings not shown")
        return out


# ---------------------------------------------------------------- decoding & structure


def _decode(body: bytes) -> str:
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    elif body.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return body.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("cp1252", errors="replace")
    return text.lstrip("\ufeff").replace("\x00", "")


def _logical_lines(text: str) -> list[str]:
    """Unfolded, non-blank content lines, whatever the line endings were."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _FOLD.sub("", text)
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def _begin_end(line: str) -> tuple[str, str] | None:
    if line[:1] not in "BbEe":
        return None
    m = _BEGIN_END.match(line)
    if not m:
        return None
    return m.group(1).upper(), m.group(2).upper()


def _not_ical_reason(lines: list[str]) -> str:
    if not lines:
        return "not an iCalendar file: the body is empty"
    first = lines[0].strip()
    shown = first if len(first) <= 40 else first[:40] + "…"
    names = {be[1] for line in lines if (be := _begin_end(line)) and be[0] == "BEGIN" and be[1]}
    if names:
        return f"not an iCalendar file with events: no VCALENDAR or VEVENT, only {', '.join(sorted(names))}"
    return f"not an iCalendar file: starts with {shown!r}"


def _structure(lines: list[str], warns: _Warnings) -> list[str]:
    """Well-nested lines: one or more VCALENDAR blocks, nothing outside them.

    A bare VEVENT fragment is wrapped; text outside calendars is dropped;
    components left open at the end (a truncated download) are closed.
    """
    first_cal = next((i for i, l in enumerate(lines) if _begin_end(l) == ("BEGIN", "VCALENDAR")), None)
    if first_cal is None:
        first_event = next((i for i, l in enumerate(lines) if _begin_end(l) == ("BEGIN", "VEVENT")), None)
        if first_event is None:
            raise ExtractError(_not_ical_reason(lines))
        first_begin = next(i for i, l in enumerate(lines) if (be := _begin_end(l)) and be[0] == "BEGIN")
        if first_begin:
            warns.add(f"ignored {first_begin} lines before the first component")
        warns.add("no VCALENDAR wrapper: read the bare VEVENTs as a calendar")
        lines = ["BEGIN:VCALENDAR", *lines[first_begin:], "END:VCALENDAR"]
    elif first_cal:
        warns.add(f"ignored {first_cal} lines before BEGIN:VCALENDAR")
        lines = lines[first_cal:]

    out: list[str] = []
    stack: list[str] = []
    stray = 0
    for line in lines:
        be = _begin_end(line)
        if not stack:
            if be == ("BEGIN", "VCALENDAR"):
                stack.append("VCALENDAR")
                out.append(line)
            elif line.upper().startswith("X-COMMENT"):
                continue
            else:
                stray += 1
            continue
        if be is None:
            out.append(line)
        elif be[0] == "BEGIN":
            if not be[1]:
                stray += 1
                continue
            stack.append(be[1])
            out.append(line)
        elif be[1] in stack:
            while stack[-1] != be[1]:
                out.append(f"END:{stack.pop()}")
            stack.pop()
            out.append(line)
        else:
            stray += 1
    if stray:
        warns.add(f"ignored {stray} stray lines outside or between components")
    if stack:
        warns.add(f"the file ends inside {stack[-1]} (truncated?): closed {len(stack)} open components")
        out.extend(f"END:{name}" for name in reversed(stack))
    return out


# ---------------------------------------------------------------- parsing


def _parse_calendars(lines: list[str], warns: _Warnings) -> list[icalendar.Calendar]:
    text = "\r\n".join(lines) + "\r\n"
    try:
        comps = icalendar.Calendar.from_ical(text, multiple=True)
    except Exception as exc:  # strict levels (VCALENDAR, VTIMEZONE, VALARM) raise
        warns.add(f"calendar not fully readable ({_short(exc)}); read its components one by one")
        return _salvage(lines, warns)
    return [c for c in comps if isinstance(c, icalendar.Calendar)]


def _split_blocks(lines: list[str]) -> list[tuple[list[str], list[list[str]]]]:
    """Top-level calendars of well-nested lines: (property lines, child blocks)."""
    calendars: list[tuple[list[str], list[list[str]]]] = []
    depth = 0
    props: list[str] = []
    children: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        be = _begin_end(line)
        if be and be[0] == "BEGIN":
            depth += 1
            if depth == 1:
                props, children = [], []
                continue
            if depth == 2:
                current = []
        if depth >= 2:
            current.append(line)
        elif depth == 1 and not be:
            props.append(line)
        if be and be[0] == "END":
            depth -= 1
            if depth == 1:
                children.append(current)
            elif depth == 0:
                calendars.append((props, children))
    return calendars


def _try_parse(text: str) -> icalendar.Calendar | None:
    try:
        comps = icalendar.Calendar.from_ical(text, multiple=True)
    except Exception:
        return None
    return comps[0] if len(comps) == 1 and isinstance(comps[0], icalendar.Calendar) else None


def _salvage(lines: list[str], warns: _Warnings) -> list[icalendar.Calendar]:
    calendars = []
    for props, children in _split_blocks(lines):
        good_props = [p for p in props if _try_parse(f"BEGIN:VCALENDAR\r\n{p}\r\nEND:VCALENDAR\r\n")]
        if len(good_props) < len(props):
            warns.add(f"ignored {len(props) - len(good_props)} unreadable calendar properties")
        cal = _try_parse("BEGIN:VCALENDAR\r\n" + "".join(p + "\r\n" for p in good_props) + "END:VCALENDAR\r\n")
        if cal is None:
            cal = icalendar.Calendar()
        for block in children:
            parsed = _try_parse("BEGIN:VCALENDAR\r\n" + "\r\n".join(block) + "\r\nEND:VCALENDAR\r\n")
            if parsed is None and len(block) > 2:
                # drop nested components (VALARM, …) that the strict levels reject
                flat, depth = [], 0
                for line in block:
                    be = _begin_end(line)
                    if be and be[0] == "BEGIN":
                        depth += 1
                    if depth <= 1:
                        flat.append(line)
                    if be and be[0] == "END":
                        depth -= 1
                parsed = _try_parse("BEGIN:VCALENDAR\r\n" + "\r\n".join(flat) + "\r\nEND:VCALENDAR\r\n")
                if parsed is not None:
                    warns.add(f"dropped unreadable sub-components of a {block[0][6:].upper()}")
            if parsed is None:
                warns.add(f"skipped an unreadable {_begin_end(block[0])[1]} component")
                continue
            for sub in parsed.subcomponents:
                cal.add_component(sub)
        calendars.append(cal)
    return calendars


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- property helpers


def _first(value):
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(component, name: str) -> str:
    value = _first(component.get(name))
    return "" if value is None else str(value)


def _dt_of(prop):
    """The date/datetime of a DTSTART-like property, or None."""
    if prop is None or isinstance(prop, vBroken):
        return None
    try:
        value = prop.dt
    except Exception:
        return None
    if isinstance(value, (date, datetime)):
        return value
    return None


def _tzid_of(prop) -> str | None:
    params = getattr(prop, "params", None) or {}
    tzid = params.get("TZID")
    return str(tzid) if tzid else None


def _add_duration(start: When, duration: timedelta) -> When:
    if not isinstance(start, datetime):
        return start + timedelta(days=duration.days + (1 if duration.seconds and duration.days < 0 else 0))
    result = start + timedelta(days=duration.days)  # nominal days: same wall time
    if duration.seconds or duration.microseconds:
        exact = timedelta(seconds=duration.seconds, microseconds=duration.microseconds)
        if result.tzinfo is None:
            result = result + exact
        else:
            result = (result.astimezone(UTC) + exact).astimezone(result.tzinfo)
    return result


def _before(a: When, b: When) -> bool:
    """a < b, comparing wall times when one is floating and one is aware."""
    if isinstance(a, datetime) and isinstance(b, datetime) and (a.tzinfo is None) != (b.tzinfo is None):
        return a.replace(tzinfo=None) < b.replace(tzinfo=None)
    return a < b


_ZULU_DATE = re.compile(r"^(\d{8})Z$")
_ZULU_IN_ERROR = re.compile(r"'\d{8}Z(,\d{8}Z)*'")


def _zulu_dates(prop) -> list[date]:
    """The dates of an unreadable RDATE/EXDATE value list made only of DATEs with a "Z" (else [])."""
    parts = str(prop).split(",") if isinstance(prop, vBroken) else []
    days = []
    for part in parts:
        m = _ZULU_DATE.match(part.strip())
        if m is None:
            return []
        try:
            days.append(datetime.strptime(m.group(1), "%Y%m%d").date())
        except ValueError:
            return []
    return days


def _span_of(start: When, end: When) -> timedelta | None:
    """end - start, or None where one is floating and the other aware."""
    try:
        return end - start
    except TypeError:
        return None


def _offset(new: When, old: When) -> timedelta:
    """new - old (the shift of a THISANDFUTURE instance), zero where they cannot be subtracted."""
    return _span_of(old, new) or timedelta()


def _rid_key(value: When) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            return value.astimezone(UTC).isoformat()
        except OverflowError:  # year 1 east of UTC: a key is all it must be (normalize drops the event)
            return value.isoformat()
    return value.isoformat()


# ---------------------------------------------------------------- recurrence rules


def _rrule_text(prop) -> str:
    if isinstance(prop, vRecur):
        return prop.to_ical().decode("utf-8", "replace")
    return str(prop)


def repair_rrule(raw: str, start: When, local_zone: tzinfo) -> tuple[str | None, list[str]]:
    """A dateutil-readable RRULE for ``start`` (or None) and what was done to it."""
    notes: list[str] = []
    text = raw.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    parts: dict[str, str] = {}
    for chunk in text.split(";"):
        if not chunk.strip():
            continue
        if "=" not in chunk:
            return None, [f"part {chunk!r} is not NAME=VALUE"]
        key, _, val = chunk.partition("=")
        parts.setdefault(key.strip().upper(), val.strip())
    if "FREQ" not in parts:
        return None, ["it has no FREQ"]
    if "COUNT" in parts:
        try:
            count = int(parts["COUNT"])
        except ValueError:
            count = 0
        if count <= 0:
            if parts["COUNT"] != "-1":
                notes.append(f"dropped COUNT={parts['COUNT']}")
            del parts["COUNT"]
    if "UNTIL" in parts:
        until = _fit_until(parts["UNTIL"], start, local_zone)
        if until is None:
            return None, [f"UNTIL={parts['UNTIL']} is not a date"]
        parts["UNTIL"] = until
        if "COUNT" in parts:
            notes.append("dropped COUNT next to UNTIL")
            del parts["COUNT"]
    rule = ";".join(f"{k}={v}" for k, v in [("FREQ", parts.pop("FREQ").upper()), *parts.items()])
    probe = start if isinstance(start, datetime) else datetime.combine(start, time())
    try:
        dateutil_rrule.rrulestr(rule, dtstart=probe)
        vRecur.from_ical(rule)
    except Exception as exc:
        return None, [_short(exc, 80)]
    return rule, notes


def _fit_until(value: str, start: When, local_zone: tzinfo) -> str | None:
    """UNTIL in the value type RFC 5545 demands for this DTSTART."""
    m = _UNTIL.match(value.strip())
    if not m:
        return None
    day_text, time_text, zulu = m.group(1), m.group(2), bool(m.group(3))
    try:
        day = datetime.strptime(day_text, "%Y%m%d").date()
        clock = datetime.strptime(time_text, "%H%M%S").time() if time_text else None
    except ValueError:
        return None
    if not isinstance(start, datetime):
        return day.strftime("%Y%m%d")
    if clock is None:
        until = datetime.combine(day, time(23, 59, 59))
        zulu = False
    else:
        until = datetime.combine(day, clock)
    if start.tzinfo is None:  # floating start: floating UNTIL
        if zulu:
            until = until.replace(tzinfo=UTC).astimezone(local_zone).replace(tzinfo=None)
        return until.strftime("%Y%m%dT%H%M%S")
    if not zulu:
        until = until.replace(tzinfo=start.tzinfo)
    else:
        until = until.replace(tzinfo=UTC)
    return until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


# ---------------------------------------------------------------- several RRULEs

# How many dates of a further RRULE are compared with the first rule's (and
# listed as its claims); a finite rule is rarely longer, an endless one is cut.
EXTRA_RULE_SCAN = 1000


@dataclass(frozen=True)
class SplitRule:
    """A further RRULE of an event, as a series of its own (see ``split_extra_rule``)."""

    event: RawEvent
    dates: frozenset[str]  # _rid_key of its first EXTRA_RULE_SCAN dates
    overlap_unchecked: bool  # the rule goes on past the dates compared


def split_extra_rule(event: RawEvent, rule: str, uid: str) -> SplitRule | None:
    """A further RRULE of ``event`` as a series of its own under ``uid``, or None when it adds no date.

    RFC 5545 deprecated several RRULEs in one VEVENT, and Outlook and Google
    read only the first; RFC 2445 (and recurring-ical-events) make the
    occurrence set the union of all rules. The first rule stays with the
    event; each further one becomes a copy of the event whose DTSTART is the
    rule's first date (a date of the rule, so COUNT and the INTERVAL phase
    stay as they were) and whose EXDATEs also remove the dates the event
    already has (DTSTART, RDATE, the first rule), so no date is given twice.
    Only the first ``EXTRA_RULE_SCAN`` dates of the rule are compared. None
    too when either rule matches too rarely to be walked (``walk_rule``).
    """
    dates = walk_rule(rule, event.start, limit=EXTRA_RULE_SCAN + 1)
    if not dates:
        return None
    unchecked = len(dates) > EXTRA_RULE_SCAN
    dates = dates[:EXTRA_RULE_SCAN]
    taken = {_rid_key(v) for v in (event.start, *event.rdates, *event.exdates)}
    if event.rrule:
        last = dates[-1]
        first_rule = walk_rule(event.rrule, event.start, stop=last + (ONE_DAY if not isinstance(last, datetime) else timedelta(seconds=1)),
                               limit=100 * EXTRA_RULE_SCAN)
        if first_rule is None:
            return None
        taken.update(_rid_key(v) for v in first_rule)
    own = [v for v in dates if _rid_key(v) not in taken]
    if not own:
        return None
    first = own[0]
    shared = tuple(v for v in dates if _before(first, v) and _rid_key(v) in taken)
    skipped = dates.index(first)
    if skipped:  # COUNT counts from DTSTART: the dates before the new one are gone
        parts = [p.split("=", 1) for p in rule.split(";")]
        rule = ";".join(f"{k}={int(v) - skipped}" if k == "COUNT" else f"{k}={v}" for k, v in parts)
    span = None if event.end is None else _span_of(event.start, event.end)
    end = None if span is None else first + span
    split = replace(
        event, source_uid=uid, start=first, end=end, rrule=rule, rdates=(),
        exdates=tuple(dict.fromkeys((*event.exdates, *shared))), recurrence_id=None,
    )
    return SplitRule(split, frozenset(_rid_key(v) for v in own), unchecked)


def _is_series_date(series: RawEvent, value: When) -> bool:
    """Whether ``value`` is one of the dates of ``series`` (DTSTART, its rule's first dates, RDATE; not EXDATE'd)."""
    key = _rid_key(value)
    if key in {_rid_key(v) for v in series.exdates}:
        return False
    if key in {_rid_key(v) for v in (series.start, *series.rdates)}:
        return True
    if not series.rrule:
        return False
    bound = value + (ONE_DAY if not isinstance(value, datetime) else timedelta(seconds=1))
    dates = walk_rule(series.rrule, series.start, stop=bound, limit=100 * EXTRA_RULE_SCAN)
    return dates is None or key in {_rid_key(v) for v in dates}  # None: unknown, so not stale


# ---------------------------------------------------------------- events


@dataclass
class _Item:
    uid: str
    rid: When | None
    sequence: int
    order: int
    calendar: int  # 1-based number of the VCALENDAR in the body
    event: RawEvent
    # for a series split off a further RRULE: the _rid_key of its dates (the
    # first EXTRA_RULE_SCAN), so that an instance of the original UID that
    # replaces one of them follows it to the split series
    claims: frozenset[str] = frozenset()
    synthetic: bool = False  # an instance made from an RDATE PERIOD, not one the file has
    future: bool = False  # RECURRENCE-ID;RANGE=THISANDFUTURE

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.uid, None if self.rid is None else _rid_key(self.rid))

    @property
    def content(self) -> tuple:
        e = self.event
        return (e.start, e.end, e.title, e.location)


_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z][^<>]*>")


def uid_text(uid: str) -> str:
    """The text of a UID that is HTML markup: tags dropped, character references resolved.

    A WordPress calendar behind an e-mail obfuscation plugin exports UIDs like
    ``<span class="xQ8Cnt">gro&#x2e;fthilc&#64;…</span>``; such a class name may
    change with every page load, the text inside does not, so the text keeps
    the event's identity from one fetch to the next.
    """
    return html.unescape(_MARKUP.sub("", uid)).strip() or uid


def synthetic_uid(start: When, title: str, location: str) -> str:
    """A stable UID for an event that has none: the same input gives the same UID."""
    raw = "\x1f".join((start.isoformat(), title.strip(), location.strip()))
    return "nouid-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


_STATUS = {"CANCELLED": "cancelled", "CANCELED": "cancelled", "TENTATIVE": "tentative"}


class _Extractor:
    def __init__(self, ctx: ExtractContext, fast: bool = True) -> None:
        self.ctx = ctx
        self.fast = fast  # try ics_lines first (False: icalendar only, for the tests that compare the two)
        self.warns = _Warnings()
        self.items: list[_Item] = []
        self.calendar_no = 0

    def run(self, body: bytes) -> Extraction:
        if not isinstance(body, (bytes, bytearray)):
            raise ExtractError("not an iCalendar file: the body is not bytes")
        lines = _logical_lines(_decode(bytes(body)))
        lines = _structure(lines, self.warns)
        fast = ics_lines.read(lines) if self.fast else None
        if fast is not None:
            return self._finish_fast(fast)
        calendars = _parse_calendars(lines, self.warns)
        if not calendars:
            raise ExtractError("not an iCalendar file: no readable VCALENDAR")
        ignored: dict[str, int] = {}
        n_vevents = 0
        for self.calendar_no, cal in enumerate(calendars, start=1):
            cal = self._standardize(cal)
            zones = Zones(cal, self.warns.add)
            for name in IGNORED_COMPONENTS:
                if count := len(cal.walk(name)):
                    ignored[name] = ignored.get(name, 0) + count
            for vevent in cal.walk("VEVENT"):
                n_vevents += 1
                try:
                    self._read_event(vevent, zones, n_vevents)
                except OverflowError:  # e.g. DTSTART 9999-12-31 plus its DURATION
                    self.warns.add(f"skipped event #{n_vevents}: a date or duration beyond the calendar's range")
        for name, count in ignored.items():
            self.warns.add(f"ignored {count} {name} component{'s' if count != 1 else ''}")
        if not n_vevents:
            self.warns.add("the calendar has no events (no VEVENT)")
        events = self._resolve_items()
        return Extraction(events=events, warnings=self.warns.finish())

    def _finish_fast(self, calendars: list[list[ics_lines.FastEvent]]) -> Extraction:
        """``run`` for what ``ics_lines`` read: the same events and warnings, without icalendar's tree."""
        n_vevents = 0
        for self.calendar_no, vevents in enumerate(calendars, start=1):
            for vevent in vevents:
                n_vevents += 1
                try:
                    self._read_event(vevent, ics_lines.PassZones, n_vevents)
                except OverflowError:
                    self.warns.add(f"skipped event #{n_vevents}: a date or duration beyond the calendar's range")
        if not n_vevents:
            self.warns.add("the calendar has no events (no VEVENT)")
        events = self._resolve_items()
        return Extraction(events=events, warnings=self.warns.finish())

    def _standardize(self, cal: icalendar.Calendar) -> icalendar.Calendar:
        """Apply X-WR-TIMEZONE as Google means it (floating and UTC times in that zone)."""
        value = _first(cal.get("X-WR-TIMEZONE"))
        if value is None or not str(value).strip():
            return cal
        zone = resolve_tzid(str(value))
        if zone is None:
            self.warns.add(f"unknown X-WR-TIMEZONE {str(value)!r}: ignored")
            return cal
        try:
            return x_wr_timezone.to_standard(cal, timezone=zone)
        except Exception as exc:
            self.warns.add(f"could not apply X-WR-TIMEZONE {str(value)!r}: {_short(exc, 80)}")
            return cal

    def _read_event(self, ev: icalendar.Component, zones: Zones, number: int) -> None:
        warns = self.warns
        uid_raw = _text(ev, "UID").strip()
        if _MARKUP.search(uid_raw):
            uid_raw = uid_text(uid_raw)
            warns.add("UIDs are HTML markup (a web page's e-mail obfuscation?): used their text")
        title = _text(ev, "SUMMARY")
        label = f"event {uid_raw!r}" if uid_raw else (f"event {title!r}" if title else f"event #{number}")
        if len(label) > 90:
            label = label[:88] + "…'"

        for name, message in getattr(ev, "errors", []) or []:
            if name in ("RDATE", "EXDATE") and _ZULU_IN_ERROR.search(str(message)):
                continue  # read as dates below (``_zulu_dates``), with a warning of its own
            what = f"unreadable {name}" if name else "an unreadable line"
            warns.add(f"{label}: ignored {what} ({_short(message, 80)})")

        starts = _as_list(ev.get("DTSTART"))
        start_raw = _dt_of(starts[0]) if starts else None
        if start_raw is None:
            shown = f" ({str(starts[0])[:30]!r})" if starts else ""
            warns.add(f"skipped {label}: no usable DTSTART{shown}")
            return
        start = zones.convert(start_raw, _tzid_of(starts[0]))

        start, end = self._span(ev, start, zones, label)

        rid = None
        future = False
        rid_prop = _first(ev.get("RECURRENCE-ID"))
        if rid_prop is not None:
            rid_raw = _dt_of(rid_prop)
            if rid_raw is None:
                warns.add(f"skipped {label}: unreadable RECURRENCE-ID")
                return
            rid = zones.convert(rid_raw, _tzid_of(rid_prop))
            params = getattr(rid_prop, "params", None) or {}
            future = str(params.get("RANGE", "")).upper() == "THISANDFUTURE"

        rules: list[str] = []
        for prop in _as_list(ev.get("RRULE")):
            raw = _rrule_text(prop)
            if not raw.strip():  # "RRULE:" means none
                continue
            rule, notes = repair_rrule(raw, start, self.ctx.timezone)
            if rule is None:
                warns.add(f"{label}: dropped unreadable RRULE {raw[:60]!r} ({'; '.join(notes)})")
                continue
            if notes:
                warns.add(f"{label}: repaired RRULE ({'; '.join(notes)})")
            rules.append(rule)
        rrule = rules[0] if rules else None

        location = _text(ev, "LOCATION")
        periods: list[tuple[When, When]] = []
        uid = uid_raw or synthetic_uid(start, title, location)
        try:
            sequence = int(str(_first(ev.get("SEQUENCE")) or 0).strip())
        except ValueError:
            sequence = 0

        event = RawEvent(
            source_uid=uid,
            title=title,
            start=start,
            end=end,
            description=_text(ev, "DESCRIPTION"),
            location=location,
            url=_text(ev, "URL").strip(),
            status=_STATUS.get(_text(ev, "STATUS").strip().upper(), "confirmed"),
            categories=self._categories(ev),
            rrule=rrule,
            rdates=self._dates(ev, "RDATE", zones, label, periods),
            exdates=self._dates(ev, "EXDATE", zones, label),
            recurrence_id=rid,
        )
        self.items.append(_Item(
                uid=uid, rid=rid, sequence=sequence, order=len(self.items), calendar=self.calendar_no, event=event,
                future=future,
            ))
        if periods and rid is None:
            self._period_instances(self.items[-1], periods, label)
        for n, rule in enumerate(rules[1:] if rid is None else (), start=2):
            split = split_extra_rule(event, rule, f"{uid}#rrule{n}")
            if split is None:
                warns.add(f"{label}: RRULE #{n} adds no date of its own (or matches too rarely to compare): ignored")
                continue
            if split.overlap_unchecked:
                warns.add(f"{label}: RRULE #{n} kept as series {split.event.source_uid!r}; dates it shares with "
                          f"the first rule were looked for among its first {EXTRA_RULE_SCAN} only")
            self.items.append(_Item(
                uid=split.event.source_uid, rid=None, sequence=sequence, order=len(self.items),
                calendar=self.calendar_no, event=split.event, claims=split.dates,
            ))

    def _span(self, ev, start: When, zones: Zones, label: str) -> tuple[When, When | None]:
        """Start and exclusive end: DTEND, else DURATION, else one day for all-day."""
        warns = self.warns
        end: When | None = None
        dtend = _first(ev.get("DTEND"))
        if dtend is not None:
            raw = _dt_of(dtend)
            if raw is None:
                warns.add(f"{label}: ignored unreadable DTEND")
            else:
                end = zones.convert(raw, _tzid_of(dtend))
        if end is None:
            duration = _first(ev.get("DURATION"))
            value = None if duration is None or isinstance(duration, vBroken) else getattr(duration, "dt", None)
            if isinstance(value, timedelta):
                end = _add_duration(start, value)
            elif duration is not None and dtend is None:
                warns.add(f"{label}: ignored unreadable DURATION")
        all_day = not isinstance(start, datetime)
        if end is None:
            return start, (start + ONE_DAY if all_day else None)
        if all_day and isinstance(end, datetime):
            end = end.date() + (ONE_DAY if end.time() != time() else timedelta())
        elif not all_day and not isinstance(end, datetime):
            end = datetime.combine(end, time(), tzinfo=start.tzinfo)
        if _before(end, start):
            warns.add(f"{label}: end before start, swapped them")
            start, end = end, start
        if all_day and end == start:
            end = start + ONE_DAY
        return start, end

    def _categories(self, ev) -> tuple[str, ...]:
        out: list[str] = []
        for prop in _as_list(ev.get("CATEGORIES")):
            values = getattr(prop, "cats", None)
            if values is None:
                values = [prop]
            for value in values:
                text = str(value).strip()
                if text and text not in out:
                    out.append(text)
        return tuple(out)

    def _dates(self, ev, name: str, zones: Zones, label: str, periods: list | None = None) -> tuple[When, ...]:
        """The values of RDATE/EXDATE; a PERIOD gives its start, and (start, end) is added to ``periods``."""
        out: list[When] = []
        for prop in _as_list(ev.get(name)):
            dts = getattr(prop, "dts", None) if not isinstance(prop, vBroken) else None
            if dts is None and (days := _zulu_dates(prop)):
                # Google's birthday calendars write RDATE:20131210Z, a DATE with a "Z": the date
                self.warns.add(f"{label}: read {name} {str(prop)[:40]!r} as dates (a DATE cannot be UTC)")
                out.extend(d for d in days if d not in out)
                continue
            if dts is None:
                self.warns.add(f"{label}: ignored unreadable {name}")
                continue
            list_tzid = _tzid_of(prop)
            for item in dts:
                try:
                    value = item.dt
                except Exception:
                    continue
                period_end = None
                if isinstance(value, tuple):  # PERIOD: its start is the date, its end or duration the occurrence's
                    value, period_end = value if len(value) == 2 else (None, None)
                if isinstance(value, (date, datetime)):
                    tzid = _tzid_of(item) or list_tzid
                    converted = zones.convert(value, tzid)
                    if converted not in out:
                        out.append(converted)
                    if periods is not None and period_end is not None:
                        if isinstance(period_end, timedelta):
                            end = _add_duration(converted, period_end)
                        elif isinstance(period_end, datetime):
                            end = zones.convert(period_end, tzid)
                        else:
                            end = None
                        if end is not None and type(end) is type(converted):
                            periods.append((converted, end))
        return tuple(out)

    def _period_instances(self, master: _Item, periods: list[tuple[When, When]], label: str) -> None:
        """An RDATE PERIOD whose length is not the event's becomes an instance of its own.

        The store and the published ICS keep an RDATE as a date; the period's
        end lives on as what RFC 5545 offers for one occurrence that differs
        from the series: a RECURRENCE-ID instance with that DTSTART and DTEND
        (``synthetic``, so a real instance for the same date wins).
        """
        ev = master.event
        for start, end in periods:
            if isinstance(start, datetime) != isinstance(ev.start, datetime):
                continue  # a timed period of an all-day series (or back): the RDATE's date is all it can be
            if _before(end, start):
                self.warns.add(f"{label}: RDATE period ends before it starts: kept its start only")
                continue
            if ev.end is not None and type(ev.start) is type(start) and _span_of(ev.start, ev.end) == _span_of(start, end):
                continue  # the series' own length: the RDATE says it all
            instance = replace(ev, start=start, end=end, rrule=None, rdates=(), exdates=(), recurrence_id=start)
            self.items.append(_Item(
                uid=master.uid, rid=start, sequence=master.sequence, order=len(self.items),
                calendar=master.calendar, event=instance, synthetic=True,
            ))

    def _drop_repeated_orphans(self, kept: list[_Item], masters: set[str]) -> list[_Item]:
        """Drop instances without their series that repeat a stated date of another event.

        Google's birthday calendars export the series under one UID and its
        instances under another (``2014_BIRTHDAY_x`` and ``BIRTHDAY_x``), so
        the instances lose their series and would show each birthday twice.
        An instance without series whose title, start and length are those of
        an event's DTSTART or RDATE in the same file is that date once more.
        """
        stated: set[tuple] = set()
        for item in kept:
            ev = item.event
            if item.rid is None or item.uid in masters:
                length = _span_of(ev.start, ev.end) if ev.end is not None else None
                for value in (ev.start, *ev.rdates):
                    stated.add((ev.title.strip(), _rid_key(value), length))
        out, dropped = [], 0
        for item in kept:
            ev = item.event
            if item.rid is not None and item.uid not in masters:
                length = _span_of(ev.start, ev.end) if ev.end is not None else None
                if (ev.title.strip(), _rid_key(ev.start), length) in stated:
                    dropped += 1
                    continue
            out.append(item)
        if dropped:
            self.warns.add(f"dropped {dropped} recurrence instances without their series that repeat a date "
                           "of an event of the same title")
        return out

    def _drop_stale_instances(self, kept: list[_Item]) -> list[_Item]:
        """Drop instances left over from an older version of their series.

        An instance that carries an RRULE of its own (a copy of the series as
        it was when the instance was made), has a lower SEQUENCE than the
        series' master, and whose RECURRENCE-ID is no date of the series any
        more (the series was cut short since) is superseded (RFC 5546 §2.1.5:
        the higher SEQUENCE is the newer revision). recurring-ical-events
        skips such an instance too (its issue 253).
        """
        masters = {i.uid: i for i in kept if i.rid is None}
        out = []
        for item in kept:
            master = masters.get(item.uid)
            if (
                item.rid is not None and master is not None and item.event.rrule
                and item.sequence < master.sequence and not _is_series_date(master.event, item.rid)
            ):
                self.warns.add(f"event {item.uid!r}: dropped the instance of {item.rid.isoformat()}: an older "
                               f"version of the series (SEQUENCE {item.sequence} < {master.sequence}) and no date of it now")
                continue
            out.append(item)
        return out

    def _apply_ranges(self, kept: list[_Item]) -> list[_Item]:
        """Split each series at its THISANDFUTURE instances (``ics_ranges``), in the order of their dates.

        A later instance (of either kind) belongs to the part its date falls
        in: it takes that part's UID and its RECURRENCE-ID moves by that part's shift.
        """
        masters = {i.uid: i for i in kept if i.rid is None}
        futures = sorted((i for i in kept if i.future and i.uid in masters), key=lambda i: _rid_key(i.rid))
        if not futures:
            return kept
        # uid → the parts of its series: (first original date, shift, item), in date order
        parts: dict[str, list[tuple[When | None, timedelta, _Item]]] = {}
        gone: set[int] = set()
        for item in futures:
            chain = parts.setdefault(item.uid, [(None, timedelta(), masters[item.uid])])
            frm, delta, owner = next(p for p in reversed(chain) if p[0] is None or not _before(item.rid, p[0]))
            at = ics_ranges.shifted(item.rid, delta)
            label = f"event {item.uid!r}"
            new_uid = f"{item.uid}#from-{_rid_key(item.rid)}"
            result = ics_ranges.split_at(owner.event, item.event, at, new_uid)
            if isinstance(result, str):
                self.warns.add(f"{label}: RANGE=THISANDFUTURE at {item.rid.isoformat()} read as this date only ({result})")
                continue
            head, tail = result
            if head is None:  # the instance replaces the part from its first date
                tail.source_uid = owner.uid
                owner.event = tail
                chain[chain.index((frm, delta, owner))] = (frm, delta + _offset(tail.start, at), owner)
            else:
                owner.event = head
                split = _Item(uid=new_uid, rid=None, sequence=item.sequence, order=item.order,
                              calendar=item.calendar, event=tail)
                kept.append(split)
                chain.append((item.rid, delta + _offset(tail.start, at), split))
            gone.add(id(item))
        out = []
        for item in kept:
            if id(item) in gone:
                continue
            chain = parts.get(item.uid)
            if item.rid is not None and chain:
                frm, delta, owner = next(p for p in reversed(chain) if p[0] is None or not _before(item.rid, p[0]))
                if frm is not None or delta:
                    item.rid = ics_ranges.shifted(item.rid, delta)
                    item.uid = item.event.source_uid = owner.uid
                    item.event.recurrence_id = item.rid
            out.append(item)
        return sorted(out, key=lambda i: i.order)

    def _separate_shared_uids(self) -> None:
        """Different events that share a UID across VCALENDARs keep apart.

        Some exporters (and people concatenating files) reuse one UID for
        unrelated events in separate calendars. When the same UID, the same
        RECURRENCE-ID and the same SEQUENCE come with different content, the
        later calendar's events under that UID get the UID "<uid>#<n>" (n: the
        calendar's number in the body).
        """
        first: dict[tuple[str, str | None], _Item] = {}
        rename: set[tuple[int, str]] = set()
        for item in self.items:
            other = first.setdefault(item.key, item)
            if (
                other is not item
                and other.calendar != item.calendar
                and other.sequence == item.sequence
                and other.content != item.content
            ):
                rename.add((item.calendar, item.uid))
        for calendar, uid in sorted(rename):
            self.warns.add(f"UID {uid!r} names different events in several calendars: kept them apart")
        for item in self.items:
            if (item.calendar, item.uid) in rename:
                item.uid = item.event.source_uid = f"{item.uid}#{item.calendar}"

    def _resolve_items(self) -> list[RawEvent]:
        """Drop duplicates (highest SEQUENCE wins), detach orphaned instances."""
        self._separate_shared_uids()
        best: dict[tuple[str, str | None], _Item] = {}
        for item in self.items:
            key = item.key
            other = best.get(key)
            if other is None:
                best[key] = item
                continue
            if item.synthetic or other.synthetic:  # the file's own instance wins, silently
                if other.synthetic and not item.synthetic:
                    best[key] = item
                continue
            what = "instance" if item.rid is not None else "event"
            self.warns.add(f"duplicate {what} UID {item.uid!r}: kept the one with the higher SEQUENCE")
            if item.sequence >= other.sequence:
                best[key] = item
        kept = sorted(best.values(), key=lambda i: i.order)
        # an instance that replaces a date of a series split off a further
        # RRULE belongs to that series now
        claimed = {(i.uid.rsplit("#rrule", 1)[0], key): i.uid for i in kept for key in i.claims}
        for item in kept:
            if item.rid is not None and (owner := claimed.get((item.uid, _rid_key(item.rid)))):
                item.uid = item.event.source_uid = owner
        kept = self._drop_stale_instances(kept)
        kept = self._apply_ranges(kept)
        masters = {i.uid for i in kept if i.rid is None}
        kept = self._drop_repeated_orphans(kept, masters)
        events = []
        orphans = 0
        for item in kept:
            ev = item.event
            if item.rid is not None and item.uid not in masters:
                orphans += 1
                ev.source_uid = f"{item.uid}/{item.rid.isoformat()}"
                ev.recurrence_id = None
            events.append(ev)
        if orphans:
            self.warns.add(f"kept {orphans} recurrence instances without their series as single events")
        return events

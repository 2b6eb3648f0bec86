"""Stored series → their occurrences in a time window.

The store keeps recurrence as the source stated it (an RRULE as text, RDATE
and EXDATE values, RECURRENCE-ID overrides as events of their own, see
``aggregator.extract.ics``). Whoever needs concrete dates (conflicts, the
"check a date" view) asks this module:

- ``occurrences(series, overrides, start, end)``: every occurrence of one
  series (its master and the overrides of the same source and UID) that
  overlaps the half-open window ``[start, end)``.
- ``expand(events, start, end)``: the same for a mixed list of events,
  grouped into series by (source_id, source_uid).
- ``over_limit(series, overrides, start, end, limit=)``: whether expanding
  the series in the window would be cut at ``limit`` (or fail), cheaply: a
  simple rule is judged by arithmetic, without expanding it.

Expansion is done by ``recurring-ical-events`` on a small calendar built
from the events, so EXDATE, RDATE (also PERIOD), RECURRENCE-ID, time zones
and DST behave as in that library. Both functions return an
``Occurrences`` list (sorted by start) whose ``warnings`` say what could not
be expanded as stated; they never raise because of an event's data:

- a rule the library cannot read yields the master's first occurrence
  (and the overrides) and a warning;
- at most ``limit`` occurrences per series are returned (a 20 KB calendar can
  describe millions), with a warning when more were there (and ``capped``
  set). The expansion is lazy: it walks the window in chunks and stops just
  past ``limit``, so time and memory depend on ``limit``, not on the rule;
- a rule whose BY… parts match never or very rarely (``FREQ=DAILY;BYMONTH=2;
  BYMONTHDAY=30``) would make dateutil walk day by day to the year 9999, for
  every window asked; the expansion may make at most ``_CALLS_WITHOUT_PROGRESS``
  Python calls without finding an occurrence (about 180 per occurrence are
  normal), beyond that it yields the first occurrence and a warning, like a
  rule it cannot read, and the verdict is remembered for that rule and start.

All-day occurrences keep ``date`` values; for comparisons with the window a
day is taken in ``zone`` (Europe/Berlin unless told). Cancelled overrides are
returned with their status: the caller decides what a cancellation means.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from dateutil import rrule as dateutil_rrule
from icalendar.prop import vRecur

from aggregator.model import Event, When

UTC = timezone.utc
DEFAULT_ZONE = ZoneInfo("Europe/Berlin")
DEFAULT_LIMIT = 1000  # the default of [settings] max_occurrences

# The window is walked in chunks so that a dense rule stops near ``limit``
# instead of being expanded in full first; a chunk grows while it finds few
# occurrences and shrinks while it finds many.
_FIRST_CHUNK = timedelta(hours=6)
_MIN_CHUNK = timedelta(minutes=1)
_FEW, _MANY = 64, 1024
# dateutil walks a rule from its DTSTART: a SECONDLY rule begun decades
# before the window would take that many steps before the first hit.
_MAX_RULE_STEPS = 2_000_000
_FREQ_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600}
_REF = "X-NWT-REF"  # which of our events a VEVENT of the scratch calendar is
# Python calls an expansion may make without finding the next occurrence: a normal
# one makes about 180 per occurrence, and walking a daily rule from 1990 to today
# about 40,000; dateutil walking an impossible rule to the year 9999 makes millions.
_CALLS_WITHOUT_PROGRESS = 200_000
# (rule, start) of series found too costly, so that no later window pays again.
_TOO_COSTLY: dict[tuple[str, str], None] = {}
_TOO_COSTLY_KEPT = 4096


@dataclass(frozen=True)
class Occurrence:
    """One occurrence: its own start and end, and the event that defines it.

    ``event`` is the series master or the override that replaced this
    occurrence (its title, place and status apply). ``recurrence_id`` names
    the occurrence in the form of ``Event.recurrence_id`` (the ISO form of
    the original start, in the event's zone; a date for all-day series), ""
    for a plain event. ``end`` equals ``start`` for a timed event without end.
    """

    start: When
    end: When
    event: Event
    recurrence_id: str

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    @property
    def cancelled(self) -> bool:
        return self.event.status == "cancelled"


class Occurrences(list):
    """A ``list[Occurrence]`` with the warnings of its expansion."""

    def __init__(self, items: Iterable[Occurrence] = (), warnings: Iterable[str] = (), capped: bool = False) -> None:
        super().__init__(items)
        self.warnings: list[str] = list(warnings)
        self.capped = capped  # some series had more than ``limit`` occurrences in the window

    @property
    def occurrences(self) -> list[Occurrence]:
        return list(self)


# ---------------------------------------------------------------- public API


def occurrences(
    series: Event,
    overrides: Sequence[Event],
    start: datetime,
    end: datetime,
    *,
    limit: int = DEFAULT_LIMIT,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> Occurrences:
    """Every occurrence of ``series`` (+ its overrides) that overlaps ``[start, end)``.

    ``start`` and ``end`` must be aware datetimes (a programming error
    raises ``ValueError``); an event's data never makes this raise.
    """
    window = _Window(start, end, zone)
    label = f"{series.source_id}/{series.source_uid}"
    if window.empty:
        return Occurrences()
    if not series.rrule and not series.rdates and not overrides:
        out = [_plain(series)] if window.overlaps(series.start, _end(series)) else []
        return Occurrences(out)
    limit = max(0, int(limit))
    costly_key = (series.rrule or "", series.start.isoformat())
    budget = _CallBudget(_CALLS_WITHOUT_PROGRESS)
    try:
        if costly_key in _TOO_COSTLY:
            raise _OverBudget
        with budget.active():
            found, warnings = _expand_series(series, list(overrides), window, limit, label, budget)
    except _OverBudget:
        if len(_TOO_COSTLY) >= _TOO_COSTLY_KEPT:
            _TOO_COSTLY.pop(next(iter(_TOO_COSTLY)))
        _TOO_COSTLY[costly_key] = None
        found = _fallback(series, overrides, window)
        warnings = [f"{label}: its rule {series.rrule!r} matches too rarely to be expanded at a bearable cost; kept its first occurrence only"]
    except Exception as exc:  # a bad rule must not stop the caller
        found = _fallback(series, overrides, window)
        warnings = [f"{label}: could not expand the series ({_short(exc)}); kept its first occurrence only"]
    found.sort(key=window.sort_key)
    capped = len(found) > limit
    if capped:
        found = found[:limit]
        warnings.append(f"{label}: more than {limit} occurrences in the window; kept the first {limit}")
    return Occurrences(found, warnings, capped)


def over_limit(
    series: Event,
    overrides: Sequence[Event],
    start: datetime,
    end: datetime,
    *,
    limit: int = DEFAULT_LIMIT,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> Occurrences:
    """What ``occurrences`` would say about this series: an empty ``Occurrences`` when it
    surely has at most ``limit`` occurrences in ``[start, end)``, else the expansion itself
    (bounded by ``limit``) with its warnings and ``capped``.

    Meant for checking every series of a source at each fetch: a series whose
    rule is simple (COUNT, or no BY… part that multiplies) is judged by
    arithmetic, so only the dense or intricate ones are expanded."""
    window = _Window(start, end, zone)
    if window.empty or not (series.rrule or series.rdates):
        return Occurrences()
    bound = _quick_bound(series, overrides, window)
    if bound is not None and bound <= limit:
        return Occurrences()
    return occurrences(series, overrides, start, end, limit=limit, zone=zone)


def expand(
    events: Sequence[Event],
    start: datetime,
    end: datetime,
    *,
    limit: int = DEFAULT_LIMIT,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> Occurrences:
    """The occurrences of all ``events`` in ``[start, end)``, sorted by start.

    Events are grouped by (source_id, source_uid): the master (empty
    ``recurrence_id``) with its overrides form one series; an override
    whose master is missing counts as a plain event. ``limit`` applies to
    each series.
    """
    window = _Window(start, end, zone)
    groups: dict[tuple[str, str], tuple[list[Event], list[Event]]] = {}
    for ev in events:
        masters, overrides = groups.setdefault((ev.source_id, ev.source_uid), ([], []))
        (overrides if ev.recurrence_id else masters).append(ev)
    out = Occurrences()
    for (source_id, source_uid), (masters, overrides) in groups.items():
        if not masters:  # orphans: each one stands for itself
            for ev in overrides:
                if window.overlaps(ev.start, _end(ev)):
                    out.append(Occurrence(ev.start, _end(ev), ev, ev.recurrence_id))
            continue
        if len(masters) > 1:
            out.warnings.append(f"{source_id}/{source_uid}: {len(masters)} series masters share the UID; expanded each alone")
        for i, master in enumerate(masters):
            result = occurrences(master, overrides if i == 0 else (), start, end, limit=limit, zone=zone)
            out.extend(result)
            out.warnings.extend(result.warnings)
            out.capped = out.capped or result.capped
    out.sort(key=lambda o: (*window.sort_key(o), o.event.source_id, o.event.source_uid, o.recurrence_id))
    return out


# ---------------------------------------------------------------- the window


class _Window:
    def __init__(self, start: datetime, end: datetime, zone: ZoneInfo) -> None:
        for name, value in (("start", start), ("end", end)):
            if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"the window's {name} must be an aware datetime, not {value!r}")
        self.zone = zone
        # in the zone all-day dates are read in: the library compares a date
        # with the window as midnight in the window's time zone
        self.start = start.astimezone(zone)
        self.end = end.astimezone(zone)
        self.empty = self.end <= self.start

    def instant(self, value: When) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=self.zone)
        return datetime.combine(value, time(), self.zone)

    def overlaps(self, start: When, end: When) -> bool:
        s, e = self.instant(start), self.instant(end)
        if e <= s:  # a moment: in the window when it starts there
            return self.start <= s < self.end
        return s < self.end and e > self.start

    def sort_key(self, occ: Occurrence) -> tuple:
        return (self.instant(occ.start).astimezone(UTC), self.instant(occ.end).astimezone(UTC))


# ---------------------------------------------------------------- expansion


def _expand_series(
    master: Event, overrides: list[Event], window: _Window, limit: int, label: str, budget: _CallBudget
) -> tuple[list[Occurrence], list[str]]:
    warnings: list[str] = []
    refs = [master, *overrides]
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//Netzwerktimer//recurrence//DE")
    cal.add("VERSION", "2.0")
    rule = _rule(master) if master.rrule else None
    _check_rule_steps(master, rule, window)
    cal.add_component(_vevent(master, 0, master, rule))
    for i, ev in enumerate(overrides, start=1):
        try:
            cal.add_component(_vevent(ev, i, master, None))
        except ValueError as exc:
            warnings.append(f"{label}: ignored an override ({_short(exc)})")
    query = recurring_ical_events.of(cal)

    found: list[Occurrence] = []
    seen: set[tuple] = set()
    chunk_start, span = _first_chunk_start(master, overrides, window), _FIRST_CHUNK
    max_span = _max_span(rule)
    while chunk_start < window.end and len(found) <= limit:
        chunk_end = window.end if window.end - chunk_start <= span else chunk_start + span
        hits = 0
        # ``query.series`` rather than ``query.between``: the library's
        # between() lists a chunk in full, this stops at the limit.
        budget.check()
        for lib_series in query.series:
            for occ in lib_series.between(chunk_start, chunk_end):
                component = occ.as_component(False)
                ref = int(component.get(_REF, 0))
                key = (ref, _key(occ.start))
                if key in seen:  # spans the chunk border: already counted
                    continue
                seen.add(key)
                hits += 1
                event = refs[ref]
                if ref == 0:
                    rid = _rid_text(component.get("RECURRENCE-ID"), occ.start)
                else:
                    rid = event.recurrence_id
                found.append(Occurrence(occ.start, occ.end, event, rid))
                budget.progress()
                if len(found) > limit:
                    break
            if len(found) > limit:
                break
        chunk_start = chunk_end
        if hits >= _MANY:
            span = max(span / 2, _MIN_CHUNK)
        elif hits < _FEW:
            span = min(span * 2, max_span)
    return found, warnings


def walk_rule(rule: str, start: When, *, stop: When | None = None, limit: int = 1000) -> list[When] | None:
    """The first dates of the RRULE text ``rule`` from ``start`` (dateutil), before ``stop`` and
    at most ``limit``, in the form of ``start``; None when finding them would cost more than
    ``_CALLS_WITHOUT_PROGRESS`` calls without a date (a rule that matches never or rarely,
    which dateutil would walk to the year 9999). For the extractor, which compares rules
    before anything is stored; ``rule`` must be readable (``repair_rrule``'s output)."""
    probe = start if isinstance(start, datetime) else datetime.combine(start, time())
    out: list[When] = []
    budget = _CallBudget(_CALLS_WITHOUT_PROGRESS)
    try:
        with budget.active():
            for value in dateutil_rrule.rrulestr(rule, dtstart=probe):
                budget.progress()
                value = value if isinstance(start, datetime) else value.date()
                if len(out) >= limit or (stop is not None and not earlier(value, stop)):
                    break
                out.append(value)
            budget.check()
    except _OverBudget:
        return None
    return out


def earlier(a: When, b: When) -> bool:
    """a < b, wall times compared where one is floating and one aware, a date as its midnight."""
    if isinstance(a, datetime) != isinstance(b, datetime):
        a = a if isinstance(a, datetime) else datetime.combine(a, time())
        b = b if isinstance(b, datetime) else datetime.combine(b, time())
    if isinstance(a, datetime) and (a.tzinfo is None) != (b.tzinfo is None):
        return a.replace(tzinfo=None) < b.replace(tzinfo=None)
    return a < b


class _OverBudget(BaseException):
    """An expansion ran out of its call budget. A BaseException, so that no library's
    ``except Exception`` on the way up can swallow it and go on walking."""


# Frames of generators and coroutines: entering one may be its finalization by the
# garbage collector, which would only print an exception raised there and go on.
_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


class _CallBudget:
    """Inside ``active()``, abort (``_OverBudget``) after ``calls`` Python function calls in
    this thread without a ``progress()``. Counted by a trace function (which passes the
    events on to one already set, such as a coverage tool), so the verdict is exact and
    does not depend on the machine's speed. The trace function raises on the next call of
    a plain function; ``check()`` raises too, for the case that the exception was
    swallowed on its way (Python then removes the trace function)."""

    def __init__(self, calls: int) -> None:
        self.calls = self.left = calls

    def progress(self) -> None:
        self.left = self.calls

    def check(self) -> None:
        if self.left < 0:
            raise _OverBudget

    @contextmanager
    def active(self) -> Iterator[None]:
        previous = sys.gettrace()

        def tracer(frame, event, arg):
            if event == "call":
                self.left -= 1
                if self.left < 0 and not frame.f_code.co_flags & _RESUMABLE:
                    raise _OverBudget  # Python unsets the tracer; the finally below restores the previous one
            return previous(frame, event, arg) if previous is not None else None

        sys.settrace(tracer)
        try:
            yield
        finally:
            sys.settrace(previous)


def _quick_bound(master: Event, overrides: Sequence[Event], window: _Window) -> int | None:
    """An upper bound of the series' occurrences in the window when arithmetic gives one, else None."""
    extra = 1 + len(master.rdates) + len(overrides)
    if not master.rrule:
        return extra
    try:
        rule = _rule(master)
    except Exception:
        return None  # occurrences() will say what is wrong with it
    count = rule.get("COUNT")
    if count:
        return int(count[0]) + extra
    freq = str((rule.get("FREQ") or [""])[0]).upper()
    by = {k for k in rule if k.startswith("BY")}
    # Only parts that neither multiply a period unknowably nor can match never (BYMONTHDAY=30
    # with BYMONTH=2 does; that one must be expanded to be found out).
    if by - {"BYDAY", "BYMONTH"} or any(not str(day).isalpha() for day in rule.get("BYDAY") or []):
        return None
    multiplier = 1
    if freq == "WEEKLY":
        multiplier = max(len(rule.get("BYDAY") or []), 1)  # BYDAY adds days to each week
    elif by and freq != "DAILY":
        return None
    seconds = {**_FREQ_SECONDS, "DAILY": 86400, "WEEKLY": 7 * 86400, "MONTHLY": 28 * 86400, "YEARLY": 365 * 86400}.get(freq)
    if seconds is None:
        return None
    interval = max(int((rule.get("INTERVAL") or [1])[0] or 1), 1)
    first = max(window.start, window.instant(master.start))
    periods = max((window.end - first).total_seconds(), 0) / (seconds * interval)
    return (int(periods) + 2) * multiplier + extra


def _first_chunk_start(master: Event, overrides: list[Event], window: _Window) -> datetime:
    """The window's start, or later where nothing of the series can be yet."""
    values = [master.start, *master.rdates, *(ev.start for ev in overrides)]
    earliest = min(window.instant(v) for v in values)
    # an occurrence may begin before its recurrence's nominal start (an
    # override moved earlier is among the values; a long master is not)
    longest = max((window.instant(_end(ev)) - window.instant(ev.start) for ev in (master, *overrides)), default=timedelta())
    return max(window.start, earliest - longest - timedelta(days=1))


def _max_span(rule: vRecur | None) -> timedelta:
    """A chunk never spans more than _MANY periods of the rule, so a dense rule after a gap cannot flood one chunk."""
    if rule is None:
        return timedelta(days=366 * 400)
    freq = str((rule.get("FREQ") or ["YEARLY"])[0]).upper()
    seconds = {**_FREQ_SECONDS, "DAILY": 86400, "WEEKLY": 7 * 86400}.get(freq, 28 * 86400)
    interval = int((rule.get("INTERVAL") or [1])[0] or 1)
    return max(timedelta(seconds=seconds * max(interval, 1) * _MANY), _MIN_CHUNK)


def _check_rule_steps(master: Event, rule: vRecur | None, window: _Window) -> None:
    """Refuse a sub-daily rule that dateutil would walk for too long."""
    if rule is None or not isinstance(master.start, datetime):
        return
    freq = str((rule.get("FREQ") or [""])[0]).upper()
    seconds = _FREQ_SECONDS.get(freq)
    if seconds is None:
        return
    interval = int((rule.get("INTERVAL") or [1])[0] or 1)
    # the steps before the window; within it the chunks stop at the limit
    steps = (window.start - master.start).total_seconds() / (seconds * max(interval, 1))
    count = rule.get("COUNT")
    if count and not any(k.startswith("BY") for k in rule):
        steps = min(steps, int(count[0]))
    if steps > _MAX_RULE_STEPS:
        raise ValueError(f"FREQ={freq} from {master.start:%Y-%m-%d} is too dense to walk to the window at {window.start:%Y-%m-%d}")


def _fallback(master: Event, overrides: Sequence[Event], window: _Window) -> list[Occurrence]:
    """The master's own dates and the overrides, without the rule."""
    out: list[Occurrence] = []
    first_rid = _rid_text(None, master.start)
    replaced = any(ev.recurrence_id == first_rid for ev in overrides)
    if not replaced and window.overlaps(master.start, _end(master)):
        out.append(Occurrence(master.start, _end(master), master, first_rid))
    for ev in overrides:
        if window.overlaps(ev.start, _end(ev)):
            out.append(Occurrence(ev.start, _end(ev), ev, ev.recurrence_id))
    return out


def _plain(ev: Event) -> Occurrence:
    return Occurrence(ev.start, _end(ev), ev, ev.recurrence_id)


def _end(ev: Event) -> When:
    if ev.end is not None:
        return ev.end
    return ev.start if isinstance(ev.start, datetime) else ev.start + timedelta(days=1)


def _key(value: When) -> tuple:
    if isinstance(value, datetime):
        return ("dt", value.astimezone(UTC) if value.tzinfo else value)
    return ("d", value)


def _rid_text(prop, start: When) -> str:
    """Event.recurrence_id form of a master-defined occurrence."""
    value = getattr(prop, "dt", None) if prop is not None else None
    if not isinstance(value, (date, datetime)):
        value = start
    return value.isoformat()


# ---------------------------------------------------------------- the scratch calendar


def _vevent(ev: Event, ref: int, master: Event, rule: vRecur | None) -> icalendar.Event:
    out = icalendar.Event()
    out.add("UID", "series")
    out.add(_REF, str(ref))
    out.add("DTSTAMP", datetime(2000, 1, 1, tzinfo=UTC))
    out.add("DTSTART", ev.start)
    if ev.end is not None and ev.end != ev.start:
        out.add("DTEND", ev.end)
    if ev.recurrence_id:
        out.add("RECURRENCE-ID", _like(_parse_iso(ev.recurrence_id), master.start))
    if rule is not None:
        out.add("RRULE", rule)
    if ev is master:
        if ev.rdates:
            out.add("RDATE", [_like(v, ev.start) for v in ev.rdates])
        if ev.exdates:
            out.add("EXDATE", [_like(v, ev.start) for v in ev.exdates])
    if ev.status == "cancelled":
        out.add("STATUS", "CANCELLED")
    return out


def _rule(master: Event) -> vRecur:
    """The master's RRULE, UNTIL in the form RFC 5545 demands for its DTSTART.

    Raises ValueError (or what icalendar raises) for a rule it cannot read.
    """
    text = (master.rrule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    rule = vRecur.from_ical(text)
    if not rule.get("FREQ"):
        raise ValueError(f"RRULE {text!r} has no FREQ")
    until = rule.get("UNTIL")
    if until:
        value = until[0] if isinstance(until, list) else until
        start = master.start
        if not isinstance(start, datetime):
            rule["UNTIL"] = [value.date() if isinstance(value, datetime) else value]
        else:
            if not isinstance(value, datetime):
                value = datetime.combine(value, time(23, 59, 59))
            if value.tzinfo is None:
                value = value.replace(tzinfo=start.tzinfo)
            rule["UNTIL"] = [value.astimezone(UTC)]
    # a round trip through the text proves that the library will read it
    return vRecur.from_ical(rule.to_ical().decode())


def _like(value: When, start: When) -> When:
    """RDATE/EXDATE/RECURRENCE-ID value of the same kind as the master's DTSTART."""
    if isinstance(start, datetime):
        if not isinstance(value, datetime):
            return datetime.combine(value, start.timetz())
        if value.tzinfo is None:
            return value.replace(tzinfo=start.tzinfo)
        return value
    if isinstance(value, datetime):
        return value.date()
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_iso(text: str) -> When:
    text = text.strip()
    if _ISO_DATE.match(text):
        return date.fromisoformat(text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"unreadable recurrence id {text!r}") from exc


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["DEFAULT_LIMIT", "Occurrence", "Occurrences", "expand", "occurrences", "over_limit", "walk_rule"]

"""RECURRENCE-ID;RANGE=THISANDFUTURE → series that every client reads.

RFC 5545 §3.8.4.4 lets one instance change "this and all future" occurrences
of a series: each later occurrence moves by the instance's shift (its DTSTART
minus its RECURRENCE-ID) and takes its length and fields. Few clients read
RANGE (Outlook and Google do not; they split the series themselves), and our
store keeps a RECURRENCE-ID as a plain value. So the series is split where
Google and Outlook split it: the part before the instance keeps the UID and
ends (UNTIL, or a smaller COUNT) just before it; the part from it on is a new
series "<uid>#from-<rid>" with the instance's fields, its DTSTART, and the
rule, RDATEs and EXDATEs moved by the shift. Instances of later dates follow
their part, their RECURRENCE-ID moved by the same shift.

A rule is moved only where moving DTSTART moves every date by the same shift:
without BY… parts, or when the shift keeps the day and the rule names no
BYHOUR/BYMINUTE/BYSECOND. Otherwise the instance stays a plain instance (its
own date only) and ``split_at`` says why.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from aggregator.model import RawEvent, When
from aggregator.recurrence import earlier as _before, walk_rule

UTC = timezone.utc
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")
_MAX_STEPS = 100_000  # dates of a rule walked to find the split point


def _parts(rule: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in rule.split(";") if "=" in p)


def _rule_text(parts: dict[str, str]) -> str:
    return ";".join(f"{k}={v}" for k, v in parts.items())



def _shift(value: When, delta: timedelta) -> When:
    """``value`` moved by ``delta``: the wall time moves, the zone stays (as the RFC's shift of later instances)."""
    if isinstance(value, datetime) or not delta.seconds:
        return value + (delta if isinstance(value, datetime) else timedelta(days=delta.days))
    return value + timedelta(days=delta.days)


def _until_value(text: str) -> When | None:
    m = _UNTIL.match(text)
    if not m:
        return None
    day = datetime.strptime(m.group(1), "%Y%m%d")
    if not m.group(2):
        return day.date()
    value = datetime.combine(day.date(), datetime.strptime(m.group(2), "%H%M%S").time())
    return value.replace(tzinfo=UTC) if m.group(3) else value


def _until_text(value: When) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is not None:
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%dT%H%M%S")


def movable(rule: str | None, old: When, new: When) -> str | None:
    """Why moving the series' DTSTART from ``old`` to ``new`` would not move every date alike, or None."""
    if type(old) is not type(new):
        return "it turns a timed series all-day or back"
    if not rule:
        return None
    by = {k for k in _parts(rule) if k.startswith("BY")}
    if not by:
        return None
    same_day = (new.date() if isinstance(new, datetime) else new) == (old.date() if isinstance(old, datetime) else old)
    if same_day and not by & {"BYHOUR", "BYMINUTE", "BYSECOND", "BYSETPOS"}:
        return None
    return f"its rule has {', '.join(sorted(by))} and the shift moves the day"


def _dates_before(rule: str, start: When, bound: When) -> int | None:
    """How many dates ``rule`` (from ``start``) has before ``bound``; None when that is too costly to find."""
    dates = walk_rule(rule, start, stop=bound, limit=_MAX_STEPS)
    return None if dates is None else len(dates)


def split_at(series: RawEvent, instance: RawEvent, rid: When, uid: str) -> tuple[RawEvent | None, RawEvent] | str:
    """``series`` split at its date ``rid`` by a THISANDFUTURE ``instance``.

    Returns (the part before, or None when ``rid`` is its first date; the
    part from ``rid`` on, with ``instance``'s fields under ``uid``), or the
    reason it cannot be split (``movable``).
    """
    why = movable(series.rrule, rid, instance.start)
    if why:
        return why
    try:
        delta = instance.start - rid
    except TypeError:  # one floating, one zoned: no shift can be told
        return "its RECURRENCE-ID and DTSTART mix floating and zoned time"
    later_rdates = tuple(_shift(d, delta) for d in series.rdates if not _before(d, rid))
    later_exdates = tuple(_shift(d, delta) for d in series.exdates if not _before(d, rid))
    rule = None
    head_rule = series.rrule
    if series.rrule:
        parts = _parts(series.rrule)
        n_before = _dates_before(series.rrule, series.start, rid)
        if n_before is None:
            return "its rule matches too rarely to be walked to that date"
        tail = dict(parts)
        if "COUNT" in parts:
            tail["COUNT"] = str(max(int(parts["COUNT"]) - n_before, 1))
            head = {**parts, "COUNT": str(n_before)} if n_before else None
        else:
            if "UNTIL" in parts and (until := _until_value(parts["UNTIL"])) is not None:
                tail["UNTIL"] = _until_text(_shift(until, delta))
            last = rid - (timedelta(seconds=1) if isinstance(rid, datetime) else timedelta(days=1))
            head = {**parts, "UNTIL": _until_text(last)} if n_before else None
        rule = _rule_text(tail)
        head_rule = _rule_text(head) if head else None
    part = replace(instance, source_uid=uid, rrule=rule, rdates=later_rdates, exdates=later_exdates, recurrence_id=None)
    if not _before(series.start, rid):
        return None, part
    before = replace(
        series,
        rrule=head_rule,
        rdates=tuple(d for d in series.rdates if _before(d, rid)),
        exdates=tuple(d for d in series.exdates if _before(d, rid)),
    )
    return before, part


def shifted(value: When, delta: timedelta) -> When:
    """A RECURRENCE-ID of a later date, moved as its part of the series was."""
    return _shift(value, delta)


__all__ = ["movable", "shifted", "split_at"]

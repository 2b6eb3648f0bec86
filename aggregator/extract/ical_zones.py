"""Time zones of an iCalendar file → IANA zones, UTC, or instants.

``resolve_tzid`` reads a TZID as an IANA name, a Windows name (Outlook), a
globally unique id ("/mozilla.org/…/America/New_York") or a name containing
an IANA name. ``Zones`` adds what one calendar defines itself: a zone known
only from its VTIMEZONE turns times into UTC instants; a TZID with neither
becomes floating time, with a warning.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

import icalendar
from icalendar.timezone import tzp as icalendar_tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from aggregator.model import When

UTC = timezone.utc
_OFFSET_NAME = re.compile(r"^\(?\s*(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*\)?", re.IGNORECASE)

_UTC_NAMES = frozenset(
    {
        "utc", "gmt", "z", "zulu", "uct", "universal", "greenwich", "gmt0", "gmt+0", "gmt-0",
        "utc+0", "utc-0", "utc+00:00", "utc-00:00", "gmt+00:00", "gmt-00:00",
        "coordinated universal time", "etc/utc", "etc/gmt", "etc/uct", "etc/zulu",
        "etc/universal", "etc/greenwich", "etc/gmt0", "etc/gmt+0", "etc/gmt-0",
    }
)


@lru_cache(maxsize=1)
def _iana_index() -> tuple[dict[str, str], tuple[str, ...]]:
    try:
        keys = zoneinfo.available_timezones()
    except Exception:
        keys = set()
    lower = {k.lower(): k for k in keys}
    with_slash = tuple(sorted((k for k in keys if "/" in k), key=len, reverse=True))
    return lower, with_slash


_WINDOWS_LOWER = {k.lower(): v for k, v in WINDOWS_TO_OLSON.items()}


def _zone(key: str) -> tzinfo | None:
    if key.lower() in _UTC_NAMES:
        return UTC
    try:
        return zoneinfo.ZoneInfo(key)
    except Exception:
        return None


@lru_cache(maxsize=2048)
def resolve_tzid(tzid: str) -> tzinfo | None:
    """The IANA zone (or UTC) a TZID names, or None when it names none we know."""
    name = tzid.strip().strip('"').strip()
    if not name:
        return None
    low = name.lower()
    bare = low.strip("/")
    if low in _UTC_NAMES or bare in _UTC_NAMES:
        return UTC
    lower, with_slash = _iana_index()
    if bare in lower:
        return _zone(lower[bare])
    if not lower and "/" in bare and not name.startswith("/"):
        zone = _zone(name)  # no index (no tzdata listing): ask zoneinfo directly
        if zone is not None:
            return zone
    if low in _WINDOWS_LOWER:
        return _zone(_WINDOWS_LOWER[low])
    # globally unique ids and decorated names: the longest IANA name inside
    for key in with_slash:
        idx = low.find(key.lower())
        if idx < 0:
            continue
        end = idx + len(key)
        if idx > 0 and low[idx - 1].isalnum():
            continue
        if end < len(low) and (low[end].isalnum() or low[end] in "_+-"):
            continue
        return _zone(key)
    return None


def fixed_offset(tzid: str) -> tzinfo | None:
    m = _OFFSET_NAME.match(tzid.strip())
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if m.group(1) == "-" else delta)


def is_utc(tz: tzinfo | None) -> bool:
    return tz is UTC or (isinstance(tz, zoneinfo.ZoneInfo) and tz.key.upper() in ("UTC", "ETC/UTC"))


class Zones:
    """Time zone resolution for one calendar (its own VTIMEZONEs included)."""

    def __init__(self, calendar: icalendar.Calendar, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self._vtimezones: dict[str, icalendar.Component] = {}
        for comp in calendar.walk("VTIMEZONE"):
            tzid = comp.get("TZID")
            if tzid is not None and not isinstance(tzid, list):
                self._vtimezones.setdefault(str(tzid).strip(), comp)
        self._custom: dict[str, tzinfo | None] = {}

    def _custom_zone(self, tzid: str) -> tzinfo | None:
        key = tzid.strip()
        if key not in self._custom:
            comp = self._vtimezones.get(key) or self._vtimezones.get(key.strip('"'))
            zone = None
            if comp is not None:
                try:
                    zone = comp.to_tz(icalendar_tzp, lookup_tzid=False)
                except Exception as exc:
                    self._warn(f"time zone {tzid!r}: unreadable VTIMEZONE ({_short(exc)})")
            self._custom[key] = zone
        return self._custom[key]

    def convert(self, value: When, tzid: str | None) -> When:
        """Bring one date/datetime into the output convention."""
        if not isinstance(value, datetime):
            return value
        if tzid:
            tzid = str(tzid)
            if value.tzinfo is not None and is_utc(value.tzinfo):
                return value.astimezone(UTC)  # "…Z" or a TZID that means UTC
            wall = value.replace(tzinfo=None)
            zone = resolve_tzid(tzid)
            if zone is not None:
                return wall.replace(tzinfo=zone)
            custom = self._custom_zone(tzid)
            if custom is None and (custom := fixed_offset(tzid)) is not None:
                self._warn(f"time zone {tzid!r} (no VTIMEZONE) read as the fixed offset in its name")
            if custom is not None:
                return wall.replace(tzinfo=custom).astimezone(UTC)
            self._warn(f"unknown time zone {tzid!r} (no VTIMEZONE): its times are read as local time")
            return wall
        # no TZID: floating, "…Z", or already converted by X-WR-TIMEZONE
        if value.tzinfo is None or isinstance(value.tzinfo, zoneinfo.ZoneInfo):
            return value
        try:
            return value.astimezone(UTC)
        except Exception:
            return value.replace(tzinfo=None)


def _short(exc: BaseException, limit: int = 60) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 1] + "…"

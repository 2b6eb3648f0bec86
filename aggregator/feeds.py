"""The calendars ``serve`` renders per request: the merged feed narrowed by
filters, one network's feed, and the conflicts as a calendar of their own.

Everything here is a pure function of what is stored (and the clock that
decides what is upcoming), so the same state gives the same bytes and the
ETag stays put between requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from aggregator.config import Config
from aggregator.conflict_report import detect
from aggregator.conflict_state import Tracked
from aggregator.model import Event, StoredEvent
from aggregator.store import Store
from exporters.ics import UID_DOMAIN, render_calendar
from exporters.links import safe_url


class UnknownNetwork(KeyError):
    """A network id that sources.toml does not name."""


@dataclass(frozen=True)
class Filters:
    """What ``/calendar.ics`` may be narrowed to. Empty: everything, cancelled events included."""

    networks: tuple[str, ...] = ()
    category: str = ""
    cancelled: bool = True

    @property
    def empty(self) -> bool:
        return not self.networks and not self.category and self.cancelled

    def keep(self, item: StoredEvent) -> bool:
        ev = item.event
        if self.networks and not set(item.networks or (ev.network_id,)) & set(self.networks):
            return False
        if self.category and self.category.casefold() not in {c.strip().casefold() for c in ev.categories}:
            return False
        if not self.cancelled and ev.status.lower() == "cancelled":
            return False
        return True


def parse_filters(config: Config, network: str | None, category: str | None, cancelled: str | None) -> Filters:
    """The filters from query parameters; ValueError (UnknownNetwork for a network) on bad input."""
    networks = tuple(dict.fromkeys(n.strip() for n in (network or "").split(",") if n.strip()))
    unknown = [n for n in networks if n not in config.networks]
    if unknown:
        raise UnknownNetwork(f"unknown network(s): {', '.join(unknown)}; known: {', '.join(sorted(config.networks))}")
    value = (cancelled or "1").strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"cancelled must be 0 or 1, not {cancelled!r}")
    return Filters(networks, (category or "").strip(), value in ("1", "true", "yes"))


def filtered_calendar(config: Config, published: list[StoredEvent], filters: Filters) -> tuple[bytes, datetime | None]:
    """The ``published`` calendar narrowed by ``filters``, and the newest LAST-MODIFIED in it."""
    items = [i for i in published if filters.keep(i)]
    name = config.settings.calendar_name
    parts = [config.networks[n].label for n in filters.networks] + ([filters.category] if filters.category else [])
    if parts:
        name = f"{name} – {', '.join(parts)}"
    return _render(config, items, name), max((i.last_modified for i in items), default=None)


def conflicts_calendar(config: Config, store: Store, published: list[StoredEvent], now: datetime) -> tuple[bytes, datetime | None]:
    """One entry per current conflict, spanning the overlap (or the shared days), both events in the text.
    Writes nothing."""
    zone = ZoneInfo(config.settings.timezone)
    current = sorted((t for t in detect(config, store, now, published=published, record=False) if not t.resolved), key=lambda t: t.id)
    items = [_conflict_entry(config, t, zone) for t in current]
    name = f"{config.settings.calendar_name} – Überschneidungen"
    return _render(config, items, name), max((i.last_modified for i in items), default=None)


def _render(config: Config, items: list[StoredEvent], name: str) -> bytes:
    return render_calendar(items, networks=config.networks, name=name, refresh=config.settings.refresh,
                           timezone=config.settings.timezone)


def _conflict_entry(config: Config, t: Tracked, zone: ZoneInfo) -> StoredEvent:
    a, b = t.a, t.b
    start, end, tzid = _span(a, b, zone)
    networks = tuple(sorted(set(a.get("networks", [])) | set(b.get("networks", []))))
    text = "\n\n".join(_side(config, side, zone) for side in (a, b))
    event = Event(
        source_id="conflicts",
        network_id=networks[0] if networks else "",
        source_uid=t.id,
        title=f"Überschneidung: {a.get('title') or '(ohne Titel)'} / {b.get('title') or '(ohne Titel)'}",
        start=start,
        end=end,
        tzid=tzid,
        description=text,
        categories=("Überschneidung",),
    )
    stamp = _utc(t.changed_at or t.first_seen)
    return StoredEvent(event=event, first_seen=_utc(t.first_seen), last_modified=max(stamp, _utc(t.first_seen)),
                       sequence=0, uid=f"conflict-{t.id[:40]}@{UID_DOMAIN}", networks=networks)


def _span(a: dict, b: dict, zone: ZoneInfo) -> tuple:
    """(start, end, tzid): the overlap of two timed events, else the days both touch (all-day)."""
    if not (a.get("all_day") and b.get("all_day")):
        start = max(datetime.fromisoformat(a["start"]), datetime.fromisoformat(b["start"]))
        end = min(datetime.fromisoformat(a["end"]), datetime.fromisoformat(b["end"]))
        if end > start:
            return start.astimezone(zone), end.astimezone(zone), zone.key
    first = max(date.fromisoformat(a["day_start"]), date.fromisoformat(b["day_start"]))
    after = min(date.fromisoformat(a["day_end"]), date.fromisoformat(b["day_end"]))
    if after <= first:  # e.g. a moment at midnight: the day it falls on
        after = first + timedelta(days=1)
    return first, after, ""


def _side(config: Config, side: dict, zone: ZoneInfo) -> str:
    labels = [config.networks[n].label if n in config.networks else n for n in side.get("networks", [])]
    lines = [side.get("title") or "(ohne Titel)", f"Zeit: {_when(side, zone)}"]
    if labels:
        lines.append(("Netzwerke: " if len(labels) > 1 else "Netzwerk: ") + ", ".join(labels))
    if side.get("location"):
        lines.append(f"Ort: {side['location']}")
    if safe_url(side.get("url")):
        lines.append(f"Link: {safe_url(side['url'])}")
    return "\n".join(lines)


def _when(side: dict, zone: ZoneInfo) -> str:
    if side.get("all_day"):
        first = date.fromisoformat(side["day_start"])
        last = date.fromisoformat(side["day_end"]) - timedelta(days=1)
        days = f"{first:%d.%m.%Y}" if last <= first else f"{first:%d.%m.}–{last:%d.%m.%Y}"
        return f"{days} (ganztägig)"
    start = datetime.fromisoformat(side["start"]).astimezone(zone)
    end = datetime.fromisoformat(side["end"]).astimezone(zone)
    if end <= start:
        return f"{start:%d.%m.%Y %H:%M}"
    if end.date() == start.date():
        return f"{start:%d.%m.%Y %H:%M}–{end:%H:%M}"
    return f"{start:%d.%m.%Y %H:%M} – {end:%d.%m.%Y %H:%M}"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

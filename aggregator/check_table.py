"""The event table `netzwerktimer sources check` prints, and the source it checks from its options.

The table is what an operator compares with the site while onboarding it, so two
kinds of one site must print the same rows: times are shown in one zone (the
configured ``settings.timezone``), whatever zone each source stated them in (The
Events Calendar's JSON-LD says UTC, its REST API and ``?ical=1`` Europe/Berlin). An
event whose source named another zone says which in the ZONE column. Status and
series markers are never cut off: a long title is shortened instead.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from aggregator.config import Source
from aggregator.model import Event, When

HEADER = ("START", "END", "ZONE", "TITLE", "LOCATION", "LINK")
WIDTHS = (16, 16, 16, 50, 30, 60)
# The markers an event's title carries in the table, by status.
STATUS_MARKERS = {"cancelled": "[cancelled]", "tentative": "[tentative]"}
# The option that sets each [sources.html] key (argparse dest "html_<key>").
HTML_OPTIONS = ("item", "title", "date", "time", "link", "location", "description", "next_page", "parser", "detail")


def lines(events: list[Event], zone: ZoneInfo) -> list[str]:
    """The table: a note naming ``zone``, the header, one row per event by start in ``zone``."""
    rows = [HEADER] + sorted((_row(ev, zone) for ev in events), key=lambda row: (row[0], row[3]))
    return [f"times in {zone.key}; ZONE: the zone the source stated them in, where another"] + [_cells(row) for row in rows]


def when(value: When | None, zone: ZoneInfo) -> str:
    """A time as "YYYY-MM-DD HH:MM" in ``zone``; a date (all-day) as "YYYY-MM-DD"; "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        # A floating time has no zone to convert from; normalize never hands one over, but say it as written.
        shown = value.astimezone(zone) if value.tzinfo is not None else value
        return shown.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def title_with_markers(ev: Event, width: int) -> str:
    """The title, shortened with "…" so that its markers ([cancelled], [tentative], [series]) fit in ``width``."""
    markers = [m for m in (STATUS_MARKERS.get(ev.status), "[series]" if ev.rrule or ev.rdates else None) if m]
    tail = "".join(" " + m for m in markers)
    room = max(width - len(tail), 1)
    title = ev.title if len(ev.title) <= room else ev.title[: room - 1] + "…"
    return title + tail


def _row(ev: Event, zone: ZoneInfo) -> tuple[str, ...]:
    # tzid is "" for all-day events (no zone to state) and "UTC" for times the source gave in UTC.
    stated = ev.tzid if ev.tzid and ev.tzid != zone.key else ""
    return (when(ev.start, zone), when(ev.end, zone), stated, title_with_markers(ev, WIDTHS[3]), ev.location, ev.url)


def _cells(row: tuple[str, ...]) -> str:
    cells = [(c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(row, WIDTHS)]
    return "  ".join(cells).rstrip()


def source_from_options(*, url: str, kind: str | None, network: str, html: dict) -> Source | str:
    """The ad-hoc source ``sources check --url`` reads, or one line saying what is wrong with the options.

    ``html`` holds the selector options given (``{"item": ".event", …}``); any of them
    implies ``--kind html``, so ``--kind`` may be left out, but another kind beside
    them is refused. ``kind`` None means it was not given (auto, or html with selectors).
    """
    given = [k for k in HTML_OPTIONS if k in html]
    if given and kind not in (None, "html"):
        return f"{_option(given[0])} is an option of --kind html, not of --kind {kind}"
    kind = kind or ("html" if given else "auto")
    if not url.startswith(("http://", "https://")):
        return f"--url must be an http:// or https:// URL, not {url!r}"
    if kind == "html" and not html.get("parser"):
        missing = [_option(k) for k in ("item", "title", "date") if not html.get(k)]
        if missing:
            return f"--kind html needs {', '.join(missing)} (or --parser MODULE)"
    try:
        return Source(id="check", network=network, kind=kind, url=url, html=html or None)
    except ValidationError as exc:
        return "; ".join(_explain(err) for err in exc.errors())


def _option(key: str) -> str:
    return "--" + key.replace("_", "-")


def _explain(err: dict) -> str:
    """One pydantic error as "--option: reason", without its type tag and documentation link."""
    loc = [str(part) for part in err.get("loc", ())]
    name = _option(loc[-1]) if loc else "options"
    return f"{name}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}"

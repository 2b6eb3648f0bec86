"""Rendering the nightly conflict digest: subject, plain text and HTML.

Pure rendering: no database, no SMTP. The caller (``aggregator.digest_job``)
collects a :class:`DigestData` per recipient; :func:`render_digest` turns it
into a :class:`RenderedDigest` with

- ``subject``: "Netzwerktimer: 3 neue Terminüberschneidungen" (singular for
  one, "keine neuen …" for none; English "… new scheduling conflicts");
- ``text``: the plain-text part, every line at most 80 characters except
  lines holding an URL that cannot be broken; the two events of a conflict
  one under the other, labelled A and B;
- ``html``: the HTML part, Jinja2 with autoescape, inline styles and table
  layout only (Outlook, Gmail), no external resources; the two events of a
  conflict side by side in a two-column table.

Sections, in this order, each omitted when empty: new conflicts, changed,
resolved, all upcoming conflicts in the next ``weeks`` weeks (one line each),
events announced since the last digest, source problems (failing, then
suspicious). Entries keep the order the caller gives them.

German by default, English with ``language="en"``; every fixed string is in
:data:`CATALOGUE`. Dates are shown in Europe/Berlin: aware datetimes are
converted, naive ones are taken as Berlin local time. All-day events follow
the iCalendar convention of an exclusive end date (``end`` = the day after
the last day; ``end`` equal to ``start`` or ``None`` means one day).

Everything that comes from the websites (titles, places, notes, messages)
is untrusted: the HTML template escapes it, control characters are removed,
and only ``http``/``https`` links are kept (others are dropped).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from exporters.links import safe_url

__all__ = [
    "CATALOGUE",
    "DigestConflict",
    "DigestData",
    "DigestEvent",
    "RenderedDigest",
    "SourceProblem",
    "TEXT_WIDTH",
    "format_when",
    "is_empty",
    "render_digest",
    "safe_url",
]

ZONE = ZoneInfo("Europe/Berlin")
TEXT_WIDTH = 80


# ---------------------------------------------------------------------------
# Input and output


@dataclass(frozen=True)
class DigestEvent:
    title: str
    start: datetime | date
    end: datetime | date | None
    all_day: bool
    networks: tuple[str, ...]  # display labels
    location: str
    url: str
    status: str = "confirmed"
    more: int = 0  # conflicts of this event beyond those listed ([conflicts] max_per_event)


@dataclass(frozen=True)
class DigestConflict:
    id: str
    kind: str  # "overlap" | "same_day"
    score: float
    status: str  # "new" | "ongoing" | "resolved" | "changed" | "acknowledged"
    a: DigestEvent
    b: DigestEvent
    first_seen: date
    note: str = ""  # acknowledgement note
    context: tuple[str, ...] = ()  # "Feiertag: Tag der Deutschen Einheit", "fällt in die Herbstferien"


@dataclass(frozen=True)
class SourceProblem:
    source_id: str
    network: str  # display label
    kind: str  # "failing" | "suspicious"
    message: str
    since: datetime | None


@dataclass
class DigestData:
    night: date
    language: str  # "de" | "en"
    new: list[DigestConflict] = field(default_factory=list)
    changed: list[DigestConflict] = field(default_factory=list)
    resolved: list[DigestConflict] = field(default_factory=list)
    upcoming: list[DigestConflict] = field(default_factory=list)
    announced: list[DigestEvent] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    calendar_url: str = ""
    weeks: int = 4
    recipient_networks: tuple[str, ...] = ()  # empty: global recipient


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


# ---------------------------------------------------------------------------
# The catalogue: every fixed string of the digest, German and English.

CATALOGUE: dict[str, dict[str, object]] = {
    "de": {
        "subject_none": "Netzwerktimer: keine neuen Terminüberschneidungen",
        "subject_one": "Netzwerktimer: 1 neue Terminüberschneidung",
        "subject_many": "Netzwerktimer: {n} neue Terminüberschneidungen",
        "title": "Netzwerktimer – Terminüberschneidungen",
        "as_of": "Stand: {night}",
        "for_networks": "Für: {networks}",
        "for_all": "Für alle Netzwerke",
        "intro": "Veranstaltungen verschiedener Netzwerke, die sich zeitlich überschneiden oder am selben Tag stattfinden.",
        "sec_new": "Neue Terminüberschneidungen",
        "sec_changed": "Geänderte Terminüberschneidungen",
        "sec_resolved": "Aufgelöste Terminüberschneidungen",
        "sec_upcoming_one": "Alle Terminüberschneidungen der nächsten Woche",
        "sec_upcoming_many": "Alle Terminüberschneidungen der nächsten {weeks} Wochen",
        "sec_announced": "Seit der letzten Zusammenfassung angekündigt",
        "sec_problems": "Probleme mit Quellen",
        "problems_failing": "Nicht erreichbar oder fehlerhaft",
        "problems_suspicious": "Auffällig",
        "kind": {"overlap": "zeitliche Überschneidung", "same_day": "am selben Tag"},
        "status": {
            "new": "neu",
            "ongoing": "besteht weiter",
            "resolved": "aufgelöst",
            "changed": "geändert",
            "acknowledged": "als bekannt markiert",
        },
        "event_status": {"cancelled": "abgesagt", "tentative": "vorläufig"},
        "network": "Netzwerk",
        "networks": "Netzwerke",
        "more_one": "… und 1 weitere Überschneidung dieses Termins",
        "more_many": "… und {n} weitere Überschneidungen dieses Termins",
        "place": "Ort",
        "link": "Link",
        "event_page": "Zur Veranstaltung",
        "first_seen": "Bekannt seit {date}",
        "note": "Notiz",
        "since": "seit {when}",
        "calendar": "Gemeinsamer Kalender",
        "calendar_link": "Zum gemeinsamen Kalender",
        "footer": "Diese Nachricht wird jede Nacht von Netzwerktimer erstellt, dem gemeinsamen Kalender der Netzwerke der Cross-Cluster-Initiative Thüringen.",
        "weekdays": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
        "date": "{wd}, {d:02d}.{m:02d}.{y}",
        "date_plain": "{d:02d}.{m:02d}.{y}",
        "time": "{h:02d}:{mi:02d}",
        "timed_one": "{date}, {time} Uhr",
        "timed_same_day": "{date}, {start}–{end} Uhr",
        "timed_range": "{start_date}, {start} Uhr – {end_date}, {end} Uhr",
        "allday_one": "{date} (ganztägig)",
        "allday_range": "{start} – {end} (ganztägig)",
    },
    "en": {
        "subject_none": "Netzwerktimer: no new scheduling conflicts",
        "subject_one": "Netzwerktimer: 1 new scheduling conflict",
        "subject_many": "Netzwerktimer: {n} new scheduling conflicts",
        "title": "Netzwerktimer – scheduling conflicts",
        "as_of": "As of {night}",
        "for_networks": "For: {networks}",
        "for_all": "For all networks",
        "intro": "Events of different networks that overlap in time or take place on the same day.",
        "sec_new": "New conflicts",
        "sec_changed": "Changed conflicts",
        "sec_resolved": "Resolved conflicts",
        "sec_upcoming_one": "All conflicts in the next week",
        "sec_upcoming_many": "All conflicts in the next {weeks} weeks",
        "sec_announced": "Events announced since the last digest",
        "sec_problems": "Source problems",
        "problems_failing": "Failing",
        "problems_suspicious": "Suspicious",
        "kind": {"overlap": "overlapping times", "same_day": "on the same day"},
        "status": {
            "new": "new",
            "ongoing": "ongoing",
            "resolved": "resolved",
            "changed": "changed",
            "acknowledged": "acknowledged",
        },
        "event_status": {"cancelled": "cancelled", "tentative": "tentative"},
        "network": "Network",
        "networks": "Networks",
        "more_one": "… and 1 more conflict of this event",
        "more_many": "… and {n} more conflicts of this event",
        "place": "Place",
        "link": "Link",
        "event_page": "Event page",
        "first_seen": "First seen {date}",
        "note": "Note",
        "since": "since {when}",
        "calendar": "Shared calendar",
        "calendar_link": "Open the shared calendar",
        "footer": "This message is created every night by Netzwerktimer, the shared calendar of the networks of the Cross-Cluster-Initiative Thüringen.",
        "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "months": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        "date": "{wd}, {d} {mon} {y}",
        "date_plain": "{d} {mon} {y}",
        "time": "{h:02d}:{mi:02d}",
        "timed_one": "{date}, {time}",
        "timed_same_day": "{date}, {start}–{end}",
        "timed_range": "{start_date}, {start} – {end_date}, {end}",
        "allday_one": "{date} (all day)",
        "allday_range": "{start} – {end} (all day)",
    },
}

LANGUAGES = tuple(CATALOGUE)
DEFAULT_LANGUAGE = "de"


def _catalogue(language: str) -> dict[str, object]:
    return CATALOGUE.get((language or "").lower()[:2], CATALOGUE[DEFAULT_LANGUAGE])


# ---------------------------------------------------------------------------
# Cleaning untrusted text and links

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def _clean(value: object) -> str:
    """One line of untrusted text: control characters removed, whitespace collapsed."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(" ", text.replace("\t", " ").replace("\n", " ").replace("\r", " "))
    return " ".join(text.split())


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


# ---------------------------------------------------------------------------
# Dates


def _local(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=ZONE)
    return value.astimezone(ZONE)


def _as_date(value: datetime | date) -> date:
    return _local(value).date() if isinstance(value, datetime) else value


def _fmt_date(day: date, cat: dict, *, weekday: bool = True) -> str:
    fields = {"wd": cat["weekdays"][day.weekday()], "d": day.day, "m": day.month, "y": day.year}
    if "months" in cat:
        fields["mon"] = cat["months"][day.month - 1]
    return (cat["date"] if weekday else cat["date_plain"]).format(**fields)


def _fmt_time(moment: datetime, cat: dict) -> str:
    return cat["time"].format(h=moment.hour, mi=moment.minute)


def format_when(start: datetime | date, end: datetime | date | None, all_day: bool, language: str = DEFAULT_LANGUAGE) -> str:
    """The date (and time) of an event for people: "Mo, 22.09.2025, 09:00–17:00 Uhr",
    "Mo, 22.09.2025 (ganztägig)", ranges over several days; English for ``"en"``."""
    cat = _catalogue(language)
    if all_day or not isinstance(start, datetime):
        first = _as_date(start)
        last = first
        if end is not None:
            stop = _as_date(end)
            # iCalendar: the end of an all-day event is the day after its last day.
            last = stop - timedelta(days=1) if stop > first else first
        if last == first:
            return cat["allday_one"].format(date=_fmt_date(first, cat))
        return cat["allday_range"].format(start=_fmt_date(first, cat), end=_fmt_date(last, cat))
    begin = _local(start)
    day = _fmt_date(begin.date(), cat)
    if end is None:
        return cat["timed_one"].format(date=day, time=_fmt_time(begin, cat))
    finish = _local(end) if isinstance(end, datetime) else datetime.combine(end, time(), ZONE)
    if finish <= begin:
        return cat["timed_one"].format(date=day, time=_fmt_time(begin, cat))
    if finish.date() == begin.date():
        return cat["timed_same_day"].format(date=day, start=_fmt_time(begin, cat), end=_fmt_time(finish, cat))
    if finish.date() == begin.date() + timedelta(days=1) and finish.time() == time():
        # ends at midnight: "20:00–24:00 Uhr" rather than a range into the next day
        return cat["timed_same_day"].format(date=day, start=_fmt_time(begin, cat), end="24:00")
    return cat["timed_range"].format(
        start_date=day, start=_fmt_time(begin, cat), end_date=_fmt_date(finish.date(), cat), end=_fmt_time(finish, cat)
    )


def _fmt_moment(moment: datetime, cat: dict) -> str:
    local = _local(moment)
    return cat["timed_one"].format(date=_fmt_date(local.date(), cat), time=_fmt_time(local, cat))


def _conflict_day(conflict: DigestConflict) -> date:
    """The day the two events start to collide: the later of the two start days."""
    return max(_as_date(conflict.a.start), _as_date(conflict.b.start))


# ---------------------------------------------------------------------------
# Plain-text wrapping


class _Wrapper(textwrap.TextWrapper):
    """A TextWrapper that breaks long words but never an URL (it gets a line of its own)."""

    def _handle_long_word(self, reversed_chunks, cur_line, cur_len, width):
        if reversed_chunks[-1].startswith(("http://", "https://")):
            if not cur_line:
                cur_line.append(reversed_chunks.pop())
            return
        super()._handle_long_word(reversed_chunks, cur_line, cur_len, width)


def _wrap(text: object, indent: str = "", hanging: str | None = None, width: int = TEXT_WIDTH) -> str:
    """Wrap one paragraph to ``width`` columns: ``indent`` on the first line,
    ``hanging`` (default: as many spaces) on the following ones."""
    hanging = " " * len(indent) if hanging is None else hanging
    content = _clean(text)
    if not content:
        return indent.rstrip()
    wrapper = _Wrapper(width=width, initial_indent=indent, subsequent_indent=hanging, break_on_hyphens=False, break_long_words=True)
    return "\n".join(wrapper.wrap(content))


# ---------------------------------------------------------------------------
# View models: everything the templates show, already formatted and cleaned.


@dataclass(frozen=True)
class _EventView:
    label: str  # "A" / "B" / ""
    title: str
    when: str
    networks: str
    networks_label: str
    location: str
    url: str
    host: str
    status: str  # "abgesagt" etc., or ""
    more: str = ""  # "… und 12 weitere Überschneidungen", or ""


@dataclass(frozen=True)
class _ConflictView:
    id: str
    kind: str
    kind_key: str
    status: str
    status_key: str
    day: str
    a: _EventView
    b: _EventView
    first_seen: str
    note: str
    context: tuple[str, ...]


@dataclass(frozen=True)
class _ProblemView:
    network: str
    source_id: str
    message: str
    since: str


@dataclass(frozen=True)
class _Section:
    key: str  # new, changed, resolved, upcoming, announced, problems
    heading: str
    count: int
    conflicts: tuple[_ConflictView, ...] = ()
    events: tuple[_EventView, ...] = ()
    failing: tuple[_ProblemView, ...] = ()
    suspicious: tuple[_ProblemView, ...] = ()


def _event_view(event: DigestEvent, label: str, cat: dict, language: str) -> _EventView:
    url = safe_url(event.url)
    networks = tuple(n for n in (_clean(n) for n in event.networks) if n)
    return _EventView(
        label=label,
        title=_clean(event.title),
        when=format_when(event.start, event.end, event.all_day, language),
        networks=", ".join(networks),
        networks_label=cat["networks"] if len(networks) > 1 else cat["network"],
        location=_clean(event.location),
        url=url,
        host=_host(url),
        status=cat["event_status"].get((event.status or "").lower(), ""),
        more=(cat["more_one"] if event.more == 1 else cat["more_many"].format(n=event.more)) if event.more > 0 else "",
    )


def _conflict_view(conflict: DigestConflict, cat: dict, language: str) -> _ConflictView:
    return _ConflictView(
        id=_clean(conflict.id),
        kind=cat["kind"].get(conflict.kind, _clean(conflict.kind)),
        kind_key=conflict.kind,
        status=cat["status"].get(conflict.status, _clean(conflict.status)),
        status_key=conflict.status,
        day=_fmt_date(_conflict_day(conflict), cat),
        a=_event_view(conflict.a, "A", cat, language),
        b=_event_view(conflict.b, "B", cat, language),
        first_seen=cat["first_seen"].format(date=_fmt_date(conflict.first_seen, cat, weekday=False)) if conflict.first_seen else "",
        note=_clean(conflict.note),
        context=tuple(c for c in (_clean(c) for c in conflict.context) if c),
    )


def _problem_view(problem: SourceProblem, cat: dict) -> _ProblemView:
    return _ProblemView(
        network=_clean(problem.network),
        source_id=_clean(problem.source_id),
        message=_clean(problem.message),
        since=cat["since"].format(when=_fmt_moment(problem.since, cat)) if problem.since else "",
    )


def _sections(data: DigestData, cat: dict, language: str) -> list[_Section]:
    sections: list[_Section] = []

    def conflicts(key: str, heading: str, items: list[DigestConflict]) -> None:
        if items:
            views = tuple(_conflict_view(c, cat, language) for c in items)
            sections.append(_Section(key, heading, len(views), conflicts=views))

    conflicts("new", cat["sec_new"], data.new)
    conflicts("changed", cat["sec_changed"], data.changed)
    conflicts("resolved", cat["sec_resolved"], data.resolved)
    weeks = max(int(data.weeks or 0), 1)
    upcoming = cat["sec_upcoming_one"] if weeks == 1 else cat["sec_upcoming_many"].format(weeks=weeks)
    conflicts("upcoming", upcoming, data.upcoming)
    if data.announced:
        events = tuple(_event_view(e, "", cat, language) for e in data.announced)
        sections.append(_Section("announced", cat["sec_announced"], len(events), events=events))
    if data.problems:
        failing = tuple(_problem_view(p, cat) for p in data.problems if p.kind != "suspicious")
        suspicious = tuple(_problem_view(p, cat) for p in data.problems if p.kind == "suspicious")
        sections.append(_Section("problems", cat["sec_problems"], len(data.problems), failing=failing, suspicious=suspicious))
    return sections


# ---------------------------------------------------------------------------
# Rendering

_env: Environment | None = None


def _environment() -> Environment:
    global _env
    if _env is None:
        env = Environment(
            loader=PackageLoader("exporters", "templates"),
            # HTML templates escape every value; the plain-text one must not.
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True, default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters["wrap"] = _wrap
        _env = env
    return _env


def subject_of(data: DigestData) -> str:
    cat = _catalogue(data.language)
    n = len(data.new)
    if n == 0:
        return cat["subject_none"]
    if n == 1:
        return cat["subject_one"]
    return cat["subject_many"].format(n=n)


def is_empty(data: DigestData) -> bool:
    """Nothing new, changed, resolved or announced and no source problems.

    The list of upcoming conflicts alone does not make a digest worth sending."""
    return not (data.new or data.changed or data.resolved or data.announced or data.problems)


def render_digest(data: DigestData) -> RenderedDigest:
    """The subject, plain-text part and HTML part of one recipient's digest."""
    language = (data.language or "").lower()[:2]
    if language not in CATALOGUE:
        language = DEFAULT_LANGUAGE
    cat = _catalogue(language)
    subject = subject_of(data)
    networks = tuple(n for n in (_clean(n) for n in data.recipient_networks) if n)
    context = {
        "lang": language,
        "t": cat,
        "subject": subject,
        "as_of": cat["as_of"].format(night=_fmt_date(data.night, cat)),
        "audience": cat["for_networks"].format(networks=", ".join(networks)) if networks else cat["for_all"],
        "sections": _sections(data, cat, language),
        "calendar_url": safe_url(data.calendar_url),
        "width": TEXT_WIDTH,
    }
    env = _environment()
    text = env.get_template("digest/digest.txt.j2").render(context)
    html = env.get_template("digest/digest.html.j2").render(context)
    # no trailing blanks, except in the signature separator "-- "
    text = "\n".join(line if line == "-- " else line.rstrip() for line in text.splitlines()).strip("\n") + "\n"
    text = re.sub(r"\n{3,}", "\n\n", text)
    return RenderedDigest(subject=subject, text=text, html=html)

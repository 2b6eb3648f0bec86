"""Words around a date that decide what it means: status (cancelled, postponed) or not an event at all.

Not events: publication datelines and timestamps (``is_dateline``), deadlines
("Noch bis zum 25. Oktober"), the old date of a postponement ("nicht wie
geplant am 2. April"), year-less yearly recurrences ("Alle Jahre wieder am
10. November") and software versions ("Version 2.1.20").
"""

from __future__ import annotations

import re

from .shapes import LETTER, WEEKDAY_PREFIX_RE
from .times import ClockTime, find_time

# --------------------------------------------------------------------------- status

CANCEL_RE = re.compile(
    r"(?i)(?:findet\s+nicht\s+statt|finden\s+nicht\s+statt|abgesagt|entfällt|entfallen|fällt\s+aus|"
    r"fallen\s+aus|ausfallen|ausgefallen|storniert|cancel+ed)"
)
CANCEL_BEFORE_RE = re.compile(r"(?i)(?:abgesagt|entfällt|fällt aus|storniert|cancel+ed)\s*[:!|–—-]?\s*$")
POSTPONE_RE = re.compile(r"(?i)(?:verschoben|postponed|neuer\s+termin\s+folgt)")
# Status words in an event's title ("Abgesagt: Workshop …", "Stammtisch entfällt").
CANCEL_TITLE_RE = re.compile(r"(?i)\b(?:abgesagt|entfällt|entfallen|fällt\s+aus|findet\s+nicht\s+statt|storniert|cancel+ed)\b")
POSTPONE_TITLE_RE = re.compile(r"(?i)\b(?:verschoben|postponed)\b")
# The old date in "welche für den 2. April … geplant war" / "nicht wie geplant am 2. April".
SUPERSEDED_AFTER_RE = re.compile(r"(?i)^[^.;]{0,60}?\bgeplant\s+war")
SUPERSEDED_BEFORE_RE = re.compile(
    r"(?i)(?:nicht\s+(?:wie\s+(?:ursprünglich\s+)?geplant\s+)?(?:am|für\s+den)|statt\s+am|ursprünglich\s+(?:am|für\s+den))\s*$"
)
# A sentence that also names an old plan or a move: its remaining date is the new one.
NEW_DATE_CONTEXT_RE = re.compile(
    r"(?i)\bgeplant\s+war|\bnicht\s+wie\s+(?:ursprünglich\s+)?geplant|\bursprünglich\s+(?:am|für)|\bstatt\s+am\b|"
    r"\bverlegt\b|\bverschoben\s+auf\b|\bauf\s+den\s+[^.;]{0,40}verschoben|\bErsatztermin|\bneuer\s+Termin\b|\bnachgeholt"
)

# --------------------------------------------------------------------------- not events

DEADLINE_RE = re.compile(
    r"(?i)(?:\bbis\s+(?:zum\s+|spätestens\s+|einschließlich\s+)?|Anmeldeschluss\s*:?\s*(?:ist\s+)?(?:der\s+)?|"
    r"Einsendeschluss\s*:?\s*|Bewerbungsschluss\s*:?\s*|Frist\s*:\s*)$"
)
# Registration words: a "bis zum …" date in such a sentence is a deadline, never a range end.
REGISTRATION_RE = re.compile(r"(?i)anmeld|registrier|bewerb|einreich|buchbar|\bbuchen\b|\bFrist|\bTickets?\b|schluss\b")
# "Alle Jahre wieder am 10. November": a yearly rule, not one event (only when no year is written).
# ("jeweils am 3. und 10. Juni" is "each on", not a rule.)
RECURRENCE_RE = re.compile(r"(?i)\b(?:alle\s+Jahre(?:\s+wieder)?|jedes\s+Jahr|(?:all)?jährlich|immer\s+am)\b[^.;:]{0,30}$")
# "Version 3.8.11", "Release 2.1.20": software versions, not dates.
VERSION_RE = re.compile(r"(?i)\b(?:version|release|ver\.|v|build|update|firmware)\s*$")
# "3.8.11" alone is a version; "am 3.4.14" is a date (2-digit year, unpadded day or month).
_UNPADDED_SHORT_RE = re.compile(r"\d{1,2}\.\d{1,2}\.\d\d")
INTRO_RE = re.compile(r"(?i)\b(?:am|vom|ab|bis|den|dem|datum|termin)\s*:?\s*$")


def looks_like_version(s: str) -> bool:
    """Is a written date like "3.8.11" (2-digit year, unpadded day or month) more likely a version number?"""
    if not _UNPADDED_SHORT_RE.fullmatch(s):
        return False
    day, month, _ = s.split(".")
    return len(day) == 1 or len(month) == 1


# --------------------------------------------------------------------------- datelines

# "Erfurt, 14. Januar 2016." / "ERFURT / ESSEN, 12.03.2020." / "Jena  | 09. Oktober 2024":
# a place alone at the start of a line, then the date.
_PLACE = rf"[A-ZÄÖÜ][{LETTER}\-]+(?:\s*/\s*[A-ZÄÖÜ][{LETTER}\-]+)*"
PLACE_DATELINE_RE = re.compile(rf"[ \t]*{_PLACE}[ \t]*(?:,|\|)[ \t]*")
_LABELS = (
    r"Aktuelles|Meldung|News|Neuigkeiten|Pressemitteilung|Pressemeldung|Allgemeines|"
    r"veröffentlicht(?:\s+am)?|Stand|aktualisiert(?:\s+am)?|erstellt(?:\s+am)?|zuletzt\s+geändert(?:\s+am)?|"
    r"Version\s+vom|Posted\s+on|Datum\s+der\s+Veröffentlichung"
)
LABEL_DATELINE_RE = re.compile(rf"(?i)\b(?:{_LABELS})\s*[:|–—-]?\s*$")
# A line that is only a news label ("Aktuelles"): a lone date a few lines below it is the news date.
LABEL_LINE_RE = re.compile(rf"(?i)[ \t#*|]*(?:{_LABELS})[ \t:|]*")
LABEL_LINES_UP = 3
# A label that says the date after it is the event's ("Termin: ", "Wann?: ", "| Datum: | ", "Zeit  "):
# with one, "05.03.2025 18:00" is the event's start, not a posting timestamp. Without a colon or
# question mark the label must open its line ("Termin           Mittwoch, …"). Not after a letter,
# so "Anmeldetermin:" (a deadline) is no event label.
_EVENT_LABELS = r"Termin|Datum|Wann|Zeit|Uhrzeit|Beginn|Veranstaltungsdatum|Veranstaltungstermin|Date|When"
EVENT_LABEL_RE = re.compile(
    rf"(?i)(?<![{LETTER}])(?:{_EVENT_LABELS})[ \t]*(?:\?[ \t]*:?|:)[ \t|]*$|^[ \t|•*-]*(?:{_EVENT_LABELS})[ \t|]+$"
)


def date_alone_on_line(text: str, start: int, end: int) -> bool:
    """Is ``text[start:end]`` (a date with its weekday) all there is on its line, but for separators?"""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    before = WEEKDAY_PREFIX_RE.sub("", text[line_start:start])
    return not before.strip(" \t|•-–*:") and not text[end:line_end].strip(" \t|•-–*:.,")


def is_dateline(text: str, span: tuple[int, int], time_info: ClockTime | None = None, *, declared: bool = False) -> bool:
    """Is the date at ``span`` of ``text`` a publication dateline or timestamp, not an event?

    "Erfurt, 14. Januar 2016." / "Jena | 09. Oktober 2024" (a lone place at the start of a
    line), "Meldung 19.09.2023" / "Version vom 25. Juni 2014" (a label), "Aktuelles / <title> /
    06.01.2026" (a lone date up to three lines below a label line), "13.09.2017 13:18"
    (a bare clock time right after the date), "26. Januar 2024, 09:28 Uhr" (an odd minute).

    ``declared``: the context says this is the event's date (a weekday before it, an event
    label such as "Termin:", or the caller's date field), so a bare clock time right after it
    ("05.03.2025 18:00") is the event's start. Place and label datelines and odd minutes
    ("Di 07.10.2014 10:17") still make a dateline.
    """
    start, end = span
    line_start = text.rfind("\n", 0, start) + 1
    line_prefix = text[line_start:start]
    if PLACE_DATELINE_RE.fullmatch(line_prefix):
        return True
    before = text[max(0, start - 60) : start]
    if LABEL_DATELINE_RE.search(before):
        return True
    if time_info is None:
        time_info = find_time(text, end, min(len(text), end + 60))
    if time_info is not None and ((time_info.adjacent_bare and not declared) or time_info.odd_minutes):
        return True
    if time_info is None and date_alone_on_line(text, start, end):
        lines = [x for x in text[:line_start].splitlines() if x.strip()][-LABEL_LINES_UP:]
        if any(LABEL_LINE_RE.fullmatch(x) for x in lines):
            return True
    return False

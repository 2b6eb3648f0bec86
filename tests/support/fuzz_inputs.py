"""Structured inputs for the fuzzer: documents of each kind built from parts that are
plausible, odd or wrong — so that the extractors are driven past their first
"this is not a calendar" check into the code that reads fields."""

from __future__ import annotations

import json
from datetime import date
from xml.sax.saxutils import escape

from hypothesis import strategies as st

# --------------------------------------------------------------------------- German date text

MONTHS = ["Januar", "Februar", "März", "Maerz", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
          "November", "Dezember", "Jan.", "Feb.", "Sept.", "Okt.", "Dez.", "Mrz"]
WEEKDAYS = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag",
            "Samstag", "Sonntag", "Mo.", "Do.,"]
WORDS = ["am", "den", "bis", "zum", "vom", "ab", "um", "Uhr", "von", "und", "bis zum", "startet am", "endet am",
         "findet nicht statt", "abgesagt", "verschoben", "statt am", "nicht wie geplant am", "Anmeldung bis",
         "Stand:", "Erfurt,", "morgen", "heute", "übermorgen", "Veranstaltungen", "Termine", "Version", "ca.",
         "Workshop", "Stammtisch", "|", "–", "-", "—", "/", ",", ".", ":", "(", ")", "\n", "\n\n", " ", "  ", "\t",
         "2025", "2026", "1999", "Vorschau 2026", "KW 12", "Q3", "h", "st.", "th", "November 17th", "17th November 2020"]


@st.composite
def number(draw) -> str:
    return draw(st.sampled_from([
        str(draw(st.integers(0, 40))), f"{draw(st.integers(0, 99)):02d}", str(draw(st.integers(1900, 2100))),
        str(draw(st.integers(0, 10**12))), "0", "00", "31", "32", "29", "30", "12", "13", "24", "60", "9" * 30,
    ]))


@st.composite
def numeric_date(draw) -> str:
    d, m = draw(number()), draw(number())
    sep = draw(st.sampled_from([".", ". ", "/", "-", "."]))
    year = draw(st.sampled_from(["", str(draw(st.integers(0, 9999))), "25", "2025"]))
    time = draw(st.sampled_from(["", f" {draw(number())}:{draw(number())}", f", {draw(number())}.{draw(number())} Uhr", " 10 Uhr"]))
    return f"{d}{sep}{m}{sep}{year}{time}"


german_text = st.lists(
    st.one_of(
        st.sampled_from(MONTHS), st.sampled_from(WEEKDAYS), st.sampled_from(WORDS), number(), numeric_date(),
        st.text(max_size=8),
    ),
    max_size=40,
).map(lambda parts: " ".join(parts))


# --------------------------------------------------------------------------- iCalendar

ICS_DATES = st.one_of(
    st.sampled_from(["20250901T100000Z", "20250901T100000", "20250901", "20251026T023000", "19700101T000000Z",
                     "99991231T235959Z", "00010101", "20250230T250000", "2025-09-01", "", "T", "gestern"]),
    st.from_regex(r"\A[0-9]{8}(T[0-9]{6}Z?)?\Z"),
)
TZIDS = st.sampled_from(["", ";TZID=Europe/Berlin", ";TZID=W. Europe Standard Time", ";TZID=Mars/Olympus", ";TZID=",
                         ";TZID=(UTC+01:00) Amsterdam, Berlin", ";VALUE=DATE", ";VALUE=PERIOD", ';TZID="Europe/Berlin"',
                         ";TZID=UTC", ";VALUE=DATE-TIME", ";TZID=Europe/London;VALUE=DATE-TIME", ";TZID=Africa/Abidjan"])
RRULES = st.one_of(
    st.builds(
        lambda freq, parts: "RRULE:" + ";".join([f"FREQ={freq}", *parts]),
        st.sampled_from(["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "FORTNIGHTLY", ""]),
        st.lists(st.sampled_from([
            "COUNT=3", "COUNT=0", "COUNT=-1", "COUNT=100000000", "COUNT=x", "INTERVAL=0", "INTERVAL=2", "INTERVAL=-5",
            "INTERVAL=99999999", "UNTIL=20251231", "UNTIL=20251231T235959Z", "UNTIL=1999", "UNTIL=", "BYDAY=MO,WE",
            "BYDAY=1MO,-1FR", "BYDAY=XX", "BYDAY=53MO", "BYMONTHDAY=31", "BYMONTHDAY=-1", "BYMONTHDAY=0",
            "BYMONTH=2", "BYMONTH=13", "BYHOUR=8,9,10", "BYHOUR=25", "BYMINUTE=0,30", "BYSECOND=60", "BYSETPOS=-1",
            "BYWEEKNO=53", "BYYEARDAY=366", "WKST=SU", "X-NAME=1",
        ]), max_size=4),
    ),
    st.text(max_size=30).map(lambda t: "RRULE:" + t),
)


@st.composite
def vevent(draw) -> str:
    lines = ["BEGIN:VEVENT"]
    if draw(st.booleans()):
        lines.append(f"UID:{draw(st.sampled_from(['a', 'b', 'a', '', 'x' * 300]))}")
    lines.append(f"DTSTART{draw(TZIDS)}:{draw(ICS_DATES)}")
    end = draw(st.sampled_from(["DTEND", "DURATION", None]))
    if end == "DTEND":
        lines.append(f"DTEND{draw(TZIDS)}:{draw(ICS_DATES)}")
    elif end == "DURATION":
        lines.append("DURATION:" + draw(st.sampled_from(["PT1H", "P1D", "-PT1H", "P99999999D", "PT0S", "P1W2D", "1H"])))
    for _ in range(draw(st.integers(0, 3))):
        lines.append(draw(st.one_of(
            RRULES,
            st.builds(lambda tz, v: f"EXDATE{tz}:{v}", TZIDS, ICS_DATES),
            st.builds(lambda tz, v: f"RDATE{tz}:{v}", TZIDS, ICS_DATES),
            st.builds(lambda tz, v: f"RECURRENCE-ID{tz}:{v}", TZIDS, ICS_DATES),
            st.sampled_from(["STATUS:CANCELLED", "STATUS:TENTATIVE", "STATUS:", "SUMMARY:", "SUMMARY;LANGUAGE=de:Ä\\nB",
                             "LOCATION:Erfurt\\, Messe", "URL:javascript:alert(1)", "URL:/relative", "CATEGORIES:a,b,,c",
                             "DESCRIPTION:<b>fett</b> &amp;", "CLASS:PRIVATE", "X-MICROSOFT-CDO-ALLDAYEVENT:TRUE"]),
        )))
    lines.append("SUMMARY:" + draw(st.text(max_size=40)).replace("\r", " ").replace("\n", "\\n"))
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


VTIMEZONE = st.builds(
    lambda tzid, off1, off2, start: "\r\n".join([
        "BEGIN:VTIMEZONE", f"TZID:{tzid}", "BEGIN:STANDARD", f"DTSTART:{start}", f"TZOFFSETFROM:{off1}",
        f"TZOFFSETTO:{off2}", "END:STANDARD", "END:VTIMEZONE"]),
    st.sampled_from(["Europe/Berlin", "W. Europe Standard Time", "Mars/Olympus", "Custom", ""]),
    st.sampled_from(["+0100", "+0200", "-1200", "+9999", "x", "", "+010030"]),
    st.sampled_from(["+0100", "+0200", "+1400", "+0000"]),
    ICS_DATES,
)


@st.composite
def ics_calendar(draw) -> bytes:
    parts = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"]
    if draw(st.booleans()):
        parts.append("X-WR-TIMEZONE:" + draw(st.sampled_from(["Europe/Berlin", "Mars/Olympus", "", "W. Europe Standard Time", "UTC"])))
    parts += draw(st.lists(VTIMEZONE, max_size=2))
    parts += draw(st.lists(vevent(), min_size=1, max_size=6))
    parts.append("END:VCALENDAR")
    return ("\r\n".join(parts) + "\r\n").encode("utf-8", "surrogatepass")


# Calendars of the common shape, all of whose parts are well-formed: what the fast ICS
# reader (aggregator/extract/ics_lines.py) reads itself, with odd text and every kind of time.
PLAIN_TZIDS = st.sampled_from(["", ";TZID=Europe/Berlin", ';TZID="Europe/Berlin"', ";TZID=W. Europe Standard Time",
                               ";TZID=UTC", ";TZID=America/New_York", ";TZID=Etc/GMT-2", ";VALUE=DATE-TIME",
                               ";TZID=/mozilla.org/20050126_1/Europe/Berlin", ";X-FOO=1;TZID=Europe/Berlin"])
PLAIN_DATETIMES = st.builds(
    lambda d, t, z: f"{d:%Y%m%d}T{t:%H%M%S}{z}",
    st.dates(min_value=date(1890, 1, 1), max_value=date(2230, 12, 31)), st.times(), st.sampled_from(["", "", "Z"]))
PLAIN_DATES = st.dates(min_value=date(1890, 1, 1), max_value=date(2230, 12, 31)).map(lambda d: f"{d:%Y%m%d}")
PLAIN_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30).map(
    lambda t: t.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")) | st.sampled_from(
    ["a\\nb", "a\\Nb", "x\\:y", "<p>Hallo</p>", "\\\\n", "Ü; ,", "  "])


@st.composite
def _plain_when(draw, name: str) -> str:
    if draw(st.integers(0, 4)) == 0:
        return f"{name};VALUE=DATE:{draw(PLAIN_DATES)}"
    tz = draw(PLAIN_TZIDS)
    value = draw(PLAIN_DATETIMES)
    if "TZID" in tz:
        value = value.rstrip("Z")
    return f"{name}{tz}:{value}"


@st.composite
def plain_vevent(draw) -> str:
    lines = ["BEGIN:VEVENT", f"UID:{draw(st.sampled_from(['a', 'b', 'c@x', 'a']))}", draw(_plain_when("DTSTART"))]
    for name in draw(st.lists(st.sampled_from(["DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID",
                                               "SUMMARY", "DESCRIPTION", "LOCATION", "URL", "STATUS", "CATEGORIES",
                                               "SEQUENCE", "DTSTAMP", "X-ALT-DESC;FMTTYPE=text/html", "VALARM"]),
                              max_size=8, unique=True)):
        if name in ("DTEND", "RECURRENCE-ID"):
            lines.append(draw(_plain_when(name)))
        elif name in ("RDATE", "EXDATE"):
            lines.append(f"{name}:" + ",".join(draw(st.lists(PLAIN_DATETIMES, min_size=1, max_size=3))))
        elif name == "DURATION":
            lines.append("DURATION:" + draw(st.sampled_from(["PT1H", "P1D", "PT90M", "P1W", "PT0S"])))
        elif name == "RRULE":
            lines.append(draw(st.sampled_from(["RRULE:FREQ=WEEKLY;COUNT=4", "RRULE:FREQ=MONTHLY;BYDAY=1WE",
                                               "RRULE:FREQ=DAILY;UNTIL=20260301T000000Z", "RRULE:FREQ=YEARLY;INTERVAL=2"])))
        elif name == "STATUS":
            lines.append("STATUS:" + draw(st.sampled_from(["CANCELLED", "confirmed", "TENTATIVE", "CANCELED"])))
        elif name == "SEQUENCE":
            lines.append(f"SEQUENCE:{draw(st.integers(0, 5))}")
        elif name == "DTSTAMP":
            lines.append("DTSTAMP:20250101T000000Z")
        elif name == "VALARM":
            lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M", "DESCRIPTION:x", "END:VALARM"]
        else:
            lines.append(f"{name}:{draw(PLAIN_TEXT)}")
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


@st.composite
def ics_plain_calendar(draw) -> bytes:
    calendars = []
    for _ in range(draw(st.integers(1, 2))):
        parts = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"]
        xwr = draw(st.sampled_from([None, "Europe/Berlin", "UTC", "America/New_York"]))
        events = draw(st.lists(plain_vevent(), min_size=0, max_size=5))
        if xwr and draw(st.booleans()):
            parts.append(f"X-WR-TIMEZONE:{xwr}")
            xwr = None
        parts += events
        if xwr:
            parts.append(f"X-WR-TIMEZONE:{xwr}")  # after the events: it still applies to them
        parts.append("END:VCALENDAR")
        calendars.append("\r\n".join(parts))
    return ("\r\n".join(calendars) + "\r\n").encode("utf-8")


# --------------------------------------------------------------------------- JSON values for JSON-LD and Tribe

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["2025-09-01", "2025-09-01T10:00:00+02:00", "2025-09-01 10:00:00", "P1D",
                                           "PT2H", "2025-13-45", "", "Europe/Berlin", "UTC+1", "Event", "#id"]),
)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)


def _dumps(value) -> str:
    # allow_nan: sites do write NaN; Python's json then reads it back
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


EVENT_KEYS = ["@type", "@id", "@context", "@graph", "name", "startDate", "endDate", "duration", "location",
              "address", "description", "url", "eventStatus", "eventAttendanceMode", "organizer", "superEvent",
              "subEvent", "eventSchedule", "doorTime", "image", "offers"]


@st.composite
def schema_event(draw, depth: int = 0) -> dict:
    node = {"@type": draw(st.sampled_from(["Event", "BusinessEvent", ["Event", "Thing"], "Place", "", None, "EducationEvent"]))}
    for key in draw(st.lists(st.sampled_from(EVENT_KEYS), max_size=8)):
        if key in ("location", "organizer", "subEvent", "superEvent") and depth < 3 and draw(st.booleans()):
            node[key] = draw(schema_event(depth + 1))
        else:
            node[key] = draw(json_values)
    return node


@st.composite
def jsonld_page(draw) -> bytes:
    blocks = []
    for _ in range(draw(st.integers(1, 3))):
        value = draw(st.one_of(schema_event(), st.lists(schema_event(), max_size=3),
                               st.builds(lambda evs: {"@context": "https://schema.org", "@graph": evs}, st.lists(schema_event(), max_size=3)),
                               json_values))
        text = _dumps(value)
        if draw(st.booleans()):
            text = draw(st.sampled_from(["/* c */", "<!--", "// x\n", ""])) + text
        blocks.append(f'<script type="application/ld+json">{text}</script>')
    micro = draw(st.sampled_from(["", '<div itemscope itemtype="https://schema.org/Event"><span itemprop="name">M</span>'
                                  '<time itemprop="startDate" datetime="2025-09-01T10:00">x</time></div>',
                                  '<div class="h-event"><span class="p-name">H</span><time class="dt-start">2025-13-01</time></div>',
                                  '<div class="vevent"><span class="summary">V</span><abbr class="dtstart" title="x"></abbr></div>']))
    return f"<html><head>{''.join(blocks)}</head><body>{micro}</body></html>".encode("utf-8", "surrogatepass")


TRIBE_KEYS = ["id", "title", "description", "url", "start_date", "end_date", "utc_start_date", "utc_end_date",
              "timezone", "all_day", "venue", "categories", "tags", "status", "event_status", "cost", "organizer"]


@st.composite
def tribe_event(draw) -> dict:
    ev = {}
    for key in draw(st.lists(st.sampled_from(TRIBE_KEYS), max_size=12)):
        if key in ("start_date", "end_date", "utc_start_date", "utc_end_date"):
            ev[key] = draw(st.one_of(st.sampled_from(["2025-09-01 10:00:00", "2025-09-01", "2025-02-30 10:00:00",
                                                     "0000-00-00 00:00:00", "9999-12-31 23:59:59", ""]), json_values))
        elif key == "venue":
            ev[key] = draw(st.one_of(st.dictionaries(st.sampled_from(["venue", "address", "city", "zip", "country"]), json_values, max_size=5),
                                     st.lists(json_values, max_size=2), json_scalars))
        else:
            ev[key] = draw(json_values)
    return ev


@st.composite
def tribe_json(draw) -> bytes:
    body = draw(st.one_of(
        st.builds(lambda evs, extra: {"events": evs, **extra}, st.lists(tribe_event(), max_size=5),
                  st.dictionaries(st.sampled_from(["next_rest_url", "total", "total_pages", "rest_url"]), json_values, max_size=3)),
        json_values,
    ))
    return _dumps(body).encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- feeds and HTML lists


@st.composite
def feed_xml(draw) -> bytes:
    items = []
    for _ in range(draw(st.integers(0, 5))):
        title, text = escape(draw(german_text)), draw(st.one_of(german_text, st.text(max_size=40)))
        extra = draw(st.sampled_from([
            "", "<ev:startdate>2025-09-01T10:00:00+02:00</ev:startdate>", "<ev:startdate>gestern</ev:startdate>",
            "<ev:startdate>2025-09-01</ev:startdate><ev:enddate>2025-08-01</ev:enddate>",
            "<xcal:dtstart>20250901T100000Z</xcal:dtstart>", "<pubDate>Mon, 01 Sep 2025 10:00:00 +0200</pubDate>",
            "<pubDate>kein Datum</pubDate>", "<category>Workshop</category>",
        ]))
        wrapped = draw(st.sampled_from([escape(text), f"<![CDATA[<p>{text}</p>]]>"]))
        items.append(f"<item><title>{title}</title><link>{draw(st.sampled_from(['https://x.example/e', '/rel', 'javascript:x', '']))}"
                     f"</link><description>{wrapped}</description>{extra}</item>")
    head = ('<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/" '
            'xmlns:xcal="urn:ietf:params:xml:ns:xcal">')
    if draw(st.booleans()):
        return f'<?xml version="1.0" encoding="utf-8"?>{head}<channel><title>T</title>{"".join(items)}</channel></rss>'.encode("utf-8", "surrogatepass")
    entries = "".join(i.replace("<item>", "<entry>").replace("</item>", "</entry>") for i in items)
    return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>{entries}</feed>'.encode("utf-8", "surrogatepass")


HTML_OPTIONS = {"item": ".ev", "title": "h3", "date": ".d", "time": ".t", "link": "a", "location": ".o",
                "description": ".x", "next_page": "a.next"}


@st.composite
def html_list(draw) -> bytes:
    """A list page for ``HTML_OPTIONS``: items with German date text, headings with years, odd markup."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(f"<h2>{escape(draw(german_text))}</h2>")
        else:
            date = escape(draw(german_text))
            time_el = f'<span class="t">{escape(draw(german_text))}</span>' if draw(st.booleans()) else ""
            pub = draw(st.sampled_from(["", '<time itemprop="datePublished" datetime="2025-01-01">1.1.2025</time>',
                                        '<time datetime="2025-09-01T10:00">x</time>', '<time datetime="garbage">y</time>']))
            href = draw(st.sampled_from(["/e/1", "https://x.example/e", "javascript:x", "", "http://[::1", "mailto:a@b"]))
            parts.append(f'<div class="ev"><h3><a href="{href}">{escape(draw(st.text(max_size=30)))}</a></h3>'
                         f'<span class="d">{date}{pub}</span>{time_el}<p class="o">{escape(draw(st.text(max_size=20)))}</p></div>')
    nav = draw(st.sampled_from(["", '<a class="next" href="?page=2">weiter</a>', '<a class="next" href="https://other.example/p2">x</a>',
                                '<a class="next" href="http://[bad">x</a>']))
    base = draw(st.sampled_from(["", '<base href="https://base.example/sub/">', '<base href="javascript:x">']))
    return f"<html><head>{base}</head><body>{''.join(parts)}{nav}</body></html>".encode("utf-8", "surrogatepass")

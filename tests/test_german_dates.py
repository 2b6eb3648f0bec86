"""aggregator.german_dates against the real strings of networks.md §2.

One row per string: the input, the reference date (for year-less and relative
dates), optionally a ``year_hint``, and the pinned result. ``E(start, end,
*flags)`` is one expected match (flag "warned": it carries a warning); ``[]`` means "no event". Every string of
networks.md §2 is a row (strings §2 lists together are separate rows); rows
marked "synthetic" pin a decision the real strings leave open. The section
comments follow networks.md §2a–g.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest

from aggregator.german_dates import DateMatch, find_dates, is_dateline, year_from_heading

REF = date(2025, 11, 10)  # reference for year-less dates: a listing seen on 10 Nov 2025


@dataclass(frozen=True)
class E:
    start: date | datetime
    end: date | datetime | None = None
    flags: frozenset[str] = frozenset()

    def __init__(self, start, end=None, *flags: str):
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "flags", frozenset(flags))


def d(y, m, day):
    return date(y, m, day)


def dt(y, m, day, h, mi=0):
    return datetime(y, m, day, h, mi)


def row(text, expected, ref=None, id=None, hint=None):
    return pytest.param(text, ref, hint, expected, id=id or text[:60])


TABLE = [
    # --- 2a. single dates, with/without weekday, year, time
    row("Am 14. Oktober 2024 sind die Thüringer Cross Cluster Wochen …", [E(d(2024, 10, 14))]),
    row("Noch bis zum 25. Oktober 2024 können sich Interessierte … anmelden", []),  # deadline
    row("Am 7. September 2022 starteten die Netzwerke …", [E(d(2022, 9, 7))]),
    row(
        "Der Branchentalk fand am 19.09.2018 im Technologie- und Innovationspark Jena GmbH (TIP) "
        "auf dem Beutenbergcampus statt.",
        [E(d(2018, 9, 19))],
    ),
    row("bei einer Strategiekonferenz am 23.10.2018", [E(d(2018, 10, 23))]),
    row(
        "Am 28.11.2017 fand erstmalig die Jahresveranstaltung der RIS3-Programme in der Arena Erfurt statt.",
        [E(d(2017, 11, 28))],
    ),
    row("Am 27.09.2023 fand der 7. Thüringer Maschinenbautag im COMCENTER Brühl in Erfurt statt.", [E(d(2023, 9, 27))]),
    row("am 22. September 2025 bereits zum neunten Mal … im COMCENTER Erfurt", [E(d(2025, 9, 22))]),
    row("am 26. November 2025 in der IHK Erfurt", [E(d(2025, 11, 26))]),
    row("am Mittwoch, 4. März 2020, an der Friedrich-Schiller-Universität Jena (FSU)", [E(d(2020, 3, 4))]),
    row("am Donnerstag, 4. September 2008, ab 10 Uhr", [E(dt(2008, 9, 4, 10))]),
    row("Am Freitag, den 17. März 2017, eröffnete …", [E(d(2017, 3, 17))]),
    row(
        "am Donnerstag, den 14. Juli 2011, um 16.30 Uhr im Applikationszentrum der TU, Gustav-Kirchhoff-Straße 5",
        [E(dt(2011, 7, 14, 16, 30))],
    ),
    row("am Donnerstagvormittag, 11. Juli 2013, im Augustinerkloster in Erfurt", [E(d(2013, 7, 11))]),
    row("am Sonntag, dem 28. Juni 2015", [E(d(2015, 6, 28))]),
    row("Am 08. November 2022 folgte unsere Modellfabrik …", [E(d(2022, 11, 8))]),
    row("am 02. Juli 2020", [E(d(2020, 7, 2))]),
    row("Mit der Mitgliederversammlung am 28.05.2019", [E(d(2019, 5, 28))]),
    row("Am 16.6.2010 veranstalteten …", [E(d(2010, 6, 16))]),
    row("Der Branchentag am 22.6.2017", [E(d(2017, 6, 22))]),
    row("am 27.4.2018", [E(d(2018, 4, 27))]),
    row("ist der 11.4.2018", [E(d(2018, 4, 11))]),
    row("am 3.4.14", [E(d(2014, 4, 3))]),
    # a news date in its page, but alone nothing tells it from an event date
    row("14.01.16", [E(d(2016, 1, 14))]),
    row("am 13.1.2014", [E(d(2014, 1, 13))]),
    row("13.01.2014", [E(d(2014, 1, 13))]),
    row("Mi, 02.07.2014\nOrt: Zukunftsakademie NRW, Humboldtstr. 40, 44787 Bochum", [E(d(2014, 7, 2))]),
    # --- 2b. date + time
    row(
        "Ort: Wasserwerk Burgau, Reifsteinweg 20, 07745 Jena\nZeit: Freitag, 14.07.2023, 11:30 – 12:00 Uhr",
        [E(dt(2023, 7, 14, 11, 30), dt(2023, 7, 14, 12))],
    ),
    row(
        "Termin           Mittwoch, 27.04.2016, 14.00 Uhr\nOrt                  Thüringer Innovationszentrum "
        "Mobilität, Hauptgebäude, Ehrenbergstraße 15, 98693 Ilmenau",
        [E(dt(2016, 4, 27, 14))],
    ),
    row(
        "am Dienstag, 29. März 2022 von 9:00 bis 17:30 Uhr in der Friedrich-Schiller-Universität Jena (FSU)",
        [E(dt(2022, 3, 29, 9), dt(2022, 3, 29, 17, 30))],
    ),
    # A written weekday decides the year of a year-less date. The string is from a newspaper preview
    # (thueringer-allgemeine.de, 2019), and 27 June 2019 is a Thursday: its reference is a day of that
    # June, as for the other previews here. Seen on REF, no 27 June within a year of it is a Thursday
    # (2025: Friday, 2026: Saturday): the nearest occurrence stays, with a warning (see the weekday rows).
    row(
        "am Donnerstag, 27. Juni, von 17 bis 21 Uhr im Haus Dacheröden am Anger 37",
        [E(dt(2019, 6, 27, 17), dt(2019, 6, 27, 21), "inferred")],
        ref=date(2019, 6, 20),
    ),
    row(
        "am Donnerstag, 27. Juni, von 17 bis 21 Uhr im Haus Dacheröden am Anger 37",
        [E(dt(2026, 6, 27, 17), dt(2026, 6, 27, 21), "inferred", "warned")],
        ref=REF,
        id="Donnerstag, 27. Juni seen on REF: no Thursday nearby, warned",
    ),
    row("am Donnerstag, 27. Juni, von 17 bis 21 Uhr im Haus Dacheröden", [], id="no year, no reference: nothing"),
    row(
        "am 21. November 2012, in der Zeit von 18 – 21 Uhr im Haus Dacheröden",
        [E(dt(2012, 11, 21, 18), dt(2012, 11, 21, 21))],
    ),
    # an event page (packsdrauf.de) read before its day: 25 October is a Tuesday in 2022 (the last such
    # year before REF); seen on REF (25.10.2025 is a Saturday) the date stays, with a warning
    row(
        "am Dienstag, dem 25. Oktober, von 17.30 bis etwa 19.30 Uhr",
        [E(dt(2022, 10, 25, 17, 30), dt(2022, 10, 25, 19, 30), "inferred")],
        ref=date(2022, 10, 1),
    ),
    row(
        "am Dienstag, dem 25. Oktober, von 17.30 bis etwa 19.30 Uhr",
        [E(dt(2025, 10, 25, 17, 30), dt(2025, 10, 25, 19, 30), "inferred", "warned")],
        ref=REF,
        id="Dienstag, dem 25. Oktober seen on REF: no Tuesday nearby, warned",
    ),
    row("Pressekonferenz am 11.08.2020, 12:00–13:00 Uhr", [E(dt(2020, 8, 11, 12), dt(2020, 8, 11, 13))]),
    row("Am Dienstag, 11. August 2020 von 12 bis 13 Uhr", [E(dt(2020, 8, 11, 12), dt(2020, 8, 11, 13))]),
    row("am 19. Mai 2020 von 10:30 bis 11:30 Uhr", [E(dt(2020, 5, 19, 10, 30), dt(2020, 5, 19, 11, 30))]),
    # an invitation (buerger-fuer-thueringen.de blog) read before its day: 21 October is a Saturday in
    # 2023; seen on REF (21.10.2025 is a Tuesday) the date stays, with a warning
    row(
        "Wann? Samstag, 21. Okt., ab 11:30 bis 14:30\nWo? Erfurt, „DASDIE BRETTL“, Lange Brücke 29",
        [E(dt(2023, 10, 21, 11, 30), dt(2023, 10, 21, 14, 30), "inferred")],
        ref=date(2023, 10, 1),
    ),
    row(
        "Wann? Samstag, 21. Okt., ab 11:30 bis 14:30\nWo? Erfurt, „DASDIE BRETTL“, Lange Brücke 29",
        [E(dt(2025, 10, 21, 11, 30), dt(2025, 10, 21, 14, 30), "inferred", "warned")],
        ref=REF,
        id="Samstag, 21. Okt. seen on REF: no Saturday nearby, warned",
    ),
    row("- Wann?: 4. April 2018, 9 Uhr", [E(dt(2018, 4, 4, 9))]),
    row("Termin: 11. Oktober 19 Uhr", [E(dt(2025, 10, 11, 19), None, "inferred")], ref=REF),
    row("Die Veranstaltung beginnt um 15.00 Uhr im Hoersaal 144 des Universitaetshauptgebaeudes, Fuerstengraben 1.", []),
    row(
        "Am 30. November kommen dort um 9 Uhr in der Veranstaltungshalle Flugraum4",
        [E(dt(2025, 11, 30, 9), None, "inferred")],
        ref=REF,
    ),
    # the time is in the next sentence; it still belongs to the date (wanted result, see networks.md)
    row(
        "am Mittwoch, 3. Mai. Das Treffen von 17 bis 19 Uhr",
        [E(dt(2017, 5, 3, 17), dt(2017, 5, 3, 19), "inferred")],
        ref=date(2017, 5, 2),
    ),
    row("Das Treffen von 17 bis 19 Uhr", [], ref=date(2017, 5, 2)),  # alone: a time without a date
    row("am Mittwoch, 3. Mai", [E(d(2017, 5, 3), None, "inferred")], ref=date(2017, 5, 2)),
    # a multi-day range with a daily time: first day's start to last day's end (v1 simplification)
    row(
        "Vom 26. bis 28. August stellt ThINKA von 14:00 bis 17:00 Uhr vor dem Flößerbrunnen …",
        [E(dt(2025, 8, 26, 14), dt(2025, 8, 28, 17), "inferred")],
        ref=date(2025, 8, 1),
    ),
    row(
        "Am 19. Mai zwischen 9:00 und 12:00 Uhr",
        [E(dt(2026, 5, 19, 9), dt(2026, 5, 19, 12), "inferred")],
        ref=REF,
    ),
    row("zwischen 8.00 Uhr und 13.00 Uhr", []),  # a time without a date is no event
    row("am 22. November 2024 von 18 bis 24 Uhr", [E(dt(2024, 11, 22, 18), dt(2024, 11, 23, 0))]),
    # a relative day counts only with a time right after it, and only with a reference
    row("morgen ab 9 Uhr", [E(dt(2025, 11, 11, 9), None, "relative")], ref=REF),
    row("morgen ab 9 Uhr", [], id="relative day without reference: nothing"),
    row("um 15 Uhr", [], ref=REF),  # a time without a date is no event
    row("circa 15.45 Uhr", [], ref=REF),
    row("Heute um 15 Uhr beginnt der Workshop", [E(dt(2025, 11, 10, 15), None, "relative")], ref=REF, id="synthetic: heute"),
    row("Die Welt von morgen. Am Morgen um 9 Uhr", [], ref=REF, id="synthetic: morgen as a noun or without time"),
    row("Von vergangenem Freitag, 12 Uhr, bis Sonntagabend, 18 Uhr", []),  # relative, past: not an event
    row("on Tuesday, 17th November 2020, from 9:00 to 19:00", [E(dt(2020, 11, 17, 9), dt(2020, 11, 17, 19))]),
    # synthetic: English needs an ordinal or a weekday (English prose names past dates all the time)
    row("Tuesday, November 17, 2020 at 9:00", [E(dt(2020, 11, 17, 9))]),
    row("On 20 and 21 January 2018, hundreds of groups organized", []),
    row("A month after the September 11, 2001, attacks", []),
    # --- 2c. pipe / table layouts
    row(
        "14. Mai 2018 |19.00 Uhr | Duale Hochschule Gera-Eisenach, Campus Eisenach, Audimax T105",
        [E(dt(2018, 5, 14, 19))],
    ),
    row("14.10.2025 | 18:00 | Gotha, Forschungszentrum Gotha", [E(dt(2025, 10, 14, 18))]),
    row("16.10.2025 | 16:00", [E(dt(2025, 10, 16, 16))]),
    row("18.09.2025 | 09:00 | Gedenkstätte Buchenwald | Jugendbegegnungsstätte", [E(dt(2025, 9, 18, 9))]),
    row("18.09.2025 | 14:45 | Online", [E(dt(2025, 9, 18, 14, 45))]),
    row("Mitteldeutscher Kunststofftag | Messe Erfurt | 29.-30.06.2016", [E(d(2016, 6, 29), d(2016, 7, 1))]),
    row(
        "| Datum: | Montag, den 27. Februar 2023 |\n| Zeit: | 19:00 Uhr |\n| Ort: | Genscher Saal |",
        [E(dt(2023, 2, 27, 19))],
    ),
    row("09:30 Uhr | Walk-in – Welcome-Desk |\n10:00 Uhr | Begrüßung …", []),
    row("• 16.30 Uhr Ankommen\n• 17.00 Uhr Beginn Branchentalk\n• 18.30 Uhr Buffet und get together", []),
    # a day header alone on its line takes the time of the next line
    row(
        "15.10.2024\nTriptis, Pfarrstr. 1 im Gemeindezentrum St. Florian, Pfarrscheune, 19 - 20.30 Uhr",
        [E(dt(2024, 10, 15, 19), dt(2024, 10, 15, 20, 30))],
    ),
    row("Triptis, Pfarrstr. 1 im Gemeindezentrum St. Florian, Pfarrscheune, 19 - 20.30 Uhr", []),  # without its day header
    row("Kaisersaal Im Schloß, 07607 Eisenberg oder online, 17.30 - 20 Uhr", []),
    row("online, 17 Uhr", []),
    # the whole day block: one match (the first entry's time); splitting the entries of a
    # day into events is the job of the extractor that sees the page's blocks
    row(
        "15.10.2024\nTriptis, Pfarrstr. 1, 19 - 20.30 Uhr\nKaisersaal Im Schloß, 07607 Eisenberg oder online, 17.30 - 20 Uhr\nonline, 17 Uhr",
        [E(dt(2024, 10, 15, 19), dt(2024, 10, 15, 20, 30))],
        id="day block with three entries",
    ),
    # agenda bullets under a date: one event starting with the first item, never one per item
    row(
        "19.09.2018\n• 16.30 Uhr Ankommen\n• 17.00 Uhr Beginn Branchentalk\n• 18.30 Uhr Buffet und get together",
        [E(dt(2018, 9, 19, 16, 30))],
        id="agenda bullets under a day header",
    ),
    # --- 2d. multi-day ranges (end exclusive, as in iCalendar)
    row("CCITVom 16. bis 25.09.2020 fand die erste Cross-Cluster Woche …", [E(d(2020, 9, 16), d(2020, 9, 26))]),
    row("Vom 16. bis 25.09.2020", [E(d(2020, 9, 16), d(2020, 9, 26))]),
    row("16.–25.09.2020", [E(d(2020, 9, 16), d(2020, 9, 26))]),
    # a start word with the first date and "bis (zum)" before the second: one range, even over sentences
    row("startet am 16. September 2020 … bis zum 25. September 2020", [E(d(2020, 9, 16), d(2020, 9, 26))]),
    row(
        "Die Cross-Cluster-Woche startet am 16. September 2020. Die Themenwoche läuft bis zum 25. September 2020.",
        [E(d(2020, 9, 16), d(2020, 9, 26))],
        id="synthetic: split range, two sentences",
    ),
    # ... but a "bis zum" in a sentence about registration stays a deadline (§2a, CCW 2024)
    row(
        "Am 14. Oktober 2024 sind die Thüringer Cross Cluster Wochen gestartet. "
        "Noch bis zum 25. Oktober 2024 können sich Interessierte … anmelden",
        [E(d(2024, 10, 14))],
        id="synthetic: start + registration deadline stay apart",
    ),
    row(
        "Die Anmeldung startet am 1. September 2025 und läuft bis zum 30. September 2025.",
        [E(d(2025, 9, 1))],
        id="synthetic: a registration period is no range (its start stays a date, see report)",
    ),
    row("03.-04.06.2014, Erfurt", [E(d(2014, 6, 3), d(2014, 6, 5))]),
    row("am 3. und 4. Juni 2014 im Messe-Congress-Centrum Erfurt", [E(d(2014, 6, 3), d(2014, 6, 5))]),
    row("am 29./30. Juni 2016", [E(d(2016, 6, 29), d(2016, 7, 1))]),
    row("vom 13.-18.Oktober 2014 in Friedrichshafen", [E(d(2014, 10, 13), d(2014, 10, 19))]),
    row("vom 6.- 8. Mai 2003 in Jena", [E(d(2003, 5, 6), d(2003, 5, 9))]),
    row("vom 27.-29. April 2018", [E(d(2018, 4, 27), d(2018, 4, 30))]),
    row("Vom 26. bis 27. Juni 2018", [E(d(2018, 6, 26), d(2018, 6, 28))]),
    row("am 26. und 27. Juni 2018", [E(d(2018, 6, 26), d(2018, 6, 28))]),
    row(
        "vom 24. bis zum 25. September im ComCenter in Erfurt",
        [E(d(2025, 9, 24), d(2025, 9, 26), "inferred")],
        ref=REF,
    ),
    row("am 26. und 27. Juni 2012 im Suhler Ringberghotel", [E(d(2012, 6, 26), d(2012, 6, 28))]),
    row("(10.–15. Juli)", [E(d(2026, 7, 10), d(2026, 7, 16), "inferred")], ref=REF),
    row("Zwischen dem 23. und 26. Mai", [E(d(2026, 5, 23), d(2026, 5, 27), "inferred")], ref=REF),
    row("vom 2. bis 18. Juni 2023", [E(d(2023, 6, 2), d(2023, 6, 19))]),
    row("Vom 27. September bis 4. Oktober", [E(d(2025, 9, 27), d(2025, 10, 5), "inferred")], ref=REF),
    row("Vom 27. Dezember bis 4. Januar", [E(d(2025, 12, 27), d(2026, 1, 5), "inferred")], ref=REF),
    row("vom 23. bis zum 25. Januar 2026", [E(d(2026, 1, 23), d(2026, 1, 26))]),
    row("27.12. – 03.01.2026", [E(d(2025, 12, 27), d(2026, 1, 4))], id="range over new year, year borrowed"),
    row("Zeit  \n30.05.2019 -\n01.06.2019", [E(d(2019, 5, 30), d(2019, 6, 2))]),
    row("vom 14.-15. Mai", [E(d(2019, 5, 14), d(2019, 5, 16), "inferred")], ref=date(2019, 4, 1)),
    row("vom 14. bis 15. Mai 2019 in Jena", [E(d(2019, 5, 14), d(2019, 5, 16))]),
    row("In der Woche vom 25. bis 29. Mai 2020", [E(d(2020, 5, 25), d(2020, 5, 30))]),
    row("Workshops am 3. und 10. Juni 2025", [E(d(2025, 6, 3)), E(d(2025, 6, 10))], id="und, not consecutive: two days"),
    # --- weekdays (synthetic): a year-less date takes the year, within a year of the reference either
    # way, whose day falls on the written weekday; when none does, or the year is written or from a
    # heading, the date stays and the weekday that does not fit it is warned about
    row("Mittwoch, 10. Dezember", [E(d(2025, 12, 10), None, "inferred")], ref=REF, id="synthetic: weekday fits the nearest"),
    row(
        "am Donnerstag, 4. September",
        [E(d(2025, 9, 4), None, "inferred", "warned")],
        ref=REF,
        id="synthetic: weekday takes a date just past the tolerance",
    ),
    row(
        "Freitag, 14.07.2023, 11:30 Uhr",
        [E(dt(2023, 7, 14, 11, 30))],
        id="synthetic: weekday fits a written date",
    ),
    row(
        "Montag, 14.07.2023, 11:30 Uhr",
        [E(dt(2023, 7, 14, 11, 30), None, "warned")],
        id="synthetic: weekday contradicts a written date: kept, warned",
    ),
    row(
        "am Dienstag, dem 25. Oktober",
        [E(d(2025, 10, 25), None, "inferred", "warned")],
        ref=date(2022, 10, 1),
        hint=2025,
        id="synthetic: weekday contradicts a heading's year: kept, warned",
    ),
    # multi-day ranges with a time on each day (synthetic; the first is The Events Calendar's list markup,
    # see tests/fixtures/sites/wp-tec): one range from the first day's time to the last day's
    row(
        "4. November @ 9:00 - 5. November @ 16:00",
        [E(dt(2025, 11, 4, 9), dt(2025, 11, 5, 16), "inferred")],
        ref=date(2025, 9, 1),
        id="synthetic: TEC multi-day with times",
    ),
    row("05.03.2025, 9:30 Uhr bis 06.03.2025, 16 Uhr", [E(dt(2025, 3, 5, 9, 30), dt(2025, 3, 6, 16))]),
    row("05.03.2025 09:30 - 06.03.2025 16:00", [E(dt(2025, 3, 5, 9, 30), dt(2025, 3, 6, 16))]),
    row("Mi, 05.03.2025 9:30 – Do, 06.03.2025 16:00", [E(dt(2025, 3, 5, 9, 30), dt(2025, 3, 6, 16))], id="synthetic: weekdays on both days"),
    row("30.12. 18:00 – 02.01.2026 10:00", [E(dt(2025, 12, 30, 18), dt(2026, 1, 2, 10))], id="synthetic: timed range over new year"),
    row(
        "vom 05.03.2025 um 9:30 Uhr bis zum 06.03.2025 um 16 Uhr",
        [E(dt(2025, 3, 5, 9, 30), dt(2025, 3, 6, 16))],
        id="synthetic: timed range in prose",
    ),
    row("05.03.2025, 9:30 Uhr, bis 06.03.2025, 16 Uhr", [E(dt(2025, 3, 5, 9, 30), dt(2025, 3, 6, 16))], id="synthetic: comma before bis"),
    # a registration period is no event: its start is a bare timestamp, its end a deadline
    row("Anmeldung vom 01.03.2025 09:00 bis 05.03.2025 18:00", [], id="synthetic: timed registration period"),
    # an end before the start is no range, and each half alone is a bare timestamp
    row("05.03.2025 16:00 - 05.03.2025 09:30", [], id="synthetic: timed range ending before it starts"),
    # --- 2e. year-less lists, fuzzy, recurring, relative
    row(
        "- 1. Februar: Jahresempfang (zusammen mit BVMW)\n- 15. und 16. Juni: Digitaltag Thüringen\n"
        "- September: Cybersecurity-Monat mit vier Veranstaltungen\n- 2. November: Business-Lounge",
        [
            E(d(2023, 2, 1), None, "inferred"),
            E(d(2023, 6, 15), d(2023, 6, 17), "inferred"),
            E(d(2023, 11, 2), None, "inferred"),
        ],
        ref=date(2023, 1, 10),
    ),
    # the same list with its heading in the text: the heading's year wins over the reference
    row(
        "Veranstaltungen 2023 des ITnet Thüringen e. V.\n- 1. Februar: Jahresempfang (zusammen mit BVMW)\n"
        "- 15. und 16. Juni: Digitaltag Thüringen\n- September: Cybersecurity-Monat mit vier Veranstaltungen\n"
        "- 2. November: Business-Lounge",
        [
            E(d(2023, 2, 1), None, "inferred"),
            E(d(2023, 6, 15), d(2023, 6, 17), "inferred"),
            E(d(2023, 11, 2), None, "inferred"),
        ],
        ref=REF,
        id="ITnet list with its heading in the text",
    ),
    # ... or the caller passes the heading's year (year_hint), which also wins over the reference
    row(
        "- 1. Februar: Jahresempfang (zusammen mit BVMW)\n- 2. November: Business-Lounge",
        [E(d(2023, 2, 1), None, "inferred"), E(d(2023, 11, 2), None, "inferred")],
        ref=REF,
        hint=2023,
        id="ITnet list with year_hint",
    ),
    row("8. Juli: Virtuelle Mitgliederversammlung und Vorstandswahl des ITnet", [E(d(2020, 7, 8), None, "inferred")], ref=date(2020, 6, 1)),
    row(
        "8. Juli: Virtuelle Mitgliederversammlung und Vorstandswahl des ITnet",
        [E(d(2020, 7, 8), None, "inferred")],
        ref=REF,
        hint=2020,
        id="chronicle row with year_hint",
    ),
    row(
        "2021\n2. Cross-Cluster-Woche gemeinsam mit anderen Thüringer Branchenclustern\n"
        "2020\n8. Juli: Virtuelle Mitgliederversammlung und Vorstandswahl des ITnet",
        [E(d(2020, 7, 8), None, "inferred")],
        ref=REF,
        hint=2019,
        id="chronicle: the nearest year heading above wins over year_hint",
    ),
    row("8. Juli: Virtuelle Mitgliederversammlung", [], id="year-less without reference"),
    row("Beim Stammtisch, zu dem medways jeden letzten Mittwoch im Monat einlädt", []),
    row("ab September jeden Dienstag zwischen 8:00 und 10:00", []),
    row("Dienstag bis Donnerstag von 14 bis 17 Uhr", []),
    row("im 14-tägigen Rhythmus", []),
    row("aus der KW 32", []),
    row("Mitte September 2022", []),
    row("Bis Sommer 2023", []),
    row("Gestern am 27.11. war es soweit", [E(d(2018, 11, 27), None, "inferred")], ref=date(2018, 11, 28)),
    row(
        "Am 18. September, einen Tag nach Eröffnung der 66. IAA Pkw",
        [E(d(2015, 9, 18), None, "inferred")],
        ref=date(2015, 9, 1),
    ),
    # the time is in the next sentence and belongs to another part of the programme
    row(
        "Das Finale am 8.5. sollte sich indes keiner entgehen lassen. Um 15 Uhr startet …",
        [E(d(2003, 5, 8), None, "inferred")],
        ref=date(2003, 4, 30),
    ),
    # a yearly rule without a year is not one event (with a year written, the date counts)
    row("Alle Jahre wieder am 10. November", [], ref=REF),
    row("Jährlich am 10. November 2025 lädt der Verein ein", [E(d(2025, 11, 10))], id="synthetic: yearly, year written"),
    row(
        "Die Workshops finden jeweils am 3. und 10. Juni statt",
        [E(d(2026, 6, 3), None, "inferred"), E(d(2026, 6, 10), None, "inferred")],
        ref=REF,
        id="synthetic: jeweils is no recurrence",
    ),
    # --- 2f. status words
    row("19. bis 25. Juni 2020 (findet nicht statt)", [E(d(2020, 6, 19), d(2020, 6, 26), "cancelled")]),
    # old and new date in one sentence: the new date is the event, marked postponed
    row(
        "welche für den 2. April im Steigerwaldstadion geplant war, findet jetzt am 24. September 2020 statt",
        [E(d(2020, 9, 24), None, "postponed")],
        ref=date(2020, 3, 20),
    ),
    row(
        "Sie soll nun am 24. September ihre Pforten öffnen, nicht wie geplant am 2. April.",
        [E(d(2020, 9, 24), None, "inferred", "postponed")],
        ref=date(2020, 3, 20),
    ),
    row(
        "die Benefizgala der Erfurter Serviceclubs am 18. April 2020 im Kaisersaal Erfurt werden … ausfallen",
        [E(d(2020, 4, 18), None, "cancelled")],
    ),
    # synthetic rows for the markers the brief names
    row("ABGESAGT: 14.10.2025 Workshop Wasserstoff", [E(d(2025, 10, 14), None, "cancelled")]),
    row("Der Workshop am 14.10.2025 entfällt.", [E(d(2025, 10, 14), None, "cancelled")]),
    row("Stammtisch 14.10.2025 fällt aus", [E(d(2025, 10, 14), None, "cancelled")]),
    row("Der Workshop am 14.10.2025 wird verschoben.", [E(d(2025, 10, 14), None, "postponed")]),
    row("Der Workshop wird auf den 5. Mai 2025 verschoben.", [E(d(2025, 5, 5), None, "postponed")]),
    row(
        "Die Tagung am 5. Mai 2025 beginnt um 9 Uhr. Am 6. Mai 2025 entfällt der Workshop.",
        [E(dt(2025, 5, 5, 9)), E(d(2025, 5, 6), None, "cancelled")],
    ),
    # --- 2g. publication datelines / timestamps: never events
    row("Erfurt, 14. Januar 2016.", []),
    row("ERFURT / ESSEN, 12.03.2020.", []),
    row("Erfurt, 01. Dezember 2016:", []),
    row("Ilmenau, 01.06.2021, Matthias Hein und Florian Puch", []),
    row("Jena  | 09. Oktober 2024", []),
    row("Jena | 12. Juni 2023", []),
    # a lone date up to three lines below a label line ("Aktuelles" … title … date)
    row("Aktuelles\nNeues Jahr, neue Impulse für den Thüringer Maschinenbau\n06.01.2026", []),
    row("Meldung\n19.09.2023", []),
    row("13.09.2017 13:18", []),
    row("Di 07.10.2014 10:17", []),
    row("30.04.2003 09:20", []),
    row("Freitag, 26. Januar 2024, 09:28 Uhr", []),
    row("Version vom 25. Juni 2014, 23:58 Uhr", []),
    row("Allgemeines – 04.06.2025", []),
    # --- DD.MM.YYYY HH:MM (synthetic): a posting timestamp in free text, the event's start when the
    # context says so – a weekday or an event label before it (an HTML date field: see the test below)
    row("05.03.2025 18:00", [], id="synthetic: bare date + clock time in free text is a timestamp"),
    row("Mi 05.03.2025 18:00", [E(dt(2025, 3, 5, 18))], id="synthetic: weekday + date + clock time"),
    row("Termin: 05.03.2025 18:00", [E(dt(2025, 3, 5, 18))], id="synthetic: Termin: + date + clock time"),
    row("Datum: 05.03.2025 18:00", [E(dt(2025, 3, 5, 18))], id="synthetic: Datum: + date + clock time"),
    row("Wann? 05.03.2025 18:00", [E(dt(2025, 3, 5, 18))], id="synthetic: Wann? + date + clock time"),
    row("Zeit: 05.03.2025 18:00", [E(dt(2025, 3, 5, 18))], id="synthetic: Zeit: + date + clock time"),
    row("| Datum: | 05.03.2025 18:00 |", [E(dt(2025, 3, 5, 18))], id="synthetic: table label + date + clock time"),
    row("Anmeldetermin: 05.03.2025 18:00", [], id="synthetic: Anmeldetermin is no event label"),
    row("Posted on Mi 05.03.2025 18:00", [], id="synthetic: a dateline label beats the weekday"),
    # --- invalid and look-alike numbers
    row("am 31.02.2020", []),
    row("am 30. Februar 2021", []),
    row("Version 2.1.3 mit 1.000 Teilnehmern um 16.30 Uhr, Tel. 0361 12.34.56", []),
    row("Herr Maier am 5. Maier", []),
    row("v3.8.11 released; Version 2.1.20", [], id="software versions"),
    row("3.8.11", [], id="unpadded 2-digit-year date alone: a version"),
    row("Release 2.1.20 am 3.4.2020", [E(d(2020, 4, 3))], id="version number next to a date"),
    row("am 5. Mai 2025 von 22 bis 2 Uhr", [E(dt(2025, 5, 5, 22), dt(2025, 5, 6, 2))], id="time range over midnight"),
]


def _as_expected(m: DateMatch) -> E:
    flags = [
        name
        for name, on in (
            ("inferred", m.year_inferred),
            ("cancelled", m.cancelled),
            ("postponed", m.postponed),
            ("relative", m.relative),
            ("warned", bool(m.warnings)),
        )
        if on
    ]
    return E(m.start, m.end, *flags)


@pytest.mark.parametrize("text, ref, hint, expected", TABLE)
def test_table(text, ref, hint, expected):
    found = find_dates(text, reference=ref, year_hint=hint)
    assert [_as_expected(m) for m in found] == expected
    for m in found:
        assert text[m.span[0] : m.span[1]] == m.text
        assert type(m.start) is type(m.end) or m.end is None


@pytest.mark.parametrize("text", ["05.03.2025 18:00", "30.04.2003 09:20"])
def test_a_date_field_makes_date_and_clock_time_the_event_start(text):
    (m,) = find_dates(text, date_field=True)
    assert isinstance(m.start, datetime) and m.text == text
    assert find_dates(text) == []  # the same in free text: a posting timestamp


def test_a_date_field_keeps_refusing_datelines_and_odd_minutes():
    for text in ("Erfurt, 14. Januar 2025.", "Meldung 19.09.2023", "13.09.2017 13:18", "Di 07.10.2014 10:17"):
        assert find_dates(text, date_field=True) == [], text


def test_weekday_warnings_name_the_weekday_and_the_date():
    (m,) = find_dates("Montag, 14.07.2023, 11:30 Uhr")
    assert m.warnings == ("'Montag' does not fit 14.07.2023, a Friday; kept the date",)
    (m,) = find_dates("am Donnerstag, 4. September", reference=REF)
    assert m.warnings == ("'Donnerstag' fits 04.09.2025, not 04.09.2026; took 2025",)


def test_weekday_moves_a_year_less_date_at_most_a_year_from_the_reference():
    # 11 December 2024 is a Wednesday, 11 months before REF: taken
    (m,) = find_dates("Mittwoch, 11. Dezember", reference=REF)
    assert m.start == date(2024, 12, 11)
    # 21 October is a Saturday in 2023 and 2028, both more than a year from REF: the nearest stays
    (m,) = find_dates("Samstag, 21. Okt.", reference=REF)
    assert m.start == date(2025, 10, 21) and m.warnings
    # English weekdays and "Sonnabend" count too
    (m,) = find_dates("Sonnabend, 13. Dezember", reference=REF)
    assert m.start == date(2025, 12, 13) and not m.warnings
    (m,) = find_dates("on Saturday, 13th December", reference=REF)
    assert m.start == date(2025, 12, 13) and not m.warnings


def test_matches_carry_text_and_span_for_title_stripping():
    text = "Mi, 02.07.2014 | 18:00 | Workshop X"
    (m,) = find_dates(text)
    assert m.text == "Mi, 02.07.2014 | 18:00"
    assert m.span == (0, len("Mi, 02.07.2014 | 18:00"))


def test_year_inference_window():
    # a listing seen in November: January means next January, October this year
    (jan,) = find_dates("am 15. Januar", reference=date(2025, 11, 10))
    assert jan.start == date(2026, 1, 15) and jan.year_inferred
    (octo,) = find_dates("am 1. Oktober", reference=date(2025, 11, 10))
    assert octo.start == date(2025, 10, 1)
    (sep,) = find_dates("am 1. September", reference=date(2025, 11, 10))
    assert sep.start == date(2026, 9, 1)  # more than ~2 months past
    # a datetime reference is fine too
    (m,) = find_dates("am 8.5.", reference=datetime(2025, 4, 30, 12, 0))
    assert m.start == date(2025, 5, 8)


def test_no_reference_never_invents_a_year():
    assert find_dates("am 27. Juni, 8.5. und vom 14.-15. Mai") == []


def test_is_dateline_direct():
    text = "Erfurt, 14. Januar 2016. Am 3. Mai 2016 findet der Workshop statt."
    assert is_dateline(text, (8, 23))
    assert not is_dateline(text, (28, 38))


@pytest.mark.parametrize(
    "text",
    ["", "kein Datum hier", "1" * 5000, "5. " * 3000, "am 1.1." * 2000, "\x00\ufffd 14.10.2025 \u200b"],
)
def test_odd_inputs_do_not_crash(text):
    find_dates(text, reference=REF)
    find_dates(text)


@pytest.mark.parametrize(
    "heading, year",
    [
        ("Veranstaltungen 2023 des ITnet Thüringen e. V.", 2023),
        ("2020", 2020),
        ("## 2020", 2020),
        ("Termine 2024:", 2024),
        ("Im Jahr 2019", 2019),
        ("Rückblick 2022", 2022),
        ("  Veranstaltungen\n  2023  ", 2023),
        # not a section heading
        ("Veranstaltungen 2023/2024", None),
        ("Bis Sommer 2023", None),
        ("Mitte September 2022", None),
        ("Erfurt, 14. Januar 2016", None),
        ("Termine am 5. Mai 2024", None),
        ("Die Netzwerke starteten 2020 eine Initiative", None),
        ("2020: Durchführung der Cross-Cluster-Woche Thüringen gemeinsam mit Thüringer Branchenclustern", None),
        ("Chronik", None),
        ("", None),
    ],
)
def test_year_from_heading(heading, year):
    assert year_from_heading(heading) == year


def test_year_hint_beats_the_reference_but_not_a_written_year():
    (m,) = find_dates("am 8. Juli", reference=date(2025, 11, 10), year_hint=2020)
    assert m.start == date(2020, 7, 8) and m.year_inferred
    (m,) = find_dates("am 8. Juli", year_hint=2020)  # no reference needed
    assert m.start == date(2020, 7, 8)
    (m,) = find_dates("am 8. Juli 2021", year_hint=2020)
    assert m.start == date(2021, 7, 8) and not m.year_inferred
    # a range over New Year under a heading: the first day takes the heading's year
    (m,) = find_dates("Vom 27. Dezember bis 4. Januar", year_hint=2023)
    assert (m.start, m.end) == (date(2023, 12, 27), date(2024, 1, 5))


def test_year_heading_applies_only_below_it():
    text = "am 1. März\nVeranstaltungen 2023\nam 2. März"
    first, second = find_dates(text, reference=date(2025, 11, 10))
    assert first.start == date(2026, 3, 1)  # above the heading: from the reference
    assert second.start == date(2023, 3, 2)


def test_old_call_shapes_still_work():
    # the feed and HTML extractors call find_dates(text, reference=...) and read these fields
    (m,) = find_dates("14.10.2025 | 18:00 | Workshop", reference=date(2025, 1, 1))
    assert (m.start, m.end, m.text, m.span, m.year_inferred, m.cancelled, m.postponed) == (
        datetime(2025, 10, 14, 18),
        None,
        "14.10.2025 | 18:00",
        (0, 18),
        False,
        False,
        False,
    )
    assert m.relative is False

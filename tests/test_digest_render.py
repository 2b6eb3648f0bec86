"""Rendering the nightly digest (exporters.digest): subject, plain text, HTML.

The browser test opens the HTML part in Debian's chromium (/usr/bin/chromium)
through Playwright and reads its screenshot back with OCR (Debian's tesseract, German
and English); without them the test is skipped, with CI=true it fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rapidfuzz import fuzz

from exporters.digest import (
    CATALOGUE,
    DigestConflict,
    DigestData,
    DigestEvent,
    RenderedDigest,
    SourceProblem,
    format_when,
    is_empty,
    render_digest,
    safe_url,
)
from tests.support.shared import IN_CI

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BERLIN = ZoneInfo("Europe/Berlin")
SCRIPT_TITLE = "<script>alert(1)</script>"
LONG_URL = "https://www.example.org/veranstaltungen/2025/09/innovationsforum-wasserstoff-thueringen-mit-sehr-langem-pfad?utm_source=netzwerktimer"

# ---------------------------------------------------------------------------
# Sample data


def event(title="Innovationsforum Wasserstoff", start=None, end=None, all_day=False, networks=("ThEGA",), location="Erfurt", url="https://thega.example/wasserstoff", status="confirmed"):
    start = start or datetime(2025, 9, 22, 9, 0, tzinfo=BERLIN)
    end = end if end is not None else (None if all_day else datetime(2025, 9, 22, 17, 0, tzinfo=BERLIN))
    return DigestEvent(title, start, end, all_day, tuple(networks), location, url, status)


def conflict(id="c1", a=None, b=None, kind="overlap", status="new", note="", context=()):
    a = a or event()
    b = b or event("Netzwerktreffen Medizintechnik", datetime(2025, 9, 22, 13, 0, tzinfo=BERLIN), datetime(2025, 9, 22, 15, 30, tzinfo=BERLIN), networks=("medways",), location="Jena", url="https://medways.example/treffen")
    return DigestConflict(id, kind, 3.5, status, a, b, date(2025, 9, 20), note, tuple(context))


def problem(kind="failing", network="ThEGA", source="thega-ics", message="HTTP 503 bei den letzten drei Abrufen", since=datetime(2025, 9, 19, 1, 0, tzinfo=timezone.utc)):
    return SourceProblem(source, network, kind, message, since)


def data(language="de", **kw) -> DigestData:
    base = dict(night=date(2025, 9, 21), language=language, new=[], changed=[], resolved=[], upcoming=[], announced=[], problems=[])
    base.update(kw)
    return DigestData(**base)


def full(language="de") -> DigestData:
    """Every section filled, with hostile and overlong texts."""
    evil = event(SCRIPT_TITLE, datetime(2025, 9, 22, 7, 30, tzinfo=timezone.utc), datetime(2025, 9, 22, 12, 0, tzinfo=timezone.utc),
                 networks=("POLYKUM",), location='Halle "<b>fett</b>"', url="javascript:alert(2)")
    long_title = event("Thüringer Innovationstag für Photonik, Wasserstoff, Medizintechnik und Kunststofftechnik mit Ausstellung, Fachvorträgen und anschließendem Netzwerkabend",
                       networks=("OptoNet", "Photonics BB", "ThEGA"), location="Erfurt, Kaisersaal, Futterstraße 15/16, großer Saal im ersten Obergeschoss", url=LONG_URL)
    fair = event("Fachmesse Kunststoff", date(2025, 9, 21), date(2025, 9, 24), all_day=True, networks=("POLYKUM",), location="Leipzig", url="http://messe.example/kunststoff", status="cancelled")
    party = event("Sommerfest", date(2025, 9, 22), date(2025, 9, 23), all_day=True, networks=("OptoNet",), location="", url="")
    new = [conflict("c-new-1", b=evil), conflict("c-new-2", a=long_title, context=("Feiertag: Tag der Deutschen Einheit", "fällt in die Herbstferien"))]
    changed = [conflict("c-changed", a=party, b=fair, kind="same_day", status="changed")]
    resolved = [conflict("c-resolved", status="resolved")]
    acknowledged = conflict("c-ack", a=party, b=event(), kind="same_day", status="acknowledged", note="Mit medways abgesprochen <i>gewollt</i>")
    upcoming = [*new, acknowledged]
    return data(language, new=new, changed=changed, resolved=resolved, upcoming=upcoming, announced=[long_title, fair],
                problems=[problem(), problem("suspicious", "medways", "medways-html", "0 Termine statt sonst 14", None)],
                calendar_url="https://kalender.example/ccit", weeks=4, recipient_networks=("ThEGA",))


# ---------------------------------------------------------------------------
# Subject


@pytest.mark.parametrize(("n", "de", "en"), [
    (0, "Netzwerktimer: keine neuen Terminüberschneidungen", "Netzwerktimer: no new scheduling conflicts"),
    (1, "Netzwerktimer: 1 neue Terminüberschneidung", "Netzwerktimer: 1 new scheduling conflict"),
    (2, "Netzwerktimer: 2 neue Terminüberschneidungen", "Netzwerktimer: 2 new scheduling conflicts"),
    (3, "Netzwerktimer: 3 neue Terminüberschneidungen", "Netzwerktimer: 3 new scheduling conflicts"),
])
def test_subject_counts_new_conflicts_singular_and_plural(n, de, en):
    new = [conflict(f"c{i}") for i in range(n)]
    problems = [] if n else [problem()]
    assert render_digest(data("de", new=new, problems=problems)).subject == de
    assert render_digest(data("en", new=new, problems=problems)).subject == en


def test_german_is_the_default_and_english_selectable():
    de = render_digest(full("de"))
    en = render_digest(full("en"))
    assert '<html lang="de">' in de.html and '<html lang="en">' in en.html
    assert "Neue Terminüberschneidungen" in de.text.title() or "NEUE TERMINÜBERSCHNEIDUNGEN" in de.text
    assert "NEW CONFLICTS" in en.text and "Terminüberschneidung" not in en.text
    # an unknown language falls back to German rather than failing the nightly run
    assert render_digest(replace(full(), language="fr")).subject == de.subject
    assert set(CATALOGUE["de"]) - {"months"} <= set(CATALOGUE["en"]), "every German string has an English one"


# ---------------------------------------------------------------------------
# Sections

SECTION_KEYS = ["new", "changed", "resolved", "upcoming", "announced", "problems"]


def _text_headings(lang: str) -> list[str]:
    t = CATALOGUE[lang]
    return [t["sec_new"], t["sec_changed"], t["sec_resolved"], t["sec_upcoming_many"].format(weeks=4), t["sec_announced"], t["sec_problems"]]


@pytest.mark.parametrize("lang", ["de", "en"])
def test_sections_in_order(lang):
    out = render_digest(full(lang))
    headings = [h.upper() for h in _text_headings(lang)]
    positions = [out.text.index(h) for h in headings]
    assert positions == sorted(positions), out.text
    html_keys = re.findall(r'data-section="(\w+)"', out.html)
    assert html_keys == SECTION_KEYS
    html_positions = [out.html.index(h) for h in _text_headings(lang)]
    assert html_positions == sorted(html_positions)
    failing, suspicious = CATALOGUE[lang]["problems_failing"], CATALOGUE[lang]["problems_suspicious"]
    assert out.text.index(failing) < out.text.index(suspicious)
    assert out.html.index(failing) < out.html.index(suspicious)


def test_empty_sections_are_omitted():
    out = render_digest(data(changed=[conflict(status="changed")], problems=[problem("suspicious")]))
    assert re.findall(r'data-section="(\w+)"', out.html) == ["changed", "problems"]
    for heading in ("NEUE TERMINÜBERSCHNEIDUNGEN", "AUFGELÖSTE", "ALLE TERMINÜBERSCHNEIDUNGEN", "SEIT DER LETZTEN"):
        assert heading not in out.text
    assert "GEÄNDERTE TERMINÜBERSCHNEIDUNGEN (1)" in out.text
    assert "Auffällig" in out.text and "Nicht erreichbar" not in out.text


def test_upcoming_heading_follows_weeks():
    one = render_digest(data(upcoming=[conflict()], weeks=1, new=[conflict()]))
    assert "ALLE TERMINÜBERSCHNEIDUNGEN DER NÄCHSTEN WOCHE (1)" in one.text
    six = render_digest(data("en", upcoming=[conflict()], weeks=6, new=[conflict()]))
    assert "ALL CONFLICTS IN THE NEXT 6 WEEKS (1)" in six.text


def test_upcoming_is_compact_one_entry_per_conflict():
    out = render_digest(data(upcoming=[conflict("u1"), conflict("u2", kind="same_day")]))
    block = out.text.split("ALLE TERMINÜBERSCHNEIDUNGEN")[1].split("\n-- \n")[0]
    entries = [line for line in block.splitlines() if line.startswith("- ")]
    assert len(entries) == 2
    assert all(line.startswith("- Mo, 22.09.2025: Innovationsforum Wasserstoff") for line in entries)


def test_an_acknowledged_upcoming_conflict_is_marked_with_its_note_in_both_parts():
    out = render_digest(data(upcoming=[conflict("u1", status="acknowledged", note="gemeinsam geplant <ok>"), conflict("u2")]))
    block = " ".join(out.text.split("ALLE TERMINÜBERSCHNEIDUNGEN")[1].split())
    assert "· als bekannt markiert: gemeinsam geplant <ok>" in block
    assert "als bekannt markiert: gemeinsam geplant &lt;ok&gt;" in out.html
    assert block.count("gemeinsam geplant") == 1  # only the acknowledged one carries a note


def test_conflict_shows_both_events_with_network_time_place_link_kind_context_and_note():
    c = conflict(status="acknowledged", note="Bewusst parallel, andere Zielgruppe", context=("Feiertag: Tag der Deutschen Einheit",))
    out = render_digest(data(changed=[c]))
    for part in (out.text, out.html):
        for expected in ("Innovationsforum Wasserstoff", "Netzwerktreffen Medizintechnik", "ThEGA", "medways", "Erfurt", "Jena",
                         "Mo, 22.09.2025, 09:00–17:00 Uhr", "Mo, 22.09.2025, 13:00–15:30 Uhr", "https://thega.example/wasserstoff",
                         "https://medways.example/treffen", "Feiertag: Tag der Deutschen Einheit", "Bewusst parallel, andere Zielgruppe",
                         "als bekannt markiert", "Bekannt seit 20.09.2025"):
            assert expected in part, expected
    assert "    A: Innovationsforum Wasserstoff" in out.text
    assert "    B: Netzwerktreffen Medizintechnik" in out.text
    assert "Zeitliche Überschneidung" in out.text
    assert "Am selben Tag" in render_digest(data(new=[conflict(kind="same_day")])).text
    assert "on the same day" in render_digest(data("en", upcoming=[conflict(kind="same_day")])).text
    # HTML: the two events side by side in the two cells of one row
    row = re.search(r'<td class="side-a".*?</td>\s*<td class="side-b".*?</td>', out.html, re.S)
    assert row and "Innovationsforum Wasserstoff" in row.group(0) and "Netzwerktreffen Medizintechnik" in row.group(0)


def test_calendar_link_when_given():
    with_link = render_digest(data(new=[conflict()], calendar_url="https://kalender.example/ccit"))
    assert 'href="https://kalender.example/ccit"' in with_link.html and "https://kalender.example/ccit" in with_link.text
    without = render_digest(data(new=[conflict()]))
    assert "calendar-link" not in without.html and "Gemeinsamer Kalender" not in without.text


def test_recipient_networks_named():
    assert "Für: ThEGA, medways" in render_digest(data(new=[conflict()], recipient_networks=("ThEGA", "medways"))).text
    assert "Für alle Netzwerke" in render_digest(data(new=[conflict()])).text


# ---------------------------------------------------------------------------
# Plain text: 80 columns

_URL = re.compile(r"https?://\S+")


@pytest.mark.parametrize("lang", ["de", "en"])
def test_text_lines_fit_80_columns(lang):
    d = full(lang)
    word = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichenherstellerinnungsversammlung" * 2
    d.new.append(conflict("c-word", a=event(word, location=word, url=LONG_URL + "&more=" + "x" * 60)))
    d.problems.append(problem(message="Abruf von " + LONG_URL + " lieferte 0 Termine; " + "sehr lange Fehlermeldung " * 8))
    text = render_digest(d).text
    assert LONG_URL in text, "URLs are kept whole"
    for line in text.splitlines():
        if len(line) > 80:
            # only an URL too long for any line may stick out, alone on its line
            assert _URL.fullmatch(line.strip()) and len(line.strip()) > 70, f"a breakable line over 80 columns: {line!r}"
    assert word[:70] in text.replace("\n", "").replace(" ", ""), "long words are broken, not dropped"


def test_text_has_no_markup_escaping():
    text = render_digest(data(new=[conflict(a=event("Forschung & Entwicklung <live>"))])).text
    assert "Forschung & Entwicklung <live>" in text
    assert "&amp;" not in text and "&lt;" not in text


# ---------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(("start", "end", "all_day", "expected"), [
    (datetime(2025, 9, 24, 9, 0, tzinfo=BERLIN), datetime(2025, 9, 24, 17, 0, tzinfo=BERLIN), False, "Mi, 24.09.2025, 09:00–17:00 Uhr"),
    (datetime(2025, 9, 22, 9, 0), datetime(2025, 9, 22, 17, 0), False, "Mo, 22.09.2025, 09:00–17:00 Uhr"),
    # aware datetimes are converted to Europe/Berlin, summer and winter time
    (datetime(2025, 9, 24, 7, 0, tzinfo=timezone.utc), datetime(2025, 9, 24, 15, 0, tzinfo=timezone.utc), False, "Mi, 24.09.2025, 09:00–17:00 Uhr"),
    (datetime(2025, 11, 5, 8, 0, tzinfo=timezone.utc), datetime(2025, 11, 5, 16, 0, tzinfo=timezone.utc), False, "Mi, 05.11.2025, 09:00–17:00 Uhr"),
    (datetime(2025, 10, 25, 22, 30, tzinfo=timezone.utc), None, False, "So, 26.10.2025, 00:30 Uhr"),
    (datetime(2025, 9, 24, 18, 0, tzinfo=BERLIN), datetime(2025, 9, 25, 2, 0, tzinfo=BERLIN), False, "Mi, 24.09.2025, 18:00 Uhr – Do, 25.09.2025, 02:00 Uhr"),
    (datetime(2025, 9, 24, 20, 0, tzinfo=BERLIN), datetime(2025, 9, 25, 0, 0, tzinfo=BERLIN), False, "Mi, 24.09.2025, 20:00–24:00 Uhr"),
    # all-day: the end is exclusive (iCalendar)
    (date(2025, 9, 24), date(2025, 9, 25), True, "Mi, 24.09.2025 (ganztägig)"),
    (date(2025, 9, 24), None, True, "Mi, 24.09.2025 (ganztägig)"),
    (date(2025, 9, 24), date(2025, 9, 24), True, "Mi, 24.09.2025 (ganztägig)"),
    (date(2025, 9, 24), date(2025, 9, 27), True, "Mi, 24.09.2025 – Fr, 26.09.2025 (ganztägig)"),
    (date(2025, 12, 29), date(2026, 1, 3), True, "Mo, 29.12.2025 – Fr, 02.01.2026 (ganztägig)"),
])
def test_german_date_formats(start, end, all_day, expected):
    assert format_when(start, end, all_day) == expected
    assert format_when(start, end, all_day, "de") == expected


def test_english_date_formats():
    assert format_when(datetime(2025, 9, 24, 9, 0, tzinfo=BERLIN), datetime(2025, 9, 24, 17, 0, tzinfo=BERLIN), False, "en") == "Wed, 24 Sep 2025, 09:00–17:00"
    assert format_when(date(2025, 9, 24), date(2025, 9, 25), True, "en") == "Wed, 24 Sep 2025 (all day)"
    assert format_when(date(2025, 9, 24), date(2025, 9, 27), True, "en") == "Wed, 24 Sep 2025 – Fri, 26 Sep 2025 (all day)"


def test_digest_dates_in_berlin_time():
    utc = event(start=datetime(2025, 9, 22, 7, 0, tzinfo=timezone.utc), end=datetime(2025, 9, 22, 15, 0, tzinfo=timezone.utc))
    out = render_digest(data(new=[conflict(a=utc)], problems=[problem(since=datetime(2025, 9, 19, 1, 0, tzinfo=timezone.utc))]))
    assert "Mo, 22.09.2025, 09:00–17:00 Uhr" in out.text and "Mo, 22.09.2025, 09:00–17:00 Uhr" in out.html
    assert "seit Fr, 19.09.2025, 03:00 Uhr" in " ".join(out.text.split())
    assert "Stand: So, 21.09.2025" in out.text


# ---------------------------------------------------------------------------
# HTML: escaping, links, mail-client safety


def test_titles_with_html_arrive_escaped():
    hostile = event(SCRIPT_TITLE, location='"><img src=x onerror=alert(3)>', url="https://x.example/?a=1&b=<2>")
    c = conflict(a=hostile, note="<b>bold</b> & 'quoted'", context=("<iframe src=//evil.example>",))
    out = render_digest(data(new=[c], upcoming=[c], announced=[hostile], problems=[problem(message="<script>x()</script>", network="<i>N</i>")],
                             recipient_networks=("<u>ThEGA</u>",)))
    assert "<script" not in out.html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html
    assert "<img" not in out.html and "<iframe" not in out.html and "<b>bold" not in out.html and "<i>N" not in out.html and "<u>" not in out.html
    assert "&lt;img src=x onerror=alert(3)&gt;" in out.html
    assert 'href="https://x.example/?a=1&amp;b=&lt;2&gt;"' in out.html
    assert SCRIPT_TITLE in out.text, "the plain-text part shows the title as it is"


def test_only_http_links_survive():
    bad = ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>", "vbscript:x", "ftp://files.example/x",
           "mailto:a@b.example", "/relative/path", "//evil.example/x", "https://", "http:///nohost", "https://exa mple.org/"]
    for url in bad:
        assert safe_url(url) == "", url
        out = render_digest(data(new=[conflict(a=event(url=url))], announced=[event(url=url)], calendar_url=url))
        hrefs = re.findall(r'href="([^"]*)"', out.html)
        assert set(hrefs) == {"https://medways.example/treffen"}, (url, hrefs)
        if url != "https://":
            assert url.strip() not in out.text, url
    for url in ("https://thega.example/x", "http://thega.example/x", "HTTPS://THEGA.EXAMPLE/x"):
        assert safe_url(url) == url


def test_html_is_mail_client_safe():
    html = render_digest(full()).html
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "<style" not in html.lower() and "<link" not in html.lower() and "<script" not in html.lower()
    assert not re.search(r'\bsrc\s*=', html), "no images or other external resources"
    assert "class=" not in re.sub(r'class="(conflict|side-a|side-b|event-title|section|calendar-link)"', "", html), "only marker classes, no styling by class"
    assert 'role="presentation"' in html and "<table" in html
    assert 'style="' in html
    assert 'charset=utf-8' in html


def test_templates_are_package_data():
    folder = resources.files("exporters") / "templates" / "digest"
    for name in ("digest.txt.j2", "digest.html.j2"):
        assert (folder / name).is_file(), name
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^exporters\s*=\s*\[.*templates', text, re.M), "pyproject.toml package-data ships the templates"


# ---------------------------------------------------------------------------
# is_empty


def test_is_empty():
    assert is_empty(data())
    assert is_empty(data(upcoming=[conflict()])), "upcoming conflicts alone are no news"
    assert not is_empty(data(new=[conflict()]))
    assert not is_empty(data(changed=[conflict(status="changed")]))
    assert not is_empty(data(resolved=[conflict(status="resolved")]))
    assert not is_empty(data(announced=[event()]))
    assert not is_empty(data(problems=[problem("suspicious")]))


def test_empty_digest_still_renders():
    out = render_digest(data())
    assert isinstance(out, RenderedDigest)
    assert out.subject == "Netzwerktimer: keine neuen Terminüberschneidungen"
    assert "data-section" not in out.html


# ---------------------------------------------------------------------------
# The HTML part in a real browser


def _need(ok: bool, reason: str) -> None:
    if not ok:
        if IN_CI:
            pytest.fail(reason + "; CI must have it (.ci/run installs it)")
        pytest.skip(reason)


def test_missing_browser_skips_locally_and_fails_in_ci(monkeypatch):
    import tests.test_digest_render as me

    monkeypatch.setattr(me, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        _need(False, "no chromium")
    monkeypatch.setattr(me, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must have it"):
        _need(False, "no chromium")
    _need(True, "present")


@pytest.fixture(scope="module")
def browser():
    _need(CHROMIUM.exists(), f"Debian's chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.mark.parametrize("lang", ["de", "en"])
def test_html_part_in_chromium(browser, tmp_path, lang):
    out = render_digest(full(lang))
    page_file = tmp_path / f"digest-{lang}.html"
    page_file.write_text(out.html, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"digest-{lang}.png"
    shot.unlink(missing_ok=True)

    page = browser.new_page(viewport={"width": 800, "height": 900})
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append("dialog: " + dialog.message), dialog.dismiss()))

    def only_the_file(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    try:
        page.goto(page_file.as_uri())
        page.screenshot(path=str(shot), full_page=True)
        body = page.inner_text("body")

        assert SCRIPT_TITLE in body, "the script title is shown as text"
        assert "Innovationsforum Wasserstoff" in body and "Thüringer Innovationstag für Photonik" in body
        assert ("Terminüberschneidung" in body) == (lang == "de")
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.evaluate("document.querySelectorAll('script').length") == 0

        # the two events of each conflict side by side: same row, A left of B
        cards = page.locator("table.conflict")
        assert cards.count() == 4
        first = page.locator('table.conflict[data-conflict="c-new-1"]')
        a = first.locator("td.side-a .event-title").bounding_box()
        b = first.locator("td.side-b .event-title").bounding_box()
        assert a and b
        assert abs(a["y"] - b["y"]) < 2, (a, b)
        assert a["x"] + a["width"] <= b["x"], (a, b)
        assert first.locator("td.side-a").inner_text().count("Innovationsforum Wasserstoff") == 1
        assert SCRIPT_TITLE in first.locator("td.side-b").inner_text()
        # the page fits the viewport: nothing forces sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= 800
    finally:
        page.close()

    assert not errors, errors
    assert not outside, f"the HTML loads nothing from outside: {outside}"
    # What a reader sees, not only what the DOM holds: the screenshot read back by OCR.
    seen = _ocr(shot)
    for phrase in SEEN_IN_SCREENSHOT[lang]:
        assert fuzz.partial_ratio(phrase, seen) >= 90, f"{phrase!r} not seen in the screenshot; OCR read:\n{seen}"


SEEN_IN_SCREENSHOT = {
    "de": ["Netzwerktimer – Terminüberschneidungen", "Neue Terminüberschneidungen (2)", "Zeitliche Überschneidung",
           "Innovationsforum Wasserstoff", "Netzwerktreffen Medizintechnik"],
    "en": ["Netzwerktimer – scheduling conflicts", "New conflicts (2)", "Overlapping times", "Innovationsforum Wasserstoff"],
}


def _ocr(image: Path) -> str:
    """The text tesseract reads in ``image`` (German and English), whitespace folded, dashes unified."""
    _need(shutil.which("tesseract") is not None, "tesseract not found (apt-get install tesseract-ocr tesseract-ocr-deu)")
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout.split()
    _need("deu" in langs, "tesseract has no German (apt-get install tesseract-ocr-deu)")
    text = subprocess.run(["tesseract", str(image), "-", "-l", "deu+eng"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.replace("—", "–").replace(" - ", " – ").split())


def test_ocr_of_the_screenshot_would_notice_a_missing_phrase(browser, tmp_path):
    """The OCR check is not a formality: a page without the conflict's title does not pass it."""
    page = browser.new_page(viewport={"width": 800, "height": 300})
    try:
        page.set_content('<html lang="de"><body style="font-family:sans-serif"><h1>Netzwerktimer – Terminüberschneidungen</h1>'
                         "<p>Netzwerktreffen Medizintechnik</p></body></html>")
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot))
    finally:
        page.close()
    seen = _ocr(shot)
    assert fuzz.partial_ratio("Netzwerktreffen Medizintechnik", seen) >= 90
    assert fuzz.partial_ratio("Innovationsforum Wasserstoff", seen) < 90

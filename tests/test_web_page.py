"""The web page (aggregator.web_page): ``/`` as a list or month view, the network
filter, conflict marks, the "Termin prüfen" form at ``/check``, subscribe links,
German and English, escaping; and the page in a real browser (Debian's chromium
through Playwright against uvicorn on a free port), screenshots in test-artifacts/.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from html import unescape
from importlib import resources
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from aggregator import merge
from aggregator.web_page import page_routes
from tests.support.web import view_of
from tests.support.shared import IN_CI
from tests.support.web import refreshed_sites

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

FROZEN = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)  # the fixtures' refresh, and the clock of the date checks
NOVEMBER = datetime(2025, 11, 3, 8, 0, tzinfo=timezone.utc)  # 26.11. is within the next 8 weeks
MV = "ThEEN-Mitgliederversammlung 2025"
FAIR = "medways auf der Medizintechnik-Messe (Stand 12)"
MEDWAYS = {"medways Branchentalk Medizintechnik", "Workshop MDR-Regulatorik", FAIR}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def page_env(tmp_path, sites_server):
    with refreshed_sites(tmp_path, sites_server, FROZEN) as (config, deployment, store):
        yield config, deployment, store


def make_app(config, deployment, store, now=FROZEN) -> Starlette:
    return Starlette(routes=page_routes(config, store, view_of(config, deployment, store), lambda: now))


@pytest.fixture
def client(page_env):
    """The page as on 1 September 2025."""
    with TestClient(make_app(*page_env)) as c:
        yield c


@pytest.fixture
def client_sept(client):
    return client


@pytest.fixture
def november(page_env):
    """The page as on 3 November 2025: the conflict of 26 November is upcoming."""
    with TestClient(make_app(*page_env, now=NOVEMBER)) as c:
        yield c


def ok(resp) -> str:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    return resp.text


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def upcoming_titles(html: str) -> set[str]:
    """The titles in the list of upcoming events."""
    section = html.split('id="upcoming"')[1].split("</section>")[0]
    return {unescape(t) for t in re.findall(r'<div class="event-title">(?:<a [^>]*>)?([^<]+)', section)}


# ---------------------------------------------------------------------------
# Language, list, filter, conflicts


def test_german_by_default_english_with_lang(november):
    client = november
    de = ok(client.get("/"))
    assert '<html lang="de">' in de
    assert "Termine der nächsten 8 Wochen" in de and "Termin prüfen" in de and "Kalender abonnieren" in de
    assert "Mi, 26.11.2025, 10:00–15:00 Uhr" in de
    en = ok(client.get("/", params={"lang": "en"}))
    assert '<html lang="en">' in en
    assert "Events in the next 8 weeks" in en and "Check a date" in en and "Wed, 26 Nov 2025, 10:00–15:00" in en
    assert "Termin prüfen" not in en and "Überschneidung" not in en
    # the forms carry the language along
    assert '<input type="hidden" name="lang" value="en">' in en
    assert ok(client.get("/", params={"lang": "fr"})).startswith("<!DOCTYPE html>\n<html lang=\"de\">")


def test_list_shows_upcoming_events_grouped_by_day(november):
    client = november
    html = ok(client.get("/"))
    titles = upcoming_titles(html)
    assert {MV, FAIR, "Energie-Stammtisch"} <= titles
    assert "<h3>Mittwoch, 26. November 2025</h3>" in html
    day = html.split("<h3>Mittwoch, 26. November 2025</h3>")[1].split("<h3>")[0]
    assert MV in day and FAIR in day
    # ordered by day, from today on: what is past is gone
    days = re.findall(r"<h3>\w+, (\d+)\. (\w+) 2025</h3>", html)
    assert days and days[0][1] == "November"
    assert "medways Branchentalk Medizintechnik" not in titles


def test_network_filter_narrows_the_list(november):
    client = november
    everything = upcoming_titles(ok(client.get("/")))
    html = ok(client.get("/", params={"network": "medways"}))
    medways = upcoming_titles(html)
    assert medways == MEDWAYS & everything and medways < everything and MV not in medways
    assert '<option value="medways" selected>' in html
    assert ok(client.get("/", params={"network": "theen"})).count(MV) >= 1
    unknown = client.get("/", params={"network": "gibt-es-nicht"})
    assert unknown.status_code == 400 and "Unbekanntes Netzwerk" in unknown.text


def test_conflicts_are_marked(november, client_sept):
    client = november
    html = ok(client.get("/"))
    item = next(li for li in html.split('<li class="event') if MV in li.split("</div>")[0])
    assert "conflict" in item.split(">")[0]
    assert "⚠ Überschneidung mit „medways auf der Medizintechnik-Messe (Stand 12)“ (medways)" in item
    september = ok(client_sept.get("/"))
    calm = next(li for li in september.split('<li class="event') if "medways Branchentalk Medizintechnik" in li.split("</div>")[0])
    assert "⚠" not in calm and "conflict" not in calm.split(">")[0]
    en = ok(client.get("/", params={"lang": "en"}))
    assert "⚠ Overlaps with “medways auf der Medizintechnik-Messe (Stand 12)” (medways)" in en


def test_month_view(client):
    html = ok(client.get("/", params={"view": "month", "month": "2025-11", "network": "theen"}))
    assert '<table class="month">' in html and "November 2025" in html
    assert MV in html and FAIR not in html.split("<table")[1].split("</table>")[0].replace("Überschneidung mit „" + FAIR, "")
    assert "month=2025-10" in html and "month=2025-12" in html
    assert ok(client.get("/", params={"view": "month", "month": "2025-11", "lang": "en"})).count("November 2025") >= 1
    assert client.get("/", params={"view": "month", "month": "Nov"}).status_code == 400
    # without a month: the current one (frozen clock: September 2025)
    assert "September 2025" in ok(client.get("/", params={"view": "month"}))


def test_subscribe_links_from_the_request_host(client):
    html = ok(client.get("/", headers={"Host": "kalender.example:8443"}))
    assert 'href="webcal://kalender.example:8443/networks/medways.ics"' in html
    assert 'href="https://kalender.example:8443/networks/medways.ics"' in html
    assert 'href="webcal://kalender.example:8443/calendar.ics"' in html
    evil = client.get("/", headers={"Host": 'x"><script>alert(1)</script>'}).text
    assert "<script>alert(1)" not in evil


# ---------------------------------------------------------------------------
# Termin prüfen


def test_check_reports_the_known_conflict(client):
    html = ok(client.get("/check", params={"date": "2025-11-26", "start": "10:00", "end": "12:00", "network": "theen"}))
    assert "Ergebnis für Mittwoch, 26. November 2025" in html
    on_day = html.split('id="on-day"')[1].split("</ul>")[0]
    assert MV in on_day and FAIR in on_day
    collisions = text_of(html.split('id="collisions"')[1].split('id="free-days"')[0])
    assert "zeitliche Überschneidung" in collisions and FAIR in collisions
    assert MV not in collisions, "the same network's meeting is no conflict for ThEEN"
    free = re.findall(r'href="(/check\?date=2025-1[12]-\d\d[^"]*)"', html)
    assert free and all("network=theen" in u for u in free)
    # the form keeps what was asked
    assert 'value="2025-11-26"' in html and 'value="10:00"' in html and '<option value="theen" selected>' in html
    en = ok(client.get("/check", params={"date": "2025-11-26", "lang": "en"}))
    assert "A new event would collide with" in en and "overlapping times" in en or "on the same day" in en


def test_check_context_and_free_day(client):
    html = ok(client.get("/check", params={"date": "2025-10-03"}))
    assert "Feiertag in Thüringen: Tag der Deutschen Einheit" in html
    en = ok(client.get("/check", params={"date": "2025-10-03", "lang": "en"}))
    assert "Public holiday in Thuringia: Tag der Deutschen Einheit" in en
    calm = ok(client.get("/check", params={"date": "2025-10-08", "start": "09:00"}))
    assert "Ein neuer Termin kollidiert mit nichts." in calm


@pytest.mark.parametrize("params", [{}, {"date": "26.11.2025"}, {"date": "2025-11-26", "start": "25:00"},
                                    {"date": "2025-11-26", "end": "12:00"}, {"date": "2025-11-26", "start": "12:00", "end": "10:00"},
                                    {"date": "2025-11-26", "network": "<b>x</b>"}])
def test_check_rejects_bad_input_with_a_message(client, params):
    resp = client.get("/check", params=params)
    assert resp.status_code == 400
    assert 'class="error" role="alert"' in resp.text and "<b>x</b>" not in resp.text
    assert 'id="check-form"' in resp.text


# ---------------------------------------------------------------------------
# Escaping, accessibility basics, package data


def test_hostile_title_is_escaped(page_env, monkeypatch):
    import aggregator.published_view as published_view

    real = merge.publication

    def hostile(config, store, now, **kw):
        out = []
        for item in real(config, store, now, **kw):
            if item.event.title == MV:
                item = replace(item, event=replace(item.event, title=HOSTILE, location='"><iframe src=//evil.example>', url="javascript:alert(2)"))
            out.append(item)
        return out

    monkeypatch.setattr(published_view, "publication", hostile)
    with TestClient(make_app(*page_env, now=NOVEMBER)) as c:
        for resp in (c.get("/"), c.get("/", params={"view": "month", "month": "2025-11"})):
            html = ok(resp)
            assert "<script" not in html.lower() and "<img" not in html and "<iframe" not in html and "javascript:" not in html
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        # the conflict mark on the other side names the hostile title escaped, too
        assert "Überschneidung mit „&lt;script&gt;" in c.get("/").text


def test_accessible_basics(client):
    for html in (ok(client.get("/")), ok(client.get("/", params={"view": "month"})),
                 ok(client.get("/check", params={"date": "2025-11-26"}))):
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert "<h1>" in html and "<h2" in html
        ids = re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html)
        fields = re.findall(r"<(?:input|select)(?![^>]*type=\"hidden\")[^>]*>", html)
        assert len(ids) == len(fields), "every visible field has an id"
        for field_id in ids:
            assert f'<label for="{field_id}">' in html, field_id
        assert not re.search(r"width:\s*\d+px", html), "no fixed widths"
        assert "<script" not in html


def test_templates_are_package_data():
    folder = resources.files("aggregator") / "templates" / "page"
    for name in ("base.html.j2", "index.html.j2", "check.html.j2", "_macros.html.j2"):
        assert (folder / name).is_file(), name
    assert re.search(r'^aggregator\s*=\s*\[.*"templates/\*\*/\*"', (ROOT / "pyproject.toml").read_text(), re.M)


# ---------------------------------------------------------------------------
# In a real browser


def _need(ok_: bool, reason: str) -> None:
    if not ok_:
        if IN_CI:
            pytest.fail(reason + "; CI must have it (.ci/run installs chromium)")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(page_env):
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(*page_env, now=NOVEMBER), host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
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


def test_page_in_chromium(live_server, browser):  # the server first: the fixtures' refresh runs its own event loop
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    outside: list[str] = []
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone

    page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append("dialog: " + dialog.message), dialog.dismiss()))

    def only_ours(route):
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    try:
        page.goto(live_server + "/")
        assert page.evaluate("document.documentElement.lang") == "de"
        items = page.locator("#upcoming .event-title")
        shown = set(items.all_inner_texts())
        assert {MV, FAIR, "Energie-Stammtisch"} <= shown
        mv = page.locator("#upcoming li.event").filter(has=page.locator(".event-title", has_text=MV))
        assert "Überschneidung mit" in mv.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "fits a phone"
        page.screenshot(path=str(ARTIFACTS / "page-list-phone.png"), full_page=True)

        # the network filter: pick with the label, submit with the keyboard-reachable button
        page.set_viewport_size({"width": 1100, "height": 900})
        page.get_by_label("Netzwerk filtern").select_option("medways")
        page.locator("#filter-form button").click()
        page.wait_for_url("**/?network=medways")
        narrowed = set(page.locator("#upcoming .event-title").all_inner_texts())
        assert narrowed and narrowed <= MEDWAYS and MV not in narrowed and len(narrowed) < len(shown)
        page.screenshot(path=str(ARTIFACTS / "page-filtered.png"), full_page=True)

        # Termin prüfen
        page.get_by_label("Datum").fill("2025-11-26")
        page.get_by_label("Beginn (optional)").fill("10:00")
        page.get_by_label("Ende (optional)").fill("12:00")
        page.get_by_label("Ihr Netzwerk (optional)").select_option("theen")
        page.locator("#check-form button").click()
        page.wait_for_url("**/check?**")
        collisions = page.locator("#collisions").inner_text()
        assert "zeitliche Überschneidung" in collisions and FAIR in collisions
        assert MV in page.locator("#on-day").inner_text()
        page.screenshot(path=str(ARTIFACTS / "page-check.png"), full_page=True)

        page.goto(live_server + "/?view=month&month=2025-11&lang=en")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert MV in page.locator("table.month").inner_text()
        page.screenshot(path=str(ARTIFACTS / "page-month-en.png"), full_page=True)
    finally:
        page.close()

    assert not errors, errors
    assert not outside, f"the page loads nothing from elsewhere: {outside}"
    for name in ("page-list-phone", "page-filtered", "page-check", "page-month-en"):
        shot = ARTIFACTS / f"{name}.png"
        assert shot.is_file() and shot.stat().st_size > 1000, name


def test_check_lists_events_too_long_to_conflict_apart(client):
    html = ok(client.get("/check", params={"date": "2025-10-15"}))
    assert "Außerdem, länger als 3 Tage (zählt nicht für Überschneidungen)" in html
    long_events = html.split('id="long-events"')[1].split("</ul>")[0]
    assert "Thüringer Cross-Cluster-Wochen 2025" in long_events
    if 'id="on-day"' in html:
        assert "Cross-Cluster-Wochen" not in html.split('id="on-day"')[1].split("</ul>")[0]
    en = ok(client.get("/check", params={"date": "2025-10-15", "lang": "en"}))
    assert "Also on, longer than 3 days (not counted for conflicts)" in en


@pytest.mark.parametrize(("span", "de", "en"), [(timedelta(days=3), "3 Tage", "3 days"), (timedelta(days=1), "1 Tag", "1 day"),
                                                (timedelta(hours=36), "36 Stunden", "36 hours")])
def test_the_length_of_too_long_is_said_in_days_or_hours(span, de, en):
    from aggregator.web_page import PAGE_CATALOGUE, _length

    assert (_length(span, PAGE_CATALOGUE["de"]), _length(span, PAGE_CATALOGUE["en"])) == (de, en)

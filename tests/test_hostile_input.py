"""Text from sources is untrusted: one hostile fixture site, end to end.

``tests/fixtures/sites/hostile/`` is two networks' worth of attacks: an ICS and a
JSON-LD page whose titles try to close the event and open another
("…\\nEND:VEVENT\\nBEGIN:VEVENT\\nSUMMARY:evil"), markup and script in titles,
places and descriptions, ``javascript:`` links and a URL that tries to break out
of an attribute, descriptions full of ``;`` ``,`` ``\\`` and line breaks, an RSS
feed with script in title and description, a billion-laughs feed and an XXE feed
that names /etc/passwd, an external DTD and a parameter entity.

They go the whole way: fetch → store → the published ICS, the page, Atom, the
JSON API and the digest mail, and each output is read back the way its reader
would (icalendar, an XML parser, the e-mail parser).
"""

from __future__ import annotations

import email
from datetime import date, datetime, timezone
from email import policy
from zoneinfo import ZoneInfo
from xml.etree import ElementTree as ET

import icalendar
import pytest
from starlette.testclient import TestClient

from aggregator.config import Deployment, load_config
from aggregator.digest_job import run_digest
from aggregator.extract import ExtractContext, ExtractError, extract
from aggregator.pipeline import refresh, select_sources
from aggregator.store import Store
from aggregator.web import create_app
from tests.support.shared import ics_check

NOW = datetime(2030, 2, 20, 6, 0, tzinfo=timezone.utc)
ATOM = "{http://www.w3.org/2005/Atom}"

CONFIG = """
[settings]
allow_private_networks = true  # the fixture server is on 127.0.0.1
timeout = 2
retries = 0

[digest]
recipients = ["kalender@ccit.example"]

[networks.evil]
name = "Evil e.V."

[networks.other]
name = "Other e.V."

[[sources]]
id = "evil-ics"
network = "evil"
kind = "ics"
url = "{base}/hostile/kalender.ics"

[[sources]]
id = "evil-feed"
network = "evil"
kind = "feed"
url = "{base}/hostile/feed.xml"

[[sources]]
id = "evil-lol"
network = "evil"
kind = "feed"
url = "{base}/hostile/billion-laughs.xml"

[[sources]]
id = "evil-xxe"
network = "evil"
kind = "feed"
url = "{base}/hostile/xxe.xml"

[[sources]]
id = "other-page"
network = "other"
kind = "jsonld"
url = "{base}/hostile/"
"""

# What the titles become: markup decoded to text (never interpreted), line breaks folded to spaces.
ICS_TITLE = "<img src=x onerror=alert(1)> Netzwerktreffen END:VEVENT BEGIN:VEVENT SUMMARY:evil"
PAGE_TITLE = "Workshop END:VEVENT BEGIN:VEVENT SUMMARY:evil"
ICS_DESCRIPTION = "Kosten; 20,00 EUR \\ Person\nZweite Zeile, mit Komma\nEND:VEVENT\nBEGIN:VALARM\nTRIGGER:-PT5M"
ICS_PLACE = '<script>alert("ort")</script> Erfurt'
PAGE_DESCRIPTION = "Preis; 10,00 EUR \\ ermäßigt\nZweite Zeile\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:evil2"
# The URL that tried to break out of an attribute, percent-encoded as a browser would.
ICS_URL = "https://evil.example/%22%3E%3Cscript%3Ealert(1)%3C/script%3E"
TITLES = {ICS_TITLE, PAGE_TITLE, "Vortrag <b>fett</b>", "Lachyoga &lol9", "Geheimnis &xxe"}
# What must appear in no output, in any spelling a reader would act on.
SECRETS = ("root:x:0:0", "lollol")


@pytest.fixture
def world(tmp_path, sites_server):
    path = tmp_path / "sources.toml"
    path.write_text(CONFIG.format(base=sites_server.base_url), encoding="utf-8")
    config = load_config(path)
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    deployment = Deployment(path, tmp_path / "data", url)
    store = Store(url)
    store.migrate()
    report = refresh(config, store, deployment, select_sources(config, None), now=NOW)
    try:
        yield config, deployment, store, report
    finally:
        store.close()


@pytest.fixture
def client(world):
    config, deployment, store, _ = world
    with TestClient(create_app(config, deployment, store, clock=lambda: NOW)) as c:
        yield c


def published_ics(world) -> bytes:
    _, deployment, _, _ = world
    return (deployment.public_dir / "calendar.ics").read_bytes()


def vevents(data: bytes) -> list:
    return [c for c in icalendar.Calendar.from_ical(data).walk("VEVENT")]


def test_every_hostile_source_is_read_and_none_breaks_the_run(world):
    _, _, _, report = world
    assert {r.source_id: r.outcome for r in report.sources} == {
        "evil-ics": "fetched", "evil-feed": "fetched", "evil-lol": "fetched", "evil-xxe": "fetched", "other-page": "fetched",
    }
    assert all(r.error is None for r in report.sources), [r.error for r in report.sources]



def test_title_with_crlf_cannot_add_an_event_to_the_ics(world):
    data = published_ics(world)
    events = vevents(data)
    lines = data.split(b"\r\n")
    assert len(events) == 5 and lines.count(b"BEGIN:VEVENT") == 5 and lines.count(b"END:VEVENT") == 5
    assert {str(e["SUMMARY"]) for e in events} == TITLES
    assert not any(line.startswith((b"SUMMARY:evil", b"BEGIN:VALARM", b"TRIGGER")) for line in lines)


@pytest.mark.shared
def test_thunderbird_and_evolution_read_the_hostile_calendar_as_five_events(world, tmp_path):
    path = tmp_path / "hostile.ics"
    path.write_bytes(published_ics(world))
    [result] = ics_check(path)
    assert result["ok"], result
    assert result["icaljs"]["vevents"] == 5 and result["libical"]["vevents"] == 5


def test_description_with_semicolons_commas_backslashes_and_line_breaks_comes_back_exactly(world):
    by_title = {str(e["SUMMARY"]): e for e in vevents(published_ics(world))}
    assert str(by_title[ICS_TITLE]["DESCRIPTION"]) == f"{ICS_DESCRIPTION}\n\nNetzwerk: Evil e.V.\nQuelle: {ICS_URL}"
    assert str(by_title[PAGE_TITLE]["DESCRIPTION"]) == f"{PAGE_DESCRIPTION}\n\nNetzwerk: Other e.V."
    assert str(by_title[ICS_TITLE]["LOCATION"]) == ICS_PLACE


def test_billion_laughs_and_xxe_feeds_expand_nothing_and_read_no_file(world, sites_server, client):
    _, _, store, _ = world
    outputs = [published_ics(world).decode(), client.get("/").text, client.get("/feed.atom").text, client.get("/events.json").text]
    for text in outputs:
        for secret in SECRETS:
            assert secret not in text
    assert not [r for r in sites_server.requests if r.path.endswith(".dtd")], "the external DTD was fetched"
    assert max(len(str(e["DESCRIPTION"])) for e in vevents(published_ics(world))) < 500


def test_markup_in_titles_and_places_is_escaped_in_the_page(client):
    html = client.get("/").text
    assert "<script" not in html.lower() and "<img" not in html and "<iframe" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; Netzwerktreffen" in html
    assert "&lt;script&gt;alert(&#34;ort&#34;)&lt;/script&gt; Erfurt" in html
    assert f'<a href="{ICS_URL}">' in html


def test_markup_in_titles_is_text_in_the_atom_feed(client):
    body = client.get("/feed.atom").content
    assert b"<script" not in body and b"<img" not in body and b"<b>" not in body
    root = ET.fromstring(body)
    entries = root.findall(f"{ATOM}entry")
    assert {e.find(f"{ATOM}title").text.removeprefix("Neu: ").rsplit(" (", 1)[0] for e in entries} == TITLES
    assert {e.find(f"{ATOM}content").get("type") for e in entries} == {"text"}
    assert [link.get("href") for e in entries for link in e.findall(f"{ATOM}link")] == [ICS_URL]


def test_links_other_than_http_are_dropped_everywhere(world, client):
    for text in (published_ics(world).decode(), client.get("/").text, client.get("/feed.atom").text,
                 client.get("/events.json").text, client.get("/conflicts.json").text, client.get("/conflicts.ics").text):
        assert "javascript:" not in text.lower()
    assert {e["url"] for e in client.get("/events.json").json()["events"]} == {ICS_URL, ""}


def test_the_digest_mail_escapes_markup_and_no_title_reaches_a_header(world):
    config, deployment, store, _ = world
    (result,) = run_digest(config, store, deployment, date(2030, 2, 20), NOW)
    assert result.status == "sent"
    (path,) = (deployment.data_dir / "outbox").glob("*.eml")
    raw = path.read_bytes()
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert sorted(msg.keys()) == sorted(["Date", "Message-ID", "From", "To", "Subject", "Auto-Submitted", "MIME-Version", "Content-Type"])
    assert msg["Subject"] == "Netzwerktimer: 1 neue Terminüberschneidung"
    headers = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert b"evil" not in headers and b"SUMMARY" not in headers
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "<script" not in html.lower() and "<img" not in html and "<iframe" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; Netzwerktreffen" in html
    assert f'href="{ICS_URL}"' in html
    assert "<img src=x onerror=alert(1)> Netzwerktreffen" in text  # plain text shows it as it is
    for secret in SECRETS:
        assert secret not in html and secret not in text


XXE_FEED = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE rss [
<!ENTITY secret SYSTEM "{file}">
<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<rss version="2.0"><channel><title>t</title>
<item><title>Geheimnis &secret; &lol2; am 08.03.2030, 10:00 Uhr</title><description>&secret;</description></item>
</channel></rss>"""
XXE_PAGE = """<?xml version="1.0"?>
<!DOCTYPE html [<!ENTITY secret SYSTEM "{file}">]>
<html><body><div class="h-event"><span class="p-name">Geheimnis &secret;</span>
<time class="dt-start" datetime="2030-03-08T10:00">8.3.</time><p class="p-description">&secret;</p></div>
<script type="application/ld+json">{{"@type": "Event", "name": "Treffen &secret;", "startDate": "2030-03-09T10:00"}}</script>
</body></html>"""


@pytest.mark.parametrize("kind,template", [("feed", XXE_FEED), ("jsonld", XXE_PAGE)])
def test_an_external_entity_naming_a_local_file_reads_nothing(tmp_path, kind, template):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-4711", encoding="utf-8")
    ctx = ExtractContext(url="https://evil.example/", timezone=ZoneInfo("Europe/Berlin"), now=NOW)
    try:
        result = extract(kind, template.format(file=secret.as_uri()).encode(), ctx)
    except ExtractError:
        return  # refusing the document is as good as reading nothing
    assert result.events, "the rest of the document is still read"
    for event in result.events:
        assert "SECRET" not in repr(event) and "lollol" not in repr(event)

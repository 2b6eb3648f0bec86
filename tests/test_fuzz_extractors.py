"""Fuzzing every extractor: corpus files mutated, and documents built from odd parts.

The property is ``tests.support.fuzz.check_extractor``: an Extraction of well-formed
events (that normalize, expand and export) or an ``ExtractError``, nothing else.
Corpus-seeded targets need ``../shared/corpus`` (skipped outside CI without it,
failing in CI); the others use the project's own fixtures. ``make fuzz`` runs many
more examples (see tests/support/fuzz.py).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from aggregator.extract import feed, guarded, html, jsonld, tribe
from aggregator.extract.sites import medways
from aggregator.model import RawEvent
from tests.support.fuzz import COUNTS, FUZZ, NOW, check_extractor, context, ics_compared, mutated, seeds
from tests.support.fuzz_inputs import (
    HTML_OPTIONS, feed_xml, html_list, ics_calendar, ics_plain_calendar, jsonld_page, tribe_json,
)
from tests.support.shared import CORPUS, corpus_files, require

SITES = Path(__file__).parent / "fixtures" / "sites"


def corpus(folder: str, suffixes: tuple[str, ...] = ()) -> list[bytes]:
    require(CORPUS / folder, f"the corpus folder {folder}/")
    files = [p for p in corpus_files(folder) if not suffixes or p.name.endswith(suffixes)]
    assert files, f"no corpus files in {folder}/"
    return seeds(files)


def fixtures(*patterns: str) -> list[bytes]:
    return seeds(sorted(p for pattern in patterns for p in SITES.glob(pattern) if p.is_file()))


# --------------------------------------------------------------------------- ics


def test_fuzz_ics_with_mutated_corpus_calendars():
    pool = corpus("ics") + fixtures("*/*.ics", "*/*/?ical=1")

    @FUZZ
    @given(mutated(pool))
    def run(body):
        check_extractor("ics mutated", ics_compared, body)

    run()


def test_fuzz_ics_with_plain_calendars():
    """Well-formed calendars of the common shape: the fast reader's own ground, compared with icalendar."""
    @FUZZ
    @given(ics_plain_calendar())
    def run(body):
        check_extractor("ics plain", ics_compared, body)

    run()


def test_fuzz_ics_with_built_calendars():
    @FUZZ
    @given(ics_calendar())
    def run(body):
        check_extractor("ics built", ics_compared, body)

    run()


# --------------------------------------------------------------------------- feed


def test_fuzz_feed_with_mutated_corpus_feeds():
    pool = corpus("feeds") + fixtures("optonet/**/*", "thzm/*")

    @FUZZ
    @given(mutated(pool))
    def run(body):
        check_extractor("feed mutated", feed.extract, body)

    run()


def test_fuzz_feed_with_built_feeds():
    @FUZZ
    @given(feed_xml())
    def run(body):
        check_extractor("feed built", feed.extract, body)

    run()


# --------------------------------------------------------------------------- jsonld


def test_fuzz_jsonld_with_mutated_corpus_pages():
    pool = corpus("html") + fixtures("jsonld-graph/*", "mikrodaten/*", "hevent/*")

    @FUZZ
    @given(mutated(pool))
    def run(body):
        check_extractor("jsonld mutated", jsonld.extract, body)

    run()


def test_fuzz_jsonld_with_built_pages():
    @FUZZ
    @given(jsonld_page())
    def run(body):
        check_extractor("jsonld built", jsonld.extract, body)

    run()


# --------------------------------------------------------------------------- tribe


def test_fuzz_tribe_with_mutated_api_answers():
    pool = fixtures("wp-tec/wp-json/tribe/events/v1/events/*")

    @FUZZ
    @given(mutated(pool))
    def run(body):
        check_extractor("tribe mutated", tribe.extract, body)

    run()


def test_fuzz_tribe_with_built_api_answers():
    @FUZZ
    @given(tribe_json())
    def run(body):
        check_extractor("tribe built", tribe.extract, body)

    run()


# --------------------------------------------------------------------------- html with selectors, medways


def test_fuzz_html_with_built_list_pages():
    ctx = context(options={**HTML_OPTIONS, "detail": True})

    @FUZZ
    @given(html_list())
    def run(body):
        check_extractor("html built", html.extract, body, ctx)

    run()


def test_fuzz_html_selectors_on_mutated_corpus_pages():
    pool = corpus("html", (".html", ".htm", ".xhtml")) + fixtures("contao/**/*.html", "php-table/*", "typo3-news/**/*")
    options = st.sampled_from([
        HTML_OPTIONS,
        {"item": "tr:has(td)", "title": "td:nth-of-type(2)", "date": "td:nth-of-type(1)", "link": "a"},
        {"item": "article, .event, .vevent, li", "title": "h1, h2, h3, .summary", "date": "time, .date, .dtstart, p"},
    ])

    @FUZZ
    @given(mutated(pool), options)
    def run(body, opts):
        check_extractor("html mutated", html.extract, body, context(options=opts))

    run()


def test_fuzz_html_detail_pages_never_raise():
    pool = corpus("html", (".html",)) + fixtures("typo3-news/**/*")
    event = RawEvent("e", "Workshop Photonik", NOW.date(), url="https://netzwerk.example/e")

    @FUZZ
    @given(mutated(pool), st.sampled_from([html.enrich, jsonld.enrich]))
    def run(body, enrich):
        COUNTS["detail pages mutated"] += 1
        out, notes = enrich(event, body, context(options={**HTML_OPTIONS, "detail": True}))
        assert isinstance(out, RawEvent) and all(isinstance(n, str) for n in notes)

    run()


def test_fuzz_the_medways_site_module():
    pool = fixtures("medways-workshopnews/*")
    entry = guarded("html")(medways.extract)  # as html.extract runs it for parser = "medways"

    @FUZZ
    @given(mutated(pool))
    def run(body):
        check_extractor("medways mutated", entry, body, context(options={"parser": "medways"}))

    run()


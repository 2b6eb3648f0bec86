"""Fuzzing the German date parser: the real strings of networks.md §2 (the rows of
tests/test_german_dates.py) mutated, and text built from date-like parts.

The parser has no error type of its own: it promises never to raise for any text
(a date it cannot read is no match), so the property is "returns, in bounded time,
matches that describe the text". The helpers ``is_dateline`` and
``year_from_heading`` make the same promise.
"""

from __future__ import annotations

import time
from datetime import date, datetime

from hypothesis import given
from hypothesis import strategies as st

from aggregator.german_dates import DateMatch, find_dates, is_dateline, year_from_heading
from tests.support.fuzz import COUNTS, FUZZ, mutated
from tests.support.fuzz_inputs import german_text
from tests.test_german_dates import TABLE

ROWS = [p.values[0].encode("utf-8") for p in TABLE]
# A text of this many characters is read within a second or so; far more means a regex backtracks.
MAX_SECONDS_PER_10K = 5.0

references = st.one_of(st.none(), st.dates(date(1900, 1, 1), date(2200, 12, 31)), st.sampled_from([date(1, 1, 1), date(9999, 12, 31)]))
hints = st.one_of(st.none(), st.integers(1900, 2200), st.sampled_from([0, 1, 9999, -5, 10**9]))


def check_find_dates(target: str, text: str, reference, year_hint) -> None:
    COUNTS[target] += 1
    t0 = time.monotonic()
    found = find_dates(text, reference=reference, year_hint=year_hint)
    elapsed = time.monotonic() - t0
    assert elapsed < MAX_SECONDS_PER_10K * (1 + len(text) / 10_000), f"{elapsed:.1f} s for {len(text)} characters"
    assert isinstance(found, list)
    last = -1
    for m in found:
        assert isinstance(m, DateMatch)
        assert isinstance(m.start, date) and (m.end is None or isinstance(m.end, date))
        if m.end is not None:
            assert type(m.end) is type(m.start) or isinstance(m.start, datetime) == isinstance(m.end, datetime)
            assert m.end >= m.start, m
        lo, hi = m.span
        assert 0 <= lo <= hi <= len(text) and text[lo:hi] == m.text
        assert lo >= last, "matches come in order of appearance"
        last = lo
    for m in found[:50]:
        assert isinstance(is_dateline(text, m.span), bool)
    for line in text.splitlines()[:50]:
        assert year_from_heading(line) is None or isinstance(year_from_heading(line), int)


def test_fuzz_german_dates_with_mutated_real_strings():
    @FUZZ
    @given(mutated(ROWS, max_size=20_000), references, hints)
    def run(data, reference, year_hint):
        check_find_dates("german dates mutated", data.decode("utf-8", "replace"), reference, year_hint)

    run()


def test_fuzz_german_dates_with_built_text():
    @FUZZ
    @given(german_text, references, hints)
    def run(text, reference, year_hint):
        check_find_dates("german dates built", text, reference, year_hint)

    run()


def test_fuzz_german_dates_with_any_text():
    @FUZZ
    @given(st.text(max_size=500), references, hints)
    def run(text, reference, year_hint):
        check_find_dates("german dates any text", text, reference, year_hint)

    run()

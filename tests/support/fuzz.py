"""Property-based fuzzing of the extractors: settings, seeds, mutations and the property itself.

Two sizes of run, one code:

- in the normal suite, ``FUZZ`` runs a few dozen examples per target, derandomized
  (the same examples every time, a few seconds in all);
- ``make fuzz`` sets ``NETZWERKTIMER_FUZZ_EXAMPLES`` (examples per target) and loads
  this module as a pytest plugin (``-p tests.support.fuzz``), which prints how many
  examples ran per target. Examples are random then; a failure prints its seed.

Hypothesis stores nothing (``database=None``; its home folder is in the temp dir).

The property (``check_extractor``): the extractor returns an ``Extraction`` of
well-formed ``RawEvent``s or raises ``ExtractError``, and nothing else escapes; the
guard's catch-all ("<kind> extractor failed: …") counts as something else escaping,
because it means a bug got as far as the guard. What it returns also survives the
next stages: ``normalize`` raises only ``NormalizeError``, a series is judged by
``recurrence.over_limit`` in bounded time, and the ICS exporter renders the events.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from aggregator.config import Network
from aggregator.extract import ExtractContext, ExtractError, Extraction
from aggregator.model import RawEvent, StoredEvent
from aggregator.normalize import NormalizeError, normalize
from aggregator.recurrence import over_limit
from exporters.ics import render_calendar

set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "netzwerktimer-hypothesis"))

LONG = int(os.environ.get("NETZWERKTIMER_FUZZ_EXAMPLES", "0") or 0)
FUZZ = settings(
    max_examples=LONG or 30,
    derandomize=not LONG,
    deadline=None,  # timing is checked per call below, generously, so a loaded machine does not flake
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
# One call may take this long at most (a pathological regex or an endless loop fails it).
MAX_SECONDS = 20.0
# In the short run, seeds larger than this are left out (a few seconds for the whole suite).
SHORT_SEED_BYTES = 40_000

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc)
COUNTS: Counter[str] = Counter()


def context(url: str = "https://netzwerk.example/termine/", options: dict | None = None) -> ExtractContext:
    return ExtractContext(url=url, timezone=BERLIN, now=NOW, options=options or {})


def seeds(paths: list[Path]) -> list[bytes]:
    """The bytes of the seed files, read in place (the corpus is never copied); small ones only in the short run."""
    data = [p.read_bytes() for p in paths]
    small = [d for d in data if len(d) <= SHORT_SEED_BYTES]
    return data if LONG else (small or data)


# --------------------------------------------------------------------------- mutations

NASTY = [
    b"\x00", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xed\xa0\x80", b"\xc3", b"\x80\x81", b"\x1b[0m",
    "\u202e".encode(), "\u2028".encode(), "\u0085".encode(), "A\u0308\u0308\u0308\u0308".encode(),
    "𝔇𝔢𝔷𝔢𝔪𝔟𝔢𝔯".encode(), "ﬀ".encode(), "İ".encode(), "\ufffd".encode(), "٣".encode(), "１２.１０.２０２５".encode(),
    "ß".encode("latin-1"), "ä".encode("utf-16-le"),
    b"&#0;", b"&#xFFFFFFFF;", b"&#1114112;", b"&nbsp;", b"&amp;amp;", b"&#x202e;",
    b"99999999999999999999", b"-1", b"0", b"1e309", b"NaN", b"00000000T000000Z", b"99991231T235959Z", b"00010101",
    b"20251301", b"20250230T250000", b"+99:99", b"PT99999999999H", b"P-1D",
    b":", b";", b"=", b",", b"\\", b'"', b"'", b"<", b">", b"/", b"]]>", b"<![CDATA[", b"<!--", b"-->", b"<?xml",
    b"\r", b"\n", b"\r\n ", b"\t", b"%s%n%x", b"javascript:alert(1)", b"http://", b"//", b"#", b"?page=2",
    b"@graph", b'"@type":"Event"', b'"@id":"#x"', b"null", b"true", b"[]", b"{}",
    b"BEGIN:VEVENT\r\n", b"END:VEVENT\r\n", b"END:VCALENDAR\r\n", b"RRULE:FREQ=SECONDLY\r\n",
    b"RRULE:FREQ=MINUTELY;COUNT=100000000\r\n", b";TZID=Mars/Olympus", b";VALUE=DATE", b"RECURRENCE-ID:20250101\r\n",
    b"30.02.2025", b"31.12.9999", b"24:60 Uhr", b"1.\xe2\x80\x930.", b"Mo, 00.00.0000", b"am 3. und 4. Juni",
    b"findet nicht statt", b"verschoben", b"morgen ab 9 Uhr",
]


def _nested(kind: int, depth: int) -> bytes:
    return [b"<div>", b"[", b'{"a":', b"BEGIN:VEVENT\r\n", b"<item>", b"<b><i>", b"(", b"<!--"][kind % 8] * depth


@st.composite
def mutated(draw, pool: list[bytes], *, max_size: int = 2_000_000) -> bytes:
    """A seed from ``pool`` after one to four random edits: byte flips, truncation, cut-outs,
    repeats, splices of another seed, nasty tokens, huge numbers, deep nesting, other
    line endings or another encoding."""
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 9))
        n = len(data)
        at = draw(st.integers(0, max(n, 1) - 1)) if n else 0
        if op == 0 and n:  # flip a byte
            data[at] = draw(st.integers(0, 255))
        elif op == 1:  # truncate
            del data[at:]
        elif op == 2:  # cut out a region
            del data[at : at + draw(st.integers(1, 4096))]
        elif op == 3:  # repeat a region
            region = bytes(data[at : at + draw(st.integers(1, 512))])
            times = draw(st.integers(2, 200))
            data[at:at] = region * max(1, min(times, (max_size - n) // max(len(region), 1)))
        elif op == 4:  # splice in a piece of another seed
            other = draw(st.sampled_from(pool))
            start = draw(st.integers(0, max(len(other), 1) - 1)) if other else 0
            data[at:at] = other[start : start + draw(st.integers(1, 8192))]
        elif op == 5:  # a nasty token
            data[at:at] = draw(st.sampled_from(NASTY))
        elif op == 6:  # a number made huge, zero or negative
            data[at:at] = draw(st.sampled_from([b"9" * 40, b"0", b"-0", b"-99999", b"4294967296", b"1" * 400]))
        elif op == 7:  # deep nesting
            data[at:at] = _nested(draw(st.integers(0, 7)), draw(st.sampled_from([10, 100, 600, 1200, 5000])))
        elif op == 8:  # other line endings
            data = bytearray(bytes(data).replace(b"\r\n", draw(st.sampled_from([b"\n", b"\r", b"\n\r", b"\r\r\n"]))))
        else:  # another encoding
            text = bytes(data).decode("utf-8", "replace")
            data = bytearray(text.encode(draw(st.sampled_from(["utf-16", "utf-16-be", "latin-1", "cp1252", "utf-32"])), "ignore"))
        del data[max_size:]
    return bytes(data)


# --------------------------------------------------------------------------- the property

Extractor = Callable[[bytes, ExtractContext], Extraction]


def check_extractor(target: str, fn: Extractor, body: bytes, ctx: ExtractContext | None = None) -> Extraction | None:
    """Run ``fn`` on ``body`` and assert the property of the module docstring; None after an ExtractError."""
    COUNTS[target] += 1
    ctx = ctx or context()
    t0 = time.monotonic()
    try:
        result = fn(body, ctx)
    except ExtractError as exc:
        if " extractor failed: " in str(exc) and exc.__cause__ is not None:
            raise exc.__cause__  # a bug that only the guard caught: show where it happened
        assert str(exc), "an ExtractError says why"
        return None
    finally:
        elapsed = time.monotonic() - t0
    assert elapsed < MAX_SECONDS, f"{target}: took {elapsed:.1f} s"
    check_result(result)
    downstream(result.events, ctx)
    return result


def ics_compared(body: bytes, ctx: ExtractContext) -> Extraction:
    """``ics.extract``, after checking that it says exactly what icalendar alone says.

    The ICS extractor reads most files with its fast reader (``extract/ics_lines.py``);
    here every fuzzed body is also read by icalendar only, and events (tzinfos included,
    compared by ``repr``), warnings and errors must be the same. icalendar keeps the
    VTIMEZONEs it has seen in a process-wide cache, so what it makes of a body can depend
    on what it read before (the first read of a body may differ from the next): it reads
    the body once before the comparison, which then is between equally informed reads.
    """
    from aggregator.extract import ics

    try:
        ics.extract_with_icalendar(body, ctx)
    except ExtractError:
        pass
    said = []
    for fn in (ics.extract, ics.extract_with_icalendar):
        try:
            result = fn(body, ctx)
        except ExtractError as exc:
            said.append((exc, ("error", str(exc))))
        else:
            said.append((result, ("events", [repr(e) for e in result.events], result.warnings, result.incomplete)))
    (fast, fast_said), (_, slow_said) = said
    assert fast_said == slow_said, "the fast ICS reader diverged from icalendar"
    if isinstance(fast, ExtractError):
        raise fast
    return fast


def check_result(result: Extraction) -> None:
    assert isinstance(result, Extraction)
    assert all(isinstance(w, str) for w in result.warnings + result.caps)
    assert all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in result.next_pages)
    for index, url in result.details:
        assert 0 <= index < len(result.events) and isinstance(url, str)
    for ev in result.events:
        check_raw(ev)


def check_raw(ev: RawEvent) -> None:
    assert isinstance(ev, RawEvent)
    assert isinstance(ev.source_uid, str) and isinstance(ev.title, str)
    assert isinstance(ev.start, date), ev.start
    assert ev.end is None or isinstance(ev.end, date), ev.end
    assert all(isinstance(v, str) for v in (ev.description, ev.location, ev.url, ev.status))
    assert isinstance(ev.categories, tuple) and all(isinstance(c, str) for c in ev.categories)
    assert ev.rrule is None or isinstance(ev.rrule, str)
    assert all(isinstance(v, date) for v in (*ev.rdates, *ev.exdates))
    assert ev.recurrence_id is None or isinstance(ev.recurrence_id, date)


NETWORKS = {"n": Network(name="Fuzz e.V.")}


def downstream(raws: list[RawEvent], ctx: ExtractContext) -> None:
    """The next stages take what the extractor gave: normalize, the series check, the ICS export."""
    events = []
    for raw in raws:
        try:
            events.append(normalize(raw, source_id="fuzz", network_id="n", zone=ctx.timezone, base_url=ctx.url))
        except NormalizeError:
            continue
    for ev in events:
        if ev.rrule or ev.rdates:
            t0 = time.monotonic()
            over_limit(ev, [], NOW - timedelta(days=7), NOW + timedelta(days=365), limit=200)
            assert time.monotonic() - t0 < MAX_SECONDS, f"series {ev.rrule!r} took too long"
    stored = [StoredEvent(event=ev, first_seen=NOW, last_modified=NOW, sequence=0) for ev in events]
    ics = render_calendar(stored, networks=NETWORKS, name="Fuzz", refresh=timedelta(hours=6))
    # counted as lines: a title "BEGIN:VEVENT" is text, and no text may start a line of its own
    assert ics.startswith(b"BEGIN:VCALENDAR") and ics.count(b"\r\nBEGIN:VEVENT\r\n") == len(stored)


# --------------------------------------------------------------------------- the `make fuzz` report


def pytest_terminal_summary(terminalreporter) -> None:
    """(as a plugin, ``-p tests.support.fuzz``) how many examples each target ran."""
    if not COUNTS:
        return
    terminalreporter.section("fuzz examples")
    for target, n in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{target:<28} {n:>8}")
    terminalreporter.write_line(f"{'total':<28} {sum(COUNTS.values()):>8}")

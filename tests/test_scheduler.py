"""The scheduler's decisions, as pure functions: when a (failing) source is due,
and when the nightly digest is due (caught up after downtime, across DST and midnight)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import Config
from aggregator.scheduler import backoff, consecutive_failures, digest_due, due_sources, jitter
from aggregator.store import SourceState

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def config(refresh: str = "1h", good_enabled: bool = True) -> Config:
    return Config.model_validate({
        "settings": {"refresh": refresh},
        "networks": {"a": {"name": "A e.V."}},
        "sources": [
            {"id": "good", "network": "a", "kind": "ics", "url": "https://a.example/good.ics", "enabled": good_enabled},
            {"id": "bad", "network": "a", "kind": "ics", "url": "https://a.example/bad.ics"},
        ],
    })


def fetched(cfg: Config, ago: timedelta) -> dict[str, SourceState]:
    return {s.id: SourceState(id=s.id, last_fetch_at=NOW - ago) for s in cfg.sources}


def ids(sources) -> set[str]:
    return {s.id for s in sources}


def test_backoff_doubles_per_failure_and_is_capped_at_a_day():
    assert [backoff(HOUR, n) for n in range(7)] == [HOUR, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 16 * HOUR, 24 * HOUR]
    assert backoff(HOUR, 1000) == timedelta(hours=24)
    assert backoff(timedelta(hours=48), 3) == timedelta(hours=48)  # never shorter than the interval


def test_consecutive_failures_count_until_the_newest_success():
    assert consecutive_failures([]) == 0
    assert consecutive_failures(["error", "error", "fetched", "error"]) == 2
    assert consecutive_failures(["not_modified", "error"]) == 0
    assert consecutive_failures(["error"] * 20) == 20


def test_a_failing_source_backs_off_exponentially_and_a_success_resets_it():
    cfg = config()
    slack = max(jitter(s, HOUR) for s in cfg.sources) + timedelta(seconds=1)
    # fetched 1 h + jitter ago: both due without failures, and with one failure (interval × 1)
    states = fetched(cfg, HOUR + slack)
    assert ids(due_sources(cfg, states, NOW)) == {"good", "bad"}
    assert ids(due_sources(cfg, states, NOW, {"bad": 1})) == {"good", "bad"}
    # three failures: waits 4 h
    assert ids(due_sources(cfg, states, NOW, {"bad": 3})) == {"good"}
    assert ids(due_sources(cfg, fetched(cfg, 4 * HOUR - timedelta(minutes=1)), NOW, {"bad": 3})) == {"good"}
    assert ids(due_sources(cfg, fetched(cfg, 4 * HOUR + slack), NOW, {"bad": 3})) == {"good", "bad"}
    # many failures: at most a day
    assert ids(due_sources(cfg, fetched(cfg, 23 * HOUR), NOW, {"bad": 12})) == {"good"}
    assert ids(due_sources(cfg, fetched(cfg, 24 * HOUR + slack), NOW, {"bad": 12})) == {"good", "bad"}
    # a success resets the count (failure_counts gives 0 / leaves it out): back on the interval
    assert ids(due_sources(cfg, states, NOW, {"bad": 0})) == {"good", "bad"}


def test_never_fetched_and_disabled_sources():
    cfg = config(good_enabled=False)
    assert ids(due_sources(cfg, {}, NOW, {"bad": 9})) == {"bad"}  # never fetched: due whatever the count


def berlin(y, m, d, hh, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


SIX = time(6, 0)


def test_digest_is_due_after_send_at_and_caught_up_after_downtime():
    assert digest_due(berlin(2025, 3, 10, 5, 59), SIX, BERLIN, None) is None
    assert digest_due(berlin(2025, 3, 10, 6, 0), SIX, BERLIN, None) == date(2025, 3, 10)
    # down at 06:00, started at 09:00: sent at start-up
    assert digest_due(berlin(2025, 3, 10, 9, 0), SIX, BERLIN, date(2025, 3, 9)) == date(2025, 3, 10)
    # already done today: not again
    assert digest_due(berlin(2025, 3, 10, 9, 0), SIX, BERLIN, date(2025, 3, 10)) is None
    assert digest_due(berlin(2025, 3, 10, 23, 59), SIX, BERLIN, date(2025, 3, 10)) is None


def test_digest_night_is_the_local_date_across_midnight():
    # 23:30 UTC on the 10th is 00:30 on the 11th in Berlin: the 11th's send time has not come
    assert digest_due(datetime(2025, 3, 10, 23, 30, tzinfo=UTC), SIX, BERLIN, date(2025, 3, 9)) is None
    # ... and a send time of 00:15 has: the night is the local 11th, not the UTC 10th
    assert digest_due(datetime(2025, 3, 10, 23, 30, tzinfo=UTC), time(0, 15), BERLIN, date(2025, 3, 10)) == date(2025, 3, 11)
    # down the whole day: yesterday's digest is not sent after midnight
    assert digest_due(berlin(2025, 3, 11, 0, 30), SIX, BERLIN, date(2025, 3, 9)) is None
    # 22:00 in Berlin is 21:00 UTC: send_at 22:00 is local, not UTC
    assert digest_due(datetime(2025, 3, 10, 20, 59, tzinfo=UTC), time(22, 0), BERLIN, None) is None
    assert digest_due(datetime(2025, 3, 10, 21, 0, tzinfo=UTC), time(22, 0), BERLIN, None) == date(2025, 3, 10)


@pytest.mark.parametrize(
    "now_utc, expected",
    [
        # spring forward, 30 March 2025: 06:00 CEST is 04:00 UTC (not 05:00)
        (datetime(2025, 3, 30, 3, 59, tzinfo=UTC), None),
        (datetime(2025, 3, 30, 4, 0, tzinfo=UTC), date(2025, 3, 30)),
        # fall back, 26 October 2025: 06:00 CET is 05:00 UTC
        (datetime(2025, 10, 26, 4, 59, tzinfo=UTC), None),
        (datetime(2025, 10, 26, 5, 0, tzinfo=UTC), date(2025, 10, 26)),
    ],
)
def test_digest_send_at_is_local_wall_time_across_dst(now_utc, expected):
    assert digest_due(now_utc, SIX, BERLIN, None) == expected


def test_digest_send_at_inside_the_dst_gap_or_overlap():
    # 02:30 does not exist on 30 March 2025: due once the clock has jumped (03:00 CEST = 01:00 UTC)
    assert digest_due(datetime(2025, 3, 30, 0, 59, tzinfo=UTC), time(2, 30), BERLIN, None) is None
    assert digest_due(datetime(2025, 3, 30, 1, 30, tzinfo=UTC), time(2, 30), BERLIN, None) == date(2025, 3, 30)
    # 02:30 happens twice on 26 October 2025: the first one (CEST, 00:30 UTC) counts, once
    assert digest_due(datetime(2025, 10, 26, 0, 29, tzinfo=UTC), time(2, 30), BERLIN, None) is None
    assert digest_due(datetime(2025, 10, 26, 0, 30, tzinfo=UTC), time(2, 30), BERLIN, None) == date(2025, 10, 26)
    assert digest_due(datetime(2025, 10, 26, 1, 30, tzinfo=UTC), time(2, 30), BERLIN, date(2025, 10, 26)) is None

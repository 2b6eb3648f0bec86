"""The short crash run of the test suite (the long one: ``make crash``): real
``netzwerktimer refresh``, ``export ics`` and ``digest`` processes killed with SIGKILL at
random points; the database stays consistent, published files complete, and every
digest goes out exactly once (tests/support/crash.py says what is checked)."""

from __future__ import annotations

from tests.support import crash

SEED = 20250901
ATTEMPTS = 6


def test_killed_refreshes_exports_and_digests_leave_everything_consistent_and_send_each_digest_once(tmp_path):
    report = crash.run(ATTEMPTS, SEED, tmp_path, bulk_events=100, log=lambda _: None)
    assert report.ok, report.summary() + "\n" + "\n".join(report.problems)
    assert report.kills + report.finished_before_kill == ATTEMPTS
    assert report.kills >= ATTEMPTS // 2, report.summary()
    assert report.digests_lost == 0 and report.double_sends == report.double_sends_flagged

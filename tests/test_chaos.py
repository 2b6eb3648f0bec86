"""The short chaos run of the test suite (the long one: ``make chaos``): fixed seed,
15 rounds over every fixture source with random faults of every type; nothing lost,
nothing crashed, every fault explained in ``/status`` and ``sources list``."""

from __future__ import annotations

from tests.support import chaos
from tests.support.faults import FAULTS
from tests.support.shared import ICS_CHECK, require

SEED = 20250901


def test_a_short_seeded_chaos_run_loses_no_event_and_explains_every_fault(tmp_path):
    require(ICS_CHECK, "ics-check")
    report = chaos.run(15, SEED, tmp_path, cli_every=5, ics_check_every=5, max_growth_mb=64, log=lambda _: None)
    assert report.ok, report.summary() + "\n" + "\n".join(report.problems)
    assert report.rounds == 15 and report.ics_checks == 3 and report.sources_list_checks == 3
    # The least-used choice brings nearly every type up even in 15 rounds.
    assert len(report.faults_by_type) >= len(FAULTS) - 2, sorted(report.faults_by_type)

"""One writer at a time per database, across processes (aggregator.store.writer_lock), on SQLite
and PostgreSQL: a CLI refresh waits while another process writes, and gives up with a clear
message; a reading command does not wait; the service's scheduled refresh skips its tick; a
holder that is killed frees the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from aggregator.config import ConfigError, Deployment, load_config
from aggregator.scheduler import RefreshScheduler
from aggregator.store import Store
from aggregator.store.writer_lock import WriterBusy, WriterLock
from tests.test_cli import cli
from tests.test_end_to_end import write_config

ROOT = Path(__file__).resolve().parent.parent
HOLDER = """
import sys, time
from aggregator.store.writer_lock import WriterLock
lock = WriterLock(sys.argv[1])
assert lock.acquire(10)
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(database_url):
    """Another process holding the database's writer lock until the test ends (or kills it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, database_url], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_holder_waits_and_is_refused_while_another_process_writes(database_url, holder):
    lock = WriterLock(database_url)
    try:
        assert lock.acquire(0.3) is False
        with pytest.raises(WriterBusy, match="another Netzwerktimer process is writing to this database; x gave up after waiting 0.2 s"):
            with lock.holding(0.2, "x"):
                pass
    finally:
        lock.close()


def test_a_killed_holder_frees_the_lock(database_url, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock = WriterLock(database_url)
    try:
        assert lock.acquire(5)
    finally:
        lock.close()


def test_in_one_process_the_lock_is_taken_and_given_back(database_url):
    first, second = WriterLock(database_url), WriterLock(database_url)
    try:
        assert first.acquire(0)
        assert second.acquire(0) is False
        first.release()
        assert second.acquire(0)
    finally:
        first.close()
        second.close()


def test_a_cli_refresh_gives_up_while_another_process_writes_and_a_read_does_not_wait(tmp_path, sites_server, database_url, holder):
    config = str(write_config(tmp_path, sites_server))
    env = {"NETZWERKTIMER_DATABASE_URL": database_url, "NETZWERKTIMER_WRITER_WAIT": "0.5"}
    refused = cli(tmp_path, "--config", config, "refresh", env_extra=env)
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert refused.stderr.strip() == ("another Netzwerktimer process is writing to this database; "
                                      "netzwerktimer refresh gave up after waiting 0.5 s")
    assert not [r for r in sites_server.requests if r.path != "/robots.txt"], "nothing was fetched"
    listing = cli(tmp_path, "--config", config, "sources", "list", env_extra=env)
    assert listing.returncode == 0, listing.stderr

    holder.kill()
    holder.wait()
    done = cli(tmp_path, "--config", config, "refresh", env_extra=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_services_scheduled_refresh_skips_its_tick_while_another_process_writes(tmp_path, sites_server, database_url, holder):
    config = load_config(write_config(tmp_path, sites_server))
    deployment = Deployment(config_path=Path(config.path), data_dir=tmp_path / "data", database_url=database_url)
    store = Store(database_url)
    store.migrate()
    scheduler = RefreshScheduler(config, store, deployment, clock=lambda: datetime(2025, 9, 1, 6, 0, tzinfo=timezone.utc))
    try:
        scheduler.tick()
        assert store.source_states() == {}, "nothing was refreshed"
        holder.kill()
        holder.wait()
        scheduler.tick()
        assert {s.last_outcome for s in store.source_states().values()} == {"fetched"}
    finally:
        scheduler.shutdown()
        store.close()


@pytest.mark.parametrize("value", ["-1", "soon", "inf"])
def test_a_bad_writer_wait_is_refused_like_a_configuration_error(value):
    with pytest.raises(ConfigError, match="NETZWERKTIMER_WRITER_WAIT: seconds to wait"):
        Deployment.from_env(env={"NETZWERKTIMER_WRITER_WAIT": value})

"""A digest run killed at any point: the next run sends what was not sent, at once, and
never a second copy it can know about (tests/support/crash.py kills real processes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from aggregator import mail
from aggregator.claims import owner_is_gone, run_owner
from aggregator.mail import send_once
from tests.test_mail import ANNA, NIGHT, NOW, digest, settings, smtp_server  # noqa: F401 - smtp_server is a fixture


@pytest.fixture
def dead_owner():
    """The claim owner string of a process that ran on this host and was killed."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = run_owner(child.pid)
    finally:
        child.kill()
        child.wait()
    return owner


def test_owner_is_gone_only_for_a_dead_process_of_this_host(dead_owner):
    assert owner_is_gone(dead_owner)
    assert not owner_is_gone(run_owner())  # this process
    assert not owner_is_gone(run_owner(os.getppid()))  # alive
    host, rest = dead_owner.split(":", 1)
    assert not owner_is_gone(f"another-{host}:{rest}"), "another host's process cannot be judged from here"
    assert not owner_is_gone(None) and not owner_is_gone("") and not owner_is_gone("garbage")
    assert dead_owner.startswith(socket.gethostname() + ":")


def test_a_run_killed_after_claiming_is_taken_over_at_once_by_the_next_run(store, smtp_server, tmp_path, dead_owner):  # noqa: F811
    controller, server = smtp_server()
    assert store.claim_digest_send(NIGHT, ANNA, NOW, owner=dead_owner) is not None  # then it was killed
    # a minute later, not 15: its claimer is certainly gone, and had not handed anything over
    result = send_once(store, NIGHT, ANNA, digest(), settings(controller.port), tmp_path, NOW + timedelta(minutes=1))
    assert result.status == "sent" and result.note is None
    assert len(server.messages) == 1
    [row] = store.digest_sends(NIGHT)
    assert row.status == "sent" and not row.possible_duplicate and row.claimed_by == run_owner()


def test_a_live_runs_claim_is_respected(store, smtp_server, tmp_path):  # noqa: F811
    controller, server = smtp_server()
    assert store.claim_digest_send(NIGHT, ANNA, NOW, owner=run_owner(os.getppid())) is not None
    result = send_once(store, NIGHT, ANNA, digest(), settings(controller.port), tmp_path, NOW + timedelta(minutes=1))
    assert result.status == "in_progress" and server.messages == []


def test_a_run_killed_while_handing_over_by_smtp_is_resent_and_flagged(store, smtp_server, tmp_path, dead_owner):  # noqa: F811
    controller, server = smtp_server()
    store.claim_digest_send(NIGHT, ANNA, NOW, owner=dead_owner)
    store.mark_digest_delivering(NIGHT, ANNA, NOW)  # then it was killed: did the server get it?
    result = send_once(store, NIGHT, ANNA, digest(), settings(controller.port), tmp_path, NOW + timedelta(minutes=1))
    assert result.status == "sent" and result.note == mail.POSSIBLE_DUPLICATE
    assert len(server.messages) == 1
    assert store.digest_sends(NIGHT)[0].possible_duplicate


def _message(domain: str):
    return mail.build_message("Digest", "text", "<p>html</p>", sender="netzwerktimer@localhost", recipients=[ANNA], night=NIGHT,
                              message_id_domain=domain, when=NOW)


# "netzwerktimer" is the domain the digest job uses: its Message-ID header is folded onto a line of its own.
@pytest.mark.parametrize("domain", ["netzwerktimer", "netzwerktimer.example"])
def test_a_digest_in_the_outbox_when_its_run_died_is_not_written_again(store, tmp_path, dead_owner, domain):
    outbox = mail.outbox_dir(tmp_path / "data")
    store.claim_digest_send(NIGHT, ANNA, NOW, owner=dead_owner)
    store.mark_digest_delivering(NIGHT, ANNA, NOW)
    path = mail.deliver(_message(domain), None, outbox)  # it got this far, then it was killed
    before = os.stat(path)
    result = send_once(store, NIGHT, ANNA, _message(domain), None, outbox, NOW + timedelta(minutes=1))
    assert result.status == "sent" and result.where == path and "not written again" in result.note
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    [row] = store.digest_sends(NIGHT)
    assert row.status == "sent" and not row.possible_duplicate


def test_a_digest_not_yet_in_the_outbox_when_its_run_died_is_written(store, tmp_path, dead_owner):
    outbox = mail.outbox_dir(tmp_path / "data")
    store.claim_digest_send(NIGHT, ANNA, NOW, owner=dead_owner)
    store.mark_digest_delivering(NIGHT, ANNA, NOW)
    result = send_once(store, NIGHT, ANNA, digest(), None, outbox, NOW + timedelta(minutes=1))
    assert result.status == "sent" and result.note is None
    assert [p.name for p in outbox.iterdir()] == ["2025-03-04-anna@example.org.eml"]

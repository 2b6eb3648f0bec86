"""Who holds a claim, and whether that run is gone.

A run that claims a digest send writes ``run_owner()`` into the claim. When it
is killed, the claim stays behind; the next run asks ``owner_is_gone`` and, when
the claimer is certainly dead, takes the claim over at once instead of waiting
for it to go stale. "Certainly" means: the same host and boot (the host name,
and the kernel's boot id where there is one), and no process with that pid and
start time. A claim from another host (a replica on PostgreSQL) cannot be
judged from here: it is only taken over once stale.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def run_owner(pid: int | None = None) -> str:
    """``host:boot:pid:start`` of this process (or of ``pid``, on this host)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{_boot_id()}:{pid}:{_start_time(pid) or ''}"[:200]


def owner_is_gone(owner: str | None) -> bool:
    """True only when ``owner`` names a process of this host and boot that no longer runs."""
    if not owner:
        return False
    try:
        host, boot, pid_text, start = owner.rsplit(":", 3)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname() or boot != _boot_id():
        return False
    if pid == os.getpid():
        return False  # this very process: alive
    if not _alive(pid):
        return True
    now_start = _start_time(pid)
    return bool(start and now_start and now_start != start)  # the pid was given to another process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    stat = _stat(pid)
    return stat is None or stat[0] != "Z"  # a zombie has died; only its parent has not looked yet


def _start_time(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[1] if stat else None


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) from /proc/<pid>/stat, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], fields[19]


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""

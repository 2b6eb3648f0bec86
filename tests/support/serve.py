"""``netzwerktimer serve`` as a real process, for the tests that need one.

Fixture ``serve`` (function scope): ``start(config, env=None) -> (base_url, proc)``
starts ``python -m aggregator.cli --config CONFIG serve`` on a free port of
127.0.0.1 with its data in ``tmp_path/data`` (SQLite; SMTP variables removed, so
the digest goes to the outbox; ``env`` is laid over that), its output appended to
``tmp_path/serve.log``, and returns once ``/healthz`` answers. Processes still
running at the end of the test are killed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from aggregator import mail

SMTP_VARIABLES = [getattr(mail, n) for n in dir(mail) if n.startswith("ENV_SMTP_")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(url: str, headers: dict | None = None) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        return httpx.get(url, timeout=2, headers=headers).status_code
    except httpx.HTTPError:
        return None


def wait_for(condition, proc, tmp_path: Path, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail with serve's log when it does not in time or serve exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}:\n{serve_log(tmp_path)}")
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"condition not met in {timeout} s:\n{serve_log(tmp_path)}")


def serve_log(tmp_path: Path) -> str:
    path = tmp_path / "serve.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@pytest.fixture
def serve(tmp_path):
    procs = []

    def start(config: Path, env: dict | None = None) -> tuple[str, subprocess.Popen]:
        port = free_port()
        full_env = {**os.environ, "NETZWERKTIMER_DATA_DIR": str(tmp_path / "data")}
        full_env.pop("NETZWERKTIMER_DATABASE_URL", None)
        for name in SMTP_VARIABLES:
            full_env.pop(name, None)  # the digest goes to the outbox
        full_env.update(env or {})
        log = open(tmp_path / "serve.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator.cli", "--config", str(config), "serve", "--port", str(port)],
            env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        )
        log.close()
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: status_of(base + "/healthz") == 200, proc, tmp_path)
        return base, proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

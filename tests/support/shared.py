"""Access to ../shared (corpus and ics-check), which a user's fresh clone lacks.

Outside CI a missing ../shared skips the test with the reason; with CI=true
it fails, because CI always has it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
ICS_CHECK = SHARED / "tools" / "ics-check"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(path: Path, what: str) -> Path:
    """Return ``path`` or skip (fail in CI) when it is absent."""
    if not path.exists():
        reason = f"{what} not found at {path} (../shared is only beside the developers' checkout)"
        if IN_CI:
            pytest.fail(reason + "; CI must have it")
        pytest.skip(reason)
    return path


def corpus_files(kind: str) -> list[Path]:
    """The corpus files of one folder (``ics``, ``feeds``, ``html``), or [] when absent."""
    folder = CORPUS / kind
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".json"))


def ics_check(*files: Path) -> list[dict]:
    """Run ../shared/tools/ics-check on the files; one parsed JSON result per file."""
    tool = require(ICS_CHECK, "ics-check")
    proc = subprocess.run([str(tool), *map(str, files)], capture_output=True, text=True, timeout=600)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(results) != len(files):
        raise AssertionError(f"ics-check gave no verdict (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return results

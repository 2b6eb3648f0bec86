"""The benchmark (bench/run.py) runs on a tiny synthetic world and produces its table and JSON.

No timing is asserted: only that the harness works end to end, that the world it
generates is read completely by the product (every distinct event published once,
the joint events deduplicated), and that the JSON holds every field.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STAGE_FIELDS = {"status", "stage", "wall_s", "cpu_s", "cpu_user_s", "cpu_sys_s", "cpu_children_s", "peak_rss_mb",
                "rss_start_mb", "rss_before_mb", "phases", "details", "server_cpu_s", "server", "loadavg_1m_before"}


def test_bench_runs_the_cold_refresh_and_export_of_a_tiny_world(tmp_path):
    out = tmp_path / "latest.json"
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--scenarios", "tiny", "--stages", "cold", "export",
         "--work", str(tmp_path / "work"), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "| stage | wall s | CPU s | peak RSS MB |" in proc.stdout
    assert "| cold |" in proc.stdout and "| export |" in proc.stdout

    data = json.loads(out.read_text())
    assert {"nproc", "cpu", "ram_mb", "python"} <= set(data["machine"])
    sc = data["scenarios"]["tiny"]
    assert sc["sites"] == 3 and sc["listings"] > sc["events"] > 0  # some events are listed twice
    assert set(sc["kinds"]) >= {"ics", "tribe"} and len(sc["kinds"]) == 3
    assert set(sc["stages"]) == {"cold", "export"}
    for stage, result in sc["stages"].items():
        assert result["status"] == "ok", (stage, result)
        assert STAGE_FIELDS <= set(result), (stage, STAGE_FIELDS - set(result))
        # short stages are measured five times; the median run is the one kept
        repeats = result["repeats_cpu_s"]
        assert len(repeats) == 5 and result["cpu_s"] == sorted(repeats)[2], (stage, repeats)
    cold = sc["stages"]["cold"]["details"]
    assert cold["outcomes"] == {"fetched": 3}
    assert cold["published"] == sc["events"]  # the merged calendar: every distinct event once
    assert sc["stages"]["export"]["details"]["published"] == sc["events"]
    assert sc["checks"] and all(c["ok"] for c in sc["checks"].values()), sc["checks"]
    assert {b["scenario"] for b in data["bars"]} == {"tiny"}
    assert all(b["result"] in ("PASS", "FAIL", "n/a") for b in data["bars"])
    assert not (tmp_path / "work" / "tiny").exists()  # worlds are removed unless --keep


def test_bench_server_sends_validators_per_site_and_answers_304(tmp_path):
    from bench.run import Server, _free_port
    from bench.synth import make_world, write_world

    port = _free_port()
    expected = write_world(make_world(3, 4, seed=2, port=port), tmp_path)
    url = next(iter(expected["per_site"].values()))["urls"][0]
    path = url.split(f":{port}", 1)[1]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(headers=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
        try:
            with opener.open(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), b""

    server = Server(tmp_path, port)
    try:
        server.control("mode?validators=all")
        status, headers, body = get()
        assert status == 200 and body and headers["ETag"] and headers["Last-Modified"]
        assert get({"If-None-Match": headers["ETag"]})[0] == 304
        assert get({"If-Modified-Since": headers["Last-Modified"]})[0] == 304
        server.control("mode?validators=none")
        status, headers, again = get({"If-None-Match": headers.get("ETag", '"x"')})
        assert status == 200 and again == body and "ETag" not in headers and "Last-Modified" not in headers
        assert server.control("stats")["status_304"] == 2
    finally:
        server.stop()

"""Structured logs: JSON lines or text on standard error, chosen by the environment, one record
per refreshed source, publication and digest send, and secrets that never reach the output —
checked on the formatter, on a CLI refresh and on a real ``serve`` run."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from datetime import datetime

import httpx
import pytest

from aggregator import cli, logs
from aggregator.config import ConfigError
from aggregator.logs import LogSettings, Redactor
from tests.support.serve import free_port, serve_log, wait_for
from tests.test_end_to_end import write_config

SMTP_PASSWORD = "smtp-Pa55word!"
ADMIN_TOKEN = "admin-T0ken-4d1f"
URL_PASSWORD = "url-Secr3t"


@pytest.fixture
def configure():
    """``configure(fmt, level, secrets)`` for one test; the root logger is put back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_BELOW_DEBUG}

    def apply(fmt: str = "json", level: int = logging.INFO, secrets=()):
        return logs.configure(LogSettings(fmt, level), secrets)

    yield apply
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_format_writes_one_object_per_line_with_time_level_logger_message_and_context(configure, capsys):
    configure("json")
    logging.getLogger("aggregator.test").info("source %s: %s", "theen", "fetched",
                                              extra={"event": "refresh.source", "source": "theen", "events": 5, "duration_s": 0.25})
    logging.getLogger("aggregator.test").debug("not at INFO")
    (record,) = json_lines(capsys.readouterr().err)
    assert record["msg"] == "source theen: fetched"
    assert (record["level"], record["logger"]) == ("info", "aggregator.test")
    assert (record["event"], record["source"], record["events"], record["duration_s"]) == ("refresh.source", "theen", 5, 0.25)
    stamp = datetime.fromisoformat(record["ts"].replace("Z", "+00:00"))
    assert record["ts"].endswith("Z") and stamp.utcoffset().total_seconds() == 0


def test_json_format_keeps_a_traceback_inside_its_one_line(configure, capsys):
    configure("json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("aggregator.test").exception("it failed")
    (record,) = json_lines(capsys.readouterr().err)
    assert record["level"] == "error" and "RuntimeError: boom" in record["exc"]


def test_text_format_is_one_readable_line_with_the_context_after_the_message(configure, capsys):
    configure("text")
    logging.getLogger("aggregator.test").warning("source x failed", extra={"source": "x", "error": "HTTP 500"})
    line = capsys.readouterr().err.strip()
    assert " WARNING aggregator.test: source x failed" in line
    assert line.endswith('[source=x error="HTTP 500"]')


def test_uvicorn_access_records_carry_client_method_path_and_status(configure, capsys):
    configure("json")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/calendar.ics?network=theen", "1.1", 200)
    (record,) = json_lines(capsys.readouterr().err)
    assert record["msg"] == '127.0.0.1:5000 - "GET /calendar.ics?network=theen HTTP/1.1" 200'
    assert {k: record[k] for k in ("event", "client", "method", "path", "status")} == {
        "event": "http.request", "client": "127.0.0.1:5000", "method": "GET", "path": "/calendar.ics?network=theen", "status": 200}


def test_chatty_libraries_stay_quiet_below_debug(configure, capsys):
    configure("json", logging.INFO)
    logging.getLogger("apscheduler.executors.default").info('Running job "tick"')
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/")
    assert capsys.readouterr().err == ""
    configure("json", logging.DEBUG)
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/")
    assert len(json_lines(capsys.readouterr().err)) == 1


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_configured_secrets_never_reach_the_output_from_message_arguments_context_or_traceback(configure, capsys, fmt):
    configure(fmt, secrets=[SMTP_PASSWORD, ADMIN_TOKEN])
    log = logging.getLogger("aggregator.test")
    log.info("login with %s", SMTP_PASSWORD)
    log.info("token " + ADMIN_TOKEN, extra={"header": f"Bearer {ADMIN_TOKEN}", "raw": {"token": ADMIN_TOKEN}})
    try:
        raise ValueError(f"bad password {SMTP_PASSWORD!r}")
    except ValueError:
        log.exception("failed for %s", f"https://ops:{URL_PASSWORD}@mail.example.org/")
    log.info("stack", stack_info=True, extra={"token": ADMIN_TOKEN})
    out = capsys.readouterr().err
    for secret in (SMTP_PASSWORD, ADMIN_TOKEN, URL_PASSWORD):
        assert secret not in out
    assert out.count("***") >= 6
    assert "https://ops:***@mail.example.org/" in out


@pytest.mark.parametrize(
    "text,expected",
    [
        ("GET https://user:pa%40ss@host.example/x", "GET https://user:***@host.example/x"),
        ("postgresql+psycopg://app:hunter2@db:5432/nt", "postgresql+psycopg://app:***@db:5432/nt"),
        ("https://host.example/a@b and https://user@host.example/", "https://host.example/a@b and https://user@host.example/"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("headers={'authorization': 'Basic dXNlcjpwYXNz'}", "headers={'authorization': 'Basic ***'}"),
        ("(b'Authorization', b'Token 123456')", "(b'Authorization', b'Token ***')"),
        ("sent bearer eyJhbGciOi.x_y-z=", "sent bearer ***"),
        ("the secret is s3cr3t/!, url-encoded s3cr3t%2F%21", "the secret is ***, url-encoded ***"),
        ("nothing to hide here", "nothing to hide here"),
    ],
)
def test_redactor_masks_url_passwords_authorization_values_and_configured_secrets(text, expected):
    assert Redactor(["s3cr3t/!"])(text) == expected


def test_log_format_and_level_come_from_the_environment_with_defaults_per_command():
    assert logs.settings_from_env(default_format="json", default_level=logging.INFO, env={}) == LogSettings("json", logging.INFO)
    env = {"NETZWERKTIMER_LOG_FORMAT": "Text", "NETZWERKTIMER_LOG_LEVEL": "debug"}
    assert logs.settings_from_env(default_format="json", default_level=logging.INFO, env=env) == LogSettings("text", logging.DEBUG)
    with pytest.raises(ConfigError) as err:
        logs.settings_from_env(default_format="json", default_level=logging.INFO,
                               env={"NETZWERKTIMER_LOG_FORMAT": "xml", "NETZWERKTIMER_LOG_LEVEL": "loud"})
    assert "NETZWERKTIMER_LOG_FORMAT" in str(err.value) and "NETZWERKTIMER_LOG_LEVEL" in str(err.value)


def test_a_wrong_log_setting_is_refused_by_the_cli(monkeypatch, capsys):
    monkeypatch.setenv("NETZWERKTIMER_LOG_FORMAT", "yaml")
    assert cli.main(["config", "check"]) == cli.EXIT_CONFIG
    assert "NETZWERKTIMER_LOG_FORMAT: expected json or text" in capsys.readouterr().err


def test_the_secrets_to_hide_are_the_smtp_password_the_admin_token_and_the_database_password():
    env = {"NETZWERKTIMER_SMTP_PASSWORD": "a1", "NETZWERKTIMER_ADMIN_TOKEN": "b2",
           "NETZWERKTIMER_DATABASE_URL": "postgresql+psycopg://nt:c3@db/nt", "NETZWERKTIMER_SMTP_USER": "ops"}
    assert logs.secrets_from_env(env) == ["a1", "b2", "c3"]
    assert logs.secrets_from_env({"NETZWERKTIMER_DATABASE_URL": "sqlite:///data/x.sqlite3"}) == []


def _with_url_password(config_path, source_id: str) -> None:
    """Give one source of a written config a URL with user and password (the sites server ignores them)."""
    lines = config_path.read_text(encoding="utf-8").splitlines()
    at = lines.index(f'id = "{source_id}"')
    url_line = next(i for i in range(at, len(lines)) if lines[i].startswith("url = "))
    lines[url_line] = lines[url_line].replace("http://", f"http://netz:{URL_PASSWORD}@")
    config_path.write_text("\n".join(lines), encoding="utf-8")


def test_a_cli_refresh_logs_one_json_record_per_source_and_one_for_publishing_without_secrets(tmp_path, sites_server):
    config = write_config(tmp_path, sites_server)
    _with_url_password(config, "theen-termine")
    env = {**os.environ, "NETZWERKTIMER_DATA_DIR": str(tmp_path / "data"), "NETZWERKTIMER_LOG_FORMAT": "json",
           "NETZWERKTIMER_LOG_LEVEL": "DEBUG", "NETZWERKTIMER_SMTP_PASSWORD": SMTP_PASSWORD, "NETZWERKTIMER_ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("NETZWERKTIMER_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "aggregator.cli", "--config", str(config), "refresh"],
                          env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stderr)  # every line of standard error is one JSON object
    per_source = {r["source"]: r for r in records if r.get("event") == "refresh.source"}
    assert set(per_source) == {"theen-termine", "medways-kalender", "optonet-posts", "thzm-veranstaltungen"}
    theen = per_source["theen-termine"]
    assert theen["outcome"] == "fetched" and theen["events"] > 0 and theen["duration_s"] >= 0 and theen["http_status"] == 200
    (published,) = [r for r in records if r.get("event") == "publish"]
    assert published["outcome"] == "written" and published["events"] > 0
    assert [r["outcome"] for r in records if r.get("event") == "refresh"] == ["ok"]
    everything = proc.stdout + proc.stderr
    assert "netz:***@127.0.0.1" in everything  # httpx logs the URL at DEBUG: it was there to hide
    for secret in (SMTP_PASSWORD, ADMIN_TOKEN, URL_PASSWORD):
        assert secret not in everything


def test_serve_logs_json_lines_and_never_a_configured_secret(tmp_path, sites_server, serve):
    config = write_config(tmp_path, sites_server)
    _with_url_password(config, "theen-termine")
    text = config.read_text(encoding="utf-8").replace(
        "[settings]", '[digest]\nsend_at = "00:00"\nrecipients = ["ops@example.org"]\nsend_when_empty = true\n\n[settings]')
    config.write_text(text, encoding="utf-8")
    base, proc = serve(config, env={
        "NETZWERKTIMER_LOG_LEVEL": "DEBUG",
        "NETZWERKTIMER_ADMIN_TOKEN": ADMIN_TOKEN,
        # the digest is due at start-up and its delivery fails: nothing listens on this port
        "NETZWERKTIMER_SMTP_HOST": "127.0.0.1", "NETZWERKTIMER_SMTP_PORT": str(free_port()),
        "NETZWERKTIMER_SMTP_USER": "ops", "NETZWERKTIMER_SMTP_PASSWORD": SMTP_PASSWORD,
    })
    wait_for(lambda: '"digest.send"' in serve_log(tmp_path), proc, tmp_path)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert httpx.post(base + "/admin/refresh", headers=auth, params={"source": "theen-termine"}, timeout=60).status_code == 200
    assert httpx.post(base + "/admin/refresh", headers={"Authorization": f"Bearer {ADMIN_TOKEN}-wrong"}).status_code == 401
    status = httpx.get(base + f"/status?token={ADMIN_TOKEN}")  # a secret in a logged URL
    theen = next(r for r in status.json()["sources"] if r["id"] == "theen-termine")
    assert theen["url"].startswith("http://netz:***@127.0.0.1:")  # /status hides the URL's password as well
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    log = serve_log(tmp_path)
    records = json_lines(log)  # every line is one JSON object
    events = {r.get("event") for r in records}
    assert {"serve.start", "refresh.source", "publish", "refresh", "digest.send", "http.request", "serve.stop"} <= events
    (digest,) = [r for r in records if r.get("event") == "digest.send"]
    assert digest["outcome"] == "failed" and digest["level"] == "warning" and digest["error"]
    assert any(r.get("path") == "/admin/refresh?source=theen-termine" and r.get("status") == 200 for r in records)
    assert "netz:***@127.0.0.1" in log and "token=***" in log
    for secret in (SMTP_PASSWORD, ADMIN_TOKEN, URL_PASSWORD):
        assert secret not in log

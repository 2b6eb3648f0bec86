"""A wrong configuration is refused with the file, the key and the reason."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.config import ConfigError, Deployment, load_config, parse_duration

GOOD = """
[settings]
refresh = "2h"

[networks.theen]
name = "Thüringer Erneuerbare Energien Netzwerk e.V."
short = "ThEEN"

[[sources]]
id = "theen-termine"
network = "theen"
kind = "ics"
url = "https://www.theen-ev.de/termine.ics"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


def test_good_config_loads_with_defaults(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    source = config.source("theen-termine")
    assert config.refresh_of(source) == timedelta(hours=2)
    assert config.settings.timezone == "Europe/Berlin"
    assert source.enabled and config.networks["theen"].label == "ThEEN"


@pytest.mark.parametrize(
    "change,key,reason",
    [
        (('refresh = "2h"', 'refresh = "often"'), "settings.refresh", "expected a duration"),
        (('refresh = "2h"', 'refresh = "2h"\ntimezone = "Europe/Erfurt"'), "settings.timezone", "unknown time zone"),
        (('kind = "ics"', 'kind = "pdf"'), "sources[0] (id 'theen-termine').kind", "'html' or 'auto'"),
        (('network = "theen"', 'network = "medways"'), "sources[0].network", "unknown network 'medways'"),
        (('url = "https://', 'url = "ftp://'), "sources[0] (id 'theen-termine').url", "should match pattern"),
        (('short = "ThEEN"', 'short = "ThEEN"\ncolour = "green"'), "networks.theen.colour", "unknown key"),
        (('name = "Thüringer Erneuerbare Energien Netzwerk e.V."', ""), "networks.theen.name", "required key is missing"),
        (('kind = "ics"', 'kind = "ics"\nallow_hosts = ["https://termine.example.org/"]'), "sources[0] (id 'theen-termine').allow_hosts[0]", "should match pattern"),
        (('refresh = "2h"', 'refresh = "2h"\nallow_private_networks = "yes"'), "settings.allow_private_networks", "valid boolean"),
    ],
)
def test_wrong_value_is_refused_with_key_and_reason(tmp_path, change, key, reason):
    err = refused(tmp_path, GOOD.replace(*change))
    assert err.file.endswith("sources.toml")
    assert any(k == key and reason in r for k, r in err.problems), err.problems


def test_duplicate_source_id_is_refused(tmp_path):
    text = GOOD + GOOD.split("[[sources]]")[1].join(["[[sources]]", ""])
    err = refused(tmp_path, text)
    assert err.problems == [("sources[1].id", "duplicate source id 'theen-termine'")]


def test_broken_toml_names_the_line(tmp_path):
    err = refused(tmp_path, GOOD.replace('kind = "ics"', "kind = ics"))
    assert "line 12" in str(err)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert "file not found" in str(info.value)


@pytest.mark.parametrize("text,seconds", [("90m", 5400), ("6h", 21600), ("1d", 86400), ("2w", 1209600), (30, 30)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["0h", "-1h", "6 hours", "", True])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_config_check_command_reports_the_problem_without_starting_anything(tmp_path):
    path = write(tmp_path, GOOD.replace('refresh = "2h"', 'refresh = "often"'))
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator.cli", "--config", str(path), "config", "check"],
        capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "NETZWERKTIMER_DATA_DIR": str(tmp_path / "data")},
    )
    assert proc.returncode == 2
    assert f"{path}: settings.refresh: expected a duration" in proc.stderr
    assert not (tmp_path / "data").exists()


def test_config_check_accepts_a_good_file_and_the_option_after_the_command(tmp_path):
    path = write(tmp_path, GOOD)
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator.cli", "config", "check", "--config", str(path)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK — 1 networks, 1 sources (1 enabled)" in proc.stdout


@pytest.mark.parametrize("url, reason", [
    ("foo", "not a database URL"),
    ("postgresql://u@127.0.0.1:port/db", "not a database URL"),
    ("mysql://u:geheim@127.0.0.1/db", "unsupported database 'mysql+mysqldb'"),
    ("postgres://u@127.0.0.1/db", "unsupported database 'postgres'"),
    ("postgresql+asyncpg://u@127.0.0.1/db", "unsupported database 'postgresql+asyncpg'"),
    ("sqlite+aiosqlite:///x.sqlite3", "unsupported database 'sqlite+aiosqlite'"),
])
def test_an_unusable_database_url_is_refused_naming_the_variable(url, reason):
    with pytest.raises(ConfigError) as err:
        Deployment.from_env(env={"NETZWERKTIMER_DATABASE_URL": url})
    assert str(err.value).startswith(f"environment: NETZWERKTIMER_DATABASE_URL: {reason}")
    assert "geheim" not in str(err.value)  # the URL, with its password, is not repeated


@pytest.mark.parametrize("url", ["sqlite:///data/x.sqlite3", "sqlite+pysqlite:///x", "sqlite://",
                                 "postgresql+psycopg://nt:pw@127.0.0.1:5432/nt"])
def test_the_supported_database_urls_are_accepted(url):
    assert Deployment.from_env(env={"NETZWERKTIMER_DATABASE_URL": url}).database_url == url


def test_environment_sets_paths_and_database(tmp_path):
    d = Deployment.from_env(env={"NETZWERKTIMER_CONFIG": "/etc/nt.toml", "NETZWERKTIMER_DATA_DIR": str(tmp_path)})
    assert d.config_path == Path("/etc/nt.toml")
    assert d.database_url == f"sqlite:///{tmp_path.resolve() / 'netzwerktimer.sqlite3'}"
    d = Deployment.from_env("/x.toml", env={"NETZWERKTIMER_CONFIG": "/etc/nt.toml", "NETZWERKTIMER_DATABASE_URL": "postgresql+psycopg://u@h/db"})
    assert d.config_path == Path("/x.toml") and d.database_url == "postgresql+psycopg://u@h/db"

"""The README documents every configuration key and environment variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregator.config import ConflictsSettings, DigestSettings, HtmlOptions, Network, Settings, Source, load_config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    start = README.index(heading)
    nxt = README.find("\n#", start + len(heading))
    return README[start : nxt if nxt != -1 else None]


@pytest.mark.parametrize(
    "heading,model",
    [("### `[settings]`", Settings), ("### `[networks.<id>]`", Network), ("### `[[sources]]`", Source), ("### `[sources.html]`", HtmlOptions), ("### `[conflicts]`", ConflictsSettings), ("### `[digest]`", DigestSettings)],
)
def test_every_config_key_is_documented_in_its_readme_section(heading, model):
    section = _section(heading)
    missing = [key for key in model.model_fields if f"| `{key}` |" not in section]
    assert not missing, f"README section {heading} lacks rows for: {missing}"


@pytest.mark.parametrize(
    "heading,model",
    [("### `[settings]`", Settings), ("### `[networks.<id>]`", Network), ("### `[[sources]]`", Source), ("### `[sources.html]`", HtmlOptions), ("### `[conflicts]`", ConflictsSettings), ("### `[digest]`", DigestSettings)],
)
def test_readme_documents_no_key_that_does_not_exist(heading, model):
    documented = re.findall(r"^\| `([a-z_]+)` \|", _section(heading), re.M)
    assert set(documented) <= set(model.model_fields), set(documented) - set(model.model_fields)


def test_every_environment_variable_used_in_the_code_is_documented():
    used = set()
    for folder in ("aggregator", "exporters", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"NETZWERKTIMER_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    assert used, "the scan found no variables at all"
    missing = sorted(v for v in used if f"`{v}`" not in README)
    assert not missing, f"README lacks: {missing}"


def test_the_shipped_sources_toml_is_valid():
    config = load_config(ROOT / "sources.toml")
    assert len(config.networks) >= 21
    assert all(s.network in config.networks for s in config.sources)


def test_readme_quickstart_names_exactly_the_two_setup_commands():
    block = _section("## Quickstart").split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_dockerfile_installs_with_the_readme_install_step_and_runs_serve():
    docker = (ROOT / "Dockerfile").read_text()
    assert "make venv" in docker
    assert '"netzwerktimer", "serve"' in docker
    assert "USER netzwerktimer" in docker


def test_every_network_with_a_known_website_has_a_source_marked_unverified():
    config = load_config(ROOT / "sources.toml")
    covered = {s.network for s in config.sources}
    missing = [nid for nid, n in config.networks.items() if n.website and nid not in covered]
    assert not missing, f"networks with a website but no source: {missing}"
    for s in config.sources:
        assert "[unverified]" in s.note or "[guess]" in s.note, f"{s.id}: say in its note whether it is verified"

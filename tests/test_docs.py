"""The README documents every configuration key and environment variable."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from aggregator.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(heading: str, until: str = "\n#") -> str:
    """From ``heading`` to the next heading (``until="\\n## "``: to the next chapter, its sections included)."""
    assert heading in README, f"README has no section {heading}"
    start = README.index(heading)
    nxt = README.find(until, start + len(heading))
    return README[start : nxt if nxt != -1 else None]


# Fields of the root model that are not keys of sources.toml (load_config refuses them in a file).
ROOT_NOT_KEYS = {"path"}


def _tables_in(annotation, key: str, container: str = "") -> list[tuple[str, type[BaseModel]]]:
    """The tables a field typed ``annotation`` at dotted ``key`` stands for, as (README heading, model).

    ``Model`` is ``[key]``, ``list[Model]`` is ``[[key]]`` (an array of tables), ``dict[str, Model]``
    is ``[key.<id>]``; ``X | None``, ``Annotated[...]`` and other unions are looked through."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _tables_in(args[0], key, container)
    if origin in (typing.Union, types.UnionType):
        return [table for arg in args for table in _tables_in(arg, key, container)]
    if origin is list:
        return _tables_in(args[0], key, container or "list")
    if origin is dict:
        return _tables_in(args[1], f"{key}.<id>", container)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        heading = f"### `[[{key}]]`" if container == "list" else f"### `[{key}]`"
        return [(heading, annotation), *_tables(annotation, key)]
    return []


def _tables(model: type[BaseModel] = Config, prefix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """Every table under ``model``, found recursively through its fields (so a new one cannot be missed)."""
    return [table for name, field in model.model_fields.items()
            for table in _tables_in(field.annotation, f"{prefix}.{name}" if prefix else name)]


TABLES = _tables()


def test_the_tables_are_found_from_the_root_model():
    headings = [heading for heading, _model in TABLES]
    assert len(headings) == len(set(headings))
    # The ones the README has always had; a new table is found, not listed here.
    assert {"### `[settings]`", "### `[networks.<id>]`", "### `[[sources]]`", "### `[sources.html]`",
            "### `[conflicts]`", "### `[digest]`"} <= set(headings)
    documented = re.findall(r"^### `\[.*\]`$", _section("## Configuration reference", until="\n## "), re.M)
    assert len(documented) >= 6 and set(documented) <= set(headings), "README documents tables the configuration does not have"


def test_the_root_model_has_no_undocumented_key_outside_its_tables(tmp_path):
    plain = {name for name, field in Config.model_fields.items() if not _tables_in(field.annotation, name)}
    assert plain == ROOT_NOT_KEYS, f"top-level keys without a README section: {plain - ROOT_NOT_KEYS}"
    (tmp_path / "sources.toml").write_text('path = "elsewhere"\n', encoding="utf-8")
    with pytest.raises(ConfigError):  # so it really is no key of the file
        load_config(tmp_path / "sources.toml")


@pytest.mark.parametrize("heading,model", TABLES, ids=[heading for heading, _model in TABLES])
def test_every_config_key_is_documented_in_its_readme_section(heading, model):
    section = _section(heading)
    missing = [key for key in model.model_fields if f"| `{key}` |" not in section]
    assert not missing, f"README section {heading} lacks rows for: {missing}"


@pytest.mark.parametrize("heading,model", TABLES, ids=[heading for heading, _model in TABLES])
def test_readme_documents_no_key_that_does_not_exist(heading, model):
    documented = re.findall(r"^\| `([a-z_]+)` \|", _section(heading), re.M)
    assert set(documented) <= set(model.model_fields), set(documented) - set(model.model_fields)


def test_every_environment_variable_used_in_the_code_is_documented():
    used = set()
    for folder in ("aggregator", "exporters", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"NETZWERKTIMER_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    assert used, "the scan found no variables at all"
    # A row of the environment-variables table, not a mention anywhere in the README.
    rows = set(re.findall(r"^\| `(NETZWERKTIMER_[A-Z_]+)` \|", _section("## Environment variables"), re.M))
    missing = sorted(used - rows)
    assert not missing, f"README section 'Environment variables' lacks rows for: {missing}"


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

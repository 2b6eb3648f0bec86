"""Reading and checking ``sources.toml`` and the deployment environment.

``load_config(path)`` returns a validated ``Config`` or raises ``ConfigError``
naming the file, the key and the reason. Every key accepted here is
documented in the README; ``tests/test_docs.py`` fails when one is not.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from aggregator.conflicts import ConflictRules

KINDS = ("ics", "feed", "jsonld", "tribe", "html", "auto")

# Environment variables for deployment (documented in the README).
ENV_CONFIG = "NETZWERKTIMER_CONFIG"
ENV_DATA_DIR = "NETZWERKTIMER_DATA_DIR"
ENV_DATABASE_URL = "NETZWERKTIMER_DATABASE_URL"
ENV_WRITER_WAIT = "NETZWERKTIMER_WRITER_WAIT"
# set: serve offers the admin endpoints (aggregator/web_admin.py) to requests bearing this token
ENV_ADMIN_TOKEN = "NETZWERKTIMER_ADMIN_TOKEN"

# The databases the service ships a driver for and is tested with: backend → drivers.
SUPPORTED_DATABASES = {"sqlite": ("pysqlite",), "postgresql": ("psycopg",)}
DATABASE_EXAMPLES = "sqlite:///<path> or postgresql+psycopg://user@host:5432/db"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A configuration that cannot be used: ``file: key: reason`` per problem."""

    def __init__(self, file: str | Path, problems: list[tuple[str, str]]):
        self.file = str(file)
        self.problems = problems
        lines = [f"{self.file}: {key}: {reason}" if key else f"{self.file}: {reason}" for key, reason in problems]
        super().__init__("\n".join(lines))


def parse_duration(value: object) -> timedelta:
    """``"90m"``, ``"6h"``, ``"1d"``, ``"2w"`` or a number of seconds → timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration like \"6h\"")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f'expected a duration like "30m", "6h" or "7d", got {value!r}')
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Strict):
    """``[settings]``: defaults for every source and for what we publish."""

    timezone: str = "Europe/Berlin"
    refresh: Duration = timedelta(hours=6)
    horizon: Duration = timedelta(days=365)
    vanished_grace: Duration = timedelta(days=14)
    retention: Duration = timedelta(days=365)
    suspicious_drop: float = Field(default=0.5, gt=0, le=1)
    calendar_name: str = "Netzwerktimer – Cross-Cluster-Initiative Thüringen"
    contact: str = ""
    timeout: float = Field(default=20.0, gt=0)
    max_bytes: int = Field(default=10_000_000, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=2.0, ge=0)
    max_retry_after: float = Field(default=120.0, ge=0)
    per_host_concurrency: int = Field(default=2, ge=1, le=16)
    # Sources read at once in one refresh: bounds open sockets (a country's thousand sites must
    # not need a thousand file descriptors) and keeps httpx's connection pool small (its
    # bookkeeping is linear in the connections it holds, for every request).
    parallel_sources: int = Field(default=32, ge=1, le=1000)
    respect_robots_txt: bool = True
    # Off by default: sources are public websites, and a URL, redirect or link that
    # leads into our own network is an attack (SSRF), not an event calendar.
    allow_private_networks: StrictBool = False
    # Caps: what one source may cost at most (a source may lower or raise its own, see ``Source``).
    max_pages: int = Field(default=5, ge=1, le=100)
    max_events: int = Field(default=5000, ge=1)
    max_html_nodes: int = Field(default=200_000, ge=1)
    source_timeout: Duration = timedelta(minutes=5)
    max_occurrences: int = Field(default=1000, ge=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return _check_zone(v)


class Network(_Strict):
    """``[networks.<id>]``: one member network of the initiative."""

    name: str = Field(min_length=1)
    short: str = ""
    website: str = ""
    contacts: list[str] = []

    @property
    def label(self) -> str:
        return self.short or self.name


class HtmlOptions(_Strict):
    """``[sources.html]``: how to read an event list page with CSS selectors (kind ``html``).

    Either the selectors (``item``, ``title``, ``date`` at least) or ``parser``,
    the name of a small module in ``aggregator/extract/sites/`` for a site too
    odd for selectors.
    """

    item: str | None = None
    title: str | None = None
    date: str | None = None
    time: str | None = None
    link: str | None = None
    location: str | None = None
    description: str | None = None
    detail: bool = False
    next_page: str | None = None
    parser: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="after")
    def _selectors_or_parser(self) -> HtmlOptions:
        if self.parser is None:
            missing = [k for k in ("item", "title", "date") if not getattr(self, k)]
            if missing:
                raise ValueError(f"needs {', '.join(missing)} (or parser = \"<module>\")")
        return self


class Source(_Strict):
    """``[[sources]]``: one place a network publishes events."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    network: str
    kind: Literal["ics", "feed", "jsonld", "tribe", "html", "auto"]
    url: str = Field(pattern=r"^https?://")
    refresh: Duration | None = None
    enabled: bool = True
    timezone: str | None = None
    # Pagination and detail pages stay on the source's host unless a host is named here.
    allow_hosts: list[Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")]] = []
    role: Literal["events", "context"] = "events"
    note: str = ""
    html: HtmlOptions | None = None
    # Per-source caps; None means the one of [settings].
    max_pages: int | None = Field(default=None, ge=1, le=100)
    max_events: int | None = Field(default=None, ge=1)
    max_bytes: int | None = Field(default=None, gt=0)
    max_html_nodes: int | None = Field(default=None, ge=1)
    source_timeout: Duration | None = None

    @model_validator(mode="after")
    def _kind_options(self) -> Source:
        if self.kind == "html" and self.html is None:
            raise ValueError("kind = \"html\" needs a [sources.html] table with item, title and date selectors")
        if self.html is not None and self.kind != "html":
            raise ValueError(f"[sources.html] is only read for kind = \"html\", not {self.kind!r}")
        return self

    def options(self) -> dict:
        """The per-kind options table as a plain dict (empty when the kind has none)."""
        return self.html.model_dump(exclude_none=True) if self.html is not None else {}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return None if v is None else _check_zone(v)


ConflictKind = Literal["overlap", "same_day"]


class ConflictsSettings(_Strict):
    """``[conflicts]``: when events of different networks count as colliding (see ``aggregator.conflicts``)."""

    kinds: list[ConflictKind] = ["overlap", "same_day"]
    ignore_longer_than: Duration = timedelta(days=3)
    min_overlap: timedelta = timedelta(0)
    horizon: Duration = timedelta(days=180)
    digest_kinds: list[ConflictKind] = ["overlap"]
    max_per_event: int = Field(default=25, ge=0)  # 0: no cap

    @field_validator("min_overlap", mode="before")
    @classmethod
    def _min_overlap(cls, v: object) -> timedelta:
        # zero is allowed here (every real overlap counts), unlike other durations
        if isinstance(v, timedelta) and v == timedelta(0):
            return v
        if not isinstance(v, bool) and isinstance(v, (int, float)) and v == 0:
            return timedelta(0)
        if isinstance(v, str) and (v.strip() == "0" or ((m := _DURATION.match(v)) and int(m.group(1)) == 0)):
            return timedelta(0)
        return parse_duration(v)

    def rules(self) -> ConflictRules:
        """These settings as the ``ConflictRules`` the detection takes."""
        from aggregator.conflicts import ConflictRules

        return ConflictRules(
            kinds=tuple(dict.fromkeys(self.kinds)),
            ignore_longer_than=self.ignore_longer_than,
            min_overlap=self.min_overlap,
            horizon=self.horizon,
            max_per_event=self.max_per_event or None,
        )


Conflicts = ConflictsSettings


class DigestSettings(_Strict):
    """``[digest]``: the nightly conflict digest email."""

    recipients: list[str] = []
    language: Literal["de", "en"] = "de"
    send_at: str = Field(default="06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    send_when_empty: bool = False
    upcoming_weeks: int = Field(default=4, ge=1, le=52)
    calendar_url: str = Field(default="", pattern=r"^(https?://.*)?$")
    sender: str = ""

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+", a)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(map(repr, bad))}")
        return v


class Config(_Strict):
    """The whole of ``sources.toml``."""

    settings: Settings = Settings()
    conflicts: ConflictsSettings = ConflictsSettings()
    digest: DigestSettings = DigestSettings()
    networks: dict[str, Network] = {}
    sources: list[Source] = []
    path: str = ""

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        seen: set[str] = set()
        for i, source in enumerate(self.sources):
            if source.id in seen:
                raise ValueError(f"sources[{i}].id: duplicate source id {source.id!r}")
            seen.add(source.id)
            if source.network not in self.networks:
                raise ValueError(
                    f"sources[{i}].network: unknown network {source.network!r} "
                    f"(define [networks.{source.network}])"
                )
        return self

    def source(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise KeyError(source_id)

    def refresh_of(self, source: Source) -> timedelta:
        return source.refresh or self.settings.refresh

    def timezone_of(self, source: Source) -> ZoneInfo:
        return ZoneInfo(source.timezone or self.settings.timezone)

    def limits_of(self, source: Source) -> Limits:
        """The caps that bound one refresh of ``source``: its own where it sets them, else [settings]."""
        s = self.settings

        def own(name: str):
            value = getattr(source, name)
            return getattr(s, name) if value is None else value

        return Limits(
            max_pages=own("max_pages"),
            max_events=own("max_events"),
            max_bytes=own("max_bytes"),
            max_html_nodes=own("max_html_nodes"),
            source_timeout=own("source_timeout"),
            max_occurrences=s.max_occurrences,
        )


@dataclass(frozen=True)
class Limits:
    """The caps of one source (see ``Config.limits_of``); each one hit becomes a warning or an error of that source."""

    max_pages: int  # list pages read per refresh (detail pages not counted)
    max_events: int  # events kept per fetch: the nearest ones, see pipeline.keep_nearest
    max_bytes: int  # decoded bytes per response
    max_html_nodes: int  # elements of one HTML page; a page with more is refused before it is parsed
    source_timeout: timedelta  # wall-clock time for fetching and reading the source, all its pages included
    max_occurrences: int  # occurrences per recurring series used for deduplication and conflicts


def load_config(path: str | Path) -> Config:
    """Read and validate a sources.toml; raise ConfigError with file, key and reason."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, [("", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [("", f"not UTF-8 text ({exc.reason})")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("", f"not valid TOML: {exc}")]) from None
    if "path" in raw:
        raise ConfigError(path, [("path", "unknown key")])
    try:
        return Config.model_validate({**raw, "path": str(path)})
    except ValidationError as exc:
        raise ConfigError(path, [_describe(err, raw) for err in exc.errors()]) from None


def _describe(err: dict, raw: dict) -> tuple[str, str]:
    loc = list(err["loc"])
    msg = err["msg"]
    if err["type"] == "value_error" and not loc:
        # Raised by a model validator as "key: reason".
        key, _, reason = msg.removeprefix("Value error, ").partition(": ")
        return key, reason
    msg = msg.removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (see the README's list of keys)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    key = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            key += f"[{part}]"
            if i == 1 and loc[0] == "sources" and isinstance(raw.get("sources"), list) and part < len(raw["sources"]):
                sid = raw["sources"][part].get("id") if isinstance(raw["sources"][part], dict) else None
                if sid:
                    key += f" (id {sid!r})"
        else:
            key += ("." if key else "") + str(part)
    # pydantic puts union/annotated branches into the location; keep it readable.
    key = re.sub(r"\.function-(before|after)\[[^\]]*\]", "", key)
    return key, msg


@dataclass(frozen=True)
class Deployment:
    """Where the service keeps its things, from the environment."""

    config_path: Path
    data_dir: Path
    database_url: str
    # Seconds a writing command waits while another process writes to the database (WriterLock).
    writer_wait: float = 600.0

    @classmethod
    def from_env(cls, config_override: str | None = None, env: dict | None = None) -> Deployment:
        env = os.environ if env is None else env
        config_path = Path(config_override or env.get(ENV_CONFIG) or "sources.toml")
        data_dir = Path(env.get(ENV_DATA_DIR) or "data")
        url = env.get(ENV_DATABASE_URL) or f"sqlite:///{(data_dir / 'netzwerktimer.sqlite3').resolve()}"
        problems = []
        problem = database_url_problem(url)
        if problem:
            problems.append((ENV_DATABASE_URL, problem))
        wait = env.get(ENV_WRITER_WAIT) or "600"
        try:
            writer_wait = float(wait)
            if not 0 <= writer_wait < float("inf"):
                raise ValueError
        except ValueError:
            problems.append((ENV_WRITER_WAIT, f"seconds to wait, a number ≥ 0, not {wait!r}"))
            writer_wait = 0.0
        if problems:
            raise ConfigError("environment", problems)
        return cls(config_path=config_path, data_dir=data_dir, database_url=url, writer_wait=writer_wait)

    @property
    def public_dir(self) -> Path:
        return self.data_dir / "public"


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the service's database, or None when it can.

    It must parse as a SQLAlchemy URL and name a backend and driver of
    ``SUPPORTED_DATABASES`` (a bare ``postgresql://`` means SQLAlchemy's default
    driver for it, which is checked too). The reason never repeats the URL,
    since it may hold a password. Nothing is connected to."""
    # Imported here: the configuration is read by every command, most of which
    # never open the database, and SQLAlchemy is slow to import.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return f"not a database URL (expected {DATABASE_EXAMPLES})"
    backend = parsed.get_backend_name()
    try:
        driver = parsed.get_driver_name()
    except NoSuchModuleError:
        driver = None  # SQLAlchemy knows no such backend
    if driver not in SUPPORTED_DATABASES.get(backend, ()):
        named = parsed.drivername if driver is None else f"{backend}+{driver}"
        return f"unsupported database {named!r} (use {DATABASE_EXAMPLES})"
    return None

"""Logging of ``serve`` and the CLI: JSON lines or readable text on standard error,
with secrets redacted.

``configure(settings, secrets)`` installs one handler on the root logger, so our
modules, uvicorn (its ``uvicorn.error`` and ``uvicorn.access`` loggers propagate to
the root when uvicorn is started with ``log_config=None``), APScheduler and httpx
all come out in one format:

- ``json``: one object per line: ``ts`` (ISO 8601, UTC, milliseconds, ``Z``),
  ``level`` (lower case), ``logger``, ``msg``, then the record's context fields
  (``extra=``: ``event``, ``source``, ``outcome``, ``events``, ``duration_s``,
  ``error``, …), ``exc`` with a traceback; uvicorn's access lines carry
  ``client``, ``method``, ``path``, ``http_version`` and ``status``;
- ``text``: ``<ts> <LEVEL> <logger>: <msg> key=value …`` for people at a terminal.

Every record passes ``RedactSecrets`` before it is formatted: the configured
secrets (SMTP password, admin token, the database URL's password), the password
of any ``scheme://user:password@host`` URL and the value of ``Authorization``
headers and ``Bearer`` tokens are replaced by ``***`` in the message, its
arguments, context fields and tracebacks.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

from aggregator.config import ENV_ADMIN_TOKEN, ENV_DATABASE_URL, ConfigError
from aggregator.mail import ENV_SMTP_PASSWORD

ENV_LOG_FORMAT = "NETZWERKTIMER_LOG_FORMAT"
ENV_LOG_LEVEL = "NETZWERKTIMER_LOG_LEVEL"
FORMATS = ("json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MASK = "***"
# Chatty libraries stay at WARNING unless DEBUG is asked for (APScheduler logs every tick at INFO).
QUIET_BELOW_DEBUG = ("apscheduler", "httpx", "httpcore", "asyncio", "alembic")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_DROPPED = {"color_message"}  # uvicorn's coloured copy of the message
_RESERVED = {"ts", "level", "logger", "msg", "exc", "stack"}


@dataclass(frozen=True)
class LogSettings:
    format: str  # json | text
    level: int


def settings_from_env(*, default_format: str, default_level: int, env: dict | None = None) -> LogSettings:
    """The format and level from ``NETZWERKTIMER_LOG_FORMAT`` / ``NETZWERKTIMER_LOG_LEVEL``,
    else the defaults; a value that is neither is a ``ConfigError`` naming the variable."""
    env = os.environ if env is None else env
    problems = []
    fmt = (env.get(ENV_LOG_FORMAT) or "").strip().lower() or default_format
    if fmt not in FORMATS:
        problems.append((ENV_LOG_FORMAT, f"expected json or text, got {env.get(ENV_LOG_FORMAT)!r}"))
    level_name = (env.get(ENV_LOG_LEVEL) or "").strip().upper()
    if level_name and level_name not in LEVELS:
        problems.append((ENV_LOG_LEVEL, f"expected one of {', '.join(LEVELS)}, got {env.get(ENV_LOG_LEVEL)!r}"))
    if problems:
        raise ConfigError("environment", problems)
    return LogSettings(fmt, logging.getLevelName(level_name) if level_name else default_level)


def secrets_from_env(env: dict | None = None) -> list[str]:
    """The configured secrets that must never be logged: the SMTP password, the admin token
    and the password in the database URL (those that are set)."""
    env = os.environ if env is None else env
    found = [env.get(ENV_SMTP_PASSWORD) or "", env.get(ENV_ADMIN_TOKEN) or ""]
    try:
        found.append(urlsplit(env.get(ENV_DATABASE_URL) or "").password or "")
    except ValueError:
        pass
    return [s for s in found if s]


def configure(settings: LogSettings, secrets: Iterable[str] = ()) -> logging.Handler:
    """Send every log record to standard error in ``settings.format`` at ``settings.level``,
    redacted. Calling it again replaces the handler it installed before (and nothing else)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.addFilter(AccessFields())
    handler.addFilter(RedactSecrets(secrets))
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.level)
    for name in QUIET_BELOW_DEBUG:
        logging.getLogger(name).setLevel(logging.NOTSET if settings.level <= logging.DEBUG else max(settings.level, logging.WARNING))
    return handler


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr


# --- redaction -------------------------------------------------------------

_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://)([^\s/@:?#]*):([^\s/@?#]*)@")
_AUTH_HEADER = re.compile(
    r"""((?:proxy-)?authorization['"]?\s*[:=,]\s*(?:b?['"])?)((?:bearer|basic|digest|token)\s+)?[^\s'",;}\]]+""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)


class Redactor:
    """``redactor(text)``: ``text`` with every secret, URL password and Authorization value masked."""

    def __init__(self, secrets: Iterable[str] = ()):
        variants = set()
        for s in secrets:
            if s:
                variants |= {s, quote(s, safe=""), quote(s, safe="/:")}
        self.secrets = sorted(variants, key=len, reverse=True)  # the longest first: no half-masked leftovers

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@", text)
        text = _AUTH_HEADER.sub(lambda m: f"{m[1]}{m[2] or ''}{MASK}", text)
        text = _BEARER.sub(lambda m: f"{m[1]}{MASK}", text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def redact_url(url: str) -> str:
    """``url`` without the password of its userinfo (``https://user:***@host/…``)."""
    return _USERINFO.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@", url)


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message, arguments, context fields and traceback text
    (the record is changed in place, so every handler sees the masked version)."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, self.redact(value))
            elif not isinstance(value, int | float | bool | type(None)):
                setattr(record, key, self.redact(str(value)))
        return True


class AccessFields(logging.Filter):
    """uvicorn's access records (``%s - "%s %s HTTP/%s" %d``) get their parts as context fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.event = "http.request"
            record.client, record.method, record.path, record.http_version, record.status = client, method, path, version, status
        return True


def extra_fields(record: logging.LogRecord) -> dict:
    """The context fields a record was given (``extra=``), without logging's own attributes."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and k not in _DROPPED and not k.startswith("_")}


# --- formats -----------------------------------------------------------------


def _ts(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or ""


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": _ts(record), "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        for key, value in extra_fields(record).items():
            out[f"x_{key}" if key in _RESERVED else key] = value
        exc = _traceback(self, record)
        if exc:
            out["exc"] = exc
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``<ts> <LEVEL> <logger>: <msg> key=value …``, a traceback on the following lines."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_text_value(v)}" for k, v in extra_fields(record).items())
        line = f"{_ts(record)} {record.levelname} {record.name}: {record.getMessage()}" + (f"  [{fields}]" if fields else "")
        exc = _traceback(self, record)
        if exc:
            line += "\n" + exc
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


def _text_value(value) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (not text or any(c.isspace() for c in text)) else text

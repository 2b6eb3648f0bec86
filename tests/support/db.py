"""Database fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL is the server at 127.0.0.1:5432 (trust auth, database ``test``);
each test gets its own schema, dropped afterwards. Outside CI an unreachable
server skips the PostgreSQL variant with the reason; with CI=true it fails.
"""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from aggregator.store import Store
from tests.support.shared import IN_CI

PG_URL = os.environ.get("NETZWERKTIMER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_schema_url():
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # the server is not there: say so, and fail in CI
        admin.dispose()
        reason = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {exc}".splitlines()[0]
        if IN_CI:
            pytest.fail(reason + " (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    return admin, schema, f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A fresh, empty database URL: SQLite in tmp_path, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    admin, schema, url = _pg_schema_url()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(database_url):
    """A migrated Store on each database."""
    s = Store(database_url)
    s.migrate()
    yield s
    s.close()


@contextlib.contextmanager
def temporary_database(url: str | None, postgres: bool):
    """``url``, or with ``postgres`` a new schema of the test PostgreSQL, dropped afterwards."""
    if not postgres:
        yield url
        return
    admin, schema, pg_url = _pg_schema_url()
    try:
        yield pg_url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

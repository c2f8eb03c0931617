"""Database fixtures: SQLite in tmp_path and a fresh database on the machine's PostgreSQL.

PostgreSQL comes from `ATP_TEST_POSTGRES_URL` (e.g. postgresql://postgres@127.0.0.1:5432/test).
Unset, its tests are skipped, unless `ATP_REQUIRE_POSTGRES=1` (the CI sets both), which makes
them fail. A set URL whose server does not answer fails them too: a configured database that
is down is a broken environment, not a reason to skip. Each test gets its own database, so
parallel runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from atp.storage.database import Database, migrate


def _admin_url() -> str:
    url = os.environ.get("ATP_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("ATP_REQUIRE_POSTGRES") == "1":
            pytest.fail("ATP_REQUIRE_POSTGRES=1 but ATP_TEST_POSTGRES_URL is not set")
        pytest.skip("ATP_TEST_POSTGRES_URL is not set")
    return url


def _dsn(url: str) -> str:
    # asyncpg wants a libpq-style URL without a SQLAlchemy driver suffix.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    admin = _dsn(_admin_url())
    try:
        connection = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at ATP_TEST_POSTGRES_URL is unreachable: {exc}")
    name = f"atp_test_{uuid.uuid4().hex[:16]}"
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: SQLite in tmp_path, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'atp.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on each backend."""
    await migrate(database_url)
    db = Database(database_url)
    yield db
    await db.close()

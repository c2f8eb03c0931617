"""The database: URL normalisation, the async engine and sessions, and migrations to head.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, so a committed
transaction is on disk before the commit returns and survives a kill -9 (and a power cut).
PostgreSQL commits are durable by default (`synchronous_commit=on`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from atp.core.errors import ConfigurationError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK_KEY = 7_202_509
_BUSY_TIMEOUT_MS = 30_000
_ALEMBIC_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def normalize_url(url: str) -> str:
    """Returns `url` with the async driver ATP uses (`aiosqlite` or `asyncpg`).

    Accepts `sqlite:///path`, `postgresql://...` and `postgres://...` as well as URLs that
    already name the driver; anything else is a configuration error.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(f"ATP_DATABASE_URL is not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ConfigurationError(
        f"ATP_DATABASE_URL: expected a sqlite or postgresql URL, found {parsed.drivername}"
    )


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    _use_wal(dbapi_connection, cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(dbapi_connection: Any, cursor: Any) -> None:
    """Puts the database file in WAL mode (once: the mode is stored in the file).

    Switching a rollback-journal database to WAL needs an exclusive lock, and SQLite does not
    call the busy handler for it when another connection holds or wants the write lock: it
    answers "database is locked" at once, to avoid a deadlock between two lock upgrades. Two
    services (or two `migrate()`s) opening a new file together hit exactly that, so the switch
    is retried here until the other connection is done; afterwards the file is in WAL mode and
    every later connection only reads that.
    """
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    delay, waited = 0.005, 0.0
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or waited >= _BUSY_TIMEOUT_MS / 1000:
                raise
        # An event hook is synchronous; run_async sleeps without blocking the event loop.
        dbapi_connection.run_async(lambda _driver, pause=delay: asyncio.sleep(pause))
        waited += delay
        delay = min(delay * 2, 0.1)


def create_engine(url: str) -> AsyncEngine:
    """Creates the async engine for `url` (any accepted spelling), configured for durability."""
    normalized = normalize_url(url)
    parsed = make_url(normalized)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(normalized, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        return engine
    return create_async_engine(normalized, pool_pre_ping=True)


class Database:
    """An engine and its session factory; `session()` gives one transaction."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = create_engine(self.url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        """Closes every pooled connection."""
        await self.engine.dispose()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _alembic_lock() -> asyncio.Lock:
    # Alembic's `context` and `op` are module-level proxies installed for the length of one
    # upgrade, so two upgrades interleaving in one process (two databases migrated at once)
    # would remove each other's proxies. One lock per event loop serialises them in-process.
    loop = asyncio.get_running_loop()
    lock = _ALEMBIC_LOCKS.get(loop)
    if lock is None:
        lock = _ALEMBIC_LOCKS[loop] = asyncio.Lock()
    return lock


async def migrate(url: str) -> None:
    """Brings the database at `url` to the latest schema; safe to call again and concurrently.

    Concurrent callers (services starting together) are serialised: an advisory lock on
    PostgreSQL, the write lock (`BEGIN IMMEDIATE`) on SQLite, and within one process a lock
    around Alembic itself.
    """
    engine = create_engine(url)
    try:
        async with _alembic_lock(), engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                await connection.exec_driver_sql(
                    f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})"
                )
            await connection.run_sync(_upgrade)
            await connection.commit()
    finally:
        await engine.dispose()

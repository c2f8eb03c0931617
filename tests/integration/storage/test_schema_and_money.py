"""Migrations reach the models' schema idempotently; money and times round-trip exactly."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select

from atp.storage.database import Database, migrate
from atp.storage.models import Base, FillRow

EXACT_VALUES = [
    Decimal("0.1") + Decimal("0.2"),
    Decimal("1234567890.123456789012345678"),  # 28 significant digits
    Decimal("0.0000000000000000000000000001"),
    Decimal("-9999999999999999999999999999"),
    Decimal("181.30"),
    Decimal("0"),
]


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrations_create_exactly_the_models_schema(database_url: str) -> None:
    await asyncio.gather(migrate(database_url), migrate(database_url))
    await migrate(database_url)
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            differences = await connection.run_sync(_diff)
    finally:
        await database.close()

    assert differences == []


async def test_money_round_trips_exactly(database: Database) -> None:
    moments = [
        datetime(2024, 3, 1, 14, 30, 0, 123456, tzinfo=UTC),
        datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
    ]
    async with database.session() as session:
        for n, value in enumerate(EXACT_VALUES):
            session.add(
                FillRow(
                    fill_id=f"f-{n}",
                    venue="paper",
                    client_order_id="c",
                    order_id="o",
                    symbol="AAPL",
                    side="buy",
                    quantity=value,
                    price=value,
                    commission=value,
                    filled_at=moments[n % 2],
                )
            )
    async with database.session() as session:
        rows = (await session.scalars(select(FillRow).order_by(FillRow.fill_id))).all()

    assert [r.price for r in rows] == EXACT_VALUES
    assert [str(r.quantity) for r in rows] == [str(v) for v in EXACT_VALUES]
    assert rows[0].price == Decimal("0.3")
    assert [r.filled_at for r in rows] == [moments[n % 2] for n in range(len(EXACT_VALUES))]
    assert all(r.filled_at.tzinfo is UTC for r in rows)


async def test_migrate_waits_for_a_writer_holding_a_new_sqlite_file(tmp_path: Path) -> None:
    # A new file is in rollback-journal mode; switching it to WAL needs an exclusive lock, and
    # SQLite refuses at once (no busy wait) while another connection writes. migrate() must
    # wait for that writer instead of failing with "database is locked".
    path = tmp_path / "atp.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE written_first (x INTEGER)")
    migrating = asyncio.create_task(migrate(f"sqlite:///{path}"))
    await asyncio.sleep(0.2)  # let migrate() meet the held lock before the writer commits
    writer.execute("COMMIT")
    writer.close()
    await migrating

    check = sqlite3.connect(path)
    try:
        mode = check.execute("PRAGMA journal_mode").fetchone()[0]
        head = check.execute("SELECT sequence FROM audit_head").fetchall()
    finally:
        check.close()
    assert mode == "wal"
    assert head == [(0,)]


async def test_many_concurrent_migrations_of_new_sqlite_files_all_succeed(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'atp-{n}.db'}" for n in range(5)]

    await asyncio.gather(*(migrate(url) for url in urls for _ in range(3)))

    for url in urls:
        database = Database(url)
        try:
            async with database.engine.connect() as connection:
                assert await connection.run_sync(_diff) == []
        finally:
            await database.close()

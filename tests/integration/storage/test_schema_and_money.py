"""Migrations reach the models' schema idempotently; money and times round-trip exactly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

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

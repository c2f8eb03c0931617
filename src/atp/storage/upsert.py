"""Insert-if-absent on both databases: the primitive every idempotent write is built on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def insert_if_absent(
    session: AsyncSession, model: type[DeclarativeBase], values: Mapping[str, Any]
) -> bool:
    """Inserts one row unless a row with the same key exists; True if this call inserted it.

    Uses `INSERT ... ON CONFLICT DO NOTHING`, so two concurrent writers never both insert and
    neither fails: the loser simply learns that the row was already there.
    """
    table = model.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(dict(values)).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(dict(values)).on_conflict_do_nothing()
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return bool(result.rowcount == 1)

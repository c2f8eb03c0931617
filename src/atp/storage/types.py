"""Column types that keep Decimals exact and datetimes aware UTC on SQLite and PostgreSQL.

SQLite has no exact decimal type (its NUMERIC affinity turns values into floats), so decimals are
stored there as their plain-notation text; PostgreSQL stores them as unconstrained NUMERIC, which
keeps every digit and the scale. SQLite has no time zones either: datetimes are stored as naive
UTC and made aware again when read, PostgreSQL uses `timestamptz`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator, TypeEngine

from atp.core.clock import ensure_utc


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal column stored without any rounding on either database."""

    impl = String(80)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """NUMERIC (arbitrary precision) on PostgreSQL, text elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.NUMERIC(asdecimal=True))
        return dialect.type_descriptor(String(80))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Refuses non-finite values; writes plain notation on text storage."""
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"expected a finite Decimal, found {value!r}")
        if dialect.name == "postgresql":
            return value
        return format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Reads the stored value back as the same Decimal."""
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; a naive one is refused on the way in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Normalises to UTC; on SQLite stores the naive UTC wall time."""
        if value is None:
            return None
        moment = ensure_utc(value)
        if dialect.name == "postgresql":
            return moment
        return moment.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Returns an aware UTC datetime."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

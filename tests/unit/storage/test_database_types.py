"""URL normalisation and the exact column types, on both dialects, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from atp.core.errors import ConfigurationError, InvalidInput
from atp.storage.database import normalize_url
from atp.storage.types import ExactDecimal, UtcDateTime

DIALECTS = [sqlite.dialect(), postgresql.dialect()]


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("sqlite:///var/atp.db", "sqlite+aiosqlite:///var/atp.db"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_urls_are_normalised_to_the_async_drivers(given_url: str, expected: str) -> None:
    assert normalize_url(given_url) == expected


@pytest.mark.parametrize("bad", ["mysql://u@h/db", "not a url"])
def test_other_databases_are_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        normalize_url(bad)


@given(value=st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_decimals_round_trip_through_both_dialects(value: Decimal) -> None:
    column = ExactDecimal()
    for dialect in DIALECTS:
        stored = column.process_bind_param(value, dialect)
        back = column.process_result_value(stored, dialect)
        assert back == value
        assert back is not None and back.as_tuple().exponent == value.as_tuple().exponent


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), 0.1])
def test_non_finite_or_float_money_is_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        ExactDecimal().process_bind_param(bad, sqlite.dialect())  # type: ignore[arg-type]


@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(min_value=-720, max_value=720),
)
def test_datetimes_come_back_as_the_same_aware_utc_instant(
    moment: datetime, offset_minutes: int
) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    column = UtcDateTime()
    for dialect in DIALECTS:
        back = column.process_result_value(column.process_bind_param(local, dialect), dialect)
        assert back == moment and back is not None and back.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInput):
        UtcDateTime().process_bind_param(datetime(2024, 1, 1), sqlite.dialect())

"""Parquet bar files load by the CSV rules: a Parquet copy of a real CSV gives the same bars."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from atp.core.errors import InvalidInput
from atp.marketdata.catalog import load_bars
from atp.services.settings import AtpSettings

DATA = AtpSettings().data_dir


def _parquet_copy(csv_name: str, tmp_path: Path) -> Path:
    """Writes `csv_name` as Parquet with the types Arrow infers (dates, floats, zones)."""
    table = pacsv.read_csv(DATA / csv_name)
    target = tmp_path / (Path(csv_name).stem + ".parquet")
    pq.write_table(table, target)
    return target


def _write(tmp_path: Path, columns: dict[str, pa.Array], name: str = "ABC.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize(
    ("csv_name", "symbol"),
    [
        # date32 dates, float64 prices, a Symbol column, Adj_Close third
        ("pairs_trading_system/AAPL.csv", None),
        # timestamp[s, tz=UTC] from `2021-08-23 09:30:00-04:00`
        ("lumibot/AAPL_Minute.csv", None),
        # naive timestamp[s] read in New York
        ("lumibot/XYZ_1Min.csv", None),
        # M/D/YYYY H:MM kept as strings, O,C,H,L column order, zero volume
        ("mplfinance/SP500_NOV2019_IDay.csv", "SP500"),
        # dividend and split columns
        ("zipline/AAPL.csv", None),
    ],
)
def test_a_parquet_copy_of_a_real_csv_loads_bar_for_bar_like_the_csv(
    csv_name: str, symbol: str | None, tmp_path: Path
) -> None:
    from_csv = load_bars(DATA / csv_name, symbol=symbol)
    from_parquet = load_bars(_parquet_copy(csv_name, tmp_path), symbol=symbol)

    assert from_parquet.symbol == from_csv.symbol
    assert from_parquet.timeframe == from_csv.timeframe
    assert from_parquet.file_format == "parquet"
    assert len(from_parquet) == len(from_csv)
    fields = ("timestamp", "open", "high", "low", "close", "volume")
    for parquet_bar, csv_bar in zip(from_parquet.bars, from_csv.bars, strict=True):
        assert [getattr(parquet_bar, f) for f in fields] == [getattr(csv_bar, f) for f in fields]
    assert from_parquet.corporate_actions == from_csv.corporate_actions


def test_adjusted_prices_from_parquet_equal_those_from_the_csv(tmp_path: Path) -> None:
    name = "pairs_trading_system/MSFT.csv"
    from_csv = load_bars(DATA / name, price_basis="adjusted")
    from_parquet = load_bars(_parquet_copy(name, tmp_path), price_basis="adjusted")
    assert [b.close for b in from_parquet.bars] == [b.close for b in from_csv.bars]
    assert [b.open for b in from_parquet.bars] == [b.open for b in from_csv.bars]


def test_float32_decimal_and_integer_columns_give_the_values_written(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "date": pa.array(["2024-01-02", "2024-01-03"]),
            "open": pa.array([187.15, 184.22], pa.float32()),
            "high": pa.array([Decimal("188.44"), Decimal("185.88")], pa.decimal128(10, 2)),
            "low": pa.array([183.89, 183.43], pa.float64()),
            "close": pa.array([185.64, 184.25], pa.float32()),
            "volume": pa.array([82488700, 58414500], pa.int64()),
        },
    )
    bars = load_bars(path).bars
    # The shortest text of each stored value: 187.15, not 187.14999389648438.
    assert [b.open for b in bars] == [Decimal("187.15"), Decimal("184.22")]
    assert [b.high for b in bars] == [Decimal("188.44"), Decimal("185.88")]
    assert [b.low for b in bars] == [Decimal("183.89"), Decimal("183.43")]
    assert [b.close for b in bars] == [Decimal("185.64"), Decimal("184.25")]
    assert [b.volume for b in bars] == [Decimal(82488700), Decimal(58414500)]


def test_a_zoned_timestamp_column_keeps_its_instant_whatever_the_timezone_argument(
    tmp_path: Path,
) -> None:
    stamps = pa.array([0, 60], pa.timestamp("s", tz="America/New_York"))
    path = _write(tmp_path, {"Datetime": stamps, **_ohlc(2)})
    bars = load_bars(path, timezone="Asia/Tokyo").bars
    assert [b.timestamp for b in bars] == [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 1, tzinfo=UTC),
    ]


def test_naive_midnight_timestamps_are_session_dates_in_the_exchange_zone(tmp_path: Path) -> None:
    days = pa.array(
        [datetime(2024, 1, 2), datetime(2024, 1, 3), datetime(2024, 1, 4)], pa.timestamp("ns")
    )
    series = load_bars(_write(tmp_path, {"Date": days, **_ohlc(3)}))
    assert series.timeframe == "1d"
    assert series.bars[0].timestamp == datetime(2024, 1, 2, 5, tzinfo=UTC)


def test_a_dictionary_encoded_symbol_column_names_the_series(tmp_path: Path) -> None:
    symbols = pa.array(["MSFT", "MSFT"]).dictionary_encode()
    path = _write(
        tmp_path, {"Date": pa.array(["2024-01-02", "2024-01-03"]), "Symbol": symbols, **_ohlc(2)}
    )
    assert load_bars(path).symbol == "MSFT"


@pytest.mark.parametrize(
    ("close", "found"),
    [
        (pa.array([1.0, None], pa.float64()), "a missing value (null)"),
        (pa.array([1.0, float("nan")], pa.float64()), "nan"),
        (pa.array([1.0, -2.5], pa.float64()), "-2.5"),
        (pa.array(["1", "abc"]), "'abc'"),
    ],
)
def test_a_bad_parquet_value_names_file_row_and_column(
    tmp_path: Path, close: pa.Array, found: str
) -> None:
    columns = {"Date": pa.array(["2024-01-02", "2024-01-03"]), **_ohlc(2)}
    columns["Close"] = close
    path = _write(tmp_path, columns)
    with pytest.raises(InvalidInput) as caught:
        load_bars(path)
    message = str(caught.value)
    assert str(path) in message
    assert "row 2, column 'Close'" in message
    assert found in message


def test_a_nanosecond_timestamp_is_refused_rather_than_truncated(tmp_path: Path) -> None:
    stamps = pa.array([1_000, 2_001], pa.timestamp("ns", tz="UTC"))
    path = _write(tmp_path, {"timestamp": stamps, **_ohlc(2)})
    with pytest.raises(InvalidInput, match=r"row 2, column 'timestamp': expected a timestamp to"):
        load_bars(path)


def test_a_parquet_file_without_a_close_column_says_what_is_missing(tmp_path: Path) -> None:
    columns = {"Date": pa.array(["2024-01-02"]), **_ohlc(1)}
    del columns["Close"]
    with pytest.raises(InvalidInput, match=r"schema: no close column"):
        load_bars(_write(tmp_path, columns))


def test_a_file_that_is_not_parquet_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ABC.parquet"
    path.write_text("Date,Open,High,Low,Close\n2024-01-02,1,1,1,1\n")
    with pytest.raises(InvalidInput, match=r"ABC.parquet: expected a Parquet file"):
        load_bars(path)


def test_duplicate_parquet_timestamps_name_both_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, {"Date": pa.array(["2024-01-02", "2024-01-02"]), **_ohlc(2)})
    with pytest.raises(InvalidInput, match=r"row 2: duplicate timestamp .* \(also on row 1\)"):
        load_bars(path)


def _ohlc(rows: int) -> dict[str, pa.Array]:
    return {
        name: pa.array([value] * rows, pa.float64())
        for name, value in (("Open", 10.0), ("High", 11.0), ("Low", 9.0), ("Close", 10.5))
    }

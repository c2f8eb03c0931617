"""The streaming CSV reader gives the catalog's bars, or hands the file to the catalog.

`read_csv_columns` parses prices in C and keeps only row offsets for the exact texts; every
bar it can build must equal the catalog's (`load_bars`), value for value and signal id for
signal id, and a file it cannot read the same way must come out exactly as the catalog reads
it (same bars, same error).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from atp.backtest.columns import ArrayTexts, SymbolColumns, from_series, read_csv_columns
from atp.backtest.csv_columns import FileTexts
from atp.core.errors import InvalidInput
from atp.marketdata.catalog import load_bars
from atp.services.settings import AtpSettings


def assert_same_as_catalog(path: Path) -> SymbolColumns:
    streamed = read_csv_columns(path, symbol="X")
    catalog = from_series(load_bars(path, symbol="X"))
    assert streamed.symbol == catalog.symbol
    assert streamed.timeframe == catalog.timeframe
    assert streamed.feed == catalog.feed
    assert np.array_equal(streamed.timestamps, catalog.timestamps)
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(streamed.floats, name), getattr(catalog.floats, name))
    for index in range(len(catalog)):
        assert streamed.bar(index) == catalog.bar(index)
    return streamed


@pytest.mark.parametrize("relative", ["mag7/TSLA.csv", "mag7/NVDA.csv"])
def test_a_real_daily_file_streams_to_the_catalogs_bars(relative: str) -> None:
    streamed = assert_same_as_catalog(AtpSettings().data_dir / relative)
    assert isinstance(streamed.texts, FileTexts)  # offsets, not a text per price
    assert len(streamed) > 2000


def test_a_file_with_a_symbol_column_is_read_by_the_catalog() -> None:
    streamed = assert_same_as_catalog(AtpSettings().data_dir / "pairs_trading_system/AAPL.csv")
    assert isinstance(streamed.texts, ArrayTexts)


def test_crlf_blank_lines_and_a_last_line_without_newline_stream_exactly(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(
        b"Date,Open,High,Low,Close,Volume\r\n"
        b"2024-01-02 09:30:00,100.10,101,99.5,100.2500,1000\r\n"
        b"\r\n"
        b"2024-01-02 09:31:00,100.25,100.3,100.0,100.0001,0\r\n"
        b"\n"
        b"2024-01-02 09:32:00,1e2,100.5,99.9,100.3,12.5"
    )
    streamed = assert_same_as_catalog(path)
    assert isinstance(streamed.texts, FileTexts)
    assert str(streamed.bar(0).open) == "100.10"  # the text as written, not a float's repr
    assert str(streamed.bar(1).close) == "100.0001"


def test_a_bad_value_gets_the_catalogs_error(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,100,101,99,100.5,1000\n"
        "2024-01-03,100,101,99,abc,1000\n"
    )
    with pytest.raises(InvalidInput) as expected:
        load_bars(path, symbol="X")
    with pytest.raises(InvalidInput) as streamed:
        read_csv_columns(path, symbol="X")
    assert str(streamed.value) == str(expected.value)


def test_quoted_values_are_read_by_the_catalog(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text(
        'Date,Open,High,Low,Close,Volume\n"2024-01-02","100","101","99","100.5","1000"\n'
        '"2024-01-03","100.5","102","100","101.25","900"\n'
    )
    streamed = assert_same_as_catalog(path)
    assert isinstance(streamed.texts, ArrayTexts)


def test_columns_in_another_order_stream_to_the_catalogs_bars(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text(
        "Volume,Close,Low,High,Open,Date\n"
        "1000,100.5,99,101,100,2024-01-02\n"
        "900,101.25,100,102,100.5,2024-01-03\n"
        "800,100.75,100.5,101.5,101.25,2024-01-04\n"
    )
    streamed = assert_same_as_catalog(path)
    assert isinstance(streamed.texts, FileTexts)
    assert str(streamed.bar(1).close) == "101.25"

"""`DataCatalog` lists what ../shared/data serves and finds a symbol's file, in any format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from atp.core.errors import NotFound
from atp.marketdata.catalog import DataCatalog, find_data_file, load_bars
from atp.services.settings import AtpSettings

DATA = AtpSettings().data_dir
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bars"


@pytest.fixture(scope="module")
def shared() -> DataCatalog:
    catalog = DataCatalog(DATA)
    catalog.entries()  # loads every file once for the module's tests
    return catalog


def test_every_data_file_is_either_served_or_refused_with_a_reason(shared: DataCatalog) -> None:
    # The data README counts 87 data files; the README itself is no bar file.
    assert len(shared.files()) == 87
    listed = {entry.path for entry in shared.entries()} | {r.path for r in shared.refused()}
    assert listed == set(shared.files())
    refused = {r.path.relative_to(DATA).as_posix(): r.reason for r in shared.refused()}
    # A wide table of closes and a quote-tick file are not bar files, and say why.
    assert "no open, high, low, close column" in refused["pyportfolioopt/stock_prices.csv"]
    assert "no open, high, low, close column" in refused["nautilus_trader/truefx/usdjpy-ticks.csv"]
    # Two ticks share a timestamp: refused, not deduplicated.
    assert "duplicate timestamp" in refused["backtrader/ticksample.csv"]


def test_the_listing_gives_file_layout_date_range_and_rows(shared: DataCatalog) -> None:
    pairs = {e.symbol: e for e in shared.entries() if e.path.parent.name == "pairs_trading_system"}
    assert len(pairs) == 22
    aapl = pairs["AAPL"]
    assert aapl.layout == "csv Date,Symbol,Adj_Close,High,Low,Open,Close,Volume"
    assert aapl.timeframe == "1d"
    assert (aapl.rows, aapl.first, aapl.last) == (
        2515,
        datetime(2015, 1, 21, 5, tzinfo=UTC),
        datetime(2025, 1, 17, 5, tzinfo=UTC),
    )
    assert pairs["ARM"].rows == 338
    assert pairs["ARM"].first == datetime(2023, 9, 14, 4, tzinfo=UTC)
    zipline = next(e for e in shared.entries() if e.path == DATA / "zipline/AAPL.csv")
    assert zipline.corporate_actions == 11  # 10 dividends and the 7:1 split


def test_symbols_lists_each_served_symbol_once(shared: DataCatalog) -> None:
    symbols = shared.symbols()
    assert symbols == sorted(set(symbols))
    assert {"AAPL", "SPY", "VIX", "ORCL", "GBPUSD", "XYZ"} <= set(symbols)
    spy_files = {e.path.relative_to(DATA).as_posix() for e in shared.entries_for("spy")}
    assert {"lumibot/SPY.csv", "pandas-ta/SPY_D.csv", "lumibot/spy_test.csv"} <= spy_files


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("AAPL", "pairs_trading_system/AAPL.csv"),  # preferred folder first
        ("nvda", "pairs_trading_system/NVDA.csv"),
        ("SPY", "lumibot/SPY.csv"),
        ("VIX", "finance-vix/vix-daily.csv"),  # by name: the only file for it
        ("ORCL", "backtrader/orcl-1995-2014.txt"),  # by ticker token: the longest history
        ("GOOG", "pairs_trading_system/GOOG.csv"),
    ],
)
def test_find_takes_the_preferred_file_for_a_symbol(symbol: str, expected: str) -> None:
    assert DataCatalog(DATA).find(symbol) == DATA / expected
    assert find_data_file(DATA, symbol) == DATA / expected


def test_find_skips_a_file_named_like_the_ticker_that_holds_no_bars() -> None:
    # zipline/SPY_benchmark.csv and pyportfolioopt/spy_prices.csv start with SPY but hold
    # returns and closes; only files with OHLC columns are found by token.
    found = DataCatalog(DATA, preferred_folders=("zipline", "pyportfolioopt")).find("SPY")
    assert load_bars(found).symbol == "SPY"
    assert found.name not in {"SPY_benchmark.csv", "spy_prices.csv"}


def test_an_unknown_symbol_is_not_found_naming_the_folder() -> None:
    with pytest.raises(NotFound, match=r"no bar file for symbol 'NOPE' under .*data"):
        find_data_file(DATA, "NOPE")


def test_a_folder_mixing_csv_parquet_and_json_serves_all_three(tmp_path: Path) -> None:
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "MSFT.csv").write_bytes((DATA / "mag7/MSFT.csv").read_bytes())
    table = pacsv.read_csv(DATA / "pairs_trading_system/AMZN.csv")
    pq.write_table(table, tmp_path / "AMZN.parquet")
    (tmp_path / "xyz_daily.json").write_bytes((FIXTURES / "xyz_daily.json").read_bytes())
    (tmp_path / "notes.md").write_text("not a bar file")

    catalog = DataCatalog(tmp_path)
    assert catalog.symbols() == ["AMZN", "MSFT", "XYZ"]
    formats = {e.symbol: (e.file_format, e.rows) for e in catalog.entries()}
    assert formats == {"AMZN": ("parquet", 2515), "MSFT": ("csv", 2768), "XYZ": ("json", 12)}
    assert catalog.refused() == ()
    assert catalog.find("amzn") == tmp_path / "AMZN.parquet"
    assert catalog.find("XYZ") == tmp_path / "xyz_daily.json"
    assert find_data_file(tmp_path, "MSFT") == tmp_path / "csv" / "MSFT.csv"

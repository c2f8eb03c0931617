"""Every daily and minute bar layout in ../shared/data loads, with the README's row counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from atp.marketdata.catalog import load_bars
from atp.marketdata.timeparse import session_date
from atp.services.settings import DEFAULT_DATA_DIR

DATA = DEFAULT_DATA_DIR

# file, symbol, timeframe, rows, first bar (UTC), last bar (UTC)
LAYOUTS = [
    ("pairs_trading_system/AAPL.csv", "AAPL", "1d", 2515, "2015-01-21T05:00", "2025-01-17T05:00"),
    ("pairs_trading_system/ARM.csv", "ARM", "1d", 338, "2023-09-14T04:00", "2025-01-17T05:00"),
    ("mag7/NVDA.csv", "NVDA", "1d", 2768, "2013-01-02T05:00", "2023-12-29T05:00"),
    ("backtrader/orcl-1995-2014.txt", "ORCL", "1d", 5036, "1995-01-03T05:00", "2014-12-31T05:00"),
    ("backtrader/2006-min-005.txt", "2006", "5m", 2142, "2006-01-02T14:05", "2006-01-30T22:30"),
    (
        "backtrader/2006-01-02-volume-min-001.txt",
        "FESX",
        "1m",
        30889,
        "2006-01-02T14:01",
        "2006-02-28T03:00",
    ),
    ("backtrader/2006-week-001.txt", "2006", "1w", 52, "2006-01-06T05:00", "2006-12-29T05:00"),
    ("backtrader/2006-month-001.txt", "2006", "1mo", 12, "2006-01-31T05:00", "2006-12-29T05:00"),
    ("pandas-ta/SPY_D.csv", "SPY", "1d", 5241, "1999-11-01T05:00", "2020-08-28T04:00"),
    (
        "mplfinance/yahoofinance-SPY-20080101-20180101.csv",
        "SPY",
        "1d",
        2519,
        "2007-12-31T05:00",
        "2017-12-29T05:00",
    ),
    (
        "mplfinance/yahoofinance-SPY-20200901-20210113.csv",
        "SPY",
        "1d",
        92,
        "2020-09-01T04:00",
        "2021-01-12T05:00",
    ),
    (
        "mplfinance/SP500_NOV2019_Hist.csv",
        "SP500",
        "1d",
        20,
        "2019-11-01T04:00",
        "2019-11-29T05:00",
    ),
    (
        "mplfinance/SP500_NOV2019_IDay.csv",
        "SP500",
        "1m",
        1563,
        "2019-11-05T14:30",
        "2019-11-08T20:59",
    ),
    (
        "mplfinance/jpyusd_barchartdotcom.csv",
        "JPYUSD",
        "1d",
        519,
        "2018-03-12T04:00",
        "2020-03-11T04:00",
    ),
    ("lumibot/SPY.csv", "SPY", "1d", 252, "2019-01-02T05:00", "2019-12-31T05:00"),
    ("lumibot/AAPL_Minute.csv", "AAPL", "1m", 1167, "2021-08-23T13:30", "2021-08-25T19:59"),
    ("lumibot/AMZN_MINUTE.csv", "AMZN", "1m", 2450, "2021-01-01T00:01", "2021-01-08T22:58"),
    ("lumibot/SPY_Minute_2021.csv", "SPY", "1m", 12131, "2021-07-01T16:56", "2021-08-13T20:43"),
    ("lumibot/XYZ_1Min.csv", "XYZ", "1m", 30397, "2020-01-02T14:31", "2020-04-22T20:00"),
    ("zipline/AAPL.csv", "AAPL", "1d", 754, "2012-01-03T05:00", "2014-12-31T05:00"),
    ("finance-vix/vix-daily.csv", "VIX", "1d", 9235, "1990-01-02T05:00", "2026-07-23T04:00"),
    (
        "nautilus_trader/fxcm/gbpusd-m1-bid-2012.csv",
        "GBPUSD",
        "1m",
        30117,
        "2012-02-01T00:00",
        "2012-03-01T00:00",
    ),
    (
        "nautilus_trader/xcme/6EH4.XCME_1min_bars_20240101_20240131.csv",
        "6EH4",
        "1m",
        29996,
        "2024-01-01T23:01",
        "2024-01-31T23:59",
    ),
]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("name", "symbol", "timeframe", "rows", "first", "last"), LAYOUTS)
def test_every_bar_layout_loads_sorted_with_the_readme_row_count(
    name: str, symbol: str, timeframe: str, rows: int, first: str, last: str
) -> None:
    series = load_bars(DATA / name, symbol=symbol)
    assert len(series) == rows
    assert series.symbol == symbol
    assert series.timeframe == timeframe
    assert series.bars[0].timestamp == _utc(first)
    assert series.bars[-1].timestamp == _utc(last)
    times = [bar.timestamp for bar in series.bars]
    assert times == sorted(set(times))


def test_pairs_trading_columns_are_read_by_name_and_prices_are_exact_decimals() -> None:
    series = load_bars(DATA / "pairs_trading_system/AAPL.csv")
    bar = next(b for b in series.bars if b.timestamp == _utc("2024-01-02T05:00"))
    assert bar.open == Decimal("187.14999389648438")
    assert bar.high == Decimal("188.44000244140625")
    assert bar.low == Decimal("183.88999938964844")
    assert bar.close == Decimal("185.63999938964844")  # Close as traded, not Adj_Close
    assert bar.volume == Decimal("82488700.0")
    assert bar.feed == "csv:AAPL.csv"
    assert session_date(bar.timestamp, ZoneInfo("America/New_York")) == date(2024, 1, 2)


def test_adjusted_basis_uses_adj_close_and_scales_open_high_low() -> None:
    series = load_bars(DATA / "pairs_trading_system/AAPL.csv", price_basis="adjusted")
    first = series.bars[0]
    assert first.close == Decimal("24.39616584777832")
    factor = Decimal("24.39616584777832") / Decimal("27.387500762939453")
    assert abs(first.open - Decimal("27.237499237060547") * factor) < Decimal("1e-12")
    assert series.price_basis == "adjusted"


def test_column_order_open_close_high_low_is_read_by_header_name() -> None:
    series = load_bars(DATA / "mplfinance/SP500_NOV2019_IDay.csv")
    bar = series.bars[0]  # 11/5/2019 9:30,3080.8,3080.49,3081.47,3080.3,0
    assert (bar.open, bar.close, bar.high, bar.low) == (
        Decimal("3080.8"),
        Decimal("3080.49"),
        Decimal("3081.47"),
        Decimal("3080.3"),
    )


def test_newest_first_file_is_returned_oldest_first_with_last_as_close() -> None:
    series = load_bars(DATA / "mplfinance/jpyusd_barchartdotcom.csv")
    assert series.bars[0].close == Decimal("0.009397")  # the file's last line, 3/12/2018
    assert series.bars[-1].close == Decimal("0.009582")


def test_zipline_dividends_and_split_are_reported_not_reapplied() -> None:
    series = load_bars(DATA / "zipline/AAPL.csv")
    splits = [a for a in series.corporate_actions if a.split_ratio is not None]
    dividends = [a for a in series.corporate_actions if a.dividend != 0]
    assert [(s.timestamp, s.split_ratio) for s in splits] == [
        (_utc("2014-06-09T04:00"), Decimal("7.0"))
    ]
    assert len(dividends) == 10
    split_bar = next(b for b in series.bars if b.timestamp == _utc("2014-06-09T04:00"))
    assert split_bar.close == Decimal("93.699997")


def test_lumibot_dividends_column_yields_the_four_spy_ex_dates() -> None:
    series = load_bars(DATA / "lumibot/SPY.csv")
    assert [a.dividend for a in series.corporate_actions] == [
        Decimal("1.233"),
        Decimal("1.432"),
        Decimal("1.384"),
        Decimal("1.57"),
    ]


def test_vendor_ohlc_errors_are_kept_and_listed_or_refused_when_strict() -> None:
    path = DATA / "mplfinance/yahoofinance-SPY-20080101-20180101.csv"
    assert len(load_bars(path).ohlc_anomalies) == 2
    with pytest.raises(Exception, match=r"line \d+, column 'High'/'Low'"):
        load_bars(path, strict_ohlc=True)


def test_aware_timestamps_keep_their_offset() -> None:
    series = load_bars(DATA / "lumibot/spy_test.csv")
    assert series.bars[0].timestamp == _utc("2020-01-06T12:08")


def test_european_intraday_file_is_read_in_the_exchange_zone_it_is_given() -> None:
    series = load_bars(DATA / "backtrader/2006-min-005.txt", timezone="Europe/Berlin")
    assert series.bars[0].timestamp == _utc("2006-01-02T08:05")  # 09:05 CET


def test_naive_minute_bars_use_the_configured_zone() -> None:
    series = load_bars(DATA / "nautilus_trader/btc-perp-20211231-20220201_1m.csv", timezone="UTC")
    assert series.bars[0].timestamp == _utc("2021-12-31T23:01")
    assert len(series) == 45031


def test_symbol_comes_from_the_file_name_when_there_is_no_symbol_column() -> None:
    assert load_bars(DATA / "backtrader/nvda-2014.txt").symbol == "NVDA"
    assert load_bars(DATA / "mplfinance/yahoofinance-GOOG-20040819-20180120.csv").symbol == "GOOG"


def test_signal_ids_are_deterministic_per_symbol_timeframe_and_time(tmp_path: Path) -> None:
    first = load_bars(DATA / "backtrader/orcl-2014.txt")
    second = load_bars(DATA / "backtrader/orcl-2014.txt")
    assert [b.signal_id for b in first.bars] == [b.signal_id for b in second.bars]
    assert len({b.signal_id for b in first.bars}) == len(first)

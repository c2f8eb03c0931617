"""JSON bar fixtures load exactly, align with each other, drive a backtest, and fail clearly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from atp.backtest.model import BacktestRequest
from atp.backtest.runner import run_backtest
from atp.core.enums import Side
from atp.core.errors import InvalidInput
from atp.marketdata.align import align
from atp.marketdata.catalog import load_bars
from atp.services.settings import AtpSettings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bars"
XYZ = FIXTURES / "xyz_daily.json"
ABC = FIXTURES / "abc_listing.json"


def test_the_daily_fixture_loads_exact_prices_stamped_at_new_york_midnight() -> None:
    series = load_bars(XYZ)
    assert series.symbol == "XYZ"
    assert series.timeframe == "1d"
    assert series.file_format == "json"
    assert len(series) == 12
    first = series.bars[0]
    assert first.timestamp == datetime(2024, 1, 2, 5, tzinfo=UTC)
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("9.95"),
        Decimal("10.10"),
        Decimal("9.85"),
        Decimal("10.00"),
        Decimal("120000"),
    )
    assert [(a.timestamp, a.dividend) for a in series.corporate_actions] == [
        (datetime(2024, 1, 10, 5, tzinfo=UTC), Decimal("0.25"))
    ]


def test_json_numbers_are_read_exactly_not_through_binary_floats() -> None:
    bar = load_bars(ABC).bars[0]
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("20.25"),
        Decimal("20.7"),
        Decimal("20.05"),
        Decimal("20.5"),
    )


def test_two_fixtures_align_on_one_calendar_without_inventing_bars_before_a_listing() -> None:
    batches = align([load_bars(XYZ), load_bars(ABC)])
    assert len(batches) == 12
    assert [[b.symbol for b in batch.bars] for batch in batches[:4]] == [
        ["XYZ"],
        ["XYZ"],
        ["XYZ"],
        ["XYZ", "ABC"],
    ]
    assert all(len(batch.bars) == 2 for batch in batches[3:])


def test_a_fixture_drives_a_backtest_filling_at_the_next_bars_open() -> None:
    closes = [bar.close for bar in load_bars(XYZ).bars]
    opens = [bar.open for bar in load_bars(XYZ).bars]
    # An independent 2/4 SMA crossover on the fixture's closes: where it crosses up and down.
    crosses = _sma_crosses(closes, fast=2, slow=4)
    assert [side for _, side in crosses] == [Side.BUY, Side.SELL]

    request = BacktestRequest.model_validate(
        {
            "start_date": "2024-01-02T00:00:00Z",
            "end_date": "2024-01-19T00:00:00Z",
            "symbols": ["XYZ"],
            "strategies": ["sma_crossover"],
            "params": {"sma_crossover": {"fast": 2, "slow": 4}},
            "initial_balance": "10000",
            "commission_bps": 0,
            "slippage_bps": 0,
            "warmup_bars": 0,
            "sizing": "all_in",
            "data_files": {"XYZ": str(XYZ)},
        }
    )
    outcome = run_backtest(request, AtpSettings().data_dir)

    fills = outcome.main.fills
    assert [(f.side, f.price) for f in fills] == [(side, opens[i + 1]) for i, side in crosses]
    assert all(f.filled_at > f.decided_at for f in fills)
    bought = fills[0].quantity
    assert outcome.main.final_equity == Decimal(10000) + bought * (fills[1].price - fills[0].price)


def test_the_symbol_argument_overrides_the_fixtures_symbol() -> None:
    assert load_bars(XYZ, symbol="qqq").symbol == "QQQ"


def test_the_fixtures_timezone_wins_over_the_default_for_its_naive_stamps(tmp_path: Path) -> None:
    path = _fixture(tmp_path, timezone="Europe/Berlin")
    assert load_bars(path).bars[0].timestamp == datetime(2024, 1, 1, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, r"unknown key 'extra'; expected only symbol, bars"),
        ({"bars": []}, r"key 'bars': expected a non-empty list of bars, found an empty list"),
        ({"symbol": ""}, r"key 'symbol': expected a non-empty string, found ''"),
        ({"symbol": None}, r"key 'symbol': expected a non-empty string, found null"),
        ({"timezone": "Mars/Olympus"}, r"expected an IANA time zone .* found 'Mars/Olympus'"),
    ],
)
def test_a_malformed_fixture_is_refused_naming_the_key(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = _fixture(tmp_path, **change)
    with pytest.raises(InvalidInput, match=message):
        load_bars(path)


def test_a_fixture_without_bars_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ABC.json"
    path.write_text(json.dumps({"symbol": "ABC"}))
    with pytest.raises(InvalidInput, match=r"ABC.json: missing key 'bars'"):
        load_bars(path)


@pytest.mark.parametrize(
    ("bar", "message"),
    [
        ({"close": "abc"}, r"bars\[1\], column 'close': expected a positive price, found 'abc'"),
        ({"close": None}, r"bars\[1\], column 'close': expected a positive price, found a missing"),
        ({"volume": -3}, r"bars\[1\], column 'volume': expected a non-negative number, found -3"),
        ({"timestamp": 20240103}, r"bars\[1\], column 'timestamp': expected a date or date-time"),
        ({"vwap": "10"}, r"bars\[1\]: unexpected key 'vwap'; every bar has the keys of bars\[0\]"),
    ],
)
def test_a_bad_bar_names_the_file_the_bar_and_the_key(
    tmp_path: Path, bar: dict[str, Any], message: str
) -> None:
    second = {**_bar("2024-01-03"), **bar}
    path = _fixture(tmp_path, bars=[_bar("2024-01-02"), second])
    with pytest.raises(InvalidInput, match=message) as caught:
        load_bars(path)
    assert str(path) in str(caught.value)


def test_a_bar_missing_a_key_is_refused_not_skipped(tmp_path: Path) -> None:
    second = _bar("2024-01-03")
    del second["volume"]
    path = _fixture(tmp_path, bars=[_bar("2024-01-02"), second])
    with pytest.raises(InvalidInput, match=r"bars\[1\]: missing key 'volume'"):
        load_bars(path)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ABC.json"
    path.write_text("{symbol: ABC")
    with pytest.raises(InvalidInput, match=r"ABC.json: expected a JSON bar fixture"):
        load_bars(path)


def test_an_unknown_file_extension_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ABC.xlsx"
    path.write_text("x")
    with pytest.raises(InvalidInput, match=r"ABC.xlsx: expected a bar file ending in .csv"):
        load_bars(path)


def _bar(day: str) -> dict[str, Any]:
    return {
        "timestamp": day,
        "open": "10",
        "high": "11",
        "low": "9",
        "close": "10.5",
        "volume": 100,
    }


def _fixture(tmp_path: Path, **change: Any) -> Path:
    document: dict[str, Any] = {"symbol": "ABC", "bars": [_bar("2024-01-02")], **change}
    path = tmp_path / "ABC.json"
    path.write_text(json.dumps(document))
    return path


def _sma_crosses(closes: list[Decimal], *, fast: int, slow: int) -> list[tuple[int, Side]]:
    def sma(end: int, length: int) -> Decimal:
        return sum(closes[end - length + 1 : end + 1], Decimal(0)) / length

    crosses: list[tuple[int, Side]] = []
    for index in range(slow, len(closes)):
        before = sma(index - 1, fast) - sma(index - 1, slow)
        now = sma(index, fast) - sma(index, slow)
        if before <= 0 < now:
            crosses.append((index, Side.BUY))
        elif before >= 0 > now:
            crosses.append((index, Side.SELL))
    return crosses

"""The trading day of the daily-loss rule: the clock's midnight, or the market data's day."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from atp.core.enums import Side, TradingState
from atp.core.events import ControlAction
from atp.risk.config import DailyLossConfig

from .conftest import proposal
from .test_engine_rules import buy_and_fill, engine_with, failed, mark

# Real AAPL closes (pairs_trading_system/AAPL.csv, split-adjusted), bars stamped at 16:00 ET.
FRI_13 = datetime(2020, 3, 13, 20, tzinfo=UTC)
MON_16 = datetime(2020, 3, 16, 20, tzinfo=UTC)
TUE_17 = datetime(2020, 3, 17, 20, tzinfo=UTC)


def test_with_market_day_boundaries_the_crash_days_loss_is_measured_from_the_previous_close() -> (
    None
):
    engine, _ = engine_with(
        daily_loss=DailyLossConfig(max_loss=Decimal(200), day_boundary="market")
    )
    mark(engine, "AAPL", "69.4925", at=FRI_13)
    buy_and_fill(engine, "AAPL", 40, "69.4925")
    assert engine.trading_day.isoformat() == "2020-03-13"
    engine.take_events()

    mark(engine, "AAPL", "60.5525", at=MON_16)

    # The engine's clock says 2025-01-06; the day is the bar's day all the same.
    assert engine.trading_day.isoformat() == "2020-03-16"
    assert engine.day_pnl == Decimal("-357.6000")
    assert engine.state is TradingState.REDUCING
    assert "daily_loss" in failed(engine.check(proposal("AAPL", Side.BUY, 1)))
    resets = [e for e in engine.take_events() if isinstance(e, ControlAction)]
    assert [r.parameters["trading_day"] for r in resets] == ["2020-03-16"]


def test_a_later_bar_starts_a_new_day_and_an_interleaved_earlier_bar_does_not_roll_back() -> None:
    engine, _ = engine_with(
        daily_loss=DailyLossConfig(max_loss=Decimal(200), day_boundary="market")
    )
    mark(engine, "AAPL", "69.4925", at=FRI_13)
    buy_and_fill(engine, "AAPL", 40, "69.4925")
    mark(engine, "AAPL", "60.5525", at=MON_16)
    mark(engine, "MSFT", "135.42", at=FRI_13)  # a late bar of another symbol
    assert engine.trading_day.isoformat() == "2020-03-16"
    assert engine.state is TradingState.REDUCING

    mark(engine, "AAPL", "63.215", at=TUE_17)

    assert engine.trading_day.isoformat() == "2020-03-17"
    assert engine.state is TradingState.ACTIVE
    assert engine.day_pnl == Decimal("106.5000")


def test_with_clock_day_boundaries_bars_of_later_days_do_not_start_a_new_day() -> None:
    engine, _ = engine_with(daily_loss=DailyLossConfig(max_loss=Decimal(200)))
    mark(engine, "AAPL", "69.4925", at=FRI_13)
    buy_and_fill(engine, "AAPL", 40, "69.4925")
    mark(engine, "AAPL", "60.5525", at=MON_16)
    mark(engine, "AAPL", "63.215", at=TUE_17)

    assert engine.trading_day.isoformat() == "2025-01-06"
    assert engine.state is TradingState.REDUCING
    assert engine.day_pnl == Decimal("-251.1000")

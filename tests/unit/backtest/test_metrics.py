"""Metrics agree with empyrical-reloaded on the same equity curve, and round trips add up."""

from __future__ import annotations

from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atp.backtest.metrics import (
    compute_metrics,
    max_drawdown,
    sharpe_ratio,
    simple_returns,
    sortino_ratio,
)
from atp.backtest.trades import TradeFill, round_trips
from atp.core.enums import Side

curves = st.lists(st.floats(min_value=50.0, max_value=200.0), min_size=3, max_size=300)


@settings(max_examples=60, deadline=None)
@given(curves)
def test_sharpe_sortino_drawdown_and_return_match_empyrical(curve: list[float]) -> None:
    initial = 100.0
    returns = simple_returns(initial, curve)
    series = pd.Series(returns)
    metrics = compute_metrics(
        initial=initial,
        equity=curve,
        exposure_flags=[True] * len(curve),
        traded_notional=0.0,
        trades=[],
        num_fills=0,
    )
    assert metrics["total_return"] == pytest.approx(
        empyrical.cum_returns_final(series), rel=1e-9, abs=1e-12
    )
    assert max_drawdown(initial, curve) == pytest.approx(
        empyrical.max_drawdown(series), rel=1e-9, abs=1e-12
    )
    expected_sharpe = empyrical.sharpe_ratio(series)
    ours = sharpe_ratio(returns)
    if np.isfinite(expected_sharpe) and ours is not None:
        assert ours == pytest.approx(expected_sharpe, rel=1e-7)
    expected_sortino = empyrical.sortino_ratio(series)
    ours_sortino = sortino_ratio(returns)
    if np.isfinite(expected_sortino) and ours_sortino is not None:
        assert ours_sortino == pytest.approx(expected_sortino, rel=1e-7)


def test_first_day_loss_counts_as_drawdown_from_starting_cash() -> None:
    assert max_drawdown(100.0, [90.0, 95.0, 120.0]) == pytest.approx(-0.1)


def test_round_trips_sum_to_realised_pnl_including_commissions() -> None:
    fills = [
        TradeFill("AAPL", Side.BUY, Decimal(10), Decimal(100), Decimal(1), 0),
        TradeFill("AAPL", Side.BUY, Decimal(10), Decimal(110), Decimal(1), 1),
        TradeFill("AAPL", Side.SELL, Decimal(20), Decimal(120), Decimal(1), 5),
        TradeFill("AAPL", Side.BUY, Decimal(5), Decimal(100), Decimal(0), 6),
        TradeFill("AAPL", Side.SELL, Decimal(5), Decimal(90), Decimal(0), 7),
    ]
    trades = round_trips(fills)
    assert [t.pnl for t in trades] == [pytest.approx(20 * 120 - 2100 - 3), pytest.approx(-50)]
    stats = compute_metrics(
        initial=1000.0,
        equity=[1000.0, 1100.0],
        exposure_flags=[True, False],
        traded_notional=0.0,
        trades=trades,
        num_fills=5,
    )
    assert stats["win_rate"] == 0.5
    assert stats["profit_factor"] == pytest.approx(297 / 50)
    assert stats["exposure"] == 0.5

"""Metrics agree with empyrical-reloaded on the same equity curve, and round trips add up."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from atp.backtest import metrics as metrics_module
from atp.backtest.metrics import (
    annual_volatility,
    compute_metrics,
    max_drawdown,
    max_drawdown_duration,
    periods_per_year,
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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.just(0.0),  # flat bars: repeated equity, zero returns
            st.floats(min_value=-0.2, max_value=0.2, allow_nan=False, allow_infinity=False),
        ),
        max_size=300,
    )
)
def test_compute_metrics_on_arrays_equals_the_documented_list_formulas(steps: list[float]) -> None:
    initial, value, curve = 100_000.0, 100_000.0, []
    for step in steps:
        value *= 1.0 + step
        curve.append(value)
    returns = simple_returns(initial, curve)
    got = compute_metrics(
        initial=initial,
        equity=np.array(curve, dtype=np.float64),
        exposure_flags=np.array([s != 0 for s in steps], dtype=bool),
        traded_notional=0.0,
        trades=[],
        num_fills=0,
    )
    # Bit for bit: the fast path's arrays must give what the per-bar lists give.
    assert got["sharpe"] == sharpe_ratio(returns)
    assert got["sortino"] == sortino_ratio(returns)
    assert got["annual_volatility"] == annual_volatility(returns)
    assert got["max_drawdown"] == max_drawdown(initial, curve)
    assert got["max_drawdown_duration"] == float(max_drawdown_duration(initial, curve))


@settings(max_examples=200, deadline=None)
@given(
    # Cents from -500 to 500: zero (a wiped-out bar: the return after it is 0) and negative
    # equity (a short gone wrong: peaks at or below 0 count no drawdown) included.
    st.lists(st.integers(min_value=-50_000, max_value=50_000).map(lambda c: c / 100), max_size=60),
    st.integers(min_value=1, max_value=8),
)
@example(curve=[50.0, 50.0, 50.0, 150.0], block=2)  # a run below the peak across blocks
def test_metrics_read_block_by_block_equal_the_whole_column_at_once(
    curve: list[float], block: int
) -> None:
    def metrics() -> str:
        computed = compute_metrics(
            initial=100.0,
            equity=np.array(curve, dtype=np.float64),
            exposure_flags=np.array([v > 0 for v in curve], dtype=bool),
            traded_notional=1000.0,
            trades=[],
            num_fills=0,
        )
        return repr(sorted(computed.items()))  # repr: a NaN compares equal to itself

    whole = metrics()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics_module, "_BLOCK", block)  # runs, peaks and returns cross blocks
        assert metrics() == whole
    assert f"('max_drawdown', {max_drawdown(100.0, curve)!r})" in whole
    duration = max_drawdown_duration(100.0, curve)
    assert f"('max_drawdown_duration', {duration!r})" in whole


def test_metrics_of_a_long_curve_need_no_temporary_as_long_as_the_curve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics_module, "_BLOCK", 4096)  # 1M bars at 65,536 scale to this
    steps = np.random.default_rng(7).normal(0.0, 0.001, 200_000)
    curve = 100_000.0 * np.cumprod(1.0 + steps)
    flags = np.ones(len(curve), dtype=bool)
    tracemalloc.start()
    try:
        metrics = compute_metrics(
            initial=100_000.0,
            equity=curve,
            exposure_flags=flags,
            traded_notional=0.0,
            trades=[],
            num_fills=0,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Column-long drawdowns, returns, deviations and downside were 3 curves' worth on top of
    # the curve (at 1M bars the backtest's last step to its peak resident memory).
    assert peak < curve.nbytes / 2
    assert metrics["max_drawdown"] == max_drawdown(100_000.0, curve.tolist())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5 * 86_400), min_size=2, max_size=40),
    st.booleans(),
    st.integers(min_value=1, max_value=6),
)
def test_periods_a_year_count_the_dates_as_a_sort_of_every_date_does(
    seconds: list[int], in_order: bool, block: int
) -> None:
    stamps = np.array(sorted(seconds) if in_order else seconds, dtype=np.int64) * 1_000_000_000
    days = len(np.unique(stamps // (86_400 * 1_000_000_000)))
    expected = round(252 * len(stamps) / days) if days < len(stamps) else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics_module, "_BLOCK", block)  # dates running on across blocks
        got = periods_per_year(stamps)
    if expected is not None:
        assert got == expected
    else:
        assert got in (252, 52, 12)


def test_periods_a_year_of_a_long_minute_run_need_no_temporary_as_long_as_its_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics_module, "_BLOCK", 4096)  # 1M bars at 65,536 scale to this
    start = np.datetime64("2024-01-02T14:30", "ns").astype(np.int64)
    # 390 minutes a session, 500 sessions: 195,000 bars.
    minutes = np.arange(195_000, dtype=np.int64)
    stamps = start + (minutes // 390) * 86_400 * 10**9 + (minutes % 390) * 60 * 10**9
    tracemalloc.start()
    try:
        periods = periods_per_year(stamps)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert periods == 252 * 390
    assert peak < stamps.nbytes / 4

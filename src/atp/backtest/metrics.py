"""Performance metrics of a backtest, computed from its exact equity curve and its trades.

Floats are fine here: these are statistics of a booked (Decimal) history, never booked themselves.
Conventions (docs/backtest.md states them for users):

* one equity value per bar, marked at the bar's close; returns are simple returns and the first
  one is taken against the starting cash, so N bars give N returns;
* 252 periods a year (daily bars) unless told otherwise;
* sample standard deviation (ddof=1), risk-free rate 0;
* Sortino's downside deviation is sqrt(mean(min(r, 0)^2)), the root mean square of the
  negative returns over all periods (empyrical's definition);
* max drawdown counts the starting cash as a peak, so a first-bar loss is a drawdown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from atp.core.frozen import quick_init

PERIODS_PER_YEAR = 252


@quick_init
@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A round trip: a position opened and closed (or reduced) in one symbol, with its P&L."""

    symbol: str
    quantity: float
    entry_price: float
    exit_price: float
    pnl: float
    bars_held: int


def simple_returns(initial: float, equity: Sequence[float]) -> list[float]:
    """Returns r_i = E_i / E_{i-1} - 1 with E_0 the starting cash (N values for N bars)."""
    returns: list[float] = []
    previous = initial
    for value in equity:
        returns.append(value / previous - 1.0 if previous != 0 else 0.0)
        previous = value
    return returns


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _sample_std(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) * (v - mean) for v in values) / (len(values) - 1))


def sharpe_ratio(returns: Sequence[float], periods: int = PERIODS_PER_YEAR) -> float | None:
    """mean(r) / std(r, ddof=1) * sqrt(periods); None when undefined (fewer than 2, or flat)."""
    std = _sample_std(returns)
    if std is None or std == 0:
        return None
    return _mean(returns) / std * math.sqrt(periods)


def sortino_ratio(returns: Sequence[float], periods: int = PERIODS_PER_YEAR) -> float | None:
    """mean(r) * periods / (sqrt(mean(min(r, 0)^2)) * sqrt(periods)); None when undefined."""
    if len(returns) < 2:
        return None
    downside = math.sqrt(math.fsum(min(r, 0.0) * min(r, 0.0) for r in returns) / len(returns))
    if downside == 0:
        return None
    return _mean(returns) * periods / (downside * math.sqrt(periods))


def annual_volatility(returns: Sequence[float], periods: int = PERIODS_PER_YEAR) -> float | None:
    """std(r, ddof=1) * sqrt(periods)."""
    std = _sample_std(returns)
    return None if std is None else std * math.sqrt(periods)


def drawdown_series(initial: float, equity: Sequence[float]) -> list[float]:
    """The drawdown after each bar, E_i / max(E_0..E_i) - 1 (0 or negative)."""
    peak = initial
    out: list[float] = []
    for value in equity:
        peak = max(peak, value)
        out.append(value / peak - 1.0 if peak > 0 else 0.0)
    return out


def max_drawdown(initial: float, equity: Sequence[float]) -> float:
    """The deepest drawdown, a negative fraction (0 when equity never fell below a peak)."""
    return min(drawdown_series(initial, equity), default=0.0)


def max_drawdown_duration(initial: float, equity: Sequence[float]) -> int:
    """The longest run of bars spent below a previous peak (unrecovered runs count to the end)."""
    peak = initial
    longest = current = 0
    for value in equity:
        if value >= peak:
            peak = value
            current = 0
        else:
            current += 1
            longest = max(longest, current)
    return longest


def cagr(initial: float, final: float, bars: int, periods: int = PERIODS_PER_YEAR) -> float | None:
    """(final / initial) ** (periods / bars) - 1; None with no bars or a wiped-out account."""
    if bars == 0 or initial <= 0 or final <= 0:
        return None
    return float((final / initial) ** (periods / bars) - 1.0)


def trade_statistics(trades: Sequence[ClosedTrade]) -> dict[str, float | None]:
    """Win rate, profit factor and expectancy of closed round trips."""
    if not trades:
        return {"win_rate": None, "profit_factor": None, "expectancy": None}
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [-t.pnl for t in trades if t.pnl < 0]
    gross_loss = math.fsum(losses)
    return {
        "win_rate": len(wins) / len(trades),
        "profit_factor": math.fsum(wins) / gross_loss if gross_loss > 0 else None,
        "expectancy": math.fsum(t.pnl for t in trades) / len(trades),
    }


def _returns_array(initial: float, equity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """`simple_returns` as an array: the same IEEE operations, element by element, in place."""
    returns = np.empty(len(equity), dtype=np.float64)
    if not len(equity):
        return returns
    returns[0] = equity[0] / initial - 1.0 if initial != 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(equity[1:], equity[:-1], out=returns[1:])
    returns[1:] -= 1.0
    returns[1:][equity[:-1] == 0] = 0.0
    return returns


def _peaks(initial: float, equity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """max(E_0..E_i) after each bar, E_0 the starting cash (one array, 8 bytes a bar)."""
    peaks = np.maximum.accumulate(equity)
    np.maximum(peaks, initial, out=peaks)
    return peaks


def _longest_run(flags: npt.NDArray[np.bool_]) -> int:
    """The longest run of True in `flags`."""
    if not flags.any():
        return 0
    edges = np.diff(np.concatenate([[0], flags.view(np.int8), [0]]))
    return int(np.max(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)))


def _fsum_mean(values: npt.NDArray[np.float64]) -> float:
    # math.fsum is exact, so the order cannot matter; iterating the array makes no list.
    return math.fsum(values) / len(values)


def _array_std(values: npt.NDArray[np.float64]) -> float | None:
    if len(values) < 2:
        return None
    deviations = values - _fsum_mean(values)
    deviations *= deviations
    return math.sqrt(math.fsum(deviations) / (len(values) - 1))


def compute_metrics(
    *,
    initial: float,
    equity: Sequence[float] | npt.NDArray[np.float64],
    exposure_flags: Sequence[bool] | npt.NDArray[np.bool_],
    traded_notional: float,
    trades: Sequence[ClosedTrade],
    num_fills: int,
    periods: int = PERIODS_PER_YEAR,
) -> dict[str, float | None]:
    """Every metric of one equity curve, keyed by the names the API and reports use.

    Args:
        initial: the starting cash.
        equity: equity marked at each bar's close, in bar order.
        exposure_flags: per bar, whether any position was open at its close.
        traded_notional: the sum of |quantity x price| over all fills.
        trades: the closed round trips.
        num_fills: how many fills the run had.
        periods: bars per year.
    """
    # Arrays, not lists of floats (8 bytes a bar, not 32); every element-wise step is the
    # same IEEE operation as the list functions above and every sum is `math.fsum` (exact).
    curve = np.asarray(equity, dtype=np.float64)
    flags = np.asarray(exposure_flags, dtype=bool)
    bars = len(curve)
    final = float(curve[-1]) if bars else initial
    # One temporary at a time (each is 8 bytes a bar): drawdowns first, then returns.
    drawdowns = _peaks(initial, curve)
    # Below the peak before the bar (`max_drawdown_duration`), read before the peaks turn
    # into drawdowns in place.
    below = np.empty(bars, dtype=bool)
    if bars:
        below[0] = curve[0] < initial
        np.less(curve[1:], drawdowns[:-1], out=below[1:])
    duration = _longest_run(below)
    del below
    flat = drawdowns <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(curve, drawdowns, out=drawdowns)
    drawdowns -= 1.0
    drawdowns[flat] = 0.0
    drawdown = float(np.min(drawdowns)) if bars else 0.0
    del drawdowns, flat
    returns = _returns_array(initial, curve)
    growth = cagr(initial, final, bars, periods)
    mean_equity = _fsum_mean(curve) if bars else initial
    std = _array_std(returns)
    mean_return = _fsum_mean(returns) if bars else 0.0
    downside = np.minimum(returns, 0.0)
    downside *= downside
    downside_deviation = math.sqrt(math.fsum(downside) / bars) if bars >= 2 else 0.0
    del downside
    sqrt_periods = math.sqrt(periods)
    metrics: dict[str, float | None] = {
        "total_return": final / initial - 1.0 if initial else None,
        "cagr": growth,
        "annual_volatility": None if std is None else std * sqrt_periods,
        "sharpe": None if not std else mean_return / std * sqrt_periods,
        "sortino": (
            mean_return * periods / (downside_deviation * sqrt_periods)
            if downside_deviation
            else None
        ),
        "max_drawdown": drawdown,
        "max_drawdown_duration": float(duration),
        "calmar": growth / -drawdown if growth is not None and drawdown < 0 else None,
        "exposure": int(np.count_nonzero(flags)) / len(flags) if len(flags) else 0.0,
        "num_trades": float(len(trades)),
        "num_fills": float(num_fills),
        "turnover": (
            traded_notional / mean_equity * periods / bars if bars and mean_equity > 0 else None
        ),
    }
    metrics.update(trade_statistics(trades))
    return metrics

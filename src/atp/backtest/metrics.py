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

PERIODS_PER_YEAR = 252


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
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


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
    downside = math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in returns) / len(returns))
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


def compute_metrics(
    *,
    initial: float,
    equity: Sequence[float],
    exposure_flags: Sequence[bool],
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
    bars = len(equity)
    final = equity[-1] if equity else initial
    returns = simple_returns(initial, equity)
    drawdown = max_drawdown(initial, equity)
    growth = cagr(initial, final, bars, periods)
    mean_equity = _mean(equity) if equity else initial
    metrics: dict[str, float | None] = {
        "total_return": final / initial - 1.0 if initial else None,
        "cagr": growth,
        "annual_volatility": annual_volatility(returns, periods),
        "sharpe": sharpe_ratio(returns, periods),
        "sortino": sortino_ratio(returns, periods),
        "max_drawdown": drawdown,
        "max_drawdown_duration": float(max_drawdown_duration(initial, equity)),
        "calmar": growth / -drawdown if growth is not None and drawdown < 0 else None,
        "exposure": (sum(exposure_flags) / len(exposure_flags)) if exposure_flags else 0.0,
        "num_trades": float(len(trades)),
        "num_fills": float(num_fills),
        "turnover": (
            traded_notional / mean_equity * periods / bars if bars and mean_equity > 0 else None
        ),
    }
    metrics.update(trade_statistics(trades))
    return metrics

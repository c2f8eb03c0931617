"""Performance metrics of a backtest, computed from its exact equity curve and its trades.

Floats are fine here: these are statistics of a booked (Decimal) history, never booked themselves.
Conventions (docs/backtest.md states them for users):

* one equity value per bar, marked at the bar's close; returns are simple returns and the first
  one is taken against the starting cash, so N bars give N returns;
* annualised with the run's periods a year (`periods_per_year`): 252 for daily bars, 52 weekly,
  12 monthly, and 252 x the bars of an average active day for intraday bars (a minute bar is
  not a day: counting it as one made CAGR, volatility and Sharpe of minute runs meaningless);
* sample standard deviation (ddof=1), risk-free rate 0;
* Sortino's downside deviation is sqrt(mean(min(r, 0)^2)), the root mean square of the
  negative returns over all periods (empyrical's definition);
* max drawdown counts the starting cash as a peak, so a first-bar loss is a drawdown.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from atp.core.frozen import quick_init

PERIODS_PER_YEAR = 252
"""Trading days a year: the periods of daily bars."""

_NS_PER_DAY = 86_400 * 1_000_000_000


def periods_per_year(stamps_ns: npt.NDArray[np.int64]) -> int:
    """How many of these bars make a year, from the bars' own times (UTC nanoseconds).

    Bars on distinct dates are daily, weekly or monthly by their median spacing (252, 52, 12);
    several bars on a date are intraday: 252 times the mean bars per date that has any (so a
    regular session's minute bars give 252 x 390, and bars round the clock 252 x 1,440).
    """
    if len(stamps_ns) < 2:
        return PERIODS_PER_YEAR
    days = _distinct_days(stamps_ns)
    if days < len(stamps_ns):
        return round(PERIODS_PER_YEAR * len(stamps_ns) / days)
    spacing_days = float(np.median(np.diff(stamps_ns))) / _NS_PER_DAY
    if spacing_days >= 28:
        return 12
    if spacing_days >= 7:
        return 52
    return PERIODS_PER_YEAR


def _distinct_days(stamps_ns: npt.NDArray[np.int64]) -> int:
    """On how many UTC dates the bars fall: a block at a time when they are in time order.

    A run's bars are (its equity curve is in bar order); a column-long sort would be two
    temporaries of 8 bytes a bar at the end of a run, where the 1M-bar run peaks.
    """
    count = 0
    previous: int | None = None  # the last date of the previous block
    for block in _blocks(stamps_ns):
        days = block // _NS_PER_DAY
        first = int(days[0])
        if (previous is not None and first < previous) or bool((days[1:] < days[:-1]).any()):
            return len(np.unique(stamps_ns // _NS_PER_DAY))  # out of order: all at once
        count += int(np.count_nonzero(days[1:] != days[:-1])) + (first != previous)
        previous = int(days[-1])
    return count


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


_BLOCK = 1 << 16  # bars per block: every temporary stays a few hundred KB
_Item = TypeVar("_Item", bound=np.generic)


def _blocks(values: npt.NDArray[_Item]) -> Iterator[npt.NDArray[_Item]]:
    """`values` in consecutive blocks of `_BLOCK` (views, no copies)."""
    for low in range(0, len(values), _BLOCK):
        yield values[low : low + _BLOCK]


def _return_blocks(
    initial: float, equity: npt.NDArray[np.float64]
) -> Iterator[npt.NDArray[np.float64]]:
    """`simple_returns`, block by block: the same IEEE operations, element by element."""
    previous = initial
    for block in _blocks(equity):
        returns = np.empty(len(block), dtype=np.float64)
        returns[0] = block[0] / previous - 1.0 if previous != 0 else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(block[1:], block[:-1], out=returns[1:])
        returns[1:] -= 1.0
        returns[1:][block[:-1] == 0] = 0.0
        previous = float(block[-1])
        yield returns


def _fsum(blocks: Iterable[npt.NDArray[np.float64]]) -> float:
    """`math.fsum` of every value of `blocks`: exact, so the fsum of the whole column."""
    # Python floats a block at a time: fsum reads a list faster than an array's scalars.
    return math.fsum(itertools.chain.from_iterable(block.tolist() for block in blocks))


def _squared(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    values *= values
    return values


def _drawdowns(initial: float, equity: npt.NDArray[np.float64]) -> tuple[float, int]:
    """(`max_drawdown`, `max_drawdown_duration`) of `equity`, a block at a time.

    The peak before each bar is max(E_0..E_i-1), E_0 the starting cash, carried from block to
    block (a maximum is exact, so blocks give the whole column's peaks).
    """
    peak = initial
    lowest = []  # each block's deepest drawdown (np.min keeps a NaN, as over the column)
    longest = run = 0  # the longest run of bars below a previous peak; the run still open
    for block in _blocks(equity):
        peaks = np.maximum.accumulate(block)
        np.maximum(peaks, peak, out=peaks)
        below = np.empty(len(block), dtype=bool)
        below[0] = block[0] < peak
        np.less(block[1:], peaks[:-1], out=below[1:])
        longest, run = _longest_run(below, longest, run)
        peak = float(peaks[-1])
        flat = peaks <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(block, peaks, out=peaks)
        peaks -= 1.0
        peaks[flat] = 0.0
        lowest.append(np.min(peaks))
    drawdown = float(np.min(np.array(lowest, dtype=np.float64))) if lowest else 0.0
    return drawdown, longest


def _longest_run(flags: npt.NDArray[np.bool_], longest: int, run: int) -> tuple[int, int]:
    """(longest run of True so far, run open at the end) after `flags`, given those before."""
    falses = np.flatnonzero(~flags)
    if not len(falses):
        run += len(flags)
        return max(longest, run), run
    longest = max(longest, run + int(falses[0]))
    if len(falses) > 1:
        longest = max(longest, int(np.max(np.diff(falses))) - 1)
    run = len(flags) - 1 - int(falses[-1])
    return max(longest, run), run


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
    # Arrays, not lists of floats (8 bytes a bar, not 32), read a block at a time so no
    # temporary is a column long; every element-wise step is the same IEEE operation as the
    # list functions above and every sum is one `math.fsum` (exact) over all the blocks.
    curve = np.asarray(equity, dtype=np.float64)
    flags = np.asarray(exposure_flags, dtype=bool)
    bars = len(curve)
    final = float(curve[-1]) if bars else initial
    drawdown, duration = _drawdowns(initial, curve)
    growth = cagr(initial, final, bars, periods)
    mean_equity = _fsum(_blocks(curve)) / bars if bars else initial
    mean_return = _fsum(_return_blocks(initial, curve)) / bars if bars else 0.0
    std: float | None = None
    downside_deviation = 0.0
    if bars >= 2:
        deviations = (_squared(r - mean_return) for r in _return_blocks(initial, curve))
        std = math.sqrt(_fsum(deviations) / (bars - 1))
        downside = (_squared(np.minimum(r, 0.0)) for r in _return_blocks(initial, curve))
        downside_deviation = math.sqrt(_fsum(downside) / bars)
    sqrt_periods = math.sqrt(periods)
    metrics: dict[str, float | None] = {
        "periods_per_year": periods,
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
        "max_drawdown_duration": int(duration),
        "calmar": growth / -drawdown if growth is not None and drawdown < 0 else None,
        "exposure": int(np.count_nonzero(flags)) / len(flags) if len(flags) else 0.0,
        "num_trades": len(trades),
        "num_fills": num_fills,
        "turnover": (
            traded_notional / mean_equity * periods / bars if bars and mean_equity > 0 else None
        ),
    }
    metrics.update(trade_statistics(trades))
    return metrics

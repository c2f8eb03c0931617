"""The classic SMA crossover: buy when the fast average crosses above the slow one, sell below.

A cross is read the way backtrader's `CrossOver` reads it: at bar t the fast SMA is above
(below) the slow one, and the last bar on which they differed had it below (above). Touching
without crossing is no cross. The first possible cross is on the bar after both SMAs exist
(bar `slow + 1`). Averages equal in exact decimals are a tie, whatever float noise says
(`atp.agents.strategies.exact_ties`). With `long_only`, a cross down sells only after a buy
(an exit, never a short); without it every cross down sells.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field, model_validator

from atp.agents.indicators import RollingWindow
from atp.agents.strategies.exact_ties import settle_difference, settle_differences
from atp.agents.strategies.rolling_columns import running_sums
from atp.agents.strategy import (
    BUY_CODE,
    SELL_CODE,
    BarColumns,
    SignalColumns,
    Strategy,
    StrategyParams,
    StrategySignal,
)
from atp.core.events import MarketSignal


class SmaCrossoverParams(StrategyParams):
    """Parameters of `sma_crossover`."""

    fast: int = Field(default=10, ge=1, le=10_000, description="Bars in the fast SMA.")
    slow: int = Field(default=30, ge=2, le=10_000, description="Bars in the slow SMA.")
    long_only: bool = Field(
        default=True, description="Sell only to exit a position bought on a cross up."
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossoverParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


@dataclass
class _State:
    fast: RollingWindow
    slow: RollingWindow
    # The slow window's closes, to decide a near tie of the averages exactly.
    closes: deque[float]
    last_nonzero_diff: float = 0.0
    long: bool = False
    bars: int = field(default=0)


class SmaCrossover(Strategy[_State]):
    """Fast/slow simple moving average crossover."""

    name = "sma_crossover"
    Params = SmaCrossoverParams

    def __init__(self, params: SmaCrossoverParams | None = None) -> None:
        super().__init__(params)
        self.p: SmaCrossoverParams = self.params  # type: ignore[assignment]

    @property
    def warmup_bars(self) -> int:
        """The slow window plus one bar to see a cross."""
        return self.p.slow + 1

    def new_state(self) -> _State:
        """Empty windows for one symbol."""
        slow = self.p.slow
        return _State(RollingWindow(self.p.fast), RollingWindow(slow), deque(maxlen=slow))

    def on_bar(self, bar: MarketSignal) -> StrategySignal | None:
        """Pushes the close; answers buy/sell on a cross, else None."""
        state = self.state(bar.symbol)
        close = float(bar.close)
        state.fast.push(close)
        state.slow.push(close)
        state.closes.append(close)
        state.bars += 1
        if not state.slow.full:
            return StrategySignal.hold(f"warming up: {state.bars}/{self.p.slow} bars")
        fast, slow = state.fast.mean(), state.slow.mean()
        diff = settle_difference(fast - slow, state.closes, self.p.fast, self.p.slow, slow)
        previous = state.last_nonzero_diff
        if diff != 0.0:
            state.last_nonzero_diff = diff
        # 0.5 for a bare cross, 1.0 once the averages are 1% of the slow SMA apart.
        confidence = min(1.0, 0.5 + 50.0 * abs(diff) / slow) if slow else 0.5
        if previous < 0.0 < diff:
            state.long = True
            return StrategySignal.buy(
                confidence, f"fast SMA {fast:.4f} crossed above slow SMA {slow:.4f}"
            )
        if previous > 0.0 > diff and (state.long or not self.p.long_only):
            state.long = False
            return StrategySignal.sell(
                confidence, f"fast SMA {fast:.4f} crossed below slow SMA {slow:.4f}"
            )
        return None

    def signals(self, bars: BarColumns) -> SignalColumns:
        """Every `on_bar` answer at once (the backtester's fast path), bit for bit."""
        closes = bars.close
        n = len(closes)
        fast_window, slow_window = self.p.fast, self.p.slow
        action = np.zeros(n, dtype=np.int8)
        confidence = np.zeros(n, dtype=np.float64)
        if n < slow_window:
            return SignalColumns(action, confidence)
        full = slice(slow_window - 1, n)
        fast = running_sums(closes, fast_window)[full] / fast_window
        slow = running_sums(closes, slow_window)[full] / slow_window
        diff = np.zeros(n, dtype=np.float64)
        diff[full] = fast - slow
        slow_means = np.zeros(n, dtype=np.float64)
        slow_means[full] = slow
        diff = settle_differences(closes, diff, slow_means, fast_window, slow_window)
        # The last non-zero difference strictly before each bar (0.0 before any).
        marks = np.where(diff != 0.0, np.arange(n), -1)
        last = np.maximum.accumulate(marks)
        previous = np.zeros(n, dtype=np.float64)
        seen = last[:-1] >= 0
        previous[1:][seen] = diff[last[:-1][seen]]
        up = (previous < 0.0) & (diff > 0.0)
        down = (previous > 0.0) & (diff < 0.0)
        if self.p.long_only:
            # Crosses alternate, so a cross down follows a buy exactly when any buy came first.
            down &= np.cumsum(up) > 0
        action[up] = BUY_CODE
        action[down] = SELL_CODE
        confidence[full] = np.minimum(1.0, 0.5 + 50.0 * np.abs(diff[full]) / slow)
        return SignalColumns(action, confidence)

"""Mean reversion: buy when the close is far below its rolling mean, sell when far above.

The z-score is `(close - mean) / std` over the last `window` closes (population deviation,
ddof=0, the current close included). A level strategy: it answers on every bar with
|z| >= `entry_z`. Confidence grows linearly from 0.5 at `entry_z` to 1.0 at twice `entry_z`.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from atp.agents.indicators import RollingWindow
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


class MeanReversionParams(StrategyParams):
    """Parameters of `mean_reversion`."""

    window: int = Field(default=20, ge=2, le=10_000, description="Bars in the rolling mean.")
    entry_z: float = Field(
        default=1.5, gt=0, le=10, description="|z-score| at which the strategy answers."
    )


class MeanReversion(Strategy[RollingWindow]):
    """Z-score of the close against its rolling mean."""

    name = "mean_reversion"
    Params = MeanReversionParams

    def __init__(self, params: MeanReversionParams | None = None) -> None:
        super().__init__(params)
        self.p: MeanReversionParams = self.params  # type: ignore[assignment]

    @property
    def warmup_bars(self) -> int:
        """One full window."""
        return self.p.window

    def new_state(self) -> RollingWindow:
        """The rolling window of one symbol."""
        return RollingWindow(self.p.window)

    def on_bar(self, bar: MarketSignal) -> StrategySignal | None:
        """Buy at z <= -entry_z, sell at z >= entry_z, else None."""
        window = self.state(bar.symbol)
        close = float(bar.close)
        window.push(close)
        if not window.full:
            return StrategySignal.hold(f"warming up: {len(window)}/{self.p.window} bars")
        std = window.std()
        if std <= 0.0:
            return None
        mean = window.mean()
        z = (close - mean) / std
        entry = self.p.entry_z
        if abs(z) < entry:
            return None
        confidence = min(1.0, 0.5 + 0.5 * (abs(z) / entry - 1.0))
        reason = f"close {close:.4f} is {z:+.2f} std from its {self.p.window}-bar mean {mean:.4f}"
        if z < 0:
            return StrategySignal.buy(confidence, reason)
        return StrategySignal.sell(confidence, reason)

    def signals(self, bars: BarColumns) -> SignalColumns:
        """Every `on_bar` answer at once (the backtester's fast path), bit for bit."""
        closes = bars.close
        n, window = len(closes), self.p.window
        action = np.zeros(n, dtype=np.int8)
        confidence = np.zeros(n, dtype=np.float64)
        if n < window:
            return SignalColumns(action, confidence)
        full = slice(window - 1, n)
        mean = running_sums(closes, window)[full] / window
        mean_sq = running_sums(closes * closes, window)[full] / window
        std = np.sqrt(np.maximum(0.0, mean_sq - mean * mean))
        answering = std > 0.0
        z = np.zeros(len(mean), dtype=np.float64)
        np.divide(closes[full] - mean, std, out=z, where=answering)
        entry = self.p.entry_z
        size = np.abs(z)
        answering &= size >= entry
        codes = np.where(z < 0, BUY_CODE, SELL_CODE).astype(np.int8)
        action[full][answering] = codes[answering]
        confidence[full] = np.minimum(1.0, 0.5 + 0.5 * (size / entry - 1.0))
        return SignalColumns(action, confidence)

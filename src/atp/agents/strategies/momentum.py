"""Momentum: buy while the rate of change over `lookback` bars is above a threshold, sell below.

A level strategy: it answers on every bar the condition holds (the meta-agent and the risk
engine's position cap decide how much that adds up to). Rate of change is
`close / close[lookback bars ago] - 1`; confidence grows linearly from 0.5 at the threshold to
1.0 at three times the threshold.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pydantic import Field

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


class MomentumParams(StrategyParams):
    """Parameters of `momentum`."""

    lookback: int = Field(default=20, ge=1, le=10_000, description="Bars back to compare with.")
    threshold: float = Field(
        default=0.05, gt=0, lt=10, description="Rate of change (0.05 = 5%) that triggers."
    )


class Momentum(Strategy["deque[float]"]):
    """Rate-of-change momentum."""

    name = "momentum"
    Params = MomentumParams

    def __init__(self, params: MomentumParams | None = None) -> None:
        super().__init__(params)
        self.p: MomentumParams = self.params  # type: ignore[assignment]

    @property
    def warmup_bars(self) -> int:
        """The lookback plus the bar compared with."""
        return self.p.lookback + 1

    def new_state(self) -> deque[float]:
        """The last `lookback + 1` closes of one symbol."""
        return deque(maxlen=self.p.lookback + 1)

    def on_bar(self, bar: MarketSignal) -> StrategySignal | None:
        """Buy above +threshold, sell below -threshold, else None."""
        closes = self.state(bar.symbol)
        closes.append(float(bar.close))
        if len(closes) <= self.p.lookback:
            return StrategySignal.hold(f"warming up: {len(closes)}/{self.p.lookback + 1} bars")
        change = closes[-1] / closes[0] - 1.0
        threshold = self.p.threshold
        if abs(change) < threshold:
            return None
        confidence = min(1.0, 0.5 + 0.25 * (abs(change) / threshold - 1.0))
        reason = f"{self.p.lookback}-bar change {change:+.2%} beyond ±{threshold:.2%}"
        if change > 0:
            return StrategySignal.buy(confidence, reason)
        return StrategySignal.sell(confidence, reason)

    def signals(self, bars: BarColumns) -> SignalColumns:
        """Every `on_bar` answer at once (the backtester's fast path), bit for bit."""
        closes = bars.close
        n, lookback = len(closes), self.p.lookback
        action = np.zeros(n, dtype=np.int8)
        confidence = np.zeros(n, dtype=np.float64)
        if n <= lookback:
            return SignalColumns(action, confidence)
        change = closes[lookback:] / closes[:-lookback] - 1.0
        threshold = self.p.threshold
        size = np.abs(change)
        answers = size >= threshold
        codes = np.where(change > 0, BUY_CODE, SELL_CODE).astype(np.int8)
        action[lookback:][answers] = codes[answers]
        confidence[lookback:] = np.minimum(1.0, 0.5 + 0.25 * (size / threshold - 1.0))
        return SignalColumns(action, confidence)

"""An example strategy to copy from: a channel breakout, commented line by line.

Copy this file, rename the class and `name`, change the rules, then register it:

    from atp.agents.registry import register_strategy
    register_strategy(MyStrategy)

and name it in the agents service's settings (`ATP_AGENTS_AGENTS`, a JSON list), e.g.
`[{"agent_id": "breakout-1", "strategy": "example_breakout", "params": {"window": 55}}]`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from pydantic import Field

from atp.agents.strategy import Strategy, StrategyParams, StrategySignal
from atp.core.events import MarketSignal


# 1. Parameters: a pydantic model. Unknown keys are refused (extra="forbid" in the base), so a
#    typo in a config file fails at start instead of silently running with a default.
class BreakoutParams(StrategyParams):
    """Parameters of the example breakout strategy."""

    window: int = Field(default=20, ge=2, le=10_000, description="Bars in the channel.")


# 2. Per-symbol state: whatever the rules need to remember for one symbol. The host calls
#    `on_bar` for every symbol, and `self.state(bar.symbol)` hands back that symbol's own copy.
@dataclass
class BreakoutState:
    """The previous `window` highs and lows of one symbol."""

    window: int
    highs: deque[float] = field(init=False)
    lows: deque[float] = field(init=False)

    def __post_init__(self) -> None:
        self.highs = deque(maxlen=self.window)
        self.lows = deque(maxlen=self.window)


# 3. The strategy: subclass `Strategy[YourState]`, set `name` and `Params`.
class ExampleBreakout(Strategy[BreakoutState]):
    """Buys a close above the highest high of the previous `window` bars, sells one below the
    lowest low."""

    name = "example_breakout"
    Params = BreakoutParams

    def __init__(self, params: BreakoutParams | None = None) -> None:
        super().__init__(params)
        # `self.params` is typed as the base model; keep a typed alias for readability.
        self.p: BreakoutParams = self.params  # type: ignore[assignment]

    @property
    def warmup_bars(self) -> int:
        # A full channel plus the bar that may break out of it.
        return self.p.window + 1

    def new_state(self) -> BreakoutState:
        return BreakoutState(self.p.window)

    def on_bar(self, bar: MarketSignal) -> StrategySignal | None:
        state = self.state(bar.symbol)
        # Floats are fine for indicator maths; the host books prices as Decimal.
        high, low, close = float(bar.high), float(bar.low), float(bar.close)
        try:
            if len(state.highs) < self.p.window:
                # Say why nothing happens: the reason shows up in the agents' status and audit.
                return StrategySignal.hold(f"warming up: {len(state.highs)}/{self.p.window}")
            # O(window) here is fine for an example; a production strategy would keep a
            # monotonic deque to stay O(1) per bar.
            top, bottom = max(state.highs), min(state.lows)
            if close > top:
                return StrategySignal.buy(0.7, f"close {close:.4f} broke above {top:.4f}")
            if close < bottom:
                return StrategySignal.sell(0.7, f"close {close:.4f} broke below {bottom:.4f}")
            # None means "no opinion": the host answers HOLD for you.
            return None
        finally:
            # Update the state after deciding, so the channel never includes the current bar.
            state.highs.append(high)
            state.lows.append(low)

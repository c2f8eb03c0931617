"""The Strategy plugin API, version 1: what a user strategy implements and what it may return.

A strategy turns bars into opinions. It never sizes orders, never talks to a broker and never
reads a clock: the `AgentHost` gives it bars in time order, sizes what it says and wraps it in
an `OrderIntent`. The same strategy object runs unchanged in a backtest and live.

Hooks, in the order the host calls them:

* `__init__(params)`: once, with the validated `Params` model (defaults when omitted).
* `warmup_bars` (property): bars per symbol the strategy needs before it can have an opinion.
  Informational (the market-data service uses it to start replays early). Default 0.
* `on_bar(bar)`: once per bar, per symbol, in time order. Returns a `StrategySignal` (buy,
  sell or an explicit hold, with a confidence in [0, 1] and a reason) or None for "nothing to
  say" (the host then answers HOLD). Required.
* `on_stop()`: once when the host shuts down. Default: nothing.
* `signals(bars)` (optional fast path, since API 1): the answers of `on_bar` for a symbol's
  whole history at once, as columns. Called by the backtester only, with one symbol's bars
  oldest first (`BarColumns`, float64), on a fresh strategy; returns a `SignalColumns` whose
  `action[i]` and `confidence[i]` are exactly what `on_bar` would answer on bar i after bars
  0..i-1 (BUY = 1, SELL = -1, an explicit hold or None = 0), or None when the strategy has no
  fast path (the default: the backtester then calls `on_bar` bar by bar). Answer i must not
  depend on bars after i. The reason strings are not part of it.

Per-symbol state lives in `self.state(symbol)`, created on first use by `new_state()`. A hook
that raises is a strategy fault: the host logs it with context and quarantines the agent; the
others go on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

from atp.core.enums import Action
from atp.core.errors import InvalidInput
from atp.core.events import MarketSignal
from atp.core.frozen import quick_init
from atp.core.ids import Symbol

API_VERSION = 1


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@quick_init
@dataclass(frozen=True, slots=True)
class StrategySignal:
    """A strategy's opinion on one bar.

    Attributes:
        action: buy, sell or hold.
        confidence: how sure the strategy is, in [0, 1].
        reason: one line a human can read ("fast SMA 101.2 crossed above slow SMA 100.9").
        limit_price: a limit price for a limit order; None for a market order.
    """

    action: Action
    confidence: float
    reason: str
    limit_price: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.action, Action):
            raise InvalidInput(f"action: expected buy, sell or hold, found {self.action!r}")
        if not (math.isfinite(self.confidence) and 0.0 <= self.confidence <= 1.0):
            raise InvalidInput(f"confidence: expected a number in [0, 1], found {self.confidence}")
        if not self.reason:
            raise InvalidInput("reason: expected a non-empty explanation")
        if self.limit_price is not None and not (
            self.limit_price.is_finite() and self.limit_price > 0
        ):
            raise InvalidInput(f"limit_price: expected a positive price, found {self.limit_price}")

    @classmethod
    def buy(
        cls, confidence: float, reason: str, limit_price: Decimal | None = None
    ) -> StrategySignal:
        """A buy opinion."""
        return cls(Action.BUY, confidence, reason, limit_price)

    @classmethod
    def sell(
        cls, confidence: float, reason: str, limit_price: Decimal | None = None
    ) -> StrategySignal:
        """A sell opinion."""
        return cls(Action.SELL, confidence, reason, limit_price)

    @classmethod
    def hold(cls, reason: str, confidence: float = 0.0) -> StrategySignal:
        """An explicit 'do nothing now', with why."""
        return cls(Action.HOLD, confidence, reason)


FloatColumn = npt.NDArray[np.float64]
ActionColumn = npt.NDArray[np.int8]
BUY_CODE = 1
SELL_CODE = -1
HOLD_CODE = 0


@dataclass(frozen=True, slots=True)
class BarColumns:
    """One symbol's bars as float64 columns, oldest first: the input of `Strategy.signals`.

    Each value is `float()` of the bar's exact Decimal, so a strategy sees in a column what
    `float(bar.close)` gives it in `on_bar`.
    """

    open: FloatColumn
    high: FloatColumn
    low: FloatColumn
    close: FloatColumn
    volume: FloatColumn

    def __len__(self) -> int:
        return len(self.close)


@dataclass(frozen=True, slots=True)
class SignalColumns:
    """The answers of `on_bar` for every bar of one symbol (see `Strategy.signals`).

    Attributes:
        action: per bar, BUY_CODE (1), SELL_CODE (-1) or HOLD_CODE (0, a hold or None).
        confidence: per bar, the answer's confidence (anything where the action is a hold).
    """

    action: ActionColumn
    confidence: FloatColumn

    def __post_init__(self) -> None:
        if self.action.shape != self.confidence.shape:
            raise InvalidInput(
                f"signals: expected action and confidence of one length, found "
                f"{self.action.shape} and {self.confidence.shape}"
            )


StateT = TypeVar("StateT")


class Strategy(ABC, Generic[StateT]):
    """Base class of every strategy (plugin API version `API_VERSION`).

    Subclasses set `name` and `Params`, implement `new_state` and `on_bar`.
    """

    API_VERSION: ClassVar[int] = API_VERSION
    name: ClassVar[str]
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, params: StrategyParams | None = None) -> None:
        self.params = params if params is not None else self.Params()
        if not isinstance(self.params, self.Params):
            raise InvalidInput(
                f"{self.name}: expected parameters of type {self.Params.__name__}, "
                f"found {type(self.params).__name__}"
            )
        self._states: dict[Symbol, StateT] = {}

    @classmethod
    def from_params(cls, params: dict[str, Any] | None = None) -> Strategy[StateT]:
        """Builds the strategy from plain values, validated by `Params` (InvalidInput if bad)."""
        return cls(validate_params(cls, params or {}))

    @property
    def warmup_bars(self) -> int:
        """Bars per symbol needed before the strategy can have an opinion. Default 0."""
        return 0

    @abstractmethod
    def new_state(self) -> StateT:
        """A fresh per-symbol state (called on the first bar of each symbol)."""

    def state(self, symbol: Symbol) -> StateT:
        """The state of `symbol`, created on first use."""
        current = self._states.get(symbol)
        if current is None:
            current = self._states[symbol] = self.new_state()
        return current

    @abstractmethod
    def on_bar(self, bar: MarketSignal) -> StrategySignal | None:
        """Called once per bar in time order; returns an opinion, or None for none."""

    def on_stop(self) -> None:
        """Called once when the host shuts down. Default: nothing."""

    def signals(self, bars: BarColumns) -> SignalColumns | None:
        """Optional fast path: every `on_bar` answer of one symbol's bars at once.

        See the module docstring for the contract. Default: None (no fast path; the
        backtester calls `on_bar` bar by bar).
        """
        return None


def validate_params(cls: type[Strategy[Any]], values: dict[str, Any]) -> StrategyParams:
    """Validates `values` against `cls.Params`; a bad key or value raises InvalidInput."""
    try:
        return cls.Params.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"{cls.name} parameters: {problems}") from exc

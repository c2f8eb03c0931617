"""Account-aware sizing of the agents' intents in a backtest.

Live, the agent host sizes an intent by a notional per trade and does not know the account.
A backtest states its portfolio rule instead (`BacktestRequest.sizing`), and this sizer applies
it to each intent the real `AgentHost` produced, from an exact ledger of the run's own fills:

* `equal_weight`: a buy takes whole shares worth min(equity / number of symbols, cash) at the
  bar's close;
* `all_in`: a buy takes all cash at the close, in 1e-6 shares (the order is sized again at the
  fill bar's open before it reaches the venue, see `atp.backtest.orders`);
* a sell closes the position.

An intent that sizes to nothing (a sell with no position, a buy with no cash) becomes a HOLD
with the reason, so the decision window still gets an answer from every agent.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from atp.core.enums import Action, OrderType
from atp.core.events import OrderIntent
from atp.core.money import ZERO
from atp.portfolio.ledger import Ledger

FRACTIONAL_LOT = Decimal("0.000001")
Sizing = Literal["equal_weight", "all_in"]


def lot_of(sizing: Sizing) -> Decimal:
    """The smallest quantity step of a sizing rule (votes round down to it)."""
    return FRACTIONAL_LOT if sizing == "all_in" else Decimal(1)


class PortfolioSizer:
    """Sizes intents from `ledger` under one sizing rule (see the module docstring)."""

    __slots__ = ("_ledger", "_sizing", "_symbols")

    def __init__(self, ledger: Ledger, *, sizing: Sizing, symbols: int) -> None:
        self._ledger = ledger
        self._sizing = sizing
        self._symbols = symbols

    def quantity(self, action: Action, symbol: str, close: Decimal) -> Decimal:
        """What an intent to `action` `symbol` at `close` should trade."""
        ledger = self._ledger
        if action is Action.SELL:
            return max(ledger.quantity(symbol), ZERO)  # type: ignore[arg-type]
        if action is not Action.BUY or close <= 0:
            return ZERO
        if self._sizing == "all_in":
            return (ledger.cash / close).quantize(FRACTIONAL_LOT, rounding=ROUND_DOWN)
        budget = min(ledger.equity / self._symbols, ledger.cash)
        return (budget / close).to_integral_value(rounding=ROUND_DOWN)

    def size(self, intent: OrderIntent) -> OrderIntent:
        """The intent with the rule's quantity; a HOLD when that quantity is zero."""
        if intent.action is Action.HOLD:
            return intent
        quantity = self.quantity(intent.action, intent.symbol, intent.reference_price)
        if quantity <= 0:
            held = "no position to sell" if intent.action is Action.SELL else "no cash to buy"
            return replace(
                intent,
                action=Action.HOLD,
                quantity=ZERO,
                order_type=OrderType.MARKET,
                limit_price=None,
                reason=f"{intent.reason}; but {held}",
            )
        # Built directly (every field named): `dataclasses.replace` re-reads the fields per call.
        return OrderIntent(
            intent_id=intent.intent_id,
            agent_id=intent.agent_id,
            strategy=intent.strategy,
            symbol=intent.symbol,
            signal_id=intent.signal_id,
            action=intent.action,
            quantity=quantity,
            confidence=intent.confidence,
            reference_price=intent.reference_price,
            order_type=intent.order_type,
            limit_price=intent.limit_price,
            reason=intent.reason,
            decided_at=intent.decided_at,
        )

"""Round trips from fills: a trade opens when a symbol leaves flat and closes when it returns.

Win rate, profit factor and expectancy count these round trips (backtrader's convention). The
P&L of a round trip is the realised P&L booked while it was open, commissions included, using the
ledger's average-cost convention, so the sum over closed trades equals the ledger's realised P&L.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from atp.backtest.metrics import ClosedTrade
from atp.core.enums import Side
from atp.core.frozen import quick_init
from atp.core.money import ZERO


@quick_init
@dataclass(frozen=True, slots=True)
class TradeFill:
    """The part of a fill round-trip accounting needs."""

    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    commission: Decimal
    bar_index: int


@dataclass(slots=True)
class _Open:
    quantity: Decimal = ZERO
    average_cost: Decimal = ZERO
    pnl: Decimal = ZERO
    max_quantity: Decimal = ZERO
    entry_price: Decimal = ZERO
    exit_value: Decimal = ZERO
    exit_quantity: Decimal = ZERO
    opened_bar: int = 0


def round_trips(fills: Iterable[TradeFill]) -> list[ClosedTrade]:
    """The closed round trips of `fills` (in fill order); an open position is not a trade."""
    book: dict[str, _Open] = {}
    closed: list[ClosedTrade] = []
    for fill in fills:
        state = book.setdefault(fill.symbol, _Open())
        signed = fill.quantity * fill.side.sign
        old = state.quantity
        state.pnl -= fill.commission
        if old == 0:
            state.opened_bar = fill.bar_index
            state.entry_price = fill.price
        if old == 0 or (old > 0) == (signed > 0):
            new_quantity = old + signed
            state.average_cost = (old * state.average_cost + signed * fill.price) / new_quantity
            state.quantity = new_quantity
            state.max_quantity = max(state.max_quantity, abs(new_quantity))
            continue
        closing = min(abs(old), fill.quantity)
        direction = Decimal(1) if old > 0 else Decimal(-1)
        state.pnl += (fill.price - state.average_cost) * closing * direction
        state.exit_value += fill.price * closing
        state.exit_quantity += closing
        state.quantity = old + signed
        if state.quantity != 0 and (state.quantity > 0) == (old > 0):
            continue
        closed.append(
            ClosedTrade(
                symbol=fill.symbol,
                quantity=float(state.max_quantity),
                entry_price=float(state.entry_price),
                exit_price=float(state.exit_value / state.exit_quantity),
                pnl=float(state.pnl),
                bars_held=fill.bar_index - state.opened_bar,
            )
        )
        remainder = state.quantity
        book[fill.symbol] = _Open()
        if remainder != 0:
            # The fill crossed zero: the rest opens a new round trip at the fill price.
            book[fill.symbol] = _Open(
                quantity=remainder,
                average_cost=fill.price,
                max_quantity=abs(remainder),
                entry_price=fill.price,
                opened_bar=fill.bar_index,
            )
    return closed

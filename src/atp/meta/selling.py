"""Coordinated sells never ask for more than is held, where the account cannot sell short.

Agents size a sell like a buy (a notional per trade: they do not know positions), so a vote to
sell can ask for more than the account holds, or for something it does not hold at all. A
long-only venue would reject that order. The risk engine knows the positions (it books every
fill), so when the coordinator's gate is one that can say what may be sold (`Holdings`, which
`atp.risk.engine.RiskEngine` is), a sell is capped at that before it is proposed:

* more asked than may be sold: the decision sells what may be sold, and says so;
* nothing may be sold: no order, and the decision says why (not approved, no risk checks).

This is what the backtest does with its own book (`atp.backtest.sizing`: a sell closes the
position, a sell of nothing holds), so live and backtest decide alike.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from atp.core.ids import Symbol
from atp.core.money import ZERO, plain


@runtime_checkable
class Holdings(Protocol):
    """What a sell may ask for, per symbol (a risk gate that knows the positions)."""

    def sellable(self, symbol: Symbol) -> Decimal | None:
        """The most a sell of `symbol` may ask for now; None when short sales are allowed."""
        ...


def cap_sell(symbol: Symbol, quantity: Decimal, sellable: Decimal | None) -> tuple[Decimal, str]:
    """The quantity a sell of `quantity` may ask for, and the sentence saying why if capped.

    `sellable` is `Holdings.sellable`; None (short sales allowed) or enough leaves `quantity`
    as it is, with no sentence.
    """
    if sellable is None or quantity <= sellable:
        return quantity, ""
    if sellable <= ZERO:
        return ZERO, (
            f"No order: the vote was to sell {plain(quantity)} {symbol}, but none is held "
            "(or all of it is already being sold) and this account does not sell short."
        )
    return sellable, (
        f"Sell capped at the {plain(sellable)} {symbol} held (the vote asked for "
        f"{plain(quantity)}): this account does not sell short."
    )

"""No short sales: a sell may not ask for more than is held, unless the account may go short.

The paper venue refuses a sell beyond the position by default (`PaperVenueConfig.allow_short`
is false), and so do cash accounts at real brokers. The risk engine holds the same positions
(every fill on `executions.order_update`), so it is the place to know what a sell may ask for
before an order exists:

* the meta-agent caps a coordinated sell at `RiskEngine.sellable(symbol)` (what is held less
  what approved, unfilled sells will take) before proposing it, as the backtest closes a
  position rather than selling more than it holds (`atp.backtest.sizing`);
* `check_short_sale` refuses any other sell that would leave the position below zero (a
  manual `POST /orders`, a proposal from elsewhere), with the figures in its message.

`ShortSaleConfig.allowed` turns both off: set it where the venue may sell short (the paper
venue with `allow_short: true`, a margin account), and only there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from atp.core.enums import SIDE_BUY, SIDE_SELL
from atp.core.events import RiskCheck
from atp.core.ids import Symbol
from atp.core.money import ZERO
from atp.risk.config import RiskEngineConfig, ShortSaleConfig
from atp.risk.context import OrderContext, qty

if TYPE_CHECKING:
    from atp.risk.exposure import ExposureBook
    from atp.risk.pending import PendingOrders

SHORT_SALE = "short_sale"


# Passing checks without figures are built once (as in `atp.risk.rules`).
_ALLOWED = RiskCheck(SHORT_SALE, True, "short sales allowed", None, None)
_BUYS = RiskCheck(SHORT_SALE, True, "a buy sells nothing short", None, None)


def check_short_sale(ctx: OrderContext, config: ShortSaleConfig) -> RiskCheck:
    """Refuses a sell that would leave the position below zero while short sales are off."""
    if config.allowed:
        return _ALLOWED
    proposal = ctx.proposal
    if proposal.side is SIDE_BUY:
        return _BUYS
    # `before` is the position less the approved, unfilled sells: what this sell may take.
    sellable = ctx.before if ctx.before > ZERO else ZERO
    if ctx.after >= ZERO:
        return RiskCheck(
            SHORT_SALE, True, "sell within the position held", sellable, proposal.quantity
        )
    being_sold = ctx.position - ctx.before
    return RiskCheck(
        SHORT_SALE,
        False,
        f"short sale {ctx.symbol}: sell {qty(proposal.quantity)} with {qty(ctx.position)} "
        f"held and {qty(being_sold)} already being sold would leave {qty(ctx.after)}; this "
        f"account does not sell short (at most {qty(sellable)} may be sold)",
        sellable,
        proposal.quantity,
    )


class ShortSales:
    """What a sell may ask for, from the engine's book (a part of `RiskEngine`, its base)."""

    # What of the engine this reads (RiskEngine.__init__ sets them).
    _config: RiskEngineConfig
    _restoring: bool
    book: ExposureBook
    pending: PendingOrders

    def sellable(self, symbol: Symbol) -> Decimal | None:
        """The most a sell of `symbol` may ask for now; None when short sales are allowed.

        What is held less the approved sells not filled yet, never below zero: the quantity
        `check_short_sale` would pass. None too while the book is being restored (it is not
        known yet; every check is refused meanwhile, with that reason).
        """
        if self._config.short_sales.allowed or self._restoring:
            return None
        free = self.book.quantity(symbol) - self.pending.on_side(symbol, SIDE_SELL)
        return free if free > ZERO else ZERO

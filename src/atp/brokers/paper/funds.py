"""The paper venue's money rules: what an order may spend or sell, and what a fill costs.

An order is refused when a buy needs more cash than is free (cash less what open buys
reserve at their reference prices) or a sell would take more than is held less what is
already being sold, unless margin or shorting is on. Commission is per share plus a percent
of the value, plus a fixed fee on an order's first fill, rounded half up to the cent; a buy
fills at most the quantity the cash pays for, commission included.

`VenueFunds` is a part of `PaperVenue` (its base class): its methods read the venue's config,
ledger and open orders, and are called on the hot path as the venue's own (no call added).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from atp.brokers.models import Order, OrderRequest
from atp.brokers.paper.config import PaperVenueConfig
from atp.brokers.tracker import OrderTracker
from atp.core.enums import ORDER_STOP, SIDE_BUY, SIDE_SELL, OrderType
from atp.core.ids import ClientOrderId, Symbol
from atp.core.money import CENT, ZERO, plain
from atp.portfolio.ledger import Ledger

# Order types whose limit price is their reference price: a set built once, not a tuple of
# enum members per order.
_LIMIT_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})


class VenueFunds:
    """Buying power, position and commission rules of the paper venue (see the module)."""

    # What of the venue these read (PaperVenue.__init__ sets them).
    config: PaperVenueConfig
    ledger: Ledger
    tracker: OrderTracker
    _fee_rate: Decimal

    if TYPE_CHECKING:

        def last_price(self, symbol: Symbol) -> Decimal | None:
            """The latest close seen for `symbol`, if any (the venue's)."""
            ...

    def _reference_price(self, request: OrderRequest) -> Decimal | None:
        """The price an order is judged at: its limit, else the last close (a stop's if higher)."""
        if request.order_type in _LIMIT_PRICED:
            return request.limit_price
        last = self.last_price(request.symbol)
        if request.order_type is ORDER_STOP and request.stop_price is not None:
            return request.stop_price if last is None else max(last, request.stop_price)
        return last

    def _reserved_cash(self, excluding: ClientOrderId | None = None) -> Decimal:
        """The cash the open buys (but `excluding`) hold back at their reference prices."""
        total = ZERO
        for order in self.tracker.open_orders():
            # The order being judged is already tracked: it must not reserve against itself.
            if order.request.side is SIDE_BUY and order.client_order_id != excluding:
                price = self._reference_price(order.request) or ZERO
                total += order.remaining_quantity * price
        return total

    def refusal(self, request: OrderRequest) -> str | None:
        """Why the venue would reject `request` if it were submitted now, or None.

        Asked before a manual order is sent, so that what the venue would refuse is refused
        up front (the same rules `submit` applies).
        """
        return self._refusal(request)

    def _refusal(self, request: OrderRequest) -> str | None:
        """Why the venue must reject `request` (no price, cash or position), or None."""
        price = self._reference_price(request)
        if price is None:
            return f"no market price for {request.symbol} yet"
        if request.side is SIDE_BUY and not self.config.allow_negative_cash:
            needed = request.quantity * price
            needed += self._commission(request.quantity, price, first=True)
            available = self.ledger.cash - self._reserved_cash(request.client_order_id)
            if needed > available:
                return (
                    f"insufficient buying power: {plain(request.quantity)} {request.symbol} at "
                    f"{plain(price)} needs {needed:.2f}, available {available:.2f}"
                )
        if request.side is SIDE_SELL and not self.config.allow_short:
            held = self.ledger.quantity(request.symbol)
            pending = ZERO
            for o in self.tracker.open_orders():
                if (
                    o.request.symbol == request.symbol
                    and o.request.side is SIDE_SELL
                    and o.client_order_id != request.client_order_id
                ):
                    pending += o.remaining_quantity
            if request.quantity > held - pending:
                return (
                    f"insufficient position: sell {plain(request.quantity)} {request.symbol}, "
                    f"held {plain(held)}, already being sold {plain(pending)}"
                )
        return None

    def _commission(self, quantity: Decimal, price: Decimal, *, first: bool) -> Decimal:
        """A fill's commission, to the cent; `first`: the order's first fill pays the fixed fee."""
        fees = self.config.fees
        raw = fees.per_share * quantity + self._fee_rate * quantity * price
        if first:
            raw += fees.fixed
        return raw.quantize(CENT, rounding=ROUND_HALF_UP)

    def _affordable(self, price: Decimal, order: Order) -> Decimal:
        """How much of `order` the cash pays for at `price`, commission included."""
        fees = self.config.fees
        fixed = fees.fixed if not order.fills else ZERO
        unit = price * (1 + self._fee_rate) + fees.per_share
        # Commissions round half up to the cent: keep half a cent aside when they vary.
        margin = CENT / 2 if fees.per_share or fees.percent else ZERO
        budget = self.ledger.cash - fixed - margin
        return self._round_quantity(max(budget / unit, ZERO))

    def _round_quantity(self, quantity: Decimal) -> Decimal:
        """`quantity` rounded down to the venue's quantity increment."""
        step = self.config.quantity_increment
        return (quantity / step).to_integral_value(rounding=ROUND_DOWN) * step

"""The paper venue's restart: rebuilding orders and books from its own past updates.

On start the broker service hands the venue every order update it published (`restore`:
orders, fills and the ledger rebuilt, each fill booked once), then the last stored bar of
each symbol (`remember`: the price to fill against, no order worked on it), then lets it
carry on with the orders a stop caught half-way (`resume`).

`VenueRestart` is a part of `PaperVenue` (its base class), so callers use these methods on
the venue.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from atp.brokers.models import Order, OrderRequest, order_from_update
from atp.brokers.paper.config import PaperVenueConfig
from atp.brokers.paper.pricing import Bar, PriceRange
from atp.brokers.paper.working import Working
from atp.brokers.tracker import OrderTracker
from atp.core.clock import Clock
from atp.core.enums import OrderStatus
from atp.core.events import Fill, MarketSignal, OrderUpdate
from atp.core.ids import ClientOrderId, SignalId, Symbol
from atp.core.money import ZERO
from atp.portfolio.ledger import Ledger


class VenueRestart:
    """Restores a paper venue from its past updates and carries on (see the module)."""

    # What of the venue these read and write (PaperVenue.__init__ sets them).
    config: PaperVenueConfig
    ledger: Ledger
    tracker: OrderTracker
    _clock: Clock
    _bars: dict[Symbol, MarketSignal]
    _working: dict[ClientOrderId, Working]

    if TYPE_CHECKING:

        @property
        def venue(self) -> str:
            """The venue's name in events."""
            ...

        def _admit(self, request: OrderRequest, updates: list[OrderUpdate]) -> None: ...

        def _work(
            self, order: Order, bar: Bar, market: Decimal, signal: MarketSignal
        ) -> list[OrderUpdate]: ...

    def restore(self, updates: list[OrderUpdate]) -> None:
        """Rebuilds orders, fills and books from the venue's own past updates (a restart).

        Updates may repeat and come in any order; fills are booked once each.
        """
        latest: dict[ClientOrderId, OrderUpdate] = {}
        fills: dict[ClientOrderId, dict[str, Fill]] = {}
        for update in updates:
            if update.venue != self.venue:
                continue
            known = latest.get(update.client_order_id)
            if known is None or known.sequence < update.sequence:
                latest[update.client_order_id] = update
            if update.fill is not None:
                fills.setdefault(update.client_order_id, {})[update.fill.fill_id] = update.fill
                self.ledger.apply_fill(
                    fill_id=update.fill.fill_id,
                    symbol=update.symbol,
                    side=update.side,
                    quantity=update.fill.quantity,
                    price=update.fill.price,
                    commission=update.fill.commission,
                )
        for coid, update in latest.items():
            own = tuple(sorted(fills.get(coid, {}).values(), key=lambda f: f.filled_at))
            self.tracker.restore([order_from_update(update, own)])
            if not update.status.is_terminal:
                self._working.setdefault(coid, Working())

    def remember(self, signal: MarketSignal) -> None:
        """Marks the book with a bar seen before a restart, without working any order on it.

        The bar was already worked before the restart (its fills are in the restored history),
        so only its price is taken: the market price a restarted venue must fill against.
        """
        previous = self._bars.get(signal.symbol)
        if previous is not None and signal.timestamp <= previous.timestamp:
            return
        self._bars[signal.symbol] = signal
        self.ledger.mark(signal.symbol, signal.close)

    def resume(self) -> list[OrderUpdate]:
        """Carries on with orders a restart caught half-way: admits NEW ones, works the rest.

        Call once after `restore`; an order left NEW is checked and accepted (or rejected)
        as `submit` would have, and in `last_price` mode every open order gets its look at
        the latest price.
        """
        updates: list[OrderUpdate] = []
        for order in self.tracker.open_orders():
            if order.status is OrderStatus.NEW:
                self._admit(order.request, updates)
            elif self.config.fill_on == "last_price":
                bar = self._bars.get(order.request.symbol) or self._mark_bar(order.request.symbol)
                if bar is not None and order.client_order_id in self._working:
                    updates += self._work(order, PriceRange.at(bar.close), bar.close, bar)
        return updates

    def _mark_bar(self, symbol: Symbol) -> MarketSignal | None:
        """A stand-in bar at the last booked price, for a symbol not seen since a restart.

        It is used for one immediate fill and never stored, so the next real bar (whatever its
        timestamp) still counts. Zero volume: no volume cap applies to it.
        """
        price = self.ledger.last_price(symbol)
        if price is None:
            return None
        return MarketSignal(
            signal_id=SignalId(f"mark:{symbol}"),
            symbol=symbol,
            timeframe="mark",
            timestamp=self._clock.now(),
            open=price,
            high=price,
            low=price,
            close=price,
            volume=ZERO,
            feed="restored",
        )

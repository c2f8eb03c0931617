"""The paper venue: a simulated broker, pure and synchronous, driven by bars and a Clock.

It fills orders against the market data it is shown (`on_signal`), books every fill exactly in
an `atp.portfolio.ledger.Ledger`, and reports every change as an `OrderUpdate`. The live paper
adapter and the backtester both drive it; given the same bars, orders and seed it produces the
same updates, with the same ids, every time.

Rules (see `PaperVenueConfig`): market orders fill at the latest close at once (`last_price`)
or at the next bar's open (`next_open`); limit, stop and stop-limit orders trigger on the bar's
range; a fill takes at most `max_volume_share` of a bar's volume (the rest waits: a partial
fill); IOC cancels what the first look could not fill, FOK cancels unless all of it fills at
once; a DAY order expires when a bar of a later date arrives. A buy the cash cannot pay for, or
a sell of more than is held, is rejected with the reason (unless margin or shorting is on).

Those money rules (buying power, commission, the quantity cash pays for) are in `funds.py`,
and the restart (rebuilding from the venue's own updates) in `restart.py`: both are parts of
`PaperVenue`, its base classes.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal

from atp.brokers.models import (
    AccountSnapshot,
    BrokerPosition,
    Order,
    OrderChange,
    OrderRequest,
)
from atp.brokers.paper.config import PaperVenueConfig
from atp.brokers.paper.funds import VenueFunds
from atp.brokers.paper.pricing import Bar, PriceRange, base_fill_price, with_slippage
from atp.brokers.paper.restart import VenueRestart
from atp.brokers.paper.working import Working
from atp.brokers.tracker import OrderTracker
from atp.core.clock import Clock
from atp.core.enums import (
    SIDE_BUY,
    STATUS_ACCEPTED,
    STATUS_REJECTED,
    TIF_DAY,
    TIF_FOK,
    OrderStatus,
    TimeInForce,
)
from atp.core.errors import Conflict
from atp.core.events import Fill, MarketSignal, OrderUpdate
from atp.core.ids import ClientOrderId, FillId, OrderId, Symbol, derive_id
from atp.core.money import ZERO, normalize
from atp.portfolio.ledger import Ledger

# The times in force that end on the first look: a set built once, not a tuple of enum
# members per order.
_IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK})


class PaperVenue(VenueFunds, VenueRestart):
    """A simulated venue with exact books (see the module docstring for its rules)."""

    def __init__(
        self, config: PaperVenueConfig, *, clock: Clock, ledger: Ledger | None = None
    ) -> None:
        self.config = config
        self._clock = clock
        self.ledger = ledger if ledger is not None else Ledger(config.initial_cash)
        self.tracker = OrderTracker(config.venue)
        self._bars: dict[Symbol, MarketSignal] = {}
        self._working: dict[ClientOrderId, Working] = {}
        self._consumed: dict[Symbol, Decimal] = {}
        self._random = random.Random(config.slippage.seed)
        # The percent fee as a rate, worked out once (the config is frozen).
        self._fee_rate = config.fees.percent / 100

    @property
    def venue(self) -> str:
        """The venue's name in events."""
        return self.config.venue

    # -- market data ---------------------------------------------------------------------

    def last_price(self, symbol: Symbol) -> Decimal | None:
        """The latest close seen for `symbol`, if any."""
        bar = self._bars.get(symbol)
        return bar.close if bar is not None else self.ledger.last_price(symbol)

    def knows(self, symbol: Symbol) -> bool:
        """True once `symbol` was seen in market data."""
        return symbol in self._bars

    def on_signal(self, signal: MarketSignal) -> list[OrderUpdate]:
        """Takes a bar: marks the book and works the symbol's orders against the bar's range.

        A bar not newer than the last one of its symbol (a replay) changes nothing.
        """
        symbol = signal.symbol
        previous = self._bars.get(symbol)
        if previous is not None and signal.timestamp <= previous.timestamp:
            return []
        self._bars[symbol] = signal
        self._consumed[symbol] = ZERO
        self.ledger.mark(symbol, signal.close)
        open_orders = self.tracker.open_orders()
        if not open_orders:
            # The common case on a bar (nothing working): no list to build.
            return []
        market = signal.open if self.config.fill_on == "next_open" else signal.close
        updates: list[OrderUpdate] = []
        for order in open_orders:
            if order.request.symbol == symbol and order.client_order_id in self._working:
                # The bar is its own price range: no `PriceRange` copy of it per order.
                updates += self._work(order, signal, market, signal)
        return updates

    # -- orders --------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> list[OrderUpdate]:
        """Takes an order; a client order id seen before changes nothing (exactly once)."""
        if self.tracker.get(request.client_order_id) is not None:
            return []
        order_id = OrderId(derive_id("paper-order", self.venue, request.client_order_id))
        created = self.tracker.create(request, order_id=order_id, at=self._clock.now())
        updates = [created] if created is not None else []
        self._admit(request, updates)
        return updates

    def _admit(self, request: OrderRequest, updates: list[OrderUpdate]) -> None:
        """Accepts or rejects a NEW order (and fills it at once in `last_price` mode).

        Appends its updates to `updates`, the caller's list (no list per call to join).
        """
        refusal = self._refusal(request)
        status = STATUS_REJECTED if refusal is not None else STATUS_ACCEPTED
        moved = self.tracker.move(
            request.client_order_id, status, at=self._clock.now(), reason=refusal
        )
        if moved is not None:
            updates.append(moved)
        if refusal is not None:
            return
        self._working[request.client_order_id] = Working()
        if self.config.fill_on == "last_price":
            bar = self._bars.get(request.symbol) or self._mark_bar(request.symbol)
            if bar is not None:
                order = self.tracker.require(request.client_order_id)
                updates += self._work(order, PriceRange.at(bar.close), bar.close, bar)

    def cancel(self, client_order_id: ClientOrderId) -> list[OrderUpdate]:
        """Cancels an open order at once (paper has no cancel latency)."""
        order = self.tracker.require(client_order_id)
        if not order.is_open:
            raise Conflict(f"order {client_order_id} is {order.status}, it cannot be canceled")
        now = self._clock.now()
        updates = [
            u
            for u in (
                self.tracker.move(client_order_id, OrderStatus.PENDING_CANCEL, at=now),
                self.tracker.move(
                    client_order_id, OrderStatus.CANCELED, at=now, reason="canceled on request"
                ),
            )
            if u is not None
        ]
        self._working.pop(client_order_id, None)
        return updates

    def replace(
        self, client_order_id: ClientOrderId, change: OrderChange
    ) -> tuple[ClientOrderId, list[OrderUpdate]]:
        """Replaces an open order by a new one (new client order id) with `change` applied.

        The old order ends `replaced`; the new one carries the unfilled rest unless the change
        names a quantity.
        """
        order = self.tracker.require(client_order_id)
        if not order.is_open:
            raise Conflict(f"order {client_order_id} is {order.status}, it cannot be replaced")
        now = self._clock.now()
        new_id = ClientOrderId("atp-" + derive_id("replace", client_order_id)[:30])
        base = OrderChange(quantity=order.remaining_quantity).applied_to(order.request)
        new_request = change.applied_to(base)
        new_request = OrderRequest(
            client_order_id=new_id,
            symbol=new_request.symbol,
            side=new_request.side,
            quantity=new_request.quantity,
            order_type=new_request.order_type,
            time_in_force=new_request.time_in_force,
            limit_price=new_request.limit_price,
            stop_price=new_request.stop_price,
            decision_id=new_request.decision_id,
        )
        updates = [
            u
            for u in (
                self.tracker.move(client_order_id, OrderStatus.PENDING_REPLACE, at=now),
                self.tracker.move(
                    client_order_id, OrderStatus.REPLACED, at=now, reason=f"replaced by {new_id}"
                ),
            )
            if u is not None
        ]
        self._working.pop(client_order_id, None)
        return new_id, updates + self.submit(new_request)

    # -- reads ---------------------------------------------------------------------------

    def account(self) -> AccountSnapshot:
        """Cash, equity and positions at the latest prices."""
        ledger = self.ledger
        positions = tuple(
            BrokerPosition(
                symbol=p.symbol,
                quantity=p.quantity,
                average_cost=p.average_cost,
                last_price=p.last_price,
                market_value=p.market_value,
                unrealized_pnl=p.unrealized_pnl,
                realized_pnl=p.realized_pnl,
            )
            for p in ledger.positions()
        )
        return AccountSnapshot(
            venue=self.venue,
            cash=ledger.cash,
            equity=ledger.equity,
            market_value=ledger.market_value,
            buying_power=ledger.cash - self._reserved_cash(),
            realized_pnl=ledger.realized_pnl,
            unrealized_pnl=ledger.unrealized_pnl,
            positions=positions,
        )

    # -- rules ---------------------------------------------------------------------------

    def _work(
        self, order: Order, bar: Bar, market: Decimal, signal: MarketSignal
    ) -> list[OrderUpdate]:
        working = self._working[order.client_order_id]
        request = order.request
        time_in_force = request.time_in_force
        day = signal.timestamp.date()
        if time_in_force is TIF_DAY and working.session not in (None, day):
            return self._close(order.client_order_id, OrderStatus.EXPIRED, "day order expired")
        first_look = working.session is None
        working.session = day
        price, working.triggered = base_fill_price(
            request.order_type,
            request.side,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            triggered=working.triggered,
            market_price=market,
            bar=bar,
        )
        quantity = ZERO if price is None else self._fillable(order, signal)
        if time_in_force is TIF_FOK and quantity < order.remaining_quantity:
            return self._close(
                order.client_order_id,
                OrderStatus.CANCELED,
                "fok order could not be filled in full at once",
            )
        updates: list[OrderUpdate] = []
        if price is not None and quantity > 0:
            updates += self._fill(order, price, quantity, signal)
            order = self.tracker.require(order.client_order_id)
        if not order.is_open:
            return updates
        if first_look and time_in_force in _IMMEDIATE:
            updates += self._close(
                order.client_order_id, OrderStatus.CANCELED, "ioc remainder canceled"
            )
        elif (
            price is not None
            and request.side is SIDE_BUY
            and not self.config.allow_negative_cash
            and self._affordable(price, order) < order.remaining_quantity
        ):
            status = OrderStatus.CANCELED if order.filled_quantity > 0 else OrderStatus.REJECTED
            updates += self._close(
                order.client_order_id, status, f"insufficient cash to fill the rest at {price}"
            )
        return updates

    def _fillable(self, order: Order, signal: MarketSignal) -> Decimal:
        quantity = order.remaining_quantity
        share = self.config.max_volume_share
        if share is not None and signal.volume > 0:
            room = signal.volume * share - self._consumed.get(signal.symbol, ZERO)
            quantity = min(quantity, self._round_quantity(max(room, ZERO)))
        return quantity

    def _fill(
        self, order: Order, price: Decimal, quantity: Decimal, signal: MarketSignal
    ) -> list[OrderUpdate]:
        request = order.request
        client_order_id = request.client_order_id
        symbol = request.symbol
        side = request.side
        slip = self.config.slippage
        bps = slip.fixed_bps
        if slip.volume_impact_bps and signal.volume > 0:
            bps += slip.volume_impact_bps * quantity / signal.volume
        if slip.random_bps:
            bps += slip.random_bps * Decimal(repr(self._random.random()))
        # Zero bps move a price by nothing, and the price is never past the order's limit
        # (`base_fill_price` stops at it), so without slippage the price is taken as it is:
        # the same number, and the tick rounding below gives it the same digits.
        moved = with_slippage(price, side, bps, request.limit_price) if bps else price
        filled_price = normalize(moved.quantize(self.config.price_increment, ROUND_HALF_EVEN))
        if side is SIDE_BUY and not self.config.allow_negative_cash:
            quantity = min(quantity, self._affordable(filled_price, order))
            if quantity <= 0:
                return []
        fills = order.fills
        commission = self._commission(quantity, filled_price, first=not fills)
        # By position: fill_id, quantity, price, commission, filled_at.
        fill = Fill(
            FillId(derive_id("fill", self.venue, client_order_id, str(len(fills) + 1))),
            quantity,
            filled_price,
            commission,
            self._clock.now(),
        )
        update = self.tracker.fill(client_order_id, fill)
        if update is None:
            return []
        self._consumed[symbol] = self._consumed.get(symbol, ZERO) + quantity
        ledger = self.ledger
        ledger.apply_fill(
            fill_id=fill.fill_id,
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=filled_price,
            commission=commission,
        )
        ledger.mark(symbol, signal.close)
        if update.status.is_terminal:
            self._working.pop(client_order_id, None)
        return [update]

    def _close(
        self, client_order_id: ClientOrderId, status: OrderStatus, reason: str
    ) -> list[OrderUpdate]:
        self._working.pop(client_order_id, None)
        update = self.tracker.move(client_order_id, status, at=self._clock.now(), reason=reason)
        return [update] if update is not None else []

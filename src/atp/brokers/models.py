"""The one order model every adapter speaks: requests, orders, positions and accounts.

An `OrderRequest` cannot be built invalid: quantity and prices are finite positive Decimals,
a limit order has a limit price, a stop order a stop price, a market order neither. An `Order`
is an immutable snapshot of an order's state at a venue; the state machine makes new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.errors import InvalidInput
from atp.core.events import Fill, OrderUpdate
from atp.core.frozen import quick_init
from atp.core.ids import ClientOrderId, DecisionId, OrderId, Symbol
from atp.core.money import ZERO, positive, to_decimal

_NEEDS_LIMIT = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_NEEDS_STOP = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


@quick_init
@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What is asked of a venue: validated on construction, never mutated."""

    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    decision_id: DecisionId | None = None

    def __post_init__(self) -> None:
        if not self.client_order_id or len(self.client_order_id) > 48:
            raise InvalidInput(
                f"client_order_id: expected 1-48 characters, found {self.client_order_id!r}"
            )
        if not self.symbol or not self.symbol.strip():
            raise InvalidInput("symbol: expected a symbol, found an empty string")
        positive(to_decimal(self.quantity, field="quantity"), field="quantity")
        limit_price = self.limit_price
        stop_price = self.stop_price
        if limit_price is not None:
            positive(to_decimal(limit_price, field="limit_price"), field="limit_price")
        if stop_price is not None:
            positive(to_decimal(stop_price, field="stop_price"), field="stop_price")
        # Each set is asked once: an order is built per trade.
        order_type = self.order_type
        needs_limit = order_type in _NEEDS_LIMIT
        if needs_limit and limit_price is None:
            raise InvalidInput(f"limit_price: a {order_type} order needs a limit price")
        if not needs_limit and limit_price is not None:
            raise InvalidInput(f"limit_price: a {order_type} order takes no limit price")
        needs_stop = order_type in _NEEDS_STOP
        if needs_stop and stop_price is None:
            raise InvalidInput(f"stop_price: a {order_type} order needs a stop price")
        if not needs_stop and stop_price is not None:
            raise InvalidInput(f"stop_price: a {order_type} order takes no stop price")


@dataclass(frozen=True, slots=True)
class OrderChange:
    """A replace request: the fields to change (None keeps the current value)."""

    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("quantity", "limit_price", "stop_price"):
            value = getattr(self, name)
            if value is not None:
                positive(to_decimal(value, field=name), field=name)
        if self.quantity is None and self.limit_price is None and self.stop_price is None:
            raise InvalidInput(
                "replace: expected at least one of quantity, limit_price, stop_price"
            )

    def applied_to(self, request: OrderRequest) -> OrderRequest:
        """The request as it reads after this change."""
        return replace(
            request,
            quantity=self.quantity if self.quantity is not None else request.quantity,
            limit_price=self.limit_price if self.limit_price is not None else request.limit_price,
            stop_price=self.stop_price if self.stop_price is not None else request.stop_price,
        )


@quick_init
@dataclass(frozen=True, slots=True)
class Order:
    """One order's state at one venue: an immutable snapshot."""

    request: OrderRequest
    order_id: OrderId
    venue: str
    status: OrderStatus
    updated_at: datetime
    filled_quantity: Decimal = ZERO
    average_fill_price: Decimal | None = None
    sequence: int = 0
    reason: str | None = None
    fills: tuple[Fill, ...] = field(default=())

    @property
    def client_order_id(self) -> ClientOrderId:
        """The client order id (the order's identity across restarts)."""
        return self.request.client_order_id

    @property
    def remaining_quantity(self) -> Decimal:
        """What is still to be filled."""
        return self.request.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        """True while the order may still change (UNKNOWN counts as open)."""
        return not self.status.is_terminal

    def to_update(self, previous: OrderStatus | None, fill: Fill | None) -> OrderUpdate:
        """The `executions.order_update` event that reports this snapshot."""
        request = self.request
        return OrderUpdate(
            order_id=self.order_id,
            client_order_id=request.client_order_id,
            venue=self.venue,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            quantity=request.quantity,
            filled_quantity=self.filled_quantity,
            average_fill_price=self.average_fill_price,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            status=self.status,
            previous_status=previous,
            fill=fill,
            decision_id=request.decision_id,
            reason=self.reason,
            sequence=self.sequence,
            updated_at=self.updated_at,
        )


def order_from_update(update: OrderUpdate, fills: tuple[Fill, ...] = ()) -> Order:
    """Rebuilds an order snapshot from its latest update (for restarts and stores)."""
    request = OrderRequest(
        client_order_id=update.client_order_id,
        symbol=update.symbol,
        side=update.side,
        quantity=update.quantity,
        order_type=update.order_type,
        time_in_force=update.time_in_force,
        limit_price=update.limit_price,
        stop_price=update.stop_price,
        decision_id=update.decision_id,
    )
    return Order(
        request=request,
        order_id=update.order_id,
        venue=update.venue,
        status=update.status,
        updated_at=update.updated_at,
        filled_quantity=update.filled_quantity,
        average_fill_price=update.average_fill_price,
        sequence=update.sequence,
        reason=update.reason,
        fills=fills,
    )


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """A position as a venue reports it."""

    symbol: Symbol
    quantity: Decimal
    average_cost: Decimal
    last_price: Decimal | None
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """An account as a venue reports it: equity = cash + market value of positions."""

    venue: str
    cash: Decimal
    equity: Decimal
    market_value: Decimal
    buying_power: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    positions: tuple[BrokerPosition, ...]

"""The order book of one venue: orders by client order id, moved only by the state machine.

Every accepted change yields the `OrderUpdate` that reports it; every refused change is kept
in `refused` (and logged) with its reason, and the order stays as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from atp.brokers.models import Order, OrderRequest
from atp.brokers.state_machine import IllegalTransition, apply_fill, transition
from atp.core.enums import OrderStatus
from atp.core.errors import NotFound
from atp.core.events import Fill, OrderUpdate
from atp.core.ids import ClientOrderId, OrderId

log = logging.getLogger(__name__)


class OrderTracker:
    """Holds the orders of one venue and reports each change as an `OrderUpdate`."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self._orders: dict[ClientOrderId, Order] = {}
        # Open orders by id, in creation order: a venue looks at them on every bar, and a
        # scan of every order ever placed would make long runs quadratic.
        self._open: dict[ClientOrderId, None] = {}
        self.refused: list[IllegalTransition] = []

    def get(self, client_order_id: ClientOrderId) -> Order | None:
        """The order with this client order id, or None."""
        return self._orders.get(client_order_id)

    def require(self, client_order_id: ClientOrderId) -> Order:
        """The order with this client order id, or NotFound."""
        found = self._orders.get(client_order_id)
        if found is None:
            raise NotFound(f"no order {client_order_id} at {self.venue}")
        return found

    def orders(self) -> list[Order]:
        """Every order, in the order they were created."""
        return list(self._orders.values())

    def open_orders(self) -> list[Order]:
        """Orders that may still change, in the order they were created."""
        if not self._open:
            return []
        return [self._orders[c] for c in self._open]

    def create(
        self,
        request: OrderRequest,
        *,
        order_id: OrderId,
        at: datetime,
        status: OrderStatus = OrderStatus.NEW,
        reason: str | None = None,
    ) -> OrderUpdate | None:
        """Records a new order; None if the client order id is already known (no duplicate)."""
        if request.client_order_id in self._orders:
            return None
        order = Order(
            request=request,
            order_id=order_id,
            venue=self.venue,
            status=status,
            updated_at=at,
            sequence=1,
            reason=reason,
        )
        self._orders[request.client_order_id] = order
        self._index(order)
        return order.to_update(None, None)

    def restore(self, orders: Iterable[Order]) -> None:
        """Puts back orders rebuilt from a store or a replayed stream (after a restart)."""
        for order in orders:
            known = self._orders.get(order.client_order_id)
            if known is None or known.sequence < order.sequence:
                self._orders[order.client_order_id] = order
                self._index(order)

    def move(
        self,
        client_order_id: ClientOrderId,
        target: OrderStatus,
        *,
        at: datetime,
        reason: str | None = None,
    ) -> OrderUpdate | None:
        """Moves an order to `target`; None if refused or a duplicate."""
        order = self.require(client_order_id)
        return self._settle(order, transition(order, target, at=at, reason=reason), None)

    def fill(self, client_order_id: ClientOrderId, fill: Fill) -> OrderUpdate | None:
        """Books a fill on an order; None if refused or already booked."""
        order = self.require(client_order_id)
        return self._settle(order, apply_fill(order, fill), fill)

    def amend(self, order: Order) -> None:
        """Replaces a snapshot in place (for request changes the venue confirmed)."""
        self._orders[order.client_order_id] = order
        self._index(order)

    def _settle(
        self, order: Order, outcome: Order | IllegalTransition | None, fill: Fill | None
    ) -> OrderUpdate | None:
        if outcome is None:
            return None
        if isinstance(outcome, IllegalTransition):
            self.refused.append(outcome)
            log.warning("refused %s at %s: %s", outcome.client_order_id, self.venue, outcome.reason)
            return None
        self._orders[order.client_order_id] = outcome
        self._index(outcome)
        return outcome.to_update(order.status, fill)

    def _index(self, order: Order) -> None:
        # `order.is_open`, read without the property: this runs on every change of an order.
        if not order.status.is_terminal:
            self._open.setdefault(order.client_order_id, None)
        else:
            self._open.pop(order.client_order_id, None)

"""Settling our copy of IB orders: the synchronous, deterministic half of the IB adapter.

`IbBook` holds the venue's `OrderTracker` and applies IB's news to it through the shared
`sync_order` and the state machine, returning the `OrderUpdate`s that report each change:

- `status`: a status view moves the order, on the fills booked so far; it never books a fill
  (a `Filled`, or a cancel that raced a fill, waits until the executions it counts are booked);
- `book`: executions, each under a fill id derived from IB's execution id, with commission;
- `settle`: a full view from reconciliation: executions first, then `sync_order` on IB's
  cumulative quantity (what no execution explains is a gap fill);
- `adopt`: an order IB already holds for a client order id we were asked to submit.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from ib_async import Fill, Trade

from atp.brokers.ib import mapping
from atp.brokers.models import Order, OrderRequest
from atp.brokers.sync import Execution, VenueOrder, fill_id_for, sync_order
from atp.brokers.tracker import OrderTracker
from atp.core.enums import OrderStatus
from atp.core.events import Fill as OurFill
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId, OrderId

log = logging.getLogger(__name__)
_TERMINAL_AT_IB = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED})


class IbBook:
    """The orders of one IB venue, moved only by what IB reports."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.tracker = OrderTracker(venue)
        self.unknown_events: Counter[str] = Counter()

    def status(self, view: VenueOrder, reason: str | None) -> list[OrderUpdate]:
        """Moves the order to IB's status, on the fills booked so far (never a fill itself)."""
        tracker = self.tracker
        order = tracker.get(view.client_order_id)
        ours = order.filled_quantity if order is not None else Decimal(0)
        target = mapping.map_status(view.venue_status, ours)
        if target is OrderStatus.UNKNOWN:
            self._unknown(view)
        elif target in _TERMINAL_AT_IB and view.filled_quantity > ours:
            # Executions IB counts are not booked yet: they come with their commission reports.
            target = None
        if order is not None and order.status is OrderStatus.PENDING_REPLACE and target:
            tracker.amend(replace(order, request=_as_modified(order.request, view)))
        updates = sync_order(tracker, replace(view, filled_quantity=ours, status=None))
        if target is not None:
            moved = tracker.move(view.client_order_id, target, at=view.updated_at, reason=reason)
            updates += [moved] if moved else []
        return updates

    def book(self, view: VenueOrder, executions: Iterable[Execution]) -> list[OrderUpdate]:
        """Books executions of the order `view` describes (adopting it if untracked)."""
        coid = view.client_order_id
        updates = sync_order(self.tracker, replace(view, filled_quantity=Decimal(0), status=None))
        for ex in sorted(executions, key=lambda e: (e.executed_at, e.execution_id)):
            fill = OurFill(
                fill_id=fill_id_for(self.venue, coid, ex.execution_id),
                quantity=ex.quantity,
                price=ex.price,
                commission=ex.commission,
                filled_at=ex.executed_at,
            )
            booked = self.tracker.fill(coid, fill)
            updates += [booked] if booked else []
        return updates

    def settle(
        self, coid: ClientOrderId, trade: Trade | None, fills: list[Fill], *, at: datetime
    ) -> list[OrderUpdate]:
        """Settles one order from TWS's answers: its executions, then its status and quantity."""
        executions = [mapping.execution(f) for f in fills]
        if trade is None:
            order = self.tracker.get(coid)
            if order is None:
                log.warning("ib holds executions of %s but no order to adopt", coid)
                return []
            return self.book(_unchanged(order), executions)
        view = mapping.venue_order(trade, at=at, fills=fills)
        if view.status is OrderStatus.UNKNOWN:
            self._unknown(view)
        return self.book(view, executions) + sync_order(self.tracker, view)

    def adopt(
        self, request: OrderRequest, trade: Trade | None, fills: list[Fill], *, at: datetime
    ) -> list[OrderUpdate]:
        """Takes up the order IB already holds for `request` instead of placing it again."""
        if trade is not None:
            return self.settle(request.client_order_id, trade, fills, at=at)
        # Only executions are left of it: the request stands for the order.
        perm = OrderId(str(fills[0].execution.permId))
        created = self.tracker.create(request, order_id=perm, at=at)
        booked = self.settle(request.client_order_id, None, fills, at=at)
        return ([created] if created else []) + booked

    def _unknown(self, view: VenueOrder) -> None:
        self.unknown_events[view.venue_status] += 1
        log.warning(
            "ib %s: unknown status %r; UNKNOWN until reconciled",
            view.client_order_id,
            view.venue_status,
        )


def _unchanged(order: Order) -> VenueOrder:
    """Our own order as a venue view that changes nothing (for booking executions)."""
    request = order.request
    return VenueOrder(
        order_id=order.order_id,
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        quantity=request.quantity,
        order_type=request.order_type,
        time_in_force=request.time_in_force,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
        status=None,
        venue_status="",
        filled_quantity=order.filled_quantity,
        average_fill_price=order.average_fill_price,
        updated_at=order.updated_at,
    )


def _as_modified(request: OrderRequest, view: VenueOrder) -> OrderRequest:
    """The request with the quantity and prices TWS now reports for the order."""
    return replace(
        request, quantity=view.quantity, limit_price=view.limit_price, stop_price=view.stop_price
    )

"""Settling a tracked order from the venue's own view of it: the one way remote venues move orders.

A remote venue (Alpaca, Interactive Brokers) tells us about an order in snapshots: its status
and its cumulative filled quantity and average price. `sync_order` turns one snapshot into the
state-machine moves that bring our copy level with it:

- an order we never tracked (sent by a previous run, or by hand) is adopted;
- the venue's order id replaces a provisional one (a submission whose answer was lost);
- fills are booked up to the venue's cumulative filled quantity and never beyond it, so a fill
  seen twice (stream and reconciliation, or a redelivery) is booked once. A fill the venue
  reports with its own execution id keeps a deterministic id from it; a quantity we missed
  (a stream gap) is booked as one fill whose id is derived from the cumulative quantity it
  completes, at the venue's average price (exact when the gap is all of the filled quantity);
- then the order is moved to the venue's status (refused moves are logged by the tracker).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from atp.brokers.models import OrderRequest
from atp.brokers.tracker import OrderTracker
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.events import Fill, OrderUpdate
from atp.core.ids import ClientOrderId, FillId, OrderId, Symbol, derive_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One order as a remote venue reports it, already in our vocabulary.

    Attributes:
        status: the state to move to, or None when the venue's status says nothing new
            (e.g. Alpaca's `done_for_day`).
        venue_status: the venue's own word for the status, for logs and differences.
    """

    order_id: OrderId
    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: OrderStatus | None
    venue_status: str
    filled_quantity: Decimal
    average_fill_price: Decimal | None
    updated_at: datetime

    def request(self) -> OrderRequest:
        """The request this order answers (for adopting an order we did not track)."""
        return OrderRequest(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
        )


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution the venue reported with its own id."""

    execution_id: str
    quantity: Decimal
    price: Decimal
    commission: Decimal
    executed_at: datetime


def fill_id_for(venue: str, client_order_id: ClientOrderId, execution_id: str) -> FillId:
    """The fill id of a venue execution: stable across restarts and redeliveries."""
    return FillId(derive_id("fill", venue, client_order_id, execution_id))


def gap_fill_id(venue: str, client_order_id: ClientOrderId, cumulative: Decimal) -> FillId:
    """The fill id of a quantity we missed, named by the cumulative quantity it completes."""
    return FillId(derive_id("fill", venue, client_order_id, "reconciled", format(cumulative, "f")))


def sync_order(
    tracker: OrderTracker, snapshot: VenueOrder, *, execution: Execution | None = None
) -> list[OrderUpdate]:
    """Brings the tracked order level with `snapshot`; returns the updates that did it."""
    updates: list[OrderUpdate] = []
    order = tracker.get(snapshot.client_order_id)
    if order is None:
        created = tracker.create(
            snapshot.request(), order_id=snapshot.order_id, at=snapshot.updated_at
        )
        if created is not None:
            updates.append(created)
        order = tracker.require(snapshot.client_order_id)
    elif snapshot.order_id and order.order_id != snapshot.order_id:
        # A provisional id (the answer to our submission was lost): the venue's id is the truth.
        tracker.amend(replace(order, order_id=snapshot.order_id))
        order = tracker.require(snapshot.client_order_id)
    gap = snapshot.filled_quantity - order.filled_quantity
    if gap > 0:
        for fill in _fills_for_gap(tracker.venue, snapshot, order.filled_quantity, execution):
            booked = tracker.fill(snapshot.client_order_id, fill)
            if booked is not None:
                updates.append(booked)
    if snapshot.status is not None:
        moved = tracker.move(snapshot.client_order_id, snapshot.status, at=snapshot.updated_at)
        if moved is not None:
            updates.append(moved)
    return updates


def _fills_for_gap(
    venue: str, snapshot: VenueOrder, ours: Decimal, execution: Execution | None
) -> list[Fill]:
    cumulative = snapshot.filled_quantity
    gap = cumulative - ours
    coid = snapshot.client_order_id
    fills: list[Fill] = []
    missing = gap
    if execution is not None and Decimal(0) < execution.quantity <= gap:
        missing = gap - execution.quantity
    if missing > 0:
        price = _gap_price(snapshot, execution)
        if price is None:
            log.warning("%s: %s filled at the venue with no price; not booked", venue, missing)
            return fills
        fills.append(
            Fill(
                fill_id=gap_fill_id(venue, coid, cumulative - (gap - missing)),
                quantity=missing,
                price=price,
                commission=Decimal(0),
                filled_at=snapshot.updated_at,
            )
        )
    if execution is not None and missing != gap:
        fills.append(
            Fill(
                fill_id=fill_id_for(venue, coid, execution.execution_id),
                quantity=execution.quantity,
                price=execution.price,
                commission=execution.commission,
                filled_at=execution.executed_at,
            )
        )
    return fills


def _gap_price(snapshot: VenueOrder, execution: Execution | None) -> Decimal | None:
    """The venue's average price (exact when the gap is the whole filled quantity)."""
    average = snapshot.average_fill_price
    if average is not None and average > 0:
        return average
    return execution.price if execution is not None else None

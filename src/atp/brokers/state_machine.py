"""The order state machine: an explicit transition table, and the only code that moves orders.

    NEW ----------> ACCEPTED -----> PARTIALLY_FILLED ---> FILLED
     |  \\              |  \\             |   ^  \\
     |   REJECTED       |   PENDING_CANCEL --> CANCELED      (a fill during a pending cancel
     |                  |   PENDING_REPLACE -> REPLACED       is still booked)
     +-- UNKNOWN (submission outcome not confirmed) -- settled by reconciliation to any state

An illegal transition is refused: the order is left as it was and an `IllegalTransition` says
what was asked and why it was refused. Terminal states (filled, canceled, replaced, rejected,
expired) accept nothing. A repeated status without a fill is a duplicate report and changes
nothing. Fills are checked too: they may not overfill and must carry a positive quantity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from atp.brokers.models import Order
from atp.core.enums import OrderStatus as S
from atp.core.events import Fill
from atp.core.ids import ClientOrderId

_WORKING = frozenset(
    {
        S.PARTIALLY_FILLED,
        S.FILLED,
        S.PENDING_CANCEL,
        S.CANCELED,
        S.PENDING_REPLACE,
        S.REPLACED,
        S.EXPIRED,
        S.UNKNOWN,
    }
)

TRANSITIONS: Mapping[S, frozenset[S]] = {
    S.NEW: frozenset({S.ACCEPTED, S.REJECTED, S.UNKNOWN}) | _WORKING,
    S.UNKNOWN: frozenset({S.NEW, S.ACCEPTED, S.REJECTED}) | _WORKING - {S.UNKNOWN},
    S.ACCEPTED: _WORKING | {S.REJECTED},
    S.PARTIALLY_FILLED: _WORKING,
    # A cancel may be refused by the venue (the order works on) or overtaken by fills.
    S.PENDING_CANCEL: frozenset(
        {
            S.ACCEPTED,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELED,
            S.EXPIRED,
            S.PENDING_CANCEL,
            S.UNKNOWN,
        }
    ),
    S.PENDING_REPLACE: frozenset(
        {
            S.ACCEPTED,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.REPLACED,
            S.PENDING_CANCEL,
            S.CANCELED,
            S.EXPIRED,
            S.PENDING_REPLACE,
            S.UNKNOWN,
        }
    ),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REPLACED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

_ZERO = Decimal(0)

# States in which a fill leaves the status as it is (the fill is booked, the request stands).
_FILL_KEEPS_STATUS = frozenset({S.PENDING_CANCEL, S.PENDING_REPLACE})


@dataclass(frozen=True, slots=True)
class IllegalTransition:
    """A refused change: the order stays as it was."""

    client_order_id: ClientOrderId
    from_status: S
    to_status: S
    reason: str


def can_transition(current: S, target: S) -> bool:
    """True if the table allows `current` -> `target`."""
    return target in TRANSITIONS[current]


def transition(
    order: Order, target: S, *, at: datetime, reason: str | None = None
) -> Order | IllegalTransition | None:
    """Moves `order` to `target`.

    Returns the new snapshot (sequence + 1), None for a duplicate report (same status again),
    or an `IllegalTransition` when the table forbids it.
    """
    if target is order.status:
        return None
    if target is S.FILLED and order.filled_quantity != order.request.quantity:
        return IllegalTransition(
            order.client_order_id,
            order.status,
            target,
            f"filled needs {order.request.quantity} filled, found {order.filled_quantity}",
        )
    if not can_transition(order.status, target):
        return IllegalTransition(
            order.client_order_id,
            order.status,
            target,
            f"{order.status} -> {target} is not an allowed transition",
        )
    return Order(
        request=order.request,
        order_id=order.order_id,
        venue=order.venue,
        status=target,
        updated_at=at,
        filled_quantity=order.filled_quantity,
        average_fill_price=order.average_fill_price,
        sequence=order.sequence + 1,
        reason=reason if reason is not None else order.reason,
        fills=order.fills,
    )


def apply_fill(order: Order, fill: Fill) -> Order | IllegalTransition | None:
    """Books `fill` on `order`: filled if complete, else partially filled.

    A fill during a pending cancel or replace keeps that status unless it completes the order.
    Returns None if this fill id was already applied (a redelivered report).
    """
    fill_id = fill.fill_id
    for booked in order.fills:
        if booked.fill_id == fill_id:
            return None
    filled = order.filled_quantity + fill.quantity
    if fill.quantity <= _ZERO or fill.price <= _ZERO:
        return IllegalTransition(
            order.client_order_id,
            order.status,
            S.PARTIALLY_FILLED,
            f"fill {fill.fill_id}: quantity and price must be positive",
        )
    if filled > order.request.quantity:
        return IllegalTransition(
            order.client_order_id,
            order.status,
            S.FILLED,
            f"fill {fill.fill_id} would fill {filled} of {order.request.quantity}",
        )
    if filled == order.request.quantity:
        target = S.FILLED
    elif order.status in _FILL_KEEPS_STATUS:
        target = order.status
    else:
        target = S.PARTIALLY_FILLED
    if target is not order.status and not can_transition(order.status, target):
        return IllegalTransition(
            order.client_order_id,
            order.status,
            target,
            f"a fill in state {order.status} is not allowed",
        )
    if target is order.status and order.status.is_terminal:
        return IllegalTransition(
            order.client_order_id, order.status, target, f"order is {order.status}"
        )
    # From the fills themselves, not incrementally, so rounding never accumulates.
    # (A plain loop: what `sum` with a generator does, at a fraction of the cost.)
    fills = (*order.fills, fill)
    notional = _ZERO
    for booked in fills:
        notional += booked.quantity * booked.price
    average = notional / filled
    # Built directly (every field named): `dataclasses.replace` re-reads the fields per call.
    return Order(
        request=order.request,
        order_id=order.order_id,
        venue=order.venue,
        status=target,
        updated_at=fill.filled_at,
        filled_quantity=filled,
        average_fill_price=average,
        sequence=order.sequence + 1,
        reason=order.reason,
        fills=fills,
    )

"""Builders for risk tests: a simulated clock, proposals and fills."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from atp.core.clock import SimulatedClock
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.events import Fill, OrderUpdate
from atp.core.ids import AgentId, ClientOrderId, FillId, OrderId, Symbol
from atp.core.proposals import OrderProposal

START = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York

_counter = {"n": 0}


def clock_at(moment: datetime = START) -> SimulatedClock:
    """A clock standing at `moment`."""
    return SimulatedClock(moment)


def proposal(
    symbol: str,
    side: Side,
    quantity: Decimal | int | str,
    price: Decimal | int | str = "100",
    *,
    agent: str | None = None,
    origin: str = "manual",
    pid: str | None = None,
) -> OrderProposal:
    """A market order proposal with a unique id."""
    _counter["n"] += 1
    number = _counter["n"]
    return OrderProposal(
        proposal_id=pid or f"p-{number}",
        origin=origin,
        symbol=Symbol(symbol),
        side=side,
        quantity=Decimal(quantity),
        order_type=OrderType.MARKET,
        reference_price=Decimal(price),
        limit_price=None,
        agent_id=AgentId(agent) if agent else None,
        decision_id=None,
        client_order_id=ClientOrderId(f"c-{pid or number}"),
    )


def fill_update(
    order: OrderProposal,
    quantity: Decimal | int | str,
    price: Decimal | int | str,
    *,
    at: datetime = START,
    fill_id: str | None = None,
    sequence: int = 1,
    final: bool = True,
) -> OrderUpdate:
    """An order update carrying one fill of `order`."""
    qty = Decimal(quantity)
    return OrderUpdate(
        order_id=OrderId(f"o-{order.proposal_id}"),
        client_order_id=order.client_order_id or ClientOrderId(order.proposal_id),
        venue="paper",
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        time_in_force=TimeInForce.DAY,
        quantity=order.quantity,
        filled_quantity=qty,
        average_fill_price=Decimal(price),
        limit_price=None,
        stop_price=None,
        status=OrderStatus.FILLED if final else OrderStatus.PARTIALLY_FILLED,
        previous_status=OrderStatus.ACCEPTED,
        fill=Fill(
            fill_id=FillId(fill_id or f"f-{order.proposal_id}-{sequence}"),
            quantity=qty,
            price=Decimal(price),
            commission=Decimal(0),
            filled_at=at,
        ),
        decision_id=order.decision_id,
        reason=None,
        sequence=sequence,
        updated_at=at,
    )

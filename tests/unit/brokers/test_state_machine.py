"""The order state machine: the table is the law, illegal moves are refused, fills are exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atp.brokers.models import Order, OrderRequest
from atp.brokers.state_machine import TRANSITIONS, IllegalTransition, apply_fill, transition
from atp.brokers.tracker import OrderTracker
from atp.core.enums import OrderStatus, OrderType, Side
from atp.core.errors import InvalidInput
from atp.core.events import Fill
from atp.core.ids import ClientOrderId, FillId, OrderId, Symbol

T0 = datetime(2024, 1, 2, 15, tzinfo=UTC)
COID = ClientOrderId("atp-test-1")


def _order(status: OrderStatus = OrderStatus.NEW, quantity: str = "100") -> Order:
    request = OrderRequest(COID, Symbol("AAPL"), Side.BUY, Decimal(quantity))
    return Order(
        request=request,
        order_id=OrderId("o1"),
        venue="paper",
        status=status,
        updated_at=T0,
        sequence=1,
    )


def _fill(n: int, quantity: str, price: str = "10") -> Fill:
    return Fill(
        FillId(f"f{n}"), Decimal(quantity), Decimal(price), Decimal(0), T0 + timedelta(seconds=n)
    )


statuses = st.sampled_from(list(OrderStatus))


@given(statuses, statuses)
def test_a_transition_is_applied_exactly_when_the_table_allows_it(
    current: OrderStatus, target: OrderStatus
) -> None:
    order = _order(current)
    outcome = transition(order, target, at=T0)
    if target is current:
        assert outcome is None
    elif target is OrderStatus.FILLED:
        assert isinstance(outcome, IllegalTransition)  # nothing was filled
    elif target in TRANSITIONS[current]:
        assert isinstance(outcome, Order)
        assert outcome.status is target and outcome.sequence == 2
    else:
        assert isinstance(outcome, IllegalTransition)
        assert order.status is current  # refused, never applied


@given(st.sampled_from([s for s in OrderStatus if s.is_terminal]), statuses)
def test_terminal_orders_accept_no_transition_and_no_fill(
    terminal: OrderStatus, target: OrderStatus
) -> None:
    order = _order(terminal)
    assert not isinstance(transition(order, target, at=T0), Order)
    assert isinstance(apply_fill(order, _fill(1, "1")), IllegalTransition)


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12))
def test_fills_accumulate_exactly_and_never_overfill(sizes: list[int]) -> None:
    tracker = OrderTracker("paper")
    request = OrderRequest(COID, Symbol("AAPL"), Side.BUY, Decimal(100))
    tracker.create(request, order_id=OrderId("o1"), at=T0)
    tracker.move(COID, OrderStatus.ACCEPTED, at=T0)
    booked = 0
    for n, size in enumerate(sizes):
        update = tracker.fill(COID, _fill(n, str(size), str(10 + n)))
        if booked + size <= 100:
            booked += size
            assert update is not None and update.filled_quantity == booked
        else:
            assert update is None and tracker.refused[-1].to_status is OrderStatus.FILLED
    order = tracker.require(COID)
    assert order.filled_quantity == booked
    expected_status = (
        OrderStatus.FILLED
        if booked == 100
        else OrderStatus.PARTIALLY_FILLED
        if booked
        else OrderStatus.ACCEPTED
    )
    assert order.status is expected_status
    if booked:
        value = sum(f.quantity * f.price for f in order.fills)
        assert order.average_fill_price == value / booked


def test_a_fill_after_a_cancel_request_is_still_booked() -> None:
    tracker = OrderTracker("paper")
    tracker.create(
        OrderRequest(COID, Symbol("AAPL"), Side.BUY, Decimal(100)), order_id=OrderId("o1"), at=T0
    )
    tracker.move(COID, OrderStatus.ACCEPTED, at=T0)
    tracker.move(COID, OrderStatus.PENDING_CANCEL, at=T0)
    partial = tracker.fill(COID, _fill(1, "40"))
    assert partial is not None and partial.status is OrderStatus.PENDING_CANCEL
    assert partial.filled_quantity == 40
    done = tracker.move(COID, OrderStatus.CANCELED, at=T0)
    assert done is not None and done.previous_status is OrderStatus.PENDING_CANCEL
    assert tracker.fill(COID, _fill(2, "10")) is None  # after canceled: refused
    assert tracker.require(COID).filled_quantity == 40


def test_a_redelivered_fill_is_booked_once_and_sequences_only_grow() -> None:
    tracker = OrderTracker("paper")
    first = tracker.create(
        OrderRequest(COID, Symbol("AAPL"), Side.BUY, Decimal(10)), order_id=OrderId("o1"), at=T0
    )
    assert first is not None and first.sequence == 1
    once = tracker.fill(COID, _fill(1, "10"))
    assert once is not None and once.sequence == 2 and once.status is OrderStatus.FILLED
    assert tracker.fill(COID, _fill(1, "10")) is None
    assert tracker.require(COID).filled_quantity == 10


def test_unknown_is_settled_by_reconciliation_to_any_venue_state() -> None:
    for target in (OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.CANCELED):
        outcome = transition(_order(OrderStatus.UNKNOWN), target, at=T0, reason="venue says")
        assert isinstance(outcome, Order) and outcome.status is target
        assert outcome.reason == "venue says"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": Decimal(0)}, "quantity"),
        ({"quantity": Decimal(-5)}, "quantity"),
        ({"quantity": Decimal("NaN")}, "quantity"),
        ({"order_type": OrderType.LIMIT}, "limit_price"),
        ({"order_type": OrderType.STOP}, "stop_price"),
        ({"order_type": OrderType.STOP_LIMIT, "limit_price": Decimal(1)}, "stop_price"),
        ({"limit_price": Decimal(5)}, "limit_price"),
    ],
)
def test_an_invalid_order_request_cannot_be_built(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "client_order_id": COID,
        "symbol": Symbol("AAPL"),
        "side": Side.BUY,
        "quantity": Decimal(1),
    }
    base.update(kwargs)
    with pytest.raises(InvalidInput, match=message):
        OrderRequest(**base)  # type: ignore[arg-type]

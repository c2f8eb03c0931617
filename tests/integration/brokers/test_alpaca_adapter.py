"""The Alpaca adapter against a fake Alpaca (REST + trade_updates websocket) on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from atp.brokers.alpaca.adapter import AdapterRefusing, provisional_order_id
from atp.brokers.alpaca.mapping import request_body
from atp.brokers.base import AdapterState
from atp.brokers.dry_run import DryRunAdapter
from atp.brokers.models import OrderChange, OrderRequest
from atp.brokers.sync import gap_fill_id
from atp.core.clock import SystemClock
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.ids import ClientOrderId, Symbol

from .conftest import AlpacaRig, FakeAlpaca, build_rig


def order(coid: str, quantity: str = "10", **kw: object) -> OrderRequest:
    return OrderRequest(
        client_order_id=ClientOrderId(coid),
        symbol=Symbol("AAPL"),
        side=Side.BUY,
        quantity=Decimal(quantity),
        **kw,  # type: ignore[arg-type]
    )


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Waits for something the stream delivers (bounded, so a bug fails instead of hanging)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def status_of(rig: AlpacaRig, coid: str) -> OrderStatus | None:
    stored = await rig.store.get("alpaca", ClientOrderId(coid))
    return stored.status if stored else None


async def test_market_order_fills_once_through_the_stream_even_when_submitted_twice(
    rig: AlpacaRig,
) -> None:
    first = await rig.adapter.submit(order("c-fill"))
    again = await rig.adapter.submit(order("c-fill"))
    await eventually(
        lambda: rig.adapter.tracker.require(ClientOrderId("c-fill")).status is OrderStatus.FILLED,
        "fill",
    )
    filled = rig.adapter.tracker.require(ClientOrderId("c-fill"))
    assert rig.fake.posts == 1
    assert first.client_order_id == again.client_order_id
    assert filled.order_id == rig.fake.by_client_id("c-fill")["id"]  # type: ignore[index]
    assert filled.filled_quantity == 10 and filled.average_fill_price == Decimal("179.08")
    assert len(await rig.store.fills(client_order_id=ClientOrderId("c-fill"))) == 1
    assert await status_of(rig, "c-fill") is OrderStatus.FILLED


async def test_insufficient_buying_power_is_a_rejection_with_alpacas_reason(
    rig: AlpacaRig,
) -> None:
    rejected = await rig.adapter.submit(order("c-poor", quantity="100000"))
    assert rejected.status is OrderStatus.REJECTED
    assert "403" in (rejected.reason or "") and "buying power" in (rejected.reason or "")
    assert rig.fake.by_client_id("c-poor") is None


async def test_duplicate_client_order_id_adopts_the_order_alpaca_already_holds(
    rig: AlpacaRig,
) -> None:
    rig.fake.auto_fill = False
    held = rig.fake._new_order(
        request_body(order("c-dup", order_type=OrderType.LIMIT, limit_price=Decimal("150")))
    )
    adopted = await rig.adapter.submit(
        order("c-dup", order_type=OrderType.LIMIT, limit_price=Decimal("150"))
    )
    assert adopted.order_id == held["id"]
    assert adopted.status is OrderStatus.ACCEPTED
    assert [o["client_order_id"] for o in rig.fake.orders.values()].count("c-dup") == 1


async def test_rate_limit_is_retried_with_backoff_and_the_order_goes_through(
    rig: AlpacaRig,
) -> None:
    rig.fake.faults.extend(["rate_limit", "rate_limit"])
    placed = await rig.adapter.submit(order("c-429"))
    assert rig.adapter.rest.rate_limited == 2
    assert placed.status in (OrderStatus.ACCEPTED, OrderStatus.FILLED)
    assert rig.fake.by_client_id("c-429") is not None


async def test_timed_out_submission_stays_unknown_then_is_adopted_never_resubmitted(
    fake_alpaca: FakeAlpaca,
) -> None:
    rig = await build_rig(fake_alpaca, request_timeout_seconds=0.3)
    try:
        fake_alpaca.slow_seconds = 0.6
        fake_alpaca.stream_online = False  # nothing reaches us but the (late) answer
        fake_alpaca.faults.append("slow")
        unknown = await rig.adapter.submit(order("c-slow"))
        assert unknown.status is OrderStatus.UNKNOWN
        assert unknown.order_id == provisional_order_id(ClientOrderId("c-slow"))
        await eventually(
            lambda: (
                fake_alpaca.by_client_id("c-slow") is not None
                and fake_alpaca.by_client_id("c-slow")["status"] == "filled"
            ),
            "the fake fills the order",
        )
        report = await rig.reconciler.reconcile("periodic")
        settled = rig.adapter.tracker.require(ClientOrderId("c-slow"))
        assert report.ok
        assert settled.status is OrderStatus.FILLED
        assert settled.order_id == fake_alpaca.by_client_id("c-slow")["id"]  # type: ignore[index]
        assert fake_alpaca.posts == 1
        kinds = {d.kind for d in report.differences if d.client_order_id == "c-slow"}
        assert kinds == {"missing_fill", "order_status"}
        again = await rig.adapter.submit(order("c-slow"))
        assert again.status is OrderStatus.FILLED and fake_alpaca.posts == 1
    finally:
        await rig.adapter.close()


async def test_fill_missed_while_the_stream_was_down_is_booked_once(rig: AlpacaRig) -> None:
    rig.fake.auto_fill = False
    placed = await rig.adapter.submit(
        order("c-gap", order_type=OrderType.LIMIT, limit_price=Decimal("170"))
    )
    rig.fake.stream_online = False
    await rig.fake.fill(placed.order_id, Decimal(10), Decimal("169.5"))
    assert rig.adapter.tracker.require(ClientOrderId("c-gap")).filled_quantity == 0
    first = await rig.reconciler.reconcile("periodic")
    second = await rig.reconciler.reconcile("periodic")
    rig.fake.stream_online = True  # the same fill arriving late must not count twice
    await rig.fake.publish(
        "fill", rig.fake.orders[placed.order_id], execution_id="late", qty="10", price="169.5"
    )
    fills = await rig.store.fills(client_order_id=ClientOrderId("c-gap"))
    assert [f.fill.fill_id for f in fills] == [
        gap_fill_id("alpaca", ClientOrderId("c-gap"), Decimal(10))
    ]
    assert fills[0].fill.price == Decimal("169.5")
    assert await status_of(rig, "c-gap") is OrderStatus.FILLED
    assert any(d.kind == "missing_fill" for d in first.differences)
    assert not [d for d in second.differences if d.client_order_id == "c-gap"]


async def test_a_dropped_stream_refuses_trading_until_reconnected_and_reconciled(
    rig: AlpacaRig,
) -> None:
    runs = rig.reconciler.runs
    await rig.fake.drop_streams()
    await eventually(
        lambda: rig.adapter.status().state is AdapterState.REFUSING or rig.reconciler.runs > runs,
        "the adapter notices",
    )
    await eventually(
        lambda: rig.reconciler.runs > runs and rig.adapter.status().state is AdapterState.READY,
        "reconnect and reconcile",
    )
    assert rig.adapter.connects == 2
    placed = await rig.adapter.submit(order("c-after"))
    assert placed.status is not OrderStatus.UNKNOWN


async def test_unknown_stream_event_marks_the_order_unknown_until_reconciled(
    rig: AlpacaRig,
) -> None:
    rig.fake.auto_fill = False
    placed = await rig.adapter.submit(
        order("c-odd", order_type=OrderType.LIMIT, limit_price=Decimal("150"))
    )
    await rig.fake.publish("teleported", rig.fake.orders[placed.order_id])
    await eventually(lambda: rig.adapter.unknown_events["teleported"] == 1, "the odd event")
    assert rig.adapter.tracker.require(ClientOrderId("c-odd")).status is OrderStatus.UNKNOWN
    await rig.reconciler.reconcile("periodic")
    assert rig.adapter.tracker.require(ClientOrderId("c-odd")).status is OrderStatus.ACCEPTED


async def test_cancel_and_replace_reach_alpaca_and_come_back_on_the_stream(
    rig: AlpacaRig,
) -> None:
    rig.fake.auto_fill = False
    limit = {
        "order_type": OrderType.LIMIT,
        "limit_price": Decimal("150"),
        "time_in_force": TimeInForce.GTC,
    }
    await rig.adapter.submit(order("c-cancel", **limit))
    await rig.adapter.cancel(ClientOrderId("c-cancel"))
    await eventually(
        lambda: (
            rig.adapter.tracker.require(ClientOrderId("c-cancel")).status is OrderStatus.CANCELED
        ),
        "canceled",
    )
    await rig.adapter.submit(order("c-old", **limit))
    new = await rig.adapter.replace(ClientOrderId("c-old"), OrderChange(limit_price=Decimal("151")))
    await eventually(
        lambda: rig.adapter.tracker.require(ClientOrderId("c-old")).status is OrderStatus.REPLACED,
        "replaced",
    )
    assert new.request.limit_price == Decimal("151")
    assert rig.fake.orders[new.order_id]["replaces"] == (
        rig.adapter.tracker.require(ClientOrderId("c-old")).order_id
    )


async def test_positions_and_account_come_from_alpaca(rig: AlpacaRig) -> None:
    await rig.adapter.submit(order("c-pos"))
    positions = await rig.adapter.positions()
    account = await rig.adapter.account()
    assert [(p.symbol, p.quantity) for p in positions] == [("AAPL", Decimal(10))]
    assert account.buying_power == Decimal(100_000) and account.venue == "alpaca"


async def test_dry_run_shows_the_exact_body_and_sends_nothing(rig: AlpacaRig) -> None:
    dry = DryRunAdapter(rig.adapter, request_body, clock=SystemClock())
    result = await dry.submit(
        order(
            "c-dry",
            order_type=OrderType.STOP_LIMIT,
            limit_price=Decimal("151.25"),
            stop_price=Decimal("150"),
            time_in_force=TimeInForce.GTC,
        )
    )
    assert result.status is OrderStatus.REJECTED
    assert dry.sent == [
        {
            "symbol": "AAPL",
            "qty": "10",
            "side": "buy",
            "type": "stop_limit",
            "time_in_force": "gtc",
            "client_order_id": "c-dry",
            "limit_price": "151.25",
            "stop_price": "150",
        }
    ]
    assert rig.fake.posts == 0


async def test_an_unreachable_venue_refuses_to_trade_and_says_why(rig: AlpacaRig) -> None:
    await rig.fake.stop()
    report = await rig.reconciler.reconcile("periodic")
    status = rig.adapter.status()
    assert not report.ok and status.state is AdapterState.REFUSING
    assert "reconciliation (periodic) failed" in (status.reason or "")
    with pytest.raises(AdapterRefusing):
        await rig.adapter.submit(order("c-refused"))

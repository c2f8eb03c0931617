"""IB mapping on ib_async's own objects, and a recorded TWS byte stream replayed to the adapter."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import (
    IB,
    AccountValue,
    CommissionReport,
    Execution,
    Fill,
    LimitOrder,
    Order,
    OrderStatus,
    Stock,
    Trade,
)

from atp.brokers.ib import mapping
from atp.brokers.ib.adapter import IbAdapter
from atp.brokers.ib.config import IbConfig
from atp.brokers.ib.errors import ErrorKind, classify
from atp.brokers.models import OrderRequest
from atp.brokers.sync import fill_id_for
from atp.core.clock import SystemClock
from atp.core.enums import OrderStatus as S
from atp.core.enums import OrderType, Side, TimeInForce
from atp.core.errors import InvalidInput
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId, Symbol

RECORDINGS = Path(__file__).resolve().parents[2] / "fakes" / "ib" / "recordings"
AT = datetime(2025, 1, 2, 14, 30, 1, tzinfo=UTC)
CONFIG = IbConfig(account="DU1234567")


def request(**kw: object) -> OrderRequest:
    values: dict[str, object] = {
        "client_order_id": ClientOrderId("c-1"),
        "symbol": Symbol("AAPL"),
        "side": Side.SELL,
        "quantity": Decimal("10"),
    }
    values.update(kw)
    return OrderRequest(**values)  # type: ignore[arg-type]


def ib_fill(exec_id: str, shares: float, price: float, commission: float) -> Fill:
    execution = Execution(
        execId=exec_id, time=AT, side="BOT", shares=shares, price=price, permId=901, orderRef="c-1"
    )
    return Fill(Stock("AAPL", "SMART", "USD"), execution, CommissionReport(exec_id, commission), AT)


@pytest.mark.parametrize(
    ("status", "filled", "ours"),
    [
        ("PendingSubmit", "0", None),
        ("ApiPending", "0", None),
        ("ValidationError", "0", None),
        ("PreSubmitted", "0", S.ACCEPTED),
        ("Submitted", "0", S.ACCEPTED),
        ("Submitted", "4", S.PARTIALLY_FILLED),
        ("ApiUpdate", "0", S.ACCEPTED),
        ("PendingCancel", "0", S.PENDING_CANCEL),
        ("Cancelled", "0", S.CANCELED),
        ("ApiCancelled", "0", S.CANCELED),
        ("Filled", "10", S.FILLED),
        ("Inactive", "0", S.REJECTED),
        ("Teleported", "0", S.UNKNOWN),
    ],
)
def test_every_documented_ib_status_has_its_place_and_others_are_unknown(
    status: str, filled: str, ours: S | None
) -> None:
    assert mapping.map_status(status, Decimal(filled)) is ours
    assert mapping.is_known_status(status) is (ours is not S.UNKNOWN)


@pytest.mark.parametrize(
    ("kw", "order_type", "tif", "lmt", "aux"),
    [
        ({}, "MKT", "DAY", None, None),
        (
            {"order_type": OrderType.LIMIT, "limit_price": Decimal("150.25")},
            "LMT",
            "DAY",
            150.25,
            None,
        ),
        (
            {
                "order_type": OrderType.STOP,
                "stop_price": Decimal("140"),
                "time_in_force": TimeInForce.GTC,
            },
            "STP",
            "GTC",
            None,
            140.0,
        ),
        (
            {
                "order_type": OrderType.STOP_LIMIT,
                "limit_price": Decimal("139.5"),
                "stop_price": Decimal("140"),
                "time_in_force": TimeInForce.IOC,
            },
            "STP LMT",
            "IOC",
            139.5,
            140.0,
        ),
        ({"time_in_force": TimeInForce.FOK}, "MKT", "FOK", None, None),
    ],
)
def test_orders_carry_type_tif_prices_and_the_client_order_id_as_order_ref(
    kw: dict[str, object], order_type: str, tif: str, lmt: float | None, aux: float | None
) -> None:
    order = mapping.ib_order(request(**kw), CONFIG)
    body = mapping.request_body(request(**kw), CONFIG)["order"]
    assert (order.action, order.totalQuantity, order.orderType, order.tif) == (
        "SELL",
        10.0,
        order_type,
        tif,
    )
    assert (order.orderRef, order.account, order.transmit) == ("c-1", "DU1234567", True)
    assert body.get("lmtPrice") == lmt and body.get("auxPrice") == aux


def test_a_decimal_a_float_cannot_hold_is_refused_not_rounded() -> None:
    with pytest.raises(InvalidInput, match="limit_price"):
        mapping.ib_order(
            request(order_type=OrderType.LIMIT, limit_price=Decimal("150.12345678901234567")),
            CONFIG,
        )
    assert mapping.to_decimal(10.0) == Decimal(10) and str(mapping.to_decimal(10.0)) == "10"
    assert str(mapping.to_decimal(189.5)) == "189.5"


def test_a_working_trade_maps_to_a_venue_order_named_by_perm_id() -> None:
    order = LimitOrder("BUY", 10, 150.25, orderRef="c-1", tif="GTC", permId=901)
    status = OrderStatus(orderId=3, status="Submitted", filled=4, remaining=6, avgFillPrice=150)
    trade = Trade(Stock("AAPL", "SMART", "USD"), order, status)
    view = mapping.venue_order(trade, at=AT)
    assert (view.order_id, view.client_order_id, view.symbol, view.side) == (
        "901",
        "c-1",
        "AAPL",
        Side.BUY,
    )
    assert (view.order_type, view.time_in_force, view.limit_price, view.stop_price) == (
        OrderType.LIMIT,
        TimeInForce.GTC,
        Decimal("150.25"),
        None,
    )
    assert (view.status, view.filled_quantity, view.average_fill_price) == (
        S.PARTIALLY_FILLED,
        Decimal(4),
        Decimal(150),
    )


def test_a_completed_order_reports_its_filled_quantity_and_average_from_executions() -> None:
    # reqCompletedOrders: no order id, no status quantities, `filledQuantity` on the order.
    order = Order(action="BUY", totalQuantity=10, orderType="MKT", orderRef="c-1", permId=901)
    order.filledQuantity = 10
    trade = Trade(Stock("AAPL", "SMART", "USD"), order, OrderStatus(status="Filled"))
    fills = [ib_fill("e.01", 4, 189.0, 0.4), ib_fill("e.02", 6, 190.0, 0.6)]
    view = mapping.venue_order(trade, at=AT, fills=fills)
    assert (view.status, view.filled_quantity) == (S.FILLED, Decimal(10))
    assert view.average_fill_price == Decimal("189.6")
    assert mapping.execution(fills[1]).commission == Decimal("0.6")
    assert mapping.execution(fills[1]).executed_at == AT


def test_an_order_without_order_ref_is_not_ours() -> None:
    trade = Trade(Stock("AAPL"), Order(action="BUY", totalQuantity=1, orderType="MKT"))
    with pytest.raises(InvalidInput, match="orderRef"):
        mapping.venue_order(trade, at=AT)


def test_account_values_become_an_account_snapshot() -> None:
    values = [
        AccountValue("DU1", "AccountType", "INDIVIDUAL", "", ""),
        AccountValue("DU1", "TotalCashValue", "98104", "USD", ""),
        AccountValue("DU1", "NetLiquidation", "99999", "USD", ""),
        AccountValue("DU1", "BuyingPower", "392416", "USD", ""),
        AccountValue("DU1", "TotalCashValue", "90000", "EUR", ""),
    ]
    snapshot = mapping.account(values, [], venue="ib", currency="USD")
    assert (snapshot.cash, snapshot.equity, snapshot.buying_power) == (
        Decimal(98104),
        Decimal(99999),
        Decimal(392416),
    )
    with pytest.raises(InvalidInput, match="TotalCashValue"):
        mapping.account(values[:1], [], venue="ib", currency="USD")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1100, ErrorKind.CONNECTIVITY_LOST),
        (1101, ErrorKind.CONNECTIVITY_RESTORED),
        (1102, ErrorKind.CONNECTIVITY_RESTORED),
        (202, ErrorKind.CANCELED),
        (201, ErrorKind.ORDER_ERROR),
        (161, ErrorKind.ORDER_ERROR),
        (399, ErrorKind.NOTICE),
        (2104, ErrorKind.NOTICE),
    ],
)
def test_tws_error_codes_are_read_by_what_they_mean(code: int, kind: ErrorKind) -> None:
    assert classify(code) is kind


async def test_a_recorded_tws_session_replayed_through_ib_async_books_fill_and_cancel() -> None:
    """The bytes TWS sent in a recorded lifecycle, fed to ib_async's socket reader in odd
    chunks: the adapter adopts both orders, books the fill once with its commission, and
    ends with the market order filled and the limit order canceled."""
    stream = (RECORDINGS / "lifecycle.server.bin").read_bytes()
    ib = IB()
    adapter = IbAdapter(IbConfig(client_id=7), clock=SystemClock(), ib=ib)
    updates: list[OrderUpdate] = []

    async def collect(update: OrderUpdate) -> None:
        updates.append(update)

    adapter.set_listener(collect)
    for start in range(0, len(stream), 7):
        ib.client.conn.data_received(stream[start : start + 7])
    await adapter.drain()
    market = adapter.tracker.require(ClientOrderId("rec-mkt"))
    limit = adapter.tracker.require(ClientOrderId("rec-lmt"))
    assert (market.status, market.filled_quantity, market.order_id) == (
        S.FILLED,
        Decimal(10),
        "900000001",
    )
    assert [(f.fill_id, f.price, f.commission) for f in market.fills] == [
        (
            fill_id_for("ib", ClientOrderId("rec-mkt"), "0000e0d5.6576a1b2.01.01"),
            Decimal("189.5"),
            Decimal("1"),
        )
    ]
    assert (limit.status, limit.request.limit_price) == (S.CANCELED, Decimal("150.25"))
    assert [u.status for u in updates if u.client_order_id == "rec-mkt"] == [
        S.NEW,
        S.ACCEPTED,
        S.FILLED,
    ]
    assert sum(1 for u in updates if u.fill is not None) == 1

"""The risk engine's kill-switch follow-ups on `control.actions` act on the broker's venues."""

from __future__ import annotations

from decimal import Decimal

from atp.core.enums import OrderStatus
from atp.risk.records import control_record

from .conftest import T0, Harness, decision, signal


async def test_kill_switch_cancels_open_orders_and_flattens_positions(harness: Harness) -> None:
    await harness.publish(signal("AAPL", 1, "100"))
    await harness.publish(decision(1, quantity="10"))
    resting = await harness.http.post(
        "/orders",
        json={
            "symbol": "AAPL",
            "side": "buy",
            "quantity": 5,
            "order_type": "limit",
            "limit_price": 50,
        },
    )
    assert resting.json()["status"] == "accepted"
    held = (await harness.http.get("/positions")).json()
    assert [(p["symbol"], Decimal(p["quantity"])) for p in held] == [("AAPL", Decimal(10))]
    # What the risk engine publishes on control.actions when its kill switch is configured
    # to cancel and flatten.
    for n, action in enumerate(("cancel_all_orders", "flatten_positions"), start=1):
        await harness.publish(
            control_record(action, {"reason": "test"}, actor="op", sequence=n, now=T0)
        )
    positions = (await harness.http.get("/positions")).json()
    orders = {o["client_order_id"]: o for o in (await harness.http.get("/orders")).json()}
    assert orders[resting.json()["client_order_id"]]["status"] == OrderStatus.CANCELED
    assert all(Decimal(p["quantity"]) == 0 for p in positions)

"""The broker-adapters service on the in-memory bus: decisions, manual orders, HTTP contract."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from atp.bus.subjects import EXECUTIONS_ORDER_UPDATE
from atp.core.enums import Action, OrderStatus
from atp.core.events import Envelope, OrderUpdate, envelope_for

from .conftest import T0, Harness, decision, signal

SEED_BODY = {"symbol": "AAPL", "side": "buy", "quantity": 100, "order_type": "market"}


async def collect(harness: Harness) -> list[Envelope[Any]]:
    seen: list[Envelope[Any]] = []

    async def keep(envelope: Envelope[Any]) -> None:
        seen.append(envelope)

    await harness.bus.subscribe(EXECUTIONS_ORDER_UPDATE, durable="t-updates", handler=keep)
    return seen


async def test_an_approved_decision_fills_once_even_when_redelivered(harness: Harness) -> None:
    seen = await collect(harness)
    await harness.publish(signal("AAPL", 0, "185.50"))
    meta = decision(1)
    envelope = envelope_for(meta, source="meta-agent", event_time=T0)
    await harness.bus.publish(envelope)
    await harness.service.engine.on_decision(envelope)  # a redelivery
    statuses = [e.payload.status for e in seen]
    assert statuses == [OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert all(e.causation_id == envelope.event_id for e in seen)
    assert all(e.payload.client_order_id == meta.client_order_id for e in seen)
    account = (await harness.http.get("/account")).json()
    assert Decimal(account["positions"][0]["quantity"]) == 10
    assert Decimal(account["cash"]) == Decimal(100_000) - Decimal("1855.00")


async def test_unapproved_and_hold_decisions_make_no_order(harness: Harness) -> None:
    seen = await collect(harness)
    await harness.publish(signal("AAPL", 0, "100"))
    await harness.publish(decision(2, approved=False))
    await harness.publish(decision(3, action=Action.HOLD))
    assert seen == []


async def test_the_seed_paper_trade_works_and_equity_reconciles_to_the_cent(
    harness: Harness,
) -> None:
    await harness.publish(signal("AAPL", 0, "185.64"))
    response = await harness.http.post("/orders", json=SEED_BODY)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "filled" and Decimal(body["filled_quantity"]) == 100
    await harness.publish(signal("AAPL", 1, "190.01"))
    account = (await harness.http.get("/account")).json()
    positions_value = sum(
        Decimal(p["quantity"]) * Decimal(p["last_price"]) for p in account["positions"]
    )
    assert Decimal(account["cash"]) + positions_value == Decimal(account["equity"])
    assert Decimal(account["unrealized_pnl"]) == Decimal("437.00")
    listed = (await harness.http.get("/orders")).json()
    assert [o["client_order_id"] for o in listed] == [body["client_order_id"]]
    one = await harness.http.get(f"/orders/{body['order_id']}")
    assert one.json()["fills"][0]["price"] == "185.64"


async def test_an_idempotency_key_returns_the_first_answer_and_makes_one_order(
    harness: Harness,
) -> None:
    await harness.publish(signal("AAPL", 0, "100"))
    headers = {"Idempotency-Key": "retry-me"}
    first = await harness.http.post("/orders", json=SEED_BODY, headers=headers)
    second = await harness.http.post("/orders", json=SEED_BODY, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len((await harness.http.get("/orders")).json()) == 1
    other = await harness.http.post("/orders", json={**SEED_BODY, "quantity": 5}, headers=headers)
    assert other.status_code == 422 and "different request body" in other.json()["message"]


async def test_bad_input_is_a_422_with_the_reason(harness: Harness) -> None:
    await harness.publish(signal("AAPL", 0, "100"))
    cases = [
        ({**SEED_BODY, "quantity": 0}, "quantity"),
        ({**SEED_BODY, "quantity": -3}, "quantity"),
        ({**SEED_BODY, "symbol": "NOPE"}, "never been seen in market data"),
        ({**SEED_BODY, "order_type": "limit"}, "limit_price"),
    ]
    for body, reason in cases:
        response = await harness.http.post("/orders", json=body)
        assert response.status_code == 422, body
        assert reason in response.json()["message"]
    nan = await harness.http.post(
        "/orders",
        content=b'{"symbol":"AAPL","side":"buy","quantity":NaN}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 422 and "quantity" in nan.json()["message"]


async def test_a_risk_denial_refuses_the_order_naming_the_rule(harness: Harness) -> None:
    await harness.publish(signal("AAPL", 0, "100"))
    harness.risk.kill_switch = True
    response = await harness.http.post("/orders", json=SEED_BODY)
    assert response.status_code == 409
    assert response.json()["code"] == "risk_refused"
    assert "kill" in response.json()["message"]
    assert (await harness.http.get("/orders")).json() == []


async def test_cancel_adapters_and_unknown_orders(harness: Harness) -> None:
    await harness.publish(signal("AAPL", 0, "100"))
    body = {**SEED_BODY, "order_type": "limit", "limit_price": "90", "time_in_force": "gtc"}
    created = (await harness.http.post("/orders", json=body)).json()
    assert created["status"] == "accepted"
    canceled = await harness.http.delete(f"/orders/{created['client_order_id']}")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    again = await harness.http.delete(f"/orders/{created['client_order_id']}")
    assert again.status_code == 409
    assert (await harness.http.get("/orders/nothing-like-it")).status_code == 404
    adapters = (await harness.http.get("/adapters")).json()
    assert adapters == [
        {
            "name": "paper",
            "venue": "paper",
            "state": "ready",
            "dry_run": False,
            "default": True,
            "reason": None,
        }
    ]


async def test_updates_on_the_bus_round_trip_through_the_codec(harness: Harness) -> None:
    seen = await collect(harness)
    await harness.publish(signal("MSFT", 0, "400"))
    await harness.http.post("/orders", json={**SEED_BODY, "symbol": "MSFT", "quantity": 1})
    assert all(isinstance(e.payload, OrderUpdate) for e in seen)
    assert [e.payload.sequence for e in seen] == [1, 2, 3]

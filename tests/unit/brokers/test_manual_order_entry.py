"""`POST /orders` refuses up front what the venue cannot carry out, and shows exact numbers plainly.

A manual order that breaks its instrument's entry rules (lot, tick, size) is a 422 naming the
field; one the paper venue would reject (a sell above the position, a buy above the cash) is a
422 `venue_rejected` with the venue's reason; neither is ever answered 201 and rejected later.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from atp.bus.subjects import EXECUTIONS_ORDER_UPDATE
from atp.core.events import Envelope

from .conftest import Harness, signal


async def book_fills_in_risk(harness: Harness) -> None:
    """The risk engine books fills from the bus, as the meta-agent's risk component does."""

    async def book(envelope: Envelope[Any]) -> None:
        harness.risk.on_order_update(envelope.payload)

    await harness.bus.subscribe(EXECUTIONS_ORDER_UPDATE, durable="t-risk-fills", handler=book)


async def order(harness: Harness, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await harness.http.post("/orders", json={"symbol": "AAPL", **body})
    return response.status_code, response.json()


async def orders_made(harness: Harness) -> int:
    return len((await harness.http.get("/orders")).json())


async def test_a_sell_above_the_position_is_refused_up_front_with_the_venues_reason(
    harness: Harness,
) -> None:
    await book_fills_in_risk(harness)
    await harness.publish(signal("AAPL", 0, "200"))
    status, _ = await order(harness, side="buy", quantity="156.5")
    assert status == 201

    status, body = await order(harness, side="sell", quantity="200")

    assert status == 422, body
    assert body["code"] == "venue_rejected"
    assert "insufficient position: sell 200 AAPL, held 156.5" in body["message"]
    assert await orders_made(harness) == 1, "nothing was sent"
    status, body = await order(harness, side="sell", quantity="156.5")
    assert (status, body["status"]) == (201, "filled"), "selling what is held still works"


async def test_a_sell_of_nothing_held_is_refused_and_a_buy_above_the_cash_too(
    harness: Harness,
) -> None:
    await harness.publish(signal("AAPL", 0, "100"))

    sold = await order(harness, side="sell", quantity="25")
    bought = await order(harness, side="buy", quantity="1001")

    assert sold[0] == bought[0] == 422
    assert "held 0" in sold[1]["message"]
    assert "insufficient buying power" in bought[1]["message"]
    assert await orders_made(harness) == 0


async def test_quantity_and_prices_must_be_whole_lots_and_ticks(harness: Harness) -> None:
    await harness.publish(signal("AAPL", 0, "100"))

    fine = await order(harness, side="buy", quantity="1.0000000001")
    limit = await order(
        harness, side="buy", quantity="1", order_type="limit", limit_price="100.001"
    )

    assert fine[0] == limit[0] == 422
    assert fine[1]["message"].startswith("quantity: 1.0000000001 is not a whole number of lots")
    assert "0.000001" in fine[1]["message"]
    assert limit[1]["message"].startswith("limit_price: 100.001 is not a whole number of ticks")
    assert "0.01" in limit[1]["message"]
    assert await orders_made(harness) == 0
    status, body = await order(
        harness, side="buy", quantity="0.5", order_type="limit", limit_price="100.01"
    )
    assert (status, body["quantity"], body["limit_price"]) == (201, "0.5", "100.01")


async def test_a_sub_dollar_price_may_use_the_finer_tick(harness: Harness) -> None:
    await harness.publish(signal("PENNY", 0, "0.5"))

    status, body = await order(
        harness,
        symbol="PENNY",
        side="buy",
        quantity="10",
        order_type="limit",
        limit_price="0.5001",
    )

    assert status == 201, body


async def test_an_absurd_size_is_bad_input_not_a_risk_refusal(harness: Harness) -> None:
    await harness.publish(signal("AAPL", 0, "250"))

    huge = await order(harness, side="buy", quantity=1e20)
    costly = await order(harness, side="buy", quantity="50000")

    assert huge[0] == costly[0] == 422
    assert huge[1]["code"] == costly[1]["code"] == "invalid_input"
    assert "more than one order may ask for (1000000)" in huge[1]["message"]
    assert (
        "is worth 12500000.00, more than one order may be worth 10000000.00" in costly[1]["message"]
    )


async def test_positions_and_account_show_rounded_averages_and_pnl_and_exact_cash(
    harness: Harness,
) -> None:
    await harness.publish(signal("AAPL", 0, "100"))
    await order(harness, side="buy", quantity="1")
    await harness.publish(signal("AAPL", 1, "100.01"))
    await order(harness, side="buy", quantity="2")
    await harness.publish(signal("AAPL", 2, "101"))

    position = (await harness.http.get("/positions")).json()[0]
    account = (await harness.http.get("/account")).json()

    # Average cost 300.02 / 3 = 100.00666...: shown to 6 places; P&L to the cent.
    assert position["average_cost"] == "100.006667"
    assert position["unrealized_pnl"] == "2.98"
    assert (position["quantity"], position["last_price"]) == ("3", "101.00")
    # Cash and equity are exact sums and are shown exactly.
    assert account["cash"] == "99699.98"
    assert Decimal(account["equity"]) == Decimal("99699.98") + 3 * Decimal(101)
    assert account["realized_pnl"] == "0.00"
    texts = [*position.values(), *(v for v in account.values() if isinstance(v, str))]
    assert not [text for text in texts if isinstance(text, str) and "E" in text]

"""A year of real daily bars flows through the whole platform, started as `atp up` would.

market-data -> agents -> meta-agent (vote + risk) -> paper broker, over a real nats-server the
launcher starts itself. The fills, positions and cash that come out must agree with each other
and with the prices in the file: cash plus positions at the last price equals equity, to the
cent. Then Ctrl-C stops everything (the nats-server included) and a second start picks up where
the first stopped.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from atp.services.settings import AtpSettings

from .platform import SERVICE_PORTS, Platform, port_is_open

pytestmark = pytest.mark.e2e

SYMBOLS = ("AAPL", "MSFT")
INITIAL_CASH = Decimal(100_000)
TICK = Decimal("0.0001")  # the paper venue's default price increment


def _closes(symbol: str) -> dict[str, Decimal]:
    """Session date -> Close, read straight from the CSV (not through ATP's loader)."""
    path = AtpSettings().data_dir / "pairs_trading_system" / f"{symbol}.csv"
    with path.open(newline="") as handle:
        return {row["Date"]: Decimal(row["Close"]) for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    var_dir: Path = tmp_path_factory.mktemp("platform") / "var"
    env = {
        "ATP_MARKET_DATA_SYMBOLS": '["AAPL","MSFT"]',
        "ATP_MARKET_DATA_START": "2024-01-01",
        "ATP_MARKET_DATA_END": "2024-12-31",
        "ATP_MARKET_DATA_SPEED": "40",
    }
    running = Platform(var_dir=var_dir, extra_env=env)
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.stop()


def _settled(platform: Platform, timeout: float = 180.0) -> tuple[list[Any], dict[str, Any]]:
    """Waits for the replay to finish and the broker's books to stop changing."""
    deadline = time.monotonic() + timeout
    while not platform.get("ATP_MARKET_DATA_PORT", "/status")["done"]:
        platform.assert_running()
        assert time.monotonic() < deadline, platform.log()
        time.sleep(0.5)
    last: tuple[Any, Any] | None = None
    stable_since = time.monotonic()
    while True:
        snapshot = (
            platform.get("ATP_BROKER_PORT", "/orders"),
            platform.get("ATP_BROKER_PORT", "/account"),
        )
        if snapshot != last:
            last, stable_since = snapshot, time.monotonic()
        elif time.monotonic() - stable_since > 4.0:
            return snapshot
        assert time.monotonic() < deadline, platform.log()
        time.sleep(0.5)


def test_a_year_of_real_bars_trades_and_the_books_agree_to_the_cent(platform: Platform) -> None:
    orders, account = _settled(platform)
    closes = {symbol: _closes(symbol) for symbol in SYMBOLS}
    tradable = {
        symbol: {price.quantize(TICK, rounding=ROUND_HALF_EVEN) for price in by_date.values()}
        for symbol, by_date in closes.items()
    }
    fills = [(order, fill) for order in orders for fill in order["fills"]]
    assert fills, "a year of bars through three strategies must trade"
    assert {order["symbol"] for order, _ in fills} == set(SYMBOLS)

    held: dict[str, Decimal] = defaultdict(Decimal)
    cash = INITIAL_CASH
    for order, fill in fills:
        quantity, price = Decimal(fill["quantity"]), Decimal(fill["price"])
        # Paper fills happen at a market price that really traded (no slippage by default).
        assert price in tradable[order["symbol"]], (order["symbol"], price)
        sign = 1 if order["side"] == "buy" else -1
        held[order["symbol"]] += sign * quantity
        cash -= sign * quantity * price + Decimal(fill["commission"])
    for order in orders:
        filled = sum(Decimal(f["quantity"]) for f in order["fills"])
        assert filled == Decimal(order["filled_quantity"]), order

    positions = {p["symbol"]: Decimal(p["quantity"]) for p in account["positions"]}
    assert {s: q for s, q in positions.items() if q} == {s: q for s, q in held.items() if q}
    assert Decimal(account["cash"]) == cash
    assert all(q >= 0 for q in held.values()), "the paper account does not sell short"

    last_close = {symbol: closes[symbol]["2024-12-31"] for symbol in SYMBOLS}
    equity = cash + sum(held[s] * last_close[s] for s in SYMBOLS)
    assert Decimal(account["equity"]) == equity
    cents = Decimal("0.01")
    assert Decimal(account["equity"]).quantize(cents) == equity.quantize(cents)


def test_every_decision_explains_itself_and_risk_saw_the_fills(platform: Platform) -> None:
    _settled(platform)
    risk = platform.get("ATP_META_AGENT_PORT", "/risk/state")
    account = platform.get("ATP_BROKER_PORT", "/account")
    # The risk engine books the same fills at the same prices as the broker: they reconcile.
    assert Decimal(risk["cash"]) == Decimal(account["cash"])
    assert Decimal(risk["equity"]) == Decimal(account["equity"])
    metrics = httpx_text(platform, "ATP_META_AGENT_PORT", "/metrics")
    assert "atp_bus_consumed_total" in metrics


def httpx_text(platform: Platform, port_name: str, path: str) -> str:
    """GETs a text body."""
    response = httpx.get(platform.url(port_name, path), timeout=10.0)
    assert response.status_code == 200
    return response.text


def test_ctrl_c_stops_everything_and_a_second_start_picks_up_where_it_stopped(
    platform: Platform,
) -> None:
    orders, account = _settled(platform)
    assert platform.stop() == 0
    for name in (*SERVICE_PORTS, "ATP_EMBEDDED_NATS_PORT"):
        assert not port_is_open(platform.ports[name]), f"{name} still listening after Ctrl-C"

    platform.start()
    platform.wait_ready()
    status = platform.get("ATP_MARKET_DATA_PORT", "/status")
    assert status["done"], "the replay resumes at its cursor, which is at the end"
    orders_after, account_after = _settled(platform, timeout=60.0)
    assert len(orders_after) == len(orders), "no order is lost or duplicated by a restart"
    assert account_after == account

    # The broker knows the market's last price after a restart, not the price of its last fill.
    response = httpx.post(
        platform.url("ATP_BROKER_PORT", "/orders"),
        json={"symbol": "AAPL", "side": "buy", "quantity": 1, "order_type": "market"},
        timeout=10.0,
    )
    assert response.status_code in (200, 201), response.text
    fill_price = Decimal(response.json()["fills"][0]["price"])
    last_close = _closes("AAPL")["2024-12-31"].quantize(TICK, rounding=ROUND_HALF_EVEN)
    assert fill_price == last_close

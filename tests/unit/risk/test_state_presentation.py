"""`GET /risk/state` shows the exact books plainly: no "0E-24", no 28-digit average costs."""

from __future__ import annotations

from decimal import Decimal

import httpx

from atp.api.app import create_app
from atp.bus import risk_rpc
from atp.bus.memory import InMemoryBus
from atp.core.enums import Side
from atp.core.events import MarketSignal, envelope_for
from atp.core.ids import SignalId, Symbol
from atp.risk.config import RiskEngineConfig
from atp.services.risk_wiring import RiskComponent
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import new_registry

from .conftest import START, clock_at, fill_update, proposal


async def test_day_pnl_after_a_reset_reads_zero_and_averages_are_rounded() -> None:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)
    registry = new_registry()
    component = RiskComponent(
        AtpSettings(), clock=clock, registry=registry, config=RiskEngineConfig()
    )
    await component.start(bus)
    # Buy 1 at 100 and 2 at 100.01 (average 300.02 / 3 = 100.00666...), then mark at 101.
    for quantity, price in ((1, "100"), (2, "100.01")):
        order = proposal("AAPL", Side.BUY, quantity, price)
        assert (await risk_rpc.request_risk_check(bus, order)).approved
        update = fill_update(order, quantity, price)
        await bus.publish(envelope_for(update, source="paper", event_time=START))
    bar = MarketSignal(
        SignalId("aapl-1"), Symbol("AAPL"), "1d", START, *[Decimal(101)] * 4, Decimal(1), "test"
    )
    await bus.publish(envelope_for(bar, source="market-data", event_time=START))

    async def ready() -> dict[str, bool]:
        return {"bus": True}

    app = create_app(
        service="meta-agent", registry=registry, readiness=ready, routers=[component.router]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://risk") as client:
        assert (await client.post("/risk/daily-pnl/reset")).status_code == 200
        state = (await client.get("/risk/state")).json()
    await component.stop()

    assert component.engine.day_pnl == 0 and component.engine.day_pnl.as_tuple().exponent < -20
    assert state["day_pnl"] == "0.00"
    (position,) = state["positions"]
    assert position["average_cost"] == "100.006667"
    # P&L is shown exactly, as the daily loss limit judges it (the average's quotient in it).
    assert Decimal(position["unrealized_pnl"]) == component.engine.book.unrealized_pnl
    assert position["realized_pnl"] == "0.00"
    assert (position["quantity"], position["last_price"]) == ("3", "101.00")
    assert state["cash"] == "99699.98"
    assert Decimal(state["equity"]) == Decimal("99699.98") + 303

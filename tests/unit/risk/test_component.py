"""The risk component on the in-memory bus: RPC, publishing, restart safety and the HTTP API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from atp.api.app import create_app
from atp.bus import risk_rpc
from atp.bus.memory import InMemoryBus
from atp.bus.subjects import CONTROL_ACTIONS, RISK_STATE, RISK_VIOLATIONS, RPC_RISK_CHECK
from atp.core.enums import Side, TradingState
from atp.core.events import Envelope, envelope_for
from atp.risk.config import ConcentrationConfig, InstrumentCap, PositionCapConfig, RiskEngineConfig
from atp.services.risk_wiring import RiskComponent
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import new_registry, render

from .conftest import clock_at, fill_update, proposal

CONFIG = RiskEngineConfig(
    position_caps=PositionCapConfig(default=InstrumentCap(max_quantity=Decimal(500))),
    concentration=ConcentrationConfig(max_share_of_equity=None),
)


async def _component(bus: InMemoryBus, clock: Any, registry: Any = None) -> RiskComponent:
    component = RiskComponent(
        AtpSettings(),
        clock=clock,
        registry=registry or new_registry(),
        config=CONFIG,
    )
    await component.start(bus)
    return component


async def _collect(bus: InMemoryBus, subject: str, durable: str) -> list[Envelope[Any]]:
    seen: list[Envelope[Any]] = []

    async def keep(envelope: Envelope[Any]) -> None:
        seen.append(envelope)

    await bus.subscribe(subject, durable=durable, handler=keep)
    return seen


async def test_rpc_check_refuses_past_the_cap_and_publishes_the_violation() -> None:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)
    component = await _component(bus, clock)
    violations = await _collect(bus, RISK_VIOLATIONS, "watch")
    order = proposal("AAPL", Side.BUY, 400)
    assert (await risk_rpc.request_risk_check(bus, order)).approved
    await bus.publish(
        envelope_for(fill_update(order, 400, 100), source="paper", event_time=clock.now())
    )
    verdict = await risk_rpc.request_risk_check(bus, proposal("AAPL", Side.BUY, 300))
    assert not verdict.approved
    assert [v.payload.message for v in violations] == ["position cap AAPL 500 would become 700"]
    assert component.state().positions[0].quantity == 400
    await component.stop()


async def test_a_malformed_rpc_request_gets_an_error_reply_and_the_caller_refuses() -> None:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)
    component = await _component(bus, clock)
    reply = await bus.request(RPC_RISK_CHECK, b'{"symbol": "AAPL"}', timeout=1)
    assert b'"code":"invalid_input"' in reply and b"proposal_id" in reply
    await component.stop()
    empty = InMemoryBus(clock=clock)
    verdict = await risk_rpc.request_risk_check(empty, proposal("AAPL", Side.BUY, 1))
    assert not verdict.approved
    assert verdict.checks[0].rule == "risk_unavailable"


async def test_a_restart_keeps_the_kill_switch_limits_blocks_and_positions() -> None:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)
    first = await _component(bus, clock)
    order = proposal("AAPL", Side.BUY, 100)
    assert first.gate.check(order).approved
    await bus.publish(
        envelope_for(fill_update(order, 100, 100), source="paper", event_time=clock.now())
    )
    tighter = CONFIG.model_copy(
        update={
            "position_caps": PositionCapConfig(default=InstrumentCap(max_quantity=Decimal(150)))
        }
    )
    await first.set_limits(tighter, actor="ops")
    await first.block("MSFT", actor="ops")  # type: ignore[arg-type]
    await first.trip_kill_switch("drill", actor="ops")
    await first.stop()

    second = await _component(bus, clock)
    state = second.state()
    assert state.trading_state is TradingState.HALTED and state.kill_switch
    assert state.kill_switch_reason == "drill"
    assert state.blocked_symbols == ("MSFT",)
    assert second.limits().position_caps.default.max_quantity == 150
    assert state.positions[0].quantity == 100
    assert not second.gate.check(proposal("AAPL", Side.SELL, 1)).approved
    await second.reset_kill_switch(actor="ops")
    assert "position cap AAPL 150 would become 160" in [
        c.message for c in second.gate.check(proposal("AAPL", Side.BUY, 60)).checks
    ]
    await second.stop()


async def test_the_http_api_steers_the_engine_and_records_each_change() -> None:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)
    registry = new_registry()
    component = await _component(bus, clock, registry)
    actions = await _collect(bus, CONTROL_ACTIONS, "watch-actions")
    states = await _collect(bus, RISK_STATE, "watch-states")

    async def ready() -> dict[str, bool]:
        return {"bus": True}

    app = create_app(
        service="meta-agent",
        registry=registry,
        readiness=ready,
        routers=[component.router],
        api_token="secret-token-0123456789",
    )
    auth = {"Authorization": "Bearer secret-token-0123456789"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://risk") as client:
        assert (await client.post("/risk/kill-switch")).status_code == 401
        tripped = await client.post("/risk/kill-switch", json={"reason": "curl"}, headers=auth)
        assert tripped.status_code == 200 and tripped.json()["trading_state"] == "halted"
        reset = await client.post("/risk/kill-switch/reset", headers=auth)
        assert reset.json()["trading_state"] == "active"
        blocked = await client.post("/risk/symbols/AAPL/block", headers=auth)
        assert blocked.json()["blocked_symbols"] == ["AAPL"]
        assert (await client.post("/risk/symbols/%20/block", headers=auth)).status_code == 422
        limits = (await client.get("/risk/limits")).json()
        limits["velocity"]["total_per_second"] = 0
        bad = await client.put("/risk/limits", json=limits, headers=auth)
        assert bad.status_code == 422 and "total_per_second" in bad.json()["message"]
        limits["velocity"]["total_per_second"] = 7
        assert (await client.put("/risk/limits", json=limits, headers=auth)).status_code == 200
        assert component.limits().velocity.total_per_second == 7
        unknown = await client.put("/risk/limits", json={**limits, "surprise": 1}, headers=auth)
        assert unknown.status_code == 422
        await risk_rpc.request_risk_check(bus, proposal("AAPL", Side.BUY, 1))
        recent = (await client.get("/risk/violations", params={"limit": 5})).json()
        assert recent[0]["rule"] == "symbol_blocked"
        state = (await client.get("/risk/state")).json()
        assert {"rule", "scope", "limit", "current", "utilisation"} <= set(state["limits"][0])
        assert (await client.post("/risk/daily-pnl/reset", headers=auth)).status_code == 200
    assert [a.payload.action for a in actions] == [
        "kill_switch_on",
        "cancel_all_orders",
        "kill_switch_reset",
        "block_symbol",
        "set_limits",
        "daily_pnl_reset",
    ]
    assert actions[0].payload.actor.startswith("token:")
    assert [s.payload.state for s in states][-3:] == [
        TradingState.HALTED,
        TradingState.ACTIVE,
        TradingState.ACTIVE,
    ]
    metrics = render(registry)[0].decode()
    assert 'atp_risk_violations_total{rule="symbol_blocked"} 1.0' in metrics
    assert 'atp_risk_trading_state{state="active"} 1.0' in metrics
    await component.stop()

"""Restart safety on a real nats-server: a halted engine comes back halted."""

from __future__ import annotations

from decimal import Decimal

from atp.bus import risk_rpc
from atp.bus.nats import NatsBus
from atp.core.clock import SystemClock
from atp.core.enums import OrderType, Side, TradingState
from atp.core.ids import Symbol
from atp.core.proposals import OrderProposal
from atp.services.embedded_nats import EmbeddedNats
from atp.services.risk_wiring import RiskComponent
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry


def _order(proposal_id: str) -> OrderProposal:
    return OrderProposal(
        proposal_id=proposal_id,
        origin="manual",
        symbol=Symbol("AAPL"),
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=OrderType.MARKET,
        reference_price=Decimal(100),
        limit_price=None,
        agent_id=None,
        decision_id=None,
        client_order_id=None,
    )


async def _connect(url: str, name: str) -> NatsBus:
    return await NatsBus.connect(url, client_name=name, metrics=BusMetrics(new_registry()))


async def _start(bus: NatsBus) -> RiskComponent:
    component = RiskComponent(
        AtpSettings(), clock=SystemClock(), registry=new_registry(), restore_quiet_seconds=1.5
    )
    await component.start(bus)
    return component


async def test_a_tripped_kill_switch_survives_a_restart_and_manual_orders_stay_refused(
    fresh_nats_server: EmbeddedNats,
) -> None:
    first_bus = await _connect(fresh_nats_server.url, "risk-first")
    first = await _start(first_bus)
    assert (await risk_rpc.request_risk_check(first_bus, _order("before"))).approved
    await first.trip_kill_switch("restart drill", actor="test")
    await first.stop()
    await first_bus.close()

    second_bus = await _connect(fresh_nats_server.url, "risk-second")
    second = await _start(second_bus)
    try:
        state = second.state()
        assert state.trading_state is TradingState.HALTED
        assert state.kill_switch
        verdict = await risk_rpc.request_risk_check(second_bus, _order("after"))
        assert not verdict.approved
        assert [c.rule for c in verdict.checks if not c.passed] == ["kill_switch"]
        await second.reset_kill_switch(actor="test")
        assert (await risk_rpc.request_risk_check(second_bus, _order("reset"))).approved
    finally:
        await second.stop()
        await second_bus.close()

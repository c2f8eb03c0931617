"""Restart safety on a real nats-server: state comes back, and nothing piles up on the server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.unit.risk.conftest import fill_update

from atp.bus import risk_rpc
from atp.bus.nats import NatsBus
from atp.bus.subjects import SIGNALS_NORMALIZED, STREAMS
from atp.core.clock import SystemClock
from atp.core.enums import OrderType, Side, TradingState
from atp.core.events import MarketSignal, envelope_for
from atp.core.ids import SignalId, Symbol
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
    component = RiskComponent(AtpSettings(), clock=SystemClock(), registry=new_registry())
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
        assert state.kill_switch_reason == "restart drill"  # as given, no prefix added
        verdict = await risk_rpc.request_risk_check(second_bus, _order("after"))
        assert not verdict.approved
        assert [c.rule for c in verdict.checks if not c.passed] == ["kill_switch"]
        await second.reset_kill_switch(actor="test")
        assert (await risk_rpc.request_risk_check(second_bus, _order("reset"))).approved
    finally:
        await second.stop()
        await second_bus.close()


async def _consumers(bus: NatsBus) -> set[str]:
    names: set[str] = set()
    for stream in STREAMS:
        for info in await bus._js.consumers_info(stream):
            names.add(info.name)
    return names


async def test_restarts_leave_only_the_two_fixed_consumers_and_marks_come_back(
    fresh_nats_server: EmbeddedNats,
) -> None:
    bus = await _connect(fresh_nats_server.url, "risk-restarts")
    try:
        first = await _start(bus)
        order = _order("held")
        assert (await risk_rpc.request_risk_check(bus, order)).approved
        await first.stop()
        # The position and the last price as the broker and market data would store them.
        await bus.publish(envelope_for(fill_update(order, 10, 100), source="paper",
                                       event_time=datetime.now(UTC)))  # fmt: skip
        moment = datetime(2024, 1, 2, 21, tzinfo=UTC)
        bar = MarketSignal(
            signal_id=SignalId("aapl-restart-bar"),
            symbol=Symbol("AAPL"),
            timeframe="1d",
            timestamp=moment,
            open=Decimal(130),
            high=Decimal(130),
            low=Decimal(130),
            close=Decimal(130),
            volume=Decimal(1),
            feed="test",
        )
        await bus.publish(envelope_for(bar, source="market-data", event_time=moment))
        await bus.close()

        for run in range(3):
            bus = await _connect(fresh_nats_server.url, f"risk-run-{run}")
            component = await _start(bus)
            state = component.state()
            assert state.positions[0].quantity == 10
            assert state.unrealized_pnl == Decimal(300), "marked at the stored bar at once"
            await component.stop()
            assert await _consumers(bus) == {
                "risk-fills__executions_order_update",
                f"risk-marks__{SIGNALS_NORMALIZED.replace('.', '_')}",
            }
            await bus.close()
    finally:
        await bus.close()

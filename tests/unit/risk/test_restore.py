"""Restart and settings of the risk component, on the in-memory bus."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from atp.bus.memory import InMemoryBus
from atp.core.enums import Side, TradingState
from atp.core.events import MarketSignal, envelope_for
from atp.core.ids import SignalId, Symbol
from atp.risk.config import ConcentrationConfig, RiskEngineConfig
from atp.services.risk_wiring import RiskComponent, RiskSettings
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import new_registry

from .conftest import START, clock_at, fill_update, proposal

CONFIG = RiskEngineConfig(concentration=ConcentrationConfig(max_share_of_equity=None))


def _bar(symbol: str, close: str, day: int) -> Any:
    moment = START + timedelta(days=day)
    signal = MarketSignal(
        signal_id=SignalId(f"s-{symbol}-{day}"),
        symbol=Symbol(symbol),
        timeframe="1d",
        timestamp=moment,
        open=Decimal(close),
        high=Decimal(close),
        low=Decimal(close),
        close=Decimal(close),
        volume=Decimal(1),
        feed="test",
    )
    return envelope_for(signal, source="market-data", event_time=moment)


async def _started(bus: InMemoryBus, clock: Any) -> RiskComponent:
    component = RiskComponent(AtpSettings(), clock=clock, registry=new_registry(), config=CONFIG)
    await component.start(bus)
    return component


async def test_after_a_restart_positions_are_marked_at_the_last_stored_price_at_once() -> None:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)
    first = await _started(bus, clock)
    order = proposal("AAPL", Side.BUY, 10)
    assert first.gate.check(order).approved
    await bus.publish(envelope_for(fill_update(order, 10, 100), source="paper", event_time=START))
    await bus.publish(_bar("AAPL", "118", 0))
    await bus.publish(_bar("MSFT", "300", 0))
    await bus.publish(_bar("AAPL", "120", 1))
    before = first.state()
    await first.stop()

    second = await _started(bus, clock)

    after = second.state()
    assert after.unrealized_pnl == Decimal(200) == before.unrealized_pnl
    assert after.gross_exposure == Decimal(1200) == before.gross_exposure
    assert after.equity == before.equity
    assert after.trading_state is TradingState.ACTIVE
    await second.stop()


async def test_the_kill_switch_reason_survives_restarts_unchanged() -> None:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)

    async def restarted(minutes: int) -> RiskComponent:
        clock.advance_to(START + timedelta(minutes=minutes))  # a start takes time
        return await _started(bus, clock)

    first = await _started(bus, clock)
    await first.trip_kill_switch("before restart", actor="ops")
    assert first.state().kill_switch_reason == "before restart"
    await first.stop()
    # Each start publishes a state change of its own ("state restored"), the switch still on.
    for minutes in (1, 2, 3):
        again = await restarted(minutes)
        state = again.state()
        assert state.kill_switch and state.trading_state is TradingState.HALTED
        assert state.kill_switch_reason == "before restart"
        await again.stop()
    again = await restarted(4)
    await again.reset_kill_switch(actor="ops")
    await again.trip_kill_switch("", actor="ops")
    await again.stop()
    last = await restarted(5)
    assert last.state().kill_switch_reason == "no reason given"
    await last.reset_kill_switch(actor="ops")
    await last.stop()
    assert (await restarted(6)).state().kill_switch_reason == ""


async def test_a_block_recorded_in_lower_case_by_an_earlier_version_blocks_the_symbol() -> None:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)
    first = await _started(bus, clock)
    await first.block(Symbol("aapl"), actor="ops")  # as the API passed it on before
    await first.stop()
    second = await _started(bus, clock)
    assert second.state().blocked_symbols == ("AAPL",)
    assert not second.gate.check(proposal("AAPL", Side.BUY, 1)).approved
    await second.stop()


def test_settings_come_from_atp_risk_variables_as_json_or_one_field_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "ATP_RISK_LIMITS",
        '{"daily_loss": {"max_loss": "250", "action": "halted", "day_boundary": "market"},'
        ' "position_caps": {"per_symbol": {"AAPL": {"max_quantity": "50"}}}}',
    )
    monkeypatch.setenv("ATP_RISK_LIMITS__VELOCITY__TOTAL_PER_SECOND", "7")
    monkeypatch.setenv("ATP_RISK_MARK_TAIL", "500")

    component = RiskComponent(AtpSettings(), clock=clock_at(), registry=new_registry())

    limits = component.limits()
    assert limits.daily_loss.max_loss == Decimal(250)
    assert limits.daily_loss.action is TradingState.HALTED
    assert limits.daily_loss.day_boundary == "market"
    assert limits.position_caps.per_symbol["AAPL"].max_quantity == Decimal(50)
    assert limits.velocity.total_per_second == 7
    assert limits.velocity.total_per_minute == 300  # unset fields keep their defaults
    assert component.risk_settings.mark_tail == 500


def test_a_bad_risk_setting_fails_at_start_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATP_RISK_LIMITS", '{"daily_loss": {"action": "active"}}')
    with pytest.raises(ValueError, match="action must be reducing or halted"):
        RiskSettings()

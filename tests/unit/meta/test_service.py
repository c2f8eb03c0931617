"""The service publishes every closed window on decisions.meta and denials on risk.violations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from atp.bus.memory import InMemoryBus
from atp.bus.subjects import DECISIONS_META, RISK_VIOLATIONS
from atp.core.events import Envelope, envelope_for
from atp.services.meta_agent import bootstrap
from atp.services.settings import AtpSettings


async def _collect(bus: InMemoryBus, subject: str) -> list[Envelope[Any]]:
    seen: list[Envelope[Any]] = []

    async def on(envelope: Envelope[Any]) -> None:
        seen.append(envelope)

    await bus.subscribe(subject, durable=f"test-{subject}", handler=on)
    return seen


async def test_denied_decision_is_published_with_its_violation(clock, gate, build) -> None:
    gate.halted = True
    bus = InMemoryBus(clock=clock)
    decisions, violations = (
        await _collect(bus, DECISIONS_META),
        await _collect(bus, RISK_VIOLATIONS),
    )
    service = await bootstrap(AtpSettings(), bus=bus, clock=clock, config=build.config(), gate=gate)
    await service.start()
    try:
        last = None
        for agent in ("momentum", "mean_reversion", "sma_crossover"):
            last = envelope_for(build.intent(agent, "buy"), source="agents", event_time=clock.now())
            await bus.publish(last)
        (decision,) = decisions
        assert decision.payload.approved is False
        assert decision.causation_id == last.event_id
        (violation,) = violations
        assert violation.payload.rule == "kill_switch"
        assert violation.causation_id == decision.event_id
    finally:
        await service.stop()


async def test_timed_out_hold_window_is_published_too(clock, gate, build) -> None:
    bus = InMemoryBus(clock=clock)
    decisions = await _collect(bus, DECISIONS_META)
    service = await bootstrap(AtpSettings(), bus=bus, clock=clock, config=build.config(), gate=gate)
    await service.on_signal(
        envelope_for(build.signal(close="187"), source="md", event_time=clock.now())
    )
    clock.advance_to(clock.now() + timedelta(seconds=3))
    await service.tick()
    (decision,) = decisions
    assert decision.payload.action.value == "hold"
    assert decision.payload.reference_price == Decimal(187)
    assert decision.payload.explanation.startswith("hold: no agent voted.")
    assert "abstained: mean_reversion, momentum, sma_crossover" in decision.payload.explanation

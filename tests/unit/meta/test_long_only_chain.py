"""The live chain on a long-only paper account: agents' sells never reach the venue as shorts.

The meta-agent (with its real risk component) and the broker-adapters run on one in-memory bus,
as `make up` runs them on NATS. Agents ask to sell 25 MSFT: with nothing held the decision says
why and no order is made (the venue used to reject "insufficient position: sell 25 MSFT, held
0"); holding 10, the decision sells the 10 and the venue fills them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from atp.brokers.paper.config import PaperVenueConfig
from atp.bus.memory import InMemoryBus
from atp.bus.subjects import DECISIONS_META, EXECUTIONS_ORDER_UPDATE
from atp.core.clock import SimulatedClock
from atp.core.events import Envelope, envelope_for
from atp.services import broker_adapters, meta_agent
from atp.services.broker_adapters import BrokerAdaptersService, BrokerServiceConfig
from atp.services.meta_agent import MetaAgentService, MetaAgentSettings
from atp.services.settings import AtpSettings

from .conftest import AGENTS, START, make_intent, make_signal


@dataclass
class Platform:
    bus: InMemoryBus
    clock: SimulatedClock
    meta: MetaAgentService
    broker: BrokerAdaptersService
    http: httpx.AsyncClient
    decisions: list[Envelope[Any]]
    updates: list[Envelope[Any]]

    async def publish(self, payload: object) -> None:
        await self.bus.publish(envelope_for(payload, source="test", event_time=self.clock.now()))

    async def bar(self, day: int) -> str:
        """Shows MSFT's bar of `day` (close 400) to both services; returns its signal id."""
        self.clock.advance_to(START + timedelta(days=day))
        signal = f"msft-{day}"
        await self.publish(make_signal("MSFT", signal, "400"))
        return signal

    async def agents_say(self, action: str, quantity: str, signal: str) -> Any:
        """Every agent answers `signal` alike; returns the decision published."""
        for agent in AGENTS:
            await self.publish(
                make_intent(agent, action, quantity, symbol="MSFT", signal=signal, price="400")
            )
        return self.decisions[-1].payload


async def _keep(bus: InMemoryBus, subject: str) -> list[Envelope[Any]]:
    seen: list[Envelope[Any]] = []

    async def keep(envelope: Envelope[Any]) -> None:
        seen.append(envelope)

    await bus.subscribe(subject, durable=f"test-{subject}", handler=keep)
    return seen


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    clock = SimulatedClock(START)
    bus = InMemoryBus(clock=clock)
    decisions = await _keep(bus, DECISIONS_META)
    updates = await _keep(bus, EXECUTIONS_ORDER_UPDATE)
    meta = await meta_agent.bootstrap(
        AtpSettings(meta_agent_port=0),
        bus=bus,
        clock=clock,
        meta_settings=MetaAgentSettings(agents=list(AGENTS), restore=False),
    )
    broker = await broker_adapters.bootstrap(
        AtpSettings(broker_port=0),
        bus=bus,
        clock=clock,
        config=BrokerServiceConfig(paper=PaperVenueConfig(max_volume_share=None)),
    )
    await meta.start()
    await broker.start()
    transport = httpx.ASGITransport(app=broker.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://broker") as http:
            yield Platform(bus, clock, meta, broker, http, decisions, updates)
    finally:
        await broker.stop()
        await meta.stop()


async def test_a_vote_to_sell_with_nothing_held_makes_no_order_and_explains(
    platform: Platform,
) -> None:
    signal = await platform.bar(0)

    decision = await platform.agents_say("sell", "25", signal)

    assert (decision.action.value, decision.quantity, decision.approved) == ("sell", 0, False)
    assert "No order: the vote was to sell 25 MSFT, but none is held" in decision.explanation
    assert platform.updates == [], "the venue was asked nothing, so it rejected nothing"
    assert (await platform.http.get("/orders")).json() == []


async def test_a_vote_to_sell_more_than_is_held_sells_what_is_held(platform: Platform) -> None:
    bought = await platform.agents_say("buy", "10", await platform.bar(0))
    assert bought.approved

    decision = await platform.agents_say("sell", "25", await platform.bar(1))

    assert (decision.quantity, decision.approved) == (10, True)
    assert "Sell capped at the 10 MSFT held (the vote asked for 25)" in decision.explanation
    statuses = [e.payload.status.value for e in platform.updates]
    assert "rejected" not in statuses and statuses.count("filled") == 2
    account = (await platform.http.get("/account")).json()
    assert [p for p in account["positions"] if Decimal(p["quantity"])] == [], "flat, not short"

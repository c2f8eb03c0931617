"""An agent the operator disabled stays disabled across a restart of the agents service.

The disable is published on `control.actions`; a new process on the same nats-server reads it
back before its first bar, so `GET /agents` still says disabled and the next bar gets no intent
from that agent. A change that cannot be published is undone, so the service never shows a
state a restart would lose.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from tests.support import daily_bar

from atp.bus.memory import InMemoryBus
from atp.bus.nats import NatsBus
from atp.bus.subjects import DECISIONS_ORDER_INTENT
from atp.core.clock import SimulatedClock
from atp.core.errors import VenueUnavailable
from atp.core.events import Envelope, envelope_for
from atp.services.agents import AgentsService, bootstrap
from atp.services.embedded_nats import EmbeddedNats
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

START = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


async def _agents(bus: Any) -> AgentsService:
    service = await bootstrap(AtpSettings(agents_port=0), bus=bus, clock=SimulatedClock(START))
    await service.start()
    return service


async def _statuses(service: AgentsService) -> dict[str, str]:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://agents") as client:
        return {a["agent_id"]: a["status"] for a in (await client.get("/agents")).json()}


async def _post(service: AgentsService, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://agents") as client:
        return await client.post(path)


async def _connect(url: str, name: str) -> NatsBus:
    return await NatsBus.connect(url, client_name=name, metrics=BusMetrics(new_registry()))


async def test_a_disabled_agent_is_still_disabled_after_a_restart(
    fresh_nats_server: EmbeddedNats,
) -> None:
    url = fresh_nats_server.url
    first_bus = await _connect(url, "agents-first")
    first = await _agents(first_bus)
    try:
        assert (await _post(first, "/agents/sma_crossover/disable")).status_code == 200
        assert (await _post(first, "/agents/momentum/disable")).status_code == 200
        assert (await _post(first, "/agents/momentum/enable")).status_code == 200
    finally:
        await first.stop()
        await first_bus.close()

    reader = await _connect(url, "intents-reader")
    intents: asyncio.Queue[Envelope[Any]] = asyncio.Queue()
    await reader.subscribe(DECISIONS_ORDER_INTENT, durable="test-intents", handler=intents.put)
    second_bus = await _connect(url, "agents-second")
    second = await _agents(second_bus)
    try:
        assert second.restored == 3
        assert await _statuses(second) == {
            "momentum": "enabled",
            "mean_reversion": "enabled",
            "sma_crossover": "disabled",
        }
        bar = daily_bar("AAPL", 1, "185.25", start=START)
        await reader.publish(envelope_for(bar, source="market-data", event_time=START))
        answered = {(await asyncio.wait_for(intents.get(), 10)).payload.agent_id for _ in "ab"}
        assert answered == {"momentum", "mean_reversion"}
        await asyncio.sleep(0.3)  # a third intent would have arrived by now
        assert intents.empty(), "the disabled agent answered a bar"
    finally:
        await second.stop()
        await second_bus.close()
        await reader.close()


class UnpublishableControlBus(InMemoryBus):
    """An in-memory bus on which control actions cannot be published (NATS is down)."""

    async def publish(self, envelope: Envelope[Any]) -> None:
        if envelope.type == "control.actions":
            raise VenueUnavailable("nats: no servers available for connection")
        await super().publish(envelope)


async def test_a_disable_that_cannot_be_recorded_is_undone_and_the_caller_told() -> None:
    service = await _agents(UnpublishableControlBus())
    try:
        response = await _post(service, "/agents/sma_crossover/disable")
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "venue_unavailable"
        assert (await _statuses(service))["sma_crossover"] == "enabled"
    finally:
        await service.stop()

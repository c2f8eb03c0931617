"""The two services a manual order passes through, on a real nats-server: the meta-agent (which
answers `rpc.risk.check` and hosts the risk API) and the broker-adapters (`POST /orders`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tests.integration.conformance.crash import connect, eventually
from tests.integration.storage.events import story

from atp.bus.nats import NatsBus
from atp.services import broker_adapters, meta_agent
from atp.services.broker_adapters import BrokerAdaptersService
from atp.services.meta_agent import MetaAgentService, MetaAgentSettings
from atp.services.settings import AtpSettings


@dataclass
class ManualOrders:
    """The running services, and a connection of the test's own to publish and read with."""

    risk: MetaAgentService
    broker: BrokerAdaptersService
    publisher: NatsBus


@asynccontextmanager
async def manual_orders(url: str, settings: AtpSettings) -> AsyncIterator[ManualOrders]:
    """Both services on the nats-server at `url`, each with its own connection, ready to fill.

    Yielded once the broker has seen AAPL's price (the bar of `story("AAPL", 0)`), which its
    market orders fill at; stopped and disconnected afterwards.
    """
    publisher = await connect(url, "publisher")
    risk_bus = await connect(url, "meta-agent")
    broker_bus = await connect(url, "broker")
    # The meta-agent answers `rpc.risk.check` for manual orders (no answer = refused).
    risk = await meta_agent.bootstrap(
        settings, bus=risk_bus, meta_settings=MetaAgentSettings(restore=False)
    )
    broker = await broker_adapters.bootstrap(settings, bus=broker_bus)
    await risk.start()
    await broker.start()
    try:
        await publisher.publish(story("AAPL", 0).signal)

        async def priced() -> bool:
            return "AAPL" in broker.engine.last_prices

        await eventually(priced, what="the broker saw AAPL's price")
        yield ManualOrders(risk, broker, publisher)
    finally:
        await broker.stop()
        await risk.stop()
        for bus in (broker_bus, risk_bus, publisher):
            await bus.close()

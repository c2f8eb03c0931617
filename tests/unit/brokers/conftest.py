"""Shared pieces of the broker tests: bars, decisions and a service on the in-memory bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from tests.support import daily_bar, meta_decision

from atp.brokers.paper.config import PaperVenueConfig
from atp.bus.memory import InMemoryBus
from atp.bus.risk_rpc import decode_request, encode_reply
from atp.bus.subjects import RPC_RISK_CHECK
from atp.core.clock import SimulatedClock
from atp.core.enums import Action
from atp.core.events import MarketSignal, MetaDecision, envelope_for
from atp.risk.config import RiskEngineConfig
from atp.risk.engine import RiskEngine
from atp.services.broker_adapters import BrokerAdaptersService, BrokerServiceConfig, bootstrap
from atp.services.settings import AtpSettings

T0 = datetime(2024, 1, 2, 21, tzinfo=UTC)


def signal(symbol: str, day: int, close: str, volume: str = "1000000") -> MarketSignal:
    return daily_bar(symbol, day, close, start=T0, volume=volume)


def decision(
    n: int,
    symbol: str = "AAPL",
    action: Action = Action.BUY,
    quantity: str = "10",
    approved: bool = True,
) -> MetaDecision:
    return meta_decision(
        f"decision-{n}",
        symbol,
        signal_id=f"{symbol}-{n}",
        quantity=quantity,
        reference_price="100",
        decided_at=T0,
        action=action,
        approved=approved,
    )


@dataclass
class Harness:
    bus: InMemoryBus
    clock: SimulatedClock
    service: BrokerAdaptersService
    http: httpx.AsyncClient
    risk: RiskEngine

    async def publish(self, payload: object) -> None:
        await self.bus.publish(envelope_for(payload, source="test", event_time=T0))


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    clock = SimulatedClock(T0)
    bus = InMemoryBus(clock=clock)
    risk = RiskEngine(RiskEngineConfig(), clock=clock)

    async def answer(data: bytes) -> bytes:
        return encode_reply(risk.check(decode_request(data)))

    await bus.respond(RPC_RISK_CHECK, answer)
    config = BrokerServiceConfig(paper=PaperVenueConfig(max_volume_share=None))
    service = await bootstrap(AtpSettings(broker_port=0), bus=bus, clock=clock, config=config)
    await service.start()
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Harness(bus, clock, service, http, risk)
    await service.stop()

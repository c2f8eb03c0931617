"""A meta-agent restarted on a real nats-server shows what the old process showed.

Bars and intents go through a first meta-agent (with its real risk engine, whose position cap
denies some trades), then it stops and a new one starts on the same server: `GET /agents`
(scores, skill, adaptive weights, every agent that voted), `GET /decisions` and
`GET /risk/violations` must answer as they did before the restart, and the server must hold no
consumer the restore left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from atp.bus.nats import NatsBus
from atp.bus.subjects import DECISIONS_META, STREAMS
from atp.core.enums import Action, OrderType
from atp.core.events import Envelope, MarketSignal, OrderIntent, envelope_for
from atp.core.ids import AgentId, IntentId, SignalId, Symbol, derive_id
from atp.risk.config import InstrumentCap, PositionCapConfig, RiskEngineConfig
from atp.services.embedded_nats import EmbeddedNats
from atp.services.meta_agent import MetaAgentService, MetaAgentSettings, bootstrap
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

START = datetime(2024, 3, 1, 21, 0, tzinfo=UTC)
SYMBOL = "RSTR"
CLOSES = ["50", "51", "52", "51.5", "53", "54", "53", "55", "56", "57"]
# A position of at most 25: after two buys of 10 the third is denied by the cap.
LIMITS = RiskEngineConfig(
    position_caps=PositionCapConfig(per_symbol={SYMBOL: InstrumentCap(max_quantity=Decimal(25))})
)
SETTINGS = MetaAgentSettings(
    strategy="weighted",
    threshold=0.5,
    adaptive_weights=True,
    horizon_bars=2,
    agents=["momentum", "mean_reversion"],
    weights={"momentum": 2.0},
)


async def _connect(url: str, name: str) -> NatsBus:
    return await NatsBus.connect(url, client_name=name, metrics=BusMetrics(new_registry()))


async def _meta(url: str, name: str, tmp_path: Path) -> tuple[MetaAgentService, NatsBus]:
    bus = await _connect(url, name)
    service = await bootstrap(
        AtpSettings(nats_url=url, var_dir=tmp_path, meta_agent_port=0),
        bus=bus,
        risk_config=LIMITS,
        meta_settings=SETTINGS,
    )
    await service.start()
    return service, bus


def _bar(n: int) -> MarketSignal:
    price = Decimal(CLOSES[n - 1])
    at = START + timedelta(days=n)
    return MarketSignal(
        SignalId(f"{SYMBOL}-{n}"), Symbol(SYMBOL), "1d", at, price, price, price, price,
        Decimal(1000), "test",
    )  # fmt: skip


def _intent(agent: str, action: str, quantity: str, bar: MarketSignal) -> OrderIntent:
    return OrderIntent(
        IntentId(derive_id("intent", agent, bar.signal_id)), AgentId(agent), agent, bar.symbol,
        bar.signal_id, Action(action), Decimal(quantity), 0.75, bar.close, OrderType.MARKET, None,
        f"{agent} says {action}", bar.timestamp,
    )  # fmt: skip


@pytest.fixture
async def decisions(fresh_nats_server: EmbeddedNats) -> AsyncIterator[asyncio.Queue[Any]]:
    bus = await _connect(fresh_nats_server.url, "decisions-reader")
    queue: asyncio.Queue[Envelope[Any]] = asyncio.Queue()
    await bus.subscribe(DECISIONS_META, durable="test-decisions", handler=queue.put)
    yield queue
    await bus.close()


async def _snapshot(service: MetaAgentService) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
        return {
            path: (await client.get(path, params={"limit": 100})).json()
            for path in ("/agents", "/decisions", "/risk/violations")
        }


async def _consumers(url: str) -> dict[str, int]:
    bus = await _connect(url, "consumer-count")
    try:
        return {name: (await bus._js.stream_info(name)).state.consumer_count for name in STREAMS}
    finally:
        await bus.close()


async def test_a_restarted_meta_agent_shows_the_same_agents_decisions_and_violations(
    fresh_nats_server: EmbeddedNats, decisions: asyncio.Queue[Any], tmp_path: Path
) -> None:
    url = fresh_nats_server.url
    publisher = await _connect(url, "publisher")
    first, first_bus = await _meta(url, "meta-first", tmp_path)
    try:
        for n in range(1, len(CLOSES) + 1):
            bar = _bar(n)
            await publisher.publish(envelope_for(bar, source="market-data", event_time=START))
            # sma_crossover is not configured: the meta-agent discovers it by its intents (sent
            # first, since a window closes once the agents it waits for have answered).
            for agent, action, quantity in (
                ("sma_crossover", "hold", "0"),
                ("momentum", "buy", "10"),
                ("mean_reversion", "sell", "10"),
            ):
                intent = _intent(agent, action, quantity, bar)
                await publisher.publish(envelope_for(intent, source="agents", event_time=START))
            decided = await asyncio.wait_for(decisions.get(), timeout=15)
            assert decided.payload.signal_id == bar.signal_id
        before = await _snapshot(first)
    finally:
        await first.stop()
        await first_bus.close()
    assert {a["agent_id"] for a in before["/agents"]} == {
        "momentum", "mean_reversion", "sma_crossover",
    }  # fmt: skip
    assert before["/risk/violations"], "the position cap must have denied a trade"
    momentum = next(a for a in before["/agents"] if a["agent_id"] == "momentum")
    assert momentum["scored"] and momentum["effective_weight"] != momentum["weight"]
    consumers = await _consumers(url)

    second, second_bus = await _meta(url, "meta-second", tmp_path)
    try:
        after = await _snapshot(second)
        assert after == before
        assert await _consumers(url) == consumers, "the restore left a consumer behind"
    finally:
        await second.stop()
        await second_bus.close()
        await publisher.close()

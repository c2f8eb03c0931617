"""The meta-agent on a real nats-server: intents in, one explained decision out, live control.

Each test runs its own nats-server (`fresh_nats_server`) so that the service's fixed durables
see only this test's events, and the real risk engine runs in the service.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import nats
import pytest

from atp.bus import codec
from atp.bus.nats import NatsBus
from atp.bus.subjects import CONTROL_ACTIONS, DECISIONS_META, DECISIONS_ORDER_INTENT, stream_for
from atp.core.enums import Action, OrderType
from atp.core.events import Envelope, MarketSignal, OrderIntent, envelope_for
from atp.core.ids import AgentId, IntentId, SignalId, Symbol, client_order_id_for, derive_id
from atp.meta.config import AgentConfig, MetaAgentConfig
from atp.services.embedded_nats import EmbeddedNats
from atp.services.meta_agent import MetaAgentService, MetaAgentSettings, bootstrap
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

AGENTS = ("momentum", "mean_reversion", "sma_crossover")
NOW = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


@dataclass
class Harness:
    service: MetaAgentService
    bus: NatsBus
    decisions: asyncio.Queue[Envelope[Any]]
    controls: asyncio.Queue[Envelope[Any]]
    symbol: str


@pytest.fixture
async def harness(fresh_nats_server: EmbeddedNats) -> AsyncIterator[Harness]:
    url = fresh_nats_server.url
    bus = await NatsBus.connect(url, client_name="meta-test", metrics=BusMetrics(new_registry()))
    service_bus = await NatsBus.connect(
        url, client_name="meta-agent", metrics=BusMetrics(new_registry())
    )
    decisions: asyncio.Queue[Envelope[Any]] = asyncio.Queue()
    controls: asyncio.Queue[Envelope[Any]] = asyncio.Queue()

    async def on_decision(envelope: Envelope[Any]) -> None:
        await decisions.put(envelope)

    async def on_control(envelope: Envelope[Any]) -> None:
        await controls.put(envelope)

    await bus.subscribe(DECISIONS_META, durable="test-decisions", handler=on_decision)
    await bus.subscribe(CONTROL_ACTIONS, durable="test-controls", handler=on_control)
    config = MetaAgentConfig(
        agents={name: AgentConfig() for name in AGENTS}, window={"timeout_seconds": 30}
    )
    service = await bootstrap(
        AtpSettings(nats_url=url),
        bus=service_bus,
        config=config,
    )
    await service.start()
    try:
        yield Harness(service, bus, decisions, controls, f"T{uuid.uuid4().hex[:6].upper()}")
    finally:
        await service.stop()
        await service_bus.close()
        await bus.close()


def _intent(symbol: str, agent: str, action: str, quantity: str, signal: str) -> OrderIntent:
    return OrderIntent(
        intent_id=IntentId(derive_id("intent", agent, symbol, signal)),
        agent_id=AgentId(agent),
        strategy=agent,
        symbol=Symbol(symbol),
        signal_id=SignalId(signal),
        action=Action(action),
        quantity=Decimal(quantity),
        confidence=0.7,
        reference_price=Decimal("50.00"),
        order_type=OrderType.MARKET,
        limit_price=None,
        reason=f"{agent} says {action}",
        decided_at=NOW,
    )


async def _send(bus: NatsBus, intents: list[OrderIntent]) -> list[Envelope[Any]]:
    envelopes = [envelope_for(i, source="agents", event_time=NOW) for i in intents]
    for envelope in envelopes:
        await bus.publish(envelope)
    return envelopes


async def _signal(bus: NatsBus, symbol: str, signal: str, close: str) -> None:
    price = Decimal(close)
    bar = MarketSignal(
        SignalId(signal),
        Symbol(symbol),
        "1d",
        NOW,
        price,
        price,
        price,
        price,
        Decimal(1000),
        "test",
    )
    await bus.publish(envelope_for(bar, source="market-data", event_time=NOW))


async def test_three_intents_make_one_explained_decision_and_redelivery_makes_none(
    harness: Harness,
) -> None:
    symbol = harness.symbol
    await _signal(harness.bus, symbol, "bar-1", "50.00")
    sent = await _send(
        harness.bus,
        [
            _intent(symbol, "momentum", "buy", "10", "bar-1"),
            _intent(symbol, "mean_reversion", "hold", "0", "bar-1"),
            _intent(symbol, "sma_crossover", "buy", "20", "bar-1"),
        ],
    )
    envelope = await asyncio.wait_for(harness.decisions.get(), timeout=10)
    decision = envelope.payload
    assert (decision.symbol, decision.action, decision.quantity) == (symbol, Action.BUY, 15)
    assert decision.explanation.startswith(
        "buy 15: 2 of 3 voters (momentum, sma_crossover) voted buy, more than half."
    )
    assert decision.approved, decision.explanation
    assert decision.client_order_id == client_order_id_for(decision.decision_id)
    assert envelope.causation_id in {e.event_id for e in sent}
    assert envelope.correlation_id in {e.event_id for e in sent}

    # The same intent delivered again (stored under a new message id, so JetStream keeps both).
    raw = codec.encode(sent[0])
    await harness.bus.publish_raw(DECISIONS_ORDER_INTENT, raw, message_id=uuid.uuid4().hex)
    # A marker window after it proves the redelivery was consumed before we look.
    await _send(harness.bus, [_intent(symbol, a, "hold", "0", "bar-2") for a in AGENTS])
    marker = await asyncio.wait_for(harness.decisions.get(), timeout=10)
    assert marker.payload.signal_id == "bar-2"
    assert harness.decisions.empty()
    assert harness.service.coordinator.counters.late == 1
    assert harness.service.coordinator.counters.decided == 2


async def test_switching_strategy_over_http_applies_from_the_next_window(
    harness: Harness,
) -> None:
    symbol = harness.symbol
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
        # A window opened under majority stays majority after the switch.
        await _send(harness.bus, [_intent(symbol, "momentum", "buy", "10", "bar-1")])
        await _wait_for_open_window(harness)
        response = await client.put(
            "/strategy", json={"name": "unanimous", "params": {"quorum": 2}}
        )
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "unanimous"
        control = await asyncio.wait_for(harness.controls.get(), timeout=10)
        assert control.payload.action == "meta.set_strategy"
        assert control.payload.parameters["strategy"] == "unanimous"
        assert control.payload.actor.startswith("addr:")

        await _send(
            harness.bus,
            [
                _intent(symbol, "mean_reversion", "hold", "0", "bar-1"),
                _intent(symbol, "sma_crossover", "buy", "10", "bar-1"),
            ],
        )
        first = (await asyncio.wait_for(harness.decisions.get(), timeout=10)).payload
        assert (first.voting_strategy, first.action) == ("majority", Action.BUY)

        await _send(
            harness.bus,
            [
                _intent(symbol, "momentum", "buy", "10", "bar-2"),
                _intent(symbol, "mean_reversion", "hold", "0", "bar-2"),
                _intent(symbol, "sma_crossover", "buy", "10", "bar-2"),
            ],
        )
        second = (await asyncio.wait_for(harness.decisions.get(), timeout=10)).payload
        assert (second.voting_strategy, second.action, second.quorum) == (
            "unanimous",
            Action.HOLD,
            2,
        )
        assert "unanimous needs every voter on one side" in second.explanation

        bad = await client.put("/strategy", json={"name": "plurality"})
        assert bad.status_code == 422
        assert "name" in bad.json()["message"]
        agents = (await client.get("/agents")).json()
        assert [a["agent_id"] for a in agents] == sorted(AGENTS)
        metrics = (await client.get("/metrics")).text
        assert 'atp_meta_decisions_total{action="buy",approved="true",strategy="majority"}' in (
            metrics
        )


async def _wait_for_open_window(harness: Harness) -> None:
    for _ in range(200):
        if harness.service.coordinator.open_windows:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first intent never reached the meta-agent")


async def _control_consumers(url: str) -> set[str]:
    client = await nats.connect(url)
    try:
        infos = await client.jetstream().consumers_info(stream_for(CONTROL_ACTIONS))
        return {info.name for info in infos}
    finally:
        await client.close()


async def test_operator_changes_survive_a_restart_without_leaving_consumers(
    fresh_nats_server: EmbeddedNats,
) -> None:
    url = fresh_nats_server.url
    settings = AtpSettings(nats_url=url)
    known = MetaAgentSettings(agents=list(AGENTS))
    first = await bootstrap(settings, meta_settings=known)
    await first.start()
    try:
        transport = httpx.ASGITransport(app=first.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
            switched = await client.put(
                "/strategy", json={"name": "weighted", "params": {"threshold": 0.55, "quorum": 2}}
            )
            assert switched.status_code == 200, switched.text
            for agent, weight in (("momentum", 2.5), ("sma_crossover", 0.5)):
                response = await client.put(f"/agents/{agent}/weight", json={"weight": weight})
                assert response.status_code == 200, response.text
            assert (await client.post("/agents/mean_reversion/disable")).status_code == 200
    finally:
        await first.stop()
    before = await _control_consumers(url)

    second = await bootstrap(settings, meta_settings=known)
    await second.start()
    try:
        transport = httpx.ASGITransport(app=second.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
            strategy = (await client.get("/strategy")).json()
            agents = {a["agent_id"]: a for a in (await client.get("/agents")).json()}
        assert (strategy["name"], strategy["params"]["threshold"]) == ("weighted", 0.55)
        assert strategy["params"]["quorum"] == 2
        assert {name: (a["weight"], a["enabled"]) for name, a in agents.items()} == {
            "mean_reversion": (1.0, False),
            "momentum": (2.5, True),
            "sma_crossover": (0.5, True),
        }
        # The restart's one-shot reads of control.actions left no consumer on the server.
        assert await _control_consumers(url) == before
    finally:
        await second.stop()

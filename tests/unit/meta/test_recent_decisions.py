"""GET /decisions: the newest coordinated decisions with their explanation, tally and votes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from atp.bus.memory import InMemoryBus
from atp.core.events import envelope_for
from atp.meta.commands import SetVotingStrategy
from atp.meta.config import VotingConfig
from atp.services.meta_agent import MetaAgentService, MetaAgentSettings, bootstrap
from atp.services.settings import AtpSettings


@pytest.fixture
async def service(clock, gate, build) -> AsyncIterator[MetaAgentService]:
    bus = InMemoryBus(clock=clock)
    service = await bootstrap(
        AtpSettings(),
        bus=bus,
        clock=clock,
        config=build.config(),
        gate=gate,
        meta_settings=MetaAgentSettings(recent_decisions=3),
    )
    await service.start()
    yield service
    await service.stop()


async def _window(service: MetaAgentService, build, signal: str, actions: list[str]) -> None:
    for agent, action in zip(("momentum", "mean_reversion", "sma_crossover"), actions, strict=True):
        intent = build.intent(agent, action, "10" if action != "hold" else "0", signal=signal)
        await service.on_intent(envelope_for(intent, source="agents", event_time=intent.decided_at))


async def test_recent_decisions_are_listed_newest_first_with_why(service, build) -> None:
    await _window(service, build, "bar-1", ["buy", "buy", "hold"])
    await _window(service, build, "bar-2", ["sell", "hold", "hold"])
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
        response = await client.get("/decisions", params={"limit": 5})
    assert response.status_code == 200
    newest, oldest = response.json()
    assert (newest["signal_id"], newest["action"]) == ("bar-2", "hold")
    assert newest["explanation"].startswith("hold: 2 of 3 voters (mean_reversion, sma_crossover)")
    assert (oldest["signal_id"], oldest["action"], oldest["quantity"]) == ("bar-1", "buy", "10")
    assert oldest["approved"] is True
    assert oldest["tally"] == {"buy": 2.0, "sell": 0.0, "hold": 1.0, "abstain": 0.0, "voters": 3}
    assert {v["agent_id"]: v["vote"] for v in oldest["votes"]} == {
        "mean_reversion": "buy",
        "momentum": "buy",
        "sma_crossover": "hold",
    }


async def test_decisions_filter_by_strategy_and_keep_only_the_newest(service, build) -> None:
    await _window(service, build, "bar-1", ["buy", "buy", "buy"])
    await service.execute(
        SetVotingStrategy(VotingConfig(strategy="weighted", threshold=0.5)), actor="test"
    )
    for bar in ("bar-2", "bar-3", "bar-4"):
        await _window(service, build, bar, ["buy", "sell", "buy"])
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
        weighted = (await client.get("/decisions", params={"strategy": "weighted"})).json()
        majority = (await client.get("/decisions", params={"strategy": "majority"})).json()
        one = (await client.get("/decisions", params={"limit": 1})).json()
        bad = await client.get("/decisions", params={"strategy": "plurality"})
    # Room for 3: the majority decision of bar-1 was pushed out by the three weighted ones.
    assert [d["signal_id"] for d in weighted] == ["bar-4", "bar-3", "bar-2"]
    assert weighted[0]["explanation"].startswith("buy 10: buy weight 2 of 3 (66.67%)")
    assert majority == []
    assert [d["signal_id"] for d in one] == ["bar-4"]
    assert bad.status_code == 422

"""The control plane as a user drives it: agents, strategy, weights, enable/disable, 422s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from atp.bus.memory import InMemoryBus
from atp.bus.subjects import CONTROL_ACTIONS
from atp.core.events import Envelope
from atp.services.meta_agent import MetaAgentService, bootstrap
from atp.services.settings import AtpSettings


@pytest.fixture
def bus(clock) -> InMemoryBus:
    return InMemoryBus(clock=clock)


@pytest.fixture
async def service(bus, clock, gate, build) -> MetaAgentService:
    return await bootstrap(
        AtpSettings(api_token="s3cret-token-0123456789"),
        bus=bus,
        clock=clock,
        config=build.config(),
        gate=gate,
    )


@pytest.fixture
async def client(service: MetaAgentService) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service.app)
    headers = {"Authorization": "Bearer s3cret-token-0123456789"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://meta", headers=headers
    ) as client:
        yield client


async def _control_actions(bus: InMemoryBus) -> list[Any]:
    seen: list[Envelope[Any]] = []

    async def collect(envelope: Envelope[Any]) -> None:
        seen.append(envelope)

    await bus.subscribe(CONTROL_ACTIONS, durable="test", handler=collect)
    return [e.payload for e in seen]


async def test_get_agents_lists_scores_weights_and_enabled(client) -> None:
    agents = (await client.get("/agents")).json()
    assert [a["agent_id"] for a in agents] == ["mean_reversion", "momentum", "sma_crossover"]
    assert (agents[0]["weight"], agents[0]["enabled"], agents[0]["hit_rate"]) == (1.0, True, None)


async def test_put_strategy_switches_and_publishes_a_control_action(client, bus) -> None:
    response = await client.put(
        "/strategy", json={"name": "confidence_weighted", "params": {"threshold": 0.7}}
    )
    assert response.status_code == 200
    assert response.json()["params"]["threshold"] == 0.7
    assert (await client.get("/strategy")).json()["name"] == "confidence_weighted"
    (action,) = await _control_actions(bus)
    assert action.action == "meta.set_strategy"
    assert action.actor.startswith("token:")
    assert action.parameters["previous"]["strategy"] == "majority"


async def test_weight_disable_and_enable(client, bus) -> None:
    assert (await client.put("/agents/momentum/weight", json={"weight": 2.5})).json()[
        "weight"
    ] == 2.5
    assert (await client.post("/agents/momentum/disable")).json()["enabled"] is False
    assert (await client.post("/agents/momentum/enable")).json()["enabled"] is True
    actions = [a.action for a in await _control_actions(bus)]
    assert actions == ["meta.set_agent_weight", "meta.disable_agent", "meta.enable_agent"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("put", "/strategy", {"name": "plurality"}, "name"),
        ("put", "/strategy", {"name": "weighted", "params": {"threshold": 1.2}}, "threshold"),
        ("put", "/strategy", {"name": "weighted", "params": {"threshold": -0.1}}, "threshold"),
        ("put", "/strategy", {"name": "weighted", "params": {"quorum": 0}}, "quorum"),
        ("put", "/agents/momentum/weight", {"weight": -1}, "weight"),
    ],
)
async def test_bad_input_gets_422_with_the_reason(
    client, service, bus, method, path, body, field
) -> None:
    response = await client.request(method.upper(), path, json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert field in response.json()["message"]
    assert await _control_actions(bus) == []
    assert service.coordinator.voting.strategy == "majority"


async def test_unknown_agent_is_404(client) -> None:
    response = await client.post("/agents/nobody/disable")
    assert response.status_code == 404
    assert "nobody" in response.json()["message"]


async def test_mutations_need_the_token(service) -> None:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as anonymous:
        assert (await anonymous.put("/strategy", json={"name": "weighted"})).status_code == 401
        assert (await anonymous.get("/strategy")).status_code == 200

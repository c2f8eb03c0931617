"""Operator changes survive a restart; `ATP_META_*` settings configure the service."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from atp.bus.memory import InMemoryBus
from atp.core.events import ControlAction, envelope_for
from atp.meta.restore import command_of
from atp.services.meta_agent import MetaAgentService, MetaAgentSettings, bootstrap
from atp.services.settings import AtpSettings


async def _new_service(clock, gate, build, actions: list[ControlAction]) -> MetaAgentService:
    async def history() -> list[ControlAction]:
        return actions

    service = await bootstrap(
        AtpSettings(),
        bus=InMemoryBus(clock=clock),
        clock=clock,
        config=build.config(),
        gate=gate,
        history=history,
    )
    await service.start()
    return service


async def test_a_new_process_rebuilds_strategy_weights_and_flags_from_control_actions(
    clock, gate, build
) -> None:
    bus = InMemoryBus(clock=clock)
    first = await bootstrap(AtpSettings(), bus=bus, clock=clock, config=build.config(), gate=gate)
    await first.start()
    transport = httpx.ASGITransport(app=first.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
        strategy = {"name": "weighted", "params": {"threshold": 0.55, "quorum": 2}}
        assert (await client.put("/strategy", json=strategy)).status_code == 200
        assert (await client.put("/agents/momentum/weight", json={"weight": 2.5})).is_success
        assert (await client.post("/agents/sma_crossover/disable")).is_success
        assert (await client.put("/agents/momentum/weight", json={"weight": 3})).is_success
    await first.stop()
    # Another service's action on the same subject is not the meta-agent's to replay.
    foreign = ControlAction(
        "x-1", "agents", "agents.disable", {"agent_id": "momentum"}, "ops", datetime.now(UTC)
    )
    await bus.publish(envelope_for(foreign, source="agents", event_time=foreign.occurred_at))
    # The default wiring reads the history back through the bus.
    second = await bootstrap(AtpSettings(), bus=bus, clock=clock, config=build.config(), gate=gate)
    await second.start()
    try:
        assert second.restored == 4
        voting = second.strategy()
        assert (voting.strategy, voting.threshold, voting.quorum) == ("weighted", 0.55, 2)
        agents = {a.agent_id: a for a in second.agents()}
        assert agents["momentum"].weight == 3.0
        assert agents["momentum"].enabled is True
        assert agents["sma_crossover"].enabled is False
    finally:
        await second.stop()


async def test_a_weight_of_an_agent_discovered_at_run_time_is_restored(clock, gate, build) -> None:
    now = datetime.now(UTC)
    recorded = ControlAction(
        "c-1",
        "meta-agent",
        "meta.set_agent_weight",
        {"agent_id": "newcomer", "weight": 0.25, "previous_weight": 1.0},
        "token:ops",
        now,
    )
    broken = ControlAction("c-2", "meta-agent", "meta.set_agent_weight", {}, "ops", now)
    with pytest.raises(ValueError, match="c-2"):
        command_of(broken)
    service = await _new_service(clock, gate, build, [recorded, broken])
    try:
        assert service.restored == 1
        assert service.agent("newcomer").weight == 0.25
    finally:
        await service.stop()


def test_settings_come_from_atp_meta_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATP_META_STRATEGY", "confidence_weighted")
    monkeypatch.setenv("ATP_META_THRESHOLD", "0.55")
    monkeypatch.setenv("ATP_META_QUORUM", "2")
    monkeypatch.setenv("ATP_META_WINDOW_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("ATP_META_WEIGHTS", '{"momentum": 2, "sma_crossover": 0.5}')
    monkeypatch.setenv("ATP_META_DISABLED", '["mean_reversion"]')
    # The platform's own setting shares the prefix; it must not break these settings.
    monkeypatch.setenv("ATP_META_AGENT_PORT", "9103")
    config = MetaAgentSettings().to_config()
    assert (config.voting.strategy, config.voting.threshold, config.voting.quorum) == (
        "confidence_weighted",
        0.55,
        2,
    )
    assert config.window.timeout_seconds == 0.5
    assert {name: (a.weight, a.enabled) for name, a in config.agents.items()} == {
        "mean_reversion": (1.0, False),
        "momentum": (2.0, True),
        "sma_crossover": (0.5, True),
    }


def test_bad_settings_are_refused_with_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATP_META_THRESHOLD", "1.5")
    with pytest.raises(ValueError, match="threshold"):
        MetaAgentSettings()


async def test_bootstrap_without_a_config_votes_as_the_settings_say(clock, gate) -> None:
    settings = MetaAgentSettings(strategy="unanimous", quorum=3, agents=["a", "b", "c"])
    service = await bootstrap(
        AtpSettings(), bus=InMemoryBus(clock=clock), clock=clock, gate=gate, meta_settings=settings
    )
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
        strategy = (await client.get("/strategy")).json()
        agents = (await client.get("/agents")).json()
    assert (strategy["name"], strategy["params"]["quorum"]) == ("unanimous", 3)
    assert [a["agent_id"] for a in agents] == ["a", "b", "c"]

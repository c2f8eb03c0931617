"""market-data -> agents on a bus: every bar gets one intent per agent, caused by its signal."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from atp.bus.memory import InMemoryBus
from atp.bus.nats import NatsBus
from atp.bus.subjects import DECISIONS_ORDER_INTENT, SIGNALS_NORMALIZED
from atp.core.clock import SimulatedClock
from atp.core.enums import Action
from atp.core.events import Envelope
from atp.services.agents import bootstrap as agents_bootstrap
from atp.services.market_data import MarketDataSettings
from atp.services.market_data import bootstrap as market_data_bootstrap
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

CLOCK_START = datetime(2025, 1, 1, tzinfo=UTC)


async def _run_flow(
    bus: Any, tmp_path: Path, durable_prefix: str, expected_intents: int
) -> dict[str, list[Envelope[Any]]]:
    settings = AtpSettings(var_dir=tmp_path)
    clock = SimulatedClock(CLOCK_START)
    seen: dict[str, list[Envelope[Any]]] = {"signals": [], "intents": []}
    all_answered = asyncio.Event()

    async def on_intent(envelope: Envelope[Any]) -> None:
        seen["intents"].append(envelope)
        if len(seen["intents"]) >= expected_intents:
            all_answered.set()

    async def on_signal(envelope: Envelope[Any]) -> None:
        seen["signals"].append(envelope)

    await bus.subscribe(
        DECISIONS_ORDER_INTENT, durable=f"{durable_prefix}-i", handler=on_intent, replay=False
    )
    await bus.subscribe(
        SIGNALS_NORMALIZED, durable=f"{durable_prefix}-s", handler=on_signal, replay=False
    )
    agents = await agents_bootstrap(settings, bus=bus, clock=clock)
    market = await market_data_bootstrap(
        settings,
        bus=bus,
        clock=clock,
        config=MarketDataSettings(
            symbols=["AAPL", "MSFT"],
            start=date(2024, 1, 1),
            end=date(2024, 6, 30),
            warmup_bars=40,
            speed=math.inf,
        ),
    )
    await agents.start()
    await market.start()
    await asyncio.wait_for(market.finished.wait(), timeout=60)
    # JetStream delivers asynchronously: wait for every answer (a bound, not a timed assertion).
    await asyncio.wait_for(all_answered.wait(), timeout=60)
    await market.stop()
    seen["agents_status"] = agents.host.statuses()  # type: ignore[assignment]
    seen["app"] = agents.app  # type: ignore[assignment,list-item]
    return seen


def _check(seen: dict[str, Any], signals_expected: int) -> None:
    signals: list[Envelope[Any]] = seen["signals"]
    intents: list[Envelope[Any]] = seen["intents"]
    assert len(signals) == signals_expected
    assert len(intents) == 3 * len(signals)
    by_signal: dict[str, list[Envelope[Any]]] = {}
    for intent in intents:
        by_signal.setdefault(intent.payload.signal_id, []).append(intent)
    for signal in signals:
        answers = by_signal[signal.payload.signal_id]
        assert sorted(a.payload.agent_id for a in answers) == [
            "mean_reversion",
            "momentum",
            "sma_crossover",
        ]
        assert {a.causation_id for a in answers} == {signal.event_id}
        assert {a.correlation_id for a in answers} == {signal.correlation_id}
    assert {i.payload.action for i in intents} == {Action.BUY, Action.SELL, Action.HOLD}


async def test_agents_answer_every_replayed_bar_on_the_in_memory_bus(tmp_path: Path) -> None:
    bus = InMemoryBus(clock=SimulatedClock(CLOCK_START))
    seen = await _run_flow(bus, tmp_path, "flow", 3 * 2 * 164)
    # 40 warm-up sessions before 2024 plus the 124 sessions of 2024-H1, two symbols each.
    _check(seen, 2 * (40 + 124))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=seen["app"]), base_url="http://test"
    ) as client:
        listed = (await client.get("/agents")).json()
        assert [a["agent_id"] for a in listed] == ["momentum", "mean_reversion", "sma_crossover"]
        assert all(a["signals_seen"] == 2 * 164 and a["status"] == "enabled" for a in listed)
        disabled = await client.post("/agents/momentum/disable")
        assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
        missing = await client.post("/agents/nobody/enable")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        metrics = (await client.get("/metrics")).text
        assert 'atp_agents_intents_total{action="hold",agent="momentum"}' in metrics


async def test_agents_answer_every_replayed_bar_on_a_real_nats_server(
    fresh_nats_server: Any, tmp_path: Path
) -> None:
    # A server of its own: the durable "agents" then sees only this test's signals.
    bus = await NatsBus.connect(
        fresh_nats_server.url, client_name="agents-test", metrics=BusMetrics(new_registry())
    )
    try:
        seen = await _run_flow(bus, tmp_path, "flow", 3 * 2 * 164)
    finally:
        await bus.close()
    _check(seen, 2 * 164)

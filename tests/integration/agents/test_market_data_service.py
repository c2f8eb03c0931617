"""The market-data service replays real bars, resumes from its cursor and obeys its controls."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from atp.bus.memory import InMemoryBus
from atp.bus.subjects import CONTROL_ACTIONS, SIGNALS_NORMALIZED
from atp.core.clock import SimulatedClock
from atp.core.events import Envelope
from atp.services.market_data import MarketDataSettings, bootstrap
from atp.services.settings import AtpSettings

CLOCK = SimulatedClock(datetime(2025, 1, 1, tzinfo=UTC))


async def _collect(bus: InMemoryBus, subject: str) -> list[Envelope[Any]]:
    seen: list[Envelope[Any]] = []

    async def handler(envelope: Envelope[Any]) -> None:
        seen.append(envelope)

    await bus.subscribe(subject, durable=f"test-{subject}", handler=handler, replay=False)
    return seen


def _config(end: date, **overrides: Any) -> MarketDataSettings:
    values: dict[str, Any] = {
        "symbols": ["AAPL", "MSFT"],
        "start": date(2024, 1, 1),
        "end": end,
        "warmup_bars": 0,
        "speed": math.inf,
    }
    values.update(overrides)
    return MarketDataSettings(**values)


async def _run_to_end(settings: AtpSettings, bus: InMemoryBus, config: MarketDataSettings) -> Any:
    service = await bootstrap(settings, bus=bus, clock=CLOCK, config=config)
    await service.start()
    await asyncio.wait_for(service.finished.wait(), timeout=60)
    await service.stop()
    return service


async def test_a_second_run_resumes_after_the_last_bar_the_first_published(tmp_path: Path) -> None:
    settings = AtpSettings(var_dir=tmp_path)
    bus = InMemoryBus(clock=CLOCK)
    signals = await _collect(bus, SIGNALS_NORMALIZED)
    first = await _run_to_end(settings, bus, _config(date(2024, 1, 31)))
    assert len(signals) == 2 * 21  # January 2024 has 21 sessions
    assert first.status().done and "data exhausted" in first.status().message
    saved = json.loads((tmp_path / "market-data-cursor.json").read_text())
    assert saved["last_bar_time"] == "2024-01-31T05:00:00+00:00"

    await _run_to_end(settings, bus, _config(date(2024, 2, 29)))
    february = signals[42:]
    assert len(february) == 2 * 20  # resumed at 2024-02-01, nothing republished
    assert february[0].payload.timestamp == datetime(2024, 2, 1, 5, tzinfo=UTC)
    assert [s.payload.symbol for s in february[:2]] == ["AAPL", "MSFT"]


async def test_warm_up_bars_are_replayed_before_the_start(tmp_path: Path) -> None:
    bus = InMemoryBus(clock=CLOCK)
    signals = await _collect(bus, SIGNALS_NORMALIZED)
    service = await _run_to_end(
        AtpSettings(var_dir=tmp_path), bus, _config(date(2024, 1, 5), warmup_bars=3)
    )
    assert len(signals) == 2 * (3 + 4)  # Dec 27-29, then Jan 2-5
    assert service.status().first_bar == datetime(2023, 12, 27, 5, tzinfo=UTC)


async def test_pause_speed_and_resume_answer_over_http_and_are_recorded(tmp_path: Path) -> None:
    now = [0.0]  # a pacing clock that only moves when the test says so
    bus = InMemoryBus(clock=CLOCK)
    signals = await _collect(bus, SIGNALS_NORMALIZED)
    controls = await _collect(bus, CONTROL_ACTIONS)
    service = await bootstrap(
        AtpSettings(var_dir=tmp_path),
        bus=bus,
        clock=CLOCK,
        config=_config(date(2024, 1, 31), speed=1.0),
        monotonic=lambda: now[0],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app), base_url="http://test"
    ) as client:
        await service.start()
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(signals) == 2  # one step due at t=0, the next only at t=1
        paused = (await client.post("/control/pause")).json()
        assert paused["paused"] and paused["message"] == "paused"
        faster = (await client.post("/control/speed", json={"steps_per_second": 1000})).json()
        assert faster["speed"] == 1000
        refused = await client.post("/control/speed", json={"steps_per_second": 0})
        assert refused.status_code == 422
        await client.post("/control/resume")
        now[0] = 1.0
        await asyncio.wait_for(service.finished.wait(), timeout=60)
        status = (await client.get("/status")).json()
        assert status["done"] and status["steps_done"] == 21 and status["bars_published"] == 42
        metrics = (await client.get("/metrics")).text
        assert 'atp_market_data_bars_published_total{symbol="AAPL"} 21.0' in metrics
    await service.stop()
    assert [c.payload.action for c in controls] == ["pause", "speed", "resume"]

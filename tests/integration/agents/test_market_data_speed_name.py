"""The replay's pace has one name, `speed`, in `GET /status` and in `POST /control/speed`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from atp.bus.memory import InMemoryBus
from atp.bus.subjects import CONTROL_ACTIONS
from atp.core.clock import SimulatedClock
from atp.core.events import Envelope
from atp.services.market_data import MarketDataSettings, bootstrap
from atp.services.settings import AtpSettings


async def test_the_speed_status_shows_is_the_name_the_speed_control_takes(tmp_path: Path) -> None:
    clock = SimulatedClock(datetime(2025, 1, 1, tzinfo=UTC))
    bus = InMemoryBus(clock=clock)
    controls: list[Envelope[Any]] = []

    async def on_control(envelope: Envelope[Any]) -> None:
        controls.append(envelope)

    await bus.subscribe(CONTROL_ACTIONS, durable="test", handler=on_control, replay=False)
    config = MarketDataSettings(
        symbols=["AAPL"], start=date(2024, 1, 1), end=date(2024, 1, 31), warmup_bars=0, speed=1.0
    )
    service = await bootstrap(
        AtpSettings(var_dir=tmp_path), bus=bus, clock=clock, config=config, monotonic=lambda: 0.0
    )
    transport = httpx.ASGITransport(app=service.app)
    await service.start()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.post("/control/pause")
            before = (await client.get("/status")).json()
            # What /status shows can be sent back as is.
            same = await client.post("/control/speed", json={"speed": before["speed"] * 20})
            # (Actions at one instant share their id: the clock moves between them.)
            clock.advance_to(datetime(2025, 1, 1, 0, 1, tzinfo=UTC))
            legacy = await client.post("/control/speed", json={"steps_per_second": 7})
            both = await client.post("/control/speed", json={"speed": 3, "steps_per_second": 4})
            neither = await client.post("/control/speed", json={})
            zero = await client.post("/control/speed", json={"speed": 0})
            after = (await client.get("/status")).json()
    finally:
        await service.stop()

    assert before["speed"] == 1.0
    assert same.status_code == 200 and same.json()["speed"] == 20.0
    assert legacy.status_code == 200 and legacy.json()["speed"] == 7.0  # the former name
    for refused in (both, neither, zero):
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_input"
    assert "steps_per_second" in both.json()["message"]
    assert "speed" in neither.json()["message"] and "speed" in zero.json()["message"]
    assert after["speed"] == 7.0  # the refused changes changed nothing
    speeds = [c.payload.parameters for c in controls if c.payload.action == "speed"]
    assert speeds == [{"speed": 20.0}, {"speed": 7.0}]

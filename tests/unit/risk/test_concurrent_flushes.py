"""Concurrent publishers of risk events never lose, duplicate or reorder one."""

from __future__ import annotations

import asyncio
from typing import Any

from atp.bus.memory import InMemoryBus
from atp.bus.subjects import CONTROL_ACTIONS
from atp.core.events import Envelope
from atp.core.ids import Symbol
from atp.services.risk_wiring import RiskComponent
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import new_registry

from .conftest import clock_at


class YieldingBus(InMemoryBus):
    """The in-memory bus, but every publish yields to the event loop first, as NATS does."""

    async def publish(self, envelope: Envelope[Any]) -> None:
        await asyncio.sleep(0)
        await super().publish(envelope)


async def test_concurrent_control_changes_each_publish_exactly_once_in_order() -> None:
    clock = clock_at()
    bus = YieldingBus(clock=clock)
    component = RiskComponent(AtpSettings(), clock=clock, registry=new_registry())
    await component.start(bus)
    seen: list[Envelope[Any]] = []

    async def keep(envelope: Envelope[Any]) -> None:
        seen.append(envelope)

    await bus.subscribe(CONTROL_ACTIONS, durable="watch", handler=keep, replay=False)
    symbols = [Symbol(f"S{i:02d}") for i in range(20)]
    await asyncio.gather(*(component.block(s, actor="test") for s in symbols))
    blocked = [
        e.payload.parameters.get("symbol") for e in seen if e.payload.action == "block_symbol"
    ]
    assert sorted(blocked) == sorted(symbols)
    assert len({e.event_id for e in seen}) == len(seen)
    await component.stop()

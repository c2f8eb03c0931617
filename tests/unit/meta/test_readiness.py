"""The meta-agent is not ready while its risk engine and its earlier runs are being restored.

A launcher or a load balancer sends orders once `/readyz` says 200; until the risk engine has
rebuilt its state every check is refused (`risk_restoring`), so saying ready then is a lie.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from atp.bus.memory import InMemoryBus
from atp.services.meta_agent import bootstrap
from atp.services.settings import AtpSettings


class SlowHistoryBus(InMemoryBus):
    """An in-memory bus whose stored history can be read only once `release` is set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release = asyncio.Event()
        self.reading = asyncio.Event()

    async def history(self, subject: str, *, tail: int | None = None) -> list[Any]:
        self.reading.set()
        await self.release.wait()
        return await super().history(subject, tail=tail)


async def test_readyz_answers_503_until_the_risk_engine_is_restored(clock, build) -> None:
    bus = SlowHistoryBus(clock=clock)
    service = await bootstrap(AtpSettings(), bus=bus, clock=clock, config=build.config())
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
        starting = asyncio.create_task(service.start())
        await asyncio.wait_for(bus.reading.wait(), timeout=5)
        assert service.risk is not None and service.risk.engine.restoring
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["risk"] is False
        bus.release.set()
        await asyncio.wait_for(starting, timeout=10)
        try:
            response = await client.get("/readyz")
            assert response.status_code == 200, response.text
            assert response.json()["checks"] == {"nats": True, "restored": True, "risk": True}
        finally:
            await service.stop()

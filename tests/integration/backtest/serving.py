"""The backtester as the HTTP tests drive it: the seed's request, and a started service's client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from atp.bus.memory import InMemoryBus
from atp.services.backtester import bootstrap
from atp.services.settings import AtpSettings

SEED_BODY = {
    "start_date": "2024-01-01T00:00:00",
    "end_date": "2024-01-31T23:59:59",
    "symbols": ["AAPL", "MSFT"],
    "strategies": ["momentum", "mean_reversion"],
    "initial_balance": 100000,
}


@contextlib.asynccontextmanager
async def serving(
    settings: AtpSettings, bus: InMemoryBus | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the backtester started on `settings`; the service is stopped on exit."""
    service = await bootstrap(settings, bus=bus or InMemoryBus())
    await service.start()
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await service.stop()

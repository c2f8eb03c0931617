"""broker-adapters' `/readyz` says whether its database answers, not only NATS and the venues."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.support import free_port

from atp.bus.memory import InMemoryBus
from atp.services import broker_adapters
from atp.services.broker_adapters import BrokerAdaptersService
from atp.services.settings import AtpSettings


async def _readyz(service: BrokerAdaptersService) -> httpx.Response:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://broker") as client:
        return await client.get("/readyz")


async def test_readyz_is_503_naming_the_database_when_it_does_not_answer(tmp_path: Path) -> None:
    # Nothing listens on this port: the configured PostgreSQL is down.
    url = f"postgresql://atp@127.0.0.1:{free_port()}/atp"
    settings = AtpSettings(var_dir=tmp_path, database_url=url, broker_port=0)
    service = await broker_adapters.bootstrap(settings, bus=InMemoryBus())
    for adapter in service.engine.adapters.values():
        await adapter.connect()  # the venue is fine: only the database is missing
    try:
        response = await _readyz(service)
        assert response.status_code == 503
        assert response.json()["checks"] == {"nats": True, "database": False, "adapter:paper": True}
    finally:
        await service.stop()


async def test_readyz_is_200_once_started_on_a_database_that_answers(tmp_path: Path) -> None:
    settings = AtpSettings(
        var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'atp.db'}", broker_port=0
    )
    service = await broker_adapters.bootstrap(settings, bus=InMemoryBus())
    await service.start()
    try:
        response = await _readyz(service)
        assert response.status_code == 200, response.text
        assert response.json()["checks"]["database"] is True
    finally:
        await service.stop()

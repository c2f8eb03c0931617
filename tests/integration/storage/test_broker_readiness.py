"""broker-adapters on PostgreSQL stops saying ready when its database goes away while it runs."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from atp.bus.memory import InMemoryBus
from atp.services import broker_adapters
from atp.services.settings import AtpSettings

pytestmark = pytest.mark.postgres


async def test_readyz_turns_503_when_the_database_is_dropped_under_a_running_service(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = AtpSettings(var_dir=tmp_path, database_url=postgres_url, broker_port=0)
    service = await broker_adapters.bootstrap(settings, bus=InMemoryBus())
    await service.start()
    transport = httpx.ASGITransport(app=service.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://broker") as client:
            assert (await client.get("/readyz")).status_code == 200
            url = make_url(postgres_url)
            admin = await asyncpg.connect(
                url.set(drivername="postgresql", database="postgres").render_as_string(
                    hide_password=False
                )
            )
            try:
                await admin.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')
            finally:
                await admin.close()
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"]["database"] is False
    finally:
        await service.stop()

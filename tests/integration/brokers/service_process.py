"""Runs the broker-adapters service as its own process, with a short ack wait for tests.

`python service_process.py` reads the usual ATP_ settings; the only difference from
`atp serve broker-adapters` is that unacknowledged deliveries come back after one second
instead of thirty, so a kill-and-restart test does not wait half a minute.
"""

from __future__ import annotations

import asyncio

from atp.bus.nats import NatsBus
from atp.services.broker_adapters import bootstrap
from atp.services.runtime import configure_logging, serve
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry


async def main() -> None:
    settings = AtpSettings()
    configure_logging(settings)
    url = settings.effective_nats_url
    bus = await NatsBus.connect(
        url, client_name="broker-adapters", metrics=BusMetrics(new_registry()), ack_wait=1.0
    )
    service = await bootstrap(settings, bus=bus)
    try:
        await serve(service, settings)
    finally:
        await bus.close()


if __name__ == "__main__":
    asyncio.run(main())

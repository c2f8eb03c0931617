"""Running a service: connect its adapters, serve its HTTP app, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from atp.services.settings import AtpSettings

log = logging.getLogger(__name__)


class Service(Protocol):
    """A deployable: its HTTP app and the lifecycle of its consumers and loops."""

    name: str
    app: FastAPI
    port: int

    async def start(self) -> None:
        """Subscribes consumers and starts background loops; returns once running."""
        ...

    async def stop(self) -> None:
        """Stops loops, drains consumers and closes connections."""
        ...


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to us, so the service stops in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Installs nothing: `serve` handles SIGINT/SIGTERM on the event loop."""
        yield


def configure_logging(settings: AtpSettings) -> None:
    """One log format for every service: time, level, logger, message."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


async def serve(service: Service, settings: AtpSettings) -> None:
    """Starts `service`, serves its app until SIGINT/SIGTERM, then stops it."""
    config = uvicorn.Config(
        service.app,
        host=settings.host,
        port=service.port,
        log_level="warning",
        lifespan="off",
    )
    server = _QuietServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    server_task = asyncio.create_task(server.serve())
    log.info("%s listening on http://%s:%d", service.name, settings.host, service.port)
    stop_task = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        await asyncio.gather(server_task, return_exceptions=True)
        stop_task.cancel()
        await service.stop()
        log.info("%s stopped", service.name)

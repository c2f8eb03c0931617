"""Kill the broker-adapters process mid-stream, restart it: every order exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.js.errors
import pytest
from tests.support import free_port

from atp.bus.nats import NatsBus
from atp.bus.nats_streams import checked_stream, consumer_name
from atp.bus.subjects import EXECUTIONS_ORDER_UPDATE, SIGNALS_NORMALIZED
from atp.core.enums import OrderStatus
from atp.core.events import Envelope, envelope_for
from atp.services.broker_adapters import MARKS_DURABLE
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry

from .orders_data import decision, signal_for

SCRIPT = Path(__file__).with_name("service_process.py")
ORDERS = 40


class ServiceProcess:
    """The service as a child process on a free port."""

    def __init__(self, nats_url: str, var_dir: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "ATP_NATS_URL": nats_url,
            "ATP_BROKER_PORT": str(self.port),
            "ATP_VAR_DIR": str(var_dir),
            "ATP_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(SCRIPT)], env=self.env)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    async def ready(self) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("the broker service did not become ready")


async def _marks_read(url: str) -> None:
    """Waits until the service's prices consumer has acknowledged every stored bar."""
    client = await nats.connect(url)
    try:
        stream = checked_stream(SIGNALS_NORMALIZED)
        name = consumer_name(SIGNALS_NORMALIZED, MARKS_DURABLE)
        js = client.jetstream()
        for _ in range(400):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                info = await js.consumer_info(stream, name)
                if not info.num_pending and not info.num_ack_pending and info.delivered.stream_seq:
                    return
            await asyncio.sleep(0.025)
    finally:
        await client.close()
    raise AssertionError("the broker service did not read the price")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    nats = EmbeddedNats(tmp_path / "nats", free_port())
    with nats:
        yield nats


async def test_a_killed_service_restarts_with_every_order_exactly_once(
    server: EmbeddedNats, tmp_path: Path
) -> None:
    bus = await NatsBus.connect(
        server.url, client_name="pytest", metrics=BusMetrics(new_registry())
    )
    seen: list[Envelope[Any]] = []
    filled: set[str] = set()

    async def keep(envelope: Envelope[Any]) -> None:
        seen.append(envelope)
        if envelope.payload.status is OrderStatus.FILLED:
            filled.add(envelope.payload.client_order_id)

    await bus.subscribe(EXECUTIONS_ORDER_UPDATE, durable="kill-test", handler=keep)
    service = ServiceProcess(server.url, tmp_path / "var")
    service.start()
    try:
        await service.ready()
        await bus.publish(
            envelope_for(signal_for(0), source="test", event_time=signal_for(0).timestamp)
        )
        # Prices and decisions come on two consumers: without a price yet the venue rightly
        # rejects a market order ('no market price for KILL yet'), so decide once it has one.
        await _marks_read(server.url)
        decisions = [decision(n) for n in range(ORDERS)]
        for meta in decisions[: ORDERS // 2]:
            await bus.publish(envelope_for(meta, source="test", event_time=meta.decided_at))
        for _ in range(400):
            if len(filled) >= 5:
                break
            await asyncio.sleep(0.01)
        service.kill()  # mid-stream: some decisions handled, some in flight, some not read
        for meta in decisions[ORDERS // 2 :]:
            await bus.publish(envelope_for(meta, source="test", event_time=meta.decided_at))
        service.start()
        await service.ready()
        for _ in range(600):
            if len(filled) == ORDERS:
                break
            await asyncio.sleep(0.05)
        last = {e.payload.client_order_id: (e.payload.status, e.payload.reason) for e in seen}
        assert filled == {str(m.client_order_id) for m in decisions}, (
            len(filled),
            set(last.values()),
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
            orders = (await http.get("/orders")).json()
            positions = (await http.get("/positions")).json()
            account = (await http.get("/account")).json()
    finally:
        service.stop()
        await bus.close()
    assert sorted(o["client_order_id"] for o in orders) == sorted(
        str(m.client_order_id) for m in decisions
    )
    assert all(o["status"] == "filled" and len(o["fills"]) == 1 for o in orders)
    fill_ids = {e.payload.fill.fill_id for e in seen if e.payload.fill is not None}
    assert len(fill_ids) == ORDERS  # every order filled once, nothing booked twice
    assert [(p["symbol"], Decimal(p["quantity"])) for p in positions] == [
        ("KILL", Decimal(ORDERS * 2))
    ]
    assert Decimal(account["cash"]) == Decimal(100_000) - ORDERS * 2 * Decimal("50.25")

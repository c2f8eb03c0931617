"""EmbeddedNats used from async code: `async with` starts a JetStream server and stops it."""

from __future__ import annotations

from pathlib import Path

from tests.support import free_port

from atp.bus.nats import NatsBus
from atp.services.embedded_nats import EmbeddedNats, probe_nats
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import SUBJECT, Collector, signal, unique_symbol


async def test_async_context_serves_jetstream_and_stops_the_server_on_exit(
    tmp_path: Path,
) -> None:
    port = free_port()
    symbol = unique_symbol()
    async with EmbeddedNats(tmp_path / "var" / "nats", port) as server:
        bus = await NatsBus.connect(
            server.url, client_name="async-cm", metrics=BusMetrics(new_registry())
        )
        collector = Collector(symbol)
        try:
            await bus.subscribe(SUBJECT, durable="async-cm", handler=collector)
            await bus.publish(signal(symbol, 0))
            received = await collector.wait_for(1)
        finally:
            await bus.close()
        assert server.owns_process

    assert [e.event_id for e in received] == [signal(symbol, 0).event_id]
    assert probe_nats("127.0.0.1", port) is None
    assert (tmp_path / "var" / "nats" / "jetstream").is_dir()

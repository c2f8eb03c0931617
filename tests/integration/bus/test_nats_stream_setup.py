"""NatsBus.connect sets up JetStream: every stream exists as specified, however many services
connect at once, and a stream whose settings drifted is brought back without losing events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import nats
from nats.js import api

from atp.bus import codec
from atp.bus.nats import NatsBus
from atp.bus.nats_streams import DUPLICATE_WINDOW_SECONDS
from atp.bus.subjects import STREAMS
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import SUBJECT, Collector, signal, unique_symbol


async def _connect(url: str, name: str) -> NatsBus:
    return await NatsBus.connect(url, client_name=name, metrics=BusMetrics(new_registry()))


async def test_services_connecting_at_once_all_start_and_every_stream_is_set_up(
    fresh_nats_server: EmbeddedNats,
) -> None:
    buses = await asyncio.gather(
        *(_connect(fresh_nats_server.url, f"service-{n}") for n in range(6))
    )
    try:
        assert all(bus.is_connected for bus in buses)
        operator = await nats.connect(fresh_nats_server.url)
        try:
            jsm = operator.jetstream()
            configs = {name: (await jsm.stream_info(name)).config for name in STREAMS}
        finally:
            await operator.close()
    finally:
        await asyncio.gather(*(bus.close() for bus in buses))

    for name, pattern in STREAMS.items():
        config = configs[name]
        assert config.subjects == [pattern]
        assert config.storage == api.StorageType.FILE
        assert config.duplicate_window == DUPLICATE_WINDOW_SECONDS


async def test_a_drifted_stream_is_corrected_on_connect_and_keeps_its_events(
    fresh_nats_server: EmbeddedNats, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    stored = signal(symbol, 0)
    operator = await nats.connect(fresh_nats_server.url)
    try:
        jsm = operator.jetstream()
        # Someone made the stream by hand with a one-second duplicate window.
        await jsm.add_stream(
            name="SIGNALS", subjects=["signals.>"], storage=api.StorageType.FILE,
            duplicate_window=1.0,
        )  # fmt: skip
        js = operator.jetstream()
        await js.publish(SUBJECT, codec.encode(stored), headers={"Nats-Msg-Id": stored.event_id})
        bus = await _connect(fresh_nats_server.url, "fixer")
        try:
            window = (await jsm.stream_info("SIGNALS")).config.duplicate_window
            # Still within the window, the event stored before the update is recognised.
            await bus.publish(stored)
            collector = Collector(symbol)
            await bus.subscribe(SUBJECT, durable=unique_durable("drift"), handler=collector)
            received = await collector.wait_for(1)
            messages = (await jsm.stream_info("SIGNALS")).state.messages
        finally:
            await bus.close()
    finally:
        await operator.close()

    assert window == DUPLICATE_WINDOW_SECONDS
    assert bus.metrics.duplicates.labels(SUBJECT)._value.get() == 1
    assert [e.event_id for e in received] == [stored.event_id]
    assert messages == 1

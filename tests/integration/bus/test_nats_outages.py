"""NatsBus when NATS is away: it fails fast and clearly, it comes back on its own, and a publish
whose outcome was unknown can be repeated safely. And a stalled consumer holds back the rest."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import nats
import pytest

from atp.bus.nats import NatsBus
from atp.bus.nats_streams import consumer_name
from atp.bus.subjects import stream_for
from atp.core.errors import VenueUnavailable
from atp.core.events import Envelope
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import SUBJECT, Collector, signal, unique_symbol


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _until(condition: Callable[[], bool], *, within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


async def test_connecting_where_no_server_runs_fails_with_venue_unavailable() -> None:
    url = f"nats://127.0.0.1:{_unused_port()}"

    with pytest.raises(VenueUnavailable, match="cannot connect"):
        await NatsBus.connect(
            url, client_name="nowhere", metrics=BusMetrics(new_registry()), connect_timeout=0.5
        )


async def test_a_publish_during_an_outage_fails_and_its_retry_is_stored_once(
    fresh_nats_server: EmbeddedNats, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    event, marker = signal(symbol, 0), signal(symbol, 1)
    bus = await NatsBus.connect(
        fresh_nats_server.url, client_name="outage", metrics=BusMetrics(new_registry()),
        publish_timeout=0.3, publish_attempts=2,
    )  # fmt: skip
    collector = Collector(symbol)
    try:
        await asyncio.to_thread(fresh_nats_server.stop)
        await _until(lambda: not bus.is_connected)
        with pytest.raises(VenueUnavailable, match="may be stored"):
            await bus.publish(event)

        await asyncio.to_thread(fresh_nats_server.start)
        await _until(lambda: bus.is_connected)
        # The caller cannot know whether the failed publish was stored: it publishes again.
        await bus.publish(event)
        await bus.publish(marker)
        await bus.subscribe(SUBJECT, durable=unique_durable("outage"), handler=collector)
        await collector.wait_for(2)
    finally:
        await bus.close()

    assert collector.event_ids == [event.event_id, marker.event_id]


async def test_a_stalled_consumer_holds_at_most_max_ack_pending_events(
    fresh_nats_server: EmbeddedNats, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    durable = unique_durable("stalled")
    release = asyncio.Event()
    seen: list[str] = []

    async def stalled(envelope: Envelope[Any]) -> None:
        seen.append(envelope.event_id)
        await release.wait()

    events = [signal(symbol, day) for day in range(12)]
    bus = await NatsBus.connect(
        fresh_nats_server.url, client_name="stalled", metrics=BusMetrics(new_registry()),
        max_ack_pending=4,
    )  # fmt: skip
    operator = await nats.connect(fresh_nats_server.url)
    try:
        for event in events:
            await bus.publish(event)
        await bus.subscribe(SUBJECT, durable=durable, handler=stalled)
        await _until(lambda: len(seen) == 1)
        info = await operator.jetstream().consumer_info(
            stream_for(SUBJECT), consumer_name(SUBJECT, durable)
        )
        release.set()
        await _until(lambda: len(seen) == len(events))
    finally:
        release.set()
        await operator.close()
        await bus.close()

    # The server hands out no more than 4 unacknowledged events; the rest wait in the stream.
    assert (info.num_ack_pending, info.num_pending) == (4, len(events) - 4)
    assert seen == [e.event_id for e in events]

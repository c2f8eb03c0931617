"""NatsBus across nats-server restarts, and request/reply on core NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from atp.bus.nats import NatsBus
from atp.core.errors import InvalidInput, VenueUnavailable
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import SUBJECT, Collector, signal, unique_symbol


async def _connect(url: str, name: str) -> NatsBus:
    return await NatsBus.connect(url, client_name=name, metrics=BusMetrics(new_registry()))


async def test_restarted_server_keeps_stored_events_for_a_new_consumer(
    fresh_nats_server: EmbeddedNats, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    events = [signal(symbol, day) for day in range(3)]
    publisher = await _connect(fresh_nats_server.url, "before-restart")
    for event in events:
        await publisher.publish(event)
    await publisher.close()

    await asyncio.to_thread(fresh_nats_server.stop)
    await asyncio.to_thread(fresh_nats_server.start)

    consumer = await _connect(fresh_nats_server.url, "after-restart")
    collector = Collector(symbol)
    try:
        await consumer.subscribe(SUBJECT, durable=unique_durable("late"), handler=collector)
        received = await collector.wait_for(3)
    finally:
        await consumer.close()
    assert [e.event_id for e in received] == [e.event_id for e in events]


async def test_connected_consumer_carries_on_after_a_server_restart(
    fresh_nats_server: EmbeddedNats, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    bus = await _connect(fresh_nats_server.url, "survivor")
    collector = Collector(symbol)
    try:
        await bus.subscribe(SUBJECT, durable=unique_durable("survivor"), handler=collector)
        await bus.publish(signal(symbol, 0))
        await collector.wait_for(1)

        await asyncio.to_thread(fresh_nats_server.stop)
        await asyncio.to_thread(fresh_nats_server.start)
        await bus.publish(signal(symbol, 1))
        received = await collector.wait_for(2, within=20)
    finally:
        await bus.close()
    assert [e.event_id for e in received] == [signal(symbol, d).event_id for d in (0, 1)]


async def test_request_gets_the_responders_answer(nats_bus: NatsBus) -> None:
    subject = f"rpc.test.echo{uuid.uuid4().hex[:8]}"

    async def shout(data: bytes) -> bytes:
        return data.upper()

    await nats_bus.respond(subject, shout)

    assert await nats_bus.request(subject, b"buy 10 aapl", timeout=2) == b"BUY 10 AAPL"


async def test_request_nobody_answers_is_venue_unavailable(nats_bus: NatsBus) -> None:
    with pytest.raises(VenueUnavailable, match="nobody answers"):
        await nats_bus.request(f"rpc.test.none{uuid.uuid4().hex[:8]}", b"?", timeout=1)


async def test_slow_or_failing_responder_is_venue_unavailable(nats_bus: NatsBus) -> None:
    slow_subject = f"rpc.test.slow{uuid.uuid4().hex[:8]}"
    failing_subject = f"rpc.test.fail{uuid.uuid4().hex[:8]}"
    release = asyncio.Event()

    async def slow(data: bytes) -> bytes:
        await release.wait()
        return data

    async def failing(data: bytes) -> bytes:
        raise RuntimeError("risk engine down")

    await nats_bus.respond(slow_subject, slow)
    await nats_bus.respond(failing_subject, failing)
    try:
        with pytest.raises(VenueUnavailable, match="no answer"):
            await nats_bus.request(slow_subject, b"?", timeout=0.2)
        with pytest.raises(VenueUnavailable, match="no answer"):
            await nats_bus.request(failing_subject, b"?", timeout=0.2)
    finally:
        release.set()


async def test_rpc_outside_the_rpc_subjects_is_refused(nats_bus: NatsBus) -> None:
    # A request on a stored subject would be captured and acknowledged by JetStream.
    with pytest.raises(InvalidInput, match="rpc"):
        await nats_bus.request(SUBJECT, b"?", timeout=1)

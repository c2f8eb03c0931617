"""NatsBus consumers under strain: slow handlers in a scaled-out service, and a dead-letter
stream that is briefly unavailable."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import nats

from atp.bus.dead_letter import HANDLER_FAILED
from atp.bus.nats import NatsBus
from atp.core.events import Envelope
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import SUBJECT, Collector, signal, unique_symbol


async def test_a_handler_slower_than_ack_wait_is_not_run_twice_by_a_second_instance(
    nats_server: str, unique_durable: Callable[[str], str]
) -> None:
    # Two instances of one service share a durable. If the instance holding a slow event let
    # its ack deadline pass, the server would hand the event to the other instance as well.
    symbol = unique_symbol()
    durable = unique_durable("scaled")
    slow, marker = signal(symbol, 0), signal(symbol, 1)
    calls: Counter[str] = Counter()
    done = Collector(symbol)

    async def handler(envelope: Envelope[Any]) -> None:
        calls[envelope.event_id] += 1
        if envelope.event_id == slow.event_id:
            await asyncio.sleep(3.0)
        await done(envelope)

    instances = [
        await NatsBus.connect(
            nats_server, client_name=f"scaled-{n}", metrics=BusMetrics(new_registry()),
            ack_wait=1.0,
        )
        for n in range(2)
    ]  # fmt: skip
    try:
        for bus in instances:
            await bus.subscribe(SUBJECT, durable=durable, handler=handler, replay=False)
        await instances[0].publish(slow)
        await done.wait_for(1)
        await instances[0].publish(marker)
        await done.wait_for(2)
    finally:
        for bus in instances:
            await bus.close()

    assert calls == {slow.event_id: 1, marker.event_id: 1}


async def test_a_dead_letter_that_cannot_be_stored_is_stored_once_the_stream_is_back(
    fresh_nats_server: EmbeddedNats, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    durable = unique_durable("dlq-outage")
    poison = signal(symbol, 0)
    attempts: list[str] = []
    bus = await NatsBus.connect(
        fresh_nats_server.url, client_name="dlq-outage", metrics=BusMetrics(new_registry()),
        max_deliver=2, ack_wait=0.5, publish_timeout=0.2, publish_attempts=1,
    )  # fmt: skip
    stored_back = asyncio.Event()

    async def handler(envelope: Envelope[Any]) -> None:
        attempts.append(envelope.event_id)
        if len(attempts) == 2:
            # The last allowed delivery: the dead-letter stream is gone when it fails.
            operator = await nats.connect(fresh_nats_server.url)
            await operator.jetstream().delete_stream("DLQ")
            await operator.close()
            stored_back.set()
        raise RuntimeError("cannot handle")

    try:
        await bus.subscribe(SUBJECT, durable=durable, handler=handler)
        await bus.publish(poison)
        await stored_back.wait()
        # An operator (or the next service to connect) puts the stream back.
        other = await NatsBus.connect(
            fresh_nats_server.url, client_name="restorer", metrics=BusMetrics(new_registry())
        )
        await other.close()
        letters = await _wait_for_dead_letters(bus)
    finally:
        await bus.close()

    assert attempts == [poison.event_id, poison.event_id]
    assert [(d.consumer, d.reason_kind, d.deliveries) for d in letters] == [
        (durable, HANDLER_FAILED, 2)
    ]
    assert letters[0].reason == repr(RuntimeError("cannot handle"))


async def _wait_for_dead_letters(bus: NatsBus) -> list[Any]:
    """Polls the dead-letter stream until it holds a letter for SUBJECT."""
    async with asyncio.timeout(15):
        while True:
            letters = await bus.dead_letters(SUBJECT)
            if letters:
                return letters
            await asyncio.sleep(0.1)

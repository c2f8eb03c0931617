"""NatsBus dead-lettering on a real nats-server: bad messages and failing handlers never block."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from atp.bus.dead_letter import HANDLER_FAILED, INVALID
from atp.bus.nats import NatsBus
from atp.core.events import Envelope
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import SUBJECT, Collector, counter, signal, unique_symbol


async def test_invalid_message_is_dead_lettered_and_the_next_event_still_arrives(
    nats_bus: NatsBus, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    durable = unique_durable("dlq")
    collector = Collector(symbol)
    await nats_bus.subscribe(SUBJECT, durable=durable, handler=collector, replay=False)
    garbage = b'{"type": "signals.normalized", "payload": "not a bar"}'
    await nats_bus.publish_raw(SUBJECT, garbage, message_id=uuid.uuid4().hex)
    valid = signal(symbol, 0)
    await nats_bus.publish(valid)

    assert (await collector.wait_for(1))[0].event_id == valid.event_id
    letters = [d for d in await nats_bus.dead_letters(SUBJECT) if d.consumer == durable]
    assert len(letters) == 1
    assert letters[0].reason_kind == INVALID
    assert letters[0].data == garbage
    assert letters[0].subject == SUBJECT
    assert "schema signals.normalized" in letters[0].reason
    assert counter(nats_bus.metrics, "dead_letters", SUBJECT, INVALID) == 1
    assert counter(nats_bus.metrics, "consumed", SUBJECT) == 1


async def test_bytes_that_are_not_json_are_kept_exactly_in_the_dead_letter(
    nats_bus: NatsBus, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    durable = unique_durable("binary")
    collector = Collector(symbol)
    await nats_bus.subscribe(SUBJECT, durable=durable, handler=collector, replay=False)
    garbage = bytes([0xFF, 0x00, 0xFE]) + uuid.uuid4().bytes
    await nats_bus.publish_raw(SUBJECT, garbage, message_id=uuid.uuid4().hex)
    await nats_bus.publish(signal(symbol, 0))
    await collector.wait_for(1)

    letters = [d for d in await nats_bus.dead_letters(SUBJECT) if d.consumer == durable]
    assert [(d.data, d.reason_kind) for d in letters] == [(garbage, INVALID)]
    assert letters[0].reason.startswith("not JSON")


async def test_failing_handler_is_redelivered_up_to_max_deliver_then_dead_lettered(
    nats_server: str, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    durable = unique_durable("fails")
    bus = await NatsBus.connect(
        nats_server, client_name="failing", metrics=BusMetrics(new_registry()), max_deliver=3
    )
    poison = signal(symbol, 0)
    healthy = signal(symbol, 1)
    attempts: list[str] = []
    delivered = Collector(symbol)

    async def handler(envelope: Envelope[Any]) -> None:
        if envelope.event_id == poison.event_id:
            attempts.append(envelope.event_id)
            raise RuntimeError("strategy blew up")
        await delivered(envelope)

    try:
        await bus.subscribe(SUBJECT, durable=durable, handler=handler, replay=False)
        await bus.publish(poison)
        await bus.publish(healthy)
        await delivered.wait_for(1)
        letters = await _wait_for_letters(bus, durable, 1)
    finally:
        await bus.close()

    assert delivered.event_ids == [healthy.event_id]
    assert attempts == [poison.event_id] * 3
    assert len(letters) == 1
    letter = letters[0]
    assert letter.reason_kind == HANDLER_FAILED
    assert letter.reason == repr(RuntimeError("strategy blew up"))
    assert letter.deliveries == 3
    assert poison.event_id.encode() in letter.data
    assert counter(bus.metrics, "handler_errors", SUBJECT) == 3
    assert counter(bus.metrics, "dead_letters", SUBJECT, HANDLER_FAILED) == 1


async def _wait_for_letters(bus: NatsBus, durable: str, count: int) -> list[Any]:
    """Polls the dead-letter stream until `count` letters of `durable` are there."""
    async with asyncio.timeout(10):
        while True:
            letters = [d for d in await bus.dead_letters(SUBJECT) if d.consumer == durable]
            if len(letters) >= count:
                return letters
            await asyncio.sleep(0.05)

"""NatsBus on a real nats-server: stored once, delivered in order, resumed after a restart."""

from __future__ import annotations

from collections.abc import Callable

from atp.bus.nats import NatsBus
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import SUBJECT, Collector, counter, signal, unique_symbol


async def test_republished_event_is_stored_once_and_delivered_once(
    nats_bus: NatsBus, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    event = signal(symbol, 0)
    await nats_bus.publish(event)
    await nats_bus.publish(event)
    await nats_bus.publish(signal(symbol, 1))
    collector = Collector(symbol)
    await nats_bus.subscribe(SUBJECT, durable=unique_durable("once"), handler=collector)

    received = await collector.wait_for(2)

    assert [e.event_id for e in received] == [event.event_id, signal(symbol, 1).event_id]
    assert received[0] == event
    assert counter(nats_bus.metrics, "published", SUBJECT) == 2
    assert counter(nats_bus.metrics, "duplicates", SUBJECT) == 1


async def test_two_durables_each_receive_every_event(
    nats_bus: NatsBus, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    first, second = Collector(symbol), Collector(symbol)
    await nats_bus.subscribe(SUBJECT, durable=unique_durable("a"), handler=first, replay=False)
    await nats_bus.subscribe(SUBJECT, durable=unique_durable("b"), handler=second, replay=False)
    events = [signal(symbol, day) for day in range(5)]
    for event in events:
        await nats_bus.publish(event)

    expected = [e.event_id for e in events]
    assert [e.event_id for e in await first.wait_for(5)] == expected
    assert [e.event_id for e in await second.wait_for(5)] == expected


async def test_reconnected_durable_resumes_after_last_acked_event(
    nats_server: str, nats_bus: NatsBus, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    durable = unique_durable("resume")
    before = [signal(symbol, day) for day in range(3)]
    after = [signal(symbol, day) for day in range(3, 6)]
    for event in before:
        await nats_bus.publish(event)

    consumer = await NatsBus.connect(
        nats_server, client_name="consumer-1", metrics=BusMetrics(new_registry())
    )
    first_run = Collector(symbol)
    await consumer.subscribe(SUBJECT, durable=durable, handler=first_run)
    await first_run.wait_for(3)
    await consumer.close()

    for event in after:
        await nats_bus.publish(event)
    restarted = await NatsBus.connect(
        nats_server, client_name="consumer-2", metrics=BusMetrics(new_registry())
    )
    second_run = Collector(symbol)
    # Events arrive in stream order, so once a later marker arrived, anything delivered
    # twice would already be in the list.
    marker = signal(symbol, 99)
    try:
        await restarted.subscribe(SUBJECT, durable=durable, handler=second_run)
        await nats_bus.publish(marker)
        await second_run.wait_for(4)
    finally:
        await restarted.close()

    assert first_run.event_ids == [e.event_id for e in before]
    assert second_run.event_ids == [e.event_id for e in [*after, marker]]


async def test_publish_many_stores_each_event_once_in_order(
    nats_bus: NatsBus, unique_durable: Callable[[str], str]
) -> None:
    symbol = unique_symbol()
    events = [signal(symbol, day) for day in range(40)]
    await nats_bus.publish(events[0])
    # The first is already stored: JetStream answers it as a duplicate.
    await nats_bus.publish_many(events, window=16)
    collector = Collector(symbol)
    await nats_bus.subscribe(SUBJECT, durable=unique_durable("many"), handler=collector)

    received = await collector.wait_for(40)
    marker = signal(symbol, 99)
    await nats_bus.publish(marker)
    received = await collector.wait_for(41)

    assert [e.event_id for e in received] == [e.event_id for e in [*events, marker]]
    assert counter(nats_bus.metrics, "published", SUBJECT) == 41
    assert counter(nats_bus.metrics, "duplicates", SUBJECT) == 1

"""`NatsBus.history`: a one-shot read of what a subject holds, that leaves nothing behind."""

from __future__ import annotations

from atp.bus.nats import NatsBus
from atp.bus.subjects import RISK_STATE, SIGNALS_NORMALIZED, stream_for
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import signal, unique_symbol


async def _connect(url: str) -> NatsBus:
    return await NatsBus.connect(url, client_name="history", metrics=BusMetrics(new_registry()))


async def test_history_returns_every_stored_event_in_order_and_leaves_no_consumer(
    fresh_nats_server: EmbeddedNats,
) -> None:
    bus = await _connect(fresh_nats_server.url)
    try:
        symbol = unique_symbol()
        published = [signal(symbol, day, close=f"{100 + day}.25") for day in range(30)]
        for envelope in published:
            await bus.publish(envelope)

        events = await bus.history(SIGNALS_NORMALIZED)

        assert [e.event_id for e in events] == [e.event_id for e in published]
        assert events[-1].payload.close == published[-1].payload.close
        info = await bus._js.stream_info(stream_for(SIGNALS_NORMALIZED))
        assert info.state.consumer_count == 0, "the read must not leave a consumer behind"
    finally:
        await bus.close()


async def test_history_tail_reads_only_the_newest_events(
    fresh_nats_server: EmbeddedNats,
) -> None:
    bus = await _connect(fresh_nats_server.url)
    try:
        symbol = unique_symbol()
        published = [signal(symbol, day) for day in range(12)]
        for envelope in published:
            await bus.publish(envelope)

        events = await bus.history(SIGNALS_NORMALIZED, tail=5)

        assert [e.event_id for e in events] == [e.event_id for e in published[-5:]]
    finally:
        await bus.close()


async def test_history_of_a_subject_nothing_was_published_on_is_empty(
    fresh_nats_server: EmbeddedNats,
) -> None:
    bus = await _connect(fresh_nats_server.url)
    try:
        await bus.publish(signal(unique_symbol(), 0))
        assert await bus.history(RISK_STATE) == []
    finally:
        await bus.close()

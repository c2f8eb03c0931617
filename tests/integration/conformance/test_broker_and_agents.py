"""Broker adapters and agents on a real nats-server: a decision delivered twice, and again after
the service died between placing the order and acking, is one order at the venue and each fill
booked once; a bar delivered twice, or again after the agents died before the ack, gives each
agent's intent once, with the ids of a clean run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text
from tests.integration.storage.events import story

from atp.bus.subjects import DECISIONS_ORDER_INTENT, EXECUTIONS_ORDER_UPDATE
from atp.core.enums import OrderStatus
from atp.services import agents as agents_service
from atp.services import broker_adapters
from atp.services.embedded_nats import EmbeddedNats
from atp.services.settings import AtpSettings
from atp.storage.database import Database

from .crash import DyingBus, clean_server, connect, eventually, twice


async def _count(url: str, table: str) -> int:
    database = Database(url)
    try:
        async with database.session() as session:
            return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
    finally:
        await database.close()


async def test_broker_places_one_order_and_books_one_fill_per_decision(
    fresh_nats_server: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    the_story = story("AAPL", 0)
    later_bar = story("AAPL", 1).signal
    settings = AtpSettings(database_url=database_url, var_dir=tmp_path, broker_port=0)
    first = DyingBus(
        await connect(fresh_nats_server.url, "broker-1"), {the_story.decision.event_id}
    )
    broker = await broker_adapters.bootstrap(settings, bus=first)
    await broker.start()
    publisher = await connect(fresh_nats_server.url, "publisher")
    try:
        await twice(publisher, the_story.signal)
        await twice(publisher, the_story.decision)
        await asyncio.wait_for(first.died.wait(), 30)
        await first.kill()
        await broker.stop()

        second = await connect(fresh_nats_server.url, "broker-2")
        restarted = await broker_adapters.bootstrap(settings, bus=second)
        await restarted.start()
        try:
            await twice(publisher, the_story.decision)
            await twice(publisher, later_bar)

            async def filled() -> bool:
                return await _count(database_url, "fills") >= 1

            await eventually(filled, what="the order filled and booked")
            await twice(publisher, story("AAPL", 2).signal)
            updates = [e.payload for e in await publisher.history(EXECUTIONS_ORDER_UPDATE)]
            orders = await _count(database_url, "orders")
            fills = await _count(database_url, "fills")
        finally:
            await restarted.stop()
            await second.close()
    finally:
        await publisher.close()

    # One placement at the venue: one acceptance, every update about the one order.
    assert [u.status for u in updates].count(OrderStatus.ACCEPTED) == 1
    assert {u.client_order_id for u in updates} == {the_story.decision.payload.client_order_id}
    assert (orders, fills) == (1, len([u for u in updates if u.fill is not None])) == (1, 1)


async def test_agents_answer_a_twice_delivered_bar_with_one_intent_each(
    fresh_nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    bars = [story("AAPL", day).signal for day in range(3)]
    settings = AtpSettings(var_dir=tmp_path, agents_port=0)
    bus = await connect(fresh_nats_server.url, "agents")
    service = await agents_service.bootstrap(settings, bus=bus)
    agents = len(service.host.statuses())
    await service.start()
    publisher = await connect(fresh_nats_server.url, "publisher")
    try:
        for bar in bars:
            await twice(publisher, bar)

        async def answered() -> bool:
            return len(await publisher.history(DECISIONS_ORDER_INTENT)) >= agents * len(bars)

        await eventually(answered, what="every agent answered every bar")
        await twice(publisher, bars[-1])
        intents = await publisher.history(DECISIONS_ORDER_INTENT)
    finally:
        await service.stop()
        await bus.close()
        await publisher.close()

    keys = [(i.payload.agent_id, i.payload.signal_id) for i in intents]
    assert len(keys) == len(set(keys)) == agents * len(bars)


async def _intents_of_a_clean_run(
    server: EmbeddedNats, tmp_path: Path, bars: list[Any]
) -> set[str]:
    """The intent ids of an agents service that gets every bar once."""
    bus = await connect(server.url, "agents-reference")
    service = await agents_service.bootstrap(AtpSettings(var_dir=tmp_path, agents_port=0), bus=bus)
    agents = len(service.host.statuses())
    await service.start()
    try:
        for bar in bars:
            await bus.publish(bar)

        async def answered() -> bool:
            return len(await bus.history(DECISIONS_ORDER_INTENT)) >= agents * len(bars)

        await eventually(answered, what="the reference agents answered every bar")
        return {e.event_id for e in await bus.history(DECISIONS_ORDER_INTENT)}
    finally:
        await service.stop()
        await bus.close()


async def test_agents_answer_a_bar_redelivered_after_a_crash_with_the_same_intents_once(
    fresh_nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    bars = [story("AAPL", day).signal for day in range(3)]
    with clean_server(tmp_path / "reference-nats") as reference:
        expected = await _intents_of_a_clean_run(reference, tmp_path / "reference", bars)

    settings = AtpSettings(var_dir=tmp_path, agents_port=0)
    first = DyingBus(await connect(fresh_nats_server.url, "agents-1"), {bars[1].event_id})
    service = await agents_service.bootstrap(settings, bus=first)
    agents = len(service.host.statuses())
    await service.start()
    publisher = await connect(fresh_nats_server.url, "publisher")
    try:
        for bar in bars:
            await twice(publisher, bar)
        await asyncio.wait_for(first.died.wait(), 30)
        await first.kill()
        await service.stop()

        second = await connect(fresh_nats_server.url, "agents-2")
        restarted = await agents_service.bootstrap(settings, bus=second)
        await restarted.start()
        try:

            async def answered() -> bool:
                intents = await publisher.history(DECISIONS_ORDER_INTENT)
                return len(intents) >= agents * len(bars)

            await eventually(answered, what="every agent answered every bar")
            # A last bar through the same durable: the redelivered one was handled before it.
            later = story("AAPL", 3).signal
            await twice(publisher, later)

            async def answered_later() -> bool:
                intents = await publisher.history(DECISIONS_ORDER_INTENT)
                return any(i.payload.signal_id == later.payload.signal_id for i in intents)

            await eventually(answered_later, what="the agents answered the later bar")
            intents = await publisher.history(DECISIONS_ORDER_INTENT)
        finally:
            await restarted.stop()
            await second.close()
    finally:
        await publisher.close()

    answers = [i for i in intents if i.payload.signal_id != later.payload.signal_id]
    keys = [(i.payload.agent_id, i.payload.signal_id) for i in answers]
    assert len(keys) == len(set(keys)) == agents * len(bars)
    assert {i.event_id for i in answers} == expected

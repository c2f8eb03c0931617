"""SqlOrderStore and SqlIdempotencyStore hold to the broker ports exactly as the reference does."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from atp.brokers.memory_store import InMemoryIdempotencyStore, InMemoryOrderStore
from atp.brokers.ports import FillRecord, IdempotencyStore, OrderStore, StoredResponse
from atp.core.enums import OrderStatus
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId
from atp.storage.database import Database
from atp.storage.idempotency import SqlIdempotencyStore
from atp.storage.orders import SqlOrderStore

from .events import story


def _updates() -> list[OrderUpdate]:
    return [e.payload for s in (story("AAPL", 0), story("MSFT", 1)) for e in s.updates]


async def _drive(store: OrderStore) -> list[object]:
    """The same operations, out of order and repeated, as a broker under redelivery does them."""
    updates = _updates()
    outcomes: list[object] = []
    # Newest first, then everything again: only the first of each newer sequence is stored.
    for update in [updates[2], updates[0], updates[1], *updates, updates[4], updates[3]]:
        outcomes.append(await store.save_update(update))
    first_fill = updates[1]
    assert first_fill.fill is not None
    outcomes.append(
        await store.record_fill(
            FillRecord(
                first_fill.venue,
                first_fill.client_order_id,
                first_fill.order_id,
                first_fill.symbol,
                first_fill.side,
                first_fill.fill,
            )
        )
    )
    outcomes.append(await store.get("paper", updates[0].client_order_id))
    outcomes.append(await store.get("paper", ClientOrderId("never-seen")))
    outcomes.append(await store.list_orders())
    outcomes.append(await store.list_orders(venue="paper", open_only=True))
    outcomes.append(await store.fills())
    outcomes.append(await store.fills(client_order_id=updates[3].client_order_id))
    return outcomes


async def test_sql_order_store_behaves_exactly_like_the_reference(database: Database) -> None:
    expected = await _drive(InMemoryOrderStore())
    found = await _drive(SqlOrderStore(database))

    assert found == expected


async def test_open_orders_leave_out_terminal_ones_and_keep_unknown(database: Database) -> None:
    store = SqlOrderStore(database)
    accepted, _partial, filled = (e.payload for e in story("AAPL", 0).updates)
    unknown = dataclasses.replace(story("MSFT", 1).updates[0].payload, status=OrderStatus.UNKNOWN)
    await store.save_update(accepted)
    await store.save_update(filled)
    await store.save_update(unknown)

    open_orders = await store.list_orders(open_only=True)

    assert [o.client_order_id for o in open_orders] == [unknown.client_order_id]


async def test_each_fill_books_the_position_once_exactly(database: Database) -> None:
    store = SqlOrderStore(database)
    updates = [e.payload for e in story("AAPL", 0).updates]
    for update in updates + updates:
        await store.save_update(update)

    (position,) = await store.positions(venue="paper")

    assert position.quantity == Decimal("10")
    # (5 x 181.30 + 5 x 181.40) / 10, exact; commissions 2 x 0.01 are realised as a cost.
    assert position.average_cost == Decimal("181.35")
    assert position.realized_pnl == Decimal("-0.02")


async def test_stored_orders_survive_a_reopen(database: Database) -> None:
    update = story("AAPL", 0).updates[-1].payload
    await SqlOrderStore(database).save_update(update)
    reopened = Database(database.url)
    try:
        found = await SqlOrderStore(reopened).get("paper", update.client_order_id)
    finally:
        await reopened.close()

    assert found == update


def _response(key: str, body: str) -> StoredResponse:
    return StoredResponse(
        key=key,
        request_fingerprint="ab" * 32,
        status_code=201,
        body=body,
        created_at=datetime(2024, 3, 1, 14, 30, 0, 123456, tzinfo=UTC),
    )


async def _idempotency(store: IdempotencyStore) -> list[object]:
    first = await store.put_if_absent(_response("key-1", '{"order_id":"o-1","qty":"0.1"}'))
    second = await store.put_if_absent(_response("key-1", '{"order_id":"o-2"}'))
    return [first, second, await store.get("key-1"), await store.get("missing")]


async def test_repeated_idempotency_key_returns_the_first_answer(database: Database) -> None:
    expected = await _idempotency(InMemoryIdempotencyStore())
    found = await _idempotency(SqlIdempotencyStore(database))

    assert found == expected
    first = found[0]
    assert isinstance(first, StoredResponse)
    assert first.body == '{"order_id":"o-1","qty":"0.1"}'


async def test_concurrent_first_answers_agree_on_one(database: Database) -> None:
    other = Database(database.url)
    stores = [SqlIdempotencyStore(database), SqlIdempotencyStore(other)]
    try:
        answers = await asyncio.gather(
            *(stores[i % 2].put_if_absent(_response("race", f'{{"n":{i}}}')) for i in range(8))
        )
    finally:
        await other.close()

    assert len({a.body for a in answers}) == 1
    assert answers[0] == await stores[0].get("race")

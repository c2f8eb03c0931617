"""Persistence ports of the broker area: where orders, fills and idempotency keys are kept.

The storage area implements these Protocols with SQL (`atp.storage`); `InMemoryOrderStore` and
`InMemoryIdempotencyStore` (in `atp.brokers.memory_store`) are the reference implementations
and are what the tests of both areas hold the SQL ones to.

Keys and rules an implementation must keep:

- An order is identified by `(venue, client_order_id)`. The stored row is the order's latest
  `OrderUpdate` (all of its fields); an update whose `sequence` is not greater than the stored
  one is ignored, so replays and redeliveries never move an order backwards.
- A fill is identified by `fill.fill_id` (unique across venues, since ids are derived from the
  venue and client order id). Recording the same fill twice stores it once.
- An idempotency key is stored once: the first answer recorded under a key is the answer for
  ever; later `put_if_absent` calls return that first answer unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from atp.core.enums import Side
from atp.core.events import Fill, OrderUpdate
from atp.core.ids import ClientOrderId, OrderId, Symbol


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill with the order it belongs to (the columns of a fills table)."""

    venue: str
    client_order_id: ClientOrderId
    order_id: OrderId
    symbol: Symbol
    side: Side
    fill: Fill


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer given to a request carrying an `Idempotency-Key`.

    Attributes:
        key: the `Idempotency-Key` header value as sent (at most 200 characters).
        request_fingerprint: a SHA-256 hex digest of the request body; a retry with the same
            key but a different body is refused, never answered with the other body's result.
        status_code: the HTTP status of the first answer.
        body: the first answer's JSON body, exactly as sent (UTF-8 text).
        created_at: when the first answer was recorded (aware UTC).
    """

    key: str
    request_fingerprint: str
    status_code: int
    body: str
    created_at: datetime


class OrderStore(Protocol):
    """Keeps every order's latest state and every fill, durably."""

    async def save_update(self, update: OrderUpdate) -> bool:
        """Stores `update` as the order's state if its sequence is newer.

        Returns True if stored, False if an update with the same or a higher `sequence` for
        `(update.venue, update.client_order_id)` was already there (nothing changes then).
        If `update.fill` is not None the fill is recorded too, as by `record_fill`.
        """
        ...

    async def get(self, venue: str, client_order_id: ClientOrderId) -> OrderUpdate | None:
        """The latest stored update of one order, or None if the order was never stored."""
        ...

    async def list_orders(
        self, *, venue: str | None = None, open_only: bool = False
    ) -> list[OrderUpdate]:
        """Latest updates of all orders (of `venue` if given), oldest `updated_at` first.

        With `open_only`, orders whose status `is_terminal` are left out (UNKNOWN is open).
        """
        ...

    async def record_fill(self, record: FillRecord) -> bool:
        """Stores a fill once per `fill_id`; returns False if it was already stored."""
        ...

    async def fills(
        self, *, venue: str | None = None, client_order_id: ClientOrderId | None = None
    ) -> list[FillRecord]:
        """Stored fills, filtered by venue and/or order, in `filled_at` then `fill_id` order."""
        ...


class IdempotencyStore(Protocol):
    """Remembers the first answer given to each `Idempotency-Key`."""

    async def get(self, key: str) -> StoredResponse | None:
        """The answer stored under `key`, or None."""
        ...

    async def put_if_absent(self, response: StoredResponse) -> StoredResponse:
        """Stores `response` unless its key is taken; returns whichever answer is stored.

        Must be atomic: two concurrent calls with the same key both get the same (first)
        answer back (a unique constraint on the key, and re-reading on conflict, does this).
        """
        ...

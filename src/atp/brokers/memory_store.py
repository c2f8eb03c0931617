"""In-memory implementations of the broker persistence ports (the reference behaviour)."""

from __future__ import annotations

from atp.brokers.ports import FillRecord, StoredResponse
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId


class InMemoryOrderStore:
    """An `OrderStore` in a dict: fast, lost on restart."""

    def __init__(self) -> None:
        self._orders: dict[tuple[str, str], OrderUpdate] = {}
        self._fills: dict[str, FillRecord] = {}

    async def save_update(self, update: OrderUpdate) -> bool:
        """Stores `update` if it is newer than the stored state (see `OrderStore`)."""
        key = (update.venue, update.client_order_id)
        if update.fill is not None:
            await self.record_fill(
                FillRecord(
                    venue=update.venue,
                    client_order_id=update.client_order_id,
                    order_id=update.order_id,
                    symbol=update.symbol,
                    side=update.side,
                    fill=update.fill,
                )
            )
        current = self._orders.get(key)
        if current is not None and current.sequence >= update.sequence:
            return False
        self._orders[key] = update
        return True

    async def get(self, venue: str, client_order_id: ClientOrderId) -> OrderUpdate | None:
        """The latest update of one order, or None."""
        return self._orders.get((venue, client_order_id))

    async def list_orders(
        self, *, venue: str | None = None, open_only: bool = False
    ) -> list[OrderUpdate]:
        """Latest updates of all (open) orders, oldest first."""
        found = [
            u
            for u in self._orders.values()
            if (venue is None or u.venue == venue) and not (open_only and u.status.is_terminal)
        ]
        return sorted(found, key=lambda u: (u.updated_at, u.client_order_id))

    async def record_fill(self, record: FillRecord) -> bool:
        """Stores a fill once per fill id."""
        if record.fill.fill_id in self._fills:
            return False
        self._fills[record.fill.fill_id] = record
        return True

    async def fills(
        self, *, venue: str | None = None, client_order_id: ClientOrderId | None = None
    ) -> list[FillRecord]:
        """Stored fills, filtered, in time then id order."""
        found = [
            r
            for r in self._fills.values()
            if (venue is None or r.venue == venue)
            and (client_order_id is None or r.client_order_id == client_order_id)
        ]
        return sorted(found, key=lambda r: (r.fill.filled_at, r.fill.fill_id))


class InMemoryIdempotencyStore:
    """An `IdempotencyStore` in a dict."""

    def __init__(self) -> None:
        self._responses: dict[str, StoredResponse] = {}

    async def get(self, key: str) -> StoredResponse | None:
        """The answer stored under `key`, or None."""
        return self._responses.get(key)

    async def put_if_absent(self, response: StoredResponse) -> StoredResponse:
        """Stores `response` unless the key is taken; returns the stored answer."""
        return self._responses.setdefault(response.key, response)

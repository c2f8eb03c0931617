"""The paper adapter: the `BrokerAdapter` face of a `PaperVenue`, for live paper trading."""

from __future__ import annotations

import asyncio

from atp.brokers.base import AdapterState, AdapterStatus, UpdateListener
from atp.brokers.models import AccountSnapshot, BrokerPosition, Order, OrderChange, OrderRequest
from atp.brokers.paper.venue import PaperVenue
from atp.core.events import MarketSignal, OrderUpdate
from atp.core.ids import ClientOrderId


async def _discard(_update: OrderUpdate) -> None:
    return None


class PaperAdapter:
    """Drives a `PaperVenue` and streams its updates; a lock keeps them in sequence order."""

    dry_run = False

    def __init__(self, venue: PaperVenue, *, name: str = "paper") -> None:
        self.name = name
        self.paper = venue
        self.venue = venue.venue
        self._listener: UpdateListener = _discard
        self._lock = asyncio.Lock()
        self._state = AdapterState.DISCONNECTED

    def status(self) -> AdapterStatus:
        """Paper is ready once connected: there is nothing to reach."""
        return AdapterStatus(self.name, self.venue, self._state, self.dry_run, None)

    def set_listener(self, listener: UpdateListener) -> None:
        """Names the coroutine that receives every update."""
        self._listener = listener

    async def connect(self) -> None:
        """Nothing to connect to: the venue is in process."""
        self._state = AdapterState.READY

    async def close(self) -> None:
        """Nothing to close."""
        self._state = AdapterState.DISCONNECTED

    async def on_signal(self, signal: MarketSignal) -> None:
        """Shows the venue a bar and streams what it filled."""
        async with self._lock:
            await self._emit(self.paper.on_signal(signal))

    async def resume(self) -> None:
        """Carries on with orders a restart caught half-way, streaming what happens."""
        async with self._lock:
            await self._emit(self.paper.resume())

    async def submit(self, request: OrderRequest) -> Order:
        """Submits to the venue (once per client order id) and streams its updates."""
        async with self._lock:
            await self._emit(self.paper.submit(request))
            return self.paper.tracker.require(request.client_order_id)

    async def cancel(self, client_order_id: ClientOrderId) -> Order:
        """Cancels at once."""
        async with self._lock:
            await self._emit(self.paper.cancel(client_order_id))
            return self.paper.tracker.require(client_order_id)

    async def replace(self, client_order_id: ClientOrderId, change: OrderChange) -> Order:
        """Replaces by a new order; returns the new one."""
        async with self._lock:
            new_id, updates = self.paper.replace(client_order_id, change)
            await self._emit(updates)
            return self.paper.tracker.require(new_id)

    async def get_order(self, client_order_id: ClientOrderId) -> Order | None:
        """The venue's order, or None."""
        return self.paper.tracker.get(client_order_id)

    async def open_orders(self) -> list[Order]:
        """Open orders at the venue."""
        return self.paper.tracker.open_orders()

    async def orders(self) -> list[Order]:
        """Every order at the venue."""
        return self.paper.tracker.orders()

    async def positions(self) -> list[BrokerPosition]:
        """Positions from the venue's ledger."""
        return list(self.paper.account().positions)

    async def account(self) -> AccountSnapshot:
        """The venue's account."""
        return self.paper.account()

    async def _emit(self, updates: list[OrderUpdate]) -> None:
        for update in updates:
            await self._listener(update)

"""The one adapter interface every venue (paper, Alpaca, Interactive Brokers) implements.

Every change of an order at the venue reaches the listener as an `OrderUpdate` (the payload of
`executions.order_update`), in the order's sequence order. Calls that the venue answers with a
permanent refusal do not raise: the refusal is an update with status `rejected` and a reason.
Transient trouble raises `VenueUnavailable` or `RateLimited`; a submission whose outcome could
not be learnt leaves the order `unknown` until reconciliation settles it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from atp.brokers.models import AccountSnapshot, BrokerPosition, Order, OrderChange, OrderRequest
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId

UpdateListener = Callable[[OrderUpdate], Awaitable[None]]


class AdapterState(StrEnum):
    """Whether an adapter may trade."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    RECONCILING = "reconciling"
    READY = "ready"
    REFUSING = "refusing"


@dataclass(frozen=True, slots=True)
class AdapterStatus:
    """An adapter's state and why it is in it."""

    name: str
    venue: str
    state: AdapterState
    dry_run: bool
    reason: str | None


class BrokerAdapter(Protocol):
    """A venue connection: orders in, order updates out."""

    name: str
    venue: str
    dry_run: bool

    def status(self) -> AdapterStatus:
        """The adapter's state now."""
        ...

    def set_listener(self, listener: UpdateListener) -> None:
        """Names the coroutine every `OrderUpdate` is handed to (the stream of updates)."""
        ...

    async def connect(self) -> None:
        """Connects to the venue and starts the update stream."""
        ...

    async def close(self) -> None:
        """Stops the stream and disconnects."""
        ...

    async def submit(self, request: OrderRequest) -> Order:
        """Sends an order; the same client order id twice makes one order. Returns its state."""
        ...

    async def cancel(self, client_order_id: ClientOrderId) -> Order:
        """Asks the venue to cancel an open order; returns its state after the request."""
        ...

    async def replace(self, client_order_id: ClientOrderId, change: OrderChange) -> Order:
        """Replaces an open order; returns the new order's state."""
        ...

    async def get_order(self, client_order_id: ClientOrderId) -> Order | None:
        """The venue's view of one order, or None if the venue does not know it."""
        ...

    async def open_orders(self) -> list[Order]:
        """Every order the venue holds open."""
        ...

    async def orders(self) -> list[Order]:
        """Every order this adapter knows, open or not."""
        ...

    async def positions(self) -> list[BrokerPosition]:
        """The venue's positions."""
        ...

    async def account(self) -> AccountSnapshot:
        """The venue's account: cash, equity, positions, P&L."""
        ...

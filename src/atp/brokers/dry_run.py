"""Dry-run: an order is validated and serialised exactly as it would be sent, then not sent.

`DryRunAdapter` wraps any adapter together with its request serialiser (the function that turns
an `OrderRequest` into the venue's request body). A submission is validated (the request type
does that), serialised, logged, kept in `sent`, and reported as an update with status
`rejected` and reason `dry run: not sent` carrying the serialised body, so the dry-run order is
visible on `executions.order_update` without ever reaching the venue. Reads pass through.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from atp.brokers.base import AdapterStatus, BrokerAdapter, UpdateListener
from atp.brokers.models import AccountSnapshot, BrokerPosition, Order, OrderChange, OrderRequest
from atp.brokers.tracker import OrderTracker
from atp.core.clock import Clock
from atp.core.enums import OrderStatus
from atp.core.errors import Conflict
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId, OrderId, derive_id

log = logging.getLogger(__name__)

Serializer = Callable[[OrderRequest], dict[str, Any]]
DRY_RUN_REASON = "dry run: not sent"


async def _discard(_update: OrderUpdate) -> None:
    return None


class DryRunAdapter:
    """Wraps an adapter so that nothing it would send is sent."""

    dry_run = True

    def __init__(self, inner: BrokerAdapter, serializer: Serializer, *, clock: Clock) -> None:
        self.name = inner.name
        self.venue = inner.venue
        self._inner = inner
        self._serializer = serializer
        self._clock = clock
        self._tracker = OrderTracker(inner.venue)
        self._listener: UpdateListener = _discard
        self.sent: list[dict[str, Any]] = []

    def status(self) -> AdapterStatus:
        """The inner adapter's state, flagged as dry-run."""
        inner = self._inner.status()
        return AdapterStatus(inner.name, inner.venue, inner.state, True, inner.reason)

    def set_listener(self, listener: UpdateListener) -> None:
        """Names the coroutine that receives every update."""
        self._listener = listener

    async def connect(self) -> None:
        """Connects the inner adapter (reads still reach the venue)."""
        await self._inner.connect()

    async def close(self) -> None:
        """Closes the inner adapter."""
        await self._inner.close()

    def serialise(self, request: OrderRequest) -> dict[str, Any]:
        """The body the venue would receive."""
        return self._serializer(request)

    async def submit(self, request: OrderRequest) -> Order:
        """Validates, serialises, logs and reports the order; sends nothing."""
        known = self._tracker.get(request.client_order_id)
        if known is not None:
            return known
        body = self._serializer(request)
        text = json.dumps(body, sort_keys=True, default=str)
        self.sent.append(body)
        log.info("dry run %s: would send %s", self.name, text)
        now = self._clock.now()
        order_id = OrderId(derive_id("dry-run", self.venue, request.client_order_id))
        updates = [
            self._tracker.create(request, order_id=order_id, at=now),
            self._tracker.move(
                request.client_order_id,
                OrderStatus.REJECTED,
                at=now,
                reason=f"{DRY_RUN_REASON}: {text}",
            ),
        ]
        for update in updates:
            if update is not None:
                await self._listener(update)
        return self._tracker.require(request.client_order_id)

    async def cancel(self, client_order_id: ClientOrderId) -> Order:
        """Dry-run orders never work, so there is nothing to cancel."""
        raise Conflict(f"order {client_order_id} was a dry run and never sent")

    async def replace(self, client_order_id: ClientOrderId, change: OrderChange) -> Order:
        """Dry-run orders never work, so there is nothing to replace."""
        raise Conflict(f"order {client_order_id} was a dry run and never sent")

    async def get_order(self, client_order_id: ClientOrderId) -> Order | None:
        """The dry-run order, if any."""
        return self._tracker.get(client_order_id)

    async def open_orders(self) -> list[Order]:
        """Dry-run orders are never open."""
        return []

    async def orders(self) -> list[Order]:
        """Every dry-run order."""
        return self._tracker.orders()

    async def positions(self) -> list[BrokerPosition]:
        """The venue's real positions."""
        return await self._inner.positions()

    async def account(self) -> AccountSnapshot:
        """The venue's real account."""
        return await self._inner.account()

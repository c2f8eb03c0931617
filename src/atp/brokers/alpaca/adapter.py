"""The Alpaca adapter: orders over REST, their lives over the `trade_updates` stream.

Exactly-once rules:
- an order is recorded (NEW, under a provisional id) before it is sent, so a second submit of
  the same client order id, from a redelivered decision or a retry, never reaches Alpaca twice;
- Alpaca's 422 "client_order_id must be unique" means the order is already there: it is looked
  up by client order id and adopted;
- a timeout or a lost connection leaves the order UNKNOWN; reconciliation settles it from
  Alpaca's answer and it is never resubmitted.

The adapter is CONNECTED after `connect`, READY only once a reconciliation has passed
(`mark`), and REFUSING, with the reason, while its stream is down or reconciliation failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

from atp.brokers.alpaca import mapping
from atp.brokers.alpaca.client import AlpacaRest, DuplicateClientOrderId, Raw
from atp.brokers.alpaca.config import AlpacaConfig
from atp.brokers.alpaca.stream import AlpacaTradeStream, message_data
from atp.brokers.base import AdapterState, AdapterStatus
from atp.brokers.models import AccountSnapshot, BrokerPosition, Order, OrderChange, OrderRequest
from atp.brokers.remote import AdapterRefusing, RemoteAdapterHooks
from atp.brokers.sync import VenueOrder, sync_order
from atp.brokers.tracker import OrderTracker
from atp.core.clock import Clock
from atp.core.enums import OrderStatus
from atp.core.errors import AtpError, Conflict, InvalidInput, TransientError, VenueRejected
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId, OrderId, derive_id

log = logging.getLogger(__name__)


def provisional_order_id(client_order_id: ClientOrderId) -> OrderId:
    """The id an order carries until Alpaca has named it."""
    return OrderId(derive_id("alpaca-pending", client_order_id))


class AlpacaAdapter(RemoteAdapterHooks):
    """A `BrokerAdapter` on Alpaca's Trading API v2 (paper or live)."""

    dry_run = False

    def __init__(self, config: AlpacaConfig, *, clock: Clock, name: str = "alpaca") -> None:
        self.name = name
        self.venue = config.venue
        self._config = config
        self._clock = clock
        self.rest = AlpacaRest(config)
        self.tracker = OrderTracker(config.venue)
        self._lock = asyncio.Lock()
        self._state = AdapterState.DISCONNECTED
        self._reason: str | None = "not connected"
        self._stream: AlpacaTradeStream | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._stream_up = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connects = 0
        self.unknown_events: Counter[str] = Counter()

    # -- state -----------------------------------------------------------------------

    def status(self) -> AdapterStatus:
        """The adapter's state and why."""
        return AdapterStatus(self.name, self.venue, self._state, self.dry_run, self._reason)

    def mark(self, state: AdapterState, reason: str | None) -> None:
        """Sets the state (reconciliation does this); a down stream keeps it REFUSING."""
        if state is AdapterState.READY and not self._stream_up.is_set():
            state, reason = AdapterState.REFUSING, "trade_updates stream is not connected"
        self._state, self._reason = state, reason
        log.info("%s is %s%s", self.name, state, f": {reason}" if reason else "")

    # -- lifecycle -------------------------------------------------------------------

    async def connect(self) -> None:
        """Checks the account answers and starts the stream; READY comes with reconciliation."""
        try:
            await self.rest.account()
        except AtpError as exc:
            self.mark(AdapterState.REFUSING, f"cannot reach alpaca: {exc}")
            return
        config = self._config
        self._stream = AlpacaTradeStream(
            config.api_key.get_secret_value(),
            config.secret_key.get_secret_value(),
            paper=config.paper,
            url_override=config.stream_url_override,
            on_connected=self._stream_connected,
            on_disconnected=self._stream_disconnected,
        )
        self._stream.subscribe_trade_updates(self._on_message)
        self._stream_task = asyncio.create_task(self._stream.run_forever())
        try:
            await asyncio.wait_for(self._stream_up.wait(), config.request_timeout_seconds)
        except TimeoutError:
            self.mark(AdapterState.REFUSING, "trade_updates stream did not connect")
            return
        self.mark(AdapterState.CONNECTED, "not reconciled yet")

    async def close(self) -> None:
        """Stops the stream and every task the adapter started."""
        if self._stream is not None:
            await self._stream.stop_ws()
            await self._stream.close()
        if self._stream_task is not None:
            try:
                await asyncio.wait_for(self._stream_task, 10)
            except TimeoutError:
                self._stream_task.cancel()
        for task in list(self._tasks):
            task.cancel()
        self._stream_up.clear()
        self._state, self._reason = AdapterState.DISCONNECTED, "closed"

    async def _stream_connected(self) -> None:
        self.connects += 1
        self._stream_up.set()
        if self.connects > 1 or self._state is AdapterState.REFUSING:
            self.mark(AdapterState.RECONCILING, "trade_updates stream reconnected")
            if self._on_reconnect is not None:
                self._spawn(self._on_reconnect("reconnect"))

    async def _stream_disconnected(self) -> None:
        self._stream_up.clear()
        if self._state is not AdapterState.DISCONNECTED:
            self.mark(AdapterState.REFUSING, "trade_updates stream disconnected")

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the stream --------------------------------------------------------------------

    async def _on_message(self, message: Any) -> None:
        data = message_data(message)
        if data is None:
            return
        event = str(data.get("event"))
        raw = data.get("order")
        try:
            if not isinstance(raw, dict):
                raise InvalidInput("trade update without an order object")
            snapshot = mapping.venue_order(raw)
        except InvalidInput as exc:
            self.unknown_events["malformed"] += 1
            log.error("alpaca trade update %r not understood: %s", event, exc)
            return
        if event not in mapping.KNOWN_EVENTS or snapshot.status is OrderStatus.UNKNOWN:
            what = event if event not in mapping.KNOWN_EVENTS else snapshot.venue_status
            self.unknown_events[what] += 1
            log.warning(
                "alpaca %s: unknown event/status %r; UNKNOWN until reconciled",
                snapshot.client_order_id,
                what,
            )
            snapshot = replace(snapshot, status=OrderStatus.UNKNOWN)
            await self._sync(snapshot)
            return
        fill = mapping.execution(data, snapshot) if event in mapping.FILL_EVENTS else None
        async with self._lock:
            await self._emit(sync_order(self.tracker, snapshot, execution=fill))

    # -- orders ----------------------------------------------------------------------

    async def submit(self, request: OrderRequest) -> Order:
        """Sends an order once per client order id; see the module docstring for the rules."""
        coid = request.client_order_id
        async with self._lock:
            known = self.tracker.get(coid)
            if known is not None:
                return known
            if self._state is not AdapterState.READY:
                raise AdapterRefusing(f"{self.name} refuses to trade: {self._reason}")
            created = self.tracker.create(
                request, order_id=provisional_order_id(coid), at=self._clock.now()
            )
            await self._emit([created] if created else [])
        raw: Raw | None
        try:
            raw = await self.rest.submit(mapping.request_body(request))
        except DuplicateClientOrderId:
            log.info("alpaca already holds %s: adopting it", coid)
            try:
                raw = await self.rest.order_by_client_id(coid)
            except TransientError as exc:
                return await self._move(coid, OrderStatus.UNKNOWN, f"outcome unknown: {exc}")
            if raw is None:
                return await self._move(coid, OrderStatus.UNKNOWN, "duplicate but not found")
        except VenueRejected as exc:
            return await self._move(coid, OrderStatus.REJECTED, str(exc))
        except TransientError as exc:
            # Rate limits and timeouts alike: Alpaca may hold it; reconciliation will know.
            return await self._move(coid, OrderStatus.UNKNOWN, f"outcome unknown: {exc}")
        await self._sync(mapping.venue_order(raw))
        return self.tracker.require(coid)

    async def cancel(self, client_order_id: ClientOrderId) -> Order:
        """Asks Alpaca to cancel; the stream reports the outcome."""
        order = self.tracker.require(client_order_id)
        if not order.is_open:
            return order
        if order.order_id == provisional_order_id(client_order_id):
            raise Conflict(f"{client_order_id}: outcome unknown at alpaca; reconcile first")
        try:
            await self.rest.cancel(order.order_id)
        except VenueRejected as exc:
            # 422: no longer cancelable (filled or done); Alpaca's view settles it.
            log.info("alpaca refused to cancel %s: %s", client_order_id, exc)
            found = await self.get_order(client_order_id)
            return found if found is not None else order
        return await self._move(client_order_id, OrderStatus.PENDING_CANCEL, None)

    async def replace(self, client_order_id: ClientOrderId, change: OrderChange) -> Order:
        """Replaces at Alpaca (a new order with a derived client order id); returns it."""
        order = self.tracker.require(client_order_id)
        new_coid = ClientOrderId(
            "atp-r-" + derive_id("replace", client_order_id, str(order.sequence))[:30]
        )
        raw = await self.rest.replace(order.order_id, mapping.replace_body(change, new_coid))
        async with self._lock:
            moved = self.tracker.move(
                client_order_id, OrderStatus.PENDING_REPLACE, at=self._clock.now()
            )
            await self._emit([moved] if moved else [])
        await self._sync(mapping.venue_order(raw))
        return self.tracker.require(ClientOrderId(str(raw["client_order_id"])))

    async def get_order(self, client_order_id: ClientOrderId) -> Order | None:
        """Alpaca's view of one order (our copy is settled from it), or None."""
        raw = await self.rest.order_by_client_id(client_order_id)
        if raw is None:
            return None
        await self._sync(mapping.venue_order(raw))
        return self.tracker.require(client_order_id)

    async def open_orders(self) -> list[Order]:
        """Alpaca's open orders, each settled into our copy (unknown ones adopted)."""
        found = []
        for raw in await self.rest.open_orders():
            snapshot = mapping.venue_order(raw)
            await self._sync(snapshot)
            found.append(self.tracker.require(snapshot.client_order_id))
        return found

    async def orders(self) -> list[Order]:
        """Every order this adapter knows."""
        return self.tracker.orders()

    async def settle_missing(self, client_order_id: ClientOrderId, reason: str) -> None:
        """An order Alpaca does not know, long after we sent it: it never arrived."""
        await self._move(client_order_id, OrderStatus.REJECTED, reason)

    async def positions(self) -> list[BrokerPosition]:
        """Alpaca's positions."""
        return [mapping.position(p) for p in await self.rest.positions()]

    async def account(self) -> AccountSnapshot:
        """Alpaca's account with its positions."""
        raw = await self.rest.account()
        return mapping.account(raw, await self.positions(), self.venue)

    # -- internals -------------------------------------------------------------------

    async def _sync(self, snapshot: VenueOrder) -> None:
        async with self._lock:
            await self._emit(sync_order(self.tracker, snapshot))

    async def _move(self, coid: ClientOrderId, target: OrderStatus, reason: str | None) -> Order:
        async with self._lock:
            moved = self.tracker.move(coid, target, at=self._clock.now(), reason=reason)
            await self._emit([moved] if moved else [])
        return self.tracker.require(coid)

    async def _emit(self, updates: list[OrderUpdate]) -> None:
        for update in updates:
            await self._listener(update)

"""The Interactive Brokers adapter: orders through TWS / IB Gateway with ib_async.

Exactly-once rules:
- our client order id travels as IB's `orderRef`. An order is recorded NEW (provisional id)
  before `placeOrder`, so a second submit of the same client order id never reaches IB twice;
- an order this adapter does not track is first looked for at IB by orderRef, among the open
  orders of every client (`reqAllOpenOrders`), the completed orders and the executions that
  ib_async loads on every (re)connect: found, it is adopted and nothing is placed;
- no acknowledgement within the deadline, or a lost socket, leaves the order UNKNOWN;
  reconciliation settles it from IB and it is never resubmitted.

Fills are booked from executions, each under a fill id derived from IB's execution id, when
its commission report arrives (so the commission is booked with it). Order statuses only move
the state machine: a `Filled` (or a cancel that raced a fill) waits until the executions it
counts are booked. Reconciliation (`get_order`, `open_orders`) books executions the same way
and settles the rest with `sync_order` from IB's cumulative quantity.

The adapter is CONNECTED after `connect`, READY only once reconciled (`mark`), REFUSING with the
reason while the socket is down or TWS has lost IB (error 1100); it reconnects by itself and
reconciles on reconnect and on 1101/1102 (connectivity restored).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from ib_async import IB, Fill, Trade

from atp.brokers.base import AdapterState, AdapterStatus
from atp.brokers.ib import mapping
from atp.brokers.ib.config import IbConfig
from atp.brokers.ib.errors import ErrorKind, classify
from atp.brokers.ib.session import IbSession
from atp.brokers.ib.settle import IbBook
from atp.brokers.models import AccountSnapshot, BrokerPosition, Order, OrderChange, OrderRequest
from atp.brokers.remote import AdapterRefusing, RemoteAdapterHooks
from atp.brokers.sync import Execution, VenueOrder
from atp.core.clock import Clock
from atp.core.enums import OrderStatus
from atp.core.errors import Conflict, InvalidInput, VenueUnavailable
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]


class IbAdapter(RemoteAdapterHooks):
    """A `BrokerAdapter` on TWS / IB Gateway (paper or live, as the TWS it talks to)."""

    dry_run = False

    def __init__(
        self, config: IbConfig, *, clock: Clock, name: str = "ib", ib: IB | None = None
    ) -> None:
        self.name = name
        self.venue = config.venue
        self._config = config
        self._clock = clock
        self.session = IbSession(config, ib or IB(), on_lost=self._on_lost)
        self.book = IbBook(config.venue)
        self.tracker = self.book.tracker
        self.unknown_events = self.book.unknown_events
        self._lock = asyncio.Lock()
        self._inbox: asyncio.Queue[Job] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._acks: dict[ClientOrderId, asyncio.Event] = {}
        self._state = AdapterState.DISCONNECTED
        self._reason: str | None = "not connected"
        self._ib_lost = False
        self._attach(self.session.ib)

    # -- state -----------------------------------------------------------------------

    @property
    def ib(self) -> IB:
        """The ib_async connection (for tests and diagnostics)."""
        return self.session.ib

    def status(self) -> AdapterStatus:
        """The adapter's state and why."""
        return AdapterStatus(self.name, self.venue, self._state, self.dry_run, self._reason)

    def mark(self, state: AdapterState, reason: str | None) -> None:
        """Sets the state (reconciliation does this); a lost TWS keeps it REFUSING."""
        if state is AdapterState.READY and not self.ib.isConnected():
            state, reason = AdapterState.REFUSING, "not connected to TWS"
        elif state is AdapterState.READY and self._ib_lost:
            state, reason = AdapterState.REFUSING, "TWS has lost its connection to IB (1100)"
        self._state, self._reason = state, reason
        log.info("%s is %s%s", self.name, state, f": {reason}" if reason else "")

    # -- lifecycle -------------------------------------------------------------------

    async def connect(self) -> None:
        """Connects to TWS; READY comes with reconciliation. Unreachable: REFUSING, retrying."""
        try:
            await self.session.open()
        except VenueUnavailable as exc:
            self.mark(AdapterState.REFUSING, str(exc))
            self.session.reconnect_later(self._reconnected)
            return
        self.mark(AdapterState.CONNECTED, "not reconciled yet")

    async def close(self) -> None:
        """Disconnects and stops every task the adapter started."""
        await self.session.close()
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        self._state, self._reason = AdapterState.DISCONNECTED, "closed"

    async def _reconnected(self) -> None:
        self._ib_lost = False
        self.mark(AdapterState.RECONCILING, "reconnected to TWS")
        if self._on_reconnect is not None:
            await self._on_reconnect("reconnect")

    def _on_lost(self, reason: str) -> None:
        self.mark(AdapterState.REFUSING, reason)
        for ack in self._acks.values():
            ack.set()
        self.session.reconnect_later(self._reconnected)

    # -- ib_async events (called synchronously by ib_async; work is queued in order) ---------

    def _attach(self, ib: IB) -> None:
        ib.openOrderEvent += self._on_trade
        ib.orderStatusEvent += self._on_trade
        ib.commissionReportEvent += self._on_commission
        ib.errorEvent += self._on_error

    def _on_trade(self, trade: Trade) -> None:
        if trade.log and trade.log[-1].errorCode:
            # ib_async marks an order Cancelled on any error; what the error means is ours
            # to decide (`_on_error`), not a status TWS sent.
            return
        view = self._view(trade)
        if view is not None:
            self._enqueue(lambda: self._apply_status(view, None))

    def _on_commission(self, trade: Trade, fill: Fill, _report: object) -> None:
        if self.session.syncing:
            # ib_async also reports the commissions of executions TWS lists on request; those
            # are reconciliation's to book (and to report as missed, if they were).
            return
        view = self._view(trade)
        if view is None:
            return
        execution = mapping.execution(fill)
        self._enqueue(lambda: self._apply_fill(view, execution))

    def _on_error(self, req_id: int, code: int, text: str, _contract: object) -> None:
        trade = self.ib.wrapper.trades.get((self._config.client_id, req_id))
        view = self._view(trade) if trade is not None else None
        self._enqueue(lambda: self._apply_error(code, text, view))

    def _view(self, trade: Trade) -> VenueOrder | None:
        try:
            return mapping.venue_order(trade, at=self._clock.now())
        except InvalidInput as exc:
            self.unknown_events["not ours"] += 1
            log.info("ib order not taken up: %s", exc)
            return None

    def _enqueue(self, job: Job) -> None:
        # ib_async calls back from the event loop's socket reader, so a loop is running.
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_pump())
        self._inbox.put_nowait(job)

    async def drain(self) -> None:
        """Waits until every IB event received so far has been applied."""
        await self._inbox.join()

    async def _run_pump(self) -> None:
        while True:
            job = await self._inbox.get()
            try:
                await job()
            except Exception:
                # One bad event must not stop the stream of the others.
                log.exception("%s: an IB event could not be applied", self.name)
            finally:
                self._inbox.task_done()

    # -- applying events --------------------------------------------------------------

    async def _apply_status(self, view: VenueOrder, reason: str | None) -> None:
        async with self._lock:
            await self._emit(self.book.status(view, reason))
        self._acknowledge(view.client_order_id)

    async def _apply_fill(self, view: VenueOrder, execution: Execution) -> None:
        async with self._lock:
            await self._emit(self.book.book(view, [execution]) + self.book.status(view, None))
        self._acknowledge(view.client_order_id)

    async def _apply_error(self, code: int, text: str, view: VenueOrder | None) -> None:
        kind = classify(code)
        if kind is ErrorKind.CONNECTIVITY_LOST:
            self._ib_lost = True
            self.mark(AdapterState.REFUSING, f"TWS has lost its connection to IB ({code})")
            return
        if kind is ErrorKind.CONNECTIVITY_RESTORED:
            # Not awaited here: reconciliation asks TWS, and its answers queue behind this job.
            self.session.spawn(self._reconnected())
            return
        if view is None or kind is ErrorKind.NOTICE:
            log.info("ib notice %s: %s", code, text)
            return
        coid = view.client_order_id
        reason = f"IB {code}: {text}"
        order = self.tracker.get(coid)
        if kind is ErrorKind.CANCELED:
            await self._apply_status(replace(view, venue_status="Cancelled"), reason)
        elif order is not None and order.status in (OrderStatus.NEW, OrderStatus.UNKNOWN):
            await self._move(coid, OrderStatus.REJECTED, reason)
        else:
            # A refused cancel or modify of a working order: IB's view of it settles ours.
            log.warning("ib %s: %s", coid, reason)
            self._spawn_lookup(coid)
        self._acknowledge(coid)

    def _acknowledge(self, coid: ClientOrderId) -> None:
        ack = self._acks.get(coid)
        order = self.tracker.get(coid)
        if ack is not None and order is not None and order.status is not OrderStatus.NEW:
            ack.set()

    def _spawn_lookup(self, coid: ClientOrderId) -> None:
        async def lookup() -> None:
            await self.get_order(coid)

        self.session.spawn(lookup())

    # -- orders ----------------------------------------------------------------------

    async def submit(self, request: OrderRequest) -> Order:
        """Places an order once per client order id; see the module docstring for the rules."""
        coid = request.client_order_id
        contract = mapping.contract_for(request.symbol, self._config)
        ib_order = mapping.ib_order(request, self._config)
        async with self._lock:
            known = self.tracker.get(coid)
            if known is not None:
                return known
            if self._state is not AdapterState.READY:
                raise AdapterRefusing(f"{self.name} refuses to trade: {self._reason}")
            trade, fills = self.session.find(coid)
            if trade is not None or fills:
                log.info("ib already holds %s (orderRef): adopting it, placing nothing", coid)
                await self._emit(self.book.adopt(request, trade, fills, at=self._clock.now()))
                return self.tracker.require(coid)
            created = self.tracker.create(
                request, order_id=mapping.provisional_order_id(coid), at=self._clock.now()
            )
            await self._emit([created] if created else [])
            ack = self._acks[coid] = asyncio.Event()
            try:
                self.ib.placeOrder(contract, ib_order)
            except ConnectionError as exc:
                self._acks.pop(coid, None)
                return await self._move(coid, OrderStatus.UNKNOWN, f"outcome unknown: {exc}")
        try:
            await asyncio.wait_for(ack.wait(), self._config.request_timeout_seconds)
        except TimeoutError:
            pass
        finally:
            self._acks.pop(coid, None)
        if self.tracker.require(coid).status is OrderStatus.NEW:
            timeout = self._config.request_timeout_seconds
            return await self._move(
                coid, OrderStatus.UNKNOWN, f"no answer from TWS within {timeout} s; outcome unknown"
            )
        return self.tracker.require(coid)

    async def cancel(self, client_order_id: ClientOrderId) -> Order:
        """Asks TWS to cancel; its `orderStatus` (Cancelled) or error 202 settles it."""
        order = self.tracker.require(client_order_id)
        if not order.is_open:
            return order
        trade = self.session.own_trade(client_order_id)
        try:
            self.ib.cancelOrder(trade.order)
        except ConnectionError as exc:
            raise VenueUnavailable(f"cancel {client_order_id}: {exc}") from exc
        return await self._move(client_order_id, OrderStatus.PENDING_CANCEL, None)

    async def replace(self, client_order_id: ClientOrderId, change: OrderChange) -> Order:
        """Modifies the order at IB (`placeOrder` with its order id); same client order id.

        The order is PENDING_REPLACE until TWS answers; its request takes the new values then.
        """
        order = self.tracker.require(client_order_id)
        if not order.is_open:
            raise Conflict(f"{client_order_id} is {order.status}; nothing to replace")
        wanted = change.applied_to(order.request)
        trade = self.session.own_trade(client_order_id)
        modified = mapping.ib_order(wanted, self._config)
        trade.order.totalQuantity = modified.totalQuantity
        trade.order.lmtPrice = modified.lmtPrice
        trade.order.auxPrice = modified.auxPrice
        moved = await self._move(client_order_id, OrderStatus.PENDING_REPLACE, None)
        try:
            self.ib.placeOrder(trade.contract, trade.order)
        except ConnectionError as exc:
            raise VenueUnavailable(f"replace {client_order_id}: {exc}") from exc
        return moved

    async def get_order(self, client_order_id: ClientOrderId) -> Order | None:
        """IB's view of one order (ours is settled from it), or None if IB does not know it."""
        trades, fills = await self.session.refresh()
        trade, mine = trades.get(client_order_id), fills.get(client_order_id, [])
        if trade is None and not mine:
            return None
        await self._settle_from(client_order_id, trade, mine)
        return self.tracker.get(client_order_id)

    async def open_orders(self) -> list[Order]:
        """IB's open orders with our orderRef, each settled into our copy (unknown ones adopted)."""
        trades, fills = await self.session.refresh()
        found: list[Order] = []
        for coid, trade in trades.items():
            if trade.orderStatus.status in mapping.DONE_STATUSES:
                continue
            await self._settle_from(coid, trade, fills.get(coid, []))
            order = self.tracker.get(coid)
            if order is not None:
                found.append(order)
        return found

    async def _settle_from(
        self, coid: ClientOrderId, trade: Trade | None, fills: list[Fill]
    ) -> None:
        async with self._lock:
            await self._emit(self.book.settle(coid, trade, fills, at=self._clock.now()))

    async def orders(self) -> list[Order]:
        """Every order this adapter knows."""
        return self.tracker.orders()

    async def settle_missing(self, client_order_id: ClientOrderId, reason: str) -> None:
        """An order IB does not know, long after we sent it: it never arrived."""
        await self._move(client_order_id, OrderStatus.REJECTED, reason)

    async def positions(self) -> list[BrokerPosition]:
        """IB's positions (`reqPositions`), valued from the account's portfolio."""
        items, portfolio = await self.session.positions()
        return [mapping.position(item, portfolio) for item in items if item.position]

    async def account(self) -> AccountSnapshot:
        """IB's account values (`reqAccountUpdates`) with its positions."""
        values = await self.session.account_values()
        return mapping.account(
            values, await self.positions(), venue=self.venue, currency=self._config.currency
        )

    # -- internals -------------------------------------------------------------------

    async def _move(self, coid: ClientOrderId, target: OrderStatus, reason: str | None) -> Order:
        async with self._lock:
            moved = self.tracker.move(coid, target, at=self._clock.now(), reason=reason)
            await self._emit([moved] if moved else [])
        return self.tracker.require(coid)

    async def _emit(self, updates: list[OrderUpdate]) -> None:
        for update in updates:
            await self._listener(update)

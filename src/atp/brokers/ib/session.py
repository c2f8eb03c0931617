"""The ib_async connection of one adapter: connect, reconnect, and the requests it makes.

Vendor failures become our error tree here: a refused or timed-out connect, a request TWS does
not answer within the deadline, or a call on a lost socket is `VenueUnavailable`.

On every (re)connect ib_async itself loads this client's open orders, the completed orders,
the executions of the day and the account; the session adds `reqAllOpenOrders`, so orders of
other client ids (an earlier run under another id) are known too. `find` searches what was
loaded by orderRef, without a round trip; `refresh` asks TWS again (for reconciliation).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ib_async import IB, AccountValue, Fill, PortfolioItem, Position, Trade

from atp.brokers.ib.config import IbConfig
from atp.brokers.ib.mapping import DONE_STATUSES
from atp.core.errors import Conflict, VenueUnavailable
from atp.core.ids import ClientOrderId

log = logging.getLogger(__name__)
Reconnected = Callable[[], Awaitable[None]]


class IbSession:
    """One IB connection: opened, watched, reopened with backoff, and asked."""

    def __init__(self, config: IbConfig, ib: IB, *, on_lost: Callable[[str], None]) -> None:
        self.ib = ib
        self._config = config
        self._on_lost = on_lost
        self._closing = False
        self._opening = False
        self._refreshing = 0
        self._reconnect: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connects = 0
        ib.disconnectedEvent += self._disconnected

    @property
    def syncing(self) -> bool:
        """True while TWS is answering a (re)connect's or a refresh's order requests."""
        return self._opening or self._refreshing > 0

    @property
    def account(self) -> str:
        """The account traded: configured, or the only one TWS manages."""
        if self._config.account:
            return self._config.account
        accounts = self.ib.managedAccounts()
        return accounts[0] if len(accounts) == 1 else ""

    async def open(self) -> None:
        """Connects and loads IB's orders and executions.

        Raises:
            VenueUnavailable: TWS refused, did not answer within the deadline, or went away.
        """
        config = self._config
        self._closing, self._opening = False, True
        try:
            await self.ib.connectAsync(
                config.host,
                config.port,
                clientId=config.client_id,
                timeout=config.request_timeout_seconds,
                account=config.account,
                raiseSyncErrors=True,
            )
            await asyncio.wait_for(self.ib.reqAllOpenOrdersAsync(), config.request_timeout_seconds)
        except (OSError, TimeoutError, ConnectionError) as exc:
            self.ib.disconnect()
            where = f"{config.host}:{config.port}"
            raise VenueUnavailable(f"cannot reach TWS at {where}: {exc!r}") from exc
        finally:
            self._opening = False
        self.connects += 1
        log.info("connected to TWS (connect #%d)", self.connects)

    async def close(self) -> None:
        """Disconnects for good and stops reconnecting."""
        self._closing = True
        for task in [self._reconnect, *self._tasks]:
            if task is not None:
                task.cancel()
        self.ib.disconnect()

    def _disconnected(self) -> None:
        if self._closing or self._opening:
            return
        self._on_lost("disconnected from TWS")

    def reconnect_later(self, reconnected: Reconnected) -> None:
        """Reconnects in the background with exponential backoff, then calls `reconnected`."""
        if self._closing or (self._reconnect is not None and not self._reconnect.done()):
            return
        self._reconnect = asyncio.create_task(self._reconnect_loop(reconnected))

    async def _reconnect_loop(self, reconnected: Reconnected) -> None:
        delay = self._config.reconnect_delay_seconds
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self.open()
            except VenueUnavailable as exc:
                log.warning("reconnect failed: %s; next try in %.1f s", exc, delay)
                delay = min(delay * 2, self._config.reconnect_max_delay_seconds)
                continue
            await reconnected()
            return

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Runs `coro` in the background (cancelled on close)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- lookups -----------------------------------------------------------------------

    def find(self, coid: ClientOrderId) -> tuple[Trade | None, list[Fill]]:
        """The order with orderRef `coid` (a working one first) and its executions, as loaded."""
        trades = [t for t in self.ib.trades() if t.order.orderRef == coid]
        trades.sort(key=lambda t: t.orderStatus.status not in DONE_STATUSES, reverse=True)
        fills = [f for f in self.ib.fills() if f.execution.orderRef == coid]
        return (trades[0] if trades else None), fills

    def own_trade(self, coid: ClientOrderId) -> Trade:
        """The working order `coid` placed by this client id (only it may cancel or modify).

        Raises:
            VenueUnavailable: not connected.
            Conflict: no such working order of this client at IB.
        """
        if not self.ib.isConnected():
            raise VenueUnavailable("not connected to TWS")
        client = self._config.client_id
        for trade in self.ib.trades():
            order = trade.order
            if (
                order.orderRef == coid
                and order.clientId == client
                and order.orderId > 0
                and trade.orderStatus.status not in DONE_STATUSES
            ):
                return trade
        raise Conflict(f"{coid}: no working order of client {client} at IB; reconcile first")

    async def refresh(self) -> tuple[dict[ClientOrderId, Trade], dict[ClientOrderId, list[Fill]]]:
        """Asks TWS for every open and completed order and the executions; by orderRef.

        Raises:
            VenueUnavailable: not connected, or TWS did not answer in time.
        """
        ib = self.ib
        completed: list[Trade] = []
        opened: list[Trade] = []
        self._refreshing += 1
        try:
            self._require_connection()
            opened = await self._ask(ib.reqAllOpenOrdersAsync())
            completed = await self._ask(ib.reqCompletedOrdersAsync(False))
            await self._ask(ib.reqExecutionsAsync())
        except (TimeoutError, ConnectionError) as exc:
            raise VenueUnavailable(f"TWS did not answer: {exc!r}") from exc
        finally:
            self._refreshing -= 1
        trades: dict[ClientOrderId, Trade] = {}
        # Later sources win: ib_async never updates a session trade of another client, while
        # the completed and open order answers are TWS's view now.
        for trade in [*ib.trades(), *opened, *completed]:
            if trade.order.orderRef:
                trades[ClientOrderId(trade.order.orderRef)] = trade
        fills: dict[ClientOrderId, list[Fill]] = {}
        # ib.fills() and not the request's answer: only the former carries commission reports.
        for fill in ib.fills():
            if fill.execution.orderRef:
                fills.setdefault(ClientOrderId(fill.execution.orderRef), []).append(fill)
        return trades, fills

    async def positions(self) -> tuple[list[Position], dict[int, PortfolioItem]]:
        """TWS's positions of the account, and its portfolio items by contract id."""
        try:
            self._require_connection()
            items: list[Position] = await self._ask(self.ib.reqPositionsAsync())
        except (TimeoutError, ConnectionError) as exc:
            raise VenueUnavailable(f"TWS did not answer reqPositions: {exc!r}") from exc
        account = self.account
        mine = [p for p in items if not account or p.account == account]
        portfolio = {p.contract.conId: p for p in self.ib.portfolio(account)}
        return mine, portfolio

    async def account_values(self) -> list[AccountValue]:
        """The account's values, freshly downloaded (`reqAccountUpdates`)."""
        account = self.account
        try:
            self._require_connection()
            await self._ask(self.ib.reqAccountUpdatesAsync(account))
        except (TimeoutError, ConnectionError) as exc:
            raise VenueUnavailable(f"TWS did not answer reqAccountUpdates: {exc!r}") from exc
        return self.ib.accountValues(account)

    def _require_connection(self) -> None:
        if not self.ib.isConnected():
            raise ConnectionError("not connected to TWS")

    async def _ask(self, request: Awaitable[Any]) -> Any:
        return await asyncio.wait_for(request, self._config.request_timeout_seconds)

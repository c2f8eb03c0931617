"""A fake TWS / IB Gateway: the TWS API socket protocol on a loopback port, enough for ib_async.

What it models (message layouts in `protocol.py`, server version 157):

- the handshake: `API\\0` + `v157..178` -> server version and time; `startApi` -> `nextValidId`
  and `managedAccounts` (then a 2104 farm-OK notice, as TWS sends);
- `placeOrder` -> `openOrder` + `orderStatus` (Submitted); a market order then fills at
  `price` (when `auto_fill`): `execDetails`, `openOrder` and `orderStatus` (Filled), then the
  `commissionReport`, in TWS's order. `placeOrder` with a known order id of the same client
  modifies the order. `reject_next = "reason"` answers the next new order with error 201;
- `cancelOrder` -> `orderStatus` (Cancelled) + error 202; an order that cannot be cancelled
  -> error 161;
- `reqOpenOrders` (this client's) / `reqAllOpenOrders` -> `openOrder` + `orderStatus` each,
  `openOrderEnd`; `reqCompletedOrders` -> `completedOrder`..., `completedOrdersEnd`;
  `reqExecutions` -> `execDetails` + `commissionReport` each, `execDetailsEnd`;
  `reqPositions` -> `position`..., `positionEnd`; `reqAccountUpdates` -> account values,
  portfolio, `accountDownloadEnd`; `reqAccountUpdatesMulti` and `reqAccountSummary` likewise.

Faults a test scripts: `fill(perm_id, ...)` executes at any time (while the client is away the
reports are lost, as they are at TWS); `drop_clients()` closes every socket; `accepting = False`
closes new connections at once (TWS down); `reject_next`; `notify(code, text)` sends an error
to every client (1100 connectivity lost, 1102 restored); `announce(perm_id, status)` sends an
`orderStatus` with any status word.
With `record_to`, each session's byte streams are written to `<name>.server.bin` (what TWS
sent) and `<name>.client.bin` (what the client sent), for replay tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from . import protocol as p
from .protocol import FakeExecution, FakeOrder, FrameReader, frame

ACCOUNT = "DU1234567"
CONNECTION_TIME = "20250102 14:30:00 UTC"
EXECUTION_TIME = "20250102 14:30:01 UTC"
CON_IDS = {"AAPL": 265598, "MSFT": 272093, "SPY": 756733}
REJECT_TEXT = "Order rejected - reason:"


@dataclass
class _Session:
    """One client connection."""

    writer: asyncio.StreamWriter
    client_id: int = -1
    sent: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)

    def send(self, *messages: list[object]) -> None:
        for message in messages:
            data = frame(message)
            self.sent += data
            self.writer.write(data)


class FakeTws:
    """A TWS the tests control: orders, executions, positions and cash of one account."""

    def __init__(
        self,
        *,
        price: Decimal = Decimal("189.50"),
        commission: Decimal = Decimal("1.00"),
        cash: Decimal = Decimal("100000"),
        record_to: Path | None = None,
    ) -> None:
        self.price = price
        self.commission = commission
        self.starting_cash = cash
        self.record_to = record_to
        self.auto_fill = True
        self.accepting = True
        self.reject_next: str | None = None
        self.orders: dict[int, FakeOrder] = {}
        self.placed = 0
        self.modified = 0
        self.requests: list[int] = []
        self.sessions: list[_Session] = []
        self._next_order_id = 1
        self._next_perm_id = 900_000_001
        self._next_exec = 1
        self._server: asyncio.Server | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Listens on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stops listening and closes every session."""
        await self.drop_clients()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def drop_clients(self) -> None:
        """Closes every client socket (as a TWS restart or a network cut does)."""
        for session in list(self.sessions):
            session.writer.close()
            with contextlib.suppress(ConnectionError):
                await session.writer.wait_closed()
        self.sessions.clear()

    def by_ref(self, order_ref: str) -> list[FakeOrder]:
        """The orders carrying this orderRef."""
        return [o for o in self.orders.values() if o.order_ref == order_ref]

    async def notify(self, code: int, text: str) -> None:
        """Sends error `code` (request id -1) to every connected client."""
        for session in self.sessions:
            session.send(p.error(-1, code, text))
            await session.writer.drain()

    async def announce(self, perm_id: int, status: str) -> None:
        """Sends an `orderStatus` with `status` for an order, leaving the order as it is."""
        order = self.orders[perm_id]
        session = self._session_of(order.client_id)
        if session is not None:
            saved, order.status = order.status, status
            session.send(p.order_status(order))
            order.status = saved
            await session.writer.drain()

    # -- scripted executions -----------------------------------------------------------

    async def fill(self, perm_id: int, shares: Decimal, price: Decimal) -> FakeExecution:
        """Executes `shares` of an order and reports it to its client if connected."""
        order = self.orders[perm_id]
        execution = self._execute(order, shares, price)
        session = self._session_of(order.client_id)
        if session is not None:
            self._report_execution(session, order, execution)
            await session.writer.drain()
        return execution

    def _execute(self, order: FakeOrder, shares: Decimal, price: Decimal) -> FakeExecution:
        cumulative = order.filled + shares
        average = (order.filled * order.average_price + shares * price) / cumulative
        execution = FakeExecution(
            exec_id=f"0000e0d5.6576a1b2.01.{self._next_exec:02d}",
            shares=shares,
            price=price,
            cumulative=cumulative,
            average=average,
            time=EXECUTION_TIME,
            commission=self.commission,
        )
        self._next_exec += 1
        order.executions.append(execution)
        order.status = "Filled" if cumulative == order.quantity else "Submitted"
        return execution

    def _report_execution(
        self, session: _Session, order: FakeOrder, execution: FakeExecution
    ) -> None:
        session.send(
            p.exec_details(-1, order, execution),
            p.open_order(order),
            p.order_status(order),
            p.commission_report(execution),
        )

    def _session_of(self, client_id: int) -> _Session | None:
        for session in self.sessions:
            if session.client_id == client_id:
                return session
        return None

    # -- the socket --------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        if not self.accepting:
            writer.close()
            return
        try:
            greeting = await reader.readexactly(len(p.GREETING))
            session.received += greeting
            if greeting != p.GREETING:
                return
            frames = FrameReader()
            handshake_done = False
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                session.received += data
                for fields in frames.feed(data):
                    if not handshake_done:
                        handshake_done = True
                        session.send([p.SERVER_VERSION, CONNECTION_TIME])
                        continue
                    self._handle(session, fields)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
            self._record(session)
            writer.close()

    def _record(self, session: _Session) -> None:
        if self.record_to is None or session.client_id < 0:
            return
        self.record_to.parent.mkdir(parents=True, exist_ok=True)
        stem = self.record_to
        stem.with_suffix(".server.bin").write_bytes(bytes(session.sent))
        stem.with_suffix(".client.bin").write_bytes(bytes(session.received))

    def _handle(self, session: _Session, fields: list[str]) -> None:
        message = int(fields[0])
        self.requests.append(message)
        handler = {
            p.START_API: self._start_api,
            p.PLACE_ORDER: self._place_order,
            p.CANCEL_ORDER: self._cancel_order,
            p.REQ_OPEN_ORDERS: self._open_orders,
            p.REQ_ALL_OPEN_ORDERS: self._open_orders,
            p.REQ_COMPLETED_ORDERS: self._completed_orders,
            p.REQ_EXECUTIONS: self._executions,
            p.REQ_POSITIONS: self._positions,
            p.REQ_ACCOUNT_UPDATES: self._account_updates,
            p.REQ_ACCOUNT_UPDATES_MULTI: self._account_updates_multi,
            p.REQ_ACCOUNT_SUMMARY: self._account_summary,
            p.REQ_IDS: self._request_ids,
        }.get(message)
        if handler is not None:
            handler(session, fields)

    def _start_api(self, session: _Session, fields: list[str]) -> None:
        session.client_id = int(fields[2])
        self.sessions.append(session)
        session.send(
            [9, 1, self._next_order_id],
            [15, 1, ACCOUNT],
            p.error(-1, 2104, "Market data farm connection is OK:usfarm"),
        )

    def _request_ids(self, session: _Session, _fields: list[str]) -> None:
        session.send([9, 1, self._next_order_id])

    def _place_order(self, session: _Session, fields: list[str]) -> None:
        order_id = int(fields[1])
        self._next_order_id = max(self._next_order_id, order_id + 1)
        existing = next(
            (
                o
                for o in self.orders.values()
                if o.client_id == session.client_id and o.order_id == order_id
            ),
            None,
        )
        if existing is not None:
            self._modify(session, existing, fields)
            return
        order = FakeOrder(
            order_id=order_id,
            client_id=session.client_id,
            perm_id=self._next_perm_id,
            con_id=CON_IDS.get(fields[3], 1),
            symbol=fields[3],
            sec_type=fields[4],
            exchange=fields[9],
            currency=fields[11],
            action=fields[16],
            quantity=Decimal(fields[17]),
            order_type=fields[18],
            limit_price=Decimal(fields[19]) if fields[19] else None,
            aux_price=Decimal(fields[20]) if fields[20] else None,
            tif=fields[21],
            account=fields[23] or ACCOUNT,
            order_ref=fields[26],
        )
        if self.reject_next is not None:
            reason, self.reject_next = self.reject_next, None
            order.status = "Inactive"
            self.orders[order.perm_id] = order
            self._next_perm_id += 1
            session.send(p.error(order_id, 201, f"{REJECT_TEXT} {reason}"))
            return
        self.placed += 1
        self._next_perm_id += 1
        self.orders[order.perm_id] = order
        order.status = "Submitted"
        session.send(p.open_order(order), p.order_status(order))
        if self.auto_fill and order.order_type == "MKT":
            execution = self._execute(order, order.quantity, self.price)
            self._report_execution(session, order, execution)

    def _modify(self, session: _Session, order: FakeOrder, fields: list[str]) -> None:
        if not order.is_open:
            session.send(p.error(order.order_id, 103, "Duplicate order id"))
            return
        self.modified += 1
        order.quantity = Decimal(fields[17])
        order.limit_price = Decimal(fields[19]) if fields[19] else None
        order.aux_price = Decimal(fields[20]) if fields[20] else None
        session.send(p.open_order(order), p.order_status(order))

    def _cancel_order(self, session: _Session, fields: list[str]) -> None:
        order_id = int(fields[2])
        for order in self.orders.values():
            if order.client_id == session.client_id and order.order_id == order_id:
                if not order.is_open:
                    text = f"Order {order_id} cannot be cancelled, state: {order.status}."
                    session.send(p.error(order_id, 161, text))
                    return
                order.status = "Cancelled"
                session.send(
                    p.order_status(order), p.error(order_id, 202, "Order Canceled - reason:")
                )
                return
        session.send(p.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled "
                                               "is not found."))  # fmt: skip

    def _open_orders(self, session: _Session, fields: list[str]) -> None:
        only_mine = int(fields[0]) == p.REQ_OPEN_ORDERS
        for order in self.orders.values():
            if order.is_open and (not only_mine or order.client_id == session.client_id):
                session.send(p.open_order(order), p.order_status(order))
        session.send([53, 1])

    def _completed_orders(self, session: _Session, _fields: list[str]) -> None:
        for order in self.orders.values():
            if not order.is_open:
                session.send(p.completed_order(order))
        session.send([102])

    def _executions(self, session: _Session, fields: list[str]) -> None:
        request_id = int(fields[2])
        for order in self.orders.values():
            for execution in order.executions:
                session.send(
                    p.exec_details(request_id, order, execution), p.commission_report(execution)
                )
        session.send([55, 1, request_id])

    def _holdings(self) -> dict[str, tuple[FakeOrder, Decimal, Decimal]]:
        """Per symbol: an order of it (for the contract), shares held, average cost."""
        held: dict[str, tuple[FakeOrder, Decimal, Decimal]] = {}
        for order in self.orders.values():
            sign = 1 if order.action == "BUY" else -1
            for e in order.executions:
                _, shares, cost = held.get(order.symbol, (order, Decimal(0), Decimal(0)))
                total = shares + sign * e.shares
                if sign > 0 and total:
                    cost = (shares * cost + e.shares * e.price) / total
                held[order.symbol] = (order, total, cost)
        return held

    def cash(self) -> Decimal:
        """Starting cash less what was bought, plus what was sold, less commissions."""
        cash = self.starting_cash
        for order in self.orders.values():
            sign = 1 if order.action == "BUY" else -1
            for e in order.executions:
                cash -= sign * e.shares * e.price + e.commission
        return cash

    def _positions(self, session: _Session, _fields: list[str]) -> None:
        for order, shares, cost in self._holdings().values():
            session.send(p.position(ACCOUNT, order, shares, cost))
        session.send([62, 1])

    def _values(self) -> list[tuple[str, Decimal, str]]:
        market = sum((s * self.price for _, s, _ in self._holdings().values()), Decimal(0))
        cash = self.cash()
        return [
            ("TotalCashValue", cash, "USD"),
            ("NetLiquidation", cash + market, "USD"),
            ("GrossPositionValue", market, "USD"),
            ("BuyingPower", cash * 4, "USD"),
            ("RealizedPnL", Decimal(0), "USD"),
            ("UnrealizedPnL", sum((s * (self.price - c) for _, s, c in
                                   self._holdings().values()), Decimal(0)), "USD"),
        ]  # fmt: skip

    def _account_updates(self, session: _Session, fields: list[str]) -> None:
        if fields[2] != "1":
            return
        for tag, value, currency in self._values():
            session.send([6, 2, tag, value, currency, ACCOUNT])
        for order, shares, cost in self._holdings().values():
            session.send(p.portfolio(ACCOUNT, order, shares, self.price, cost))
        session.send([8, 1, "14:30"], [54, 1, ACCOUNT])

    def _account_updates_multi(self, session: _Session, fields: list[str]) -> None:
        request_id = int(fields[2])
        for tag, value, currency in self._values():
            session.send([73, 1, request_id, ACCOUNT, "", tag, value, currency])
        session.send([74, 1, request_id])

    def _account_summary(self, session: _Session, fields: list[str]) -> None:
        request_id = int(fields[2])
        for tag, value, currency in self._values():
            session.send([63, 1, request_id, ACCOUNT, tag, value, currency])
        session.send([64, 1, request_id])

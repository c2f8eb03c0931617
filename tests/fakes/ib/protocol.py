"""The TWS API socket protocol as the fake TWS speaks it: framing and the messages it sends.

Framing (TWS API "message structure"): after the client's `API\\0` greeting, every message in
either direction is a 4-byte big-endian length followed by that many bytes of fields, each
field terminated by a NUL. The server answers the client's version range (`v157..178`) with a
two-field message: the server version it picked and its connection time.

The fake picks server version 157, the lowest ib_async 2.1.0 accepts (`Client.MinClientVersion`):
at 157 the order messages carry none of the later optional fields (no `duration`, `postToAts`,
`autoCancelParent`, no advanced reject JSON in errors), so their layouts below are fixed.
Each builder returns the field list of one message, laid out as ib_async's `decoder.py` reads
it at that version; fields the fake has no value for are empty strings (IB's "unset").
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

SERVER_VERSION = 157
GREETING = b"API\0"

# Incoming (client -> server) message ids, from ib_async's client.py.
PLACE_ORDER, CANCEL_ORDER, REQ_OPEN_ORDERS, REQ_ACCOUNT_UPDATES = 3, 4, 5, 6
REQ_EXECUTIONS, REQ_IDS, REQ_ALL_OPEN_ORDERS, REQ_POSITIONS = 7, 8, 16, 61
REQ_ACCOUNT_SUMMARY, START_API, REQ_ACCOUNT_UPDATES_MULTI, REQ_COMPLETED_ORDERS = 62, 71, 76, 99


def encode_field(value: object) -> str:
    """One field as text: None is empty, booleans are 1/0, Decimals are plain notation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def frame(fields: Sequence[object]) -> bytes:
    """A length-prefixed message of NUL-terminated fields."""
    body = "".join(encode_field(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(body)) + body


class FrameReader:
    """Splits a byte stream into messages (lists of fields), however it was chunked."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[list[str]]:
        """Adds bytes; returns every message now complete."""
        self._buffer += data
        messages: list[list[str]] = []
        while len(self._buffer) >= 4:
            size = struct.unpack(">I", self._buffer[:4])[0]
            if len(self._buffer) < 4 + size:
                break
            body, self._buffer = self._buffer[4 : 4 + size], self._buffer[4 + size :]
            messages.append(body.decode().split("\0")[:-1])
        return messages


@dataclass
class FakeExecution:
    """One execution of an order at the fake."""

    exec_id: str
    shares: Decimal
    price: Decimal
    cumulative: Decimal
    average: Decimal
    time: str
    commission: Decimal


@dataclass
class FakeOrder:
    """One order as the fake TWS holds it."""

    order_id: int
    client_id: int
    perm_id: int
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    action: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    account: str
    order_ref: str
    status: str = "PreSubmitted"
    executions: list[FakeExecution] = field(default_factory=list)

    @property
    def filled(self) -> Decimal:
        """Shares executed so far."""
        return sum((e.shares for e in self.executions), Decimal(0))

    @property
    def average_price(self) -> Decimal:
        """Average execution price (0 with no executions, as TWS reports it)."""
        if not self.executions:
            return Decimal(0)
        value = sum((e.shares * e.price for e in self.executions), Decimal(0))
        return value / self.filled

    @property
    def is_open(self) -> bool:
        """True until filled, cancelled or rejected."""
        return self.status not in ("Filled", "Cancelled", "ApiCancelled", "Inactive")

    def contract(self) -> list[object]:
        """conId .. tradingClass as execDetails/openOrder carry them (with exchange)."""
        return [self.con_id, self.symbol, self.sec_type, "", 0, "", "", self.exchange]


def _price(value: Decimal | None) -> object:
    return value if value is not None else ""


def open_order(order: FakeOrder) -> list[object]:
    """`OPEN_ORDER` (5) at server version 157."""
    o = order
    return [
        5, o.order_id, *o.contract(), o.currency, o.symbol, o.symbol,
        o.action, o.quantity, o.order_type, _price(o.limit_price), _price(o.aux_price),
        o.tif, "", o.account, "O", 0, o.order_ref, o.client_id, o.perm_id,
        0, 0, 0, "", "",  # outsideRth, hidden, discretionaryAmt, goodAfterTime, (shares alloc)
        "", "", "", "",  # faGroup, faMethod, faPercentage, faProfile (< 177)
        "", "", "", "", "", 0, "", -1,  # modelCode .. exemptCode
        0, "", "", "", "", "",  # auctionStrategy .. stockRangeUpper
        "", 0, 0, 0, "", 0, 0, 0, "",  # displaySize .. nbboPriceCap
        0, 0, "", 0, "", "",  # parentId .. deltaNeutralAuxPrice (no delta-neutral order)
        0, 0, "", "", "", "", "",  # continuousUpdate .. comboLegsDescrip
        0, 0, 0,  # combo legs, order combo legs, smart combo routing params
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        0, "", "", 0, 0,  # optOutSmartRouting, clearing account/intent, notHeld, no dnc
        "",  # algoStrategy
        0, 0, o.status,  # solicited, whatIf, order state status
        "", "", "", "", "", "", "", "", "",  # margins before / change / after
        "", "", "", "", "",  # commission, min, max, commission currency, warning text
        0, 0,  # randomizeSize, randomizePrice
        0,  # conditions
        "", "", "", "", "", "", "", 0,  # adjusted order fields
        "", "", "",  # soft dollar tier name, value, display name
        "", 0, 0, "", 0,  # cashQty .. usePriceMgmtAlgo
    ]  # fmt: skip


def order_status(order: FakeOrder) -> list[object]:
    """`ORDER_STATUS` (3): no version field since the market-cap-price server version."""
    o = order
    last = o.executions[-1].price if o.executions else Decimal(0)
    remaining = o.quantity - o.filled if o.is_open or o.status == "Filled" else Decimal(0)
    return [
        3, o.order_id, o.status, o.filled, remaining, o.average_price,
        o.perm_id, 0, last, o.client_id, "", 0,
    ]  # fmt: skip


def completed_order(order: FakeOrder) -> list[object]:
    """`COMPLETED_ORDER` (101) at server version 157 (no order id: completed orders have none)."""
    o = order
    return [
        101, *o.contract(), o.currency, o.symbol, o.symbol,
        o.action, o.quantity, o.order_type, _price(o.limit_price), _price(o.aux_price),
        o.tif, "", o.account, "O", 0, o.order_ref, o.perm_id,
        0, 0, "", "",  # outsideRth, hidden, discretionaryAmt, goodAfterTime
        "", "", "", "",  # faGroup, faMethod, faPercentage, faProfile
        "", "", "", "", "", 0, "", -1,  # modelCode .. exemptCode
        "", "", "", "", "",  # startingPrice .. stockRangeUpper
        "", 0, 0, "", 0, 0, "", 0, "", "",  # displaySize .. deltaNeutralAuxPrice
        0, 0, "", "", "",  # continuousUpdate .. comboLegsDescrip
        0, 0, 0,  # combo legs, order combo legs, smart combo routing params
        "", "", "", "",  # scale sizes and increment, hedgeType
        "", "", 0, 0,  # clearingAccount, clearingIntent, notHeld, no dnc
        "",  # algoStrategy
        0, o.status, 0, 0,  # solicited, status, randomizeSize, randomizePrice
        0,  # conditions
        "", "", "", 0, 0, "", o.filled, 0, 0, "", 0, 0, 0,  # trailStopPrice .. parentPermId
        "20250102 15:30:00 UTC", o.status,  # completedTime, completedStatus
    ]  # fmt: skip


def exec_details(request_id: int, order: FakeOrder, execution: FakeExecution) -> list[object]:
    """`EXECUTION_DATA` (11): no version field since the last-liquidity server version."""
    o, e = order, execution
    side = "BOT" if o.action == "BUY" else "SLD"
    return [
        11, request_id, o.order_id, *o.contract(), o.currency, o.symbol, o.symbol,
        e.exec_id, e.time, o.account, "ISLAND", side, e.shares, e.price, o.perm_id,
        o.client_id, 0, e.cumulative, e.average, o.order_ref, "", "", "", 1,
    ]  # fmt: skip


def commission_report(execution: FakeExecution) -> list[object]:
    """`COMMISSION_REPORT` (59), version 1."""
    return [59, 1, execution.exec_id, execution.commission, "USD", "", "", ""]


def error(request_id: int, code: int, text: str) -> list[object]:
    """`ERR_MSG` (4), version 2 (no advanced reject JSON below server version 166)."""
    return [4, 2, request_id, code, text]


def position(account: str, order: FakeOrder, quantity: Decimal, cost: Decimal) -> list[object]:
    """`POSITION_DATA` (61), version 3."""
    o = order
    return [61, 3, account, *o.contract(), o.currency, o.symbol, o.symbol, quantity, cost]


def portfolio(
    account: str, order: FakeOrder, quantity: Decimal, price: Decimal, cost: Decimal
) -> list[object]:
    """`PORTFOLIO_VALUE` (7), version 8 (primary exchange where the others carry exchange)."""
    o = order
    value = quantity * price
    return [
        7, 8, o.con_id, o.symbol, o.sec_type, "", 0, "", "", "NASDAQ", o.currency,
        o.symbol, o.symbol, quantity, price, value, cost, value - quantity * cost, 0, account,
    ]  # fmt: skip

"""Alpaca's words in ours: order objects, statuses, stream events, positions, the account.

Everything here is pure. Alpaca's documented order statuses are mapped onto the state machine;
a status or stream event this module does not know maps to UNKNOWN (the order waits for
reconciliation) instead of raising. Request bodies carry prices and quantities as decimal
strings, exactly as Alpaca's Trading API v2 accepts them, so nothing is rounded through floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from atp.brokers.models import AccountSnapshot, BrokerPosition, OrderChange, OrderRequest
from atp.brokers.sync import Execution, VenueOrder
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.errors import InvalidInput
from atp.core.ids import ClientOrderId, OrderId, Symbol

S = OrderStatus

# Statuses in which the order works on at Alpaca: accepted, or partially filled if it has fills.
_WORKING = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "accepted_for_bidding",
        "pending_review",
        "held",
        "stopped",
        "suspended",
        "done_for_day",
        "calculated",
    }
)
_DIRECT: Mapping[str, OrderStatus] = {
    "partially_filled": S.PARTIALLY_FILLED,
    "filled": S.FILLED,
    "canceled": S.CANCELED,
    "expired": S.EXPIRED,
    "replaced": S.REPLACED,
    "pending_cancel": S.PENDING_CANCEL,
    "pending_replace": S.PENDING_REPLACE,
    "rejected": S.REJECTED,
}
# Stream events Alpaca documents for `trade_updates`; the order object in each carries the
# status after the event, which is what we settle from.
KNOWN_EVENTS = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "fill",
        "partial_fill",
        "canceled",
        "expired",
        "done_for_day",
        "replaced",
        "rejected",
        "pending_cancel",
        "pending_replace",
        "stopped",
        "suspended",
        "calculated",
        "held",
        "restated",
        "order_cancel_rejected",
        "order_replace_rejected",
        "accepted_for_bidding",
        "pending_review",
    }
)
FILL_EVENTS = frozenset({"fill", "partial_fill"})
DUPLICATE_CLIENT_ORDER_ID = 40010001

_TYPES: Mapping[str, OrderType] = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop": OrderType.STOP,
    "stop_limit": OrderType.STOP_LIMIT,
}
_TIFS: Mapping[str, TimeInForce] = {t.value: t for t in TimeInForce}


def map_status(status: str, filled_quantity: Decimal) -> OrderStatus:
    """Alpaca's order status as ours; UNKNOWN for a status Alpaca has not documented."""
    if status in _WORKING:
        return S.PARTIALLY_FILLED if filled_quantity > 0 else S.ACCEPTED
    return _DIRECT.get(status, S.UNKNOWN)


def is_known_status(status: str) -> bool:
    """True for a status this module maps."""
    return status in _WORKING or status in _DIRECT


def request_body(request: OrderRequest) -> dict[str, Any]:
    """The JSON body of `POST /v2/orders` for `request` (also what dry-run shows)."""
    body: dict[str, Any] = {
        "symbol": request.symbol,
        "qty": format(request.quantity, "f"),
        "side": request.side.value,
        "type": request.order_type.value,
        "time_in_force": request.time_in_force.value,
        "client_order_id": request.client_order_id,
    }
    if request.limit_price is not None:
        body["limit_price"] = format(request.limit_price, "f")
    if request.stop_price is not None:
        body["stop_price"] = format(request.stop_price, "f")
    return body


def replace_body(change: OrderChange, client_order_id: ClientOrderId) -> dict[str, Any]:
    """The JSON body of `PATCH /v2/orders/{id}`: only the fields that change."""
    body: dict[str, Any] = {"client_order_id": client_order_id}
    if change.quantity is not None:
        body["qty"] = format(change.quantity, "f")
    if change.limit_price is not None:
        body["limit_price"] = format(change.limit_price, "f")
    if change.stop_price is not None:
        body["stop_price"] = format(change.stop_price, "f")
    return body


def venue_order(raw: Mapping[str, Any]) -> VenueOrder:
    """An Alpaca order object as a `VenueOrder`.

    Raises:
        InvalidInput: the object lacks a field every Alpaca order has, or has a bad number.
    """
    try:
        filled = _decimal(raw.get("filled_qty")) or Decimal(0)
        status = str(raw["status"])
        return VenueOrder(
            order_id=OrderId(str(raw["id"])),
            client_order_id=ClientOrderId(str(raw["client_order_id"])),
            symbol=Symbol(str(raw["symbol"])),
            side=Side(str(raw["side"])),
            quantity=_decimal(raw.get("qty")) or filled,
            order_type=_TYPES.get(str(raw.get("type") or raw.get("order_type")), OrderType.MARKET),
            time_in_force=_TIFS.get(str(raw.get("time_in_force")), TimeInForce.DAY),
            limit_price=_decimal(raw.get("limit_price")),
            stop_price=_decimal(raw.get("stop_price")),
            status=map_status(status, filled),
            venue_status=status,
            filled_quantity=filled,
            average_fill_price=_decimal(raw.get("filled_avg_price")),
            updated_at=_time(raw.get("updated_at") or raw.get("submitted_at") or raw["created_at"]),
        )
    except (KeyError, ValueError) as exc:
        raise InvalidInput(f"alpaca order object: {exc!r} in {dict(raw)!r}") from exc


def execution(data: Mapping[str, Any], order: VenueOrder) -> Execution | None:
    """The execution a `fill`/`partial_fill` trade update reports, or None if it has none."""
    quantity = _decimal(data.get("qty"))
    price = _decimal(data.get("price"))
    if quantity is None or price is None:
        return None
    execution_id = str(data.get("execution_id") or f"{order.order_id}:{data.get('timestamp')}")
    at = data.get("timestamp")
    return Execution(
        execution_id=execution_id,
        quantity=quantity,
        price=price,
        commission=Decimal(0),
        executed_at=_time(at) if at else order.updated_at,
    )


def position(raw: Mapping[str, Any]) -> BrokerPosition:
    """An Alpaca position object as a `BrokerPosition` (short positions are negative)."""
    quantity = _decimal(raw.get("qty")) or Decimal(0)
    if str(raw.get("side", "long")) == "short" and quantity > 0:
        quantity = -quantity
    return BrokerPosition(
        symbol=Symbol(str(raw["symbol"])),
        quantity=quantity,
        average_cost=_decimal(raw.get("avg_entry_price")) or Decimal(0),
        last_price=_decimal(raw.get("current_price")),
        market_value=_decimal(raw.get("market_value")) or Decimal(0),
        unrealized_pnl=_decimal(raw.get("unrealized_pl")) or Decimal(0),
        realized_pnl=Decimal(0),
    )


def account(raw: Mapping[str, Any], positions: list[BrokerPosition], venue: str) -> AccountSnapshot:
    """An Alpaca account object (and positions) as an `AccountSnapshot`."""
    cash = _decimal(raw.get("cash")) or Decimal(0)
    market_value = sum((p.market_value for p in positions), Decimal(0))
    return AccountSnapshot(
        venue=venue,
        cash=cash,
        equity=_decimal(raw.get("equity")) or cash + market_value,
        market_value=market_value,
        buying_power=_decimal(raw.get("buying_power")) or Decimal(0),
        realized_pnl=Decimal(0),
        unrealized_pnl=sum((p.unrealized_pnl for p in positions), Decimal(0)),
        positions=tuple(positions),
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _time(value: Any) -> datetime:
    text = str(value)
    # Alpaca sends nanosecond fractions; datetime takes at most microseconds.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"naive timestamp {value!r}")
    return parsed

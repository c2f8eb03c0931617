"""Interactive Brokers' words in ours: contracts, orders, statuses, executions, the account.

Everything here is pure and works on ib_async's own objects (`Trade`, `Fill`, `Position`,
`AccountValue`). Our client order id travels as IB's `orderRef`, which TWS keeps with the order
and its executions for good, so an order is recognised again after a reconnect or a restart.

ib_async carries quantities and prices as floats; a Decimal that a float cannot hold exactly
is refused here rather than rounded on its way to the venue, and floats coming back are read
through their shortest repr, so 189.5 is Decimal("189.5") and never 189.4999...

IB order statuses (TWS API `orderStatus`):

    PendingSubmit, ApiPending   sent, not yet acknowledged   -> nothing new
    PreSubmitted, Submitted,    working at IB                -> accepted (partially filled
      ApiUpdate                                                 once it has fills)
    PendingCancel               cancel requested             -> pending cancel
    Cancelled, ApiCancelled     cancelled                    -> canceled
    Filled                      completely filled            -> filled
    Inactive                    received but not working     -> rejected
    ValidationError             ib_async: a warning, order still live -> nothing new
    anything else                                            -> unknown (until reconciled)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ib_async import AccountValue, Fill, Order, PortfolioItem, Position, Stock, Trade
from ib_async.util import UNSET_DOUBLE, dataclassNonDefaults

from atp.brokers.ib.config import IbConfig
from atp.brokers.models import AccountSnapshot, BrokerPosition, OrderRequest
from atp.brokers.sync import Execution, VenueOrder
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.errors import InvalidInput
from atp.core.ids import ClientOrderId, OrderId, Symbol, derive_id

S = OrderStatus

ORDER_TYPES: Mapping[OrderType, str] = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
_OUR_TYPES = {v: k for k, v in ORDER_TYPES.items()}
TIME_IN_FORCE: Mapping[TimeInForce, str] = {t: t.value.upper() for t in TimeInForce}
_OUR_TIFS = {v: k for k, v in TIME_IN_FORCE.items()}

_SAYS_NOTHING = frozenset({"PendingSubmit", "ApiPending", "ValidationError"})
_WORKING = frozenset({"PreSubmitted", "Submitted", "ApiUpdate"})
_DIRECT: Mapping[str, OrderStatus] = {
    "PendingCancel": S.PENDING_CANCEL,
    "Cancelled": S.CANCELED,
    "ApiCancelled": S.CANCELED,
    "Filled": S.FILLED,
    "Inactive": S.REJECTED,
}
DONE_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


def is_known_status(status: str) -> bool:
    """True for an IB status this module maps."""
    return status in _SAYS_NOTHING or status in _WORKING or status in _DIRECT


def map_status(status: str, filled_quantity: Decimal) -> OrderStatus | None:
    """IB's order status as ours; None when it says nothing new, UNKNOWN when undocumented."""
    if status in _SAYS_NOTHING:
        return None
    if status in _WORKING:
        return S.PARTIALLY_FILLED if filled_quantity > 0 else S.ACCEPTED
    return _DIRECT.get(status, S.UNKNOWN)


def provisional_order_id(client_order_id: ClientOrderId) -> OrderId:
    """The id an order carries until TWS has given it a permanent id (`permId`)."""
    return OrderId(derive_id("ib-pending", client_order_id))


def to_float(value: Decimal, *, field: str) -> float:
    """A Decimal as the float ib_async sends; refused if the float would not be exact."""
    number = float(value)
    if Decimal(repr(number)) != value:
        raise InvalidInput(f"{field}: {value} cannot be sent to IB exactly (as {number!r})")
    return number


def to_decimal(value: float | Decimal) -> Decimal:
    """A float from ib_async as the Decimal it stands for (10.0 -> 10, 189.5 -> 189.5)."""
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def _price(value: float | Decimal | None) -> Decimal | None:
    if value is None or value == UNSET_DOUBLE or math.isnan(value) or value <= 0:
        return None
    return to_decimal(value)


def contract_for(symbol: Symbol, config: IbConfig) -> Stock:
    """The stock contract an order for `symbol` is sent on."""
    return Stock(symbol, config.exchange, config.currency)


def ib_order(request: OrderRequest, config: IbConfig) -> Order:
    """The ib_async `Order` for `request`; `orderRef` is our client order id."""
    order = Order(
        action="BUY" if request.side is Side.BUY else "SELL",
        totalQuantity=to_float(request.quantity, field="quantity"),
        orderType=ORDER_TYPES[request.order_type],
        tif=TIME_IN_FORCE[request.time_in_force],
        orderRef=request.client_order_id,
        account=config.account,
        transmit=True,
    )
    if request.limit_price is not None:
        order.lmtPrice = to_float(request.limit_price, field="limit_price")
    if request.stop_price is not None:
        order.auxPrice = to_float(request.stop_price, field="stop_price")
    return order


def request_body(request: OrderRequest, config: IbConfig) -> dict[str, Any]:
    """Every Contract and Order field that `placeOrder` would send with a non-default value."""
    return {
        "contract": _scalars(dataclassNonDefaults(contract_for(request.symbol, config))),
        "order": _scalars(dataclassNonDefaults(ib_order(request, config))),
    }


def _scalars(fields: Mapping[str, Any]) -> dict[str, Any]:
    # Nested defaults (an empty SoftDollarTier) are objects that compare unequal to "no
    # default"; what is sent of them is empty, so they are left out.
    return {k: v for k, v in fields.items() if isinstance(v, str | int | float | bool)}


def body_serializer(config: IbConfig) -> Callable[[OrderRequest], dict[str, Any]]:
    """`request_body` bound to a configuration (what `DryRunAdapter` takes)."""

    def serialise(request: OrderRequest) -> dict[str, Any]:
        return request_body(request, config)

    return serialise


def filled_quantity(trade: Trade, fills: Iterable[Fill] = ()) -> Decimal:
    """The most IB has said is filled: status, completed-order field, or executions seen."""
    seen = {f.execution.execId: f for f in (*trade.fills, *fills)}
    from_fills = sum((to_decimal(f.execution.shares) for f in seen.values()), Decimal(0))
    completed = trade.order.filledQuantity
    candidates = [to_decimal(trade.orderStatus.filled), from_fills]
    if completed != UNSET_DOUBLE and not math.isnan(completed):
        candidates.append(to_decimal(completed))
    return max(candidates)


def venue_order(
    trade: Trade, *, at: datetime, fills: Iterable[Fill] = (), filled: Decimal | None = None
) -> VenueOrder:
    """An ib_async `Trade` as a `VenueOrder`.

    Args:
        at: when this view was taken (ib_async keeps no time on completed orders).
        fills: executions of this order known besides `trade.fills` (from reqExecutions).
        filled: the filled quantity to report instead of IB's (the stream books fills from
            executions, so its status views carry only what is booked).

    Raises:
        InvalidInput: the trade has no orderRef, or fields no order of ours can have.
    """
    order, contract = trade.order, trade.contract
    if not order.orderRef:
        raise InvalidInput(f"IB order {order.permId or order.orderId} has no orderRef")
    quantity = to_decimal(order.totalQuantity)
    fills = list(fills)
    venue_filled = filled_quantity(trade, fills) if filled is None else filled
    order_type = _OUR_TYPES.get(order.orderType)
    if order_type is None:
        raise InvalidInput(f"IB order type {order.orderType!r} is not one of ours")
    lmt, aux = _price(order.lmtPrice), _price(order.auxPrice)
    average = _price(trade.orderStatus.avgFillPrice) or _average(
        {f.execution.execId: f for f in (*trade.fills, *fills)}.values()
    )
    status = trade.orderStatus.status
    perm_id = order.permId or trade.orderStatus.permId
    coid = ClientOrderId(order.orderRef)
    return VenueOrder(
        order_id=OrderId(str(perm_id)) if perm_id else provisional_order_id(coid),
        client_order_id=coid,
        symbol=Symbol(contract.symbol),
        side=Side.BUY if order.action.upper() == "BUY" else Side.SELL,
        quantity=quantity if quantity > 0 else venue_filled,
        order_type=order_type,
        time_in_force=_OUR_TIFS.get(order.tif.upper(), TimeInForce.DAY),
        limit_price=lmt if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
        stop_price=aux if order_type in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
        status=map_status(status, venue_filled),
        venue_status=status,
        filled_quantity=venue_filled,
        average_fill_price=average,
        updated_at=at,
    )


def _average(fills: Iterable[Fill]) -> Decimal | None:
    shares = value = Decimal(0)
    for fill in fills:
        quantity = to_decimal(fill.execution.shares)
        shares += quantity
        value += quantity * to_decimal(fill.execution.price)
    return value / shares if shares else None


def execution(fill: Fill) -> Execution:
    """An ib_async `Fill` (execDetails + commissionReport) as an `Execution`."""
    ex = fill.execution
    return Execution(
        execution_id=ex.execId,
        quantity=to_decimal(ex.shares),
        price=to_decimal(ex.price),
        commission=to_decimal(fill.commissionReport.commission),
        executed_at=ex.time,
    )


def position(item: Position, portfolio: Mapping[int, PortfolioItem]) -> BrokerPosition:
    """An IB position, with market value and P&L from the portfolio when TWS sent them."""
    quantity = to_decimal(item.position)
    cost = to_decimal(item.avgCost)
    held = portfolio.get(item.contract.conId)
    if held is None:
        return BrokerPosition(
            symbol=Symbol(item.contract.symbol),
            quantity=quantity,
            average_cost=cost,
            last_price=None,
            market_value=quantity * cost,
            unrealized_pnl=Decimal(0),
            realized_pnl=Decimal(0),
        )
    return BrokerPosition(
        symbol=Symbol(item.contract.symbol),
        quantity=quantity,
        average_cost=cost,
        last_price=to_decimal(held.marketPrice),
        market_value=to_decimal(held.marketValue),
        unrealized_pnl=to_decimal(held.unrealizedPNL),
        realized_pnl=to_decimal(held.realizedPNL),
    )


def account(
    values: Iterable[AccountValue],
    positions: list[BrokerPosition],
    *,
    venue: str,
    currency: str,
) -> AccountSnapshot:
    """IB account values (`updateAccountValue` / `accountSummary` tags) as an `AccountSnapshot`.

    Raises:
        InvalidInput: TWS sent no `TotalCashValue` in `currency` (nothing to report from).
    """
    tags: dict[str, Decimal] = {}
    for value in values:
        if value.currency in (currency, "BASE") and value.tag not in tags:
            try:
                tags[value.tag] = Decimal(value.value)
            except ArithmeticError:
                continue
    if "TotalCashValue" not in tags:
        raise InvalidInput(f"IB account values carry no TotalCashValue in {currency}")
    cash = tags["TotalCashValue"]
    market_value = tags.get(
        "GrossPositionValue", sum((p.market_value for p in positions), Decimal(0))
    )
    return AccountSnapshot(
        venue=venue,
        cash=cash,
        equity=tags.get("NetLiquidation", cash + market_value),
        market_value=market_value,
        buying_power=tags.get("BuyingPower", cash),
        realized_pnl=tags.get("RealizedPnL", Decimal(0)),
        unrealized_pnl=tags.get(
            "UnrealizedPnL", sum((p.unrealized_pnl for p in positions), Decimal(0))
        ),
        positions=tuple(positions),
    )

"""HTTP routes of the broker-adapters service: orders, positions, account, adapters.

`POST /orders` takes the seed's body (`{"symbol": "AAPL", "side": "buy", "quantity": 100,
"order_type": "market"}`) plus optional prices, time in force, client order id and adapter.
With an `Idempotency-Key` header a retry gets the first successful answer back unchanged (a
different body under the same key is refused). Requests carrying the same key are handled one
at a time, so concurrent retries wait for the first answer instead of each asking the risk
engine (whose velocity limit would refuse some of them though the order was made). Errors use
the one `{code, message, details}` body: bad input 422 (including quantities and prices off
the venue's lots and ticks, and absurd sizes), an order the paper venue would reject 422
`venue_rejected` with its reason, risk refusal 409 naming the rule, unknown order 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from atp.api.auth import require_token
from atp.api.decimals import AverageCost, Money, Pnl, Quantity
from atp.brokers.execution import ExecutionEngine, manual_client_order_id
from atp.brokers.models import AccountSnapshot, BrokerPosition, OrderRequest
from atp.brokers.ports import IdempotencyStore, StoredResponse
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.errors import InvalidInput
from atp.core.events import OrderUpdate
from atp.core.ids import ClientOrderId, Symbol
from atp.core.symbols import SYMBOL_PATTERN

router = APIRouter(tags=["orders"])

PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class OrderCreate(BaseModel):
    """A manual order."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(
        pattern=SYMBOL_PATTERN,
        description="Instrument symbol, as in market data (e.g. AAPL).",
    )
    side: Side = Field(description="buy or sell.")
    quantity: PositiveDecimal = Field(
        description="Quantity, > 0, exact: whole lots of the venue's lot size (0.000001 unless "
        "configured), at most its max_quantity and max_notional (docs/brokers.md)."
    )
    order_type: OrderType = Field(default=OrderType.MARKET, description="How it is priced.")
    time_in_force: TimeInForce = Field(default=TimeInForce.DAY, description="How long it works.")
    limit_price: PositiveDecimal | None = Field(
        default=None, description="Limit price, in whole ticks (0.01; 0.0001 below 1.00)."
    )
    stop_price: PositiveDecimal | None = Field(
        default=None, description="Stop price, in whole ticks (0.01; 0.0001 below 1.00)."
    )
    client_order_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=48,
        description="Your id of the order (one order per id).",
    )
    adapter: str | None = Field(default=None, description="Adapter name; the default if unset.")


class FillView(BaseModel):
    """One execution."""

    fill_id: str
    quantity: Quantity
    price: Money
    commission: Money
    filled_at: datetime


class OrderView(BaseModel):
    """An order's latest state."""

    order_id: str
    client_order_id: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Quantity
    filled_quantity: Quantity
    average_fill_price: AverageCost | None
    limit_price: Money | None
    stop_price: Money | None
    status: OrderStatus
    reason: str | None
    decision_id: str | None
    sequence: int
    updated_at: datetime
    fills: list[FillView]


class PositionView(BaseModel):
    """A position at a venue (average cost to 6 places, P&L to the cent, the rest exact)."""

    symbol: str
    quantity: Quantity
    average_cost: AverageCost
    last_price: Money | None
    market_value: Money
    unrealized_pnl: Pnl
    realized_pnl: Pnl


class AccountView(BaseModel):
    """An account: equity = cash + market value of the positions at their last prices."""

    venue: str
    cash: Money
    equity: Money
    market_value: Money
    buying_power: Money
    realized_pnl: Pnl
    unrealized_pnl: Pnl
    positions: list[PositionView]


class AdapterView(BaseModel):
    """An adapter and whether it may trade."""

    name: str
    venue: str
    state: str
    dry_run: bool
    default: bool
    reason: str | None


def _engine(request: Request) -> ExecutionEngine:
    engine: ExecutionEngine = request.app.state.execution
    return engine


async def _view(engine: ExecutionEngine, update: OrderUpdate) -> OrderView:
    fills = await engine.store.fills(venue=update.venue, client_order_id=update.client_order_id)
    return OrderView(
        order_id=update.order_id,
        client_order_id=update.client_order_id,
        venue=update.venue,
        symbol=update.symbol,
        side=update.side,
        order_type=update.order_type,
        time_in_force=update.time_in_force,
        quantity=update.quantity,
        filled_quantity=update.filled_quantity,
        average_fill_price=update.average_fill_price,
        limit_price=update.limit_price,
        stop_price=update.stop_price,
        status=update.status,
        reason=update.reason,
        decision_id=update.decision_id,
        sequence=update.sequence,
        updated_at=update.updated_at,
        fills=[
            FillView(
                fill_id=r.fill.fill_id,
                quantity=r.fill.quantity,
                price=r.fill.price,
                commission=r.fill.commission,
                filled_at=r.fill.filled_at,
            )
            for r in fills
        ],
    )


def _position(p: BrokerPosition) -> PositionView:
    return PositionView(
        symbol=p.symbol,
        quantity=p.quantity,
        average_cost=p.average_cost,
        last_price=p.last_price,
        market_value=p.market_value,
        unrealized_pnl=p.unrealized_pnl,
        realized_pnl=p.realized_pnl,
    )


def _account(a: AccountSnapshot) -> AccountView:
    return AccountView(
        venue=a.venue,
        cash=a.cash,
        equity=a.equity,
        market_value=a.market_value,
        buying_power=a.buying_power,
        realized_pnl=a.realized_pnl,
        unrealized_pnl=a.unrealized_pnl,
        positions=[_position(p) for p in a.positions],
    )


@router.post(
    "/orders", response_model=OrderView, status_code=201, dependencies=[Depends(require_token)]
)
async def create_order(
    body: OrderCreate,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Submits a manual order after the risk engine approves it."""
    if not idempotency_key:
        return await _submit(body, request, None)
    async with _key_locks(request).hold(idempotency_key):
        return await _submit(body, request, idempotency_key)


async def _submit(body: OrderCreate, request: Request, idempotency_key: str | None) -> Any:
    engine = _engine(request)
    store: IdempotencyStore = request.app.state.idempotency
    fingerprint = hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    if idempotency_key:
        stored = await store.get(idempotency_key)
        if stored is not None:
            return _replay(stored, fingerprint)
    order_request = OrderRequest(
        client_order_id=ClientOrderId(body.client_order_id)
        if body.client_order_id
        else manual_client_order_id(idempotency_key),
        symbol=Symbol(body.symbol.upper()),
        side=body.side,
        quantity=body.quantity,
        order_type=body.order_type,
        time_in_force=body.time_in_force,
        limit_price=body.limit_price,
        stop_price=body.stop_price,
    )
    order = await engine.submit_manual(order_request, adapter_name=body.adapter)
    update = await engine.store.get(order.venue, order.client_order_id)
    view = await _view(engine, update if update is not None else order.to_update(None, None))
    if not idempotency_key:
        return view
    first = await store.put_if_absent(
        StoredResponse(
            key=idempotency_key,
            request_fingerprint=fingerprint,
            status_code=201,
            body=view.model_dump_json(),
            created_at=update.updated_at if update is not None else order.updated_at,
        )
    )
    return _replay(first, fingerprint)


class KeyLocks:
    """One lock per `Idempotency-Key` in use, dropped once no request holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Holds `key`'s lock for the duration of the block."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]


def _key_locks(request: Request) -> KeyLocks:
    locks: KeyLocks | None = getattr(request.app.state, "idempotency_key_locks", None)
    if locks is None:
        locks = request.app.state.idempotency_key_locks = KeyLocks()
    return locks


def _replay(stored: StoredResponse, fingerprint: str) -> JSONResponse:
    if stored.request_fingerprint != fingerprint:
        raise InvalidInput(
            f"Idempotency-Key {stored.key!r} was used with a different request body; use a new key"
        )
    return JSONResponse(json.loads(stored.body), status_code=stored.status_code)


@router.get("/orders", response_model=list[OrderView])
async def list_orders(request: Request, open_only: bool = False) -> list[OrderView]:
    """Every order (or only open ones), oldest first."""
    engine = _engine(request)
    return [await _view(engine, u) for u in await engine.store.list_orders(open_only=open_only)]


@router.get("/orders/{order_ref}", response_model=OrderView)
async def get_order(order_ref: str, request: Request) -> OrderView:
    """One order by client order id or venue order id."""
    engine = _engine(request)
    return await _view(engine, await engine.find(order_ref))


@router.delete(
    "/orders/{order_ref}", response_model=OrderView, dependencies=[Depends(require_token)]
)
async def cancel_order(order_ref: str, request: Request) -> OrderView:
    """Cancels an open order."""
    engine = _engine(request)
    update = await engine.find(order_ref)
    await engine.cancel(update.client_order_id)
    return await _view(engine, await engine.find(update.client_order_id))


@router.get("/positions", response_model=list[PositionView])
async def positions(request: Request, adapter: str | None = None) -> list[PositionView]:
    """Positions at one adapter's venue (the default adapter's unless named)."""
    return [_position(p) for p in await _engine(request).adapter(adapter).positions()]


@router.get("/account", response_model=AccountView)
async def account(request: Request, adapter: str | None = None) -> AccountView:
    """Cash, equity, positions and P&L at one adapter's venue."""
    return _account(await _engine(request).adapter(adapter).account())


@router.get("/adapters", response_model=list[AdapterView])
async def adapters(request: Request) -> list[AdapterView]:
    """Every configured adapter and its state."""
    engine = _engine(request)
    views = []
    for name, adapter in engine.adapters.items():
        status = adapter.status()
        views.append(
            AdapterView(
                name=name,
                venue=status.venue,
                state=status.state,
                dry_run=status.dry_run,
                default=name == engine.default_adapter,
                reason=status.reason,
            )
        )
    return views

"""The risk API (`/risk`): watch the engine and steer it.

Thin routes: validate, call the risk controls, map the answer. Every mutating route needs the
bearer token and is recorded (with its actor) as a `control.actions` event by the controls.
Symbols are read as everywhere else (`parse_symbol`: validated, upper-cased). The limits are
replaced whole by `PUT` (every field named) or changed field by field by `PATCH` (a merge
patch); see `atp.risk.limit_changes`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from atp.api.auth import actor_of, require_token
from atp.api.decimals import AverageCost, Money, Quantity
from atp.core.enums import TradingState
from atp.core.events import RiskViolation
from atp.core.ids import Symbol
from atp.core.symbols import SYMBOL_PATTERN, parse_symbol
from atp.risk.config import RiskEngineConfig
from atp.risk.limit_changes import merge_patch, missing_fields
from atp.risk.snapshot import RiskSnapshot


class RiskControls(Protocol):
    """What the router needs from the risk component."""

    def state(self) -> RiskSnapshot:
        """The current picture."""
        ...

    def limits(self) -> RiskEngineConfig:
        """The limits in force."""
        ...

    def recent_violations(self, limit: int) -> list[RiskViolation]:
        """The newest violations first."""
        ...

    async def set_limits(self, config: RiskEngineConfig, *, actor: str) -> None:
        """Replaces the limits and publishes the change."""
        ...

    async def block(self, symbol: Symbol, *, actor: str) -> None:
        """Blocks new exposure in `symbol`."""
        ...

    async def unblock(self, symbol: Symbol, *, actor: str) -> None:
        """Lifts a block."""
        ...

    async def trip_kill_switch(self, reason: str, *, actor: str) -> None:
        """Halts all new orders."""
        ...

    async def reset_kill_switch(self, *, actor: str) -> None:
        """Turns the kill switch off."""
        ...

    async def reset_daily_pnl(self, *, actor: str) -> None:
        """Restarts the day's P&L from now."""
        ...


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PositionOut(_Out):
    """One position: average cost to 6 places, the rest exact (the figures limits judge)."""

    symbol: str
    quantity: Quantity
    average_cost: AverageCost
    last_price: Money | None
    market_value: Money
    unrealized_pnl: Money
    realized_pnl: Money


class LimitOut(_Out):
    """One limit and its utilisation (current / limit; None when the limit is off)."""

    rule: str
    scope: str
    limit: Decimal | None
    current: Decimal
    utilisation: Decimal | None


class RiskStateOut(_Out):
    """The answer of `GET /risk/state`."""

    trading_state: TradingState
    kill_switch: bool
    kill_switch_reason: str
    loss_breached: bool
    trading_day: str
    blocked_symbols: list[str]
    cash: Money
    equity: Money
    gross_exposure: Money
    net_exposure: Money
    realized_pnl: Money
    unrealized_pnl: Money
    day_pnl: Money
    pending_orders: int
    positions: list[PositionOut]
    buckets: dict[str, list[str]]
    limits: list[LimitOut]


class ViolationOut(_Out):
    """One violation, as published on `risk.violations`."""

    violation_id: str
    rule: str
    message: str
    symbol: str | None
    agent_id: str | None
    decision_id: str | None
    client_order_id: str | None
    limit: Decimal | None
    observed: Decimal | None
    action_taken: str
    trading_state: TradingState
    occurred_at: str


class KillSwitchIn(BaseModel):
    """Why the kill switch is tripped (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500, description="Shown in the state and events.")


class BlockedOut(_Out):
    """The symbols blocked after the change."""

    symbol: str
    blocked_symbols: list[str]


def _state_out(snapshot: RiskSnapshot) -> RiskStateOut:
    return RiskStateOut(
        trading_state=snapshot.trading_state,
        kill_switch=snapshot.kill_switch,
        kill_switch_reason=snapshot.kill_switch_reason,
        loss_breached=snapshot.loss_breached,
        trading_day=snapshot.trading_day,
        blocked_symbols=list(snapshot.blocked_symbols),
        cash=snapshot.cash,
        equity=snapshot.equity,
        gross_exposure=snapshot.gross_exposure,
        net_exposure=snapshot.net_exposure,
        realized_pnl=snapshot.realized_pnl,
        unrealized_pnl=snapshot.unrealized_pnl,
        day_pnl=snapshot.day_pnl,
        pending_orders=snapshot.pending_orders,
        positions=[
            PositionOut(
                symbol=p.symbol,
                quantity=p.quantity,
                average_cost=p.average_cost,
                last_price=p.last_price,
                market_value=p.market_value,
                unrealized_pnl=p.unrealized_pnl,
                realized_pnl=p.realized_pnl,
            )
            for p in snapshot.positions
        ],
        buckets={name: list(symbols) for name, symbols in snapshot.buckets.items()},
        limits=[
            LimitOut(
                rule=u.rule,
                scope=u.scope,
                limit=u.limit,
                current=u.current,
                utilisation=u.utilisation,
            )
            for u in snapshot.limits
        ],
    )


def _violation_out(v: RiskViolation) -> ViolationOut:
    return ViolationOut(
        violation_id=v.violation_id,
        rule=v.rule,
        message=v.message,
        symbol=v.symbol,
        agent_id=v.agent_id,
        decision_id=v.decision_id,
        client_order_id=v.client_order_id,
        limit=v.limit,
        observed=v.observed,
        action_taken=v.action_taken,
        trading_state=v.trading_state,
        occurred_at=v.occurred_at.isoformat().replace("+00:00", "Z"),
    )


SymbolPath = Annotated[
    str,
    Path(
        pattern=SYMBOL_PATTERN,
        description="The instrument symbol, as POST /orders takes it (upper-cased: aapl is AAPL).",
    ),
]

MergePatch = Annotated[
    dict[str, Any],
    Body(
        media_type="application/merge-patch+json",
        description="The fields to change, nested as in GET /risk/limits; null turns a limit "
        "off, or removes a per_symbol, buckets or bucket_caps entry.",
    ),
]


def _body_error(errors: list[dict[str, Any]]) -> RequestValidationError:
    """A 422 like FastAPI's own for a bad body, for errors found after the body was read."""
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


def risk_router(controls: RiskControls) -> APIRouter:
    """Builds the `/risk` router over `controls` (the risk component of this service)."""
    router = APIRouter(prefix="/risk", tags=["risk"])
    mutating = [Depends(require_token)]

    @router.get("/state", response_model=RiskStateOut)
    async def get_state() -> RiskStateOut:
        """Trading state, exposures, P&L and every limit with its utilisation."""
        return _state_out(controls.state())

    @router.get("/limits", response_model=RiskEngineConfig)
    async def get_limits() -> RiskEngineConfig:
        """The limits in force."""
        return controls.limits()

    @router.put("/limits", response_model=RiskEngineConfig, dependencies=mutating)
    async def put_limits(config: RiskEngineConfig, request: Request) -> RiskEngineConfig:
        """Replaces every limit; takes effect on the next check and is published.

        The body is the whole document, as `GET /risk/limits` returns it: a field left out is
        a 422 naming it (it would silently fall back to its default). Use PATCH to change a few.
        """
        missing = missing_fields(config)
        if missing:
            raise _body_error(
                [{"loc": path, "msg": "Field required", "type": "missing"} for path in missing]
            )
        await controls.set_limits(config, actor=actor_of(request))
        return controls.limits()

    @router.patch("/limits", response_model=RiskEngineConfig, dependencies=mutating)
    async def patch_limits(patch: MergePatch, request: Request) -> RiskEngineConfig:
        """Changes only the limits named (a JSON merge patch); the rest stay as they are."""
        try:
            config = merge_patch(controls.limits(), patch)
        except ValidationError as exc:
            raise _body_error([dict(e) for e in exc.errors()]) from None
        await controls.set_limits(config, actor=actor_of(request))
        return controls.limits()

    @router.post("/symbols/{symbol}/block", response_model=BlockedOut, dependencies=mutating)
    async def block(symbol: SymbolPath, request: Request) -> BlockedOut:
        """Blocks new exposure in a symbol (orders that reduce it still pass)."""
        name = parse_symbol(symbol)
        await controls.block(name, actor=actor_of(request))
        return BlockedOut(symbol=name, blocked_symbols=list(controls.state().blocked_symbols))

    @router.post("/symbols/{symbol}/unblock", response_model=BlockedOut, dependencies=mutating)
    async def unblock(symbol: SymbolPath, request: Request) -> BlockedOut:
        """Lifts the block on a symbol."""
        name = parse_symbol(symbol)
        await controls.unblock(name, actor=actor_of(request))
        return BlockedOut(symbol=name, blocked_symbols=list(controls.state().blocked_symbols))

    @router.post("/kill-switch", response_model=RiskStateOut, dependencies=mutating)
    async def kill_switch(request: Request, body: KillSwitchIn | None = None) -> RiskStateOut:
        """Halts all new orders until reset (cancel/flatten requests as configured)."""
        reason = body.reason if body is not None else ""
        await controls.trip_kill_switch(reason, actor=actor_of(request))
        return _state_out(controls.state())

    @router.post("/kill-switch/reset", response_model=RiskStateOut, dependencies=mutating)
    async def reset_kill_switch(request: Request) -> RiskStateOut:
        """Turns the kill switch off; trading resumes unless the daily loss holds it."""
        await controls.reset_kill_switch(actor=actor_of(request))
        return _state_out(controls.state())

    @router.post("/daily-pnl/reset", response_model=RiskStateOut, dependencies=mutating)
    async def reset_daily_pnl(request: Request) -> RiskStateOut:
        """Restarts the day's P&L from now and releases a daily-loss latch."""
        await controls.reset_daily_pnl(actor=actor_of(request))
        return _state_out(controls.state())

    @router.get("/violations", response_model=list[ViolationOut])
    async def violations(
        limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first.")] = 50,
    ) -> list[ViolationOut]:
        """The most recent violations, newest first."""
        return [_violation_out(v) for v in controls.recent_violations(limit)]

    return router

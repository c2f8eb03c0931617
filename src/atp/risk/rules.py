"""The six rule types, as small pure functions of an `OrderContext`.

Each returns a `RiskCheck` whose `rule` is a stable machine-readable code and whose message a
person can act on ("position cap AAPL 500 would become 700"). Passing checks carry a short
fixed message and the figures in `limit`/`observed`: formatting them costs the hot path.
Orders that move a position towards flat pass the exposure rules (caps, buckets,
concentration) even when a limit is already exceeded, so a breach can always be traded out of.

Codes, by rule type:
    daily_loss                                   max daily loss
    position_cap_quantity, position_cap_notional per-instrument caps
    symbol_blocked                               a symbol an operator blocked
    correlation_bucket                           correlation bucket gross exposure
    kill_switch                                  the emergency kill switch
    order_velocity                               orders per second and minute
    concentration_gross, concentration_equity    concentration
    short_sale                                   no short sales (`short_sale.py`)
"""

from __future__ import annotations

from decimal import Decimal

from atp.core.enums import TradingState
from atp.core.events import RiskCheck
from atp.risk.config import (
    ConcentrationConfig,
    DailyLossConfig,
    InstrumentCap,
    VelocityConfig,
)
from atp.risk.context import OrderContext, money, qty
from atp.risk.short_sale import SHORT_SALE

DAILY_LOSS = "daily_loss"
POSITION_CAP_QUANTITY = "position_cap_quantity"
POSITION_CAP_NOTIONAL = "position_cap_notional"
SYMBOL_BLOCKED = "symbol_blocked"
CORRELATION_BUCKET = "correlation_bucket"
KILL_SWITCH = "kill_switch"
ORDER_VELOCITY = "order_velocity"
CONCENTRATION_GROSS = "concentration_gross"
CONCENTRATION_EQUITY = "concentration_equity"

RULE_CODES = (
    DAILY_LOSS,
    POSITION_CAP_QUANTITY,
    POSITION_CAP_NOTIONAL,
    SYMBOL_BLOCKED,
    CORRELATION_BUCKET,
    KILL_SWITCH,
    ORDER_VELOCITY,
    CONCENTRATION_GROSS,
    CONCENTRATION_EQUITY,
    SHORT_SALE,
)


# RiskCheck's fields are passed by position: a frozen dataclass built from keywords costs a
# third more, and every pre-trade check builds several of them.
def _ok(rule: str, message: str, limit: Decimal | None, observed: Decimal | None) -> RiskCheck:
    return RiskCheck(rule, True, message, limit, observed)


def _fail(rule: str, message: str, limit: Decimal | None, observed: Decimal | None) -> RiskCheck:
    return RiskCheck(rule, False, message, limit, observed)


# Passing checks that carry no figures are the same every time: built once, not per check.
_KILL_SWITCH_OFF = _ok(KILL_SWITCH, "kill switch off", None, None)
_NOT_BLOCKED = _ok(SYMBOL_BLOCKED, "symbol not blocked", None, None)
_VELOCITY_OK = _ok(ORDER_VELOCITY, "order velocity within limits", None, None)
_NO_BUCKET = _ok(CORRELATION_BUCKET, "symbol in no capped bucket", None, None)
_GROSS_SHARE_OFF = _ok(CONCENTRATION_GROSS, "share of gross exposure not limited", None, None)
_EQUITY_SHARE_OFF = _ok(CONCENTRATION_EQUITY, "share of equity not limited", None, None)


def check_kill_switch(ctx: OrderContext, *, on: bool, reason: str) -> RiskCheck:
    """Refuses every new order while the kill switch is on."""
    if on:
        return _fail(
            KILL_SWITCH,
            f"kill switch is on ({reason}): no new {ctx.symbol} order passes until it is reset",
            None,
            None,
        )
    return _KILL_SWITCH_OFF


def check_daily_loss(ctx: OrderContext, config: DailyLossConfig, *, latched: bool) -> RiskCheck:
    """Once the day's loss reached the limit: HALTED refuses all, REDUCING all but reducers."""
    limit = config.max_loss
    if limit is None:
        return _ok(DAILY_LOSS, "max daily loss off", None, ctx.day_pnl)
    if not latched:
        return _ok(DAILY_LOSS, "day P&L within loss limit", -limit, ctx.day_pnl)
    if config.action is TradingState.REDUCING and ctx.reduces:
        return _ok(
            DAILY_LOSS,
            f"daily loss limit {money(limit)} reached; {ctx.symbol} order reduces exposure",
            -limit,
            ctx.day_pnl,
        )
    allowed = (
        "nothing new passes"
        if config.action is TradingState.HALTED
        else ("only orders that shrink exposure pass")
    )
    return _fail(
        DAILY_LOSS,
        f"daily loss limit {money(limit)} reached (day P&L {money(ctx.day_pnl)}): trading "
        f"{config.action.value}, {allowed}; {ctx.symbol} {ctx.proposal.side.value} "
        f"{qty(ctx.proposal.quantity)} refused",
        -limit,
        ctx.day_pnl,
    )


def check_symbol_block(ctx: OrderContext, *, blocked: bool) -> RiskCheck:
    """Refuses orders that grow a position in a blocked symbol (reducing ones pass)."""
    if blocked and not ctx.reduces:
        return _fail(
            SYMBOL_BLOCKED,
            f"{ctx.symbol} is blocked: only orders that reduce its position pass",
            None,
            None,
        )
    return _NOT_BLOCKED


def check_position_quantity(ctx: OrderContext, cap: InstrumentCap) -> RiskCheck:
    """Refuses an order whose resulting position would exceed the quantity cap."""
    limit = cap.max_quantity
    observed = abs(ctx.after)
    if limit is None:
        return _ok(POSITION_CAP_QUANTITY, "no quantity cap", None, observed)
    if ctx.increases and observed > limit:
        return _fail(
            POSITION_CAP_QUANTITY,
            f"position cap {ctx.symbol} {qty(limit)} would become {qty(observed)}",
            limit,
            observed,
        )
    return _ok(POSITION_CAP_QUANTITY, "position within quantity cap", limit, observed)


def check_position_notional(ctx: OrderContext, cap: InstrumentCap) -> RiskCheck:
    """Refuses an order whose resulting position value would exceed the notional cap."""
    limit = cap.max_notional
    observed = ctx.symbol_value_after
    if limit is None:
        return _ok(POSITION_CAP_NOTIONAL, "no notional cap", None, observed)
    if ctx.increases and observed > limit:
        return _fail(
            POSITION_CAP_NOTIONAL,
            f"notional cap {ctx.symbol} {money(limit)} would become {money(observed)}",
            limit,
            observed,
        )
    return _ok(POSITION_CAP_NOTIONAL, "position within notional cap", limit, observed)


def check_correlation_bucket(ctx: OrderContext, limit: Decimal | None) -> RiskCheck:
    """Refuses an order that would take its bucket's gross exposure past the bucket's cap."""
    if ctx.bucket is None or limit is None:
        return _NO_BUCKET
    observed = ctx.bucket_gross_after
    if ctx.increases and observed > limit:
        return _fail(
            CORRELATION_BUCKET,
            f"bucket {ctx.bucket} gross exposure cap {money(limit)} would become "
            f"{money(observed)} with {ctx.symbol}",
            limit,
            observed,
        )
    return _ok(CORRELATION_BUCKET, f"bucket {ctx.bucket} within its cap", limit, observed)


def check_velocity(ctx: OrderContext, config: VelocityConfig) -> RiskCheck:
    """Refuses an order that would exceed an orders-per-second or per-minute limit."""
    limits = (
        config.per_agent_per_second,
        config.per_agent_per_minute,
        config.total_per_second,
        config.total_per_minute,
    )
    # ctx.velocity holds the counts in the same order as `limits`.
    for index, count in enumerate(ctx.velocity):
        limit = limits[index]
        if limit is not None and count >= limit:
            # Names are formatted only for a refusal: the passing path is the hot one.
            who = f"agent {ctx.agent_key}" if index < 2 else "all agents"
            window = "1s" if index % 2 == 0 else "60s"
            return _fail(
                ORDER_VELOCITY,
                f"order velocity {who}: order {count + 1} in {window} exceeds {limit}",
                Decimal(limit),
                Decimal(count + 1),
            )
    return _VELOCITY_OK


def check_concentration_gross(ctx: OrderContext, config: ConcentrationConfig) -> RiskCheck:
    """Refuses an order leaving its symbol above a share of the portfolio's gross exposure."""
    limit = config.max_share_of_gross
    if limit is None:
        return _GROSS_SHARE_OFF
    if ctx.gross_after <= 0:
        return _ok(CONCENTRATION_GROSS, "share of gross exposure not limited", limit, None)
    share = ctx.symbol_value_after / ctx.gross_after
    if ctx.increases and ctx.gross_after >= config.min_gross_for_share and share > limit:
        return _fail(
            CONCENTRATION_GROSS,
            f"concentration {ctx.symbol} would hold {share:.1%} of gross exposure "
            f"{money(ctx.gross_after)}, limit {limit:.1%}",
            limit,
            share,
        )
    return _ok(CONCENTRATION_GROSS, "share of gross exposure within limit", limit, share)


def check_concentration_equity(ctx: OrderContext, config: ConcentrationConfig) -> RiskCheck:
    """Refuses an order leaving its symbol's position value above a share of equity."""
    limit = config.max_share_of_equity
    if limit is None:
        return _EQUITY_SHARE_OFF
    if ctx.equity <= 0:
        if ctx.increases:
            return _fail(
                CONCENTRATION_EQUITY,
                f"equity {money(ctx.equity)} is not positive: {ctx.symbol} may not grow",
                limit,
                None,
            )
        return _ok(CONCENTRATION_EQUITY, "equity not positive; order reduces", limit, None)
    share = ctx.symbol_value_after / ctx.equity
    if ctx.increases and share > limit:
        return _fail(
            CONCENTRATION_EQUITY,
            f"concentration {ctx.symbol} position {money(ctx.symbol_value_after)} would be "
            f"{share:.1%} of equity {money(ctx.equity)}, limit {limit:.1%}",
            limit,
            share,
        )
    return _ok(CONCENTRATION_EQUITY, "share of equity within limit", limit, share)

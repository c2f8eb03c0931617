"""A read-only picture of the risk engine: state, exposures, P&L and every limit's utilisation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from atp.core.enums import TradingState
from atp.core.ids import Symbol
from atp.core.money import ZERO
from atp.portfolio.ledger import PositionSnapshot
from atp.risk import rules
from atp.risk.engine import RiskEngine
from atp.risk.velocity import TOTAL


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """One limit, what it is measured against now, and the share of it used (None if off)."""

    rule: str
    scope: str
    limit: Decimal | None
    current: Decimal
    utilisation: Decimal | None


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """Everything `GET /risk/state` shows."""

    trading_state: TradingState
    kill_switch: bool
    kill_switch_reason: str
    loss_breached: bool
    trading_day: str
    blocked_symbols: tuple[Symbol, ...]
    cash: Decimal
    equity: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    day_pnl: Decimal
    positions: tuple[PositionSnapshot, ...]
    buckets: dict[str, tuple[Symbol, ...]]
    limits: tuple[LimitUsage, ...]
    pending_orders: int


def _usage(rule: str, scope: str, limit: Decimal | None, current: Decimal) -> LimitUsage:
    utilisation = current / limit if limit is not None and limit > 0 else None
    return LimitUsage(rule, scope, limit, current, utilisation)


def snapshot(engine: RiskEngine, *, now_counts: tuple[int, int] | None = None) -> RiskSnapshot:
    """Takes the picture; `now_counts` are the total orders in the last second and minute."""
    book = engine.book
    config = engine.config
    positions = tuple(book.positions())
    limits: list[LimitUsage] = [
        _usage(
            rules.DAILY_LOSS,
            "portfolio",
            config.daily_loss.max_loss,
            max(-engine.day_pnl, ZERO),
        ),
        LimitUsage(rules.KILL_SWITCH, "portfolio", None, Decimal(int(engine.kill_switch)), None),
    ]
    second, minute = now_counts if now_counts is not None else (0, 0)
    velocity = config.velocity
    limits.append(
        _usage(
            rules.ORDER_VELOCITY, f"{TOTAL}/1s", _opt(velocity.total_per_second), Decimal(second)
        )
    )
    limits.append(
        _usage(
            rules.ORDER_VELOCITY, f"{TOTAL}/60s", _opt(velocity.total_per_minute), Decimal(minute)
        )
    )
    gross = book.gross_exposure
    equity = book.equity
    concentration = config.concentration
    for position in positions:
        if position.quantity == 0:
            continue
        symbol = position.symbol
        cap = config.position_caps.per_symbol.get(symbol, config.position_caps.default)
        value = abs(book.value(symbol))
        limits.append(
            _usage(rules.POSITION_CAP_QUANTITY, symbol, cap.max_quantity, abs(position.quantity))
        )
        limits.append(_usage(rules.POSITION_CAP_NOTIONAL, symbol, cap.max_notional, value))
        if gross > 0:
            limits.append(
                _usage(
                    rules.CONCENTRATION_GROSS,
                    symbol,
                    concentration.max_share_of_gross,
                    value / gross,
                )
            )
        if equity > 0:
            limits.append(
                _usage(
                    rules.CONCENTRATION_EQUITY,
                    symbol,
                    concentration.max_share_of_equity,
                    value / equity,
                )
            )
    buckets = engine.bucket_members()
    for name in sorted(buckets):
        limits.append(
            _usage(
                rules.CORRELATION_BUCKET, name, engine.bucket_limit(name), engine.bucket_gross(name)
            )
        )
    return RiskSnapshot(
        trading_state=engine.state,
        kill_switch=engine.kill_switch,
        kill_switch_reason=engine.kill_switch_reason,
        loss_breached=engine.loss_latched,
        trading_day=engine.trading_day.isoformat(),
        blocked_symbols=tuple(sorted(engine.blocked)),
        cash=book.cash,
        equity=equity,
        gross_exposure=gross,
        net_exposure=book.net_exposure,
        realized_pnl=book.realized_pnl,
        unrealized_pnl=book.unrealized_pnl,
        day_pnl=engine.day_pnl,
        positions=positions,
        buckets=buckets,
        limits=tuple(limits),
        pending_orders=engine.pending.count(),
    )


def _opt(value: int | None) -> Decimal | None:
    return Decimal(value) if value is not None else None

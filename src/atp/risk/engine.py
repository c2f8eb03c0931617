"""The risk engine: live exposure, the six rule types, trading states and the pre-trade gate.

Pure and synchronous. It reads time only from its Clock. Everything it decides that others must
hear (state changes, tripped limits, operator changes, kill-switch follow-ups) is queued as
events and handed over by `take_events()`; the service publishes them. A check's own refusals
travel in its `RiskVerdict`. Denials are answers, never exceptions.

Its restart (rebuilding state from recorded history) is in `restore.py`, which trading day it
is in `trading_day.py`, and which correlation bucket each symbol is in `correlation.py`.
"""

from __future__ import annotations

from collections import Counter, deque
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from atp.core.clock import Clock
from atp.core.enums import TradingState
from atp.core.errors import InvalidInput
from atp.core.events import MarketSignal, OrderUpdate, RiskViolation
from atp.core.ids import Symbol
from atp.core.money import ZERO
from atp.core.proposals import OrderProposal, RiskVerdict
from atp.risk import records, rules
from atp.risk.config import RiskEngineConfig
from atp.risk.context import OrderContext, order_context
from atp.risk.correlation import CorrelationBuckets, ReturnCorrelations
from atp.risk.exposure import ExposureBook
from atp.risk.pending import PendingOrders, ttl
from atp.risk.restore import KILL_SWITCH_ON, RestoreFromHistory
from atp.risk.short_sale import ShortSales, check_short_sale
from atp.risk.trading_day import TradingCalendar
from atp.risk.velocity import VelocityWindows

ENGINE_ACTOR = records.ENGINE_ACTOR
SERVICE = records.SERVICE


class RiskEngine(RestoreFromHistory, ShortSales):
    """Judges order proposals and keeps the exposure, P&L and trading state they are judged by."""

    def __init__(self, config: RiskEngineConfig, *, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._pending_ttl = ttl(config.pending_ttl_seconds)
        self.book = ExposureBook(config.initial_cash)
        self.pending = PendingOrders()
        self._velocity = VelocityWindows()
        self._correlations = ReturnCorrelations(config.correlation)
        self._buckets = CorrelationBuckets(config.correlation)
        self.book.set_groups(self._buckets.by_symbol)
        self.blocked: set[Symbol] = set()
        self.kill_switch = False
        self.kill_switch_reason = ""
        self.loss_latched = False
        self._stale_latch_day: str | None = None
        self.state = TradingState.ACTIVE
        self._calendar = TradingCalendar(config.daily_loss, now=clock.now())
        self.day_start_pnl = ZERO
        self._restoring = False
        self._restored_baseline: tuple[str, Decimal] | None = None
        self._outbox: list[Any] = []
        self._sequence = 0
        self.violations: deque[RiskViolation] = deque(maxlen=config.violations_kept)
        self.violation_counts: Counter[str] = Counter()

    @property
    def config(self) -> RiskEngineConfig:
        """The limits in force."""
        return self._config

    @property
    def trading_day(self) -> date:
        """The trading day the daily loss is counted over."""
        return self._calendar.day

    @property
    def day_pnl(self) -> Decimal:
        """Realised plus unrealised P&L since the trading day began (or was reset)."""
        return self.book.total_pnl - self.day_start_pnl

    @property
    def restoring(self) -> bool:
        """True while state is being rebuilt; the gate refuses everything meanwhile."""
        return self._restoring

    def bucket_of(self, symbol: Symbol) -> str | None:
        """The correlation bucket of `symbol`, configured or derived."""
        return self._buckets.by_symbol.get(symbol)

    def bucket_members(self) -> dict[str, tuple[Symbol, ...]]:
        """Every bucket and its symbols."""
        return self._buckets.members()

    def bucket_gross(self, bucket: str) -> Decimal:
        """The gross exposure of a bucket's positions."""
        return self.book.group_gross(bucket)

    def order_counts(self) -> tuple[int, int]:
        """Orders approved in the last second and the last minute, by everyone."""
        _, _, second, minute = self._velocity.counts("", self._clock.now())
        return second, minute

    def bucket_limit(self, bucket: str) -> Decimal | None:
        """The gross exposure cap of `bucket`."""
        correlation = self._config.correlation
        return correlation.bucket_caps.get(bucket, correlation.max_bucket_gross)

    # The gate ------------------------------------------------------------------------------

    def check(self, proposal: OrderProposal) -> RiskVerdict:
        """Judges `proposal` against every rule; an approved one is recorded."""
        now = self._clock.now()
        if now >= self._calendar.next_boundary:
            self._roll_day(now)
        self.pending.expire(now)
        self._evaluate_loss(now)
        if self._restoring:
            return self._refuse_restoring(proposal, now)
        agent_key = proposal.agent_id or f"<{proposal.origin}>"
        ctx = self._context(proposal, agent_key, now)
        config = self._config
        symbol = proposal.symbol
        cap = config.position_caps.per_symbol.get(symbol, config.position_caps.default)
        bucket = ctx.bucket
        checks = (
            rules.check_kill_switch(ctx, on=self.kill_switch, reason=self.kill_switch_reason),
            rules.check_daily_loss(ctx, config.daily_loss, latched=self.loss_latched),
            rules.check_symbol_block(ctx, blocked=symbol in self.blocked),
            rules.check_position_quantity(ctx, cap),
            rules.check_position_notional(ctx, cap),
            rules.check_correlation_bucket(
                ctx, self.bucket_limit(bucket) if bucket is not None else None
            ),
            rules.check_velocity(ctx, config.velocity),
            rules.check_concentration_gross(ctx, config.concentration),
            rules.check_concentration_equity(ctx, config.concentration),
            check_short_sale(ctx, config.short_sales),
        )
        failed = [check for check in checks if not check.passed]
        if not failed:
            self._velocity.record(agent_key, now)
            self.pending.add(proposal, expires_at=now + self._pending_ttl)
            return RiskVerdict(True, checks, (), self.state)
        violations = tuple(
            records.order_violation(proposal, check, self.state, now) for check in failed
        )
        self._remember(violations)
        return RiskVerdict(False, checks, violations, self.state)

    def _context(self, proposal: OrderProposal, agent_key: str, now: datetime) -> OrderContext:
        symbol = proposal.symbol
        book = self.book
        bucket = self._buckets.by_symbol.get(symbol)
        return order_context(
            proposal,
            agent_key=agent_key,
            now=now,
            position=book.quantity(symbol),
            # Only the order's own side counts towards the position it would leave.
            pending=self.pending.on_side(symbol, proposal.side),
            symbol_value=book.value(symbol),
            gross=book.gross_exposure,
            equity=book.equity,
            day_pnl=self.day_pnl,
            bucket=bucket,
            bucket_gross=book.group_gross(bucket) if bucket is not None else ZERO,
            velocity=self._velocity.counts(agent_key, now),
        )

    def _refuse_restoring(self, proposal: OrderProposal, now: datetime) -> RiskVerdict:
        violation = records.order_violation(proposal, records.RESTORING_CHECK, self.state, now)
        return RiskVerdict(
            approved=False,
            checks=(records.RESTORING_CHECK,),
            violations=(violation,),
            trading_state=self.state,
        )

    def _remember(self, violations: tuple[RiskViolation, ...]) -> None:
        for violation in violations:
            self.violations.append(violation)
            self.violation_counts[violation.rule] += 1

    # Events in -------------------------------------------------------------------------------

    def on_order_update(self, update: OrderUpdate) -> None:
        """Books the update's fill (once per fill id) and releases its pending exposure."""
        now = self._clock.now()
        if now >= self._calendar.next_boundary:
            self._roll_day(now)
        self.pending.on_update(update)
        fill = update.fill
        if fill is None:
            return
        before = self.book.total_pnl
        booked = self.book.apply_fill(
            fill_id=fill.fill_id,
            symbol=update.symbol,
            side=update.side,
            quantity=fill.quantity,
            price=fill.price,
            commission=fill.commission,
        )
        if booked and self._calendar.day_of(fill.filled_at) < self.trading_day:
            # A fill of an earlier day (a replay after a restart) is not today's P&L.
            self.day_start_pnl += self.book.total_pnl - before
        self._evaluate_loss(now)

    def on_market_signal(self, signal: MarketSignal) -> None:
        """Marks the symbol to the bar's close and feeds the return correlations."""
        now = self._clock.now()
        if self._calendar.market_days:
            self._follow_market_day(signal.timestamp)
        elif now >= self._calendar.next_boundary:
            self._roll_day(now)
        self.book.mark(signal.symbol, signal.close)
        due = self._correlations.on_close(signal.symbol, signal.timestamp, signal.close)
        if due and self._config.correlation.derive:
            buckets = self._buckets
            buckets.derive(self._correlations)
            self.book.set_groups(buckets.by_symbol)
        self._evaluate_loss(now)

    def tick(self) -> None:
        """Lets time pass: starts a new trading day at the boundary."""
        now = self._clock.now()
        if now >= self._calendar.next_boundary:
            self._roll_day(now)
        self._evaluate_loss(now)

    # Operator commands --------------------------------------------------------------------

    def set_config(self, config: RiskEngineConfig, *, actor: str) -> None:
        """Replaces every limit; the next check uses them."""
        self._apply_config(config)
        self._record("set_limits", {"config": config.model_dump(mode="json")}, actor)
        self._evaluate_loss(self._clock.now())

    def block(self, symbol: Symbol, *, actor: str) -> None:
        """Blocks new exposure in `symbol`."""
        self.blocked.add(symbol)
        self._record("block_symbol", {"symbol": symbol}, actor)

    def unblock(self, symbol: Symbol, *, actor: str) -> None:
        """Lifts a block on `symbol`."""
        self.blocked.discard(symbol)
        self._record("unblock_symbol", {"symbol": symbol}, actor)

    def trip_kill_switch(self, reason: str, *, actor: str) -> None:
        """Halts all new orders until reset; asks brokers to cancel and flatten if configured."""
        follow_up = self._config.kill_switch
        self.kill_switch = True
        self.kill_switch_reason = reason or "no reason given"
        self._record("kill_switch_on", {"reason": self.kill_switch_reason}, actor)
        if follow_up.cancel_open_orders:
            self._record("cancel_all_orders", {"reason": self.kill_switch_reason}, actor)
        if follow_up.flatten_positions:
            positions = {
                p.symbol: format(p.quantity, "f") for p in self.book.positions() if p.quantity
            }
            self._record(
                "flatten_positions",
                {"reason": self.kill_switch_reason, "positions": positions},
                actor,
            )
        self._update_state(KILL_SWITCH_ON + self.kill_switch_reason, rules.KILL_SWITCH, actor)

    def reset_kill_switch(self, *, actor: str) -> None:
        """Turns the kill switch off; trading resumes unless the daily loss still holds it."""
        self.kill_switch = False
        self.kill_switch_reason = ""
        self._record("kill_switch_reset", {}, actor)
        self._update_state("kill switch reset", rules.KILL_SWITCH, actor)

    def reset_daily_pnl(self, *, actor: str) -> None:
        """Starts the day's P&L from now, releasing a daily-loss latch."""
        self._reset_day(actor=actor, automatic=False, reason="daily P&L reset")

    def take_events(self) -> list[Any]:
        """Hands over (and forgets) the events queued since the last call, oldest first."""
        events, self._outbox = self._outbox, []
        return events

    # Internals -------------------------------------------------------------------------------

    def _apply_config(self, config: RiskEngineConfig) -> None:
        if config.initial_cash != self._config.initial_cash:
            raise InvalidInput(
                f"initial_cash cannot change at runtime: it is {self._config.initial_cash}, "
                f"found {config.initial_cash}"
            )
        self._config = config
        self._pending_ttl = ttl(config.pending_ttl_seconds)
        self._correlations.reconfigure(config.correlation)
        self._buckets.reconfigure(config.correlation)
        self.book.set_groups(self._buckets.by_symbol)
        maxlen = config.violations_kept
        if self.violations.maxlen != maxlen:
            self.violations = deque(self.violations, maxlen=maxlen)
        self._calendar.reconfigure(config.daily_loss)

    def _roll_day(self, now: datetime) -> None:
        # Callers test `now >= next_boundary` inline: it is false for every event but the
        # first of a new day, so this call is made only when a day may have ended.
        if self._calendar.roll(now):
            self._reset_day(
                actor=ENGINE_ACTOR, automatic=True, reason=f"trading day {self.trading_day} began"
            )

    def _follow_market_day(self, moment: datetime) -> None:
        # The bar's day in the exchange zone is the trading day; a later one starts a new day.
        if self._calendar.follow(moment) and not self._restoring:
            self._reset_day(
                actor=ENGINE_ACTOR,
                automatic=True,
                reason=f"trading day {self.trading_day} began (market data)",
            )

    def _reset_day(self, *, actor: str, automatic: bool, reason: str) -> None:
        self.day_start_pnl = self.book.total_pnl
        self.loss_latched = False
        self._record(
            "daily_pnl_reset",
            {
                "trading_day": self.trading_day.isoformat(),
                "baseline": format(self.day_start_pnl, "f"),
                "automatic": automatic,
            },
            actor,
        )
        self._update_state(reason, rules.DAILY_LOSS, actor)

    def _evaluate_loss(self, now: datetime) -> None:
        limit = self._config.daily_loss.max_loss
        if limit is None or self.loss_latched or self._restoring:
            return
        day_pnl = self.day_pnl
        if day_pnl > -limit:
            return
        self.loss_latched = True
        action = self._config.daily_loss.action
        violation = records.loss_violation(
            trading_day=self.trading_day,
            day_start_pnl=self.day_start_pnl,
            day_pnl=day_pnl,
            limit=limit,
            action=action,
            state=action if not self.kill_switch else TradingState.HALTED,
            now=now,
        )
        self._remember((violation,))
        self._outbox.append(violation)
        self._update_state(violation.message, rules.DAILY_LOSS, ENGINE_ACTOR)

    def _update_state(self, reason: str, rule: str | None, actor: str) -> None:
        previous = self.state
        if self.kill_switch:
            state = TradingState.HALTED
        elif self.loss_latched:
            state = self._config.daily_loss.action
        else:
            state = TradingState.ACTIVE
        self.state = state
        now = self._clock.now()
        self._sequence += 1
        self._outbox.append(
            records.state_change(
                previous=previous,
                state=state,
                kill_switch=self.kill_switch,
                loss_breached=self.loss_latched,
                reason=reason,
                rule=rule,
                actor=actor,
                trading_day=self.trading_day,
                sequence=self._sequence,
                now=now,
            )
        )

    def _record(self, action: str, parameters: dict[str, Any], actor: str) -> None:
        now = self._clock.now()
        self._sequence += 1
        self._outbox.append(
            records.control_record(
                action, parameters, actor=actor, sequence=self._sequence, now=now
            )
        )

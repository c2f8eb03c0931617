"""Each rule type refuses what it must, says why, and lets the rest through."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from atp.core.enums import Side, TradingState
from atp.core.events import ControlAction, MarketSignal, RiskViolation, TradingStateChanged
from atp.core.ids import SignalId, Symbol
from atp.risk.config import (
    ConcentrationConfig,
    CorrelationConfig,
    DailyLossConfig,
    InstrumentCap,
    KillSwitchConfig,
    PositionCapConfig,
    RiskEngineConfig,
    VelocityConfig,
)
from atp.risk.engine import RiskEngine

from .conftest import START, clock_at, fill_update, proposal

LOOSE = RiskEngineConfig(
    initial_cash=Decimal(1_000_000),
    position_caps=PositionCapConfig(default=InstrumentCap()),
    concentration=ConcentrationConfig(max_share_of_equity=None),
    correlation=CorrelationConfig(max_bucket_gross=None, derive=False),
    velocity=VelocityConfig(
        per_agent_per_second=None,
        per_agent_per_minute=None,
        total_per_second=None,
        total_per_minute=None,
    ),
    daily_loss=DailyLossConfig(max_loss=None),
)


def engine_with(**changes: object) -> tuple[RiskEngine, object]:
    clock = clock_at()
    return RiskEngine(LOOSE.model_copy(update=changes), clock=clock), clock


def buy_and_fill(engine: RiskEngine, symbol: str, quantity: int, price: str) -> None:
    order = proposal(symbol, Side.BUY, quantity, price)
    assert engine.check(order).approved
    engine.on_order_update(fill_update(order, quantity, price))


def mark(engine: RiskEngine, symbol: str, close: str, at: object = START) -> None:
    engine.on_market_signal(
        MarketSignal(
            signal_id=SignalId(f"s-{symbol}-{at}"),
            symbol=Symbol(symbol),
            timeframe="1d",
            timestamp=at,  # type: ignore[arg-type]
            open=Decimal(close),
            high=Decimal(close),
            low=Decimal(close),
            close=Decimal(close),
            volume=Decimal(1),
            feed="test",
        )
    )


def failed(verdict: object) -> dict[str, str]:
    return {c.rule: c.message for c in verdict.checks if not c.passed}  # type: ignore[attr-defined]


def test_position_cap_is_checked_on_the_position_the_order_would_leave() -> None:
    engine, _ = engine_with(
        position_caps=PositionCapConfig(
            per_symbol={"AAPL": InstrumentCap(max_quantity=Decimal(500))}
        )
    )
    buy_and_fill(engine, "AAPL", 500, "100")
    verdict = engine.check(proposal("AAPL", Side.BUY, 200))
    assert not verdict.approved
    assert failed(verdict) == {"position_cap_quantity": "position cap AAPL 500 would become 700"}
    (violation,) = verdict.violations
    assert (violation.rule, violation.limit, violation.observed) == (
        "position_cap_quantity",
        Decimal(500),
        Decimal(700),
    )
    assert engine.check(proposal("AAPL", Side.SELL, 200)).approved


def test_approved_but_unfilled_orders_count_towards_the_cap() -> None:
    engine, _ = engine_with(
        position_caps=PositionCapConfig(default=InstrumentCap(max_quantity=Decimal(500)))
    )
    assert engine.check(proposal("MSFT", Side.BUY, 300)).approved
    verdict = engine.check(proposal("MSFT", Side.BUY, 300))
    assert failed(verdict) == {"position_cap_quantity": "position cap MSFT 500 would become 600"}


def test_notional_cap_uses_the_order_price() -> None:
    engine, _ = engine_with(
        position_caps=PositionCapConfig(default=InstrumentCap(max_notional=Decimal(10_000)))
    )
    verdict = engine.check(proposal("NVDA", Side.BUY, 101, "100"))
    assert failed(verdict) == {
        "position_cap_notional": "notional cap NVDA 10,000.00 would become 10,100.00"
    }


def test_daily_loss_moves_trading_to_reducing_and_only_reducing_orders_pass() -> None:
    engine, _ = engine_with(daily_loss=DailyLossConfig(max_loss=Decimal(1000)))
    buy_and_fill(engine, "AAPL", 100, "100")
    engine.take_events()
    mark(engine, "AAPL", "89.99")
    assert engine.state is TradingState.REDUCING
    events = engine.take_events()
    violation = next(e for e in events if isinstance(e, RiskViolation))
    assert violation.rule == "daily_loss" and violation.observed == Decimal("-1001.00")
    change = next(e for e in events if isinstance(e, TradingStateChanged))
    assert (change.previous_state, change.state, change.loss_breached) == (
        TradingState.ACTIVE,
        TradingState.REDUCING,
        True,
    )
    refused = engine.check(proposal("AAPL", Side.BUY, 1))
    assert "daily_loss" in failed(refused)
    assert "only orders that shrink exposure pass" in failed(refused)["daily_loss"]
    assert engine.check(proposal("AAPL", Side.SELL, 50)).approved
    assert not engine.check(proposal("AAPL", Side.SELL, 60)).approved  # would cross flat


def test_daily_loss_with_halted_action_refuses_even_reducing_orders() -> None:
    engine, _ = engine_with(
        daily_loss=DailyLossConfig(max_loss=Decimal(100), action=TradingState.HALTED)
    )
    buy_and_fill(engine, "AAPL", 10, "100")
    mark(engine, "AAPL", "80")
    assert engine.state is TradingState.HALTED
    assert not engine.check(proposal("AAPL", Side.SELL, 10)).approved


def test_the_day_boundary_in_the_exchange_zone_resets_the_daily_loss() -> None:
    engine, clock = engine_with(daily_loss=DailyLossConfig(max_loss=Decimal(100)))
    buy_and_fill(engine, "AAPL", 10, "100")
    mark(engine, "AAPL", "85")
    assert engine.state is TradingState.REDUCING
    # 23:59 in New York is still the same trading day.
    clock.advance_to(START.replace(hour=4, minute=59) + timedelta(days=1))  # type: ignore[attr-defined]
    engine.tick()
    assert engine.state is TradingState.REDUCING
    clock.advance_to(START.replace(hour=5, minute=0) + timedelta(days=1))  # type: ignore[attr-defined]
    engine.tick()
    assert engine.state is TradingState.ACTIVE
    assert engine.day_pnl == 0
    assert engine.trading_day.isoformat() == "2025-01-07"


def test_manual_daily_pnl_reset_releases_the_latch_and_is_recorded() -> None:
    engine, _ = engine_with(daily_loss=DailyLossConfig(max_loss=Decimal(100)))
    buy_and_fill(engine, "AAPL", 10, "100")
    mark(engine, "AAPL", "85")
    engine.take_events()
    engine.reset_daily_pnl(actor="ops")
    assert engine.state is TradingState.ACTIVE and engine.day_pnl == 0
    record = next(e for e in engine.take_events() if isinstance(e, ControlAction))
    assert record.action == "daily_pnl_reset" and record.actor == "ops"
    assert Decimal(record.parameters["baseline"]) == Decimal(-150)


def test_kill_switch_halts_everything_until_reset_and_asks_for_cancel_and_flatten() -> None:
    engine, _ = engine_with(kill_switch=KillSwitchConfig(flatten_positions=True))
    buy_and_fill(engine, "AAPL", 10, "100")
    engine.take_events()
    engine.trip_kill_switch("fat finger", actor="ops")
    assert engine.state is TradingState.HALTED
    verdict = engine.check(proposal("AAPL", Side.SELL, 10))
    assert failed(verdict) == {
        "kill_switch": "kill switch is on (fat finger): no new AAPL order passes until it is reset"
    }
    actions = [e.action for e in engine.take_events() if isinstance(e, ControlAction)]
    assert actions == ["kill_switch_on", "cancel_all_orders", "flatten_positions"]
    engine.reset_kill_switch(actor="ops")
    assert engine.state is TradingState.ACTIVE
    assert engine.check(proposal("AAPL", Side.SELL, 10)).approved


def test_velocity_limits_per_agent_and_in_total_use_the_clock() -> None:
    engine, clock = engine_with(
        velocity=VelocityConfig(
            per_agent_per_second=2,
            per_agent_per_minute=3,
            total_per_second=None,
            total_per_minute=None,
        )
    )
    assert engine.check(proposal("A", Side.BUY, 1, agent="momentum")).approved
    assert engine.check(proposal("A", Side.BUY, 1, agent="momentum")).approved
    refused = engine.check(proposal("A", Side.BUY, 1, agent="momentum"))
    assert failed(refused) == {
        "order_velocity": "order velocity agent momentum: order 3 in 1s exceeds 2"
    }
    assert engine.check(proposal("A", Side.BUY, 1, agent="sma")).approved
    clock.advance_to(START + timedelta(seconds=2))  # type: ignore[attr-defined]
    assert engine.check(proposal("A", Side.BUY, 1, agent="momentum")).approved
    refused = engine.check(proposal("A", Side.BUY, 1, agent="momentum"))
    assert "order 4 in 60s exceeds 3" in failed(refused)["order_velocity"]
    clock.advance_to(START + timedelta(seconds=61))  # type: ignore[attr-defined]
    assert engine.check(proposal("A", Side.BUY, 1, agent="momentum")).approved


def test_concentration_refuses_a_symbol_above_its_share_of_equity_or_gross() -> None:
    engine, _ = engine_with(
        initial_cash=LOOSE.initial_cash,
        concentration=ConcentrationConfig(
            max_share_of_equity=Decimal("0.1"),
            max_share_of_gross=Decimal("0.6"),
            min_gross_for_share=Decimal(60_000),
        ),
    )
    verdict = engine.check(proposal("AAPL", Side.BUY, 1001, "100"))
    assert set(failed(verdict)) == {"concentration_equity", "concentration_gross"}
    assert (
        "would be 10.0% of equity 1,000,000.00, limit 10.0%"
        in failed(verdict)["concentration_equity"]
    )
    buy_and_fill(engine, "MSFT", 500, "100")
    assert "concentration_gross" not in failed(engine.check(proposal("AAPL", Side.BUY, 500)))


def test_configured_correlation_bucket_caps_the_sum_of_its_gross_exposure() -> None:
    engine, _ = engine_with(
        correlation=CorrelationConfig(
            buckets={"tech": ["AAPL", "MSFT"]}, max_bucket_gross=Decimal(50_000), derive=False
        )
    )
    buy_and_fill(engine, "AAPL", 300, "100")
    verdict = engine.check(proposal("MSFT", Side.BUY, 201, "100"))
    assert failed(verdict) == {
        "correlation_bucket": "bucket tech gross exposure cap 50,000.00 would become "
        "50,100.00 with MSFT"
    }
    assert engine.check(proposal("XOM", Side.BUY, 1000, "100")).approved


def test_buckets_are_derived_from_rolling_return_correlation() -> None:
    engine, _ = engine_with(
        correlation=CorrelationConfig(
            max_bucket_gross=Decimal(10_000),
            threshold=0.9,
            window=10,
            min_observations=5,
            recompute_every=1,
        )
    )
    closes = ["100", "102", "101", "104", "103", "107", "106", "110"]
    opposite = ["100", "98", "99", "96", "97", "93", "94", "90"]
    for day, (a, b) in enumerate(zip(closes, opposite, strict=True)):
        at = START + timedelta(days=day)
        mark(engine, "AAA", a, at)
        mark(engine, "BBB", str(Decimal(a) * 2), at)
        mark(engine, "CCC", b, at)
    assert engine.bucket_of(Symbol("AAA")) == engine.bucket_of(Symbol("BBB")) is not None
    assert engine.bucket_of(Symbol("CCC")) is None


def test_with_derive_off_only_configured_buckets_exist_and_derived_ones_are_dropped() -> None:
    correlated = CorrelationConfig(
        max_bucket_gross=Decimal(10_000),
        threshold=0.9,
        window=10,
        min_observations=5,
        recompute_every=1,
    )

    def feed(engine: RiskEngine) -> None:
        for day, close in enumerate(["100", "102", "101", "104", "103", "107", "106", "110"]):
            at = START + timedelta(days=day)
            mark(engine, "AAA", close, at)
            mark(engine, "BBB", str(Decimal(close) * 2), at)

    never, _ = engine_with(correlation=correlated.model_copy(update={"derive": False}))
    feed(never)
    assert never.bucket_of(Symbol("AAA")) is None
    assert never.check(proposal("AAA", Side.BUY, 150, "100")).approved  # 15,000 > the cap

    switched, _ = engine_with(correlation=correlated)
    feed(switched)
    assert switched.bucket_of(Symbol("AAA")) is not None
    switched.set_config(
        switched.config.model_copy(
            update={"correlation": correlated.model_copy(update={"derive": False})}
        ),
        actor="ops",
    )
    assert switched.bucket_of(Symbol("AAA")) is None


def test_a_blocked_symbol_refuses_new_exposure_but_lets_a_position_be_reduced() -> None:
    engine, _ = engine_with()
    buy_and_fill(engine, "AAPL", 10, "100")
    engine.block(Symbol("AAPL"), actor="ops")
    assert failed(engine.check(proposal("AAPL", Side.BUY, 1))) == {
        "symbol_blocked": "AAPL is blocked: only orders that reduce its position pass"
    }
    assert engine.check(proposal("AAPL", Side.SELL, 5)).approved
    engine.unblock(Symbol("AAPL"), actor="ops")
    assert engine.check(proposal("AAPL", Side.BUY, 1)).approved


def test_every_rule_reports_a_check_and_violation_ids_are_deterministic() -> None:
    engine, _ = engine_with(
        position_caps=PositionCapConfig(default=InstrumentCap(max_quantity=Decimal(1)))
    )
    first = engine.check(proposal("AAPL", Side.BUY, 5, pid="same"))
    second = engine.check(proposal("AAPL", Side.BUY, 5, pid="same"))
    assert len(first.checks) == 10
    assert [v.violation_id for v in first.violations] == [v.violation_id for v in second.violations]


def test_fills_book_exact_positions_and_pnl_once_per_fill_id() -> None:
    engine, _ = engine_with()
    order = proposal("AAPL", Side.BUY, 3, "10.10")
    engine.check(order)
    update = fill_update(order, 3, "10.10")
    engine.on_order_update(update)
    engine.on_order_update(update)
    sell = proposal("AAPL", Side.SELL, 1, "10.35")
    engine.check(sell)
    engine.on_order_update(fill_update(sell, 1, "10.35"))
    mark(engine, "AAPL", "10.20")
    assert engine.book.quantity(Symbol("AAPL")) == 2
    assert engine.book.realized_pnl == Decimal("0.25")
    assert engine.book.unrealized_pnl == Decimal("0.20")
    assert engine.book.gross_exposure == Decimal("20.40")
    assert engine.day_pnl == Decimal("0.45")

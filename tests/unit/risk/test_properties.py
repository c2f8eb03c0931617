"""Properties: whatever sequence of proposals and fills arrives, the limits hold."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from atp.core.enums import Side, TradingState
from atp.core.ids import Symbol
from atp.core.proposals import OrderProposal
from atp.risk.config import (
    DailyLossConfig,
    InstrumentCap,
    PositionCapConfig,
    RiskEngineConfig,
    ShortSaleConfig,
    VelocityConfig,
)
from atp.risk.engine import RiskEngine

from .conftest import START, clock_at, fill_update, proposal

SYMBOLS = ("AAPL", "MSFT")
CAP = Decimal(100)

# One step: propose (symbol, side, quantity, price), or fill a share of an approved order.
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("propose"),
            st.sampled_from(SYMBOLS),
            st.sampled_from(list(Side)),
            st.integers(1, 80),
            st.integers(50, 150),
        ),
        st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 100), st.integers(50, 150)),
        st.tuples(st.just("wait"), st.integers(1, 90)),
    ),
    max_size=40,
)


def _config(**changes: object) -> RiskEngineConfig:
    # An account that may sell short: the caps are checked on both sides of flat.
    base = RiskEngineConfig(
        short_sales=ShortSaleConfig(allowed=True),
        position_caps=PositionCapConfig(default=InstrumentCap(max_quantity=CAP)),
        velocity=VelocityConfig(
            per_agent_per_second=None,
            per_agent_per_minute=None,
            total_per_second=None,
            total_per_minute=None,
        ),
    )
    return base.model_copy(update=changes)


class _Run:
    """Drives an engine with a step list, filling only what it approved (as a venue would)."""

    def __init__(self, engine: RiskEngine, clock: object) -> None:
        self.engine = engine
        self.clock = clock
        self.open: list[tuple[OrderProposal, Decimal]] = []
        self.sequence = 0

    def step(self, item: tuple[object, ...]) -> tuple[OrderProposal, bool] | None:
        kind = item[0]
        if kind == "propose":
            _, symbol, side, quantity, price = item
            order = proposal(str(symbol), side, int(quantity), int(price))  # type: ignore[arg-type, call-overload]
            approved = self.engine.check(order).approved
            if approved:
                self.open.append((order, order.quantity))
            return order, approved
        if kind == "fill" and self.open:
            _, index, percent, price = item
            order, remaining = self.open[int(index) % len(self.open)]  # type: ignore[call-overload]
            quantity = max(Decimal(1), (remaining * int(percent) / 100).to_integral_value())  # type: ignore[call-overload]
            quantity = min(quantity, remaining)
            self.sequence += 1
            final = quantity == remaining
            self.engine.on_order_update(
                fill_update(order, quantity, int(price), sequence=self.sequence, final=final)  # type: ignore[call-overload]
            )
            self.open = [
                (o, r - quantity if o is order else r)
                for o, r in self.open
                if not (o is order and final)
            ]
        if kind == "wait":
            self.clock.advance_to(self.clock.now() + timedelta(seconds=int(item[1])))  # type: ignore[attr-defined, call-overload]
        return None


@settings(max_examples=150, deadline=None)
@given(steps)
def test_no_sequence_of_proposals_and_fills_takes_a_position_past_its_cap(
    plan: list[tuple[object, ...]],
) -> None:
    clock = clock_at()
    engine = RiskEngine(_config(), clock=clock)
    run = _Run(engine, clock)
    for item in plan:
        run.step(item)
        for symbol in SYMBOLS:
            assert abs(engine.book.quantity(Symbol(symbol))) <= CAP


@settings(max_examples=100, deadline=None)
@given(steps, st.integers(0, 39))
def test_with_the_kill_switch_on_no_new_order_passes(
    plan: list[tuple[object, ...]], trip_at: int
) -> None:
    clock = clock_at()
    engine = RiskEngine(_config(), clock=clock)
    run = _Run(engine, clock)
    for index, item in enumerate(plan):
        if index == trip_at:
            engine.trip_kill_switch("property", actor="test")
        outcome = run.step(item)
        if engine.kill_switch and outcome is not None:
            assert outcome[1] is False
            assert engine.state is TradingState.HALTED


@settings(max_examples=150, deadline=None)
@given(steps)
def test_in_reducing_no_passed_order_increases_gross_exposure(
    plan: list[tuple[object, ...]],
) -> None:
    clock = clock_at(START)
    engine = RiskEngine(_config(daily_loss=DailyLossConfig(max_loss=None)), clock=clock)
    run = _Run(engine, clock)
    # Build a book first, then force REDUCING with a loss.
    for symbol, side in (("AAPL", Side.BUY), ("MSFT", Side.SELL)):
        order = proposal(symbol, side, 50, 100)
        assert engine.check(order).approved
        engine.on_order_update(fill_update(order, 50, 100, sequence=0))
        engine.book.mark(Symbol(symbol), Decimal(90) if side is Side.BUY else Decimal(110))
    loss = DailyLossConfig(max_loss=Decimal(1), action=TradingState.REDUCING)
    engine.set_config(_config(daily_loss=loss), actor="test")
    assert engine.state is TradingState.REDUCING
    worst_gross = engine.book.gross_exposure
    for item in plan:
        outcome = run.step(item)
        if outcome is not None and outcome[1]:
            order = outcome[0]
            # Filling every approved order completely is the worst case for exposure.
            run.engine.on_order_update(fill_update(order, order.quantity, 100, sequence=10**6))
            run.open = [(o, r) for o, r in run.open if o is not order]
            for symbol, price in (("AAPL", 90), ("MSFT", 110)):
                engine.book.mark(Symbol(symbol), Decimal(price))
            assert engine.book.gross_exposure <= worst_gross
            worst_gross = engine.book.gross_exposure

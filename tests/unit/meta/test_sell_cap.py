"""A coordinated sell asks for at most what the risk engine says is held (long-only accounts).

Agents size a sell like a buy; the coordinator, whose gate is the real risk engine, caps it at
the position less what approved sells will take, and a sell of nothing held becomes no order
with the reason in the decision, as the backtest closes a position or holds.
"""

from __future__ import annotations

from decimal import Decimal

from atp.core.clock import SimulatedClock
from atp.core.enums import Action, OrderStatus, OrderType, Side, TimeInForce
from atp.core.events import Fill, MetaDecision, OrderUpdate
from atp.core.ids import FillId, OrderId
from atp.meta.coordinator import MetaCoordinator
from atp.risk.config import RiskEngineConfig, ShortSaleConfig
from atp.risk.engine import RiskEngine

from .conftest import AGENTS, START, make_config, make_intent


def chain(*, shorts: bool = False) -> tuple[MetaCoordinator, RiskEngine]:
    clock = SimulatedClock(START)
    risk = RiskEngine(RiskEngineConfig(short_sales=ShortSaleConfig(allowed=shorts)), clock=clock)
    return MetaCoordinator(make_config(), clock=clock, gate=risk), risk


def vote(coordinator: MetaCoordinator, action: str, quantity: str, signal: str) -> MetaDecision:
    results = []
    for agent in AGENTS:
        intent = make_intent(agent, action, quantity, symbol="MSFT", signal=signal, price="400")
        results += coordinator.on_intent(intent)[1]
    (result,) = results
    return result.decision


def filled(decision: MetaDecision) -> OrderUpdate:
    """The venue's report that `decision`'s order filled completely at 400."""
    assert decision.client_order_id is not None
    side = Side.BUY if decision.action is Action.BUY else Side.SELL
    return OrderUpdate(
        order_id=OrderId(f"o-{decision.client_order_id}"),
        client_order_id=decision.client_order_id,
        venue="paper",
        symbol=decision.symbol,
        side=side,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        quantity=decision.quantity,
        filled_quantity=decision.quantity,
        average_fill_price=Decimal(400),
        limit_price=None,
        stop_price=None,
        status=OrderStatus.FILLED,
        previous_status=OrderStatus.ACCEPTED,
        fill=Fill(
            FillId(f"f-{decision.client_order_id}"),
            decision.quantity,
            Decimal(400),
            Decimal(0),
            START,
        ),
        decision_id=decision.decision_id,
        reason=None,
        sequence=2,
        updated_at=START,
    )


def test_a_vote_to_sell_what_is_not_held_makes_no_order_and_says_why() -> None:
    coordinator, risk = chain()

    decision = vote(coordinator, "sell", "25", "bar-1")

    assert (decision.action, decision.quantity) == (Action.SELL, 0)
    assert not decision.approved and decision.client_order_id is None
    assert decision.risk_checks == (), "nothing was proposed"
    assert "No order: the vote was to sell 25 MSFT, but none is held" in decision.explanation
    assert "does not sell short" in decision.explanation
    assert not risk.violations and risk.pending.count() == 0


def test_a_sell_above_the_position_sells_what_is_held_and_says_so() -> None:
    coordinator, risk = chain()
    bought = vote(coordinator, "buy", "10", "bar-1")
    risk.on_order_update(filled(bought))

    decision = vote(coordinator, "sell", "25", "bar-2")

    assert (decision.action, decision.quantity, decision.approved) == (Action.SELL, 10, True)
    assert "Sell capped at the 10 MSFT held (the vote asked for 25)" in decision.explanation
    assert decision.explanation.endswith(
        f"Risk: approved, client order {decision.client_order_id}."
    )
    # Until that sell fills, nothing more may be sold.
    again = vote(coordinator, "sell", "25", "bar-3")
    assert (again.quantity, again.approved) == (0, False)
    risk.on_order_update(filled(decision))
    assert risk.book.quantity(decision.symbol) == 0


def test_a_sell_within_the_position_is_left_as_voted() -> None:
    coordinator, risk = chain()
    risk.on_order_update(filled(vote(coordinator, "buy", "30", "bar-1")))

    decision = vote(coordinator, "sell", "25", "bar-2")

    assert (decision.quantity, decision.approved) == (25, True)
    assert "capped" not in decision.explanation


def test_where_short_sales_are_allowed_a_sell_is_not_capped() -> None:
    coordinator, _ = chain(shorts=True)

    decision = vote(coordinator, "sell", "25", "bar-1")

    assert (decision.quantity, decision.approved) == (25, True)

"""Decisions explain themselves, pass the risk gate, and control changes apply next window."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from atp.core.enums import Action, TradingState
from atp.core.ids import AgentId, client_order_id_for
from atp.meta.commands import SetAgentWeight, SetVotingStrategy
from atp.meta.config import VotingConfig
from atp.meta.coordinator import MetaCoordinator

THREE = ("momentum", "mean_reversion", "sma_crossover")


def _decide(
    coordinator,
    build,
    actions,
    *,
    signal="bar-1",
    quantities=("100", "100", "140"),
    confidences=(0.7, 0.7, 0.7),
):
    results = []
    for agent, action, quantity, confidence in zip(
        THREE, actions, quantities, confidences, strict=True
    ):
        results += coordinator.on_intent(
            build.intent(agent, action, quantity, confidence=confidence, signal=signal)
        )[1]
    (result,) = results
    return result.decision


def test_a_decision_answers_why_we_bought(coordinator, build) -> None:
    decision = _decide(coordinator, build, ("buy", "hold", "buy"))
    assert decision.explanation.startswith(
        "buy 120: 2 of 3 voters (momentum, sma_crossover) voted buy, more than half."
    )
    assert "hold: mean_reversion" in decision.explanation
    assert "(momentum 100, sma_crossover 140) = 120" in decision.explanation
    assert "Risk: approved" in decision.explanation
    votes = {v.agent_id: (v.vote, v.quantity, v.weight, v.confidence) for v in decision.votes}
    assert votes["mean_reversion"] == ("hold", Decimal(100), 1.0, 0.7)
    assert (decision.voting_strategy, decision.threshold, decision.quorum) == ("majority", 0.5, 1)
    assert decision.parameters["closed_by"] == "complete"


def test_an_approved_trade_carries_the_client_order_id_of_its_decision(
    coordinator, build, gate
) -> None:
    decision = _decide(coordinator, build, ("sell", "sell", "hold"))
    assert decision.approved
    assert decision.client_order_id == client_order_id_for(decision.decision_id)
    (proposal,) = gate.proposals
    assert (proposal.origin, proposal.side.value, proposal.quantity) == ("meta", "sell", 100)
    assert proposal.decision_id == decision.decision_id


def test_a_denied_trade_has_no_order_id_and_publishes_the_violation(clock, build, gate) -> None:
    gate.cap = Decimal(150)
    coordinator = MetaCoordinator(build.config(), clock=clock, gate=gate)
    assert _decide(coordinator, build, ("buy", "buy", "buy")).approved
    results = []
    for agent in THREE:
        results += coordinator.on_intent(build.intent(agent, "buy", signal="bar-2"))[1]
    (result,) = results
    decision = result.decision
    assert not decision.approved
    assert decision.client_order_id is None
    assert "Risk: denied (active): position cap AAPL 150 would become 213" in (decision.explanation)
    assert [v.rule for v in result.violations] == ["position_cap"]


def test_kill_switch_denies_every_trade_and_the_decision_says_halted(
    coordinator, build, gate
) -> None:
    gate.halted = True
    decision = _decide(coordinator, build, ("buy", "buy", "buy"))
    assert not decision.approved
    assert decision.trading_state is TradingState.HALTED
    assert "kill switch is on" in decision.explanation


def test_holds_are_decided_and_explained_without_asking_the_risk_gate(
    coordinator, build, gate
) -> None:
    decision = _decide(coordinator, build, ("buy", "sell", "hold"))
    assert decision.action is Action.HOLD
    assert "no side has more than half of 3 voters (buy 1, sell 1, hold 1)" in (
        decision.explanation
    )
    assert gate.proposals == []
    assert decision.client_order_id is None


def test_strategy_switch_applies_from_the_next_window_and_returns_a_control_action(
    coordinator, build
) -> None:
    coordinator.on_intent(build.intent("momentum", "buy", signal="bar-1"))
    action = coordinator.execute(
        SetVotingStrategy(VotingConfig(strategy="unanimous")), actor="addr:127.0.0.1"
    )
    assert (action.action, action.actor) == ("meta.set_strategy", "addr:127.0.0.1")
    assert action.parameters["strategy"] == "unanimous"
    assert action.parameters["previous"]["strategy"] == "majority"
    for agent in ("mean_reversion", "sma_crossover"):
        coordinator.on_intent(build.intent(agent, "buy" if agent != "mean_reversion" else "hold"))
    # bar-1 opened under majority and is decided by majority.
    assert coordinator.counters.decided == 1
    second = _decide(coordinator, build, ("buy", "hold", "buy"), signal="bar-2")
    assert second.voting_strategy == "unanimous"
    assert second.action is Action.HOLD


def test_weight_change_applies_from_the_next_window(clock, build, gate) -> None:
    coordinator = MetaCoordinator(build.config("weighted", threshold=0.5), clock=clock, gate=gate)
    coordinator.on_intent(build.intent("momentum", "buy", signal="bar-1"))
    coordinator.execute(SetAgentWeight(AgentId("momentum"), 0.0), actor="ops")
    rest = [coordinator.on_intent(build.intent(a, "sell", signal="bar-1"))[1] for a in THREE[1:]]
    first = rest[-1][0].decision
    assert first.tally.buy == 1.0
    second = _decide(coordinator, build, ("buy", "sell", "sell"), signal="bar-2")
    assert second.tally.buy == 0.0
    assert [v.weight for v in second.votes if v.agent_id == "momentum"] == [0.0]


def test_weighted_decision_explains_the_share_and_threshold(clock, build, gate) -> None:
    coordinator = MetaCoordinator(build.config("weighted", threshold=0.6), clock=clock, gate=gate)
    coordinator.execute(SetAgentWeight(AgentId("momentum"), 3.0), actor="ops")
    decision = _decide(coordinator, build, ("buy", "sell", "hold"))
    assert decision.action is Action.BUY
    assert "buy weight 3 of 5 (60.00%) from momentum reached the threshold 60.00%" in (
        decision.explanation
    )


def test_swing_voters_are_the_ones_whose_vote_changed_the_action(coordinator, build) -> None:
    coordinator.on_intent(build.intent("momentum", "buy"))
    coordinator.on_intent(build.intent("mean_reversion", "buy"))
    (result,) = coordinator.on_intent(build.intent("sma_crossover", "sell"))[1]
    assert result.decision.action is Action.BUY
    assert result.swung_by == ("mean_reversion", "momentum")
    swung = {a.agent_id: a.swung for a in coordinator.agents()}
    assert swung == {"mean_reversion": 1, "momentum": 1, "sma_crossover": 0}


def test_window_latency_is_measured_from_open_to_close(coordinator, build, clock) -> None:
    coordinator.on_signal(build.signal())
    clock.advance_to(clock.now() + timedelta(milliseconds=40))
    results = []
    for agent in THREE:
        results += coordinator.on_intent(build.intent(agent, "buy"))[1]
    assert results[0].latency_seconds == 0.04
    assert results[0].agreement == 1.0


def test_each_decision_has_its_own_parameters_from_its_window_voting_and_lot(
    clock, build, gate
) -> None:
    config = build.config("weighted", threshold=0.5).model_copy(
        update={"lot_size": Decimal("10"), "lot_sizes": {"MSFT": Decimal("2.50")}}
    )
    coordinator = MetaCoordinator(config, clock=clock, gate=gate)
    first = _decide(coordinator, build, ("buy", "buy", "hold"), signal="bar-1")
    # A strategy switch reaches the next windows' parameters, not the ones before it.
    coordinator.execute(
        SetVotingStrategy(VotingConfig(strategy="majority", quorum=2, adaptive_weights=True)),
        actor="ops",
    )
    second = _decide(coordinator, build, ("sell", "sell", "hold"), signal="bar-2")
    coordinator.on_intent(build.intent("momentum", "buy", symbol="MSFT", signal="bar-3"))
    clock.advance_to(clock.now() + timedelta(seconds=5))
    (late,) = coordinator.tick()
    assert list(first.parameters.items()) == [
        ("threshold", 0.5),
        ("quorum", 1),
        ("adaptive_weights", False),
        ("lot_size", "10"),
        ("window_timeout_seconds", 2.0),
        ("closed_by", "complete"),
    ]
    assert list(second.parameters.items()) == [
        ("threshold", 0.6),
        ("quorum", 2),
        ("adaptive_weights", True),
        ("lot_size", "10"),
        ("window_timeout_seconds", 2.0),
        ("closed_by", "complete"),
    ]
    assert late.decision.parameters == {
        **second.parameters,
        "lot_size": "2.5",
        "closed_by": "timeout",
    }
    # Never one dict for two decisions: changing one leaves the next untouched.
    first.parameters["threshold"] = 0.9  # type: ignore[index]
    third = _decide(coordinator, build, ("buy", "buy", "hold"), signal="bar-4")
    assert third.parameters["threshold"] == 0.6
    assert third.parameters is not second.parameters

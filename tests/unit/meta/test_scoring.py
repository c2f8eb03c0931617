"""Agent scores follow the prices after each intent: hit rate, P&L alone, Brier, adaptive."""

from __future__ import annotations

from decimal import Decimal

import pytest

from atp.core.ids import AgentId, SignalId, Symbol
from atp.meta.commands import SetVotingStrategy
from atp.meta.config import ScoringConfig, VotingConfig
from atp.meta.coordinator import MetaCoordinator
from atp.meta.scoring import AgentScorer

AAPL = Symbol("AAPL")


def test_hit_rate_pnl_and_brier_after_the_horizon(build) -> None:
    scorer = AgentScorer(ScoringConfig(horizon_bars=2))
    scorer.on_bar(AAPL, SignalId("bar-1"), Decimal(100))
    scorer.record(build.intent("bull", "buy", "10", confidence=0.8, signal="bar-1", price="100"))
    scorer.record(build.intent("bear", "sell", "5", confidence=0.6, signal="bar-1", price="100"))
    scorer.record(build.intent("calm", "hold", "0", signal="bar-1", price="100"))
    scorer.on_bar(AAPL, SignalId("bar-2"), Decimal(104))
    assert scorer.score(AgentId("bull")).scored == 0  # one bar is not the horizon yet
    assert scorer.on_bar(AAPL, SignalId("bar-3"), Decimal("103.5")) == ["bear", "bull"]
    bull, bear, calm = (scorer.score(AgentId(a)) for a in ("bull", "bear", "calm"))
    assert (bull.hit_rate, bull.pnl, bull.brier) == (1.0, Decimal("35.0"), pytest.approx(0.04))
    assert (bear.hit_rate, bear.pnl, bear.brier) == (0.0, Decimal("-17.5"), pytest.approx(0.36))
    assert (calm.intents, calm.scored, calm.hit_rate) == (1, 0, None)


def test_redelivered_bars_do_not_advance_the_horizon(build) -> None:
    scorer = AgentScorer(ScoringConfig(horizon_bars=2))
    scorer.record(build.intent("bull", "buy", signal="bar-1", price="100"))
    scorer.on_bar(AAPL, SignalId("bar-2"), Decimal(90))
    scorer.on_bar(AAPL, SignalId("bar-2"), Decimal(90))
    assert scorer.score(AgentId("bull")).scored == 0


def test_the_bar_an_intent_answered_is_not_counted_in_its_horizon(build) -> None:
    scorer = AgentScorer(ScoringConfig(horizon_bars=1))
    scorer.record(build.intent("bull", "buy", signal="bar-1", price="100"))
    scorer.on_bar(AAPL, SignalId("bar-1"), Decimal(100))  # arrives after the intent
    assert scorer.score(AgentId("bull")).scored == 0
    scorer.on_bar(AAPL, SignalId("bar-2"), Decimal(101))
    assert scorer.score(AgentId("bull")).hits == 1


def test_an_unchanged_price_is_a_miss(build) -> None:
    scorer = AgentScorer(ScoringConfig(horizon_bars=1))
    scorer.record(build.intent("bull", "buy", signal="bar-1", price="100"))
    scorer.on_bar(AAPL, SignalId("bar-2"), Decimal(100))
    assert scorer.score(AgentId("bull")).hit_rate == 0.0


def test_adaptive_multiplier_follows_decayed_skill_within_floor_and_cap(build) -> None:
    scorer = AgentScorer(ScoringConfig(horizon_bars=1, decay=0.5, weight_floor=0.2, weight_cap=1.5))
    assert scorer.multiplier(AgentId("new")) == 1.0
    for bar in range(1, 8):
        scorer.record(build.intent("good", "buy", signal=f"b{bar}", price=str(100 + bar)))
        scorer.record(build.intent("bad", "sell", signal=f"b{bar}", price=str(100 + bar)))
        scorer.on_bar(AAPL, SignalId(f"b{bar + 1}"), Decimal(101 + bar))
    assert scorer.multiplier(AgentId("good")) == 1.5
    assert scorer.multiplier(AgentId("bad")) == 0.2


def test_adaptive_weights_shift_a_weighted_vote_toward_the_better_agent(clock, build, gate) -> None:
    coordinator = MetaCoordinator(build.config("weighted", threshold=0.5), clock=clock, gate=gate)
    # momentum keeps being right, mean_reversion keeps being wrong, sma_crossover holds.
    for bar in range(1, 12):
        signal = f"bar-{bar}"
        coordinator.on_signal(build.signal(signal=signal, close=str(100 + bar)))
        coordinator.on_intent(build.intent("momentum", "buy", signal=signal, price=str(100 + bar)))
        coordinator.on_intent(
            build.intent("mean_reversion", "sell", signal=signal, price=str(100 + bar))
        )
        coordinator.on_intent(build.intent("sma_crossover", "hold", "0", signal=signal))
    reports = {a.agent_id: a for a in coordinator.agents()}
    assert reports["momentum"].hit_rate == 1.0
    assert reports["mean_reversion"].hit_rate == 0.0
    assert reports["momentum"].pnl > 0 > reports["mean_reversion"].pnl
    coordinator.execute(
        SetVotingStrategy(VotingConfig(strategy="weighted", threshold=0.45, adaptive_weights=True)),
        actor="ops",
    )
    results = []
    for agent, action in (
        ("momentum", "buy"),
        ("mean_reversion", "sell"),
        ("sma_crossover", "hold"),
    ):
        results += coordinator.on_intent(build.intent(agent, action, signal="bar-99"))[1]
    decision = results[0].decision
    weights = {v.agent_id: v.weight for v in decision.votes}
    assert weights["momentum"] > 1.0 > weights["mean_reversion"] >= 0.1
    # Without adaptive weights buy would have 1 of 3 (33%), below the threshold of 45%.
    assert decision.action.value == "buy"

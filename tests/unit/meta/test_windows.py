"""Decision windows: when they close, who abstains, and that nothing is decided twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from atp.core.clock import SimulatedClock
from atp.core.enums import Action
from atp.core.ids import AgentId, derive_id
from atp.meta.commands import SetAgentEnabled
from atp.meta.config import AgentConfig, MetaAgentConfig, WindowConfig
from atp.meta.coordinator import MetaCoordinator
from atp.meta.window import Admission


def test_window_closes_as_soon_as_every_live_agent_answered(coordinator, build) -> None:
    assert coordinator.on_intent(build.intent("momentum", "buy"))[1] == []
    assert coordinator.on_intent(build.intent("mean_reversion", "sell"))[1] == []
    admission, results = coordinator.on_intent(build.intent("sma_crossover", "buy"))
    assert admission is Admission.ACCEPTED
    (result,) = results
    assert result.closed_by == "complete"
    assert result.decision.action is Action.BUY
    assert result.decision.decision_id == derive_id("decision", "AAPL", "bar-1")


def test_window_times_out_and_the_silent_agent_abstains(coordinator, build, clock) -> None:
    coordinator.on_signal(build.signal())
    coordinator.on_intent(build.intent("momentum", "buy"))
    coordinator.on_intent(build.intent("sma_crossover", "buy"))
    assert coordinator.tick(clock.now() + timedelta(seconds=1.9)) == []
    (result,) = coordinator.tick(clock.now() + timedelta(seconds=2))
    decision = result.decision
    assert result.closed_by == "timeout"
    assert result.abstentions == 1
    assert [v.vote for v in decision.votes] == ["abstain", "buy", "buy"]
    assert decision.tally.abstain == 1.0
    assert decision.action is Action.BUY
    assert "timed out with 2 of 3 live agents" in decision.explanation


def test_redelivered_and_late_intents_never_make_a_second_decision(coordinator, build) -> None:
    coordinator.on_intent(build.intent("momentum", "buy"))
    assert coordinator.on_intent(build.intent("momentum", "buy"))[0] is Admission.DUPLICATE
    coordinator.on_intent(build.intent("mean_reversion", "buy"))
    assert len(coordinator.on_intent(build.intent("sma_crossover", "buy"))[1]) == 1
    for agent in ("momentum", "sma_crossover"):
        assert coordinator.on_intent(build.intent(agent, "sell")) == (Admission.LATE, [])
    assert coordinator.on_signal(build.signal()) == []
    assert coordinator.tick(build.intent("x", "buy").decided_at + timedelta(days=1)) == []
    assert (coordinator.counters.duplicates, coordinator.counters.late) == (1, 2)
    assert coordinator.counters.decided == 1


def test_windows_are_per_symbol_and_signal(coordinator, build) -> None:
    for agent in ("momentum", "mean_reversion"):
        coordinator.on_intent(build.intent(agent, "buy", symbol="AAPL"))
        coordinator.on_intent(build.intent(agent, "sell", symbol="MSFT"))
        coordinator.on_intent(build.intent(agent, "buy", signal="bar-2"))
    assert coordinator.open_windows == 3
    (msft,) = coordinator.on_intent(build.intent("sma_crossover", "sell", symbol="MSFT"))[1]
    assert (msft.decision.symbol, msft.decision.action) == ("MSFT", Action.SELL)
    assert coordinator.open_windows == 2


def test_quorum_makes_a_lone_voter_hold(build, clock, gate) -> None:
    coordinator = MetaCoordinator(build.config(quorum=2), clock=clock, gate=gate)
    coordinator.on_intent(build.intent("momentum", "buy"))
    (result,) = coordinator.tick(clock.now() + timedelta(seconds=5))
    assert result.decision.action is Action.HOLD
    assert "only 1 voter answered, the quorum is 2" in result.decision.explanation
    assert gate.proposals == []


def test_disabled_agent_is_ignored_and_not_waited_for(coordinator, build, clock) -> None:
    coordinator.execute(SetAgentEnabled(AgentId("mean_reversion"), False), actor="test")
    coordinator.on_intent(build.intent("momentum", "sell"))
    assert coordinator.on_intent(build.intent("mean_reversion", "buy"))[0] is Admission.DISABLED
    (result,) = coordinator.on_intent(build.intent("sma_crossover", "sell"))[1]
    assert [v.agent_id for v in result.decision.votes] == ["momentum", "sma_crossover"]
    assert result.decision.action is Action.SELL


def test_agent_that_keeps_missing_windows_stops_being_waited_for(build, gate) -> None:
    clock = SimulatedClock(build.intent("x", "buy").decided_at)
    config = MetaAgentConfig(
        agents={"a": AgentConfig(), "b": AgentConfig()},
        window=WindowConfig(timeout_seconds=1, max_missed_windows=2),
    )
    coordinator = MetaCoordinator(config, clock=clock, gate=gate)
    for bar in ("bar-1", "bar-2"):
        coordinator.on_intent(build.intent("a", "buy", signal=bar))
        clock.advance_to(clock.now() + timedelta(seconds=1))
        assert len(coordinator.tick()) == 1
    # b missed two windows in a row: the next window closes on a's answer alone.
    (result,) = coordinator.on_intent(build.intent("a", "buy", signal="bar-3"))[1]
    assert result.closed_by == "complete"
    # b answering again makes it live (waited for) again.
    coordinator.on_intent(build.intent("b", "buy", signal="bar-4"))
    assert coordinator.on_intent(build.intent("a", "buy", signal="bar-4"))[1] != []
    assert coordinator.roster.live() == {"a", "b"}


def test_unknown_agents_join_the_roster_on_their_first_intent(build, clock, gate) -> None:
    coordinator = MetaCoordinator(MetaAgentConfig(), clock=clock, gate=gate)
    coordinator.on_signal(build.signal())
    coordinator.on_intent(build.intent("newcomer", "buy"))
    (first,) = coordinator.tick(clock.now() + timedelta(seconds=2))
    assert first.decision.action is Action.BUY
    # From the next window on it is expected, so its answer closes the window at once.
    (second,) = coordinator.on_intent(build.intent("newcomer", "buy", signal="bar-2"))[1]
    assert second.closed_by == "complete"


def test_invalid_intents_are_counted_and_do_not_vote(coordinator, build) -> None:
    bad = [
        build.intent("momentum", "buy", "0"),
        build.intent("momentum", "buy", confidence=1.5),
        build.intent("momentum", "buy", "-5"),
    ]
    for intent in bad:
        assert coordinator.on_intent(intent)[0] is Admission.INVALID
    assert coordinator.counters.invalid == 3
    assert coordinator.open_windows == 0


def test_reference_price_is_the_signal_close_when_the_signal_was_seen(coordinator, build) -> None:
    coordinator.on_signal(build.signal(close="190.25"))
    for agent in ("momentum", "mean_reversion", "sma_crossover"):
        results = coordinator.on_intent(build.intent(agent, "buy", price="185.50"))[1]
    assert results[0].decision.reference_price == Decimal("190.25")

"""The agent host: one intent per agent per signal, deterministic ids, a guard that quarantines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from atp.agents.host import AgentConfig, AgentHost
from atp.agents.registry import build_strategy
from atp.agents.sizing import SizingConfig
from atp.agents.strategy import Strategy, StrategySignal
from atp.core.clock import SimulatedClock
from atp.core.enums import Action, OrderType
from atp.core.errors import Conflict, NotFound
from atp.core.events import MarketSignal
from atp.core.ids import AgentId, derive_id
from atp.marketdata.catalog import load_bars
from atp.services.settings import DEFAULT_DATA_DIR

from .bars import START, bar, series


class Exploding(Strategy[None]):
    """Raises on its `fail_on`-th bar."""

    name = "exploding"

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.calls = 0

    def new_state(self) -> None:
        return None

    def on_bar(self, bar: MarketSignal) -> StrategySignal | None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ZeroDivisionError("division by zero in user code")
        return StrategySignal.buy(0.9, "always buys")


class Counting(Strategy[None]):
    """Counts the bars it is fed and returns what it is told."""

    name = "counting"

    def __init__(self, answer: Any = None) -> None:
        super().__init__()
        self.answer = answer
        self.fed = 0

    def new_state(self) -> None:
        return None

    def on_bar(self, bar: MarketSignal) -> StrategySignal | None:
        self.fed += 1
        return self.answer  # type: ignore[no-any-return]


def _default_host() -> AgentHost:
    configs = [
        AgentConfig(agent_id="momentum", strategy="momentum"),
        AgentConfig(agent_id="mean_reversion", strategy="mean_reversion"),
        AgentConfig(agent_id="sma", strategy="sma_crossover", params={"fast": 10, "slow": 30}),
    ]
    return AgentHost.from_configs(configs, SimulatedClock(START))


def test_every_agent_answers_every_signal_exactly_once_with_derived_ids() -> None:
    bars = load_bars(DEFAULT_DATA_DIR / "pairs_trading_system" / "MSFT.csv").bars[-300:]
    host = _default_host()
    actions = set()
    for signal in bars:
        intents = host.on_signal(signal)
        assert [i.agent_id for i in intents] == ["momentum", "mean_reversion", "sma"]
        for intent in intents:
            assert intent.intent_id == derive_id("intent", intent.agent_id, signal.signal_id)
            assert intent.reference_price == signal.close
            assert intent.signal_id == signal.signal_id
            if intent.action is Action.HOLD:
                assert intent.quantity == 0
            else:
                assert intent.quantity == (Decimal(10000) / signal.close).to_integral_value(
                    rounding="ROUND_FLOOR"
                )
            actions.add(intent.action)
    assert actions == {Action.BUY, Action.SELL, Action.HOLD}


def test_two_hosts_on_the_same_bars_produce_identical_intents() -> None:
    bars = load_bars(DEFAULT_DATA_DIR / "pairs_trading_system" / "AAPL.csv").bars[:200]
    first, second = _default_host(), _default_host()
    assert [first.on_signal(b) for b in bars] == [second.on_signal(b) for b in bars]


def test_a_raising_strategy_is_quarantined_and_the_others_go_on() -> None:
    host = AgentHost(SimulatedClock(START))
    host.add_agent(AgentId("bad"), Exploding(fail_on=3))
    host.add_agent(AgentId("good"), Counting(StrategySignal.sell(0.4, "good says sell")))
    answers = [host.on_signal(b) for b in series([10, 11, 12, 13, 14])]
    assert [[i.agent_id for i in intents] for intents in answers] == [
        ["bad", "good"],
        ["bad", "good"],
        ["good"],
        ["good"],
        ["good"],
    ]
    faults = host.drain_faults()
    assert len(faults) == 1
    assert faults[0].agent_id == "bad" and "ZeroDivisionError" in faults[0].error
    assert host.drain_faults() == []
    assert host.strategy_errors == 1 and host.quarantined_count == 1
    status = {s.agent_id: s for s in host.statuses()}
    assert status[AgentId("bad")].quarantined and status[AgentId("bad")].errors == 1
    assert status[AgentId("good")].intents == {"sell": 5}


def test_a_strategy_returning_the_wrong_type_is_quarantined() -> None:
    host = AgentHost(SimulatedClock(START))
    host.add_agent(AgentId("sloppy"), Counting("buy"))
    assert host.on_signal(bar(10, 0)) == []
    assert "must return a StrategySignal" in (
        host.status(AgentId("sloppy")).quarantine_reason or ""
    )


def test_a_quarantined_agent_needs_release_not_enable() -> None:
    host = AgentHost(SimulatedClock(START))
    host.add_agent(AgentId("bad"), Exploding(fail_on=1))
    host.on_signal(bar(10, 0))
    with pytest.raises(Conflict, match="quarantined"):
        host.enable(AgentId("bad"))
    host.release(AgentId("bad"), Counting())
    assert [i.action for i in host.on_signal(bar(10, 1))] == [Action.HOLD]


def test_a_disabled_agent_answers_nothing_until_enabled() -> None:
    host = AgentHost(SimulatedClock(START))
    host.add_agent(AgentId("a"), Counting())
    host.add_agent(AgentId("b"), Counting())
    host.disable(AgentId("a"))
    assert [i.agent_id for i in host.on_signal(bar(10, 0))] == ["b"]
    host.enable(AgentId("a"))
    assert [i.agent_id for i in host.on_signal(bar(10, 1))] == ["a", "b"]
    with pytest.raises(NotFound):
        host.disable(AgentId("nobody"))


def test_a_redelivered_signal_gets_the_same_intents_without_feeding_the_strategy_twice() -> None:
    host = AgentHost(SimulatedClock(START))
    strategy = Counting(StrategySignal.buy(0.6, "buy"))
    host.add_agent(AgentId("a"), strategy)
    first = host.on_signal(bar(10, 0))
    again = host.on_signal(bar(10, 0))
    assert first == again and strategy.fed == 1
    host.on_signal(bar(10, 1))
    assert host.on_signal(bar(10, 0)) == []  # older than the last bar of AAA: stale
    assert host.stale_signals == 1 and strategy.fed == 2


def test_no_opinion_is_an_explicit_hold_with_zero_quantity() -> None:
    host = AgentHost(SimulatedClock(START))
    host.add_agent(AgentId("quiet"), Counting(None))
    (intent,) = host.on_signal(bar(10, 0))
    assert (intent.action, intent.quantity, intent.reason) == (Action.HOLD, 0, "no signal")
    assert intent.decided_at == START


def test_notional_sizing_rounds_down_and_a_too_small_notional_holds() -> None:
    host = AgentHost(SimulatedClock(START))
    buy = StrategySignal.buy(0.6, "buy")
    host.add_agent(AgentId("default"), Counting(buy))
    host.add_agent(AgentId("tiny"), Counting(buy), sizing=SizingConfig(notional=Decimal(100)))
    host.add_agent(
        AgentId("fixed"), Counting(buy), sizing=SizingConfig(mode="fixed_quantity", quantity=7)
    )
    default, tiny, fixed = host.on_signal(bar("185.64", 0))
    assert default.quantity == 53 and default.action is Action.BUY
    assert tiny.action is Action.HOLD and "buys no whole share" in tiny.reason
    assert fixed.quantity == 7


def test_a_limit_price_makes_a_limit_order() -> None:
    host = AgentHost(SimulatedClock(START))
    host.add_agent(AgentId("a"), Counting(StrategySignal.buy(0.6, "dip", Decimal("9.5"))))
    (intent,) = host.on_signal(bar(10, 0))
    assert intent.order_type is OrderType.LIMIT and intent.limit_price == Decimal("9.5")
    assert intent.quantity == 1052  # sized at the limit price


def test_holds_can_be_left_out_for_in_process_backtests() -> None:
    host = AgentHost(SimulatedClock(START))
    host.add_agent(AgentId("quiet"), Counting(None))
    assert host.on_signal(bar(10, 0), include_holds=False) == []
    assert host.status(AgentId("quiet")).intents == {"hold": 1}


def test_build_strategy_builds_a_fresh_instance_each_time() -> None:
    assert build_strategy("momentum") is not build_strategy("momentum")

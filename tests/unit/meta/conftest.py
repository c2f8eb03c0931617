"""Builders and a rule-based fake risk gate for the meta-agent's unit tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from atp.core.clock import SimulatedClock
from atp.core.enums import Action, OrderType, TradingState
from atp.core.events import MarketSignal, OrderIntent, RiskCheck, RiskViolation
from atp.core.ids import AgentId, IntentId, SignalId, Symbol, derive_id
from atp.core.proposals import OrderProposal, RiskVerdict
from atp.meta.config import AgentConfig, MetaAgentConfig, VotingConfig
from atp.meta.coordinator import MetaCoordinator

START = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
AGENTS = ("momentum", "mean_reversion", "sma_crossover")


@dataclass
class FakeRiskGate:
    """Approves unless halted or the symbol's position would pass `cap`; books what it approves."""

    cap: Decimal = Decimal(1000)
    halted: bool = False
    positions: dict[str, Decimal] = field(default_factory=dict)
    proposals: list[OrderProposal] = field(default_factory=list)

    def check(self, proposal: OrderProposal) -> RiskVerdict:
        self.proposals.append(proposal)
        state = TradingState.HALTED if self.halted else TradingState.ACTIVE
        if self.halted:
            check = RiskCheck("kill_switch", False, "kill switch is on", None, None)
            return RiskVerdict(False, (check,), (self._violation(proposal, check),), state)
        current = self.positions.get(proposal.symbol, Decimal(0))
        after = current + proposal.side.sign * proposal.quantity
        if abs(after) > self.cap:
            message = f"position cap {proposal.symbol} {self.cap} would become {after}"
            check = RiskCheck("position_cap", False, message, self.cap, after)
            return RiskVerdict(False, (check,), (self._violation(proposal, check),), state)
        self.positions[proposal.symbol] = after
        check = RiskCheck("position_cap", True, "within cap", self.cap, after)
        return RiskVerdict(True, (check,), (), state)

    def _violation(self, proposal: OrderProposal, check: RiskCheck) -> RiskViolation:
        return RiskViolation(
            violation_id=derive_id("violation", str(proposal.decision_id), check.rule),
            rule=check.rule,
            message=check.message,
            symbol=proposal.symbol,
            agent_id=None,
            decision_id=proposal.decision_id,
            client_order_id=proposal.client_order_id,
            limit=check.limit,
            observed=check.observed,
            action_taken="denied",
            trading_state=TradingState.HALTED if self.halted else TradingState.ACTIVE,
            occurred_at=START,
        )


IntentFactory = Callable[..., OrderIntent]


def make_intent(
    agent: str,
    action: str,
    quantity: str = "100",
    *,
    confidence: float = 0.7,
    symbol: str = "AAPL",
    signal: str = "bar-1",
    price: str = "185.50",
) -> OrderIntent:
    """An intent of `agent` answering `signal`."""
    return OrderIntent(
        intent_id=IntentId(derive_id("intent", agent, signal)),
        agent_id=AgentId(agent),
        strategy=agent,
        symbol=Symbol(symbol),
        signal_id=SignalId(signal),
        action=Action(action),
        quantity=Decimal(quantity),
        confidence=confidence,
        reference_price=Decimal(price),
        order_type=OrderType.MARKET,
        limit_price=None,
        reason=f"{agent} wants {action}",
        decided_at=START,
    )


def make_signal(symbol: str = "AAPL", signal: str = "bar-1", close: str = "185.50") -> MarketSignal:
    """A daily bar of `symbol` closing at `close`."""
    price = Decimal(close)
    return MarketSignal(
        signal_id=SignalId(signal),
        symbol=Symbol(symbol),
        timeframe="1d",
        timestamp=START,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1000),
        feed="test",
    )


def make_config(strategy: str = "majority", **voting: object) -> MetaAgentConfig:
    """Three known agents with weight 1 and the given voting strategy."""
    return MetaAgentConfig(
        voting=VotingConfig.model_validate({"strategy": strategy, **voting}),
        agents={name: AgentConfig() for name in AGENTS},
    )


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def gate() -> FakeRiskGate:
    return FakeRiskGate()


@pytest.fixture
def coordinator(clock: SimulatedClock, gate: FakeRiskGate) -> MetaCoordinator:
    return MetaCoordinator(make_config(), clock=clock, gate=gate)


class Builders:
    """The builders above, handed to tests as the `build` fixture."""

    intent = staticmethod(make_intent)
    signal = staticmethod(make_signal)
    config = staticmethod(make_config)


@pytest.fixture
def build() -> type[Builders]:
    return Builders

"""Builds the decision chain a backtest drives: the real strategies, votes and risk gate.

`DirectPipeline` is an adapter (named so on purpose): it calls the agents' `Strategy.on_bar`,
closes the decision window of a (symbol, bar) as soon as every agent answered, combines the
answers with `atp.meta.voting.vote` and puts the result to a `RiskGate`, with direct calls in
place of the bus. It stands where the agents' `AgentHost` and the meta-agent's coordinator go
once those land, and uses nothing of its own but the sizing rule below.

Sizing (what an agent proposes): `equal_weight` buys whole shares worth equity / number of
symbols at the bar's close (capped by cash); `all_in` buys with all cash, fractionally, sized at
the fill price by the engine. Sells always propose closing the position.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from atp.agents.strategies.mean_reversion import MeanReversion
from atp.agents.strategies.momentum import Momentum
from atp.agents.strategies.sma_crossover import SmaCrossover
from atp.agents.strategy import Strategy, StrategySignal
from atp.brokers.paper.venue import PaperVenue
from atp.core.enums import Action, OrderType, TradingState
from atp.core.errors import InvalidInput
from atp.core.events import MarketSignal, MetaDecision, OrderUpdate, Tally, Vote
from atp.core.ids import AgentId, DecisionId, IntentId, client_order_id_for, derive_id
from atp.core.money import ZERO
from atp.core.proposals import OrderProposal, RiskGate
from atp.meta.config import VOTING_STRATEGIES, VotingConfig
from atp.meta.voting import Ballot, vote

log = logging.getLogger(__name__)

STRATEGIES: dict[str, type[Strategy[Any]]] = {
    cls.name: cls for cls in (SmaCrossover, Momentum, MeanReversion)
}
FRACTIONAL_LOT = Decimal("0.000001")


def build_strategy(name: str, params: dict[str, Any] | None) -> Strategy[Any]:
    """The strategy `name` with `params`; InvalidInput names the known ones when unknown."""
    cls = STRATEGIES.get(name)
    if cls is None:
        raise InvalidInput(
            f"strategies: unknown strategy {name!r}, expected one of {', '.join(STRATEGIES)}"
        )
    return cls.from_params(params or {})


def check_voting(name: str) -> str:
    """Returns `name` if it is a voting strategy, else raises InvalidInput."""
    if name not in VOTING_STRATEGIES:
        raise InvalidInput(
            f"voting_strategy: unknown {name!r}, expected one of {', '.join(VOTING_STRATEGIES)}"
        )
    return name


@dataclass(slots=True)
class _Agent:
    agent_id: AgentId
    strategy: Strategy[Any]
    quarantined: bool = False


class DirectPipeline:
    """Agents -> decision window -> vote -> risk gate, by direct calls (see module docstring)."""

    def __init__(
        self,
        *,
        agents: list[tuple[str, Strategy[Any]]],
        voting: VotingConfig,
        venue: PaperVenue,
        symbols: int,
        sizing: str,
        risk: RiskGate | None = None,
    ) -> None:
        self._agents = [_Agent(AgentId(name), strategy) for name, strategy in agents]
        self._voting = voting
        self._venue = venue
        self._symbols = symbols
        self._sizing = sizing
        self._risk = risk
        self._lot = FRACTIONAL_LOT if sizing == "all_in" else Decimal(1)

    def on_bar(self, signal: MarketSignal) -> MetaDecision | None:
        """Every agent answers `signal`; the window closes at once and is voted and checked."""
        ballots = [self._ballot(agent, signal) for agent in self._agents]
        if all(b.action in (None, Action.HOLD) for b in ballots):
            # Nobody wants to trade: a hold decision would change nothing; skip the records.
            return None
        outcome = vote(
            self._voting.strategy,
            ballots,
            threshold=self._voting.threshold,
            quorum=self._voting.quorum,
            lot=self._lot,
        )
        if outcome.action is Action.HOLD:
            return None
        decision_id = DecisionId(derive_id("decision", signal.symbol, signal.signal_id))
        checks: tuple[Any, ...] = ()
        approved = True
        state = TradingState.ACTIVE
        side = outcome.action.as_side()
        assert side is not None
        if self._risk is not None:
            verdict = self._risk.check(
                OrderProposal(
                    proposal_id=decision_id,
                    origin="meta",
                    symbol=signal.symbol,
                    side=side,
                    quantity=outcome.quantity,
                    order_type=OrderType.MARKET,
                    reference_price=signal.close,
                    limit_price=None,
                    agent_id=None,
                    decision_id=decision_id,
                    client_order_id=client_order_id_for(decision_id),
                )
            )
            checks, approved, state = verdict.checks, verdict.approved, verdict.trading_state
        return MetaDecision(
            decision_id=decision_id,
            symbol=signal.symbol,
            signal_id=signal.signal_id,
            action=outcome.action,
            quantity=outcome.quantity,
            order_type=OrderType.MARKET,
            limit_price=None,
            reference_price=signal.close,
            voting_strategy=outcome.strategy,
            parameters={"threshold": outcome.threshold, "quorum": outcome.quorum},
            votes=tuple(
                Vote(
                    b.agent_id,
                    (b.action or Action.HOLD).value,
                    b.quantity,
                    b.confidence,
                    b.weight,
                    b.intent_id,
                    b.reason,
                )
                for b in ballots
            ),
            tally=outcome.tally if outcome.tally else Tally(0, 0, 0, 0, 0),
            threshold=outcome.threshold,
            quorum=outcome.quorum,
            explanation=outcome.verdict,
            risk_checks=checks,
            approved=approved,
            trading_state=state,
            client_order_id=client_order_id_for(decision_id) if approved else None,
            decided_at=signal.timestamp,
        )

    def on_update(self, update: OrderUpdate) -> None:
        """The risk gate books fills through its own ledger when it has one."""
        on_update = getattr(self._risk, "on_order_update", None)
        if on_update is not None:
            on_update(update)

    def _ballot(self, agent: _Agent, signal: MarketSignal) -> Ballot:
        if agent.quarantined:
            return Ballot(agent.agent_id, None, ZERO, 0.0, 1.0)
        try:
            opinion = agent.strategy.on_bar(signal)
        except Exception:
            # One faulty strategy must not stop the others: quarantine it, as the host does.
            log.exception("strategy %s failed on %s; quarantined", agent.agent_id, signal.signal_id)
            agent.quarantined = True
            return Ballot(agent.agent_id, None, ZERO, 0.0, 1.0)
        if opinion is None:
            opinion = StrategySignal.hold("no opinion")
        quantity = self._size(opinion.action, signal)
        intent_id = IntentId(derive_id("intent", agent.agent_id, signal.signal_id))
        return Ballot(
            agent.agent_id,
            opinion.action,
            quantity,
            opinion.confidence,
            1.0,
            intent_id,
            opinion.reason,
        )

    def _size(self, action: Action, signal: MarketSignal) -> Decimal:
        ledger = self._venue.ledger
        if action is Action.SELL:
            return max(ledger.quantity(signal.symbol), ZERO)
        if action is not Action.BUY:
            return ZERO
        if self._sizing == "all_in":
            raw = ledger.cash / signal.close
            return raw.quantize(FRACTIONAL_LOT, rounding=ROUND_DOWN)
        budget = min(ledger.equity / self._symbols, ledger.cash)
        return (budget / signal.close).to_integral_value(rounding=ROUND_DOWN)


def decided_at(decision: MetaDecision) -> datetime:
    """When a decision was taken (its bar's time)."""
    return decision.decided_at

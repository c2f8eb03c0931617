"""Builds the live decision chain a backtest drives, from the live pieces.

* `AgentsNode`: the agents' side: the real `atp.agents.host.AgentHost` (strategies behind its
  guard, one intent per agent per bar), with the backtest's `PortfolioSizer` on its intents.
* `MetaNode`: the meta-agent's side: the real `atp.meta.coordinator.MetaCoordinator` (decision
  windows, votes, explanations) over the real `atp.risk.engine.RiskEngine` as its `RiskGate`,
  which is marked by every bar and books every order update, exactly as the meta-agent service
  does with its `RiskComponent`.
* `InProcessPipeline`: calls the two nodes directly, in the order the bus delivers to the
  services (bar to risk and coordinator, bar to the host, intents to the coordinator). The
  NATS mode (`atp.backtest.bus_mode`) wires the same two nodes as bus consumers instead.

The paper venue (`atp.brokers.paper.PaperVenue`) and the simulated clock are the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from atp.agents.host import AgentHost
from atp.agents.sizing import SizingConfig
from atp.agents.strategies.mean_reversion import MeanReversion
from atp.agents.strategies.momentum import Momentum
from atp.agents.strategies.sma_crossover import SmaCrossover
from atp.agents.strategy import Strategy
from atp.backtest.sizing import PortfolioSizer, Sizing, lot_of
from atp.core.clock import Clock
from atp.core.enums import Action
from atp.core.errors import InvalidInput
from atp.core.events import MarketSignal, MetaDecision, OrderIntent, OrderUpdate
from atp.core.ids import AgentId
from atp.meta.config import VOTING_STRATEGIES, AgentConfig, MetaAgentConfig, VotingConfig
from atp.meta.config import WindowConfig as MetaWindowConfig
from atp.meta.coordinator import DecisionResult, MetaCoordinator
from atp.portfolio.ledger import Ledger
from atp.risk.config import RiskEngineConfig
from atp.risk.engine import RiskEngine

STRATEGIES: dict[str, type[Strategy[Any]]] = {
    cls.name: cls for cls in (SmaCrossover, Momentum, MeanReversion)
}
# The host's own sizing is replaced by the run's rule; one unit never turns a view into a HOLD.
_HOST_SIZING = SizingConfig(mode="fixed_quantity", quantity=Decimal(1))
# No redeliveries in process, few over the bus: a short memory of closed windows suffices.
_REMEMBER_CLOSED = 10_000


def build_strategy(name: str, params: dict[str, Any] | None) -> Strategy[Any]:
    """The strategy `name` with `params`; InvalidInput names the known ones when unknown."""
    cls = STRATEGIES.get(name)
    if cls is None:
        raise InvalidInput(
            f"strategies: unknown strategy {name!r}, expected one of {', '.join(STRATEGIES)}"
        )
    return cls.from_params(params or {})


def check_voting(name: str, field: str = "voting_strategy") -> str:
    """Returns `name` if it is a voting strategy, else raises InvalidInput naming `field`."""
    if name not in VOTING_STRATEGIES:
        raise InvalidInput(
            f"{field}: unknown {name!r}, expected one of {', '.join(VOTING_STRATEGIES)}"
        )
    return name


class AgentsNode:
    """The agent host with the run's sizing rule, booked from the run's own order updates."""

    def __init__(self, host: AgentHost, *, initial_cash: Decimal, sizing: Sizing, symbols: int):
        self.host = host
        self.ledger = Ledger(initial_cash)
        self._sizer = PortfolioSizer(self.ledger, sizing=sizing, symbols=symbols)

    def on_signal(self, signal: MarketSignal) -> list[OrderIntent]:
        """Marks the book at the bar's close; every agent answers, sized by the run's rule."""
        self.ledger.mark(signal.symbol, signal.close)
        return [self._sizer.size(intent) for intent in self.host.on_signal(signal)]

    def on_update(self, update: OrderUpdate) -> None:
        """Books a fill (once per fill id) so the next sizing sees cash and positions."""
        fill = update.fill
        if fill is not None:
            self.ledger.apply_fill(
                fill_id=fill.fill_id,
                symbol=update.symbol,
                side=update.side,
                quantity=fill.quantity,
                price=fill.price,
                commission=fill.commission,
            )


class MetaNode:
    """The meta-agent's coordinator behind the real risk engine, fed as the service feeds it."""

    def __init__(self, coordinator: MetaCoordinator, risk: RiskEngine, *, clock: Clock) -> None:
        self.coordinator = coordinator
        self.risk = risk
        self._clock = clock
        self._timeout = timedelta(seconds=MetaWindowConfig().timeout_seconds)

    def on_signal(self, signal: MarketSignal) -> list[DecisionResult]:
        """Marks the risk book (the risk component's consumer) and opens the bar's window."""
        self.risk.on_market_signal(signal)
        return self.coordinator.on_signal(signal)

    def on_intent(self, intent: OrderIntent) -> list[DecisionResult]:
        """Adds an intent to its window; the decision if that closed the window."""
        return self.coordinator.on_intent(intent)[1]

    def close_late(self) -> list[DecisionResult]:
        """Closes the windows a quarantined agent left open, as the service's tick would."""
        return self.coordinator.tick(self._clock.now() + self._timeout)

    def on_update(self, update: OrderUpdate) -> None:
        """Books the update in the risk engine (fills move exposure, cash and P&L).

        The events it queues are dropped once per bar by what drives the node (in process
        `InProcessPipeline.on_bar` or `on_skipped`, over the bus before a bar's decisions are
        published), not after each update.
        """
        self.risk.on_order_update(update)


@dataclass(frozen=True, slots=True)
class Chain:
    """The two nodes of one run."""

    agents: AgentsNode
    meta: MetaNode


def build_chain(
    *,
    strategies: list[tuple[str, Strategy[Any]]],
    voting: str,
    sizing: Sizing,
    symbols: int,
    initial_cash: Decimal,
    risk_config: RiskEngineConfig,
    clock: Clock,
) -> Chain:
    """A fresh chain: one agent per strategy (agent id = strategy name), votes, risk."""
    host = AgentHost(clock)
    for name, strategy in strategies:
        host.add_agent(AgentId(name), strategy, sizing=_HOST_SIZING)
    config = MetaAgentConfig(
        voting=VotingConfig(strategy=check_voting(voting)),  # type: ignore[arg-type]
        window=MetaWindowConfig(remember_closed=_REMEMBER_CLOSED),
        agents={name: AgentConfig() for name, _ in strategies},
        lot_size=lot_of(sizing),
    )
    risk = RiskEngine(risk_config, clock=clock)
    coordinator = MetaCoordinator(config, clock=clock, gate=risk)
    agents = AgentsNode(host, initial_cash=initial_cash, sizing=sizing, symbols=symbols)
    return Chain(agents, MetaNode(coordinator, risk, clock=clock))


def trade_decision(results: list[DecisionResult], signal: MarketSignal) -> MetaDecision | None:
    """The decision of `signal`'s window among `results`, unless it holds."""
    for result in results:
        decision = result.decision
        if decision.signal_id == signal.signal_id and decision.symbol == signal.symbol:
            return None if decision.action is Action.HOLD else decision
    return None


class InProcessPipeline:
    """The chain by direct calls, in the services' delivery order (see module docstring)."""

    def __init__(self, chain: Chain) -> None:
        self._agents = chain.agents
        self._meta = chain.meta

    def on_bar(self, signal: MarketSignal) -> MetaDecision | None:
        """Every agent answers `signal`; its window closes, is voted and risk-checked."""
        meta = self._meta
        results = meta.on_signal(signal)
        for intent in self._agents.on_signal(signal):
            results += meta.on_intent(intent)
        if not results:
            results = meta.close_late()
        # Nobody publishes in process and nothing reads the risk engine's outbox: it is
        # dropped once per bar (here or in `on_skipped`; every bar comes through one of them,
        # after the updates its fills made), so it stays bounded.
        meta.risk.take_events()
        return trade_decision(results, signal)

    @property
    def coordinator(self) -> MetaCoordinator:
        """The meta node's coordinator (the fast path asks it for open windows)."""
        return self._meta.coordinator

    def on_update(self, update: OrderUpdate) -> None:
        """Both nodes book the update, as both services consume `executions.order_update`."""
        self._agents.on_update(update)
        self._meta.on_update(update)

    def on_skipped(self, signal: MarketSignal) -> None:
        """Marks the risk engine and the agents' ledger at a bar no agent traded on."""
        self._meta.risk.on_market_signal(signal)
        self._meta.risk.take_events()
        self._agents.ledger.mark(signal.symbol, signal.close)

"""The agent host: runs every agent's strategy on each bar and answers with order intents.

Contract of `on_signal`: exactly one `OrderIntent` per enabled, non-quarantined agent per new
signal, in the order the agents were added, so a decision window can close as soon as every
agent answered. An agent with nothing to do answers HOLD with quantity 0. The intent id is
derived from the agent id and the signal id, so the same signal always yields the same intents.

Redelivery (the bus is at least once): the same signal again returns the same intents without
feeding the strategies twice; a signal older than the last one seen for its symbol is stale
and answered with nothing.

A strategy that raises, or returns something other than a `StrategySignal` or None, is
caught by the guard: logged with agent, strategy, symbol and signal, quarantined (it answers
nothing from that signal on, until `release` is called) and recorded as a `StrategyFault`.
The other agents go on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from atp.agents.registry import build_strategy
from atp.agents.sizing import SizingConfig
from atp.agents.strategy import Strategy, StrategySignal
from atp.core.clock import Clock
from atp.core.enums import ACTION_HOLD, ACTION_WORD, ORDER_LIMIT, ORDER_MARKET
from atp.core.errors import Conflict, InvalidInput, NotFound
from atp.core.events import MarketSignal, OrderIntent
from atp.core.ids import AgentId, IntentId, SignalId, Symbol, derive_id
from atp.core.money import ZERO

log = logging.getLogger(__name__)

# Aliases and a word table for what is read for every agent on every bar: on Python 3.11 a
# member read through its enum class costs about 70 ns, and `.value` about 120 ns.
_HOLD_WORD = ACTION_WORD[ACTION_HOLD]


class AgentConfig(BaseModel):
    """One agent: an id, a strategy by name with its parameters, and its sizing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", description="Unique agent id."
    )
    strategy: str = Field(description="Registered strategy name, e.g. sma_crossover.")
    params: dict[str, Any] = Field(default_factory=dict, description="Strategy parameters.")
    sizing: SizingConfig = Field(default_factory=SizingConfig, description="Order sizing.")
    enabled: bool = Field(default=True, description="Whether the agent answers signals.")


@dataclass(frozen=True, slots=True)
class StrategyFault:
    """A strategy raised (or broke its contract) and its agent was quarantined."""

    agent_id: AgentId
    strategy: str
    symbol: Symbol
    signal_id: SignalId
    error: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """What an operator sees of one agent."""

    agent_id: AgentId
    strategy: str
    enabled: bool
    quarantined: bool
    quarantine_reason: str | None
    signals_seen: int
    intents: dict[str, int]
    errors: int


@dataclass
class _Agent:
    agent_id: AgentId
    strategy: Strategy[Any]
    sizing: SizingConfig
    enabled: bool = True
    quarantine_reason: str | None = None
    signals_seen: int = 0
    errors: int = 0
    intents: Counter[str] = field(default_factory=Counter)


@dataclass
class _LastSignal:
    timestamp: datetime
    signal_id: SignalId
    intents: list[OrderIntent]


class AgentHost:
    """Holds agents (id -> strategy and sizing) and turns each signal into their intents."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._agents: dict[AgentId, _Agent] = {}
        self._last: dict[Symbol, _LastSignal] = {}
        self._faults: list[StrategyFault] = []
        self.strategy_errors = 0
        self.stale_signals = 0

    @classmethod
    def from_configs(cls, configs: Iterable[AgentConfig], clock: Clock) -> AgentHost:
        """Builds a host from configs; an unknown strategy or bad params raise InvalidInput."""
        host = cls(clock)
        for config in configs:
            host.add_agent(
                AgentId(config.agent_id),
                build_strategy(config.strategy, config.params),
                sizing=config.sizing,
                enabled=config.enabled,
            )
        return host

    def add_agent(
        self,
        agent_id: AgentId,
        strategy: Strategy[Any],
        *,
        sizing: SizingConfig | None = None,
        enabled: bool = True,
    ) -> None:
        """Adds an agent; its id must be new."""
        if agent_id in self._agents:
            raise InvalidInput(f"agent_id: {agent_id!r} is already hosted")
        self._agents[agent_id] = _Agent(agent_id, strategy, sizing or SizingConfig(), enabled)

    @property
    def agent_ids(self) -> list[AgentId]:
        """Every hosted agent, in the order added."""
        return list(self._agents)

    @property
    def quarantined_count(self) -> int:
        """How many agents are quarantined."""
        return sum(1 for agent in self._agents.values() if agent.quarantine_reason is not None)

    @property
    def warmup_bars(self) -> int:
        """The most bars any hosted strategy needs before it has an opinion."""
        return max((a.strategy.warmup_bars for a in self._agents.values()), default=0)

    def enable(self, agent_id: AgentId) -> AgentStatus:
        """Lets the agent answer signals again (a quarantined agent needs `release`)."""
        agent = self._agent(agent_id)
        if agent.quarantine_reason is not None:
            raise Conflict(
                f"agent {agent_id} is quarantined ({agent.quarantine_reason}); release it first"
            )
        agent.enabled = True
        return self._status(agent)

    def disable(self, agent_id: AgentId) -> AgentStatus:
        """Stops the agent answering signals (it keeps its state)."""
        agent = self._agent(agent_id)
        agent.enabled = False
        return self._status(agent)

    def release(self, agent_id: AgentId, strategy: Strategy[Any]) -> AgentStatus:
        """Lifts a quarantine with a fresh strategy instance (the faulty one's state is gone)."""
        agent = self._agent(agent_id)
        agent.strategy = strategy
        agent.quarantine_reason = None
        return self._status(agent)

    def statuses(self) -> list[AgentStatus]:
        """Every agent's status, in the order added."""
        return [self._status(agent) for agent in self._agents.values()]

    def status(self, agent_id: AgentId) -> AgentStatus:
        """One agent's status (NotFound if unknown)."""
        return self._status(self._agent(agent_id))

    def drain_faults(self) -> list[StrategyFault]:
        """The faults recorded since the last call (for metrics and audit)."""
        faults, self._faults = self._faults, []
        return faults

    def on_signal(self, signal: MarketSignal, *, include_holds: bool = True) -> list[OrderIntent]:
        """One intent per enabled, non-quarantined agent (see the module docstring).

        Args:
            include_holds: False leaves HOLD answers out (counted, not built): a fast path for
                in-process backtests that have no decision window to close.
        """
        last = self._last.get(signal.symbol)
        if last is not None:
            if last.signal_id == signal.signal_id:
                return list(last.intents)
            if signal.timestamp <= last.timestamp:
                self.stale_signals += 1
                log.warning(
                    "stale signal %s for %s at %s (last seen %s): ignored",
                    signal.signal_id,
                    signal.symbol,
                    signal.timestamp,
                    last.timestamp,
                )
                return []
        intents: list[OrderIntent] = []
        for agent in self._agents.values():
            if not agent.enabled or agent.quarantine_reason is not None:
                continue
            healthy, opinion = self._guarded(agent, signal)
            if not healthy:
                continue
            if not include_holds and (opinion is None or opinion.action is ACTION_HOLD):
                agent.signals_seen += 1
                agent.intents[_HOLD_WORD] += 1
                continue
            intent = self._intent(agent, signal, opinion)
            agent.signals_seen += 1
            agent.intents[ACTION_WORD[intent.action]] += 1
            intents.append(intent)
        self._last[signal.symbol] = _LastSignal(signal.timestamp, signal.signal_id, intents)
        return list(intents)

    def stop(self) -> None:
        """Calls every healthy strategy's `on_stop` hook, through the guard."""
        for agent in self._agents.values():
            if agent.quarantine_reason is None:
                try:
                    agent.strategy.on_stop()
                except Exception:
                    log.exception("on_stop of agent %s raised", agent.agent_id)

    def _guarded(self, agent: _Agent, signal: MarketSignal) -> tuple[bool, StrategySignal | None]:
        """Calls the strategy; (False, None) when it faulted and was quarantined."""
        try:
            # Typed as object: user code may break its annotation, and the guard checks it.
            opinion: object = agent.strategy.on_bar(signal)
            if opinion is not None and not isinstance(opinion, StrategySignal):
                raise TypeError(
                    f"on_bar must return a StrategySignal or None, returned "
                    f"{type(opinion).__name__}"
                )
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            agent.errors += 1
            agent.quarantine_reason = reason
            self.strategy_errors += 1
            self._faults.append(
                StrategyFault(
                    agent.agent_id,
                    agent.strategy.name,
                    signal.symbol,
                    signal.signal_id,
                    reason,
                    self._clock.now(),
                )
            )
            log.exception(
                "strategy %s of agent %s raised on %s bar %s (signal %s): agent quarantined",
                agent.strategy.name,
                agent.agent_id,
                signal.symbol,
                signal.timestamp.isoformat(),
                signal.signal_id,
            )
            return False, None
        return True, opinion

    def _intent(
        self, agent: _Agent, signal: MarketSignal, opinion: StrategySignal | None
    ) -> OrderIntent:
        action = ACTION_HOLD
        quantity = ZERO
        confidence = 0.0
        reason = "no signal"
        limit_price = None
        if opinion is not None:
            action, confidence, reason = opinion.action, opinion.confidence, opinion.reason
            limit_price = opinion.limit_price
        if action is not ACTION_HOLD:
            quantity = agent.sizing.size(limit_price or signal.close)
            if quantity <= 0:
                reason = (
                    f"{reason}; but sizing {agent.sizing.notional} at {signal.close} "
                    "buys no whole share"
                )
                action, quantity, limit_price = ACTION_HOLD, ZERO, None
        if action is ACTION_HOLD:
            limit_price = None
        # By position (one intent per agent per bar), in the field order: intent_id, agent_id,
        # strategy, symbol, signal_id, action, quantity, confidence, reference_price,
        # order_type, limit_price, reason, decided_at.
        return OrderIntent(
            IntentId(derive_id("intent", agent.agent_id, signal.signal_id)),
            agent.agent_id,
            agent.strategy.name,
            signal.symbol,
            signal.signal_id,
            action,
            quantity,
            confidence,
            signal.close,
            ORDER_LIMIT if limit_price is not None else ORDER_MARKET,
            limit_price,
            reason,
            self._clock.now(),
        )

    def _agent(self, agent_id: AgentId) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise NotFound(f"no agent {agent_id!r}; agents: {', '.join(self._agents)}")
        return agent

    @staticmethod
    def _status(agent: _Agent) -> AgentStatus:
        return AgentStatus(
            agent_id=agent.agent_id,
            strategy=agent.strategy.name,
            enabled=agent.enabled,
            quarantined=agent.quarantine_reason is not None,
            quarantine_reason=agent.quarantine_reason,
            signals_seen=agent.signals_seen,
            intents=dict(agent.intents),
            errors=agent.errors,
        )

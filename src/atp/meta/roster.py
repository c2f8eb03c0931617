"""The agent roster: who votes, with what weight, and who is live enough to wait for."""

from __future__ import annotations

import math
from dataclasses import dataclass

from atp.core.errors import InvalidInput, NotFound
from atp.core.ids import AgentId
from atp.meta.config import MetaAgentConfig


@dataclass(slots=True)
class AgentStanding:
    """One agent's weight, whether it is enabled, and how many windows it missed in a row."""

    agent_id: AgentId
    weight: float
    enabled: bool
    missed_in_a_row: int = 0


class AgentRoster:
    """The agents the meta-agent knows: configured at start or discovered by their intents.

    An agent is *live* when it is enabled and has not missed `max_missed_windows` windows in a
    row; a window closes early once every live agent answered. A stale agent still votes when
    it answers, and its answer makes it live again.
    """

    def __init__(self, config: MetaAgentConfig) -> None:
        self._default_weight = config.default_weight
        self._max_missed = config.window.max_missed_windows
        self._agents: dict[AgentId, AgentStanding] = {
            AgentId(name): AgentStanding(AgentId(name), agent.weight, agent.enabled)
            for name, agent in config.agents.items()
        }

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._agents

    def get(self, agent_id: AgentId) -> AgentStanding:
        """The standing of `agent_id`, or NotFound."""
        try:
            return self._agents[agent_id]
        except KeyError:
            raise NotFound(f"agent {agent_id!r} is not known to the meta-agent") from None

    def join(self, agent_id: AgentId) -> AgentStanding:
        """Returns the standing of `agent_id`, adding it (enabled, default weight) if new."""
        standing = self._agents.get(agent_id)
        if standing is None:
            standing = AgentStanding(agent_id, self._default_weight, True)
            self._agents[agent_id] = standing
        return standing

    def set_weight(self, agent_id: AgentId, weight: float) -> float:
        """Sets the weight of a known agent and returns the previous one."""
        if not math.isfinite(weight) or weight < 0:
            raise InvalidInput(f"weight: expected a finite number >= 0, found {weight}")
        standing = self.get(agent_id)
        previous, standing.weight = standing.weight, weight
        return previous

    def set_enabled(self, agent_id: AgentId, enabled: bool) -> bool:
        """Enables or disables a known agent and returns whether it was enabled."""
        standing = self.get(agent_id)
        previous, standing.enabled = standing.enabled, enabled
        if enabled:
            standing.missed_in_a_row = 0
        return previous

    def live(self) -> frozenset[AgentId]:
        """The agents a window waits for."""
        return frozenset(
            a.agent_id
            for a in self._agents.values()
            if a.enabled and a.missed_in_a_row < self._max_missed
        )

    def enabled(self) -> list[AgentStanding]:
        """The enabled agents, by id."""
        return [a for a in self.standings() if a.enabled]

    def disabled(self) -> frozenset[AgentId]:
        """The agents whose intents are ignored."""
        return frozenset(a.agent_id for a in self._agents.values() if not a.enabled)

    def snapshot(self) -> tuple[list[AgentStanding], frozenset[AgentId], frozenset[AgentId]]:
        """`enabled()`, `live()` and `disabled()` in one pass: what every new window takes."""
        enabled: list[AgentStanding] = []
        live: list[AgentId] = []
        disabled: list[AgentId] = []
        for standing in self.standings():
            if not standing.enabled:
                disabled.append(standing.agent_id)
                continue
            enabled.append(standing)
            if standing.missed_in_a_row < self._max_missed:
                live.append(standing.agent_id)
        return enabled, frozenset(live), frozenset(disabled)

    def record_window(self, expected: frozenset[AgentId], answered: frozenset[AgentId]) -> None:
        """Counts a missed window for every expected agent that did not answer."""
        for agent_id in expected - answered:
            standing = self._agents.get(agent_id)
            if standing is not None:
                standing.missed_in_a_row += 1
        for agent_id in answered:
            standing = self._agents.get(agent_id)
            if standing is not None:
                standing.missed_in_a_row = 0

    def standings(self) -> list[AgentStanding]:
        """Every known agent, by id."""
        return [self._agents[a] for a in sorted(self._agents)]

"""The meta-agent's control plane: operator commands, and the agents as the operator sees them.

A command (`SetVotingStrategy`, `SetAgentWeight`, `SetAgentEnabled`) applies from the next
window on: a window keeps the strategy and weights it opened with. Its answer is the
`ControlAction` the service publishes on `control.actions`; replaying those rebuilds the
changes after a restart (`restore.py`).

`MetaControl` is a part of `MetaCoordinator` (its base class), so callers use these methods on
the coordinator, and `atp.meta.coordinator` exports `AgentReport` and `SERVICE` with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from atp.core.clock import Clock
from atp.core.errors import InvalidInput
from atp.core.events import ControlAction
from atp.core.ids import AgentId, derive_id
from atp.meta.commands import MetaCommand, SetAgentEnabled, SetAgentWeight, SetVotingStrategy
from atp.meta.config import VotingConfig
from atp.meta.roster import AgentRoster
from atp.meta.scoring import AgentScorer

SERVICE = "meta-agent"


@dataclass(frozen=True, slots=True)
class AgentReport:
    """One agent as the control plane shows it: standing and score."""

    agent_id: AgentId
    weight: float
    effective_weight: float
    enabled: bool
    live: bool
    missed_in_a_row: int
    intents: int
    scored: int
    hit_rate: float | None
    pnl: Decimal
    brier: float | None
    swung: int
    skill: float


class MetaControl:
    """Applies operator commands and reports agents (see the module docstring)."""

    # What of the coordinator these read and write (MetaCoordinator.__init__ sets them).
    _clock: Clock
    _voting: VotingConfig
    roster: AgentRoster
    scorer: AgentScorer

    if TYPE_CHECKING:

        def _effective_weight(self, agent_id: AgentId, voting: VotingConfig) -> float: ...

    def execute(self, command: MetaCommand, *, actor: str) -> ControlAction:
        """Applies a control-plane command (from the next window on) and returns its event."""
        parameters: dict[str, Any]
        if isinstance(command, SetVotingStrategy):
            previous = self._voting
            self._voting = command.voting
            action = "meta.set_strategy"
            parameters = {**command.voting.model_dump(), "previous": previous.model_dump()}
        elif isinstance(command, SetAgentWeight):
            was = self.roster.set_weight(command.agent_id, command.weight)
            action = "meta.set_agent_weight"
            parameters = {
                "agent_id": command.agent_id,
                "weight": command.weight,
                "previous_weight": was,
            }
        elif isinstance(command, SetAgentEnabled):
            was_enabled = self.roster.set_enabled(command.agent_id, command.enabled)
            action = "meta.enable_agent" if command.enabled else "meta.disable_agent"
            parameters = {
                "agent_id": command.agent_id,
                "enabled": command.enabled,
                "was_enabled": was_enabled,
            }
        else:
            raise InvalidInput(f"unknown meta-agent command {type(command).__name__}")
        now = self._clock.now()
        action_id = derive_id(
            "control",
            SERVICE,
            action,
            json.dumps(parameters, sort_keys=True),
            actor,
            now.isoformat(),
        )
        return ControlAction(action_id, SERVICE, action, parameters, actor, now)

    def agents(self) -> list[AgentReport]:
        """Every known agent with its standing and score, by id."""
        return [self.agent(standing.agent_id) for standing in self.roster.standings()]

    def agent(self, agent_id: AgentId) -> AgentReport:
        """One agent's standing and score; NotFound if the agent is unknown."""
        standing = self.roster.get(agent_id)
        score = self.scorer.score(agent_id)
        return AgentReport(
            agent_id=agent_id,
            weight=standing.weight,
            effective_weight=self._effective_weight(agent_id, self._voting),
            enabled=standing.enabled,
            live=agent_id in self.roster.live(),
            missed_in_a_row=standing.missed_in_a_row,
            intents=score.intents,
            scored=score.scored,
            hit_rate=score.hit_rate,
            pnl=score.pnl,
            brier=score.brier,
            swung=score.swung,
            skill=score.skill,
        )

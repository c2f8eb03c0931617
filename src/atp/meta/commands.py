"""Commands the control plane sends to the meta-agent's core; each becomes a ControlAction."""

from __future__ import annotations

from dataclasses import dataclass

from atp.core.ids import AgentId
from atp.meta.config import VotingConfig


@dataclass(frozen=True, slots=True)
class SetVotingStrategy:
    """Switch the voting strategy and its parameters from the next window on."""

    voting: VotingConfig


@dataclass(frozen=True, slots=True)
class SetAgentWeight:
    """Give an agent a new weight from the next window on."""

    agent_id: AgentId
    weight: float


@dataclass(frozen=True, slots=True)
class SetAgentEnabled:
    """Disable an agent (its intents are ignored) or enable it again, from the next window on."""

    agent_id: AgentId
    enabled: bool


MetaCommand = SetVotingStrategy | SetAgentWeight | SetAgentEnabled

"""Rebuilding the operator's changes after a restart from the `control.actions` they published.

Every change made through the control plane (strategy and parameters, weights, enabled
flags) is published as a `ControlAction` before the caller gets its answer. Replaying the
meta-agent's own actions in stream order therefore leads a new process to the state the old one
had; the configuration only supplies the starting point the first change was made from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import ValidationError

from atp.core.errors import AtpError
from atp.core.events import ControlAction
from atp.core.ids import AgentId
from atp.meta.commands import MetaCommand, SetAgentEnabled, SetAgentWeight, SetVotingStrategy
from atp.meta.config import VotingConfig
from atp.meta.coordinator import SERVICE, MetaCoordinator

log = logging.getLogger(__name__)

SET_STRATEGY = "meta.set_strategy"
SET_AGENT_WEIGHT = "meta.set_agent_weight"
ENABLE_AGENT = "meta.enable_agent"
DISABLE_AGENT = "meta.disable_agent"


def command_of(action: ControlAction) -> MetaCommand | None:
    """The command a recorded meta-agent action carried; None for any other service's action.

    Raises:
        ValueError: the action is the meta-agent's but its parameters do not make a command.
    """
    if action.service != SERVICE:
        return None
    parameters = action.parameters
    try:
        if action.action == SET_STRATEGY:
            fields = {k: parameters[k] for k in VotingConfig.model_fields if k in parameters}
            return SetVotingStrategy(VotingConfig.model_validate(fields))
        if action.action == SET_AGENT_WEIGHT:
            return SetAgentWeight(AgentId(str(parameters["agent_id"])), float(parameters["weight"]))
        if action.action in (ENABLE_AGENT, DISABLE_AGENT):
            agent_id = AgentId(str(parameters["agent_id"]))
            return SetAgentEnabled(agent_id, action.action == ENABLE_AGENT)
    except (KeyError, TypeError, ValidationError) as exc:
        raise ValueError(f"{action.action} {action.action_id}: {exc}") from exc
    return None


def restore(coordinator: MetaCoordinator, actions: Iterable[ControlAction]) -> int:
    """Re-applies the meta-agent's recorded control actions, oldest first; returns how many.

    An agent named by a weight or enable change joins the roster first: it may have been
    discovered by its intents in the earlier run, and its weight must not be lost because this
    run has not heard from it yet. An action that cannot be read is logged and skipped.
    """
    applied = 0
    for action in actions:
        try:
            command = command_of(action)
        except ValueError as exc:
            log.warning("control action not restored: %s", exc)
            continue
        if command is None:
            continue
        if isinstance(command, SetAgentWeight | SetAgentEnabled):
            coordinator.roster.join(command.agent_id)
        try:
            coordinator.execute(command, actor=action.actor)
        except AtpError as exc:
            log.warning("control action %s not restored: %s", action.action_id, exc)
            continue
        applied += 1
    return applied

"""The meta-agent's control plane: agents with their scores and weights, the voting strategy,
and the newest decisions with their explanations (`GET /decisions`).

Thin routes: validate, build the command, hand it to the meta-agent, map the answer. Every
change applies from the next decision window on and is published as a `control.actions` event
(with the caller as actor) by the controls. Bad input (unknown strategy, negative weight,
threshold outside [0, 1]) is refused by validation with a 422 that names the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from atp.api.auth import actor_of, require_token
from atp.api.decimals import Money, Pnl, Quantity
from atp.core.events import ControlAction, MetaDecision
from atp.core.ids import AgentId
from atp.meta.commands import MetaCommand, SetAgentEnabled, SetAgentWeight, SetVotingStrategy
from atp.meta.config import VOTING_STRATEGIES, VotingConfig, VotingStrategyName
from atp.meta.coordinator import AgentReport

AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
AgentPath = Annotated[str, Path(pattern=AGENT_ID_PATTERN, description="The agent's id.")]


class MetaControls(Protocol):
    """What the router needs from the meta-agent service."""

    def agents(self) -> list[AgentReport]:
        """Every known agent with standing and score."""
        ...

    def agent(self, agent_id: AgentId) -> AgentReport:
        """One agent; NotFound if unknown."""
        ...

    def strategy(self) -> VotingConfig:
        """The strategy the next window will use."""
        ...

    def recent_decisions(self, limit: int, strategy: str | None = None) -> list[MetaDecision]:
        """The newest `limit` decisions (of `strategy` if given), newest first."""
        ...

    async def execute(self, command: MetaCommand, *, actor: str) -> ControlAction:
        """Applies a command from the next window on and publishes its ControlAction."""
        ...


class StrategyParams(BaseModel):
    """The parameters of the voting strategy."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="weighted and confidence_weighted: share a side must reach to trade.",
    )
    quorum: int = Field(default=1, ge=1, le=1000, description="Counted voters a decision needs.")
    adaptive_weights: bool = Field(
        default=False, description="Scale weights by each agent's decayed hit rate."
    )


class StrategyIn(BaseModel):
    """A new voting strategy and its parameters."""

    model_config = ConfigDict(extra="forbid")

    name: VotingStrategyName = Field(
        description="majority, weighted, unanimous or confidence_weighted."
    )
    params: StrategyParams = Field(default_factory=StrategyParams, description="Parameters.")


class StrategyOut(BaseModel):
    """The active voting strategy (for the next window) and what else is available."""

    name: str = Field(description="The strategy's name.")
    params: StrategyParams = Field(description="Its parameters.")
    available: list[str] = Field(description="Every strategy PUT /strategy accepts.")
    action_id: str | None = Field(default=None, description="The control action of a change.")


class WeightIn(BaseModel):
    """An agent's new weight."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    weight: float = Field(ge=0.0, le=1e6, description="Weight in weighted votes (>= 0).")


class AgentOut(BaseModel):
    """One agent: its standing in the vote and its live score."""

    agent_id: str = Field(description="The agent's id.")
    weight: float = Field(description="The weight set for it.")
    effective_weight: float = Field(description="The weight the next window uses (adaptive).")
    enabled: bool = Field(description="False: its intents are ignored.")
    live: bool = Field(description="Whether windows wait for its answer.")
    missed_in_a_row: int = Field(description="Windows it missed in a row.")
    intents: int = Field(description="Intents of it that were decided on.")
    scored: int = Field(description="Intents judged against a later close.")
    hit_rate: float | None = Field(description="Hits over scored intents.")
    pnl: Pnl = Field(description="P&L of its intents as if followed alone, to the cent.")
    brier: float | None = Field(description="Brier score of its confidence (0 is best).")
    swung: int = Field(description="Decisions whose action its vote changed.")
    skill: float = Field(description="Decayed hit rate behind the adaptive weight.")
    action_id: str | None = Field(default=None, description="The control action of a change.")


class VoteOut(BaseModel):
    """One agent's part in a decision."""

    model_config = ConfigDict(from_attributes=True)

    agent_id: str = Field(description="The agent.")
    vote: str = Field(description="buy, sell, hold or abstain.")
    quantity: Quantity = Field(description="The quantity it asked for.")
    confidence: float = Field(description="Its stated confidence in [0, 1].")
    weight: float = Field(description="The weight the window used for it.")
    intent_id: str | None = Field(description="Its intent (None if it abstained).")
    reason: str = Field(description="The agent's own reason.")


class TallyOut(BaseModel):
    """The summed vote per side (counts, weights, or weight x confidence)."""

    model_config = ConfigDict(from_attributes=True)

    buy: float = Field(description="Buy side.")
    sell: float = Field(description="Sell side.")
    hold: float = Field(description="Explicit holds.")
    abstain: float = Field(description="Abstainers' count or weight.")
    voters: int = Field(description="Agents that answered and counted.")


class DecisionOut(BaseModel):
    """A coordinated decision as published on decisions.meta, with its explanation."""

    model_config = ConfigDict(from_attributes=True)

    decision_id: str = Field(description="One per (symbol, signal).")
    symbol: str = Field(description="The instrument.")
    signal_id: str = Field(description="The bar the intents answered.")
    action: str = Field(description="buy, sell or hold.")
    quantity: Quantity = Field(
        description="Combined quantity (0 for a hold, or for a sell of nothing held)."
    )
    reference_price: Money = Field(description="The bar's close.")
    voting_strategy: str = Field(description="The strategy the window used.")
    parameters: dict[str, Any] = Field(description="Its parameters and how the window closed.")
    threshold: float = Field(description="The threshold the rule applied.")
    quorum: int = Field(description="Counted voters needed.")
    tally: TallyOut = Field(description="The count per side.")
    votes: list[VoteOut] = Field(description="Every agent's vote.")
    explanation: str = Field(description="Why the decision followed, in words.")
    approved: bool = Field(description="True if the risk engine approved a trade.")
    trading_state: str = Field(description="The risk engine's trading state.")
    client_order_id: str | None = Field(description="The order's id, if approved.")
    decided_at: datetime = Field(description="When the window closed.")


def _agent_out(report: AgentReport, action: ControlAction | None = None) -> AgentOut:
    return AgentOut(
        agent_id=report.agent_id,
        weight=report.weight,
        effective_weight=report.effective_weight,
        enabled=report.enabled,
        live=report.live,
        missed_in_a_row=report.missed_in_a_row,
        intents=report.intents,
        scored=report.scored,
        hit_rate=report.hit_rate,
        pnl=report.pnl,
        brier=report.brier,
        swung=report.swung,
        skill=report.skill,
        action_id=action.action_id if action is not None else None,
    )


def _strategy_out(voting: VotingConfig, action: ControlAction | None = None) -> StrategyOut:
    return StrategyOut(
        name=voting.strategy,
        params=StrategyParams(
            threshold=voting.threshold,
            quorum=voting.quorum,
            adaptive_weights=voting.adaptive_weights,
        ),
        available=list(VOTING_STRATEGIES),
        action_id=action.action_id if action is not None else None,
    )


def _controls(request: Request) -> MetaControls:
    controls: MetaControls = request.app.state.meta_controls
    return controls


Controls = Annotated[MetaControls, Depends(_controls)]
meta_router = APIRouter(tags=["meta-agent"])


@meta_router.get("/agents", response_model=list[AgentOut])
async def list_agents(controls: Controls) -> list[AgentOut]:
    """Every agent the meta-agent knows, with its weight, whether it is enabled, and its score."""
    return [_agent_out(report) for report in controls.agents()]


@meta_router.get("/strategy", response_model=StrategyOut)
async def get_strategy(controls: Controls) -> StrategyOut:
    """The voting strategy the next decision window will use."""
    return _strategy_out(controls.strategy())


@meta_router.get("/decisions", response_model=list[DecisionOut])
async def list_decisions(
    controls: Controls,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first.")] = 20,
    strategy: Annotated[
        VotingStrategyName | None, Query(description="Only decisions of this strategy.")
    ] = None,
) -> list[DecisionOut]:
    """The newest coordinated decisions (holds included), with explanation, tally and votes."""
    return [
        DecisionOut.model_validate(decision)
        for decision in controls.recent_decisions(limit, strategy)
    ]


@meta_router.put("/strategy", response_model=StrategyOut, dependencies=[Depends(require_token)])
async def put_strategy(body: StrategyIn, request: Request, controls: Controls) -> StrategyOut:
    """Switches the voting strategy and its parameters from the next window on."""
    voting = VotingConfig(strategy=body.name, **body.params.model_dump())
    action = await controls.execute(SetVotingStrategy(voting), actor=actor_of(request))
    return _strategy_out(controls.strategy(), action)


@meta_router.put(
    "/agents/{agent_id}/weight", response_model=AgentOut, dependencies=[Depends(require_token)]
)
async def put_weight(
    agent_id: AgentPath, body: WeightIn, request: Request, controls: Controls
) -> AgentOut:
    """Sets an agent's weight from the next window on."""
    command = SetAgentWeight(AgentId(agent_id), body.weight)
    action = await controls.execute(command, actor=actor_of(request))
    return _agent_out(controls.agent(AgentId(agent_id)), action)


@meta_router.post(
    "/agents/{agent_id}/disable", response_model=AgentOut, dependencies=[Depends(require_token)]
)
async def disable_agent(agent_id: AgentPath, request: Request, controls: Controls) -> AgentOut:
    """Ignores an agent's intents from the next window on."""
    command = SetAgentEnabled(AgentId(agent_id), False)
    action = await controls.execute(command, actor=actor_of(request))
    return _agent_out(controls.agent(AgentId(agent_id)), action)


@meta_router.post(
    "/agents/{agent_id}/enable", response_model=AgentOut, dependencies=[Depends(require_token)]
)
async def enable_agent(agent_id: AgentPath, request: Request, controls: Controls) -> AgentOut:
    """Counts an agent's intents again from the next window on."""
    command = SetAgentEnabled(AgentId(agent_id), True)
    action = await controls.execute(command, actor=actor_of(request))
    return _agent_out(controls.agent(AgentId(agent_id)), action)

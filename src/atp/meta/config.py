"""Configuration of the meta-agent: voting, decision windows, scoring and the agent roster."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

VotingStrategyName = Literal["majority", "weighted", "unanimous", "confidence_weighted"]
VOTING_STRATEGIES: tuple[str, ...] = get_args(VotingStrategyName)


class VotingConfig(BaseModel):
    """The active voting strategy and its parameters; a change applies from the next window."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    strategy: VotingStrategyName = Field(
        default="majority",
        description="How intents are combined: majority, weighted, unanimous or "
        "confidence_weighted (see docs/meta-agent.md).",
    )
    threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="weighted and confidence_weighted: the share of the voters' weight (or "
        "weight x confidence) a side must reach to trade. majority always uses 'more than "
        "half' and unanimous 'all', whatever this says.",
    )
    quorum: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="How many counted voters a decision needs; fewer means hold.",
    )
    adaptive_weights: bool = Field(
        default=False,
        description="weighted and confidence_weighted: multiply each agent's weight by a "
        "multiplier derived from its decayed hit rate, clamped to the scoring floor and cap.",
    )


class WindowConfig(BaseModel):
    """When a decision window closes, and how much history of closed windows is kept."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    timeout_seconds: float = Field(
        default=2.0,
        gt=0.0,
        le=3600.0,
        description="A window closes this long after it opened even if live agents are missing.",
    )
    max_missed_windows: int = Field(
        default=3,
        ge=1,
        description="An enabled agent that missed this many windows in a row stops being "
        "waited for (it is not live) until it answers again.",
    )
    remember_closed: int = Field(
        default=200_000,
        ge=1,
        description="How many closed windows are remembered to ignore late and redelivered "
        "intents.",
    )


class ScoringConfig(BaseModel):
    """How agents are scored against later prices, and how adaptive weights are bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    horizon_bars: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="Bars of the same symbol after which an intent is judged against the close.",
    )
    decay: float = Field(
        default=0.9,
        gt=0.0,
        lt=1.0,
        description="Weight of the past in the decayed hit rate: skill = decay x skill + "
        "(1 - decay) x hit.",
    )
    weight_floor: float = Field(
        default=0.1, gt=0.0, description="Smallest adaptive weight multiplier."
    )
    weight_cap: float = Field(default=3.0, gt=0.0, description="Largest adaptive multiplier.")

    @model_validator(mode="after")
    def _floor_below_cap(self) -> ScoringConfig:
        if self.weight_floor > self.weight_cap:
            raise ValueError(
                f"weight_floor {self.weight_floor} must not exceed weight_cap {self.weight_cap}"
            )
        return self


class AgentConfig(BaseModel):
    """One agent's standing in the vote."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    weight: float = Field(default=1.0, ge=0.0, le=1e6, description="Weight in weighted votes.")
    enabled: bool = Field(default=True, description="A disabled agent's intents are ignored.")


class MetaAgentConfig(BaseModel):
    """Everything the meta-agent's core needs to know."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    voting: VotingConfig = Field(default_factory=VotingConfig, description="Initial strategy.")
    window: WindowConfig = Field(default_factory=WindowConfig, description="Decision windows.")
    scoring: ScoringConfig = Field(default_factory=ScoringConfig, description="Agent scoring.")
    agents: dict[str, AgentConfig] = Field(
        default_factory=dict,
        description="Agents known at start (waited for from the first window). Agents not "
        "listed join the roster with `default_weight` when their first intent arrives.",
    )
    default_weight: float = Field(
        default=1.0, ge=0.0, le=1e6, description="Weight of an agent discovered at run time."
    )
    lot_size: Decimal = Field(
        default=Decimal(1), gt=0, description="Combined quantities are rounded down to lots."
    )
    lot_sizes: dict[str, Decimal] = Field(
        default_factory=dict, description="Per-symbol lot sizes overriding `lot_size`."
    )

    def lot_for(self, symbol: str) -> Decimal:
        """The lot size combined quantities of `symbol` are rounded down to."""
        return self.lot_sizes.get(symbol, self.lot_size)

"""The risk engine's configuration: one strict pydantic model per rule, and the whole.

Every limit is optional where "off" makes sense (None disables it). Limits can be replaced at
runtime (`PUT /risk/limits`, or changed field by field with `PATCH`, see `limit_changes`); the
new model takes effect on the next check. Symbols (per-symbol caps, bucket members) are read
with `parse_symbol`, so `aapl` configures `AAPL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from atp.core.enums import TradingState
from atp.core.errors import InvalidInput
from atp.core.symbols import parse_symbol

PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Share = Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]


def _symbol(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"symbol: expected a string, found {value!r}")
    try:
        return parse_symbol(value)
    except InvalidInput as exc:  # as a ValueError, pydantic reports it with its location
        raise ValueError(str(exc)) from None


SymbolName = Annotated[str, BeforeValidator(_symbol)]
"""A symbol in the limits: validated like `POST /orders` and upper-cased (`parse_symbol`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DailyLossConfig(_Strict):
    """Max daily loss: realised plus unrealised P&L since the trading day began."""

    max_loss: PositiveDecimal | None = Field(
        default=Decimal(5000),
        description="Loss (a positive amount of money) that trips the rule; None disables it.",
    )
    action: TradingState = Field(
        default=TradingState.REDUCING,
        description="State the engine moves to when the loss is reached: reducing or halted.",
    )
    exchange_timezone: str = Field(
        default="America/New_York",
        description="IANA time zone whose midnight starts a new trading day.",
    )
    day_boundary: Literal["clock", "market"] = Field(
        default="clock",
        description="What starts a new trading day: the engine's clock passing midnight of "
        "exchange_timezone (live), or a market-data bar of a later day in that zone (replays: "
        "the day is the bar's day).",
    )

    @field_validator("action")
    @classmethod
    def _not_active(cls, value: TradingState) -> TradingState:
        if value is TradingState.ACTIVE:
            raise ValueError("action must be reducing or halted, not active")
        return value

    @field_validator("exchange_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class InstrumentCap(_Strict):
    """A cap on the position one instrument may reach, in quantity and in notional."""

    max_quantity: PositiveDecimal | None = Field(
        default=None, description="Largest absolute position, in units; None: no cap."
    )
    max_notional: PositiveDecimal | None = Field(
        default=None, description="Largest absolute position value, in money; None: no cap."
    )


class PositionCapConfig(_Strict):
    """Per-instrument caps, checked on the position an order would leave."""

    default: InstrumentCap = Field(
        default=InstrumentCap(max_quantity=Decimal(1000), max_notional=Decimal(250000)),
        description="Cap of every symbol without its own entry.",
    )
    per_symbol: dict[SymbolName, InstrumentCap] = Field(
        default_factory=dict,
        description="Caps by symbol (upper-cased: aapl is AAPL), replacing the default for it.",
    )

    @field_validator("per_symbol", mode="before")
    @classmethod
    def _one_entry_per_symbol(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            seen: dict[str, str] = {}
            for key in value:
                if isinstance(key, str):
                    other = seen.setdefault(key.upper(), key)
                    if other != key:
                        raise ValueError(f"{other!r} and {key!r} name one symbol, {key.upper()}")
        return value


class CorrelationConfig(_Strict):
    """Correlation buckets: groups of symbols whose summed gross exposure is capped."""

    buckets: dict[str, list[SymbolName]] = Field(
        default_factory=dict, description="Configured buckets: name -> symbols (upper-cased)."
    )
    max_bucket_gross: PositiveDecimal | None = Field(
        default=Decimal(400000),
        description="Cap on each bucket's gross exposure (money); None disables the rule.",
    )
    bucket_caps: dict[str, PositiveDecimal] = Field(
        default_factory=dict, description="Caps for named buckets, replacing max_bucket_gross."
    )
    derive: bool = Field(
        default=True,
        description="Also group symbols whose rolling return correlation reaches threshold.",
    )
    threshold: float = Field(
        default=0.8, gt=0, le=1, description="Correlation at or above which symbols group."
    )
    window: int = Field(default=60, ge=3, le=1000, description="Returns in the rolling window.")
    min_observations: int = Field(
        default=20, ge=3, le=1000, description="Returns both symbols need before they group."
    )
    recompute_every: int = Field(
        default=50, ge=1, description="Marks between recomputations of derived buckets."
    )

    @model_validator(mode="after")
    def _disjoint(self) -> CorrelationConfig:
        seen: dict[str, str] = {}
        for name, symbols in self.buckets.items():
            for symbol in symbols:
                if symbol in seen:
                    raise ValueError(f"{symbol} is in buckets {seen[symbol]} and {name}")
                seen[symbol] = name
        unknown = set(self.bucket_caps) - set(self.buckets)
        if unknown:
            raise ValueError(f"bucket_caps names unknown buckets: {sorted(unknown)}")
        if self.min_observations > self.window:
            raise ValueError("min_observations must not exceed window")
        return self


class KillSwitchConfig(_Strict):
    """What tripping the kill switch also asks the brokers to do."""

    cancel_open_orders: bool = Field(
        default=True, description="Publish a request to cancel every open order."
    )
    flatten_positions: bool = Field(
        default=False, description="Publish a request to close every open position."
    )


class VelocityConfig(_Strict):
    """Order velocity: approved orders per second and per minute, per agent and in total."""

    per_agent_per_second: int | None = Field(
        default=5, ge=1, description="Orders one agent (or origin) may place in any 1 s."
    )
    per_agent_per_minute: int | None = Field(
        default=60, ge=1, description="Orders one agent (or origin) may place in any 60 s."
    )
    total_per_second: int | None = Field(
        default=20, ge=1, description="Orders everyone together may place in any 1 s."
    )
    total_per_minute: int | None = Field(
        default=300, ge=1, description="Orders everyone together may place in any 60 s."
    )


class ConcentrationConfig(_Strict):
    """Concentration: no symbol above a share of gross exposure or of equity."""

    max_share_of_gross: Share | None = Field(
        default=None,
        description="Largest share (0-1] of gross exposure one symbol may hold; None: off.",
    )
    min_gross_for_share: Decimal = Field(
        default=Decimal(0),
        ge=0,
        description="Gross exposure below which the share-of-gross test is not applied.",
    )
    max_share_of_equity: Share | None = Field(
        default=Decimal("0.5"),
        description="Largest share (0-1] of equity one symbol's position value may reach.",
    )


class ShortSaleConfig(_Strict):
    """Whether a sell may take a position below zero."""

    allowed: bool = Field(
        default=False,
        description="False (long-only, as the paper venue by default): a sell may ask for at "
        "most what is held less what approved sells will take; coordinated sells are capped "
        "there and other sells beyond it refused. True only where the venue may sell short.",
    )


class RiskEngineConfig(_Strict):
    """Every limit of the risk engine."""

    initial_cash: PositiveDecimal = Field(
        default=Decimal(100000), description="Cash the risk ledger starts from (equity basis)."
    )
    daily_loss: DailyLossConfig = Field(
        default_factory=DailyLossConfig, description="Max daily loss rule."
    )
    position_caps: PositionCapConfig = Field(
        default_factory=PositionCapConfig, description="Per-instrument caps."
    )
    correlation: CorrelationConfig = Field(
        default_factory=CorrelationConfig, description="Correlation bucket rule."
    )
    kill_switch: KillSwitchConfig = Field(
        default_factory=KillSwitchConfig, description="Kill switch follow-up requests."
    )
    velocity: VelocityConfig = Field(
        default_factory=VelocityConfig, description="Order velocity rule."
    )
    concentration: ConcentrationConfig = Field(
        default_factory=ConcentrationConfig, description="Concentration rule."
    )
    short_sales: ShortSaleConfig = Field(
        default_factory=ShortSaleConfig, description="No short sales rule (long-only by default)."
    )
    pending_ttl_seconds: int = Field(
        default=300,
        ge=1,
        description="Seconds an approved, unfilled order counts towards exposure if no "
        "order update ever names it.",
    )
    violations_kept: int = Field(
        default=1000, ge=1, le=100000, description="Recent violations kept for the API."
    )

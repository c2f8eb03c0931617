"""Configuration of the paper venue: fill timing, slippage, fees, volume, cash and entry rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from atp.brokers.order_entry import OrderEntryConfig


class SlippageConfig(BaseModel):
    """How far a fill lands from the price it triggered at, always against the trader."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fixed_bps: Decimal = Field(
        default=Decimal(0), ge=0, le=10_000, description="Fixed slippage in basis points."
    )
    volume_impact_bps: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=10_000,
        description="Extra basis points per unit of the fill's share of the bar's volume "
        "(a fill of 10% of the volume with 50 here costs 5 bps more).",
    )
    random_bps: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=10_000,
        description="Upper bound of a uniformly drawn extra slippage, in basis points.",
    )
    seed: int = Field(default=0, description="Seed of the random slippage draws.")


class FeeConfig(BaseModel):
    """What a fill costs; commissions are rounded to the cent (half up), as brokers charge."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_share: Decimal = Field(default=Decimal(0), ge=0, description="Fee per share filled.")
    percent: Decimal = Field(
        default=Decimal(0), ge=0, le=100, description="Fee in percent of the fill's notional."
    )
    fixed: Decimal = Field(
        default=Decimal(0), ge=0, description="Fee per order, charged on its first fill."
    )


class PaperVenueConfig(BaseModel):
    """Everything the paper venue can be told."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    venue: str = Field(default="paper", min_length=1, description="The venue's name in events.")
    initial_cash: Decimal = Field(
        default=Decimal(100_000), ge=0, description="Cash of the account at the start."
    )
    fill_on: Literal["last_price", "next_open"] = Field(
        default="last_price",
        description="last_price: a market order fills at once at the latest close (live paper "
        "trading); next_open: it fills at the next bar's open (the backtester's convention).",
    )
    slippage: SlippageConfig = Field(default_factory=SlippageConfig, description="Slippage model.")
    fees: FeeConfig = Field(default_factory=FeeConfig, description="Fee model.")
    max_volume_share: Decimal | None = Field(
        default=Decimal("0.1"),
        gt=0,
        le=1,
        description="Largest share of a bar's volume the venue fills (the rest waits for the "
        "next bar: a partial fill). None: no cap. A bar with zero volume is not capped.",
    )
    allow_short: bool = Field(
        default=False,
        description="Whether a sell may take a position below zero. Keep the risk engine's "
        "`short_sales.allowed` the same: it caps coordinated sells at what is held while off.",
    )
    allow_negative_cash: bool = Field(
        default=False,
        description="Whether buys may spend more cash than the account holds (margin).",
    )
    price_increment: Decimal = Field(
        default=Decimal("0.0001"), gt=0, description="Fill prices are rounded to this tick."
    )
    quantity_increment: Decimal = Field(
        default=Decimal("0.000001"),
        gt=0,
        description="Partial and cash-capped fill quantities are rounded down to this step.",
    )
    order_entry: OrderEntryConfig = Field(
        default_factory=OrderEntryConfig,
        description="What a manual order must look like: lot and tick sizes, largest size.",
    )

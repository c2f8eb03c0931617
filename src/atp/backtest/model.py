"""The backtest run model: what a user asks for, and the records a run produces.

`BacktestRequest` is the body of the seed's `POST /backtest/start` (and what the CLI builds).
Dates without a time zone are read as UTC, explicitly: the seed's own request sends
`"2024-01-01T00:00:00"`, and daily bars are dated in UTC midnights by the data catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from atp.core.enums import Side
from atp.core.frozen import quick_init
from atp.risk.config import RiskEngineConfig

ParamValue = float | int | str | bool

DEFAULT_COMMISSION_BPS = 1.0
DEFAULT_SLIPPAGE_BPS = 5.0
# The error type of an end_date before the start_date (the CLI says which bound it defaulted).
DATE_ORDER_ERROR = "date_order"


def _as_utc(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 10:
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # pydantic reports the bad value with its own message
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and len(value) == 10:
        parsed = date.fromisoformat(value)
        return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    return value


class BacktestRequest(BaseModel):
    """One backtest: which data, which strategies, how they vote, and what trading costs."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    start_date: datetime = Field(description="First bar traded (UTC; a date means midnight).")
    end_date: datetime = Field(description="Last bar traded, inclusive (UTC).")
    symbols: Annotated[list[str], Field(min_length=1, max_length=50)] = Field(
        description="Symbols to trade; each needs a data file (see `data_files`)."
    )
    strategies: Annotated[list[str], Field(min_length=1, max_length=20)] = Field(
        description="Strategy names, each once: one agent each (e.g. sma_crossover, momentum)."
    )
    initial_balance: Decimal = Field(gt=0, le=Decimal("1e12"), description="Starting cash.")
    voting_strategy: str = Field(
        default="majority", description="How the agents' intents are combined."
    )
    compare_voting_strategies: list[str] = Field(
        default_factory=list,
        description="More voting strategies (each named once) to run on the same data for the "
        "comparison table.",
    )
    params: dict[str, dict[str, ParamValue]] = Field(
        default_factory=dict,
        description="Parameters per strategy name, e.g. {sma_crossover: {fast: 10, slow: 30}}.",
    )
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="Seed of every random draw.")
    commission_bps: float = Field(
        default=DEFAULT_COMMISSION_BPS,
        ge=0,
        le=1000,
        description="Commission in basis points of the filled notional.",
    )
    slippage_bps: float = Field(
        default=DEFAULT_SLIPPAGE_BPS,
        ge=0,
        le=1000,
        description="Slippage in basis points, paid against the trader at the fill price.",
    )
    warmup_bars: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Bars before start_date fed to the strategies untraded; default: what "
        "the strategies say they need.",
    )
    data_files: dict[str, str] = Field(
        default_factory=dict,
        description="Explicit data file per symbol (each key one of `symbols`); other symbols are "
        "looked up in the data folder. A file that names its symbol (a Symbol or Ticker "
        "column) must name this one.",
    )
    sizing: Literal["equal_weight", "all_in"] = Field(
        default="equal_weight",
        description="equal_weight: a buy takes whole shares worth equity / number of symbols; "
        "all_in: a buy spends all cash at the fill price (fractional). Sells close the position.",
    )

    risk: RiskEngineConfig | None = Field(
        default=None,
        description="Limits of the risk engine every decision passes (its initial_cash is set "
        "to initial_balance). Default: the real engine with every limit off, so a strategy is "
        "measured alone; pass the live limits to see what they would have refused.",
    )

    _normalize_start = field_validator("start_date", mode="before")(_as_utc)

    @field_validator("end_date", mode="before")
    @classmethod
    def _end_of_day(cls, value: Any) -> Any:
        # A bare date as the end means the whole of that day.
        is_date = (isinstance(value, date) and not isinstance(value, datetime)) or (
            isinstance(value, str) and len(value) == 10
        )
        moment = _as_utc(value)
        return moment + timedelta(days=1, microseconds=-1) if is_date else moment

    @field_validator("symbols")
    @classmethod
    def _upper_unique(cls, symbols: list[str]) -> list[str]:
        cleaned = [s.strip().upper() for s in symbols]
        if any(not s for s in cleaned):
            raise ValueError("symbols must not be empty strings")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError(f"symbols must be unique, found {symbols}")
        return cleaned

    @field_validator("strategies", "compare_voting_strategies")
    @classmethod
    def _unique(cls, names: list[str], info: ValidationInfo) -> list[str]:
        # Each strategy is one agent (its id is the name), each voting strategy one more run.
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"{info.field_name} must be unique, found {', '.join(map(repr, repeated))} "
                "more than once"
            )
        return names

    @field_validator("data_files")
    @classmethod
    def _upper_keys(cls, files: dict[str, str]) -> dict[str, str]:
        # Keys name symbols, which are upper-cased: `aapl` is AAPL's file.
        cleaned: dict[str, str] = {}
        for key, path in files.items():
            symbol = key.strip().upper()
            if symbol in cleaned:
                raise ValueError(f"data_files must name each symbol once, found {key!r} twice")
            cleaned[symbol] = path
        return cleaned

    @model_validator(mode="after")
    def _consistent(self) -> BacktestRequest:
        if self.end_date < self.start_date:
            raise PydanticCustomError(
                DATE_ORDER_ERROR,
                "end_date {end} is before start_date {start}",
                {"end": self.end_date.isoformat(), "start": self.start_date.isoformat()},
            )
        unused = [key for key in self.data_files if key not in self.symbols]
        if unused:
            raise ValueError(
                f"data_files: {'key' if len(unused) == 1 else 'keys'} "
                f"{', '.join(map(repr, unused))} not in symbols ({', '.join(self.symbols)}); "
                "a data file is read only for a requested symbol"
            )
        return self


@quick_init
@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill of a backtest, as reported (CSV, JSON, report)."""

    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    commission: Decimal
    filled_at: datetime
    decided_at: datetime
    client_order_id: str
    bar_index: int


@quick_init
@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The account marked at one bar's close."""

    timestamp: datetime
    equity: Decimal
    cash: Decimal
    gross_exposure: Decimal


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The outcome of one engine run (one strategy set and voting strategy)."""

    label: str
    strategies: tuple[str, ...]
    voting_strategy: str
    final_equity: Decimal
    metrics: dict[str, float | None]
    fills: tuple[FillRecord, ...]
    # A tuple from the general engine, a compact `EquityCurve` from the fast one.
    equity: Sequence[EquityPoint]
    decisions: int
    approved: int
    risk_denied: int

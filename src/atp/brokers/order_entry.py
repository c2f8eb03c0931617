"""What a manual order must look like to be taken: precision and size, per instrument.

`POST /orders` checks every order against its venue's `OrderEntryConfig` before the risk
engine is asked, and refuses one that breaks a rule with a 422 that says which and why:

* the quantity must be a whole number of lots (`lot_size`, default 0.000001: the paper
  venue's fractional-share step), so `1.0000000001` shares is refused, not filled;
* limit and stop prices must be whole ticks: `tick_size` (default 0.01) at and above 1.00,
  `sub_dollar_tick_size` (default 0.0001) below it, as US equities are quoted (Reg NMS rule
  612), so a limit of `100.001` is refused;
* the quantity may be at most `max_quantity` (default 1,000,000) and the order's value at its
  limit price (else its stop price, else the last price) at most `max_notional` (default
  10,000,000): a fat-finger size is bad input, not a risk decision.

Coordinated orders are not checked here: the meta-agent rounds their quantities to its own
lot size and they carry no prices.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from atp.brokers.models import OrderRequest
from atp.core.errors import InvalidInput
from atp.core.money import amount, plain

# Steps finer than this would make the remainder of a large quantity inexact in 28 digits.
Step = Annotated[Decimal, Field(ge=Decimal("1e-9"), le=Decimal(1_000_000), allow_inf_nan=False)]
Limit = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]

_ONE = Decimal(1)
# Wide enough that the remainder of any price or quantity a person types is exact.
_STEPS = Context(prec=80)


class InstrumentRules(BaseModel):
    """The order entry rules of one instrument (or of every instrument without its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lot_size: Step = Field(
        default=Decimal("0.000001"),
        description="Quantity step: a quantity must be a whole number of these (1: whole "
        "shares only).",
    )
    tick_size: Step = Field(
        default=Decimal("0.01"), description="Price step of limit and stop prices of 1.00 or more."
    )
    sub_dollar_tick_size: Step = Field(
        default=Decimal("0.0001"), description="Price step of limit and stop prices below 1.00."
    )
    max_quantity: Limit = Field(
        default=Decimal(1_000_000), description="Largest quantity one order may ask for."
    )
    max_notional: Limit = Field(
        default=Decimal(10_000_000),
        description="Largest value of one order: quantity x its limit price (else its stop "
        "price, else the last price).",
    )


class OrderEntryConfig(BaseModel):
    """A venue's order entry rules: a default, and replacements per symbol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: InstrumentRules = Field(
        default_factory=InstrumentRules, description="Rules of every symbol without its own."
    )
    per_symbol: dict[str, InstrumentRules] = Field(
        default_factory=dict, description="Rules by symbol (aapl is AAPL), replacing the default."
    )

    @field_validator("per_symbol")
    @classmethod
    def _upper_case(cls, value: dict[str, InstrumentRules]) -> dict[str, InstrumentRules]:
        upper = {symbol.upper(): rules for symbol, rules in value.items()}
        if len(upper) != len(value):
            raise ValueError("per_symbol names one symbol twice (in different cases)")
        return upper

    def rules_for(self, symbol: str) -> InstrumentRules:
        """The rules `symbol`'s orders are checked against."""
        return self.per_symbol.get(symbol, self.default)


def _whole_steps(value: Decimal, step: Decimal) -> bool:
    try:
        return _STEPS.remainder(value, step) == 0
    except InvalidOperation:  # more than 80 digits of steps: nothing a venue would take
        return False


def _check_price(name: str, price: Decimal | None, rules: InstrumentRules) -> None:
    if price is None:
        return
    tick = rules.tick_size if price >= _ONE else rules.sub_dollar_tick_size
    if not _whole_steps(price, tick):
        band = "1.00 or more" if price >= _ONE else "below 1.00"
        raise InvalidInput(
            f"{name}: {plain(price)} is not a whole number of ticks of {plain(tick)} (the tick "
            f"size of prices {band})"
        )


def check_order_entry(
    request: OrderRequest, config: OrderEntryConfig, last_price: Decimal | None
) -> None:
    """Raises InvalidInput (422) naming the field if `request` breaks its instrument's rules.

    `last_price` values a market order for the notional limit; without it (and without a
    limit or stop price) only the quantity limit applies.
    """
    rules = config.rules_for(request.symbol)
    quantity = request.quantity
    if quantity > rules.max_quantity:
        raise InvalidInput(
            f"quantity: {plain(quantity)} {request.symbol} is more than one order may ask for "
            f"({plain(rules.max_quantity)})"
        )
    if not _whole_steps(quantity, rules.lot_size):
        raise InvalidInput(
            f"quantity: {plain(quantity)} is not a whole number of lots of "
            f"{plain(rules.lot_size)} {request.symbol}"
        )
    price = next(
        (p for p in (request.limit_price, request.stop_price, last_price) if p is not None), None
    )
    if price is not None and quantity * price > rules.max_notional:
        raise InvalidInput(
            f"quantity: {plain(quantity)} {request.symbol} at {plain(price)} is worth "
            f"{amount(quantity * price)}, more than one order may be worth "
            f"{amount(rules.max_notional)}"
        )
    _check_price("limit_price", request.limit_price, rules)
    _check_price("stop_price", request.stop_price, rules)

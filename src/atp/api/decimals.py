"""How the HTTP APIs show exact numbers: `Decimal` fields that serialise as people read them.

The books stay exact (nothing stored or summed is ever rounded); these types only decide the
JSON text of a response field, through `atp.core.money.plain` and `amount`:

* `Quantity`: exact, no trailing zeros ("156.5", "25", "0"), for quantities;
* `Money`: exact, at least to the cent ("98145.00", "69.4925"), for cash, equity and prices;
* `AverageCost`: rounded half-even to 6 places, at least to the cent ("213.63974");
* `Pnl`: rounded half-even to the cent ("2516.40", "0.00"), for the P&L of an account
  statement (the broker's `/account` and `/positions`, agents' scores). The risk API shows P&L
  as `Money`, exactly, since that is what its daily loss limit compares.

Average costs and P&L come out of a division (the 28 digits of `Decimal`'s context); prices
and money are exact, so they are shown exactly. No field ever uses exponent notation ("0E-24",
"1E+2"). The fields stay `Decimal` in Python (`model_dump()`); only JSON is formatted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

from atp.core.money import amount, plain

AVERAGE_COST_PLACES = 6
"""Decimal places an average cost (or average fill price) is shown to."""


# One-argument functions: pydantic hands a serializer with a second parameter its info.
def _money(value: Decimal) -> str:
    return amount(value)


def _average(value: Decimal) -> str:
    return amount(value, AVERAGE_COST_PLACES)


def _pnl(value: Decimal) -> str:
    return amount(value, 2)


Quantity = Annotated[Decimal, PlainSerializer(plain, return_type=str, when_used="json")]
Money = Annotated[Decimal, PlainSerializer(_money, return_type=str, when_used="json")]
AverageCost = Annotated[Decimal, PlainSerializer(_average, return_type=str, when_used="json")]
Pnl = Annotated[Decimal, PlainSerializer(_pnl, return_type=str, when_used="json")]

"""How an agent turns an opinion into a quantity.

Default: a notional of $10,000 per trade divided by the bar's close, rounded down to whole
shares (10,000 / 185.64 -> 53 shares). `fixed_quantity` trades the same quantity every time.
Sells are sized like buys: the host does not know positions. The risk engine does, so on an
account that cannot sell short the meta-agent caps a coordinated sell at what is held, and a
sell of nothing held becomes no order (`atp.meta.selling`), as the backtest does with its own
book (`atp.backtest.sizing`).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from atp.core.money import ZERO


class SizingConfig(BaseModel):
    """Per-agent sizing: a notional per trade, or a fixed quantity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["notional", "fixed_quantity"] = Field(
        default="notional", description="notional: amount / close in whole shares; or fixed."
    )
    notional: Decimal = Field(
        default=Decimal("10000"), gt=0, description="Amount per trade, in the quote currency."
    )
    quantity: Decimal = Field(
        default=Decimal("100"), gt=0, description="Quantity per trade in fixed_quantity mode."
    )

    def size(self, price: Decimal) -> Decimal:
        """The quantity to trade at `price` (0 when the notional buys no whole share)."""
        if self.mode == "fixed_quantity":
            return self.quantity
        if price <= 0:
            return ZERO
        return (self.notional / price).to_integral_value(rounding=ROUND_FLOOR)

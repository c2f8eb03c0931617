"""Live exposure: the risk engine's ledger plus running totals kept exact and incremental.

The `Ledger` books fills (idempotent by fill id) and marks. The totals a pre-trade check needs
(gross and net exposure, realised and unrealised P&L) are kept as running Decimal sums,
updated per symbol on every fill and mark, so a check never walks every position.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from atp.core.enums import Side
from atp.core.ids import Symbol
from atp.core.money import ZERO
from atp.portfolio.ledger import Ledger, PositionSnapshot


@dataclass(slots=True)
class _Share:
    """What one symbol last added to the running totals (one lookup per refresh, not three)."""

    value: Decimal = ZERO
    unrealized: Decimal = ZERO
    realized: Decimal = ZERO


class ExposureBook:
    """Positions, average cost, P&L and exposure per symbol and for the portfolio."""

    def __init__(self, initial_cash: Decimal) -> None:
        self.ledger = Ledger(initial_cash)
        self._shares: dict[Symbol, _Share] = {}
        self._group_of: dict[Symbol, str] = {}
        self._group_gross: dict[str, Decimal] = {}
        self.gross_exposure = ZERO
        self.net_exposure = ZERO
        self.unrealized_pnl = ZERO
        self.realized_pnl = ZERO

    def apply_fill(
        self,
        *,
        fill_id: str,
        symbol: Symbol,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        commission: Decimal,
    ) -> bool:
        """Books a fill once; returns False if the fill id was booked before."""
        booked = self.ledger.apply_fill(
            fill_id=fill_id,
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=price,
            commission=commission,
        )
        if booked:
            self._refresh(symbol)
        return booked

    def mark(self, symbol: Symbol, price: Decimal) -> None:
        """Marks `symbol` to market at `price`."""
        self.ledger.mark(symbol, price)
        self._refresh(symbol)

    def quantity(self, symbol: Symbol) -> Decimal:
        """The signed quantity held."""
        return self.ledger.quantity(symbol)

    def value(self, symbol: Symbol) -> Decimal:
        """The signed market value of the position (zero if none)."""
        share = self._shares.get(symbol)
        return share.value if share is not None else ZERO

    def last_price(self, symbol: Symbol) -> Decimal | None:
        """The last mark (or fill price) of `symbol`, if any."""
        return self.ledger.last_price(symbol)

    def set_groups(self, group_of: dict[Symbol, str]) -> None:
        """Sets which group (correlation bucket) each symbol belongs to, and sums them."""
        self._group_of = dict(group_of)
        sums: dict[str, Decimal] = {}
        for symbol, group in self._group_of.items():
            sums[group] = sums.get(group, ZERO) + abs(self.value(symbol))
        self._group_gross = sums

    def group_gross(self, group: str) -> Decimal:
        """The gross exposure of a group's positions."""
        return self._group_gross.get(group, ZERO)

    @property
    def cash(self) -> Decimal:
        """Cash after every booked fill and commission."""
        return self.ledger.cash

    @property
    def equity(self) -> Decimal:
        """Cash plus positions at their last prices."""
        return self.ledger.cash + self.net_exposure

    @property
    def total_pnl(self) -> Decimal:
        """Realised plus unrealised P&L since the ledger began."""
        return self.realized_pnl + self.unrealized_pnl

    def positions(self) -> list[PositionSnapshot]:
        """Every open or once-traded position, sorted by symbol."""
        return self.ledger.positions()

    def _refresh(self, symbol: Symbol) -> None:
        position = self.ledger.position(symbol)
        share = self._shares.get(symbol)
        if share is None:
            share = self._shares[symbol] = _Share()
        value = position.market_value
        old_value = share.value
        share.value = value
        gross_change = abs(value) - abs(old_value)
        self.gross_exposure += gross_change
        self.net_exposure += value - old_value
        group = self._group_of.get(symbol)
        if group is not None:
            self._group_gross[group] += gross_change
        unrealized = position.unrealized_pnl
        self.unrealized_pnl += unrealized - share.unrealized
        share.unrealized = unrealized
        realized = position.realized_pnl
        self.realized_pnl += realized - share.realized
        share.realized = realized

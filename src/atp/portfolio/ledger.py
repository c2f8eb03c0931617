"""The ledger: cash, positions at average cost, realised and unrealised P&L, exposure.

Exact arithmetic throughout (Decimal, never rounded when booked). A fill is booked once per fill
id, so a redelivered fill changes nothing. Both the paper venue and the risk engine keep one, and
since both book the same fills at the same prices, they reconcile to the cent.

Conventions: average cost is the volume-weighted entry price of the open position; a fill that
reduces a position realises (price - average cost) x closed quantity x direction; a fill that
crosses zero closes the old position and opens the rest at the fill price. Commission is paid
from cash and counted in realised P&L.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from atp.core.enums import SIDE_BUY, Side
from atp.core.errors import InvalidInput
from atp.core.ids import Symbol
from atp.core.money import ZERO

_ONE = Decimal(1)
_MINUS_ONE = Decimal(-1)


@dataclass(slots=True)
class Position:
    """An open (or flat) position in one symbol."""

    symbol: Symbol
    quantity: Decimal = ZERO
    average_cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    last_price: Decimal | None = None

    @property
    def market_value(self) -> Decimal:
        """Signed value at the last price (at average cost if never marked)."""
        price = self.last_price
        if price is None:
            price = self.average_cost
        return self.quantity * price

    @property
    def unrealized_pnl(self) -> Decimal:
        """Profit of the open quantity against its average cost, at the last price."""
        # Compared with the Decimal ZERO, not the int 0: no int conversion per reading.
        price = self.last_price
        quantity = self.quantity
        if price is None or quantity == ZERO:
            return ZERO
        return (price - self.average_cost) * quantity


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """A read-only view of a position, for APIs and events."""

    symbol: Symbol
    quantity: Decimal
    average_cost: Decimal
    last_price: Decimal | None
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal


class Ledger:
    """Cash and positions of one account, booked exactly from fills."""

    def __init__(self, initial_cash: Decimal) -> None:
        self.initial_cash = initial_cash
        self.cash = initial_cash
        self.commissions = ZERO
        self._positions: dict[Symbol, Position] = {}
        self._booked_fills: set[str] = set()

    def position(self, symbol: Symbol) -> Position:
        """The position in `symbol` (flat if never traded)."""
        found = self._positions.get(symbol)
        if found is None:
            found = self._positions[symbol] = Position(symbol)
        return found

    def quantity(self, symbol: Symbol) -> Decimal:
        """The signed quantity held in `symbol`."""
        found = self._positions.get(symbol)
        return found.quantity if found is not None else ZERO

    def held(self, slots: Mapping[Symbol, int]) -> tuple[tuple[int, Decimal], ...]:
        """The quantity of each position whose symbol `slots` numbers, as (slot, quantity).

        In the order the positions were opened (first fill or mark), flat ones included, so two
        readings of an unchanged account are equal. Read on every bar a backtest visits: one
        pass, no snapshot per position.
        """
        return tuple([(slots[s], p.quantity) for s, p in self._positions.items() if s in slots])

    def has_booked(self, fill_id: str) -> bool:
        """True if the fill was already booked."""
        return fill_id in self._booked_fills

    def apply_fill(
        self,
        *,
        fill_id: str,
        symbol: Symbol,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        commission: Decimal = ZERO,
    ) -> bool:
        """Books a fill; returns False (and changes nothing) if it was booked before."""
        # Compared with the Decimal ZERO, not the int 0: no int conversion per comparison.
        if quantity <= ZERO:
            raise InvalidInput(f"fill {fill_id}: quantity must be positive, found {quantity}")
        if price <= ZERO:
            raise InvalidInput(f"fill {fill_id}: price must be positive, found {price}")
        if commission < ZERO:
            raise InvalidInput(f"fill {fill_id}: commission must not be negative")
        booked = self._booked_fills
        if fill_id in booked:
            return False
        booked.add(fill_id)
        position = self._positions.get(symbol)
        if position is None:
            position = self._positions[symbol] = Position(symbol)
        # `quantity * side.sign` without the int multiply: unary + and - round to the context
        # exactly as that product does, so the value is the same to the last digit.
        signed = +quantity if side is SIDE_BUY else -quantity
        old = position.quantity
        long_before = old > ZERO
        if old == ZERO or long_before == (signed > ZERO):
            new_quantity = old + signed
            position.average_cost = (old * position.average_cost + signed * price) / new_quantity
            position.quantity = new_quantity
        else:
            # min(abs(old), quantity) spelt out (half the cost): on a tie min keeps its first
            # argument, and so does this, so equal values of different exponents stay apart.
            held = abs(old)
            closed = quantity if quantity < held else held
            direction = _ONE if long_before else _MINUS_ONE
            position.realized_pnl += (price - position.average_cost) * closed * direction
            new_quantity = old + signed
            position.quantity = new_quantity
            if new_quantity == ZERO:
                position.average_cost = ZERO
            elif (new_quantity > ZERO) != long_before:
                position.average_cost = price
        position.realized_pnl -= commission
        if position.last_price is None:
            position.last_price = price
        self.cash -= signed * price + commission
        self.commissions += commission
        return True

    def mark(self, symbol: Symbol, price: Decimal) -> None:
        """Marks `symbol` to market at `price`."""
        # Several books mark every bar: the lookup is inlined rather than a `position` call.
        found = self._positions.get(symbol)
        if found is None:
            found = self._positions[symbol] = Position(symbol)
        found.last_price = price

    def last_price(self, symbol: Symbol) -> Decimal | None:
        """The last mark of `symbol`, if any."""
        found = self._positions.get(symbol)
        return found.last_price if found is not None else None

    def positions(self) -> list[PositionSnapshot]:
        """Every position ever traded, flat ones included, sorted by symbol."""
        return [
            PositionSnapshot(
                symbol=p.symbol,
                quantity=p.quantity,
                average_cost=p.average_cost,
                last_price=p.last_price,
                market_value=p.market_value,
                unrealized_pnl=p.unrealized_pnl,
                realized_pnl=p.realized_pnl,
            )
            for p in sorted(self._positions.values(), key=lambda p: p.symbol)
            if p.quantity != 0 or p.realized_pnl != 0
        ]

    @property
    def market_value(self) -> Decimal:
        """Signed value of all positions at their last prices."""
        return sum((p.market_value for p in self._positions.values()), ZERO)

    @property
    def equity(self) -> Decimal:
        """Cash plus positions at their last prices."""
        return self.cash + self.market_value

    @property
    def gross_exposure(self) -> Decimal:
        """Sum of absolute position values."""
        return sum((abs(p.market_value) for p in self._positions.values()), ZERO)

    @property
    def net_exposure(self) -> Decimal:
        """Sum of signed position values."""
        return self.market_value

    @property
    def realized_pnl(self) -> Decimal:
        """Realised P&L of all positions, net of commissions."""
        return sum((p.realized_pnl for p in self._positions.values()), ZERO)

    @property
    def unrealized_pnl(self) -> Decimal:
        """Unrealised P&L of all open positions at their last prices."""
        return sum((p.unrealized_pnl for p in self._positions.values()), ZERO)

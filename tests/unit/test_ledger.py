"""The ledger books fills to the exact digits of the plain average-cost formulation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atp.core.enums import Side
from atp.core.errors import InvalidInput
from atp.core.ids import Symbol
from atp.portfolio.ledger import Ledger

SYMBOL = Symbol("X")


@dataclass
class _Book:
    """The reference: the ledger's conventions written the plainest way."""

    cash: Decimal
    quantity: Decimal = Decimal(0)
    average_cost: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    commissions: Decimal = Decimal(0)
    last_price: Decimal | None = None

    def fill(self, side: Side, quantity: Decimal, price: Decimal, commission: Decimal) -> None:
        signed = quantity * side.sign
        old = self.quantity
        if old == 0 or (old > 0) == (signed > 0):
            new = old + signed
            self.average_cost = (old * self.average_cost + signed * price) / new
            self.quantity = new
        else:
            closed = min(abs(old), quantity)
            direction = Decimal(1) if old > 0 else Decimal(-1)
            self.realized += (price - self.average_cost) * closed * direction
            new = old + signed
            self.quantity = new
            if new == 0:
                self.average_cost = Decimal(0)
            elif (new > 0) != (old > 0):
                self.average_cost = price
        self.realized -= commission
        if self.last_price is None:
            self.last_price = price
        self.cash -= signed * price + commission
        self.commissions += commission

    def market_value(self) -> Decimal:
        price = self.last_price if self.last_price is not None else self.average_cost
        return self.quantity * price

    def unrealized(self) -> Decimal:
        if self.last_price is None or self.quantity == 0:
            return Decimal(0)
        return (self.last_price - self.average_cost) * self.quantity


def _exact(value: Decimal | None) -> object:
    return None if value is None else value.as_tuple()


_AMOUNTS = st.sampled_from(
    [Decimal(t) for t in ("1", "5", "5.0", "5.00", "10", "1E+1", "2.5", "0.001", "985", "985.0")]
)
_PRICES = st.sampled_from(
    [Decimal(t) for t in ("101.23", "101.5", "101.50", "100", "1E+2", "99.999", "0.01", "7")]
)
_COMMISSIONS = st.sampled_from([Decimal(t) for t in ("0", "0.00", "1.25", "0E+1")])
_FILLS = st.lists(
    st.tuples(st.sampled_from(list(Side)), _AMOUNTS, _PRICES, _COMMISSIONS, st.booleans()),
    max_size=30,
)


@settings(max_examples=1000)
@given(_FILLS)
def test_fills_book_the_reference_digits(
    fills: list[tuple[Side, Decimal, Decimal, Decimal, bool]],
) -> None:
    ledger = Ledger(Decimal("1000.00"))
    book = _Book(cash=Decimal("1000.00"))
    for number, (side, quantity, price, commission, mark) in enumerate(fills):
        assert ledger.apply_fill(
            fill_id=f"f{number}",
            symbol=SYMBOL,
            side=side,
            quantity=quantity,
            price=price,
            commission=commission,
        )
        book.fill(side, quantity, price, commission)
        if mark:
            ledger.mark(SYMBOL, price + 1)
            book.last_price = price + 1
        position = ledger.position(SYMBOL)
        assert _exact(position.quantity) == _exact(book.quantity)
        assert _exact(position.average_cost) == _exact(book.average_cost)
        assert _exact(position.realized_pnl) == _exact(book.realized)
        assert _exact(position.last_price) == _exact(book.last_price)
        assert _exact(position.market_value) == _exact(book.market_value())
        assert _exact(position.unrealized_pnl) == _exact(book.unrealized())
        assert _exact(ledger.cash) == _exact(book.cash)
        assert _exact(ledger.commissions) == _exact(book.commissions)


def test_a_fill_is_booked_once() -> None:
    ledger = Ledger(Decimal(100))
    assert ledger.apply_fill(
        fill_id="f", symbol=SYMBOL, side=Side.BUY, quantity=Decimal(1), price=Decimal(10)
    )
    assert not ledger.apply_fill(
        fill_id="f", symbol=SYMBOL, side=Side.BUY, quantity=Decimal(1), price=Decimal(20)
    )
    assert ledger.cash == Decimal(90)


@pytest.mark.parametrize(
    ("quantity", "price", "commission", "message"),
    [
        (Decimal(0), Decimal(1), Decimal(0), "fill f: quantity must be positive, found 0"),
        (Decimal(1), Decimal("-1.0"), Decimal(0), "fill f: price must be positive, found -1.0"),
        (Decimal(1), Decimal(1), Decimal("-0.01"), "fill f: commission must not be negative"),
    ],
)
def test_bad_fills_are_refused(
    quantity: Decimal, price: Decimal, commission: Decimal, message: str
) -> None:
    ledger = Ledger(Decimal(100))
    with pytest.raises(InvalidInput) as raised:
        ledger.apply_fill(
            fill_id="f",
            symbol=SYMBOL,
            side=Side.SELL,
            quantity=quantity,
            price=price,
            commission=commission,
        )
    assert str(raised.value) == message


def test_held_numbers_each_position_in_opening_order_flat_ones_included() -> None:
    ledger = Ledger(Decimal(1000))
    a, b, other = Symbol("A"), Symbol("B"), Symbol("OTHER")
    ledger.mark(b, Decimal(5))
    ledger.apply_fill(fill_id="1", symbol=a, side=Side.BUY, quantity=Decimal(3), price=Decimal(10))
    ledger.apply_fill(
        fill_id="2", symbol=other, side=Side.BUY, quantity=Decimal(1), price=Decimal(1)
    )
    slots = {a: 0, b: 1}
    # B was marked first and holds nothing; OTHER is not numbered.
    assert ledger.held(slots) == ((1, Decimal(0)), (0, Decimal(3)))
    ledger.apply_fill(fill_id="3", symbol=a, side=Side.SELL, quantity=Decimal(3), price=Decimal(11))
    assert ledger.held(slots) == ((1, Decimal(0)), (0, Decimal(0)))

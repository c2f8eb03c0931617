"""Pure price rules of the paper venue: when an order triggers, and at what price it fills.

A bar is read as a range: the open is where trading resumed (a gap through a limit or a stop
fills at the open, the better or worse price that really was available), the high and low
bound what traded during the bar. A single price (the latest close, for immediate fills) is a
bar whose open, high, low and close are that price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from atp.core.enums import OrderType, Side

_BASIS_POINTS = Decimal(10_000)


class Bar(Protocol):
    """What the rules read of a bar: a `PriceRange`, or a `MarketSignal` taken as it is."""

    @property
    def open(self) -> Decimal:
        """Where trading resumed."""
        ...

    @property
    def high(self) -> Decimal:
        """The highest price traded."""
        ...

    @property
    def low(self) -> Decimal:
        """The lowest price traded."""
        ...

    @property
    def close(self) -> Decimal:
        """The last price traded."""
        ...


@dataclass(frozen=True, slots=True)
class PriceRange:
    """What traded during one bar (or at one instant)."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    @classmethod
    def at(cls, price: Decimal) -> PriceRange:
        """A range of a single price."""
        return cls(price, price, price, price)


def stop_trigger(side: Side, stop: Decimal, bar: Bar) -> Decimal | None:
    """The price a stop triggers at during `bar`, or None if it does not trigger."""
    if side is Side.BUY:
        if bar.open >= stop:
            return bar.open
        return stop if bar.high >= stop else None
    if bar.open <= stop:
        return bar.open
    return stop if bar.low <= stop else None


def limit_fill(side: Side, limit: Decimal, start: Decimal, bar: Bar) -> Decimal | None:
    """The price a limit fills at when trading starts at `start` within `bar`, or None."""
    if side is Side.BUY:
        if start <= limit:
            return start
        return limit if bar.low <= limit else None
    if start >= limit:
        return start
    return limit if bar.high >= limit else None


def base_fill_price(
    order_type: OrderType,
    side: Side,
    *,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    triggered: bool,
    market_price: Decimal,
    bar: Bar,
) -> tuple[Decimal | None, bool]:
    """The price an order fills at before slippage (None: no fill), and whether it triggered.

    `market_price` is where a market order fills (the open or the latest close).
    """
    if order_type is OrderType.MARKET:
        return market_price, triggered
    if order_type is OrderType.LIMIT:
        assert limit_price is not None
        return limit_fill(side, limit_price, bar.open, bar), triggered
    assert stop_price is not None
    start: Decimal | None = bar.open if triggered else stop_trigger(side, stop_price, bar)
    if start is None:
        return None, False
    if order_type is OrderType.STOP:
        return start, True
    assert limit_price is not None
    return limit_fill(side, limit_price, start, bar), True


def with_slippage(price: Decimal, side: Side, bps: Decimal, limit: Decimal | None) -> Decimal:
    """`price` moved `bps` against the trader, never past the order's limit."""
    moved = price * (1 + side.sign * bps / _BASIS_POINTS)
    if limit is not None:
        moved = min(moved, limit) if side is Side.BUY else max(moved, limit)
    return moved

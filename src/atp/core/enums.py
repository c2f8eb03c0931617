"""Enumerations shared across the domain. Values are the wire spellings."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """The side of an order or a fill."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell: the sign a fill gives a position change."""
        # The module's alias, not `Side.BUY`: on Python 3.11 every member read through the
        # class goes through EnumType.__getattr__ (about 80 ns, more than the rest of this).
        return 1 if self is _BUY else -1


class Action(StrEnum):
    """What an agent or the meta-agent wants done for a symbol.

    `hold` is an explicit vote for doing nothing on this signal; an agent that does not answer
    at all abstains, which is different (see the meta-agent's decision window).
    """

    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"

    def as_side(self) -> Side | None:
        """The order side this action trades, or None for hold."""
        # A table rather than `Action.BUY`/`Side.BUY` reads (see `Side.sign`).
        return _SIDE_OF_ACTION.get(self)


_BUY = Side.BUY
_SIDE_OF_ACTION = {Action.BUY: Side.BUY, Action.SELL: Side.SELL}


class OrderType(StrEnum):
    """How an order is priced."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    """How long an order stays working."""

    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    """The states of an order's life (see brokers' state machine for the transitions)."""

    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """True once nothing more can happen to the order."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REPLACED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }
)


class TradingState(StrEnum):
    """The risk engine's trading state."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"

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
        # SIDE_BUY, not `Side.BUY` (see the members as constants at the end of the module).
        return 1 if self is SIDE_BUY else -1


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


# The members hot paths read, as module constants (the same objects: `SIDE_BUY is Side.BUY`).
# On Python 3.11 a member read through its class (`Side.BUY`) goes through
# EnumType.__getattr__, about 70-80 ns, and `.value` through a property; a backtest reads
# them dozens of times per trade, so the trade path imports these instead.
SIDE_BUY, SIDE_SELL = Side.BUY, Side.SELL
ACTION_BUY, ACTION_SELL, ACTION_HOLD = Action.BUY, Action.SELL, Action.HOLD
ACTION_WORD: dict[Action, str] = {action: action.value for action in Action}
ORDER_MARKET, ORDER_LIMIT, ORDER_STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP
STATUS_ACCEPTED, STATUS_REJECTED = OrderStatus.ACCEPTED, OrderStatus.REJECTED
TIF_DAY, TIF_FOK = TimeInForce.DAY, TimeInForce.FOK

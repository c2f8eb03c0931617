"""Approved orders not yet filled: they count towards the position an order would leave.

Without this, two orders approved before either fills could together pass a cap each passed
alone. An entry shrinks as fills arrive and goes when its order ends (filled, cancelled,
rejected, expired) or, if no update ever names it, after a time to live.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from atp.core.enums import SIDE_BUY, Side
from atp.core.events import OrderUpdate
from atp.core.ids import Symbol
from atp.core.money import ZERO
from atp.core.proposals import OrderProposal

# Read once: an enum member read through its class costs ~70 ns in Python 3.11, and the hot
# paths compare a side with it several times per order.


@dataclass(slots=True)
class _Pending:
    proposal_id: str
    client_order_id: str | None
    decision_id: str | None
    symbol: Symbol
    side: Side
    remaining: Decimal
    expires_at: datetime


class PendingOrders:
    """The unfilled remainder of every approved order, summed per symbol and side."""

    def __init__(self) -> None:
        # One index per id kind (an update names its order by client order id or decision id).
        self._by_proposal: dict[str, _Pending] = {}
        self._by_client: dict[str, _Pending] = {}
        self._by_decision: dict[str, _Pending] = {}
        self._order: deque[_Pending] = deque()
        self._long: dict[Symbol, Decimal] = {}
        self._short: dict[Symbol, Decimal] = {}

    def add(self, proposal: OrderProposal, *, expires_at: datetime) -> None:
        """Records an approved proposal (once per proposal id)."""
        proposal_id = proposal.proposal_id
        client = proposal.client_order_id or None
        decision = proposal.decision_id or None
        if (
            proposal_id in self._by_proposal
            or (client is not None and client in self._by_client)
            or (decision is not None and decision in self._by_decision)
        ):
            return
        entry = _Pending(
            proposal_id,
            client,
            decision,
            proposal.symbol,
            proposal.side,
            proposal.quantity,
            expires_at,
        )
        self._by_proposal[proposal_id] = entry
        if client is not None:
            self._by_client[client] = entry
        if decision is not None:
            self._by_decision[decision] = entry
        self._order.append(entry)
        self._shift(entry, entry.remaining)

    def long(self, symbol: Symbol) -> Decimal:
        """Unfilled buy quantity approved for `symbol`."""
        return self._long.get(symbol, ZERO)

    def short(self, symbol: Symbol) -> Decimal:
        """Unfilled sell quantity approved for `symbol`."""
        return self._short.get(symbol, ZERO)

    def on_side(self, symbol: Symbol, side: Side) -> Decimal:
        """Unfilled quantity approved for `symbol` on `side` (buys or sells)."""
        return (self._long if side is SIDE_BUY else self._short).get(symbol, ZERO)

    def on_update(self, update: OrderUpdate) -> None:
        """Shrinks the order's entry by a fill, and drops it when the order has ended."""
        entry = self._by_client.get(update.client_order_id)
        if entry is None and update.decision_id is not None:
            entry = self._by_decision.get(update.decision_id)
        if entry is None:
            return
        fill = update.fill
        if fill is not None:
            filled = min(fill.quantity, entry.remaining)
            entry.remaining -= filled
            self._shift(entry, -filled)
        # The cheap test first: a filled entry is dropped without asking the status.
        if entry.remaining <= ZERO or update.status.is_terminal:
            self._drop(entry)

    def expire(self, now: datetime) -> None:
        """Drops entries whose time to live has passed."""
        while self._order and self._order[0].expires_at <= now:
            self._drop(self._order[0])

    def count(self) -> int:
        """How many approved orders are still open."""
        return len(self._order)

    def _drop(self, entry: _Pending) -> None:
        if self._by_proposal.get(entry.proposal_id) is not entry:
            return
        del self._by_proposal[entry.proposal_id]
        if entry.client_order_id is not None:
            self._by_client.pop(entry.client_order_id, None)
        if entry.decision_id is not None:
            self._by_decision.pop(entry.decision_id, None)
        self._shift(entry, -entry.remaining)
        entry.remaining = ZERO
        try:
            self._order.remove(entry)
        except ValueError:
            return

    def _shift(self, entry: _Pending, amount: Decimal) -> None:
        sums = self._long if entry.side is SIDE_BUY else self._short
        sums[entry.symbol] = sums.get(entry.symbol, ZERO) + amount


def ttl(seconds: int) -> timedelta:
    """The time to live of a pending entry."""
    return timedelta(seconds=seconds)

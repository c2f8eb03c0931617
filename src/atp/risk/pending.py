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

from atp.core.enums import Side
from atp.core.events import OrderUpdate
from atp.core.ids import Symbol
from atp.core.money import ZERO
from atp.core.proposals import OrderProposal


@dataclass(slots=True)
class _Pending:
    keys: tuple[str, ...]
    symbol: Symbol
    side: Side
    remaining: Decimal
    expires_at: datetime


class PendingOrders:
    """The unfilled remainder of every approved order, summed per symbol and side."""

    def __init__(self) -> None:
        self._by_key: dict[str, _Pending] = {}
        self._order: deque[_Pending] = deque()
        self._long: dict[Symbol, Decimal] = {}
        self._short: dict[Symbol, Decimal] = {}

    def add(self, proposal: OrderProposal, *, expires_at: datetime) -> None:
        """Records an approved proposal (once per proposal id)."""
        listed = [f"p:{proposal.proposal_id}"]
        if proposal.client_order_id:
            listed.append(f"c:{proposal.client_order_id}")
        if proposal.decision_id:
            listed.append(f"d:{proposal.decision_id}")
        keys = tuple(listed)
        by_key = self._by_key
        for key in keys:
            if key in by_key:
                return
        entry = _Pending(keys, proposal.symbol, proposal.side, proposal.quantity, expires_at)
        for key in keys:
            self._by_key[key] = entry
        self._order.append(entry)
        self._shift(entry, entry.remaining)

    def long(self, symbol: Symbol) -> Decimal:
        """Unfilled buy quantity approved for `symbol`."""
        return self._long.get(symbol, ZERO)

    def short(self, symbol: Symbol) -> Decimal:
        """Unfilled sell quantity approved for `symbol`."""
        return self._short.get(symbol, ZERO)

    def on_update(self, update: OrderUpdate) -> None:
        """Shrinks the order's entry by a fill, and drops it when the order has ended."""
        entry = self._by_key.get(f"c:{update.client_order_id}")
        if entry is None and update.decision_id is not None:
            entry = self._by_key.get(f"d:{update.decision_id}")
        if entry is None:
            return
        if update.fill is not None:
            filled = min(update.fill.quantity, entry.remaining)
            entry.remaining -= filled
            self._shift(entry, -filled)
        if update.status.is_terminal or entry.remaining <= 0:
            self._drop(entry)

    def expire(self, now: datetime) -> None:
        """Drops entries whose time to live has passed."""
        while self._order and self._order[0].expires_at <= now:
            self._drop(self._order[0])

    def count(self) -> int:
        """How many approved orders are still open."""
        return len(self._order)

    def _drop(self, entry: _Pending) -> None:
        if self._by_key.get(entry.keys[0]) is not entry:
            return
        for key in entry.keys:
            self._by_key.pop(key, None)
        self._shift(entry, -entry.remaining)
        entry.remaining = ZERO
        try:
            self._order.remove(entry)
        except ValueError:
            return

    def _shift(self, entry: _Pending, amount: Decimal) -> None:
        sums = self._long if entry.side is Side.BUY else self._short
        sums[entry.symbol] = sums.get(entry.symbol, ZERO) + amount


def ttl(seconds: int) -> timedelta:
    """The time to live of a pending entry."""
    return timedelta(seconds=seconds)
